"""Policy aliases of :class:`sb3_reinforce.MaskableRecurrentREINFORCE`, as sb3-contrib names its LSTM policies."""

from sb3_reinforce.common.recurrent_policies import (
    MaskableRecurrentMultiInputReinforcePolicy,
    MaskableRecurrentReinforceCnnPolicy,
    MaskableRecurrentReinforcePolicy,
)

MlpLstmPolicy = MaskableRecurrentReinforcePolicy
CnnLstmPolicy = MaskableRecurrentReinforceCnnPolicy
MultiInputLstmPolicy = MaskableRecurrentMultiInputReinforcePolicy
