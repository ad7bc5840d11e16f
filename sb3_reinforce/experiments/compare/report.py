"""
The report of a comparison, rebuilt from every ``result.json`` under ``DIR/runs``: ``results.csv``,
``summary.md`` and the PNG plots (see ``docs/compare.md`` for what each number means).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from sb3_reinforce.experiments.compare import plots
from sb3_reinforce.experiments.compare.grid import read_result, threshold_of, write_atomic, write_json_atomic
from sb3_reinforce.experiments.compare.stats import METRICS, interval_estimate, mean, median_steps, normalize

RANDOM_EPISODES = 100


def load_results(out: Path) -> list[dict[str, Any]]:
    """Every finished run's result under ``out/runs`` (unfinished runs have no ``result.json``)."""
    results = [read_result(p) for p in sorted(out.glob("runs/*/*/seed_*/result.json"))]
    return [r for r in results if r is not None]


def random_scores(envs: list[str], out: Path) -> dict[str, float]:
    """
    Mean return of a uniformly random policy per env (100 episodes, seeded), measured once and cached in
    ``out/random_scores.json``.
    """
    import gymnasium as gym

    path = out / "random_scores.json"
    cached = read_result(path) or {}
    missing = [e for e in envs if e not in cached]
    for env_id in missing:
        env = gym.make(env_id)
        env.action_space.seed(0)
        returns = []
        for episode in range(RANDOM_EPISODES):
            env.reset(seed=episode)
            total, done = 0.0, False
            while not done:
                _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        env.close()
        cached[env_id] = float(np.mean(returns))
    if missing:
        write_json_atomic(path, cached)
    return {e: cached[e] for e in envs}


def _ordered(found: list[str], preferred: list[str]) -> list[str]:
    return [x for x in preferred if x in found] + sorted(x for x in found if x not in preferred)


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _fmt_ci(estimate: tuple[float, float, float], digits: int = 1) -> str:
    point, low, high = estimate
    if np.isnan(low):
        return f"{_fmt(point, digits)} (1 run, no CI)"
    return f"{_fmt(point, digits)} [{_fmt(low, digits)}, {_fmt(high, digits)}]"


def _steps(value: float | None) -> str:
    if value is None:
        return "not reached"
    return f"{value / 1000:,.0f}k" if value >= 1000 else f"{value:.0f}"


def write_csv(results: list[dict[str, Any]], path: Path) -> None:
    """``results.csv``: one row per run and evaluation point (a failed run: one row with its error)."""
    import pandas as pd

    rows = []
    for r in results:
        base = {
            "comparison": r.get("comparison"),
            "algo": r["algo"],
            "env": r["env"],
            "seed": r["seed"],
            "status": r["status"],
            "n_timesteps": r.get("n_timesteps"),
            "threshold": r.get("threshold"),
            "final_return": r.get("final_return"),
            "steps_to_threshold": r.get("steps_to_threshold"),
            "wall_time_s": r.get("wall_time_s"),
            "fps": r.get("fps"),
            "error": r.get("error"),
        }
        points = list(zip(r.get("eval_timesteps", []), r.get("eval_returns", []), r.get("eval_stds", [])))
        if not points:
            rows.append({**base, "eval_index": None, "timesteps": None, "eval_return_mean": None, "eval_return_std": None})
        for i, (step, value, std) in enumerate(points):
            rows.append({**base, "eval_index": i, "timesteps": step, "eval_return_mean": value, "eval_return_std": std})
    columns = [
        "comparison", "algo", "env", "seed", "status", "eval_index", "timesteps", "eval_return_mean", "eval_return_std",
        "final_return", "steps_to_threshold", "threshold", "n_timesteps", "wall_time_s", "fps", "error",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    write_atomic(path, frame.to_csv(index=False).encode())


def _curve(runs: list[dict[str, Any]]) -> plots.Curve:
    """Mean over seeds at each evaluation point (seeds of one algo share their evaluation steps)."""
    length = min(len(r["eval_returns"]) for r in runs)
    values = np.array([r["eval_returns"][:length] for r in runs])  # (n_seeds, n_points)
    x = np.median(np.array([r["eval_timesteps"][:length] for r in runs]), axis=0)
    estimates = np.array([interval_estimate(values[:, i], mean) for i in range(length)])
    return x, estimates[:, 0], estimates[:, 1], estimates[:, 2]


def _normalized_curve(run: dict[str, Any], fractions: np.ndarray, random_score: float, threshold: float) -> np.ndarray:
    """A run's normalized evaluation return at the given fractions of its step budget (linear interpolation)."""
    values = np.interp(fractions * run["n_timesteps"], run["eval_timesteps"], run["eval_returns"])
    return np.asarray(normalize(values, random_score, threshold))


def build_report(out: Path, quiet: bool = False) -> str:
    """
    Rebuild ``results.csv``, ``summary.md`` and the plots of ``out`` from every ``result.json`` in it.

    :param out: The comparison's output folder
    :param quiet: Do not print where the report is
    :return: The text of ``summary.md``
    """
    results = load_results(out)
    meta = read_result(out / "comparison.json") or {}
    write_csv(results, out / "results.csv")
    algos = _ordered(list({r["algo"] for r in results}), meta.get("algos", []))
    envs = _ordered(list({r["env"] for r in results}), meta.get("envs", []))
    runs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(results, key=lambda r: r["seed"]):
        runs[r["algo"], r["env"]].append(r)
    ok = {key: [r for r in rs if r["status"] == "ok"] for key, rs in runs.items()}
    thresholds = {e: next((r.get("threshold") for r in results if r["env"] == e), None) for e in envs}
    for env_id in envs:
        if thresholds[env_id] is None:
            thresholds[env_id] = threshold_of(env_id)
    n_failed = sum(r["status"] != "ok" for r in results)

    lines = [f"# Comparison: {meta.get('name', out.name)}", ""]
    lines += [
        f"Built {time.strftime('%Y-%m-%d %H:%M')} from {len(results)} finished runs in `{out.name}/` "
        f"({len(results) - n_failed} ok, {n_failed} failed)."
    ]
    if meta.get("command"):
        lines += ["", f"Command: `{meta['command']}`"]
    lines += [
        "",
        "Each run trains with its algo's rl-zoo config entry (REINFORCE from `zoo_configs/`, the others from rl-zoo's "
        "`hyperparams/`) for the env's step budget, and is evaluated every budget / "
        f"{meta.get('n_evals', 'n_evals')} steps on a separate env ({meta.get('n_eval_episodes', 'n')} episodes, "
        "deterministic actions as rl-zoo does). *Final return*: the mean evaluation "
        "return at the last evaluation, per seed; its mean and IQM (interquartile mean) over seeds come with 95% "
        "bootstrap confidence intervals. *Steps to threshold*: the first evaluation whose mean return reaches the "
        "env's threshold (median over seeds, a seed that never reaches it counting as slowest). *Steps/s*: env "
        "steps per second of training, evaluation time excluded (1 torch thread per run).",
        "",
    ]

    curves: dict[str, dict[str, plots.Curve]] = {}
    for env_id in envs:
        budgets = sorted({int(r["n_timesteps"]) for r in results if r["env"] == env_id and r.get("n_timesteps")})
        lines += [
            f"## {env_id}",
            "",
            f"Budget: {', '.join(f'{b:,}' for b in budgets)} env steps; threshold: {_fmt(thresholds[env_id])}.",
            "",
            "| algo | runs ok | final return: mean [95% CI] | IQM [95% CI] | reached threshold | steps to threshold "
            "(median) | wall time / run | env steps/s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for algo in algos:
            if (algo, env_id) not in runs:
                continue
            good, every = ok[algo, env_id], runs[algo, env_id]
            if not good:
                lines.append(f"| {algo} | 0/{len(every)} | failed | | | | | |")
                continue
            finals = np.array([r["final_return"] for r in good])
            steps = [r.get("steps_to_threshold") for r in good]
            reached = sum(s is not None for s in steps)
            lines.append(
                f"| {algo} | {len(good)}/{len(every)} | {_fmt_ci(interval_estimate(finals, mean))} | "
                f"{_fmt_ci(interval_estimate(finals, METRICS['IQM']))} | "
                f"{f'{reached}/{len(good)}' if thresholds[env_id] is not None else 'n/a'} | "
                f"{_steps(median_steps(steps)) if thresholds[env_id] is not None else 'n/a'} | "
                f"{np.mean([r['wall_time_s'] for r in good]):,.0f} s | {np.mean([r['fps'] for r in good]):,.0f} |"
            )
            curves.setdefault(env_id, {})[algo] = _curve(good)
        lines.append("")

    # Across envs, on normalized scores
    scored_envs = [e for e in envs if thresholds[e] is not None]
    limits: dict[str, float] = {e: float(thresholds[e]) for e in scored_envs}  # type: ignore[arg-type]
    estimates: dict[str, dict[str, tuple[float, float, float]]] = {}
    aggregate_curves: dict[str, plots.Curve] = {}
    if scored_envs:
        randoms = random_scores(scored_envs, out)
        fractions = np.linspace(0.05, 1.0, 20)
        for algo in algos:
            per_env = [ok.get((algo, e), []) for e in scored_envs]
            n_runs = min(len(rs) for rs in per_env)
            if n_runs == 0:
                continue
            # The same number of seeds in every env (the first ones): rliable's (n_runs, n_envs) score matrix
            per_env = [rs[:n_runs] for rs in per_env]
            final = np.array(
                [[normalize(r["final_return"], randoms[e], limits[e]) for r in rs] for e, rs in zip(scored_envs, per_env)]
            ).T
            estimates[algo] = {name: interval_estimate(final, metric) for name, metric in METRICS.items()}
            # Each run's curve interpolated at the same fractions of its budget: (n_envs, n_runs, n_fractions)
            curve = np.array(
                [[_normalized_curve(r, fractions, randoms[e], limits[e]) for r in rs] for e, rs in zip(scored_envs, per_env)]
            )
            points = np.array([interval_estimate(curve[:, :, i].T, METRICS["IQM"]) for i in range(len(fractions))])
            aggregate_curves[algo] = (fractions, points[:, 0], points[:, 1], points[:, 2])
    if estimates:
        lines += [
            "## Across envs",
            "",
            f"Normalized final score over {', '.join(scored_envs)}: (return - random) / (threshold - random), so 0 is "
            "a uniformly random policy and 1 the env's threshold (random-policy returns: "
            + ", ".join(f"{e} {_fmt(randoms[e])}" for e in scored_envs)
            + f", measured over {RANDOM_EPISODES} episodes). IQM and mean over all (seed, env) scores, 95% stratified "
            "bootstrap CIs (seeds resampled within each env). An algo is included with as many seeds as it has "
            "successful runs in every env.",
            "",
            "| algo | seeds per env | IQM [95% CI] | mean [95% CI] |",
            "|---|---|---|---|",
        ]
        for algo, estimate in estimates.items():
            n_runs = min(len(ok.get((algo, e), [])) for e in scored_envs)
            lines.append(f"| {algo} | {n_runs} | {_fmt_ci(estimate['IQM'], 2)} | {_fmt_ci(estimate['Mean'], 2)} |")
        lines.append("")

    if curves:
        plots.learning_curves(curves, thresholds, algos, out / "learning_curves.png")
        lines += ["## Plots", "", "![learning curves](learning_curves.png)", ""]
    if estimates:
        plots.aggregate(estimates, aggregate_curves, algos, scored_envs, out / "aggregate.png")
        lines += ["![aggregate across envs](aggregate.png)", ""]

    failed = [r for r in results if r["status"] != "ok"]
    if failed:
        lines += ["## Failed runs", "", "| algo | env | seed | error |", "|---|---|---|---|"]
        for r in sorted(failed, key=lambda r: (r["algo"], r["env"], r["seed"])):
            error = str(r.get("error")).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {r['algo']} | {r['env']} | {r['seed']} | {error} |")
        lines += ["", "Each failed run's log: `runs/<algo>/<env>/seed_<k>/train.log`; its traceback: `result.json`.", ""]
    missing = [
        (a, e, s)
        for a in meta.get("algos", [])
        for e in meta.get("envs", [])
        for s in range(meta.get("seeds", 0))
        if not any(r["algo"] == a and r["env"] == e and r["seed"] == s for r in results)
    ]
    if missing:
        lines += [f"Not finished yet: {len(missing)} runs ({', '.join(f'{a} {e} seed {s}' for a, e, s in missing[:10])}"]
        lines[-1] += ", ...)." if len(missing) > 10 else ")."
        lines.append("")

    text = "\n".join(lines)
    write_atomic(out / "summary.md", text.encode())
    if not quiet:
        print(f"Report: {out / 'summary.md'} ({len(results)} runs, {n_failed} failed), results.csv and plots in {out}")
    return text


def write_meta(out: Path, meta: dict[str, Any]) -> None:
    """Record the comparison's settings (``comparison.json``: names, order and settings for the report)."""
    write_json_atomic(out / "comparison.json", json.loads(json.dumps(meta, default=str)))
