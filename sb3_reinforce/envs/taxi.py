"""Taxi with the destination shown at the first step only: invalid-action masking and memory both needed."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium import spaces
from gymnasium.envs.toy_text.taxi import TaxiEnv

HIDDEN = 4  # the destination's value once it is no longer shown


class HiddenDestination(gym.Wrapper):
    """
    Gymnasium's Taxi where the passenger names the destination when the episode starts, and never again.

    Observation: one of 625 states, ``((row * 5 + column) * 5 + passenger) * 5 + destination`` (``Discrete(625)``, as
    Taxi's own 500 states encode the same four values): the passenger location is one of the 4 stands (R, G, Y, B) or 4
    (in the taxi); the destination is one of the 4 stands at the first step of an episode and 4 (hidden) at every later
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
        self.observation_space = spaces.Discrete(625)

    def _observe(self, state: int, first: bool) -> int:
        row, col, passenger, destination = self.env.unwrapped.decode(state)  # type: ignore[attr-defined]
        return int(((row * 5 + col) * 5 + passenger) * 5 + (destination if first else HIDDEN))

    def reset(self, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """Reset Taxi; the first observation shows the destination."""
        state, info = self.env.reset(**kwargs)
        return self._observe(int(state), first=True), info

    def step(self, action: Any) -> tuple[int, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step Taxi; later observations hide the destination."""
        state, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(int(state), first=False), reward, terminated, truncated, info


def decode_observation(obs: int) -> tuple[int, int, int, int]:
    """(taxi row, taxi column, passenger location, destination or ``HIDDEN``) of a :class:`HiddenDestination` observation."""
    rest, destination = divmod(int(obs), 5)
    rest, passenger = divmod(rest, 5)
    row, col = divmod(rest, 5)
    return row, col, passenger, destination


def taxi_hidden_dest(**kwargs: Any) -> HiddenDestination:
    """
    ``TaxiHiddenDest-v0``'s entry point: :class:`HiddenDestination` over ``TaxiEnv(**kwargs)``.

    :param kwargs: Taxi's arguments (``is_rainy``, ``fickle_passenger``, ``render_mode``, ...)
    """
    return HiddenDestination(TaxiEnv(**kwargs))
