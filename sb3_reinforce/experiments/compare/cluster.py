"""
Many machines: the grid as an Optuna study shared through a database (or a journal file), and what happens when a
machine is lost.

Every worker (``python -m sb3_reinforce.compare ... --storage URL --study-name S``, the same command on every
machine) puts each (algo, env, seed) cell of the grid into the study's queue (``enqueue_trial``) and takes cells
from it with ``study.optimize(objective, n_trials=1)``: Optuna hands each waiting trial to one worker. The
objective trains the cell (:meth:`Launcher.run <sb3_reinforce.experiments.compare.runner.Launcher.run>`: in an
attempt folder of its own, renamed to the run's folder once its ``result.json`` is written) and returns the final
return.

A lost machine (killed, powered off, cut from the network) is found by heartbeats:

- **Database** (PostgreSQL, MySQL, SQLite): Optuna's own. The storage is an ``RDBStorage`` with
  ``heartbeat_interval`` and ``grace_period``; while a cell trains, Optuna's heartbeat thread records a beat every
  ``heartbeat_interval`` seconds, and every ``study.optimize`` call (and a waiting worker, through
  ``optuna.storages.fail_stale_trials``) first fails the running trials whose last beat is older than
  ``grace_period``. Its ``heartbeat_stale_trial_callback``, ``RetryHeartbeatStaleTrialCallback(max_retry)``, puts
  each such cell back into the queue as a new waiting trial.
- **Journal file**: Optuna 5 records no heartbeats in a ``JournalStorage``. The same mechanism is built here on
  its public API: the worker training a cell sets the trial's ``heartbeat`` user attribute to the time every
  ``heartbeat_interval`` seconds (:class:`JournalHeartbeat`), and :func:`fail_stale_journal_trials` tells FAIL
  to a running trial silent for ``grace_period`` seconds (``study.tell`` on a finished trial fails, so only one
  worker fails it) and calls the same ``RetryHeartbeatStaleTrialCallback``. Its clocks: the machines' own (keep
  them in sync, as NTP does).

So within ``grace_period`` + ``poll_interval`` seconds of a machine's loss its cell is waiting again, and a
surviving or later worker trains it. A worker with nothing to train does not exit while another worker's cell may
still be lost: it waits, checking for stale trials every ``poll_interval`` seconds, and ends when every cell has a
result, or when the cells without one have no waiting or running trial left (their retries are spent: the
report and the worker's exit status say so).

No cell is trained to completion twice, the lost attempt aside: a cell is trained only by its *owner*, the
lowest-numbered of its trials that are waiting or running (two workers starting together may both queue a cell;
the other trial is told PRUNED with ``duplicate_of``), and a cell whose result is already in the output folder is
not trained again. A machine that was only cut from the database keeps training while its cell is retried
elsewhere: both attempts train in folders of their own, and the first to finish publishes its folder as the run's
(one ``os.rename``, which fails once the run's folder exists); the other's result is discarded. A worker
interrupted with Ctrl-C tells FAIL and puts its cell back into the queue for the others.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sb3_reinforce.experiments.compare.grid import GRACE_PERIOD, HEARTBEAT_INTERVAL, MAX_RETRY, RunSpec, read_result
from sb3_reinforce.experiments.compare.runner import Launcher, Progress, is_finished, run_tasks

# Seconds between two looks at the study of a worker waiting for other workers' cells
POLL_INTERVAL = 5

Cell = tuple[str, str, int]
CELL_KEYS = ("algo", "env", "seed")


def cell_of(trial: Any) -> Cell | None:
    """The grid cell of a trial (its ``cell`` user attribute, set when it was enqueued), or None."""
    cell = trial.user_attrs.get("cell")
    return None if cell is None else (cell[0], cell[1], int(cell[2]))


class RunFailed(Exception):
    """The cell's run ended with ``status: failed`` (its trial is told FAIL; the result stays, the cell is done)."""


class Interrupted(Exception):
    """This worker was interrupted while training the cell (its trial is told FAIL and the cell queued again)."""


def retry_callback(max_retry: int) -> Any:
    """Optuna's ``RetryHeartbeatStaleTrialCallback``: a stale trial's cell is queued again, at most ``max_retry`` times."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)


class JournalHeartbeat:
    """
    The heartbeat Optuna records in a database, for a journal file: while the ``with`` block runs, a thread sets
    the trial's ``heartbeat`` user attribute to the time every ``interval`` seconds. It stops by itself when the
    trial can no longer be written (another worker failed it as stale).

    :param trial: The running trial
    :param interval: Seconds between two heartbeats
    """

    def __init__(self, trial: Any, interval: float):
        self.trial, self.interval = trial, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while True:
            try:
                self.trial.set_user_attr("heartbeat", time.time())
            except Exception:  # the trial was finished by another worker: nothing left to keep alive
                return
            if self.stop.wait(self.interval):
                return

    def __enter__(self) -> JournalHeartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def last_sign_of_life(trial: Any) -> float:
    """The time of a running trial's last heartbeat, or of its start if later (a retry copies its original's attrs)."""
    started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
    return max(float(trial.user_attrs.get("heartbeat", 0.0)), started)


def fail_stale_journal_trials(study: Any, grace_period: float, callback: Callable[[Any, Any], None]) -> list[int]:
    """
    For a journal file, what ``optuna.storages.fail_stale_trials`` does for a database: tell FAIL to every running
    trial with no heartbeat for ``grace_period`` seconds and call ``callback(study, trial)`` for each trial failed
    here (a trial another worker failed first is skipped: telling a finished trial raises).

    :return: The numbers of the trials failed here
    """
    import optuna
    from optuna.trial import TrialState

    failed = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if now - last_sign_of_life(trial) <= grace_period:
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError, RuntimeError):
            continue
        failed.append(trial.number)
        callback(study, next(t for t in study.get_trials(deepcopy=False) if t.number == trial.number))
    return failed


class GridWorker:
    """
    One worker of the grid study (see the module's documentation).

    :param specs: The grid (all with the same output folder)
    :param storage_url: Optuna storage (``*.log`` journal file or database URL)
    :param study_name: Study name (shared by all workers)
    :param heartbeat_interval: Seconds between two heartbeats of a training worker
    :param grace_period: Seconds without a heartbeat after which a worker counts as lost
    :param max_retry: Times a lost worker's cell is queued again
    :param poll_interval: Seconds between two looks at the study while waiting for other workers' cells
    """

    def __init__(
        self,
        specs: list[RunSpec],
        storage_url: str,
        study_name: str,
        heartbeat_interval: int = HEARTBEAT_INTERVAL,
        grace_period: int = GRACE_PERIOD,
        max_retry: int = MAX_RETRY,
        poll_interval: float = POLL_INTERVAL,
    ):
        import optuna

        from sb3_reinforce.zoo.storage import is_journal, open_storage

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        self.specs = specs
        self.by_cell: dict[Cell, RunSpec] = {(s.algo, s.env, s.seed): s for s in specs}
        self.choices = {key: list(dict.fromkeys(getattr(s, key) for s in specs)) for key in CELL_KEYS}
        self.heartbeat_interval, self.grace_period, self.poll_interval = heartbeat_interval, grace_period, poll_interval
        self.retry = retry_callback(max_retry)
        self.journal = is_journal(storage_url)
        if self.journal:
            storage = open_storage(storage_url)
        else:
            storage = open_storage(storage_url, heartbeat_interval, grace_period, heartbeat_stale_trial_callback=self.retry)
        self.study = optuna.create_study(storage=storage, study_name=study_name, direction="maximize", load_if_exists=True)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.current = threading.local()  # the trial each of this worker's threads runs
        self.interrupted: list[Cell] = []
        self.launcher = Launcher(Path(specs[0].out))
        self.progress = Progress(len(specs))
        self.trained = 0

    # -- the queue --------------------------------------------------------------------------------------------
    def _enqueue(self, cell: Cell, skip_if_exists: bool) -> None:
        self.study.enqueue_trial(dict(zip(CELL_KEYS, cell)), user_attrs={"cell": list(cell)}, skip_if_exists=skip_if_exists)

    def _trials(self, *states: Any) -> list[Any]:
        return self.study.get_trials(deepcopy=False, states=states or None)

    def enqueue_cells(self) -> None:
        """Queue every cell not queued yet, and again every cell whose trials all failed without leaving a result."""
        from optuna.trial import TrialState

        for cell in self.by_cell:
            self._enqueue(cell, skip_if_exists=True)
        trials = self._trials()
        live = {cell_of(t) for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)}
        failed = {cell_of(t) for t in trials if t.state == TrialState.FAIL}
        for cell in self.by_cell:
            if cell in failed - live and not is_finished(self.by_cell[cell]):
                print(f"re-queueing {self.by_cell[cell].name} (an earlier worker left it without a result)", flush=True)
                self._enqueue(cell, skip_if_exists=False)

    def fail_stale(self) -> None:
        """Fail the running trials of lost workers; Optuna's retry callback queues their cells again."""
        import optuna

        if self.journal:
            fail_stale_journal_trials(self.study, self.grace_period, self.retry)
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self.study)

    def missing(self) -> list[RunSpec]:
        """The cells of the grid without a result in the output folder."""
        return [spec for spec in self.specs if not is_finished(spec)]

    def recoverable(self, missing: list[RunSpec]) -> bool:
        """Whether a cell without a result still has a waiting or running trial (possibly a lost one)."""
        from optuna.trial import TrialState

        live = {cell_of(t) for t in self._trials(TrialState.WAITING, TrialState.RUNNING)}
        return any((s.algo, s.env, s.seed) in live for s in missing)

    def duplicate_of(self, trial: Any, cell: Cell) -> int | None:
        """The trial that owns ``cell`` or has completed it, when it is not ``trial``."""
        from optuna.trial import TrialState

        trials = [t for t in self._trials() if cell_of(t) == cell]
        owner = min(t.number for t in trials if t.state in (TrialState.WAITING, TrialState.RUNNING))
        if owner != trial.number:
            return owner
        return next((t.number for t in trials if t.state == TrialState.COMPLETE), None)

    # -- one cell ---------------------------------------------------------------------------------------------
    @contextmanager
    def heartbeat(self, trial: Any) -> Iterator[None]:
        """A journal file's heartbeat while the cell trains (a database gets Optuna's own, from ``study.optimize``)."""
        if not self.journal:
            yield
            return
        with JournalHeartbeat(trial, self.heartbeat_interval):
            yield

    def objective(self, trial: Any) -> float:
        """
        Train the trial's cell (unless another trial owns it or the output folder holds its result).

        :return: The run's final return
        :raises optuna.TrialPruned: not a cell (the queue emptied while it was asked for) or another trial's cell
        :raises RunFailed: the run failed; :raises Interrupted: this worker was interrupted
        """
        import optuna

        self.current.number = trial.number
        cell = cell_of(trial)
        if cell is None:  # another worker took the last waiting trial in between: optimize() made a new one
            trial.set_user_attr("note", "not a grid cell: the queue emptied while it was asked for")
            raise optuna.TrialPruned
        for key, value in zip(CELL_KEYS, cell):
            assert trial.suggest_categorical(key, self.choices[key]) == value  # records the enqueued params
        trial.set_user_attr("worker", self.name)
        first = self.duplicate_of(trial, cell)
        if first is not None:
            trial.set_user_attr("duplicate_of", first)
            raise optuna.TrialPruned
        spec = self.by_cell[cell]
        with self.heartbeat(trial):
            if is_finished(spec):
                result, note = read_result(spec.result_path), " (already finished)"
            else:
                result, published = self.launcher.run(spec, attempt=f"trial-{trial.number}")
                note = "" if published else " (another attempt finished it first: its result is kept, this one discarded)"
                self.trained += int(published)
        if result is None:
            self.interrupted.append(cell)
            raise Interrupted(spec.name)
        self.progress.update(spec, result, note, done=len(self.specs) - len(self.missing()))
        if result.get("status") != "ok":
            trial.set_user_attr("error", str(result.get("error")))
            raise RunFailed(str(result.get("error")))
        return float(result["final_return"])

    def run_one(self) -> bool:
        """
        Take the next waiting trial and run it.

        :return: False when this worker was interrupted (its cells are then queued again for the other workers)
        """
        import optuna
        from optuna.trial import TrialState

        self.current.number = None
        try:
            self.study.optimize(self.objective, n_trials=1, catch=(RunFailed, Interrupted))
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError) as e:
            # Telling the trial failed: was it failed as stale while this worker trained it (this worker was cut
            # from the storage for longer than the grace period)? Then its cell was queued again, and the folder
            # published first holds the cell's result.
            number = self.current.number
            lost = [t for t in self._trials(TrialState.FAIL) if t.number == number]
            if not lost or lost[0].user_attrs.get("worker") != self.name:
                raise
            print(f"trial {number} of this worker was declared lost by another worker while it trained ({e})", flush=True)
        if self.launcher.stopping.is_set():
            for cell in self.interrupted:
                if not is_finished(self.by_cell[cell]):
                    print(f"queueing {self.by_cell[cell].name} again for the other workers", flush=True)
                    self._enqueue(cell, skip_if_exists=False)
            self.interrupted.clear()
            return False
        return True

    def work(self) -> None:
        """Train cells until every cell has a result or none that lacks one can still get it (or until interrupted)."""
        from optuna.trial import TrialState

        while not self.launcher.stopping.is_set():
            self.fail_stale()
            if self._trials(TrialState.WAITING):
                if not self.run_one():
                    return
                continue
            missing = self.missing()
            if not missing or not self.recoverable(missing):
                return
            self.launcher.stopping.wait(self.poll_interval)  # another worker's cell may be lost: wait for its heartbeat


def run_grid_worker(
    specs: list[RunSpec],
    storage_url: str,
    study_name: str,
    jobs: int = 1,
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    grace_period: int = GRACE_PERIOD,
    max_retry: int = MAX_RETRY,
    poll_interval: float = POLL_INTERVAL,
) -> int:
    """
    Work on the grid as an Optuna study (see the module's documentation) until no cell is left that can be trained.

    :param specs: The grid (all with the same output folder)
    :param storage_url: Optuna storage (``*.log`` journal file or database URL)
    :param study_name: Study name (shared by all workers)
    :param jobs: Cells trained at the same time by this worker
    :param heartbeat_interval: Seconds between two heartbeats of a training worker
    :param grace_period: Seconds without a heartbeat after which a worker counts as lost
    :param max_retry: Times a lost worker's cell is queued again
    :param poll_interval: Seconds between two looks at the study while waiting for other workers' cells
    :return: Number of cells this worker trained (the cells still without a result are in the report)
    """
    worker = GridWorker(specs, storage_url, study_name, heartbeat_interval, grace_period, max_retry, poll_interval)
    worker.enqueue_cells()
    print(
        f"Grid worker {worker.name} on study {study_name!r} ({len(specs)} cells, {jobs} at a time; a worker silent for "
        f"{grace_period} s counts as lost and its cell is queued again, at most {max_retry} times)",
        flush=True,
    )
    tasks: list[Callable[[], Any]] = [worker.work] * jobs
    run_tasks(worker.launcher, tasks, jobs, "stopping this worker's runs (their cells go back to the queue)")
    return worker.trained
