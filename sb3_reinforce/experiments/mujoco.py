"""
The MuJoCo table of ``docs/mujoco.md``: this package's REINFORCE beside the published REINFORCE (Tianshou) and VPG
(Spinning Up) figures and rl-zoo's PPO, built from the runs of the compare tool::

    python -m sb3_reinforce.compare --algos reinforce_vr --envs HalfCheetah-v5 --seeds 5 --jobs 2 \\
        --n-evals 100 --eval-episodes 10 --final-eval-episodes 10 --out logs/mujoco/reinforce_vr
    python -m sb3_reinforce.compare --algos ppo --envs HalfCheetah-v5 --seeds 3 --jobs 2 \\
        --conf-file ppo:zoo_configs/ppo_mujoco.yml --n-evals 20 --eval-episodes 10 --final-eval-episodes 10 \\
        --out logs/mujoco/ppo
    python -m sb3_reinforce.experiments.mujoco --runs logs/mujoco/reinforce_vr logs/mujoco/ppo

Both compare commands resume: finished runs are kept, so the table can be filled over several sessions. Every
finished run's ``result.json`` is copied to ``--archive`` (committed with the docs), and the table is built from the
archive, so it does not depend on the run folders.

Two figures per run, as the published tables and the honest one: the *best evaluation* during training (10
deterministic episodes every 30,000 steps of a 3M budget, the best of them: Tianshou's measure, an optimistic one),
and the *final model*, the file ``enjoy`` loads, over 10 deterministic episodes on seeds the run never trained on.
Mean and standard deviation over seeds. A second table (``--final-vs-best``) sets, for every algo and env in the
archive, the median final model against the median best evaluation, as the compare tool's report does.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from sb3_reinforce.experiments.compare.report import final_vs_best, load_results
from sb3_reinforce.experiments.compare.stats import CLOSE_FRACTION, CLOSE_POINTS


class Published(NamedTuple):
    """
    Published figures for one env (MuJoCo v2-v4 in the sources).

    :param tianshou_3m: Tianshou's REINFORCE at 3M steps: mean and std over 10 seeds of each seed's best test return
    :param tianshou_10m: Tianshou's REINFORCE at 10M steps (mean over seeds)
    :param spinning_up_vpg: Spinning Up's VPG (a critic and GAE) at 3M steps, read off its plots; None if not run
    """

    tianshou_3m: tuple[float, float]
    tianshou_10m: float
    spinning_up_vpg: float | None


# Tianshou's benchmark of examples/mujoco/mujoco_reinforce.py and Spinning Up's VPG benchmark plots
PUBLISHED: dict[str, Published] = {
    "HalfCheetah-v5": Published((884.0, 41.0), 1138.8, 630.0),
    "Hopper-v5": Published((395.8, 64.5), 416.0, 815.0),
    "Walker2d-v5": Published((412.0, 52.4), 440.9, 470.0),
    "Swimmer-v5": Published((35.3, 1.4), 35.6, 52.0),
    "Ant-v5": Published((474.9, 133.5), 1108.1, 8.0),
    "Humanoid-v5": Published((438.2, 47.8), 464.3, None),
    "Reacher-v5": Published((-10.5, 0.7), -5.5, None),
    "InvertedPendulum-v5": Published((999.2, 2.4), 1000.0, None),
    "InvertedDoublePendulum-v5": Published((1059.7, 307.7), 7726.2, None),
}
ENVS = tuple(PUBLISHED)


def archive(run_dirs: list[Path], archive_dir: Path) -> int:
    """
    Copy every finished run's ``result.json`` under ``run_dirs`` (compare output folders) into ``archive_dir``, as
    ``<algo>-<env>-seed<k>.json``; returns how many were new or changed.
    """
    archive_dir.mkdir(parents=True, exist_ok=True)
    copied = 0
    for run_dir in run_dirs:
        for result in load_results(run_dir):
            if result.get("status") != "ok":
                continue
            target = archive_dir / f"{result['algo']}-{result['env']}-seed{result['seed']}.json"
            text = json.dumps(result, indent=1, sort_keys=True)
            if not target.exists() or target.read_text() != text:
                target.write_text(text)
                copied += 1
        curves = run_dir / "learning_curves.png"
        if curves.exists():
            shutil.copyfile(curves, archive_dir.parent / f"learning_curves_{run_dir.name}.png")
    return copied


def load_archive(archive_dir: Path) -> list[dict[str, Any]]:
    """Every archived result."""
    return [json.loads(p.read_text()) for p in sorted(archive_dir.glob("*.json"))]


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f} (1 seed)"
    return f"{np.mean(values):.1f} +- {np.std(values):.1f} ({len(values)})"


def run_figures(result: dict[str, Any]) -> dict[str, float | None]:
    """The figures of one run: best evaluation, final model (deterministic), steps/s, wall time, steps."""
    final = (result.get("final_eval") or {}).get("deterministic") or {}
    returns = result.get("eval_returns") or []
    return {
        "best_eval": max(returns) if returns else None,
        "final_model": final.get("mean"),
        "fps": result.get("fps"),
        "wall_time_s": result.get("wall_time_s"),
        "n_timesteps": result.get("n_timesteps"),
    }


def _column(results: list[dict[str, Any]], algo: str, env_id: str, key: str) -> list[float]:
    figures = [run_figures(r) for r in results if r["algo"] == algo and r["env"] == env_id]
    return [float(f[key]) for f in figures if f[key] is not None]  # type: ignore[arg-type]


def _median(values: list[float], fmt: str) -> str:
    return format(float(np.median(values)), fmt) if values else "-"


def table(
    results: list[dict[str, Any]], algo: str = "reinforce_vr", baseline: str = "ppo", envs: tuple[str, ...] = ENVS
) -> str:
    """
    The markdown table: published figures, this package's (best evaluation and final model) and the baseline's.

    :param results: Finished runs (:func:`load_archive`)
    :param algo: This package's algo in the runs
    :param baseline: The other algo in the runs
    :param envs: The rows, among :data:`ENVS`
    """
    lines = [
        f"| env | Tianshou REINFORCE 3M (best) | {algo}: best eval | {algo}: final model | Spinning Up VPG 3M "
        f"| {baseline}: final model | {baseline}: best eval | {algo} steps/s | {baseline} steps/s "
        f"| {algo} wall time (min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for env_id in envs:
        published = PUBLISHED[env_id]
        best = _column(results, algo, env_id, "best_eval")
        mean, std = published.tianshou_3m
        beats = " **>=**" if best and np.mean(best) >= mean else ""
        vpg = "-" if published.spinning_up_vpg is None else f"~{published.spinning_up_vpg:.0f}"
        wall = [w / 60 for w in _column(results, algo, env_id, "wall_time_s")]
        cells = [
            env_id,
            f"{mean:.1f} +- {std:.1f}",
            _mean_std(best) + beats,
            _mean_std(_column(results, algo, env_id, "final_model")),
            vpg,
            _mean_std(_column(results, baseline, env_id, "final_model")),
            _mean_std(_column(results, baseline, env_id, "best_eval")),
            _median(_column(results, algo, env_id, "fps"), ",.0f"),
            _median(_column(results, baseline, env_id, "fps"), ",.0f"),
            _median(wall, ".1f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def final_vs_best_table(results: list[dict[str, Any]], baseline: str = "ppo", envs: tuple[str, ...] = ENVS) -> str:
    """
    The markdown table of the final models against the best evaluations: per env and algo, the medians over seeds and
    whether the final model is within ``max(CLOSE_FRACTION * |median best|, CLOSE_POINTS)`` of the best
    (:func:`~sb3_reinforce.experiments.compare.report.final_vs_best`).

    :param results: Finished runs (:func:`load_archive`)
    :param baseline: The baseline algo, listed after this package's algos
    :param envs: The envs, among :data:`ENVS`
    """
    lines = [
        "| env | algo | seeds | best eval: median | final model: median | final - best | tolerance "
        f"| within {CLOSE_FRACTION:.0%} or {CLOSE_POINTS:.0f} points |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    algos = sorted({r["algo"] for r in results}, key=lambda a: (a == baseline, a))
    for env_id in envs:
        for algo in algos:
            runs = [r for r in results if r["algo"] == algo and r["env"] == env_id]
            if not runs:
                continue
            row = final_vs_best(runs)
            missing = row["runs"] - row["n_final"]
            final = "missing" if row["final"] is None else f"{row['final']:.1f}"
            within = "n/a" if "within" not in row else ("yes" if row["within"] else "**no**")
            cells = [
                env_id,
                algo,
                str(row["runs"]),
                "-" if row["best"] is None else f"{row['best']:.1f}",
                final + (f" ({missing} missing)" if missing and row["final"] is not None else ""),
                f"{row['gap']:.1f}" if "gap" in row else "-",
                f"{row['tolerance']:.1f}" if "tolerance" in row else "-",
                within,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sb3_reinforce.experiments.mujoco", description="Build the MuJoCo table of docs/mujoco.md."
    )
    parser.add_argument("--runs", nargs="*", type=Path, default=[], help="compare output folders to archive first")
    parser.add_argument(
        "--archive", type=Path, default=Path("docs/mujoco/runs"), help="folder of archived results (default: %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("docs/mujoco/table.md"), help="markdown table to write (default: %(default)s)"
    )
    parser.add_argument(
        "--final-vs-best",
        type=Path,
        default=None,
        help="markdown table of every algo and env in the archive: median final model against median best evaluation "
        "(default: table_final_vs_best.md beside --out)",
    )
    parser.add_argument("--algo", default="reinforce_vr", help="this package's algo in the runs (default: %(default)s)")
    parser.add_argument("--baseline", default="ppo", help="the baseline algo in the runs (default: %(default)s)")
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=ENVS, help="the rows (default: all nine)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    missing = [str(d) for d in args.runs if not d.is_dir()]
    if missing:
        print(f"--runs: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    copied = archive(args.runs, args.archive)
    markdown = table(load_archive(args.archive), args.algo, args.baseline, tuple(args.envs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown)
    closeness = final_vs_best_table(load_archive(args.archive), args.baseline)
    closeness_path = args.final_vs_best or args.out.parent / "table_final_vs_best.md"
    closeness_path.parent.mkdir(parents=True, exist_ok=True)
    closeness_path.write_text(closeness)
    print(
        f"{copied} results archived in {args.archive}; tables written to {args.out} and {closeness_path}"
        f"\n\n{markdown}\n{closeness}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
