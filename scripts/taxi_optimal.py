"""
The best any policy can do on Taxi-v4: the optimal policy by value iteration on the env's own transition table, its
exact expected return, and its scores under the protocol ``python -m sb3_reinforce.compare`` evaluates final models
with (100 episodes on the same evaluation seeds, 5 envs):

    python scripts/taxi_optimal.py [--seeds 10 11 12 13 14] [--episodes 100]

The figures in zoo_configs/README.md (Taxi-v4) come from this script. gymnasium's reward threshold for Taxi (8) is
above the optimal policy's expected return, so a 100-episode mean reaches it only on lucky evaluation episodes.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_reinforce.experiments.compare.grid import FINAL_EVAL_SEED_OFFSET


def optimal_values(taxi: object, tol: float = 1e-10) -> np.ndarray:
    """V*(s) of every state: undiscounted value iteration on the env's transition table ``P[s][a]``."""
    table = taxi.P  # type: ignore[attr-defined]
    values = np.zeros(len(table))
    while True:
        new = np.array(
            [
                max(sum(p * (r + (0.0 if done else values[s2])) for p, s2, r, done in table[s][a]) for a in table[s])
                for s in range(len(table))
            ]
        )
        if np.abs(new - values).max() < tol:
            return new
        values = new


class OptimalPolicy:
    """The greedy policy of V* (SB3's ``PolicyPredictor``: what ``evaluate_policy`` calls)."""

    def __init__(self, taxi: object):
        values = optimal_values(taxi)
        table = taxi.P  # type: ignore[attr-defined]
        self.actions = np.array(
            [
                max(table[s], key=lambda a: sum(p * (r + (0.0 if d else values[s2])) for p, s2, r, d in table[s][a]))
                for s in range(len(table))
            ]
        )
        self.expected_return = float(np.dot(taxi.initial_state_distrib, values))  # type: ignore[attr-defined]

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return self.actions[np.asarray(observation).reshape(-1)], state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12, 13, 14], help="compare's run seeds")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--n-eval-envs", type=int, default=5)
    args = parser.parse_args()
    policy = OptimalPolicy(gym.make("Taxi-v4").unwrapped)
    print(f"Taxi-v4 optimal policy: expected return {policy.expected_return:.4f} (value iteration)")
    means = []
    for seed in args.seeds:
        env = make_vec_env("Taxi-v4", n_envs=args.n_eval_envs, seed=FINAL_EVAL_SEED_OFFSET + seed)
        returns, _ = evaluate_policy(policy, env, n_eval_episodes=args.episodes, return_episode_rewards=True)
        means.append(float(np.mean(returns)))
        print(f"seed {seed}: mean {means[-1]:.2f} over {args.episodes} episodes (std {np.std(returns):.2f})")
    print(f">= 8 on {sum(m >= 8 for m in means)}/{len(means)} seeds; median {np.median(means):.2f}")


if __name__ == "__main__":
    main()
