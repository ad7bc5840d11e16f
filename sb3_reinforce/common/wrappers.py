"""Env wrappers for masked training: masks an env reports in its ``info`` dict, for sb3-contrib's masking API."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from sb3_contrib.common.wrappers import ActionMasker


class InfoActionMasker(ActionMasker):
    """
    sb3-contrib's ``ActionMasker`` for envs that report their valid actions in ``info`` (gymnasium's Taxi and
    other toy-text envs: ``info["action_mask"]``, from ``reset`` and every ``step``): ``action_masks()`` returns the
    mask of the last ``reset``/``step``, the actions valid in the current state. Masked algorithms, sb3-contrib's
    ``get_action_masks`` and masked ``evaluate_policy`` read it like any ``ActionMasker``.

    In an rl-zoo config (``--algo reinforce_mask``)::

        env_wrapper:
          - sb3_reinforce.common.wrappers.InfoActionMasker

    :param env: The env to wrap
    :param key: The ``info`` key holding the mask (1 or True for a valid action)
    """

    def __init__(self, env: gym.Env, key: str = "action_mask"):
        super().__init__(env, self._current_mask)
        self.key = key
        self._mask: np.ndarray | None = None

    def _current_mask(self, env: gym.Env) -> np.ndarray:
        if self._mask is None:
            raise RuntimeError("InfoActionMasker: no mask before the first reset(); call reset() first")
        return self._mask

    def _read(self, info: dict[str, Any]) -> None:
        if self.key not in info:
            env_id = self.env.spec.id if self.env.spec is not None else type(self.env.unwrapped).__name__
            raise KeyError(
                f"InfoActionMasker: {env_id} returned no info[{self.key!r}] (info keys: {sorted(info)}); "
                "give the key of its masks (key=...) or use sb3_contrib.common.wrappers.ActionMasker with a mask function"
            )
        self._mask = np.asarray(info[self.key], dtype=bool)

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._read(info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._read(info)
        return obs, reward, terminated, truncated, info
