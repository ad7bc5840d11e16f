"""
The policy classes under the module path of version 0.1.0, where saved models (which pickle the policy class by
its path) look for them. New code imports them from :mod:`sb3_reinforce.common.policies` or
:mod:`sb3_reinforce.reinforce.policies`.
"""

from sb3_reinforce.common.policies import MultiInputReinforcePolicy, ReinforceCnnPolicy, ReinforcePolicy
from sb3_reinforce.reinforce.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

__all__ = [
    "CnnPolicy",
    "MlpPolicy",
    "MultiInputPolicy",
    "MultiInputReinforcePolicy",
    "ReinforceCnnPolicy",
    "ReinforcePolicy",
]
