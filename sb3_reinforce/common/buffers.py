"""
Storage for the whole episodes of one REINFORCE rollout.

Which episodes enter a batch must not depend on their length: stopping "when m episodes have finished,
across all envs" favours short episodes (they finish first) and biases the gradient. Here every env has a
fixed quota of episodes, decided before the rollout starts, and contributes exactly its first ``quota``
episodes after a reset. Steps an env takes after its quota is met are discarded (but counted by the
algorithm as env steps taken).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_action_dim

DEFAULT_MAX_ROLLOUT_STEPS = 1_000_000
DEFAULT_MAX_ROLLOUT_BYTES = 1 << 30  # 1 GiB


class RolloutTooLongError(RuntimeError):
    """A rollout needed more than ``max_rollout_steps`` env steps to finish its episodes."""


class EpisodeBatch(NamedTuple):
    """
    The episodes of one rollout, back to back in env-major order (all episodes of env 0, then env 1, ...).

    :param observations: Observation of each step (the one the action was chosen from)
    :param actions: Action sampled by the policy at each step (before any clipping to the action space)
    :param rewards: Reward received after each step's action
    :param lengths: Number of steps of each episode
    :param action_masks: The valid actions (True) at each step, as the policy was given them; None without masking
    """

    observations: np.ndarray | dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    lengths: np.ndarray
    action_masks: np.ndarray | None = None


def episode_quotas(n_episodes: int, n_envs: int) -> np.ndarray:
    """
    Number of episodes each env contributes to a batch of ``n_episodes``: env ``e`` contributes
    ``n_episodes // n_envs``, plus one for the first ``n_episodes % n_envs`` envs. The quotas sum to
    ``n_episodes`` and depend on nothing that happens during the rollout.

    :param n_episodes: Episodes per batch (m)
    :param n_envs: Number of vectorized envs
    :return: quota per env, shape (n_envs,)
    """
    quotas = np.full(n_envs, n_episodes // n_envs, dtype=np.int64)
    quotas[: n_episodes % n_envs] += 1
    return quotas


def action_mask_dim(action_space: spaces.Space) -> int:
    """
    Length of an action mask, as sb3-contrib counts it: ``n`` for ``Discrete``, ``sum(nvec)`` for
    ``MultiDiscrete``, ``2 n`` for ``MultiBinary`` (two choices per bit); 0 for other spaces.

    :param action_space: Action space of the env
    """
    if isinstance(action_space, spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, spaces.MultiDiscrete):
        return int(np.sum(action_space.nvec))
    if isinstance(action_space, spaces.MultiBinary):
        return 2 * int(np.prod(action_space.shape))
    return 0


def bytes_per_step(observation_space: spaces.Space, action_space: spaces.Space, masked: bool = False) -> int:
    """
    Bytes the buffer stores for one env step: observation, action, reward, two flags and the action mask.

    :param observation_space: Observation space of the env
    :param action_space: Action space of the env
    :param masked: Whether action masks are stored too
    """
    obs_spaces = observation_space.spaces.values() if isinstance(observation_space, spaces.Dict) else [observation_space]
    obs_bytes = sum(int(np.prod(space.shape or (1,))) * np.dtype(space.dtype).itemsize for space in obs_spaces)
    action_bytes = int(np.prod(action_space.shape or (1,))) * 8
    return obs_bytes + action_bytes + 4 + 2 + (action_mask_dim(action_space) if masked else 0)


def default_max_rollout_steps(observation_space: spaces.Space, action_space: spaces.Space, masked: bool = False) -> int:
    """
    Default cap on the env steps of one rollout: as many as fit in 1 GiB of storage, at most 1,000,000.

    :param observation_space: Observation space of the env
    :param action_space: Action space of the env
    :param masked: Whether action masks are stored too
    """
    per_step = bytes_per_step(observation_space, action_space, masked)
    return max(1, min(DEFAULT_MAX_ROLLOUT_STEPS, DEFAULT_MAX_ROLLOUT_BYTES // per_step))


class EpisodeBuffer:
    """
    Preallocated per-env arrays, filled one vectorized step at a time (time-major, like SB3's rollout
    buffers) and grown by doubling up to ``max_rollout_steps`` env steps. The arrays are kept between
    rollouts, so a run allocates only while its longest rollout grows.

    :param observation_space: Observation space of the env
    :param action_space: Action space of the env
    :param n_envs: Number of vectorized envs
    :param n_episodes: Complete episodes per rollout, counted across envs
    :param max_rollout_steps: Most env steps (all envs together) one rollout may take
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        n_envs: int,
        n_episodes: int,
        max_rollout_steps: int,
    ):
        self.observation_space = observation_space
        self.action_space = action_space
        self.n_envs = n_envs
        self.n_episodes = n_episodes
        self.max_rollout_steps = max_rollout_steps
        self.max_rows = max(1, max_rollout_steps // n_envs)
        self.quotas = episode_quotas(n_episodes, n_envs)
        self.capacity = 0
        self.observations: np.ndarray | dict[str, np.ndarray] = {}
        self.actions = self.rewards = self.dones = self.keep = np.empty(0)
        self.action_masks: np.ndarray | None = None  # allocated with the first masked step
        self._grow(min(self.max_rows, 256))
        self.reset()

    def reset(self) -> None:
        """Start a new rollout: every env must be at the start of an episode."""
        self.pos = 0
        self.episodes_done = np.zeros(self.n_envs, dtype=np.int64)
        self.full = False
        self.masked = False  # whether this rollout's steps came with action masks

    @property
    def steps_kept(self) -> int:
        """Steps of the current rollout that belong to a selected episode."""
        return int(self.keep[: self.pos].sum())

    def _grow(self, rows: int) -> None:
        def grown(old: np.ndarray | None, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
            new = np.empty((rows, self.n_envs, *shape), dtype=dtype)
            if old is not None and self.capacity > 0:  # keep what this rollout stored so far
                new[: self.capacity] = old[: self.capacity]
            return new

        if isinstance(self.observation_space, spaces.Dict):
            old_obs = self.observations if isinstance(self.observations, dict) else {}
            self.observations = {
                key: grown(old_obs.get(key), space.shape, space.dtype)  # type: ignore[arg-type]
                for key, space in self.observation_space.spaces.items()
            }
        else:
            old = self.observations if isinstance(self.observations, np.ndarray) else None
            self.observations = grown(old, self.observation_space.shape, self.observation_space.dtype)  # type: ignore[arg-type]
        discrete = isinstance(self.action_space, (spaces.Discrete, spaces.MultiDiscrete))
        # Box actions are stored flat, as the Gaussian's log-probability takes them (SB3's buffers do the same)
        action_shape = (
            (get_action_dim(self.action_space),) if isinstance(self.action_space, spaces.Box) else self.action_space.shape
        )
        self.actions = grown(self.actions, action_shape or (), np.int64 if discrete else np.float32)
        self.rewards = grown(self.rewards, (), np.float32)
        self.dones = grown(self.dones, (), bool)
        self.keep = grown(self.keep, (), bool)
        if self.action_masks is not None:
            self.action_masks = grown(self.action_masks, self.action_masks.shape[2:], bool)
        self.capacity = rows

    def add(
        self,
        obs: np.ndarray | dict[str, np.ndarray],
        actions: np.ndarray,
        rewards: np.ndarray,
        dones: np.ndarray,
        action_masks: np.ndarray | None = None,
    ) -> None:
        """
        Store one vectorized step.

        :param obs: Observations the actions were chosen from, shape ``(n_envs, *obs_shape)``
        :param actions: Actions as sampled by the policy (before clipping), shape ``(n_envs, *action_shape)``
        :param rewards: Rewards returned by ``env.step``, shape (n_envs,)
        :param dones: Episode ends returned by ``env.step`` (termination or truncation), shape (n_envs,)
        :param action_masks: The valid actions (True) the policy was given, shape ``(n_envs, mask_dim)``; None
            without masking
        :raises ValueError: if a reward is NaN or infinite
        :raises RolloutTooLongError: if the rollout exceeds ``max_rollout_steps``
        """
        if not np.all(np.isfinite(rewards)):
            bad = np.flatnonzero(~np.isfinite(rewards)).tolist()
            raise ValueError(f"The env returned a non-finite reward {rewards[bad].tolist()} (env index {bad}).")
        if self.pos == self.capacity:
            self._grow(min(self.max_rows, 2 * self.capacity))
        pos = self.pos
        if isinstance(self.observations, dict):
            assert isinstance(obs, dict)
            for key, value in obs.items():
                self.observations[key][pos] = value
        else:
            self.observations[pos] = obs
        self.actions[pos] = actions.reshape(self.actions.shape[1:])
        self.rewards[pos] = rewards
        self.dones[pos] = dones
        if action_masks is not None:
            masks = np.asarray(action_masks, dtype=bool).reshape(self.n_envs, -1)
            if self.action_masks is None or self.action_masks.shape[2] != masks.shape[1]:
                self.action_masks = np.ones((self.capacity, self.n_envs, masks.shape[1]), dtype=bool)
            self.action_masks[pos] = masks
            self.masked = True
        keep = self.episodes_done < self.quotas
        self.keep[pos] = keep
        self.episodes_done += keep & dones
        self.pos += 1
        self.full = bool(np.all(self.episodes_done >= self.quotas))
        if not self.full and self.pos == self.max_rows:
            raise RolloutTooLongError(
                f"The rollout took {self.pos * self.n_envs} env steps (max_rollout_steps={self.max_rollout_steps}) "
                f"and has finished only {int(np.minimum(self.episodes_done, self.quotas).sum())} of its "
                f"n_episodes={self.n_episodes} episodes. Raise max_rollout_steps, lower n_episodes, or put a time "
                "limit on the env (gymnasium.wrappers.TimeLimit, or max_episode_steps in gymnasium.make)."
            )

    def get(self) -> EpisodeBatch:
        """
        The selected episodes, back to back in env-major order, each in time order.

        :return: the batch; its arrays are copies, valid after the next ``reset()``
        """
        assert self.full, "get() needs a finished rollout"
        keep = self.keep[: self.pos].T  # (n_envs, rows): env-major selection

        def select(array: np.ndarray) -> np.ndarray:
            return array[: self.pos].swapaxes(0, 1)[keep]

        observations: np.ndarray | dict[str, np.ndarray]
        if isinstance(self.observations, dict):
            observations = {key: select(value) for key, value in self.observations.items()}
        else:
            observations = select(self.observations)
        ends = np.flatnonzero(select(self.dones))
        lengths = np.diff(np.concatenate(([-1], ends)))
        action_masks = select(self.action_masks) if self.masked and self.action_masks is not None else None
        return EpisodeBatch(observations, select(self.actions), select(self.rewards), lengths, action_masks)
