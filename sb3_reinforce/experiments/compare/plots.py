"""PNG plots of a comparison, drawn with ``rliable.plot_utils`` (written atomically, never half a file)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from rliable import plot_utils

from sb3_reinforce.experiments.compare.grid import write_atomic
from sb3_reinforce.experiments.compare.stats import MIN_RUNS_FOR_CI

# One curve: (x, point estimates, lower bounds, upper bounds)
Curve = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def colors_for(algos: list[str]) -> dict[str, tuple]:
    """The same color for an algo in every plot."""
    return dict(zip(algos, sns.color_palette("colorblind", n_colors=max(len(algos), 1))))


def _save(fig: plt.Figure, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    write_atomic(path, buffer.getvalue())


def _bands(low: np.ndarray, high: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Intervals with NaN bounds (a single run) drawn as the point itself."""
    return np.stack([np.where(np.isnan(low), point, low), np.where(np.isnan(high), point, high)])


def _plot_curve(ax: Any, algo: str, curve: Curve, colors: dict[str, tuple], xlabel: str, ylabel: str) -> None:
    """One algo's curve with its band, drawn by rliable."""
    x, point, low, high = curve
    plot_utils.plot_sample_efficiency_curve(
        x,
        {algo: point},
        {algo: _bands(low, high, point)},
        algorithms=[algo],
        colors=colors,
        xlabel=xlabel,
        ylabel=ylabel,
        ax=ax,
        labelsize="medium",
        ticklabelsize="small",
        marker=".",
        linewidth=1.5,
    )


def learning_curves(
    curves: dict[str, dict[str, Curve]], thresholds: dict[str, float | None], algos: list[str], path: Path
) -> None:
    """
    Mean evaluation return against env steps with its 95% bootstrap band over seeds, one panel per env.

    :param curves: env -> algo -> curve
    :param thresholds: env -> threshold (a dashed line), or None
    :param algos: Algo order (for colors)
    :param path: PNG file
    """
    envs = list(curves)
    ncols = min(len(envs), 2 if len(envs) == 4 else 3)
    nrows = math.ceil(len(envs) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.9 * nrows), squeeze=False)
    colors = colors_for(algos)
    for ax, env_id in zip(axes.flat, envs):
        for algo, curve in curves[env_id].items():
            _plot_curve(ax, algo, curve, colors, xlabel="env steps", ylabel="eval return (mean over seeds)")
        if thresholds.get(env_id) is not None:
            ax.axhline(thresholds[env_id], color="gray", linestyle="--", linewidth=1, label="threshold")
        ax.set_title(env_id)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 3))
        ax.legend(fontsize="small", loc="best")
    for ax in list(axes.flat)[len(envs) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Learning curves: mean evaluation return, 95% bootstrap CI over seeds (no band below {MIN_RUNS_FOR_CI} seeds)",
        fontsize="medium",
    )
    fig.tight_layout()
    _save(fig, path)


def aggregate(
    estimates: dict[str, dict[str, tuple[float, float, float]]],
    curves: dict[str, Curve],
    algos: list[str],
    envs: list[str],
    path: Path,
) -> None:
    """
    Across envs, on normalized scores: IQM and mean of the final score with 95% stratified bootstrap CIs, and the
    IQM normalized score against the fraction of the step budget.

    :param estimates: algo -> metric name -> (point, low, high)
    :param curves: algo -> curve of the IQM normalized score against the fraction of the budget
    :param algos: Algo order (for colors)
    :param envs: The envs aggregated (in the title)
    :param path: PNG file
    """
    names = [a for a in algos if a in estimates]
    metric_names = list(next(iter(estimates.values())))
    colors = colors_for(algos)
    fig, axes = plt.subplots(1, len(metric_names) + 1, figsize=(4.2 * (len(metric_names) + 1), 0.6 * len(names) + 2.6))
    for ax, metric in zip(axes, metric_names):
        ends = [1.0]  # the threshold line is always in view
        for i, algo in enumerate(names):
            point, low, high = estimates[algo][metric]
            low, high = (point, point) if math.isnan(low) else (low, high)
            ax.barh(i, high - low, left=low, height=0.6, color=colors[algo], alpha=0.75)
            # The point estimate as a marker on top: visible on a zero-width interval and on the threshold line
            ax.plot(point, i, marker="D", markersize=7, color="k", markeredgecolor="white", zorder=3)
            ends += [low, high, point]
        pad = 0.06 * max(max(ends) - min(ends), 0.1)
        ax.set_xlim(min(ends) - pad, max(ends) + pad)  # every interval and marker inside the axes, none on an edge
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()  # the first algo on top
        ax.set_title(metric)
        ax.set_xlabel("normalized final score")
        ax.axvline(1.0, color="gray", linestyle="--", linewidth=1)
        ax.grid(True, axis="x", alpha=0.2)
    ax = axes[-1]
    for algo in names:
        if algo in curves:
            _plot_curve(ax, algo, curves[algo], colors, xlabel="fraction of the step budget", ylabel="IQM normalized score")
    ax.axhline(1.0, color="gray", linestyle="--", linewidth=1)
    ax.legend(fontsize="small", loc="best")
    fig.suptitle(
        f"Across {', '.join(envs)} (0 = random policy, 1 = env threshold; 95% stratified bootstrap CIs from "
        f"{MIN_RUNS_FOR_CI} seeds per env)",
        fontsize="medium",
    )
    fig.tight_layout()
    _save(fig, path)
