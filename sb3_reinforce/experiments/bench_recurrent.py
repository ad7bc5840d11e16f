"""
RecurrentREINFORCE's speed and training memory (``python -m sb3_reinforce.bench --sections recurrent``).

- Throughput: RecurrentREINFORCE against sb3-contrib's RecurrentPPO on ``CartPoleNoVel-v1`` (rl-zoo's CartPole
  without velocities), ``N_ENVS`` envs in a ``DummyVecEnv``, the same LSTM (``LSTM_SIZE`` units) and MLP (64-64
  tanh), every other argument at its default (RecurrentPPO's critic has its own LSTM by default, as its users run
  it; RecurrentREINFORCE has no critic). Interleaved, median over repeats
  (:func:`sb3_reinforce.experiments.bench.measure_throughput`).
- Memory: one ``train()`` call on synthetic CartPole batches of growing total episode length (episodes of
  ``SYNTHETIC_EPISODE_LENGTH`` steps on average): time, and the growth of the process's peak resident memory
  during the call. ``train()`` runs the LSTM over chunks of whole episodes of at most ``train_chunk_steps``
  steps, so its memory stops growing with the batch once a batch is larger than one chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv

from sb3_reinforce import RecurrentREINFORCE
from sb3_reinforce.experiments.bench import N_ENVS, measure_train, synthetic_model, timed_learn

ENV_ID = "CartPoleNoVel-v1"
LSTM_SIZE = 64
RECURRENT_NAMES = ("recurrent_reinforce", "recurrent_ppo")
DESCRIPTIONS = {
    "recurrent_reinforce": f"RecurrentREINFORCE, LSTM {LSTM_SIZE}, default arguments",
    "recurrent_ppo": f"sb3-contrib RecurrentPPO, LSTM {LSTM_SIZE}, default arguments",
}
# (candidate, other, least ratio of the candidate's median steps/s to the other's)
RECURRENT_TARGETS = (("recurrent_reinforce", "recurrent_ppo", 1.0),)
DEFAULT_MEMORY_STEPS = (2_000, 8_000, 32_000, 128_000)


def make_novel_env(seed: int) -> VecEnv:
    import rl_zoo3.import_envs  # noqa: F401 (registers CartPoleNoVel-v1)

    return make_vec_env(ENV_ID, n_envs=N_ENVS, seed=seed)


def run_recurrent_reinforce(steps: int, seed: int) -> tuple[int, float]:
    kwargs = dict(lstm_hidden_size=LSTM_SIZE)
    return timed_learn(
        RecurrentREINFORCE("MlpLstmPolicy", make_novel_env(seed), seed=seed, policy_kwargs=kwargs, device="cpu"), steps
    )


def run_recurrent_ppo(steps: int, seed: int) -> tuple[int, float]:
    kwargs = dict(lstm_hidden_size=LSTM_SIZE)
    return timed_learn(
        RecurrentPPO("MlpLstmPolicy", make_novel_env(seed), seed=seed, policy_kwargs=kwargs, device="cpu"), steps
    )


RunFn = Callable[[int, int], tuple[int, float]]
RUNNERS: dict[str, RunFn] = {
    "recurrent_reinforce": run_recurrent_reinforce,
    "recurrent_ppo": run_recurrent_ppo,
}


def synthetic_recurrent_model(n_steps: int, seed: int = 0) -> RecurrentREINFORCE:
    """A RecurrentREINFORCE model (LSTM ``LSTM_SIZE``) sized for a synthetic batch (:func:`bench.synthetic_model`)."""
    kwargs = dict(lstm_hidden_size=LSTM_SIZE)
    return synthetic_model(n_steps, seed, RecurrentREINFORCE, "MlpLstmPolicy", policy_kwargs=kwargs)  # type: ignore[return-value]


def measure_recurrent_train(
    sizes: Sequence[int] = DEFAULT_MEMORY_STEPS, repeats: int = 3, seed: int = 0
) -> list[dict[str, Any]]:
    """
    Time and peak memory of one ``train()`` call of RecurrentREINFORCE on synthetic CartPole batches
    (:func:`sb3_reinforce.experiments.bench.measure_train`).

    :param sizes: Total steps of the batch's episodes (multiples of ``N_ENVS``)
    :param repeats: Timed calls per size (median)
    :param seed: Seed of the model and the data
    """
    return measure_train(sizes, repeats, seed, make_model=synthetic_recurrent_model)
