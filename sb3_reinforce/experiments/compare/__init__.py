"""
Side-by-side comparison of REINFORCE with other algorithms, one command for the whole grid::

    python -m sb3_reinforce.compare --algos reinforce a2c ppo --envs CartPole-v1 Acrobot-v1 --seeds 5 --jobs 2

Every (algo, env, seed) run trains with its rl-zoo config on the env's common step budget and is evaluated on a
separate env at regular intervals; its final model, saved in rl-zoo's layout, is then evaluated over
``--final-eval-episodes`` episodes with deterministic and with sampled actions. ``--out`` receives ``results.csv``,
``summary.md`` and plots; ``--wandb-project`` logs every run to wandb. It is also the multi-seed measurement of a
config entry::

    python -m sb3_reinforce.compare --algos reinforce --envs CartPole-v1 --seeds 5 --jobs 2 \\
        --out logs/measure/reinforce-CartPole

Finished runs are kept: the same command again trains only what is missing. ``--storage`` turns the
process into one worker of an Optuna grid study shared by many machines. Details: ``docs/compare.md``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from sb3_reinforce.experiments.compare.grid import (
    DEFAULT_BUDGETS,
    GRACE_PERIOD,
    HEARTBEAT_INTERVAL,
    MAX_RETRY,
    GridError,
    build_grid,
)

__all__ = ["main", "parse_args"]


def _steps(value: str) -> int:
    try:
        return int(float(value))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a number of steps (e.g. 200000 or 2e5), got {value!r}") from e


def parse_args(argv: list[str]) -> argparse.Namespace:
    """
    :param argv: Command line arguments (without the program name)
    """
    parser = argparse.ArgumentParser(
        prog="python -m sb3_reinforce.compare",
        description="Compare algorithms (REINFORCE, rl-zoo's built-ins) over envs and seeds, with rl-zoo configs.",
    )
    parser.add_argument(
        "--algos",
        nargs="+",
        default=["reinforce", "a2c", "ppo"],
        help="this package's (reinforce, reinforce_vr, reinforce_lstm, reinforce_mask, reinforce_mask_lstm, ppo_mask) "
        "or any rl-zoo algo (default: reinforce a2c ppo)",
    )
    parser.add_argument(
        "--envs", nargs="+", default=["CartPole-v1", "Acrobot-v1"], help="Gymnasium env ids (default: CartPole-v1 Acrobot-v1)"
    )
    parser.add_argument(
        "--seeds", type=int, default=5, help="seeds per (algo, env): seeds K .. K+N-1, K from --first-seed (default: 5)"
    )
    parser.add_argument(
        "--first-seed", type=int, default=0, help="first seed K, e.g. 10 for seeds held out from tuning (default: 0)"
    )
    parser.add_argument(
        "-n",
        "--n-timesteps",
        type=_steps,
        default=None,
        help=f"step budget for every env (default per env: {DEFAULT_BUDGETS}, other envs: the largest config budget; "
        "a single algo: its config entry's own budget)",
    )
    parser.add_argument(
        "--own-budgets",
        action="store_true",
        help="train each (algo, env) for its own config entry's n_timesteps, as rl-zoo's train does "
        "(default: one budget per env, shared by the algos; not with --n-timesteps)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("compare"), help="output folder: runs, results, report (default: ./compare)"
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=1, help="worker processes: runs trained at the same time (default: 1)"
    )
    parser.add_argument("--name", default=None, help="comparison name, the wandb group (default: the --out folder name)")
    parser.add_argument("--n-evals", type=int, default=20, help="evaluations per run, every budget / N steps (default: 20)")
    parser.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation (default: 10)")
    parser.add_argument(
        "--n-eval-envs", type=int, default=5, help="envs of the evaluation VecEnv, also of the final evaluation (default: 5)"
    )
    parser.add_argument(
        "--final-eval-episodes",
        type=int,
        default=100,
        help="episodes of the final model's evaluation, once with deterministic and once with sampled actions (default: 100)",
    )
    parser.add_argument(
        "--params",
        nargs="+",
        default=[],
        metavar="ALGO:KEY:VALUE",
        help="override config entries (value read as rl-zoo's -params)",
    )
    parser.add_argument(
        "--conf-file",
        nargs="+",
        default=[],
        metavar="ALGO:FILE",
        help="rl-zoo YAML config file of an algo (default: zoo_configs/ for REINFORCE, rl-zoo's hyperparams/ otherwise)",
    )
    parser.add_argument("--wandb-project", default=None, help="log every run to this wandb project (default: no wandb)")
    parser.add_argument("--no-wandb", action="store_true", help="do not log to wandb, even with --wandb-project")
    parser.add_argument(
        "--storage",
        default=None,
        help="Optuna storage shared by grid workers (*.log journal file or DB URL; default: no study)",
    )
    parser.add_argument("--study-name", default=None, help="Optuna study name of the grid (default: the comparison name)")
    parser.add_argument(
        "--heartbeat-interval",
        type=int,
        default=HEARTBEAT_INTERVAL,
        help=f"with --storage: seconds between a training worker's heartbeats (default: {HEARTBEAT_INTERVAL})",
    )
    parser.add_argument(
        "--grace-period",
        type=int,
        default=GRACE_PERIOD,
        help=f"with --storage: seconds without a heartbeat after which a worker counts as lost and its cell is queued "
        f"again (default: {GRACE_PERIOD})",
    )
    parser.add_argument(
        "--max-retry",
        type=int,
        default=MAX_RETRY,
        help=f"with --storage: times a lost worker's cell is queued again (default: {MAX_RETRY})",
    )
    parser.add_argument("--report-only", action="store_true", help="rebuild results.csv, summary.md and plots, train nothing")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    for flag in ("heartbeat_interval", "grace_period"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1 s, got {getattr(args, flag)}")
    if args.grace_period <= args.heartbeat_interval:
        parser.error(
            f"--grace-period ({args.grace_period} s) must be longer than --heartbeat-interval ({args.heartbeat_interval} s)"
        )
    if args.max_retry < 0:
        parser.error(f"--max-retry must be >= 0, got {args.max_retry}")
    return args


def main(argv: list[str] | None = None) -> None:
    """
    ``python -m sb3_reinforce.compare`` / ``sb3-reinforce compare``.

    Exit status: 0 when every run of the grid is ok, 1 when some failed (they are listed in ``summary.md``) or, for a
    grid worker (``--storage``), when cells are left without a result that no worker can still train (listed too),
    2 for bad input (nothing trained), 130 when interrupted (finished runs are kept).

    :param argv: Command line arguments (without the program name); default ``sys.argv[1:]``
    """
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    out = args.out.resolve()
    name = args.name or out.name

    from sb3_reinforce.experiments.compare import report, runner

    if args.report_only:
        if not report.load_results(out) and not (out / "results.csv").is_file():
            print(f"error: no finished runs in {out}/runs and no {out}/results.csv", file=sys.stderr)
            raise SystemExit(2)
        report.build_report(out)
        return

    try:
        if args.storage:
            from sb3_reinforce.zoo.storage import StorageError, check_storage_url

            try:
                check_storage_url(args.storage)
            except StorageError as e:
                print(f"error: {e}", file=sys.stderr)
                raise SystemExit(1) from e
        specs = build_grid(
            args.algos,
            args.envs,
            args.seeds,
            out,
            name,
            n_timesteps=args.n_timesteps,
            n_evals=args.n_evals,
            n_eval_episodes=args.eval_episodes,
            n_eval_envs=args.n_eval_envs,
            params=args.params,
            wandb_project=None if args.no_wandb else args.wandb_project,
            final_eval_episodes=args.final_eval_episodes,
            conf_files=args.conf_file,
            own_budgets=args.own_budgets,
            first_seed=args.first_seed,
        )
    except GridError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from e

    budgets = {f"{s.algo}/{s.env}" if args.own_budgets else s.env: s.n_timesteps for s in specs}
    report.write_meta(
        out,
        {
            "name": name,
            "algos": args.algos,
            "envs": args.envs,
            "seeds": args.seeds,
            "first_seed": args.first_seed,
            "budgets": budgets,
            "n_evals": args.n_evals,
            "n_eval_episodes": args.eval_episodes,
            "final_eval_episodes": args.final_eval_episodes,
            "command": "python -m sb3_reinforce.compare " + shlex.join(argv),
        },
    )
    if specs[0].wandb_project is not None:
        print(f"wandb: project {specs[0].wandb_project!r}, group {name!r}, mode {runner.wandb_mode()}")
    try:
        if args.storage:
            from sb3_reinforce.experiments.compare import cluster

            cluster.run_grid_worker(
                specs,
                args.storage,
                args.study_name or name,
                jobs=args.jobs,
                heartbeat_interval=args.heartbeat_interval,
                grace_period=args.grace_period,
                max_retry=args.max_retry,
            )
        else:
            runner.run_local(specs, jobs=args.jobs)
    except KeyboardInterrupt:
        raise SystemExit(runner.INTERRUPTED) from None
    report.build_report(out)
    results = [report.read_result(s.result_path) for s in specs]
    if any(r is None or r.get("status") != "ok" for r in results):
        raise SystemExit(1)
