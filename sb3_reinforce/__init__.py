"""Vanilla REINFORCE for Stable-Baselines3."""

from sb3_reinforce.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, ReinforcePolicy
from sb3_reinforce.reinforce import REINFORCE

__version__ = "0.1.0"

__all__ = ["REINFORCE", "CnnPolicy", "MlpPolicy", "MultiInputPolicy", "ReinforcePolicy", "__version__"]
