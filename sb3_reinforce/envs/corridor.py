"""A cue to remember and a corridor of moves only the masks tell: a task that needs memory and masks together."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class CueCorridor(gym.Env):
    """
    Remember a cue through a corridor whose valid moves only the action masks tell, then open the door the cue named.

    - At the first step the observation shows a cue, one of ``n_doors``; at every later step it is hidden.
    - That step and the ``length`` next ones are corridor steps: at each, ``n_valid`` of the ``n_moves`` move actions
      are valid, drawn at random and shown only by ``action_masks()``, never in the observation. The doors are invalid
      there.
    - Then the door step: only the ``n_doors`` door actions are valid. The door the cue named pays 1, any other 0, and
      the episode ends.
    - An invalid action ends the episode with reward 0 (a forfeited move, as an illegal move in a game).

    Observation: ``Discrete((n_doors + 1) * (length + 2))``, ``cue * (length + 2) + position`` with ``cue = n_doors``
    (hidden) after the first step and the position 0 (start) to ``length + 1`` (the door). Actions: ``Discrete(n_moves
    + n_doors)``, the moves first.

    What each ability is worth, exactly: with masks and memory, 1 (every episode); with masks and no memory, at most
    ``1 / n_doors`` (the cue is gone at the door: a guess); with memory and no masks, at most
    ``(n_valid / n_moves) ** (length + 1)`` (no policy can tell the valid moves).

    :param length: Corridor steps between the cue's step and the door
    :param n_doors: Doors (and cues)
    :param n_moves: Move actions
    :param n_valid: Valid moves at each corridor step
    :param render_mode: ``"rgb_array"`` (a strip of cells: the agent white, the cue's color while it is shown) or None
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}  # noqa: RUF012  (gymnasium.Env.metadata)
    COLORS = np.array([[230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240]])

    def __init__(self, length: int = 2, n_doors: int = 4, n_moves: int = 4, n_valid: int = 2, render_mode: str | None = None):
        if not (length >= 1 and n_doors >= 2 and 1 <= n_valid < n_moves):
            raise ValueError(
                f"CueCorridor needs length >= 1, n_doors >= 2 and 1 <= n_valid < n_moves, got length={length}, "
                f"n_doors={n_doors}, n_moves={n_moves}, n_valid={n_valid}"
            )
        self.length, self.n_doors, self.n_moves, self.n_valid = length, n_doors, n_moves, n_valid
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete((n_doors + 1) * (length + 2))
        self.action_space = spaces.Discrete(n_moves + n_doors)

    def _observe(self) -> int:
        cue = self.cue if self.position == 0 else self.n_doors
        return cue * (self.length + 2) + self.position

    def _draw_mask(self) -> None:
        self.mask = np.zeros(self.n_moves + self.n_doors, dtype=bool)
        if self.position <= self.length:
            self.mask[self.np_random.choice(self.n_moves, size=self.n_valid, replace=False)] = True
        else:
            self.mask[self.n_moves :] = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """Draw a new cue and the first step's valid moves; the observation is the cue."""
        super().reset(seed=seed)
        self.cue = int(self.np_random.integers(self.n_doors))
        self.position = 0
        self._draw_mask()
        return self._observe(), {}

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Move along the corridor, or open a door at its end (1 for the cued door); an invalid action ends it with 0."""
        action = int(action)
        if not self.mask[action]:
            return self._observe(), 0.0, True, False, {"invalid_action": True}
        if self.position > self.length:  # the door
            return self._observe(), float(action - self.n_moves == self.cue), True, False, {}
        self.position += 1
        self._draw_mask()
        return self._observe(), 0.0, False, False, {}

    def action_masks(self) -> np.ndarray:
        """The valid actions now (sb3-contrib's masking API)."""
        return self.mask.copy()

    def render(self) -> np.ndarray | None:
        """The corridor as an RGB strip (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array":
            return None
        cells = np.full((self.length + 2, 3), 90, dtype=np.uint8)
        cells[self.position] = 255
        if self.position == 0:
            cells[0] = self.COLORS[self.cue % len(self.COLORS)]
        return np.repeat(np.repeat(cells[None], 32, axis=0), 32, axis=1)
