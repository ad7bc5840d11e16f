"""
Running the grid: one run in its own process, a local pool of ``J`` such processes, and the Optuna grid worker.

Each run is ``python -m sb3_reinforce.experiments.compare.runner <run_dir>/spec.json``: it builds the model and envs with
rl-zoo's ``ExperimentManager`` exactly as ``rl_zoo3.train`` does, trains, and ends by writing ``result.json``
atomically. Only ``result.json`` marks a run finished: a process that is interrupted writes none (its leftovers
are wiped when the run starts again); a run that raises writes one with ``status: failed`` and the error.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from sb3_reinforce.experiments.compare.grid import RunSpec, read_result, write_json_atomic
from sb3_reinforce.experiments.compare.stats import steps_to_threshold

INTERRUPTED = 130  # exit code of an interrupted run or command (128 + SIGINT)


def is_finished(spec: RunSpec) -> bool:
    """A run is finished when its ``result.json`` exists (ok or failed)."""
    return read_result(spec.result_path) is not None


# ---------------------------------------------------------------------------------------------------------
# One run, inside its own process
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

        return wandb.init(
            project=spec.wandb_project,
            group=spec.comparison,
            tags=[spec.algo, spec.env],
            name=f"{spec.algo}__{spec.env}__seed{spec.seed}",
            job_type="compare",
            config={"algo": spec.algo, "env": spec.env, "seed": spec.seed, **spec.settings()},
            mode=wandb_mode(),  # type: ignore[arg-type]
            sync_tensorboard=True,
            dir=spec.out,
            settings=wandb.Settings(console="off", init_timeout=60),
        )
    except Exception as e:
        print(f"wandb: could not start ({type(e).__name__}: {e}), going on without it", flush=True)
        return None


def train_one(spec: RunSpec) -> dict[str, Any]:
    """
    Train and evaluate one run the way ``rl_zoo3.train`` does.

    :param spec: The run
    :return: The result (status ``ok``)
    :raises KeyboardInterrupt: if training was interrupted (no result must be written)
    """
    import torch as th
    from rl_zoo3.exp_manager import ExperimentManager
    from stable_baselines3.common.callbacks import EvalCallback

    from sb3_reinforce.zoo import register

    th.set_num_threads(1)
    register()
    start = time.perf_counter()
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

    # Time spent evaluating, to report training throughput without it
    eval_time = 0.0
    for callback in manager.callbacks:
        if isinstance(callback, EvalCallback):
            evaluate = callback._on_step

            def timed_on_step(evaluate=evaluate) -> bool:
                nonlocal eval_time
                t0 = time.perf_counter()
                try:
                    return evaluate()
                finally:
                    eval_time += time.perf_counter() - t0

            callback._on_step = timed_on_step  # type: ignore[method-assign]

    learn_start = time.perf_counter()
    manager.learn(model)  # catches KeyboardInterrupt itself: the signal handler below records it
    learn_time = time.perf_counter() - learn_start
    if _interrupted.is_set():
        raise KeyboardInterrupt

    evaluations = np.load(Path(manager.save_path) / "evaluations.npz")
    timesteps = [int(t) for t in evaluations["timesteps"]]
    results = evaluations["results"]  # (n_evals, n_eval_episodes)
    means = [float(r) for r in results.mean(axis=1)]
    stds = [float(r) for r in results.std(axis=1)]
    if not timesteps:  # budget below one evaluation period: evaluate the final policy once
        from stable_baselines3.common.evaluation import evaluate_policy

        eval_env = next(c.eval_env for c in manager.callbacks if isinstance(c, EvalCallback))
        returns, _ = evaluate_policy(model, eval_env, n_eval_episodes=spec.n_eval_episodes, return_episode_rewards=True)
        timesteps, means, stds = [int(model.num_timesteps)], [float(np.mean(returns))], [float(np.std(returns))]
    train_time = max(learn_time - eval_time, 1e-9)
    return {
        "status": "ok",
        "error": None,
        "timesteps_trained": int(model.num_timesteps),
        "eval_timesteps": timesteps,
        "eval_returns": means,
        "eval_stds": stds,
        "final_return": means[-1],
        "steps_to_threshold": steps_to_threshold(timesteps, means, spec.threshold),
        "wall_time_s": time.perf_counter() - start,
        "train_time_s": train_time,
        "eval_time_s": eval_time,
        "fps": model.num_timesteps / train_time,
        "hyperparams": {k: str(v) for k, v in saved_hyperparams.items()},
    }


_interrupted = threading.Event()


def _on_signal(signum: int, frame: Any) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


def run_in_this_process(spec: RunSpec) -> int:
    """
    Run ``spec`` and write its ``result.json`` (``ok``, or ``failed`` with the error); nothing if interrupted.

    :return: Exit code: 0 ok, 1 failed, 130 interrupted
    """
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    base = {**spec.result_header(), "host": socket.gethostname()}
    run = None
    try:
        run = _start_wandb(spec)
        result = {**base, **train_one(spec)}
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
        result["wandb_run"] = run.id
    write_json_atomic(spec.result_path, result)  # the single mark of a finished run
    if run is not None:
        run.finish(exit_code=0 if result["status"] == "ok" else 1)
    return 0 if result["status"] == "ok" else 1


# ---------------------------------------------------------------------------------------------------------
# The parent side: one process per run, a local pool, progress
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


class Launcher:
    """Starts runs as child processes and stops them all on interrupt."""

    def __init__(self) -> None:
        self.children: set[subprocess.Popen] = set()
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self, spec: RunSpec) -> dict[str, Any] | None:
        """
        Train ``spec`` in a child process (wiping leftovers of an earlier, unfinished attempt first).

        :return: Its result, or None if it was interrupted
        """
        if self.stopping.is_set():
            return None
        run_dir = spec.run_dir
        if run_dir.exists():
            import shutil

            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        (run_dir / "spec.json").write_text(spec.to_json())
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        with open(run_dir / "train.log", "wb") as log:
            with self.lock:
                if self.stopping.is_set():
                    return None
                child = subprocess.Popen(
                    [sys.executable, "-m", "sb3_reinforce.experiments.compare.runner", str(run_dir / "spec.json")],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
                self.children.add(child)
            code = child.wait()
            with self.lock:
                self.children.discard(child)
        result = read_result(spec.result_path)
        if result is not None:
            return result
        if code == INTERRUPTED:
            # The child got the Ctrl-C before this process did (a terminal signals the whole process group):
            # stop here too, rather than going on with the next run
            self.stopping.set()
        if self.stopping.is_set():
            return None
        # The process died without writing a result (killed, out of memory, ...): record it as failed
        tail = (run_dir / "train.log").read_text(errors="replace")[-2000:]
        result = {
            **spec.result_header(),
            "status": "failed",
            "error": f"run process exited with code {code} without a result",
            "traceback": tail,
        }
        write_json_atomic(spec.result_path, result)
        return result

    def stop(self) -> None:
        """Interrupt every running child (SIGINT: they write no result) and wait for them."""
        with self.lock:
            self.stopping.set()
            children = list(self.children)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


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
    launcher = Launcher()
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures: dict[Future, RunSpec] = {pool.submit(launcher.run, spec): spec for spec in todo}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                if result is not None:
                    progress.update(futures[future], result)
            if launcher.stopping.is_set():
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        print("\nInterrupted: stopping the running runs (finished runs are kept, run the same command to resume)")
        launcher.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return len(todo)


# ---------------------------------------------------------------------------------------------------------
# Many machines: the grid as an Optuna study, each worker pulling the next cell
# ---------------------------------------------------------------------------------------------------------
def open_storage(url: str) -> Any:
    """An Optuna storage: a ``*.log`` path is a JournalStorage file (as in rl-zoo), anything else an RDB URL."""

    if url.endswith(".log"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url))
    return url


class AskTellGridSampler(optuna.samplers.GridSampler):
    """
    ``GridSampler`` for an ask/tell loop. Its ``after_trial`` only calls ``study.stop()`` once the grid is
    exhausted, which raises outside ``study.optimize()``; the worker loop checks for work left itself.
    """

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        pass


def run_grid_worker(specs: list[RunSpec], storage_url: str, study_name: str, jobs: int = 1) -> int:
    """
    Work on the grid as an Optuna study with ``GridSampler`` over (algo, env, seed), until no cell is left.

    Trial ``k < n_cells`` of the study is grid cell ``k`` (GridSampler's rule), so concurrent workers get
    distinct cells. A cell already finished in the output folder is told complete without training. Cells
    whose trial failed without leaving a result (an interrupted worker) are put back into the study's queue
    (``enqueue_trial``) when a worker starts.

    :param specs: The grid (all with the same output folder)
    :param storage_url: Optuna storage (``*.log`` journal file or database URL)
    :param study_name: Study name (shared by all workers)
    :param jobs: Cells trained at the same time by this worker
    :return: Number of cells this worker trained
    """
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    algos = list(dict.fromkeys(s.algo for s in specs))
    envs = list(dict.fromkeys(s.env for s in specs))
    seeds = list(dict.fromkeys(s.seed for s in specs))
    by_cell = {(s.algo, s.env, s.seed): s for s in specs}
    space = {"algo": algos, "env": envs, "seed": seeds}
    sampler = AskTellGridSampler(space, seed=0)  # type: ignore[arg-type]
    study = optuna.create_study(
        storage=open_storage(storage_url), study_name=study_name, sampler=sampler, direction="maximize", load_if_exists=True
    )
    n_cells = len(by_cell)
    # The cell of each grid_id, in GridSampler's own order (it shuffles its grid with its seed; params by name:
    # algo, env, seed). Trials are mapped back through it before their params are suggested.
    grid: list[Any] = [tuple(cell) for cell in sampler._all_grids]
    lock = threading.Lock()

    def cell_of(trial: optuna.trial.FrozenTrial) -> tuple | None:
        fixed = trial.system_attrs.get("fixed_params")
        if fixed:  # an enqueued trial
            return fixed["algo"], fixed["env"], fixed["seed"]
        grid_id = trial.system_attrs.get("grid_id")
        return None if grid_id is None else grid[grid_id]

    # Put back cells left without a result by an interrupted worker
    trials = study.get_trials(deepcopy=False)
    live = {cell_of(t) for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)}
    tried = {cell_of(t) for t in trials if t.state.is_finished()}
    for cell in grid:
        if cell in tried - live and not is_finished(by_cell[cell]):
            print(f"re-queueing {by_cell[cell].name} (an earlier worker left it without a result)")
            study.enqueue_trial(dict(zip(("algo", "env", "seed"), cell)))

    def has_work() -> bool:
        trials = study.get_trials(deepcopy=False)
        if any(t.state == TrialState.WAITING for t in trials):
            return True
        taken = {cell_of(t) for t in trials}
        return len(taken & set(grid)) < n_cells

    progress = Progress(n_cells)
    launcher = Launcher()
    trained = 0

    def work() -> None:
        nonlocal trained
        while not launcher.stopping.is_set():
            with lock:  # the has_work() check and ask() as one step within this worker
                if not has_work():
                    return
                trial = study.ask()
            cell = (
                trial.suggest_categorical("algo", algos),
                trial.suggest_categorical("env", envs),
                trial.suggest_categorical("seed", seeds),
            )
            spec = by_cell[cell]
            trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            first = [t.number for t in running if t.number < trial.number and cell_of(t) == cell]
            if first:  # another worker took the same cell first (GridSampler re-hands running cells at the end)
                trial.set_user_attr("duplicate_of", first[0])
                study.tell(trial, state=TrialState.PRUNED)
                continue
            if is_finished(spec):
                result, note = read_result(spec.result_path), " (already finished)"
            else:
                result, note = launcher.run(spec), ""
                if result is not None:
                    trained += 1
            if result is None:  # interrupted
                study.tell(trial, state=TrialState.FAIL)
                return
            n_done = sum(is_finished(s) for s in specs)
            progress.update(spec, result, note, done=n_done)
            if result.get("status") == "ok":
                study.tell(trial, float(result["final_return"]))
            else:
                trial.set_user_attr("error", str(result.get("error")))
                study.tell(trial, state=TrialState.FAIL)

    print(f"Grid worker {socket.gethostname()}:{os.getpid()} on study {study_name!r} ({n_cells} cells, {jobs} at a time)")
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = [pool.submit(work) for _ in range(jobs)]
    try:
        for future in futures:
            future.result()
        if launcher.stopping.is_set():
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        print("\nInterrupted: stopping this worker's runs (their cells go back to the queue on the next start)")
        launcher.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return trained


def main() -> None:
    """``python -m sb3_reinforce.experiments.compare.runner SPEC_JSON``: one run (used by the parent process)."""
    spec = RunSpec.from_json(Path(sys.argv[1]).read_text())
    raise SystemExit(run_in_this_process(spec))


if __name__ == "__main__":
    main()
