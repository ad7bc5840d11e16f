"""Policy aliases of :class:`sb3_reinforce.RecurrentREINFORCE`, as sb3-contrib names them for ``RecurrentPPO``."""

from sb3_reinforce.common.recurrent_policies import (
    RecurrentMultiInputReinforcePolicy,
    RecurrentReinforceCnnPolicy,
    RecurrentReinforcePolicy,
)

MlpLstmPolicy = RecurrentReinforcePolicy
CnnLstmPolicy = RecurrentReinforceCnnPolicy
MultiInputLstmPolicy = RecurrentMultiInputReinforcePolicy
