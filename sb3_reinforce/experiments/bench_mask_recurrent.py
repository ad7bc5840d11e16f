"""
Throughput with masks and memory together: MaskableRecurrentREINFORCE against RecurrentREINFORCE and sb3-contrib's
RecurrentPPO on the same task (``python -m sb3_reinforce.bench --sections mask_recurrent``).

The task is the package's masked POMDP ``TaxiHiddenDest-v0`` (Taxi whose destination is shown at the first step
only), ``N_ENVS`` envs in a ``DummyVecEnv``, each wrapped in ``InfoActionMasker`` (Taxi reports its valid actions in
``info``). Every model has the same LSTM (``LSTM_SIZE`` units), SB3's 64-64 tanh network and its default arguments
otherwise; RecurrentREINFORCE and RecurrentPPO ignore the masks (sb3-contrib has no masked recurrent algorithm). The
candidates are interleaved and each measurement starts from a fresh model and env (see
:func:`sb3_reinforce.experiments.bench.measure_throughput`).
"""

from __future__ import annotations

from collections.abc import Callable

from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv

from sb3_reinforce import MaskableRecurrentREINFORCE, RecurrentREINFORCE
from sb3_reinforce.common.wrappers import InfoActionMasker
from sb3_reinforce.experiments.bench import timed_learn

ENV_ID = "TaxiHiddenDest-v0"
N_ENVS = 8
LSTM_SIZE = 64
MASK_RECURRENT_NAMES = ("mask_recurrent_reinforce", "recurrent_reinforce", "recurrent_ppo")
DESCRIPTIONS = {
    "mask_recurrent_reinforce": f"MaskableRecurrentREINFORCE, masks on, LSTM {LSTM_SIZE}, default arguments",
    "recurrent_reinforce": f"RecurrentREINFORCE (no masking), LSTM {LSTM_SIZE}, default arguments",
    "recurrent_ppo": f"sb3-contrib RecurrentPPO (no masking), LSTM {LSTM_SIZE}, default arguments",
}
# (candidate, other, least ratio of the candidate's median steps/s to the other's)
MASK_RECURRENT_TARGETS = (
    ("mask_recurrent_reinforce", "recurrent_reinforce", 0.85),
    ("mask_recurrent_reinforce", "recurrent_ppo", 10.0),
)


def make_env(seed: int) -> VecEnv:
    """``N_ENVS`` copies of ``TaxiHiddenDest-v0`` with their masks (``InfoActionMasker``), seeded."""
    return make_vec_env(ENV_ID, n_envs=N_ENVS, seed=seed, wrapper_class=InfoActionMasker)


def run_mask_recurrent_reinforce(steps: int, seed: int) -> tuple[int, float]:
    kwargs = dict(lstm_hidden_size=LSTM_SIZE)
    model = MaskableRecurrentREINFORCE("MlpLstmPolicy", make_env(seed), seed=seed, policy_kwargs=kwargs, device="cpu")
    return timed_learn(model, steps)


def run_recurrent_reinforce(steps: int, seed: int) -> tuple[int, float]:
    kwargs = dict(lstm_hidden_size=LSTM_SIZE)
    return timed_learn(
        RecurrentREINFORCE("MlpLstmPolicy", make_env(seed), seed=seed, policy_kwargs=kwargs, device="cpu"), steps
    )


def run_recurrent_ppo(steps: int, seed: int) -> tuple[int, float]:
    kwargs = dict(lstm_hidden_size=LSTM_SIZE)
    return timed_learn(RecurrentPPO("MlpLstmPolicy", make_env(seed), seed=seed, policy_kwargs=kwargs, device="cpu"), steps)


RunFn = Callable[[int, int], tuple[int, float]]
RUNNERS: dict[str, RunFn] = {
    "mask_recurrent_reinforce": run_mask_recurrent_reinforce,
    "recurrent_reinforce": run_recurrent_reinforce,
    "recurrent_ppo": run_recurrent_ppo,
}
