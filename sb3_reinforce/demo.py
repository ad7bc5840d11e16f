"""``make demo``: train vanilla REINFORCE on CartPole-v1 and print the evaluated return."""

from __future__ import annotations

import argparse
import time

import torch as th
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_reinforce import REINFORCE


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sb3_reinforce.demo",
        description="Train vanilla REINFORCE on CartPole-v1 (what `make demo` runs) and print the evaluated return.",
    )
    parser.add_argument("--env", default="CartPole-v1", help="Gymnasium env id (default: %(default)s)")
    parser.add_argument("-n", "--n-timesteps", type=int, default=100_000, help="env steps to train (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    th.set_num_threads(1)

    model = REINFORCE("MlpPolicy", args.env, seed=args.seed)  # default hyperparameters: n_episodes=8, learning_rate=3e-3
    start = time.perf_counter()
    model.learn(args.n_timesteps)
    elapsed = time.perf_counter() - start
    mean, std = evaluate_policy(model, model.get_env(), n_eval_episodes=20)  # type: ignore[arg-type]
    print(f"REINFORCE on {args.env}: {model.num_timesteps} env steps in {elapsed:.0f} s")
    print(f"Evaluated return over 20 episodes: {mean:.1f} +/- {std:.1f}")


if __name__ == "__main__":
    main()
