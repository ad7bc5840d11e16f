"""Policy aliases of :class:`sb3_reinforce.REINFORCE`, as SB3 names them."""

from sb3_reinforce.common.policies import MultiInputReinforcePolicy, ReinforceCnnPolicy, ReinforcePolicy

MlpPolicy = ReinforcePolicy
CnnPolicy = ReinforceCnnPolicy
MultiInputPolicy = MultiInputReinforcePolicy
