"""Small envs for the tests: non-constant rewards, episodes of different lengths, exactly known MDPs."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ToyEnv(gym.Env):
    """
    Continuous observations, rewards that depend on state, action and time, and random episode lengths
    (termination with probability 0.15 per step, truncation after ``max_steps``).

    :param action_space: Discrete(3) by default; any Box is accepted (reward uses the action's first entry)
    """

    def __init__(self, action_space: spaces.Space | None = None, max_steps: int = 12):
        self.observation_space = spaces.Box(-5.0, 5.0, shape=(3,), dtype=np.float32)
        self.action_space = action_space if action_space is not None else spaces.Discrete(3)
        self.max_steps = max_steps

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.t = 0
        self.state = self.np_random.uniform(-1, 1, size=3).astype(np.float32)
        return self.state.copy(), {}

    def step(self, action):
        a = float(np.asarray(action).reshape(-1)[0])
        reward = float(self.state[0] * (a - 1.0) + 0.3 * self.state[1] - 0.1 * self.t + 0.5)
        self.t += 1
        self.state = np.clip(self.state + self.np_random.normal(0, 0.3, size=3), -5, 5).astype(np.float32)
        terminated = bool(self.np_random.random() < 0.15)
        truncated = self.t >= self.max_steps
        return self.state.copy(), reward, terminated, truncated, {}


class TinyMDP(gym.Env):
    """
    A finite episodic MDP whose expected return eta(theta) can be enumerated exactly.

    States 0 (start), 1, 2 (one-hot observations), actions {0, 1}:
    - s0: a=0 -> r=1, end; a=1 -> r=-0.5, then s1 with probability 0.7, s2 with probability 0.3
    - s1: a=0 -> r=2, end; a=1 -> r=-1, then s2
    - s2: a=0 -> r=0.5, end; a=1 -> r=-2, end
    Episodes last 1, 2 or 3 steps. ``reward_offset`` is added to every reward (returns far from 0 are where
    baselines pay off).
    """

    REWARD: ClassVar[dict[tuple[int, int], float]] = {
        (0, 0): 1.0,
        (0, 1): -0.5,
        (1, 0): 2.0,
        (1, 1): -1.0,
        (2, 0): 0.5,
        (2, 1): -2.0,
    }
    # next-state distribution of (s, a); empty = the episode ends
    NEXT: ClassVar[dict[tuple[int, int], dict[int, float]]] = {
        (0, 0): {},
        (0, 1): {1: 0.7, 2: 0.3},
        (1, 0): {},
        (1, 1): {2: 1.0},
        (2, 0): {},
        (2, 1): {},
    }

    def __init__(self, reward_offset: float = 0.0):
        self.observation_space = spaces.Discrete(3)
        self.action_space = spaces.Discrete(2)
        self.reward_offset = reward_offset

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.s = 0
        return self.s, {}

    def step(self, action):
        a = int(action)
        reward = self.REWARD[(self.s, a)] + self.reward_offset
        nxt = self.NEXT[(self.s, a)]
        if not nxt:
            return self.s, reward, True, False, {}
        states, probs = zip(*nxt.items())
        self.s = int(self.np_random.choice(states, p=probs))
        return self.s, reward, False, False, {}

    @classmethod
    def expected_return(cls, probs: Any, gamma: float = 1.0, reward_offset: float = 0.0) -> Any:
        """eta = V(s0), V(s) = sum_a pi(a|s) [r(s,a) + gamma sum_s' P(s'|s,a) V(s')]; ``probs[s][a]`` may be a tensor."""
        values: dict[int, Any] = {}
        for s in (2, 1, 0):  # each state only leads to higher-numbered ones
            values[s] = sum(
                probs[s][a]
                * (cls.REWARD[(s, a)] + reward_offset + gamma * sum(p * values[n] for n, p in cls.NEXT[(s, a)].items()))
                for a in (0, 1)
            )
        return values[0]


class Recorder(gym.Wrapper):
    """Records every episode as the env saw it: observations, actions received, rewards."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.episodes: list[dict[str, list]] = []

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.episodes.append({"obs": [obs], "actions": [], "rewards": [], "done": False})
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        episode = self.episodes[-1]
        episode["actions"].append(np.array(action, copy=True))
        episode["rewards"].append(reward)
        episode["done"] = terminated or truncated
        episode["obs"].append(obs)
        return obs, reward, terminated, truncated, info

    def finished_episodes(self) -> list[dict[str, list]]:
        return [ep for ep in self.episodes if ep["done"]]


class ExplodingEnv(ToyEnv):
    """Raises from ``step`` after ``explode_at`` steps, or returns a chosen bad reward from then on."""

    def __init__(self, explode_at: int = 5, bad_reward: float | None = None):
        super().__init__()
        self.explode_at, self.bad_reward, self.steps = explode_at, bad_reward, 0

    def step(self, action):
        self.steps += 1
        obs, reward, terminated, truncated, info = super().step(action)
        if self.steps >= self.explode_at:
            if self.bad_reward is None:
                raise RuntimeError("env exploded")
            reward = self.bad_reward
        return obs, reward, terminated, truncated, info


class ActionReward(gym.Wrapper):
    """Replaces the env's reward by the sum of the action's entries (for envs whose own reward is constant)."""

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        return obs, float(np.sum(action)), terminated, truncated, info


def recorded_envs(make_env: Any, n_envs: int) -> tuple[Any, list[Recorder]]:
    """``n_envs`` envs made by ``make_env()``, each wrapped in a :class:`Recorder`, in a ``DummyVecEnv``."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    recorders = [Recorder(make_env()) for _ in range(n_envs)]
    return DummyVecEnv([lambda r=r: r for r in recorders]), recorders


def selected_episodes(recorders: list[Recorder], n_episodes: int) -> list[dict[str, list]]:
    """The length-independent rule: env e contributes its first n // n_envs (+1 for e < n % n_envs) episodes."""
    n_envs = len(recorders)
    selected = []
    for e, recorder in enumerate(recorders):
        quota = n_episodes // n_envs + (1 if e < n_episodes % n_envs else 0)
        episodes = recorder.finished_episodes()[:quota]
        assert len(episodes) == quota
        selected += episodes
    return selected


class InvalidActionError(RuntimeError):
    """An action outside the env's mask was played."""


class RaiseOnInvalidAction(gym.Wrapper):
    """
    Raises :class:`InvalidActionError` when an action outside the valid ones is played: the valid actions are the
    env's ``action_masks()`` if it has the method, else ``info["action_mask"]`` of the last ``reset``/``step``
    (gymnasium's Taxi reports them there). Whatever plays through it unmasked fails at once; whatever plays with the
    masks never does.
    """

    def _read(self, info):
        own = getattr(self.env.unwrapped, "action_masks", None)
        self.mask = np.asarray(own() if own is not None else info["action_mask"], dtype=bool)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._read(info)
        return obs, info

    def step(self, action):
        if not self.mask[int(action)]:
            raise InvalidActionError(f"action {int(action)} played where only {np.flatnonzero(self.mask).tolist()} are valid")
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._read(info)
        return obs, reward, terminated, truncated, info

    def action_masks(self):
        return self.mask.copy()
