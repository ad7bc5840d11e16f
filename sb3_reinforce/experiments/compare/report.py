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
from sb3_reinforce.experiments.compare.stats import (
    CLOSE_FRACTION,
    CLOSE_POINTS,
    METRICS,
    MIN_RUNS_FOR_CI,
    final_close_to_best,
    interval_estimate,
    mean,
    median_steps,
    normalize,
)

RANDOM_EPISODES = 100


def load_results(out: Path) -> list[dict[str, Any]]:
    """Every finished run's result under ``out/runs`` (unfinished runs have no ``result.json``)."""
    results = [read_result(p) for p in sorted(out.glob("runs/*/*/seed_*/result.json"))]
    return [r for r in results if r is not None]


def _value(value: Any, kind: type = float) -> Any:
    """A cell of ``results.csv`` as ``result.json`` had it (None for an empty cell)."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else kind(value)


def results_from_csv(path: Path) -> list[dict[str, Any]]:
    """
    The runs' results read back from a ``results.csv`` (for a report whose run folders are not kept): every field the
    report uses, as :func:`write_csv` wrote it. The final evaluations keep only their mean returns.

    :param path: The ``results.csv``
    :return: One result per run, in the file's order
    """
    import pandas as pd

    frame = pd.read_csv(path, float_precision="round_trip", dtype={"error": object, "comparison": object})
    results: dict[tuple[str, str, int], dict[str, Any]] = {}
    for row in frame.to_dict("records"):
        key = (row["algo"], row["env"], int(row["seed"]))
        if key not in results:
            episodes = _value(row["final_eval_episodes"], int)
            final_eval = None
            if episodes is not None:
                final_eval = {"episodes": episodes}
                for way in ACTIONS:
                    if _value(row[f"final_eval_{way}"]) is not None:
                        final_eval[way] = {"mean": float(row[f"final_eval_{way}"])}
            results[key] = {
                "comparison": _value(row["comparison"], str),
                "algo": row["algo"],
                "env": row["env"],
                "seed": int(row["seed"]),
                "status": row["status"],
                "n_timesteps": _value(row["n_timesteps"], int),
                "threshold": _value(row["threshold"]),
                "final_return": _value(row["final_return"]),
                "steps_to_threshold": _value(row["steps_to_threshold"], int),
                **({"final_eval": final_eval} if final_eval is not None else {}),
                "train_return_final": _value(row["train_return_final"]),
                "train_return_best": _value(row["train_return_best"]),
                "train_steps_to_threshold": _value(row["train_steps_to_threshold"], int),
                "wall_time_s": _value(row["wall_time_s"]),
                "fps": _value(row["fps"]),
                "error": _value(row["error"], str),
                "eval_timesteps": [],
                "eval_returns": [],
                "eval_stds": [],
            }
        if _value(row["eval_index"]) is not None:
            result = results[key]
            result["eval_timesteps"].append(int(row["timesteps"]))
            result["eval_returns"].append(float(row["eval_return_mean"]))
            result["eval_stds"].append(float(row["eval_return_std"]))
    return list(results.values())


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


def _fmt_ci(estimate: tuple[float, float, float], n_runs: int, digits: int = 1) -> str:
    point, low, high = estimate
    if np.isnan(low):
        return f"{_fmt(point, digits)} (no CI: {n_runs} seed{'s' if n_runs != 1 else ''} < {MIN_RUNS_FOR_CI})"
    return f"{_fmt(point, digits)} [{_fmt(low, digits)}, {_fmt(high, digits)}]"


def _fmt_range(values: list[float]) -> str:
    """Median (min, max) of per-seed values."""
    if not values:
        return "n/a"
    return f"{_fmt(float(np.median(values)))} ({_fmt(min(values))}, {_fmt(max(values))})"


def _steps(value: float | None) -> str:
    if value is None:
        return "not reached"
    return f"{value / 1000:,.0f}k" if value >= 1000 else f"{value:.0f}"


FINAL_EVAL_COLUMNS = ("final_eval_episodes", "final_eval_deterministic", "final_eval_stochastic")
# How the final model acts in its evaluation: result.json key -> what the report calls it
ACTIONS = {"deterministic": "deterministic", "stochastic": "sampled actions"}


def _final_eval_columns(result: dict[str, Any]) -> dict[str, Any]:
    """The final model's mean evaluation returns (None for a run without a final evaluation)."""
    final = result.get("final_eval") or {}
    return {
        "final_eval_episodes": final.get("episodes"),
        **{f"final_eval_{way}": final.get(way, {}).get("mean") for way in ACTIONS},
    }


def write_csv(results: list[dict[str, Any]], path: Path) -> None:
    """
    ``results.csv``: one row per run and evaluation point (a failed run: one row with its error); the run's final
    figures (final return, the final model's evaluation, the training curve's) repeat on each of its rows.
    """
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
            **_final_eval_columns(r),
            "train_return_final": r.get("train_return_final"),
            "train_return_best": r.get("train_return_best"),
            "train_steps_to_threshold": r.get("train_steps_to_threshold"),
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
        "final_return", "steps_to_threshold", *FINAL_EVAL_COLUMNS, "train_return_final", "train_return_best",
        "train_steps_to_threshold", "threshold", "n_timesteps", "wall_time_s", "fps", "error",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    write_atomic(path, frame.to_csv(index=False).encode())


def _curve(runs: list[dict[str, Any]]) -> plots.Curve:
    """Mean over seeds at each evaluation point (seeds of one algo share their evaluation steps)."""
    length = min(len(r["eval_returns"]) for r in runs)
    values = np.array([r["eval_returns"][:length] for r in runs])  # (n_seeds, n_points)
    x = np.median(np.array([r["eval_timesteps"][:length] for r in runs]), axis=0)
    estimates = np.array([interval_estimate(values[:, i], mean) for i in range(length)])  # no band below MIN_RUNS_FOR_CI
    return x, estimates[:, 0], estimates[:, 1], estimates[:, 2]


def _normalized_curve(run: dict[str, Any], fractions: np.ndarray, random_score: float, threshold: float) -> np.ndarray:
    """A run's normalized evaluation return at the given fractions of its step budget (linear interpolation)."""
    values = np.interp(fractions * run["n_timesteps"], run["eval_timesteps"], run["eval_returns"])
    return np.asarray(normalize(values, random_score, threshold))


Runs = dict[tuple[str, str], list[dict[str, Any]]]


def _header(
    out: Path, meta: dict[str, Any], results: list[dict[str, Any]], n_failed: int, from_csv: bool = False
) -> list[str]:
    """Title, provenance and what the numbers mean."""
    lines = [f"# Comparison: {meta.get('name', out.name)}", ""]
    source = ", read back from its `results.csv` (the run folders are not kept)" if from_csv else ""
    lines += [
        f"Built {time.strftime('%Y-%m-%d %H:%M')} from {len(results)} finished runs in `{out.name}/` "
        f"({len(results) - n_failed} ok, {n_failed} failed){source}."
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
        f"bootstrap confidence intervals when there are at least {MIN_RUNS_FOR_CI} seeds (with fewer, the bootstrap "
        "interval is about the range of the seeds and would be mislabelled: none is given). *Steps to threshold*: the "
        "first evaluation whose mean return reaches the env's threshold (median over seeds, a seed that never reaches "
        "it counting as slowest). *Steps/s*: env steps per second of training, evaluation time excluded (1 torch "
        "thread per run).",
        "",
        "*Final model*: the model saved at the end of training in rl-zoo's layout (the file `enjoy` loads, with its "
        f"VecNormalize statistics when the config normalizes), evaluated over {meta.get('final_eval_episodes', 'n')} "
        "episodes on seeds the run never trained on, once with deterministic and once with sampled actions: per seed "
        "the mean return; median (min, max) over seeds, and how many seeds' mean reaches the threshold. *Last 100 "
        "training episodes*: SB3's `rollout/ep_rew_mean` (sampled actions, earlier policies included) at the end, and "
        "the first env step at which it reached the threshold.",
        "",
        "*Final model against best evaluation*: per algo, the median over its runs of each run's best periodic "
        "evaluation (the highest mean return among its evaluations) and the median of its final model's mean return "
        "with deterministic actions; *final - best* is their difference. The final model is *within "
        f"{CLOSE_FRACTION:.0%} or {CLOSE_POINTS:.0f} points* of the best when it is at most "
        f"max({CLOSE_FRACTION:g} x |median best|, {CLOSE_POINTS:g}) below it (the tolerance column; a final model "
        "above its best counts as within). The best of many periodic evaluations of "
        f"{meta.get('n_eval_episodes', 'n')} episodes each is biased upwards; the final model's evaluation is not "
        "selected. Runs without a final evaluation (failed runs, results made before it "
        "existed) are counted as missing and left out of the median final.",
        "",
    ]
    return lines


def _env_table(env_id: str, algos: list[str], runs: Runs, ok: Runs, threshold: float | None) -> list[str]:
    """One env's table of the periodic evaluations: final return, steps to threshold, time and throughput."""
    lines = [
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
            f"| {algo} | {len(good)}/{len(every)} | {_fmt_ci(interval_estimate(finals, mean), len(good))} | "
            f"{_fmt_ci(interval_estimate(finals, METRICS['IQM']), len(good))} | "
            f"{f'{reached}/{len(good)}' if threshold is not None else 'n/a'} | "
            f"{_steps(median_steps(steps)) if threshold is not None else 'n/a'} | "
            f"{np.mean([r['wall_time_s'] for r in good]):,.0f} s | {np.mean([r['fps'] for r in good]):,.0f} |"
        )
    return lines


def _reaching(values: list[float], threshold: float | None) -> str:
    """How many of the per-seed values reach the threshold, as ``k/n``."""
    if threshold is None or not values:
        return "n/a"
    return f"{sum(v >= threshold for v in values)}/{len(values)}"


def _final_model_table(env_id: str, algos: list[str], ok: Runs, threshold: float | None) -> list[str]:
    """One env's table of the final models' evaluations and of the training curves' ends."""
    header = "| algo | seeds | " + " | ".join(
        f"final model, {name}: median (min, max) | reach threshold" for name in ACTIONS.values()
    )
    lines = [
        header + " | last 100 training episodes: median (min, max) | training mean reached threshold (median steps) |",
        "|---|---|" + "---|---|" * len(ACTIONS) + "---|---|",
    ]
    for algo in algos:
        good = ok.get((algo, env_id), [])
        if not good:
            continue
        cells = [algo, str(len(good))]
        for way in ACTIONS:
            values = [r["final_eval"][way]["mean"] for r in good if r.get("final_eval")]
            cells += [_fmt_range(values), _reaching(values, threshold)]
        train = [r["train_return_final"] for r in good if r.get("train_return_final") is not None]
        steps = [r.get("train_steps_to_threshold") for r in good if r.get("train_return_final") is not None]
        reached = f"{sum(s is not None for s in steps)}/{len(steps)} ({_steps(median_steps(steps))})"
        cells += [_fmt_range(train), reached if threshold is not None and steps else "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def final_vs_best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """
    The median best periodic evaluation and the median final model (deterministic) of one (algo, env)'s runs.

    :param runs: Every run of the (algo, env), failed ones included
    :return: ``runs`` (how many), ``best`` and ``final`` (the medians over the runs that have them, None when none
        has), ``n_best`` and ``n_final`` (how many runs have them), and when both medians exist ``gap`` (final - best),
        ``tolerance`` and ``within`` (see :func:`~sb3_reinforce.experiments.compare.stats.final_close_to_best`)
    """
    bests = [max(r["eval_returns"]) for r in runs if r.get("status") == "ok" and r.get("eval_returns")]
    finals = [
        r["final_eval"]["deterministic"]["mean"]
        for r in runs
        if r.get("status") == "ok" and (r.get("final_eval") or {}).get("deterministic", {}).get("mean") is not None
    ]
    row: dict[str, Any] = {
        "runs": len(runs),
        "n_best": len(bests),
        "n_final": len(finals),
        "best": float(np.median(bests)) if bests else None,
        "final": float(np.median(finals)) if finals else None,
    }
    if row["best"] is not None and row["final"] is not None:
        row["gap"], row["tolerance"], row["within"] = final_close_to_best(row["best"], row["final"])
    return row


def _counted(value: float | None, n_values: int, n_runs: int) -> str:
    """A median, with how many runs it leaves out (``missing`` when it has none)."""
    if value is None:
        return f"missing ({n_runs} of {n_runs} runs)"
    return _fmt(value) + (f" ({n_values} runs; {n_runs - n_values} missing)" if n_values < n_runs else "")


def _final_vs_best_table(env_id: str, algos: list[str], runs: Runs) -> list[str]:
    """One env's table of the median final model against the median best periodic evaluation."""
    lines = [
        "| algo | runs | best evaluation: median | final model, deterministic: median | final - best | tolerance | "
        f"within {CLOSE_FRACTION:.0%} or {CLOSE_POINTS:.0f} points |",
        "|---|---|---|---|---|---|---|",
    ]
    for algo in algos:
        if (algo, env_id) not in runs:
            continue
        row = final_vs_best(runs[algo, env_id])
        within = "n/a" if "within" not in row else ("yes" if row["within"] else "**no**")
        cells = [
            algo,
            str(row["runs"]),
            _counted(row["best"], row["n_best"], row["runs"]),
            _counted(row["final"], row["n_final"], row["runs"]),
            _fmt(row.get("gap")),
            _fmt(row.get("tolerance")),
            within,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _aggregate(
    algos: list[str], envs: list[str], ok: Runs, thresholds: dict[str, float], out: Path
) -> tuple[dict[str, dict[str, tuple[float, float, float]]], dict[str, plots.Curve], dict[str, float]]:
    """
    Across envs, on normalized scores: per algo the IQM and mean of the final scores (with CIs) and the IQM curve
    against the fraction of the step budget, and the random-policy scores used to normalize.
    """
    randoms = random_scores(envs, out)
    fractions = np.linspace(0.05, 1.0, 20)
    estimates: dict[str, dict[str, tuple[float, float, float]]] = {}
    curves: dict[str, plots.Curve] = {}
    for algo in algos:
        per_env = [ok.get((algo, e), []) for e in envs]
        n_runs = min(len(rs) for rs in per_env)
        if n_runs == 0:
            continue
        # The same number of seeds in every env (the first ones): rliable's (n_runs, n_envs) score matrix
        per_env = [rs[:n_runs] for rs in per_env]
        final = np.array(
            [[normalize(r["final_return"], randoms[e], thresholds[e]) for r in rs] for e, rs in zip(envs, per_env)]
        ).T
        estimates[algo] = {name: interval_estimate(final, metric) for name, metric in METRICS.items()}
        # Each run's curve interpolated at the same fractions of its budget: (n_envs, n_runs, n_fractions)
        curve = np.array(
            [[_normalized_curve(r, fractions, randoms[e], thresholds[e]) for r in rs] for e, rs in zip(envs, per_env)]
        )
        points = np.array([interval_estimate(curve[:, :, i].T, METRICS["IQM"]) for i in range(len(fractions))])
        curves[algo] = (fractions, points[:, 0], points[:, 1], points[:, 2])
    return estimates, curves, randoms


def _aggregate_section(
    estimates: dict[str, dict[str, tuple[float, float, float]]], envs: list[str], ok: Runs, randoms: dict[str, float]
) -> list[str]:
    """The table across envs."""
    lines = [
        "## Across envs",
        "",
        f"Normalized final score over {', '.join(envs)}: (return - random) / (threshold - random), so 0 is "
        "a uniformly random policy and 1 the env's threshold (random-policy returns: "
        + ", ".join(f"{e} {_fmt(randoms[e])}" for e in envs)
        + f", measured over {RANDOM_EPISODES} episodes). IQM and mean over all (seed, env) scores, 95% stratified "
        f"bootstrap CIs (seeds resampled within each env; none below {MIN_RUNS_FOR_CI} seeds per env). An algo is "
        "included with as many seeds as it has successful runs in every env.",
        "",
        "| algo | seeds per env | IQM [95% CI] | mean [95% CI] |",
        "|---|---|---|---|",
    ]
    for algo, estimate in estimates.items():
        n_runs = min(len(ok.get((algo, e), [])) for e in envs)
        lines.append(f"| {algo} | {n_runs} | {_fmt_ci(estimate['IQM'], n_runs, 2)} | {_fmt_ci(estimate['Mean'], n_runs, 2)} |")
    return [*lines, ""]


def _failed_section(results: list[dict[str, Any]]) -> list[str]:
    """The failed runs with their errors."""
    failed = [r for r in results if r["status"] != "ok"]
    if not failed:
        return []
    lines = ["## Failed runs", "", "| algo | env | seed | error |", "|---|---|---|---|"]
    for r in sorted(failed, key=lambda r: (r["algo"], r["env"], r["seed"])):
        error = str(r.get("error")).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r['algo']} | {r['env']} | {r['seed']} | {error} |")
    return [*lines, "", "Each failed run's log: `runs/<algo>/<env>/seed_<k>/train.log`; its traceback: `result.json`.", ""]


def missing_runs(meta: dict[str, Any], results: list[dict[str, Any]]) -> list[str]:
    """The runs of the command's grid (``comparison.json``) that have no result in the output folder."""
    done = {(r["algo"], r["env"], r["seed"]) for r in results}
    first = meta.get("first_seed", 0)
    return [
        f"{a} {e} seed {s}"
        for a in meta.get("algos", [])
        for e in meta.get("envs", [])
        for s in range(first, first + meta.get("seeds", 0))
        if (a, e, s) not in done
    ]


def _missing_line(missing: list[str], total: int) -> str:
    listed = ", ".join(missing[:10]) + (", ..." if len(missing) > 10 else "")
    return f"**{len(missing)} of the grid's {total} runs have no result**: {listed}."


def build_report(out: Path, quiet: bool = False) -> str:
    """
    Rebuild ``results.csv``, ``summary.md`` and the plots of ``out`` from every ``result.json`` in it (from its
    ``results.csv`` when it has no run folders, as the reports committed under ``docs/``).

    :param out: The comparison's output folder
    :param quiet: Do not print where the report is
    :return: The text of ``summary.md``
    """
    results = load_results(out)
    from_csv = not results and (out / "results.csv").is_file()
    if from_csv:
        results = results_from_csv(out / "results.csv")
    meta = read_result(out / "comparison.json") or {}
    write_csv(results, out / "results.csv")
    algos = _ordered(list({r["algo"] for r in results}), meta.get("algos", []))
    envs = _ordered(list({r["env"] for r in results}), meta.get("envs", []))
    runs: Runs = defaultdict(list)
    for r in sorted(results, key=lambda r: r["seed"]):
        runs[r["algo"], r["env"]].append(r)
    ok = {key: [r for r in rs if r["status"] == "ok"] for key, rs in runs.items()}
    thresholds = {e: next((r.get("threshold") for r in results if r["env"] == e), None) or threshold_of(e) for e in envs}
    n_failed = sum(r["status"] != "ok" for r in results)

    missing = missing_runs(meta, results)
    lines = _header(out, meta, results, n_failed, from_csv)
    if missing:
        lines[2:2] = [_missing_line(missing, len(results) + len(missing)), ""]
    curves: dict[str, dict[str, plots.Curve]] = {}
    for env_id in envs:
        budgets = sorted({int(r["n_timesteps"]) for r in results if r["env"] == env_id and r.get("n_timesteps")})
        lines += [
            f"## {env_id}",
            "",
            f"Budget: {', '.join(f'{b:,}' for b in budgets)} env steps; threshold: {_fmt(thresholds[env_id])}.",
            "",
            *_env_table(env_id, algos, runs, ok, thresholds[env_id]),
            "",
            *_final_model_table(env_id, algos, ok, thresholds[env_id]),
            "",
            *_final_vs_best_table(env_id, algos, runs),
            "",
        ]
        for algo in algos:
            if ok.get((algo, env_id)):
                curves.setdefault(env_id, {})[algo] = _curve(ok[algo, env_id])

    # Across envs, on normalized scores
    limits = {e: float(t) for e, t in thresholds.items() if t is not None}
    scored_envs = [e for e in envs if e in limits]
    estimates, aggregate_curves, randoms = _aggregate(algos, scored_envs, ok, limits, out) if scored_envs else ({}, {}, {})
    if estimates:
        lines += _aggregate_section(estimates, scored_envs, ok, randoms)
    if curves:
        plots.learning_curves(curves, thresholds, algos, out / "learning_curves.png")
        lines += ["## Plots", "", "![learning curves](learning_curves.png)", ""]
    if estimates:
        plots.aggregate(estimates, aggregate_curves, algos, scored_envs, out / "aggregate.png")
        lines += ["![aggregate across envs](aggregate.png)", ""]
    lines += _failed_section(results)
    if missing:
        lines += ["## Runs without a result", "", _missing_line(missing, len(results) + len(missing)), ""]

    text = "\n".join(lines)
    write_atomic(out / "summary.md", text.encode())
    if not quiet:
        grid = f"{len(results)} of {len(results) + len(missing)} runs" if meta else f"{len(results)} runs"
        holes = f", {len(missing)} without a result: {', '.join(missing[:10])}{', ...' if len(missing) > 10 else ''}"
        what = f"{grid}, {n_failed} failed{holes if missing else ''}"
        print(f"Report: {out / 'summary.md'} ({what}), results.csv and plots in {out}")
    return text


def write_meta(out: Path, meta: dict[str, Any]) -> None:
    """Record the comparison's settings (``comparison.json``: names, order and settings for the report)."""
    write_json_atomic(out / "comparison.json", json.loads(json.dumps(meta, default=str)))
