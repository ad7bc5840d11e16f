"""
The MuJoCo table of ``docs/mujoco.md``: two lines of this package's REINFORCE beside the published REINFORCE
(Tianshou) and VPG (Spinning Up) figures and rl-zoo's PPO, built from the runs of the compare tool. Both lines run the
algo ``reinforce_vr``: the first with ``zoo_configs/reinforce_vr.yml`` (Tianshou's REINFORCE settings, like for like
with its table), the second with ``zoo_configs/reinforce_mujoco_value.yml`` (the same entries with a learned value
baseline). Each line has its own compare folder, option and archive::

    python -m sb3_reinforce.compare --algos reinforce_vr --envs HalfCheetah-v5 --seeds 5 --jobs 2 \\
        --n-evals 100 --eval-episodes 10 --final-eval-episodes 10 --out logs/mujoco/reinforce_vr
    python -m sb3_reinforce.compare --algos reinforce_vr --envs HalfCheetah-v5 --seeds 5 --jobs 2 \\
        --conf-file reinforce_vr:zoo_configs/reinforce_mujoco_value.yml --n-evals 100 --eval-episodes 10 \\
        --final-eval-episodes 10 --out logs/mujoco/reinforce_value
    python -m sb3_reinforce.compare --algos ppo --envs HalfCheetah-v5 --seeds 3 --jobs 2 \\
        --conf-file ppo:zoo_configs/ppo_mujoco.yml --n-evals 20 --eval-episodes 10 --final-eval-episodes 10 \\
        --out logs/mujoco/ppo
    python -m sb3_reinforce.experiments.mujoco --runs logs/mujoco/reinforce_vr logs/mujoco/ppo \\
        --value-runs logs/mujoco/reinforce_value

The compare commands resume: finished runs are kept, so the table can be filled over several sessions. Every
finished run's ``result.json`` is copied to its line's archive (committed with the docs): ``--runs`` to ``--archive``
(``docs/mujoco/runs/``: the first line, PPO and the vanilla REINFORCE entries), ``--value-runs`` to
``--value-archive`` (``docs/mujoco/runs_value/``: the value line only). The table is built from the archives, so it
does not depend on the run folders. The lines cannot be mixed: a ``reinforce_vr`` run belongs to the line whose config
entry for its env it recorded (``settings.entry`` of its ``result.json``); a run given with the other line's option,
made with neither line's entry, or recording none, and an archived result in the other line's folder, stop the tool
before anything is copied, with a message naming the file.

Two figures per run, as the published tables and the honest one: the *best evaluation* during training (10
deterministic episodes every 30,000 steps of a 3M budget, the best of them: Tianshou's measure, an optimistic one),
and the *final model*, the file ``enjoy`` loads, over 10 deterministic episodes on seeds the run never trained on.
Mean and standard deviation over seeds; a line without runs of an env reads ``not measured``, one with fewer seeds
than planned (:data:`PLANNED_SEEDS`) ``k of n seeds``. Per env the table says which line's final models are better on
average, and whether that mean is at or above Spinning Up's VPG and Tianshou's 3M figure. A second table
(``--final-vs-best``) sets, for every algo and env in the archives (both lines labelled), the median final model
against the median best evaluation, as the compare tool's report does. ``--algo reinforce`` (the vanilla entries)
builds a table of that algo's runs alone.
"""

from __future__ import annotations

import argparse
import functools
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
# Seeds per env of the compare commands (docs/mujoco.md): a line with fewer runs of an env is shown as partial
PLANNED_SEEDS: dict[str, int] = {
    env_id: 5 if env_id in ("HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Swimmer-v5", "Ant-v5") else 3 for env_id in ENVS
}


class Line(NamedTuple):
    """
    A line of this package's REINFORCE in the table: the runs of one algo made with one config file, archived in a
    folder of its own. Both lines run the algo ``reinforce_vr``; the config entry each run records (``settings.entry``
    of its ``result.json``) tells them apart.

    :param short: How the tables' cells name the line
    :param algo: The algo name in the runs
    :param config: The config file of its runs, in ``zoo_configs/``
    :param flag: The option of this tool that archives its runs
    :param exclusive: Whether its archive holds its runs only (else also the other algos' runs: PPO, vanilla REINFORCE)
    """

    short: str
    algo: str
    config: str
    flag: str
    exclusive: bool

    @property
    def label(self) -> str:
        """How the tables' headers name the line."""
        return f"{self.algo} ({self.short})"


# The first line: Tianshou's REINFORCE settings, like for like with the published table
TIANSHOU_LINE = Line("Tianshou settings", "reinforce_vr", "reinforce_vr.yml", "--runs", exclusive=False)
# The second line: the same entries with a learned value baseline
VALUE_LINE = Line("value baseline", "reinforce_vr", "reinforce_mujoco_value.yml", "--value-runs", exclusive=True)
LINES = (TIANSHOU_LINE, VALUE_LINE)


class LineError(ValueError):
    """A run that does not belong to the line it is archived with, or an archived result in the wrong line's folder."""


@functools.cache
def _line_entry_text(config: str, env_id: str) -> str | None:
    from sb3_reinforce.zoo import config_dir
    from sb3_reinforce.zoo.config import ConfigError, load_entry

    try:
        entry = load_entry(config_dir() / config, env_id)
    except ConfigError:
        return None
    entry.pop("n_timesteps", None)  # the compare tool records the budget apart from the entry
    return json.dumps(entry, default=str, sort_keys=True)


def line_entry(line: Line, env_id: str) -> dict[str, Any] | None:
    """
    A line's config entry for an env as the compare tool records it in ``result.json`` (``settings.entry``: the
    entry without ``n_timesteps``, values JSON can hold kept, the others as strings).

    :param line: The line
    :param env_id: Gymnasium env id
    :return: The entry, or None if the line's config file has none for the env
    """
    text = _line_entry_text(line.config, env_id)
    return None if text is None else json.loads(text)


def line_of(result: dict[str, Any]) -> Line | None:
    """
    The line a result belongs to: the one whose algo made it and whose config entry it recorded, or None.

    :param result: A run's ``result.json``
    """
    entry = (result.get("settings") or {}).get("entry")
    for line in LINES:
        if entry is not None and result.get("algo") == line.algo and entry == line_entry(line, result.get("env", "")):
            return line
    return None


def check_line(result: dict[str, Any], line: Line, source: Path) -> None:
    """
    Refuse a result that does not belong in ``line``'s archive: a run of the line's algo must have been made with the
    line's config entry for its env (``settings.entry`` of its ``result.json``); another algo's run is refused in an
    exclusive line's archive.

    :param result: A run's ``result.json``
    :param line: The line whose archive it is going to, or comes from
    :param source: The result's file, for the message
    :raises LineError: naming ``source``, the line it belongs to if any, and the option that archives it
    """
    algo, env_id = result.get("algo"), result.get("env", "")
    config = f"zoo_configs/{line.config}"
    if algo != line.algo:
        if line.exclusive:
            raise LineError(
                f"{source} is a {algo} run: the {line.short} line ({line.flag}) holds only {line.algo} runs made with {config}"
            )
        return
    owner = line_of(result)
    if owner == line:
        return
    if owner is not None:
        raise LineError(
            f"{source} was made with zoo_configs/{owner.config}'s {env_id} entry: a run of the {owner.short} line, "
            f"not of the {line.short} line ({config}). Archive it with {owner.flag}."
        )
    entry = (result.get("settings") or {}).get("entry")
    if entry is None:
        raise LineError(
            f"{source} records no config entry (settings.entry): it cannot be told apart from the other line's runs, "
            f"so it is not archived in the {line.short} line"
        )
    expected = line_entry(line, env_id)
    if expected is None:
        raise LineError(f"{source}: {config} (the {line.short} line) has no entry for {env_id}")
    diff = ", ".join(
        f"{key}: {entry.get(key)!r} in the run, {expected.get(key)!r} in the file"
        for key in sorted(entry.keys() | expected.keys())
        if entry.get(key) != expected.get(key)
    )
    raise LineError(
        f"{source} was made with neither line's config entry; it differs from {config}'s {env_id} entry "
        f"(the {line.short} line) in {diff}"
    )


def finished_runs(run_dirs: list[Path], line: Line = TIANSHOU_LINE) -> list[dict[str, Any]]:
    """
    Every finished run (status ``ok``) under ``run_dirs`` (compare output folders), each checked to belong in
    ``line``'s archive (:func:`check_line`).

    :param run_dirs: Compare output folders
    :param line: The line whose archive the runs are going to
    :raises LineError: at the first run that does not belong there, naming its ``result.json``
    """
    results = []
    for run_dir in run_dirs:
        for result in load_results(run_dir):
            if result.get("status") != "ok":
                continue
            source = run_dir / "runs" / str(result["algo"]) / str(result["env"]) / f"seed_{result['seed']}" / "result.json"
            check_line(result, line, source)
            results.append(result)
    return results


def archive(run_dirs: list[Path], archive_dir: Path, line: Line = TIANSHOU_LINE) -> int:
    """
    Copy every finished run's ``result.json`` under ``run_dirs`` (compare output folders) into ``archive_dir``, as
    ``<algo>-<env>-seed<k>.json``, and each folder's ``learning_curves.png`` beside ``archive_dir``, as
    ``learning_curves_<folder name>.png``. Nothing is copied unless every run belongs in ``line``'s archive.

    :param run_dirs: Compare output folders
    :param archive_dir: The line's archive folder
    :param line: The line of the archive: :data:`TIANSHOU_LINE` (also PPO and vanilla REINFORCE) or :data:`VALUE_LINE`
    :return: How many results were new or changed
    :raises LineError: if a run does not belong in the line's archive (:func:`check_line`), naming its ``result.json``
    """
    results = finished_runs(run_dirs, line)
    archive_dir.mkdir(parents=True, exist_ok=True)
    copied = 0
    for result in results:
        target = archive_dir / f"{result['algo']}-{result['env']}-seed{result['seed']}.json"
        text = json.dumps(result, indent=1, sort_keys=True)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            copied += 1
    for run_dir in run_dirs:
        curves = run_dir / "learning_curves.png"
        if curves.exists():
            shutil.copyfile(curves, archive_dir.parent / f"learning_curves_{run_dir.name}.png")
    return copied


def load_archive(archive_dir: Path, line: Line | None = None) -> list[dict[str, Any]]:
    """
    Every archived result (none if the folder does not exist).

    :param archive_dir: An archive folder
    :param line: The line of the archive, to check every result against (:func:`check_line`); None: no check
    :raises LineError: naming the first archived file that does not belong to ``line``
    """
    results = []
    for path in sorted(archive_dir.glob("*.json")):
        result = json.loads(path.read_text())
        if line is not None:
            check_line(result, line, path)
        results.append(result)
    return results


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


def _line_cell(values: list[float], planned: int) -> str:
    """Mean +- std over a line's seeds; ``not measured`` without any, the seed count against ``planned`` if fewer."""
    if not values:
        return "not measured"
    if len(values) >= planned:
        return _mean_std(values)
    spread = f"{values[0]:.1f}" if len(values) == 1 else f"{np.mean(values):.1f} +- {np.std(values):.1f}"
    return f"{spread} ({len(values)} of {planned} seeds)"


def _better(finals: dict[Line, list[float]], planned: int) -> tuple[str, float | None]:
    """Which line's final models are better on average (a cell), and that mean (None when a line is not measured)."""
    missing = [line.short for line in LINES if not finals[line]]
    if missing:
        return f"not decided: {' and '.join(missing)} not measured", None
    means = {line: float(np.mean(finals[line])) for line in LINES}
    top = max(means.values())
    winners = [line.short for line in LINES if means[line] == top]
    cell = "tie" if len(winners) > 1 else winners[0]
    if any(len(finals[line]) < planned for line in LINES):
        cell += " (provisional: partial seeds)"
    return cell, top


def _at_least(value: float | None, target: float | None, missing: str) -> str:
    if value is None:
        return "not decided"
    if target is None:
        return missing
    return "yes" if value >= target else "no"


def lines_table(
    results: list[dict[str, Any]],
    value_results: list[dict[str, Any]],
    baseline: str = "ppo",
    envs: tuple[str, ...] = ENVS,
) -> str:
    """
    The markdown table of both lines (:data:`LINES`): published figures; each line's best evaluation and final model
    (mean +- std over seeds, ``not measured`` without runs, ``k of n seeds`` when fewer than :data:`PLANNED_SEEDS`);
    which line's final models are better on average, and whether that mean is at or above Spinning Up's VPG and
    Tianshou's 3M figure; the baseline's figures; steps/s and wall time.

    :param results: The first line's archive (:data:`TIANSHOU_LINE`, with the baseline's runs; :func:`load_archive`)
    :param value_results: The value line's archive (:data:`VALUE_LINE`)
    :param baseline: The other algo in ``results``
    :param envs: The rows, among :data:`ENVS`
    """
    runs = {TIANSHOU_LINE: results, VALUE_LINE: value_results}
    header = ["env", "Tianshou REINFORCE 3M (best)", "Spinning Up VPG 3M"]
    header += [f"{line.label}: {what}" for line in LINES for what in ("best eval", "final model")]
    header += ["better final model", "better final >= VPG", "better final >= Tianshou 3M"]
    header += [f"{baseline}: final model", f"{baseline}: best eval"]
    header += [f"steps/s: {line.short}" for line in LINES] + [f"steps/s: {baseline}"]
    header += [f"wall time (min): {line.short}" for line in LINES]
    align = ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---", "---"] + ["---:"] * 7
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for env_id in envs:
        published, planned = PUBLISHED[env_id], PLANNED_SEEDS[env_id]
        mean, std = published.tianshou_3m
        vpg = published.spinning_up_vpg
        cells = [env_id, f"{mean:.1f} +- {std:.1f}", "-" if vpg is None else f"~{vpg:.0f}"]
        finals = {}
        for line in LINES:
            best = _column(runs[line], line.algo, env_id, "best_eval")
            finals[line] = _column(runs[line], line.algo, env_id, "final_model")
            beats = " **>=**" if best and np.mean(best) >= mean else ""
            cells += [_line_cell(best, planned) + beats, _line_cell(finals[line], planned)]
        better, top = _better(finals, planned)
        cells += [better, _at_least(top, vpg, "no VPG figure"), _at_least(top, mean, "-")]
        cells += [
            _mean_std(_column(results, baseline, env_id, "final_model")),
            _mean_std(_column(results, baseline, env_id, "best_eval")),
        ]
        for line in LINES:
            fps = _column(runs[line], line.algo, env_id, "fps")
            cells.append(_median(fps, ",.0f") if fps else "not measured")
        cells.append(_median(_column(results, baseline, env_id, "fps"), ",.0f"))
        for line in LINES:
            wall = [w / 60 for w in _column(runs[line], line.algo, env_id, "wall_time_s")]
            cells.append(_median(wall, ".1f") if wall else "not measured")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _closeness_cells(env_id: str, name: str, seeds: str, runs: list[dict[str, Any]]) -> list[str]:
    """One row of :func:`final_vs_best_table`; ``not measured`` without runs."""
    if not runs:
        return [env_id, name, seeds, "not measured", "not measured", "-", "-", "n/a"]
    row = final_vs_best(runs)
    missing = row["runs"] - row["n_final"]
    final = "missing" if row["final"] is None else f"{row['final']:.1f}"
    within = "n/a" if "within" not in row else ("yes" if row["within"] else "**no**")
    return [
        env_id,
        name,
        seeds,
        "-" if row["best"] is None else f"{row['best']:.1f}",
        final + (f" ({missing} missing)" if missing and row["final"] is not None else ""),
        f"{row['gap']:.1f}" if "gap" in row else "-",
        f"{row['tolerance']:.1f}" if "tolerance" in row else "-",
        within,
    ]


def final_vs_best_table(
    results: list[dict[str, Any]],
    baseline: str = "ppo",
    envs: tuple[str, ...] = ENVS,
    value_results: list[dict[str, Any]] | None = None,
) -> str:
    """
    The markdown table of the final models against the best evaluations: per env and algo, the medians over seeds and
    whether the final model is within ``max(CLOSE_FRACTION * |median best|, CLOSE_POINTS)`` of the best
    (:func:`~sb3_reinforce.experiments.compare.report.final_vs_best`).

    :param results: Finished runs (:func:`load_archive`)
    :param baseline: The baseline algo, listed after this package's algos
    :param envs: The envs, among :data:`ENVS`
    :param value_results: The value line's archive: then both lines have a row for every env, labelled
        (:attr:`Line.label`), ``not measured`` without runs and ``k of n`` seeds when fewer than :data:`PLANNED_SEEDS`;
        None: one row per algo in ``results`` that has runs of the env
    """
    lines = [
        "| env | algo | seeds | best eval: median | final model: median | final - best | tolerance "
        f"| within {CLOSE_FRACTION:.0%} or {CLOSE_POINTS:.0f} points |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    algos = {r["algo"] for r in results} | (set() if value_results is None else {TIANSHOU_LINE.algo})
    for env_id in envs:
        for algo in sorted(algos, key=lambda a: (a == baseline, a)):
            runs = [r for r in results if r["algo"] == algo and r["env"] == env_id]
            if value_results is not None and algo == TIANSHOU_LINE.algo:
                planned = PLANNED_SEEDS[env_id]
                for line, line_runs in ((TIANSHOU_LINE, runs), (VALUE_LINE, value_results)):
                    line_runs = [r for r in line_runs if r["algo"] == line.algo and r["env"] == env_id]
                    seeds = str(len(line_runs)) if len(line_runs) >= planned else f"{len(line_runs)} of {planned}"
                    lines.append("| " + " | ".join(_closeness_cells(env_id, line.label, seeds, line_runs)) + " |")
            elif runs:
                lines.append("| " + " | ".join(_closeness_cells(env_id, algo, str(len(runs)), runs)) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sb3_reinforce.experiments.mujoco", description="Build the MuJoCo table of docs/mujoco.md."
    )
    parser.add_argument(
        "--runs",
        nargs="*",
        type=Path,
        default=[],
        help="compare output folders to archive first in --archive: the first line's runs "
        f"(reinforce_vr with zoo_configs/{TIANSHOU_LINE.config}), PPO's, vanilla REINFORCE's",
    )
    parser.add_argument(
        "--value-runs",
        nargs="*",
        type=Path,
        default=[],
        help="compare output folders of the value line to archive first in --value-archive "
        f"(reinforce_vr with zoo_configs/{VALUE_LINE.config}, nothing else)",
    )
    parser.add_argument(
        "--archive", type=Path, default=Path("docs/mujoco/runs"), help="folder of archived results (default: %(default)s)"
    )
    parser.add_argument(
        "--value-archive",
        type=Path,
        default=Path("docs/mujoco/runs_value"),
        help="folder of the value line's archived results (default: %(default)s)",
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
    parser.add_argument(
        "--algo",
        default="reinforce_vr",
        help="this package's algo in the runs (default: %(default)s, the table of both lines; another, such as the "
        "vanilla reinforce, gets a table of its own runs in --archive)",
    )
    parser.add_argument("--baseline", default="ppo", help="the baseline algo in the runs (default: %(default)s)")
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=ENVS, help="the rows (default: all nine)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    missing = [
        f"{flag}: no such folder: {d}"
        for flag, dirs in (("--runs", args.runs), ("--value-runs", args.value_runs))
        for d in dirs
        if not d.is_dir()
    ]
    if missing:
        print("\n".join(missing), file=sys.stderr)
        return 2
    if args.archive.resolve() == args.value_archive.resolve():
        print(f"--archive and --value-archive are the same folder ({args.archive}): each line needs its own", file=sys.stderr)
        return 2
    try:
        # Every run to archive and every archived result is checked against its line before anything is copied
        finished_runs(args.runs, TIANSHOU_LINE)
        finished_runs(args.value_runs, VALUE_LINE)
        load_archive(args.archive, TIANSHOU_LINE)
        load_archive(args.value_archive, VALUE_LINE)
    except LineError as e:
        print(f"Nothing archived: {e}", file=sys.stderr)
        return 2
    copied = archive(args.runs, args.archive, TIANSHOU_LINE) if args.runs else 0
    copied_value = archive(args.value_runs, args.value_archive, VALUE_LINE) if args.value_runs else 0
    results, value_results = load_archive(args.archive, TIANSHOU_LINE), load_archive(args.value_archive, VALUE_LINE)
    if args.algo == TIANSHOU_LINE.algo:
        markdown = lines_table(results, value_results, args.baseline, tuple(args.envs))
    else:
        markdown = table(results, args.algo, args.baseline, tuple(args.envs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown)
    closeness = final_vs_best_table(results, args.baseline, value_results=value_results)
    closeness_path = args.final_vs_best or args.out.parent / "table_final_vs_best.md"
    closeness_path.parent.mkdir(parents=True, exist_ok=True)
    closeness_path.write_text(closeness)
    print(
        f"{copied} results archived in {args.archive}, {copied_value} in {args.value_archive}; tables written to "
        f"{args.out} and {closeness_path}\n\n{markdown}\n{closeness}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
