"""
Evaluating masked models, recurrent ones included: SB3's ``evaluate_policy`` with the env's masks.

sb3-contrib's masked ``evaluate_policy`` (2.9) drops a recurrent model's state when it passes masks, so a
``MaskableRecurrentREINFORCE`` evaluated with it acts without memory. :func:`evaluate_policy` here hands SB3's own
``evaluate_policy`` (which carries the state) a :class:`MaskedPredictor`: the model's ``predict`` with the masks the env
declares before every action (sb3-contrib's ``get_action_masks``).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.common import evaluation
from stable_baselines3.common.vec_env import VecEnv


def takes_masks(model: Any) -> bool:
    """Whether ``model.predict`` takes ``action_masks`` (sb3-contrib's masked algorithms and this package's)."""
    return "action_masks" in inspect.signature(model.predict).parameters


class MaskedPredictor:
    """
    A masked model acting on one env: ``predict(obs, state, episode_start, deterministic)`` (SB3's ``PolicyPredictor``,
    what ``evaluate_policy`` and rl-zoo call) is the model's ``predict`` with the env's current masks. Everything else
    (``save``, ``num_timesteps``, ``logger``, ...) is the model's own.

    :param model: A model whose ``predict`` takes ``action_masks``
    :param env: The env it acts on, with ``action_masks()``
    :raises ValueError: the env gives no masks (naming the wrappers that add them)
    """

    def __init__(self, model: Any, env: VecEnv):
        if not is_masking_supported(env):
            raise ValueError(
                f"{type(model).__name__} acts with masks, but the env it is evaluated on has no action_masks() method: "
                "add sb3_contrib.common.wrappers.ActionMasker or sb3_reinforce.common.wrappers.InfoActionMasker to the "
                "config's env_wrapper"
            )
        self.model = model
        self.env = env

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """The model's action(s) among the actions the env declares valid now (and its new state, if recurrent)."""
        masks = get_action_masks(self.env)
        return self.model.predict(observation, state, episode_start, deterministic, action_masks=masks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def evaluate_policy(model: Any, env: VecEnv, **kwargs: Any) -> Any:
    """
    SB3's ``evaluate_policy``, with the env's masks when the model takes masks.

    :param model: The model
    :param env: The env to evaluate on
    :param kwargs: ``evaluate_policy``'s arguments
    """
    return evaluation.evaluate_policy(MaskedPredictor(model, env) if takes_masks(model) else model, env, **kwargs)
