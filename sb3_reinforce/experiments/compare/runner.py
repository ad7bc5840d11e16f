"""
Running the grid: one run, the worker processes that train runs one after another, and a local pool of ``J`` of
them. The grid shared by many machines (an Optuna study) is :mod:`sb3_reinforce.experiments.compare.cluster`.

A run builds the model and envs with rl-zoo's ``ExperimentManager`` exactly as ``rl_zoo3.train`` does, trains,
saves the final model in rl-zoo's layout, evaluates that saved model as ``rl_zoo3.enjoy`` loads it, and ends by
writing ``result.json`` atomically. Only ``result.json`` marks a run finished: a run that is interrupted writes none
(its leftovers are wiped when the run starts again); a run that raises writes one with ``status: failed``. Each
attempt at a run trains in a folder of its own, renamed to the run's folder once its ``result.json`` is written: the
run's folder exists only complete, and only one attempt's.

Runs are trained in worker processes (``python -m sb3_reinforce.experiments.compare.runner --worker``), ``J`` of
them, each training the runs it is sent one after another: torch, SB3, rl-zoo and wandb are imported, and wandb's
service started, once per worker instead of once per run. Each run's output goes to its own ``train.log``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter

from sb3_reinforce.experiments.compare.grid import RunSpec, publish, read_result, write_json_atomic
from sb3_reinforce.experiments.compare.stats import steps_to_threshold

INTERRUPTED = 130  # exit code of an interrupted run or command (128 + SIGINT)
RUNNER = "sb3_reinforce.experiments.compare.runner"


def is_finished(spec: RunSpec) -> bool:
    """A run is finished when its ``result.json`` exists (ok or failed)."""
    return read_result(spec.result_path) is not None


# ---------------------------------------------------------------------------------------------------------
# Callbacks and a logger output: what a run records besides rl-zoo's own evaluations
# ---------------------------------------------------------------------------------------------------------
class Timed(BaseCallback):
    """
    Runs another callback through its public methods, as SB3's ``CallbackList`` does, and adds up the time its
    ``on_step()`` takes (for an ``EvalCallback``: the time spent evaluating).

    :param callback: The callback to run and time
    """

    def __init__(self, callback: BaseCallback):
        super().__init__()
        self.callback = callback
        self.seconds = 0.0

    def _init_callback(self) -> None:
        self.callback.init_callback(self.model)

    def _on_training_start(self) -> None:
        self.callback.on_training_start(self.locals, self.globals)

    def _on_rollout_start(self) -> None:
        self.callback.on_rollout_start()

    def _on_step(self) -> bool:
        start = time.perf_counter()
        try:
            return self.callback.on_step()
        finally:
            self.seconds += time.perf_counter() - start

    def _on_rollout_end(self) -> None:
        self.callback.on_rollout_end()

    def _on_training_end(self) -> None:
        self.callback.on_training_end()

    def update_child_locals(self, locals_: dict[str, Any]) -> None:
        self.callback.update_locals(locals_)


class TrainingCurve(BaseCallback):
    """
    The mean return of the last 100 training episodes (SB3's ``rollout/ep_rew_mean``, from ``model.ep_info_buffer``)
    at the end of every rollout, against every env step taken so far (steps an env takes after its episode quota
    count too).
    """

    def __init__(self) -> None:
        super().__init__()
        self.timesteps: list[int] = []
        self.returns: list[float] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.model.ep_info_buffer:
            self.timesteps.append(int(self.model.num_timesteps))
            self.returns.append(float(np.mean([info["r"] for info in self.model.ep_info_buffer])))

    def summary(self, threshold: float | None) -> dict[str, Any]:
        """
        :param threshold: The env's threshold (None: none)
        :return: the 100-episode training mean at the end, its best value, and the first step it reached the threshold
        """
        if not self.returns:
            return {"train_return_final": None, "train_return_best": None, "train_steps_to_threshold": None}
        return {
            "train_return_final": self.returns[-1],
            "train_return_best": max(self.returns),
            "train_steps_to_threshold": steps_to_threshold(self.timesteps, self.returns, threshold),
        }


class WandbOutput(KVWriter):
    """
    An SB3 logger output that sends each dump to a wandb run, with the env steps as ``global_step`` (the keys
    SB3 writes to tensorboard, so the same curves as ``sync_tensorboard`` without its wait at the end of a run).

    :param run: The wandb run
    """

    def __init__(self, run: Any):
        self.run = run

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        values = {
            key: value
            for key, value in key_values.items()
            if isinstance(value, (int, float, np.number)) and "tensorboard" not in (key_excluded.get(key) or ())
        }
        if values:
            self.run.log({**values, "global_step": step})

    def close(self) -> None:
        pass


class LogToWandb(BaseCallback):
    """
    Adds a :class:`WandbOutput` to the model's logger when training starts (SB3 builds the logger in ``learn()``).

    :param run: The wandb run
    """

    def __init__(self, run: Any):
        super().__init__()
        self.run = run

    def _on_training_start(self) -> None:
        self.logger.output_formats.append(WandbOutput(self.run))

    def _on_step(self) -> bool:
        return True


# ---------------------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------------------
def _zoo_args(spec: RunSpec) -> argparse.Namespace:
    """rl-zoo ``train.py``'s defaults with this run's values (``ExperimentManager`` saves them as args.yml)."""
    return argparse.Namespace(
        algo=spec.algo,
        env=spec.env,
        tensorboard_log=str(spec.run_dir / "tb"),
        trained_agent="",
        truncate_last_trajectory=True,
        n_timesteps=spec.n_timesteps,
        num_threads=1,
        log_interval=-1,
        eval_freq=spec.eval_freq,
        optimization_log_path=None,
        eval_episodes=spec.n_eval_episodes,
        n_eval_envs=spec.n_eval_envs,
        save_freq=-1,
        save_replay_buffer=False,
        log_folder=str(spec.run_dir / "zoo"),
        seed=spec.seed,
        vec_env="dummy",
        device="cpu",
        n_trials=500,
        max_total_trials=None,
        optimize_hyperparameters=False,
        no_optim_plots=False,
        n_jobs=1,
        sampler="tpe",
        pruner="median",
        n_startup_trials=10,
        n_evaluations=None,
        storage=None,
        study_name=None,
        trial_id=None,
        verbose=1,
        gym_packages=[],
        env_kwargs=None,
        eval_env_kwargs=None,
        hyperparams=spec.hyperparams,
        conf_file=spec.config,
        uuid=False,
        track=spec.wandb_project is not None,
        wandb_project_name=spec.wandb_project,
        wandb_entity=None,
        wandb_group=spec.comparison,
        wandb_tags=[spec.algo, spec.env],
        progress=False,
    )


def wandb_mode() -> str:
    """``WANDB_MODE`` if set; else ``online`` when wandb credentials exist, ``offline`` otherwise (never prompts)."""
    from sb3_reinforce.zoo import wandb_logged_in

    return os.environ.get("WANDB_MODE") or ("online" if wandb_logged_in() else "offline")


def _start_wandb(spec: RunSpec) -> Any:
    """A wandb run for this run, or None (no project, or wandb failed: the run goes on without it)."""
    if spec.wandb_project is None:
        return None
    try:
        import wandb

        run = wandb.init(
            project=spec.wandb_project,
            group=spec.comparison,
            tags=[spec.algo, spec.env],
            name=f"{spec.algo}__{spec.env}__seed{spec.seed}",
            job_type="compare",
            config={"algo": spec.algo, "env": spec.env, "seed": spec.seed, **spec.settings()},
            mode=wandb_mode(),  # type: ignore[arg-type]
            dir=spec.out,
            settings=wandb.Settings(console="off", init_timeout=60),
        )
        run.define_metric("*", step_metric="global_step")
        return run
    except Exception as e:
        print(f"wandb: could not start ({type(e).__name__}: {e}), going on without it", flush=True)
        return None


def _experiment(spec: RunSpec) -> tuple[Any, Any, dict[str, Any]]:
    """rl-zoo's ``ExperimentManager`` for the run, set up as ``rl_zoo3.train`` sets it up: (manager, model, hyperparams)."""
    from rl_zoo3.exp_manager import ExperimentManager

    args = _zoo_args(spec)
    manager = ExperimentManager(
        args,
        spec.algo,
        spec.env,
        args.log_folder,
        tensorboard_log=args.tensorboard_log,
        n_timesteps=spec.n_timesteps,
        eval_freq=spec.eval_freq,
        n_eval_episodes=spec.n_eval_episodes,
        hyperparams=spec.hyperparams,
        seed=spec.seed,
        log_interval=args.log_interval,
        verbose=args.verbose,
        vec_env_type=args.vec_env,
        n_eval_envs=spec.n_eval_envs,
        device=args.device,
        config=spec.config,
    )
    setup = manager.setup_experiment()
    assert setup is not None
    model, saved_hyperparams = setup
    return manager, model, saved_hyperparams


def _evaluations(manager: Any, model: Any, spec: RunSpec, evaluator: Any) -> tuple[list[int], list[float], list[float]]:
    """
    The periodic evaluations rl-zoo's ``EvalCallback`` saved (``evaluations.npz``): env steps, mean and std of the
    returns. A budget below one evaluation period has none: the trained policy is then evaluated once.
    """
    evaluations = np.load(Path(manager.save_path) / "evaluations.npz")
    timesteps = [int(t) for t in evaluations["timesteps"]]
    results = evaluations["results"]  # (n_evals, n_eval_episodes)
    if timesteps:
        return timesteps, [float(r) for r in results.mean(axis=1)], [float(r) for r in results.std(axis=1)]
    from sb3_reinforce.common.evaluation import evaluate_policy  # SB3's; a masked model acts with its masks

    returns, _ = evaluate_policy(model, evaluator.eval_env, n_eval_episodes=spec.n_eval_episodes, return_episode_rewards=True)
    return [int(model.num_timesteps)], [float(np.mean(returns))], [float(np.std(returns))]


def saved_test_env(env_id: str, params_path: str | Path, n_envs: int, seed: int, **env_kwargs: Any) -> Any:
    """
    The env ``rl_zoo3.enjoy`` plays a saved model on: ``create_test_env`` with the run's saved settings (wrappers,
    ``VecNormalize`` statistics when the config normalizes; observations normalized, rewards not).

    :param env_id: Gymnasium env id
    :param params_path: The run's settings folder (``<log>/<algo>/<env>_<n>/<env>``)
    :param n_envs: Envs of the ``DummyVecEnv``
    :param seed: Seed of the envs
    :param env_kwargs: Added to the saved ``env_kwargs`` (e.g. ``render_mode="rgb_array"``)
    """
    import rl_zoo3.import_envs  # noqa: F401  (rl-zoo's own envs: CartPoleNoVel-v1, ...)
    from rl_zoo3 import create_test_env, get_saved_hyperparams
    from stable_baselines3.common.vec_env import DummyVecEnv

    hyperparams, stats_path = get_saved_hyperparams(str(params_path), norm_reward=False, test_mode=True)
    saved_kwargs = hyperparams.pop("env_kwargs", None) or {}
    return create_test_env(
        env_id,
        n_envs=n_envs,
        stats_path=stats_path,
        seed=seed,
        should_render=False,
        hyperparams=hyperparams,
        env_kwargs={**saved_kwargs, **env_kwargs},
        vec_env_cls=DummyVecEnv,
    )


def load_saved_model(algo: str, model_path: str | Path) -> Any:
    """A saved model loaded as ``rl_zoo3.enjoy`` loads it (schedules replaced by constants, no replay buffer), on CPU."""
    from rl_zoo3 import ALGOS
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    algo_class = ALGOS[algo]
    load_kwargs: dict[str, Any] = {"buffer_size": 1, "optimize_memory_usage": False}
    if not issubclass(algo_class, OffPolicyAlgorithm):
        load_kwargs = {}
    custom_objects = {"learning_rate": 0.0, "lr_schedule": lambda _: 0.0, "clip_range": lambda _: 0.0}  # as enjoy does
    return algo_class.load(model_path, custom_objects=custom_objects, device="cpu", **load_kwargs)


def evaluate_saved_model(
    algo: str,
    env_id: str,
    model_path: str | Path,
    params_path: str | Path,
    n_envs: int,
    episodes: int,
    seed: int,
    ways: tuple[str, ...] = ("deterministic", "stochastic"),
) -> dict[str, Any]:
    """
    Evaluate a saved model as ``rl_zoo3.enjoy`` runs it (:func:`load_saved_model` on :func:`saved_test_env`), over
    ``episodes`` episodes, once with deterministic actions and once with sampled actions (each from freshly seeded
    envs and random generators, so reproducible).

    :param ways: The ways of acting evaluated (``deterministic``, ``stochastic``)
    :return: per way of acting: the mean, std, min and max return, every episode's return and the steps played
    """
    from sb3_reinforce.common.evaluation import evaluate_policy  # SB3's; a masked model acts with its masks

    model = load_saved_model(algo, model_path)
    result: dict[str, Any] = {}
    for name in ways:
        deterministic = name == "deterministic"
        env = saved_test_env(env_id, params_path, n_envs, seed)
        model.set_random_seed(seed)
        returns, lengths = evaluate_policy(
            model, env, n_eval_episodes=episodes, deterministic=deterministic, return_episode_rewards=True
        )
        env.close()
        values = np.asarray(returns, dtype=float)
        result[name] = {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "min": float(values.min()),
            "max": float(values.max()),
            "returns": [float(v) for v in values],
            "steps": int(np.sum(lengths)),
        }
    return result


def evaluate_final_model(spec: RunSpec, manager: Any) -> dict[str, Any]:
    """
    Evaluate the final model as ``rl_zoo3.enjoy`` runs it (:func:`evaluate_saved_model`) over
    ``spec.final_eval_episodes`` episodes on seeds the run never trained on.

    :param spec: The run
    :param manager: Its ``ExperimentManager`` after ``save_trained_model``
    :return: the model's path (relative to the run folder), the episodes, the seed, and per way of acting the mean,
        std, min and max return and every episode's return
    """
    model_path = Path(manager.save_path) / f"{manager.env_name}.zip"
    evaluation = evaluate_saved_model(
        spec.algo, spec.env, model_path, manager.params_path, spec.n_eval_envs, spec.final_eval_episodes, spec.final_eval_seed
    )
    for way in evaluation.values():
        del way["steps"]  # result.json keeps its fields
    return {
        "model": str(model_path.relative_to(spec.run_dir)),
        "episodes": spec.final_eval_episodes,
        "seed": spec.final_eval_seed,
        **evaluation,
    }


def train_one(spec: RunSpec, wandb_run: Any = None) -> dict[str, Any]:
    """
    Train one run the way ``rl_zoo3.train`` does, save the final model, and evaluate it.

    :param spec: The run
    :param wandb_run: A wandb run to send SB3's logged values to (None: no wandb)
    :return: The result (status ``ok``)
    :raises KeyboardInterrupt: if training was interrupted (no result must be written)
    """
    import torch as th
    from stable_baselines3.common.callbacks import EvalCallback

    from sb3_reinforce.zoo import register

    th.set_num_threads(1)
    register()
    start = time.perf_counter()
    manager, model, saved_hyperparams = _experiment(spec)
    # Time spent in the periodic evaluations, to report training throughput without it
    evaluator = next(c for c in manager.callbacks if isinstance(c, EvalCallback))
    timed = Timed(evaluator)
    manager.callbacks[manager.callbacks.index(evaluator)] = timed
    curve = TrainingCurve()
    manager.callbacks.append(curve)
    if wandb_run is not None:
        manager.callbacks.append(LogToWandb(wandb_run))

    learn_start = time.perf_counter()
    manager.learn(model)  # catches KeyboardInterrupt itself: the signal handler below records it
    learn_time = time.perf_counter() - learn_start
    model.logger.close()  # the tensorboard writer (a worker process trains many runs)
    if _interrupted.is_set():
        raise KeyboardInterrupt
    manager.save_trained_model(model)
    timesteps, means, stds = _evaluations(manager, model, spec, evaluator)
    final_start = time.perf_counter()
    final_eval = evaluate_final_model(spec, manager)
    train_time = max(learn_time - timed.seconds, 1e-9)
    return {
        "status": "ok",
        "error": None,
        "timesteps_trained": int(model.num_timesteps),
        "eval_timesteps": timesteps,
        "eval_returns": means,
        "eval_stds": stds,
        "final_return": means[-1],
        "steps_to_threshold": steps_to_threshold(timesteps, means, spec.threshold),
        "final_eval": final_eval,
        **curve.summary(spec.threshold),
        "wall_time_s": time.perf_counter() - start,
        "train_time_s": train_time,
        "eval_time_s": timed.seconds,
        "final_eval_time_s": time.perf_counter() - final_start,
        "fps": model.num_timesteps / train_time,
        "hyperparams": {k: str(v) for k, v in saved_hyperparams.items()},
    }


_interrupted = threading.Event()


def _on_signal(signum: int, frame: Any) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


def _handle_signals() -> None:
    """SIGINT and SIGTERM interrupt the run (and mark it interrupted, since rl-zoo swallows KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def run_in_this_process(spec: RunSpec) -> int:
    """
    Run ``spec`` and write its ``result.json`` (``ok``, or ``failed`` with the error); nothing if interrupted.

    :return: Exit code: 0 ok, 1 failed, 130 interrupted
    """
    _handle_signals()
    base = {**spec.result_header(), "host": socket.gethostname()}
    run = None
    try:
        run = _start_wandb(spec)
        result = {**base, **train_one(spec, run)}
    except KeyboardInterrupt:
        print("interrupted: no result written", flush=True)
        if run is not None:
            run.finish(exit_code=INTERRUPTED)
        return INTERRUPTED
    except Exception as e:
        traceback.print_exc()
        result = {**base, "status": "failed", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    result["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if run is not None:
        summary = ("status", "error", "final_return", "steps_to_threshold", "wall_time_s", "fps", "timesteps_trained")
        run.summary.update({k: result.get(k) for k in summary})
        for name in ("deterministic", "stochastic"):
            if "final_eval" in result:
                run.summary[f"final_eval/{name}"] = result["final_eval"][name]["mean"]
        result["wandb_run"] = run.id
    write_json_atomic(spec.result_path, result)  # the single mark of a finished run
    if run is not None:
        run.finish(exit_code=0 if result["status"] == "ok" else 1)
    return 0 if result["status"] == "ok" else 1


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """This process's stdout and stderr (file descriptors 1 and 2: C code and child processes too) go to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


def _exit_with_parent(interval: float = 1.0) -> None:
    """
    Interrupt this worker (as SIGINT does: the run in progress writes no result) once the process that started it is
    gone, killed without passing a signal on (``kill`` or SIGKILL of the parent alone): a worker never trains on for
    nobody. The parent's stdin pipe closing ends an idle worker already; this covers one that is training.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve() -> int:
    """
    ``runner --worker``: train the runs whose ``spec.json`` paths arrive on stdin, one per line, one after another,
    each with its output in its ``train.log``; answer each with its exit code on a line of stdout.

    :return: 0 when stdin closes, 130 when interrupted
    """
    _handle_signals()
    _exit_with_parent()
    reply = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray output between runs goes to stderr, never into the replies
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:
        for line in sys.stdin:
            spec = RunSpec.from_json(Path(line.strip()).read_text())
            with _output_to(spec.run_dir / "train.log"):
                code = run_in_this_process(spec)
            reply.write(f"{code}\n")
            reply.flush()
            if code == INTERRUPTED:
                return INTERRUPTED
            gc.collect()
    except KeyboardInterrupt:
        return INTERRUPTED
    return 0


# ---------------------------------------------------------------------------------------------------------
# The parent side: worker processes, a local pool, progress
# ---------------------------------------------------------------------------------------------------------
class Progress:
    """Prints ``[done/total]`` lines with elapsed time and an ETA as runs finish (thread-safe)."""

    def __init__(self, total: int):
        self.total, self.done, self.count = total, 0, 0
        self.start = time.monotonic()
        self.lock = threading.Lock()

    def update(self, spec: RunSpec, result: dict[str, Any], note: str = "", done: int | None = None) -> None:
        """
        :param spec: The run that just finished
        :param result: Its result
        :param note: Appended to the line
        :param done: Runs done overall, when others count too (grid workers); the ETA assumes this pace
        """
        with self.lock:
            self.count += 1
            self.done = self.count if done is None else done
            elapsed = time.monotonic() - self.start
            eta = elapsed / self.count * max(self.total - self.done, 0)
            if result.get("status") == "ok":
                what = f"ok, final return {result['final_return']:.1f}, {result['fps']:.0f} steps/s"
                what += f", {result['wall_time_s']:.0f} s"
            else:
                what = f"FAILED: {result.get('error')}"
            print(
                f"[{self.done}/{self.total}] {spec.name}: {what}{note} | elapsed {_hms(elapsed)}, ETA {_hms(eta)}",
                flush=True,
            )


def _hms(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class WorkerProcess:
    """
    A ``runner --worker`` child process: it trains the runs it is sent, one after another.

    :param stderr: Where its output between runs goes (each run's output goes to that run's ``train.log``)
    """

    def __init__(self, stderr: Path):
        package_root = str(Path(__file__).resolve().parents[3])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        with open(stderr, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", RUNNER, "--worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                text=True,
                bufsize=1,
            )

    def run(self, spec: RunSpec) -> int | None:
        """
        Train ``spec`` (its ``spec.json`` must be written) and wait for it.

        :return: The run's exit code, or None if the process died without answering
        """
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(f"{spec.run_dir / 'spec.json'}\n")
            self.process.stdin.flush()
            reply = self.process.stdout.readline()
        except OSError:
            return None
        return int(reply) if reply.strip() else None

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def interrupt(self) -> None:
        if self.alive:
            self.process.send_signal(signal.SIGINT)

    def end_input(self) -> None:
        """Close its stdin: an idle worker then exits."""
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()

    def close(self, timeout: float = 30) -> int:
        """Close its stdin, wait for it (kill it after ``timeout`` s); its exit code."""
        self.end_input()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


class Launcher:
    """
    Trains runs in worker processes (at most one per calling thread, reused from run to run) and stops them all on
    interrupt.

    :param out: The comparison's output folder (``workers.log`` there gets the workers' output between runs)
    """

    def __init__(self, out: Path):
        self.log = Path(out) / "workers.log"
        self.idle: list[WorkerProcess] = []
        self.busy: set[WorkerProcess] = set()
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def _take(self) -> WorkerProcess | None:
        """An idle worker that is still alive, or a new one; None when stopping."""
        with self.lock:
            if self.stopping.is_set():
                return None
            while self.idle and not self.idle[-1].alive:  # died while idle (killed): never hand it a run
                self.idle.pop().close()
            worker = self.idle.pop() if self.idle else WorkerProcess(self.log)
            self.busy.add(worker)
            return worker

    def _give_back(self, worker: WorkerProcess, code: int | None) -> int | None:
        """Keep a worker that answered for the next run; wait for one that did not. Its exit code if it ended."""
        with self.lock:
            self.busy.discard(worker)
            if code is not None and code != INTERRUPTED and worker.alive and not self.stopping.is_set():
                self.idle.append(worker)
                return None
        return worker.close()

    def run(self, spec: RunSpec, attempt: str = "local") -> tuple[dict[str, Any] | None, bool]:
        """
        Train ``spec`` in a worker process, in the attempt's own folder (wiped first if an earlier attempt of the same
        name left it unfinished), then publish that folder as the run's folder (:func:`~.grid.publish`) and remove
        the folders other attempts of the run left.

        :param spec: The run
        :param attempt: The attempt's name, unique among the attempts that may train the run at the same time
        :return: The run's result (None if interrupted), and whether this attempt's folder became the run's folder
            (False when another attempt published the run first: the result is then that attempt's)
        """
        import shutil

        if self.stopping.is_set():
            return None, False
        trial = spec.attempt_of(attempt)
        if trial.run_dir.exists():
            shutil.rmtree(trial.run_dir)
        trial.run_dir.mkdir(parents=True)
        (trial.run_dir / "spec.json").write_text(trial.to_json())
        worker = self._take()
        if worker is None:
            return None, False
        code = worker.run(trial)
        exit_code = self._give_back(worker, code)
        if read_result(trial.result_path) is None:
            if INTERRUPTED in (code, exit_code):
                # The worker got the Ctrl-C before this process did (a terminal signals the whole process group):
                # stop here too, rather than going on with the next run
                self.stopping.set()
            if self.stopping.is_set():
                return None, False
            # The process died without writing a result (killed, out of memory, ...): record it as failed
            log = trial.run_dir / "train.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            error = f"run process exited with code {exit_code} without a result"
            failed = {**spec.result_header(), "status": "failed", "error": error, "traceback": tail}
            write_json_atomic(trial.result_path, failed)
        published = publish(trial.run_dir, spec.run_dir)
        for leftover in spec.run_dir.parent.glob(f".{spec.run_dir.name}.*"):  # this attempt's if it lost, and lost ones'
            shutil.rmtree(leftover, ignore_errors=True)
        return read_result(spec.result_path), published

    def stop(self) -> None:
        """Interrupt every worker (SIGINT: a run in progress writes no result) and wait for them."""
        with self.lock:
            self.stopping.set()
            workers = [*self.busy, *self.idle]
            self.idle.clear()
        for worker in workers:
            worker.interrupt()
        for worker in workers:
            worker.close()

    def close(self) -> None:
        """Let the idle workers exit (all at once) and wait for them."""
        with self.lock:
            workers, self.idle = self.idle, []
        for worker in workers:
            worker.end_input()
        for worker in workers:
            worker.close()


def run_tasks(launcher: Launcher, tasks: list[Callable[[], Any]], jobs: int, on_interrupt: str) -> None:
    """
    Run ``tasks`` on ``jobs`` threads that train through ``launcher``; on Ctrl-C (here, or in a worker first) stop
    every worker and raise ``KeyboardInterrupt``.

    :param launcher: Starts the runs
    :param tasks: Functions to call, each on a thread of the pool
    :param jobs: Threads
    :param on_interrupt: What happens to the runs, said when interrupted
    """
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = [pool.submit(task) for task in tasks]
    try:
        for future in as_completed(futures):
            future.result()
            if launcher.stopping.is_set():
                raise KeyboardInterrupt
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            print(f"\nInterrupted: {on_interrupt}", flush=True)
        launcher.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    launcher.close()
    pool.shutdown()


def run_local(specs: list[RunSpec], jobs: int) -> int:
    """
    Train every unfinished run of ``specs``, ``jobs`` at a time, printing progress.

    :return: Number of runs trained
    """
    todo = [s for s in specs if not is_finished(s)]
    print(f"{len(specs)} runs in the grid: {len(specs) - len(todo)} already finished, {len(todo)} to train, {jobs} at a time")
    if not todo:
        return 0
    progress = Progress(len(todo))
    launcher = Launcher(Path(specs[0].out))

    def train(spec: RunSpec) -> None:
        result, _ = launcher.run(spec)
        if result is not None:
            progress.update(spec, result)

    tasks: list[Callable[[], Any]] = [functools.partial(train, spec) for spec in todo]
    run_tasks(launcher, tasks, jobs, "stopping the running runs (finished runs are kept, run the same command to resume)")
    return len(todo)


def main(argv: list[str] | None = None) -> None:
    """
    ``python -m sb3_reinforce.experiments.compare.runner SPEC_JSON``: one run in this process;
    ``... runner --worker``: train the runs whose ``spec.json`` paths arrive on stdin (used by the parent process).

    :param argv: Command line arguments (without the program name); default ``sys.argv[1:]``
    """
    parser = argparse.ArgumentParser(prog=f"python -m {RUNNER}", description="Train runs of a comparison.")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("spec", nargs="?", type=Path, help="spec.json of one run to train in this process")
    group.add_argument("--worker", action="store_true", help="train the runs whose spec.json paths arrive on stdin")
    args = parser.parse_args(argv)
    if args.worker:
        raise SystemExit(serve())
    raise SystemExit(run_in_this_process(RunSpec.from_json(args.spec.read_text())))


if __name__ == "__main__":
    main()
