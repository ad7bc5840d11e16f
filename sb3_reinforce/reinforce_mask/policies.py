"""Policy aliases of :class:`sb3_reinforce.MaskableREINFORCE`, as sb3-contrib names them for ``MaskablePPO``."""

from sb3_reinforce.common.policies import (
    MaskableMultiInputReinforcePolicy,
    MaskableReinforceCnnPolicy,
    MaskableReinforcePolicy,
)

MlpPolicy = MaskableReinforcePolicy
CnnPolicy = MaskableReinforceCnnPolicy
MultiInputPolicy = MaskableMultiInputReinforcePolicy
