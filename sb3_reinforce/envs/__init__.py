"""
Envs registered by this package (on ``import sb3_reinforce``), for tasks no registered env poses.

- ``CueCorridor-v0``: remember a cue shown at the first step through a corridor whose valid moves only the action
  masks tell (:class:`sb3_reinforce.envs.corridor.CueCorridor`): masks and memory are both needed, and what each is
  worth is known exactly.
- ``TaxiHiddenDest-v0``: gymnasium's Taxi-v4 where the destination is shown at the first step of an episode only
  (:class:`sb3_reinforce.envs.taxi.HiddenDestination`): a masked task that also needs memory.
"""

from gymnasium.envs.registration import register, registry

from sb3_reinforce.envs.corridor import CueCorridor
from sb3_reinforce.envs.taxi import HiddenDestination, taxi_hidden_dest

__all__ = ["CueCorridor", "HiddenDestination", "taxi_hidden_dest"]

if "CueCorridor-v0" not in registry:
    register(id="CueCorridor-v0", entry_point="sb3_reinforce.envs.corridor:CueCorridor", reward_threshold=0.9)

if "TaxiHiddenDest-v0" not in registry:
    register(
        id="TaxiHiddenDest-v0",
        entry_point="sb3_reinforce.envs.taxi:taxi_hidden_dest",
        max_episode_steps=200,
    )
