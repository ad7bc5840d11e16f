"""Taxi with the destination shown at the first step only: invalid-action masking and memory both needed."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.toy_text.taxi import TaxiEnv

HIDDEN = 4  # the destination's value once it is no longer shown


class HiddenDestination(gym.Wrapper):
    """
    Gymnasium's Taxi where the passenger names the destination when the episode starts, and never again.

    Observation: (taxi row, taxi column, passenger location, destination), each one-hot over 5 values, concatenated
    (a ``Box`` of 20 zeros and ones, the encoding SB3 gives a ``MultiDiscrete([5, 5, 5, 5])``, which sb3-contrib's
    RecurrentPPO cannot take with torch 2.13): the passenger location is one of the 4 stands (R, G, Y, B) or 4 (in
    the taxi); the destination is one of the 4 stands at the first step of an episode and 4 (hidden) at every later
    step. :func:`decode_observation` reads it back. Rewards, dynamics, the 200-step limit and
    ``info["action_mask"]`` (the valid actions: no move into a wall, pick up only where the passenger waits, drop off
    only at a stand with the passenger aboard) are Taxi's. The mask never reveals the destination: drop-off is valid at
    every stand.

    A memoryless policy sees the destination while it drives to the passenger, but not once the passenger is aboard:
    it can only guess the stand (a drop-off at a wrong stand leaves the passenger there, and costs the steps back). A
    policy with memory can keep the destination from the first step and do as well as in Taxi itself.

    :param env: A Taxi env (``gymnasium.make("Taxi-v4")`` or ``TaxiEnv()``)
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        if not isinstance(env.unwrapped, TaxiEnv):
            raise TypeError(f"HiddenDestination wraps gymnasium's Taxi env, got {type(env.unwrapped).__name__}")
        self.observation_space = spaces.Box(0.0, 1.0, shape=(20,), dtype=np.float32)

    def _observe(self, state: int, first: bool) -> np.ndarray:
        row, col, passenger, destination = self.env.unwrapped.decode(state)  # type: ignore[attr-defined]
        obs = np.zeros(20, dtype=np.float32)
        obs[[row, 5 + col, 10 + passenger, 15 + (destination if first else HIDDEN)]] = 1.0
        return obs

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        state, info = self.env.reset(**kwargs)
        return self._observe(int(state), first=True), info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        state, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(int(state), first=False), reward, terminated, truncated, info


def decode_observation(obs: np.ndarray) -> tuple[int, int, int, int]:
    """(taxi row, taxi column, passenger location, destination or ``HIDDEN``) of a :class:`HiddenDestination` observation."""
    row, col, passenger, destination = (int(i) for i in np.asarray(obs).reshape(4, 5).argmax(axis=1))
    return row, col, passenger, destination


def taxi_hidden_dest(**kwargs: Any) -> HiddenDestination:
    """
    ``TaxiHiddenDest-v0``'s entry point: :class:`HiddenDestination` over ``TaxiEnv(**kwargs)``.

    :param kwargs: Taxi's arguments (``is_rainy``, ``fickle_passenger``, ``render_mode``, ...)
    """
    return HiddenDestination(TaxiEnv(**kwargs))
