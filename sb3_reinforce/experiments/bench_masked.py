"""
Throughput with invalid-action masking: MaskableREINFORCE against sb3-contrib's MaskablePPO and against unmasked
REINFORCE, on the same env, envs and network (``python -m sb3_reinforce.bench --sections masked``).

The env (:class:`MaskedIdentityEnv`) is an identity task with ``N_ACTIONS`` actions, about half of them invalid at
every step, 100 steps per episode, whose mask is computed in ``step`` and returned by ``action_masks()``, as envs
with masks usually do (sb3-contrib's ``InvalidActionEnvDiscrete`` builds its mask with Python lists in
``action_masks()`` itself, which would time the env rather than the algorithm); ``N_ENVS`` copies in a
``DummyVecEnv``. Every model has SB3's 64-64 tanh network and its default hyperparameters. REINFORCE (unmasked) runs
on the same env and ignores its masks.
The candidates are interleaved and each measurement starts from a fresh model and env (see
:func:`sb3_reinforce.experiments.bench.measure_throughput`).
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv

from sb3_reinforce import REINFORCE, MaskableREINFORCE
from sb3_reinforce.experiments.bench import timed_learn

N_ACTIONS = 20
N_ENVS = 8
MASKED_NAMES = ("masked_reinforce", "masked_ppo", "reinforce")
DESCRIPTIONS = {
    "masked_reinforce": "MaskableREINFORCE, masks on, default arguments",
    "masked_ppo": "sb3-contrib MaskablePPO, masks on, default arguments",
    "reinforce": "REINFORCE (no masking), default arguments",
}
# (candidate, other, least ratio of the candidate's median steps/s to the other's)
MASKED_TARGETS = (("masked_reinforce", "masked_ppo", 2.0), ("masked_reinforce", "reinforce", 0.9))


class MaskedIdentityEnv(gym.Env):
    """
    Reward 1 for the action equal to the state (one-hot observation); each action other than the state is invalid
    with probability 1/2 at every step; 100 steps per episode.
    """

    observation_space = spaces.Discrete(N_ACTIONS)
    action_space = spaces.Discrete(N_ACTIONS)

    def _next_state(self) -> int:
        self.state = int(self.np_random.integers(N_ACTIONS))
        self.mask = self.np_random.random(N_ACTIONS) < 0.5
        self.mask[self.state] = True
        return self.state

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._next_state(), {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        reward = float(action == self.state)
        self.t += 1
        return self._next_state(), reward, False, self.t >= 100, {}

    def action_masks(self) -> np.ndarray:
        return self.mask


def make_masked_env(seed: int) -> VecEnv:
    """``N_ENVS`` copies of :class:`MaskedIdentityEnv`, seeded."""
    return make_vec_env(MaskedIdentityEnv, n_envs=N_ENVS, seed=seed)


def run_masked_reinforce(steps: int, seed: int) -> tuple[int, float]:
    return timed_learn(MaskableREINFORCE("MlpPolicy", make_masked_env(seed), seed=seed, device="cpu"), steps)


def run_masked_ppo(steps: int, seed: int) -> tuple[int, float]:
    return timed_learn(MaskablePPO("MlpPolicy", make_masked_env(seed), seed=seed, device="cpu"), steps)


def run_reinforce(steps: int, seed: int) -> tuple[int, float]:
    return timed_learn(REINFORCE("MlpPolicy", make_masked_env(seed), seed=seed, device="cpu"), steps)


RunFn = Callable[[int, int], tuple[int, float]]
RUNNERS: dict[str, RunFn] = {
    "masked_reinforce": run_masked_reinforce,
    "masked_ppo": run_masked_ppo,
    "reinforce": run_reinforce,
}
