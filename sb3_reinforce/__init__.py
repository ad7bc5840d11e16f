"""REINFORCE, the score-function policy gradient on whole episodes, for Stable-Baselines3."""

import sb3_reinforce.envs  # noqa: F401  (registers TaxiHiddenDest-v0)
from sb3_reinforce.reinforce import REINFORCE
from sb3_reinforce.reinforce_mask import MaskableREINFORCE
from sb3_reinforce.reinforce_mask_recurrent import MaskableRecurrentREINFORCE
from sb3_reinforce.reinforce_recurrent import RecurrentREINFORCE

__version__ = "0.2.0"

__all__ = ["REINFORCE", "MaskableREINFORCE", "MaskableRecurrentREINFORCE", "RecurrentREINFORCE", "__version__"]
