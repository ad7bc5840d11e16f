from sb3_reinforce.reinforce_mask_recurrent.policies import CnnLstmPolicy, MlpLstmPolicy, MultiInputLstmPolicy
from sb3_reinforce.reinforce_mask_recurrent.reinforce_mask_recurrent import MaskableRecurrentREINFORCE

__all__ = ["CnnLstmPolicy", "MaskableRecurrentREINFORCE", "MlpLstmPolicy", "MultiInputLstmPolicy"]
