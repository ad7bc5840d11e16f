"""
Throughput benchmark: how fast REINFORCE trains compared with SB3's algorithms and with what the env allows.

Run ``python -m sb3_reinforce.bench`` (a few minutes; ``--quick`` for a short smoke run). It measures,
in one process, with one torch thread, on CartPole-v1 with 8 envs in a ``DummyVecEnv`` (each env wrapped in a
``Monitor``, as ``make_vec_env`` and rl-zoo do):

- ``throughput``: env steps per second of training, for

  - ``reinforce``: REINFORCE with its default arguments, ``learn()``;
  - ``a2c`` and ``ppo``: A2C and PPO built from rl-zoo's own CartPole-v1 configs (the installed
    ``rl_zoo3/hyperparams/{a2c,ppo}.yml``, read by :func:`sb3_reinforce.zoo.config.load_entry`), ``learn()``;
  - ``sb3_rollout``: the SB3 ceiling, SB3's rollout loop alone (``collect_rollouts`` of the rl-zoo A2C model,
    repeated, no ``train()``);
  - ``physical``: the physical limit, the same ``DummyVecEnv`` stepped with one actor forward pass and one
    action sample per step (``th.multinomial`` on the softmax of the logits), nothing else.

  The candidates are interleaved (A, B, C, ..., A, B, C, ...); each measurement starts from a fresh model and
  env seeded with the repeat's index, so every candidate is timed on the same stretch of learning. The medians
  over the repeats and their ratios are reported.
- ``memory``: the peak memory of one REINFORCE rollout against its number of env steps, for several
  ``n_episodes`` (``tracemalloc``, which sees every numpy allocation and so the whole episode buffer).
- ``train``: the time and peak memory of one REINFORCE ``train()`` call on synthetic CartPole batches of
  1,000 to 1,000,000 steps, written into ``model.rollout_buffer`` through ``EpisodeBuffer.add``.

The output is markdown (tables), ready to paste into ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from torch import nn

from sb3_reinforce.common.episodic import TRAIN_CHUNK_STEPS, EpisodicPolicyGradient
from sb3_reinforce.reinforce import REINFORCE
from sb3_reinforce.zoo.config import load_entry

ENV_ID = "CartPole-v1"
N_ENVS = 8
# A measurement runs one function: (env steps wanted, seed) -> (env steps taken, seconds)
RunFn = Callable[[int, int], tuple[int, float]]

THROUGHPUT_NAMES = ("reinforce", "a2c", "ppo", "sb3_rollout", "physical")
DESCRIPTIONS = {
    "reinforce": "REINFORCE, default arguments, `learn()`",
    "a2c": "A2C, rl-zoo config, `learn()`",
    "ppo": "PPO, rl-zoo config, `learn()`",
    "sb3_rollout": "SB3 ceiling: A2C `collect_rollouts()` only",
    "physical": "physical limit: env step + actor forward + sample",
}
SECTIONS = ("throughput", "memory", "train", "masked", "recurrent", "mask_recurrent")
DEFAULT_STEPS = 50_000
DEFAULT_REPEATS = 5
DEFAULT_MEMORY_EPISODES = (64, 512, 4096, 16384)
DEFAULT_TRAIN_SIZES = (1_000, 10_000, 100_000, 1_000_000)
# Mean episode length of the synthetic batches given to train() (CartPole's range is 8..500)
SYNTHETIC_EPISODE_LENGTH = 200


def make_env(seed: int, n_envs: int = N_ENVS) -> VecEnv:
    """
    CartPole-v1 in a ``DummyVecEnv`` of ``n_envs`` ``Monitor``-wrapped envs, as rl-zoo builds it.

    :param seed: Seed of the first env (the others get the next ones)
    :param n_envs: Number of envs
    """
    return make_vec_env(ENV_ID, n_envs=n_envs, seed=seed, vec_env_cls=DummyVecEnv)


def zoo_config_file(algo: str) -> Path:
    """
    rl-zoo's own config file of a built-in algorithm (``rl_zoo3/hyperparams/<algo>.yml`` of the installed package).

    :param algo: rl-zoo algorithm name ("a2c", "ppo", ...)
    """
    import rl_zoo3

    return Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo}.yml"


def zoo_hyperparams(algo: str, env_id: str = ENV_ID) -> dict[str, Any]:
    """
    rl-zoo's hyperparameters for ``algo`` on ``env_id``, read by :func:`sb3_reinforce.zoo.config.load_entry` and
    converted as rl-zoo's ``ExperimentManager`` does: ``lin_<x>`` becomes ``rl_zoo3.utils.linear_schedule(x)``,
    a ``policy_kwargs`` string is evaluated with ``nn`` in scope.

    :param algo: rl-zoo algorithm name ("a2c", "ppo", ...)
    :param env_id: Environment id
    :return: the config, with ``n_envs``, ``n_timesteps`` and ``policy`` still in it
    """
    from rl_zoo3.utils import linear_schedule

    hyperparams = load_entry(zoo_config_file(algo), env_id)
    for key, value in list(hyperparams.items()):
        if isinstance(value, str) and value.startswith("lin_"):
            hyperparams[key] = linear_schedule(value[len("lin_") :])
    if isinstance(hyperparams.get("policy_kwargs"), str):
        hyperparams["policy_kwargs"] = eval(hyperparams["policy_kwargs"], {"nn": nn})
    unsupported = {"normalize", "env_wrapper", "frame_stack", "callback"} & hyperparams.keys()
    if unsupported:
        raise NotImplementedError(f"rl-zoo keys {sorted(unsupported)} of {algo}/{env_id} are not supported here")
    return hyperparams


def make_zoo_model(algo: str, seed: int, device: str = "cpu") -> A2C | PPO:
    """
    A2C or PPO as rl-zoo builds it for CartPole-v1, on ``N_ENVS`` envs (rl-zoo's ``n_envs`` must agree).

    :param algo: "a2c" or "ppo"
    :param seed: Seed of the model and the envs
    :param device: Torch device of the model
    """
    hyperparams = zoo_hyperparams(algo)
    n_envs = hyperparams.pop("n_envs", 1)
    if n_envs != N_ENVS:
        raise ValueError(f"rl-zoo's {algo} config for {ENV_ID} uses n_envs={n_envs}; the benchmark compares {N_ENVS}")
    hyperparams.pop("n_timesteps")
    policy = hyperparams.pop("policy")
    if algo not in ("a2c", "ppo"):
        raise ValueError(f"algo must be 'a2c' or 'ppo', got {algo!r}")
    algo_class = A2C if algo == "a2c" else PPO
    return algo_class(policy, make_env(seed), seed=seed, device=device, **hyperparams)


def timed_learn(model: BaseAlgorithm, steps: int) -> tuple[int, float]:
    """``model.learn(steps)``: the env steps taken and the seconds it took."""
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    return model.num_timesteps, time.perf_counter() - start


def run_reinforce(steps: int, seed: int, device: str = "cpu") -> tuple[int, float]:
    """REINFORCE with its default arguments: ``learn(steps)``. Returns (env steps taken, seconds)."""
    return timed_learn(REINFORCE("MlpPolicy", make_env(seed), seed=seed, device=device), steps)


def run_a2c(steps: int, seed: int, device: str = "cpu") -> tuple[int, float]:
    """A2C with rl-zoo's config: ``learn(steps)``. Returns (env steps taken, seconds)."""
    return timed_learn(make_zoo_model("a2c", seed, device), steps)


def run_ppo(steps: int, seed: int, device: str = "cpu") -> tuple[int, float]:
    """PPO with rl-zoo's config: ``learn(steps)``. Returns (env steps taken, seconds)."""
    return timed_learn(make_zoo_model("ppo", seed, device), steps)


def run_sb3_rollout(steps: int, seed: int, device: str = "cpu") -> tuple[int, float]:
    """
    The SB3 ceiling: ``collect_rollouts`` of the rl-zoo A2C model, called until ``steps`` env steps are taken,
    with no ``train()`` in between. Returns (env steps taken, seconds).
    """
    model = make_zoo_model("a2c", seed, device)
    _, callback = model._setup_learn(steps, callback=None)
    callback.on_training_start(locals(), globals())
    start = time.perf_counter()
    while model.num_timesteps < steps:
        assert model.env is not None
        model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=model.n_steps)
    return model.num_timesteps, time.perf_counter() - start


def run_physical(steps: int, seed: int, device: str = "cpu") -> tuple[int, float]:
    """
    The physical limit: the ``DummyVecEnv`` of 8 CartPole envs stepped with the actions of one forward pass of
    REINFORCE's default actor (the same 64-64 tanh MLP as SB3's) and one sample per step, nothing else.
    Returns (env steps taken, seconds).
    """
    env = make_env(seed)
    policy = REINFORCE("MlpPolicy", env, seed=seed, device=device).policy
    actor = nn.Sequential(policy.actor_net, policy.action_net)
    obs = env.reset()
    assert isinstance(obs, np.ndarray)
    n_iterations = -(-steps // env.num_envs)
    start = time.perf_counter()
    for _ in range(n_iterations):
        with th.no_grad():
            probs = th.softmax(actor(th.as_tensor(obs, device=policy.device)), dim=-1)
            actions = th.multinomial(probs, 1).squeeze(1).cpu().numpy()
        obs, _, _, _ = env.step(actions)
    return n_iterations * env.num_envs, time.perf_counter() - start


# name -> function (env steps wanted, seed, device="cpu") -> (env steps taken, seconds)
RUNNERS: dict[str, Callable[..., tuple[int, float]]] = {
    "reinforce": run_reinforce,
    "a2c": run_a2c,
    "ppo": run_ppo,
    "sb3_rollout": run_sb3_rollout,
    "physical": run_physical,
}


def measure_throughput(
    runners: dict[str, RunFn],
    steps: int = DEFAULT_STEPS,
    repeats: int = DEFAULT_REPEATS,
    verbose: bool = False,
) -> dict[str, list[float]]:
    """
    Env steps per second of each runner, interleaved: every repeat runs each runner once, in order.

    :param runners: name -> function (env steps wanted, seed) -> (env steps taken, seconds)
    :param steps: Env steps per measurement
    :param repeats: Number of measurements per runner; repeat ``r`` uses seed ``r``
    :param verbose: Print each measurement to stderr
    :return: name -> steps per second of each repeat
    """
    results: dict[str, list[float]] = {name: [] for name in runners}
    for repeat in range(repeats):
        for name, run in runners.items():
            gc.collect()
            taken, seconds = run(steps, repeat)
            results[name].append(taken / seconds)
            if verbose:
                print(f"  repeat {repeat} {name:<12} {taken / seconds:10,.0f} steps/s", file=sys.stderr, flush=True)
    return results


def markdown_table(header: Sequence[str], align: str, rows: Sequence[Sequence[str]], caption: str = "") -> str:
    """
    A markdown table.

    :param header: Column titles
    :param align: One letter per column: ``l`` (left), ``r`` (right) or ``c`` (centred)
    :param rows: The cells, already formatted
    :param caption: A line above the table (none when empty)
    """
    rules = {"l": "---", "r": "---:", "c": ":---:"}
    lines = [caption, ""] if caption else []
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join(rules[a] for a in align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# REINFORCE's throughput targets: (candidate, other candidate, least ratio of the candidate's median to the other's)
TARGETS = (("reinforce", "sb3_rollout", 1.25), ("reinforce", "physical", 0.6), ("reinforce", "a2c", 2.0))


def format_throughput(
    results: dict[str, list[float]],
    steps: int,
    reference: str = "reinforce",
    descriptions: dict[str, str] = DESCRIPTIONS,
    targets: Sequence[tuple[str, str, float]] = TARGETS,
) -> str:
    """
    A markdown table of the median throughputs and their ratios to the reference candidate's (when measured), and
    whether the targets hold. The targets are set for measurements of at least ``DEFAULT_STEPS`` env steps:
    a shorter run (``--quick``) is dominated by model construction and the first, shortest episodes, so its
    ratios are shown but not judged.

    :param results: name -> steps per second of each repeat, from :func:`measure_throughput`
    :param steps: Env steps per measurement (for the caption, and whether the targets can be judged)
    :param reference: The candidate the others are compared with
    :param descriptions: name -> what is timed
    :param targets: (candidate, other, least ratio of the candidate's median steps/s to the other's)
    """
    medians = {name: statistics.median(values) for name, values in results.items()}
    base = medians.get(reference)
    rows = [
        [
            name,
            descriptions.get(name, name),
            f"{medians[name]:,.0f}",
            f"{min(values):,.0f}-{max(values):,.0f}",
            f"{base / medians[name]:.2f}" if base else "-",
        ]
        for name, values in results.items()
    ]
    caption = (
        f"Env steps per second (median of {len(next(iter(results.values())))} interleaved repeats of "
        f"{steps:,} steps; min-max in brackets):"
    )
    text = markdown_table(["candidate", "what is timed", "steps/s", "min-max", f"{reference} / this"], "llrrr", rows, caption)
    checks = [(name, other, target) for name, other, target in targets if name in medians and other in medians]
    if checks:
        judged = steps >= DEFAULT_STEPS
        target_rows = []
        for name, other, target in checks:
            measured = medians[name] / medians[other]
            holds = ("yes" if measured >= target else "no") if judged else "not judged"
            target_rows.append([f"{name} >= {target} x {other}", f"{measured:.2f} x", holds])
        text += "\n\n" + markdown_table(["target", "measured", "holds"], "lrc", target_rows)
        if not judged:
            text += (
                f"\n\nA run of {steps:,} steps per measurement is too short to judge the targets (they are set for "
                f">= {DEFAULT_STEPS:,}: model construction and the first, shortest episodes dominate a shorter run)."
            )
    return text


def measure_rollout_memory(n_episodes_list: Sequence[int], seed: int = 0) -> list[dict[str, float]]:
    """
    Peak memory of the first rollout of a fresh REINFORCE model (default arguments but ``n_episodes``), for
    each ``n_episodes``.

    Measured with ``tracemalloc`` from just before the model is built (so the buffer's first allocation
    counts) to the end of its first rollout. ``tracemalloc`` sees every numpy allocation (the episode buffer,
    the observations the envs return) but not torch's tensors, none of which outlives a step of the rollout.
    The buffer starts at 256 rows and doubles as the rollout grows; while it doubles the old and the new
    arrays are both alive, so the peak lies between 1x and 3x the bytes the steps themselves need
    (``bytes_per_step`` of :func:`sb3_reinforce.common.buffers.bytes_per_step`).

    :param n_episodes_list: ``n_episodes`` of each measurement
    :param seed: Seed of the models and envs
    :return: per measurement: n_episodes, env steps taken, steps kept, peak bytes, bytes per step taken,
        and the bytes the buffer's arrays hold at the end
    """
    warm_up = REINFORCE("MlpPolicy", make_env(seed), device="cpu")  # lazy imports and first-use allocations
    _, callback = warm_up._setup_learn(1, callback=None)
    warm_up.collect_rollouts(warm_up.env, callback, warm_up.rollout_buffer, n_rollout_steps=1)  # type: ignore[arg-type]
    rows = []
    for n_episodes in n_episodes_list:
        env = make_env(seed)
        gc.collect()
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            model = REINFORCE("MlpPolicy", env, n_episodes=n_episodes, seed=seed, device="cpu")
            _, callback = model._setup_learn(1, callback=None)
            model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=1)  # type: ignore[arg-type]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        buffer = model.rollout_buffer
        arrays = [buffer.actions, buffer.rewards, buffer.dones, buffer.keep]
        arrays += list(buffer.observations.values()) if isinstance(buffer.observations, dict) else [buffer.observations]
        steps = model.num_timesteps
        rows.append(
            {
                "n_episodes": n_episodes,
                "steps": steps,
                "steps_kept": buffer.steps_kept,
                "peak_bytes": peak - base,
                "bytes_per_step": (peak - base) / steps,
                "buffer_bytes": sum(array.nbytes for array in arrays),
            }
        )
    return rows


def format_memory(rows: list[dict[str, float]]) -> str:
    """A markdown table of :func:`measure_rollout_memory`'s results, with the slope of peak against steps."""
    cells = [
        [
            f"{row['n_episodes']:,}",
            f"{row['steps']:,}",
            f"{row['steps_kept']:,}",
            _mib(row["peak_bytes"]),
            f"{row['bytes_per_step']:.1f}",
            _mib(row["buffer_bytes"]),
        ]
        for row in rows
    ]
    text = markdown_table(
        ["n_episodes", "env steps", "steps kept", "peak", "bytes / env step", "buffer arrays at the end"],
        "rrrrrr",
        cells,
        "Peak memory of one rollout (tracemalloc, from building a fresh model to the end of its first rollout):",
    )
    if len(rows) >= 2:
        steps = np.array([row["steps"] for row in rows], dtype=np.float64)
        peaks = np.array([row["peak_bytes"] for row in rows], dtype=np.float64)
        slope, intercept = np.polyfit(steps, peaks, 1)
        text += f"\n\nLeast-squares fit: peak = {intercept / 2**20:.3f} MiB + {slope:.1f} bytes x env steps."
    return text


def fill_synthetic_batch(model: REINFORCE, n_steps: int, seed: int = 0) -> int:
    """
    Write a synthetic CartPole batch of ``n_steps`` steps into ``model.rollout_buffer`` through
    ``EpisodeBuffer.add``, as a rollout would: standard normal observations, random actions, rewards of 1,
    and in every env the same number of episodes, of random lengths averaging ``SYNTHETIC_EPISODE_LENGTH``.

    The model must have been built with ``n_episodes`` a multiple of its number of envs
    (see :func:`synthetic_model`), so that every env's quota is met exactly on the last step.

    :param model: A REINFORCE model on CartPole (Box(4,) observations, Discrete(2) actions)
    :param n_steps: Steps of the batch, a multiple of the number of envs
    :param seed: Seed of the random data
    :return: the number of episodes of the batch
    """
    buffer = model.rollout_buffer
    n_envs = buffer.n_envs
    rows = n_steps // n_envs
    per_env = int(buffer.quotas[0])
    assert n_steps % n_envs == 0 and np.all(buffer.quotas == per_env) and 1 <= per_env <= rows
    rng = np.random.default_rng(seed)
    dones = np.zeros((rows, n_envs), dtype=bool)
    for env_index in range(n_envs):
        # per_env episodes of random lengths >= 1 that end exactly on the last row
        cuts = np.sort(rng.choice(np.arange(1, rows), size=per_env - 1, replace=False))
        dones[np.append(cuts, rows) - 1, env_index] = True
    observations = rng.standard_normal((rows, n_envs, 4), dtype=np.float32)
    actions = rng.integers(0, 2, size=(rows, n_envs), dtype=np.int64)
    rewards = np.ones(n_envs, dtype=np.float32)
    buffer.reset()
    for row in range(rows):
        buffer.add(observations[row], actions[row], rewards, dones[row])
    assert buffer.full
    return per_env * n_envs


def synthetic_model(
    n_steps: int,
    seed: int = 0,
    algorithm: type[EpisodicPolicyGradient] = REINFORCE,
    policy: str = "MlpPolicy",
    **kwargs: Any,
) -> EpisodicPolicyGradient:
    """
    A model (default arguments but ``n_episodes`` and ``max_rollout_steps``) sized for a synthetic batch of
    ``n_steps`` steps (see :func:`fill_synthetic_batch`).

    :param n_steps: Steps of the batch, a multiple of ``N_ENVS``
    :param seed: Seed of the model
    :param algorithm: The algorithm (REINFORCE, RecurrentREINFORCE, ...)
    :param policy: Its policy alias
    :param kwargs: More arguments for the algorithm
    """
    per_env = max(1, n_steps // N_ENVS // SYNTHETIC_EPISODE_LENGTH)
    model = algorithm(
        policy,
        make_env(seed),
        n_episodes=per_env * N_ENVS,
        max_rollout_steps=n_steps,
        seed=seed,
        device="cpu",
        **kwargs,
    )
    model.set_logger(configure(folder=None, format_strings=[]))  # train() records to the logger
    return model


def _peak_rss_reset() -> bool:
    """Reset the kernel's record of this process's peak resident memory (Linux >= 4.0); False if unavailable."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        return True
    except OSError:
        return False


def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def measure_train(
    sizes: Sequence[int], repeats: int = 3, seed: int = 0, make_model: Callable[[int, int], Any] = synthetic_model
) -> list[dict[str, Any]]:
    """
    Time and peak memory of one ``train()`` call of REINFORCE (or the model ``make_model`` builds) on synthetic
    CartPole batches.

    The time is the median of ``repeats`` calls on the same batch (each call takes a gradient step, so the
    parameters differ between calls, not the work). The memory is measured in one more call: ``tracemalloc``
    (numpy arrays: the batch copy made by ``get()``, the weights) and, where Linux allows resetting it, the
    growth of the process's peak resident set size during the call (which includes torch's tensors, but not
    memory that the allocator kept from the earlier calls and reuses).

    :param sizes: Batch sizes in env steps (multiples of ``N_ENVS``)
    :param repeats: Timed calls per size
    :param seed: Seed of the models and the data
    :param make_model: (batch steps, seed) -> a model sized for the batch (see :func:`synthetic_model`)
    :return: per size: steps, episodes, median seconds, microseconds per step, tracemalloc peak bytes,
        peak RSS growth in bytes and the process's peak RSS in bytes (None when they cannot be measured;
        the process's peak is since the reset of the record, else since the process started)
    """
    rows = []
    for n_steps in sizes:
        model = make_model(n_steps, seed)
        n_episodes = fill_synthetic_batch(model, n_steps, seed)
        model.train()  # warm-up (first-call allocations)
        times = []
        for _ in range(repeats):
            gc.collect()
            start = time.perf_counter()
            model.train()
            times.append(time.perf_counter() - start)
        gc.collect()
        rss_before = _rss_kib("VmRSS") if _peak_rss_reset() else None
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            model.train()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        rss_peak = _rss_kib("VmHWM")
        seconds = statistics.median(times)
        rows.append(
            {
                "steps": n_steps,
                "episodes": n_episodes,
                "seconds": seconds,
                "us_per_step": 1e6 * seconds / n_steps,
                "numpy_peak_bytes": peak - base,
                # The peak can read below the RSS sampled just after its reset (pages returned in between): no growth
                "rss_growth_bytes": None if rss_before is None or rss_peak is None else 1024 * max(rss_peak - rss_before, 0),
                "process_peak_rss_bytes": None if rss_peak is None else 1024 * rss_peak,
            }
        )
        del model
    return rows


def format_train(rows: list[dict[str, Any]]) -> str:
    """A markdown table of :func:`measure_train`'s results."""

    def mib_or_na(n_bytes: float | None) -> str:
        return "n/a" if n_bytes is None else _mib(n_bytes)

    cells = [
        [
            f"{row['steps']:,}",
            f"{row['episodes']:,}",
            f"{row['seconds']:.3f}",
            f"{row['us_per_step']:.2f}",
            _mib(row["numpy_peak_bytes"]),
            mib_or_na(row["rss_growth_bytes"]),
            mib_or_na(row["process_peak_rss_bytes"]),
        ]
        for row in rows
    ]
    return markdown_table(
        ["batch steps", "episodes", "seconds", "us / step", "numpy peak (tracemalloc)", "peak RSS growth", "process peak RSS"],
        "rrrrrrr",
        cells,
        "One `train()` call on a synthetic CartPole batch (median time; memory of one more call):",
    )


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.2f} MiB"


def machine_description() -> str:
    """One line on the machine and the library versions."""
    import gymnasium
    import stable_baselines3

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"cuda available: {th.cuda.is_available()}, torch threads: {th.get_num_threads()}; python "
        f"{platform.python_version()}, torch {th.__version__}, stable-baselines3 {stable_baselines3.__version__}, "
        f"gymnasium {gymnasium.__version__}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """
    Run the benchmark and print markdown tables.

    :param argv: Command-line arguments (``sys.argv[1:]`` when None); see ``--help``
    """
    parser = argparse.ArgumentParser(prog="python -m sb3_reinforce.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--steps", type=int, default=None, help=f"env steps per measurement (default {DEFAULT_STEPS:,}; --quick: 4,000)"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help=f"interleaved repeats (default {DEFAULT_REPEATS}; --quick: 2)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run (4,000 steps, 2 repeats, small sizes; its time depends on the machine's load): "
        "too short to judge the throughput targets",
    )
    parser.add_argument(
        "--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="what to measure (default: all)"
    )
    parser.add_argument(
        "--candidates",
        nargs="+",
        choices=THROUGHPUT_NAMES,
        default=list(THROUGHPUT_NAMES),
        help="throughput candidates (default: all)",
    )
    parser.add_argument(
        "--train-sizes",
        type=int,
        nargs="+",
        default=None,
        help=f"train() batch sizes in env steps (default {' '.join(map(str, DEFAULT_TRAIN_SIZES))})",
    )
    parser.add_argument(
        "--memory-episodes",
        type=int,
        nargs="+",
        default=None,
        help=f"n_episodes of the measured rollouts (default {' '.join(map(str, DEFAULT_MEMORY_EPISODES))})",
    )
    parser.add_argument("--device", default="cpu", help="torch device of the throughput candidates (cpu, cuda)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every measurement to stderr")
    args = parser.parse_args(argv)

    steps = args.steps or (4_000 if args.quick else DEFAULT_STEPS)
    repeats = args.repeats or (2 if args.quick else DEFAULT_REPEATS)
    train_sizes = args.train_sizes or ((1_000, 10_000, 100_000) if args.quick else DEFAULT_TRAIN_SIZES)
    memory_episodes = args.memory_episodes or ((8, 64) if args.quick else DEFAULT_MEMORY_EPISODES)

    th.set_num_threads(1)
    print(f"# sb3_reinforce benchmark ({ENV_ID}, {N_ENVS} envs, DummyVecEnv)\n")
    print(f"Machine: {machine_description()}\n")
    if "throughput" in args.sections:
        runners: dict[str, RunFn] = {name: partial(RUNNERS[name], device=args.device) for name in args.candidates}
        results = measure_throughput(runners, steps=steps, repeats=repeats, verbose=args.verbose)
        print(format_throughput(results, steps) + "\n", flush=True)
    if "memory" in args.sections:
        print(format_memory(measure_rollout_memory(memory_episodes)) + "\n", flush=True)
    if "train" in args.sections:
        print(format_train(measure_train(train_sizes, repeats=min(repeats, 3))) + "\n", flush=True)
    if "masked" in args.sections:
        print(f"## Invalid-action masking\n\n{masked_section(steps, repeats, args.verbose)}\n", flush=True)
    if "recurrent" in args.sections:
        sizes = (2_000, 8_000) if args.quick else None
        print(f"## LSTM policies\n\n{recurrent_section(steps, repeats, args.verbose, sizes)}\n", flush=True)
    if "mask_recurrent" in args.sections:
        print(f"## Masks and an LSTM policy\n\n{mask_recurrent_section(steps, repeats, args.verbose)}\n", flush=True)


def masked_section(steps: int, repeats: int, verbose: bool = False) -> str:
    """MaskableREINFORCE against MaskablePPO and REINFORCE (:mod:`sb3_reinforce.experiments.bench_masked`)."""
    from sb3_reinforce.experiments import bench_masked

    results = measure_throughput(bench_masked.RUNNERS, steps=steps, repeats=repeats, verbose=verbose)
    env = f"`MaskedIdentityEnv` ({bench_masked.N_ACTIONS} actions, about half invalid), {bench_masked.N_ENVS} envs"
    table = format_throughput(results, steps, "masked_reinforce", bench_masked.DESCRIPTIONS, bench_masked.MASKED_TARGETS)
    return f"{env}.\n\n{table}"


def mask_recurrent_section(steps: int, repeats: int, verbose: bool = False) -> str:
    """
    MaskableRecurrentREINFORCE against RecurrentREINFORCE and RecurrentPPO
    (:mod:`sb3_reinforce.experiments.bench_mask_recurrent`).
    """
    from sb3_reinforce.experiments import bench_mask_recurrent as bench_mr

    results = measure_throughput(bench_mr.RUNNERS, steps=steps, repeats=repeats, verbose=verbose)
    table = format_throughput(
        results, steps, "mask_recurrent_reinforce", bench_mr.DESCRIPTIONS, bench_mr.MASK_RECURRENT_TARGETS
    )
    return f"`{bench_mr.ENV_ID}` (masks from `InfoActionMasker`), {bench_mr.N_ENVS} envs.\n\n{table}"


def recurrent_section(steps: int, repeats: int, verbose: bool = False, sizes: Sequence[int] | None = None) -> str:
    """RecurrentREINFORCE against RecurrentPPO, and its train() memory (:mod:`sb3_reinforce.experiments.bench_recurrent`)."""
    from sb3_reinforce.experiments import bench_recurrent

    results = measure_throughput(bench_recurrent.RUNNERS, steps=steps, repeats=repeats, verbose=verbose)
    table = format_throughput(
        results, steps, "recurrent_reinforce", bench_recurrent.DESCRIPTIONS, bench_recurrent.RECURRENT_TARGETS
    )
    rows = bench_recurrent.measure_recurrent_train(sizes or bench_recurrent.DEFAULT_MEMORY_STEPS, repeats=min(repeats, 3))
    memory_rows = [
        [
            f"{row['steps']:,}",
            f"{row['episodes']:,}",
            f"{row['seconds']:.3f}",
            f"{row['us_per_step']:.1f}",
            "-" if row["rss_growth_bytes"] is None else _mib(row["rss_growth_bytes"]),
        ]
        for row in rows
    ]
    caption = (
        f"One `train()` of RecurrentREINFORCE (LSTM {bench_recurrent.LSTM_SIZE}, chunks of whole episodes of at most "
        f"{TRAIN_CHUNK_STEPS:,} steps) on synthetic CartPole batches (median time; growth of the process's peak "
        "resident memory during one more call):"
    )
    header = ["total episode steps", "episodes", "seconds", "us/step", "peak RSS growth"]
    memory = markdown_table(header, "rrrrr", memory_rows, caption)
    return f"{bench_recurrent.ENV_ID}, {bench_recurrent.N_ENVS} envs.\n\n{table}\n\n{memory}"


if __name__ == "__main__":
    main()
