"""
What a config entry reaches: train it with rl-zoo for several seeds and read the training monitors.

    python -m sb3_reinforce.zoo.measure --algo reinforce --env CartPole-v1 --seeds 5 --threshold 475 --jobs 2

Each seed runs ``python -m sb3_reinforce.train --algo ALGO --env ENV --seed K`` (the shipped config; flags after
``--`` go to the train script, e.g. ``-- -conf my.yml -n 500000``). The figures come from the logged
``rollout/ep_rew_mean``, the mean return of the last 100 training episodes, against every env step taken: its final
and best value and the first step at which it reached the threshold. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd


def read_training_curve(tb_dir: Path) -> pd.DataFrame:
    """
    ``rollout/ep_rew_mean`` (the mean return of the last 100 training episodes) against ``num_timesteps`` (every env
    step taken, discarded ones included), from the run's tensorboard events.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = [EventAccumulator(str(path.parent)).Reload() for path in sorted(tb_dir.rglob("events.out.tfevents.*"))]
    points = [(e.step, e.value) for acc in events for e in acc.Scalars("rollout/ep_rew_mean")]
    return pd.DataFrame(sorted(points), columns=["timesteps", "mean_return"])


def summarize(curve: pd.DataFrame, threshold: float | None) -> dict[str, float | None]:
    """Final and best 100-episode mean return, and the first step at which it reached the threshold."""
    reached = None
    if threshold is not None and (curve["mean_return"] >= threshold).any():
        reached = float(curve["timesteps"][curve["mean_return"] >= threshold].iloc[0])
    return {"final": float(curve["mean_return"].iloc[-1]), "best": float(curve["mean_return"].max()),
            "steps_to_threshold": reached}  # fmt: skip


def train_seed(algo: str, env: str, seed: int, folder: Path, extra: list[str]) -> Path:
    """Train one seed through rl-zoo; return its tensorboard folder."""
    run_folder = folder / f"seed_{seed}"
    command = [sys.executable, "-m", "sb3_reinforce.train", "--algo", algo, "--env", env, "--seed", str(seed), "-f",
               str(run_folder), "-tb", str(run_folder / "tb"), "--eval-freq", "-1", "--num-threads", "1", *extra]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return run_folder / "tb"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", default="reinforce")
    parser.add_argument("--env", required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("-f", "--folder", default="logs/measure")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="more flags for the train script, after --")
    args = parser.parse_args(argv)
    extra = [a for a in args.extra if a != "--"]
    folder = Path(args.folder) / args.algo / args.env
    start = time.time()
    with ThreadPoolExecutor(args.jobs) as pool:
        run_dirs = list(pool.map(lambda seed: train_seed(args.algo, args.env, seed, folder, extra), range(args.seeds)))
    rows = [summarize(read_training_curve(run_dir), args.threshold) for run_dir in run_dirs]
    finals = np.array([row["final"] for row in rows])
    reached = [row["steps_to_threshold"] for row in rows if row["steps_to_threshold"] is not None]
    print(f"| seed | final 100-ep mean | best 100-ep mean | steps to {args.threshold} |")
    print("| --- | --- | --- | --- |")
    for seed, row in enumerate(rows):
        steps = f"{row['steps_to_threshold']:,.0f}" if row["steps_to_threshold"] is not None else "not reached"
        print(f"| {seed} | {row['final']:.1f} | {row['best']:.1f} | {steps} |")
    median_steps = f"{np.median(reached):,.0f}" if reached else "-"
    print(f"\n{args.algo} {args.env}: final 100-episode mean, median {np.median(finals):.1f} "
          f"(min {finals.min():.1f}, max {finals.max():.1f}); reached {args.threshold} on {len(reached)}/{len(rows)} seeds, "
          f"median steps {median_steps}; wall time {time.time() - start:.0f} s with {args.jobs} jobs")  # fmt: skip


if __name__ == "__main__":
    main()
