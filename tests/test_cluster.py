"""
The grid on many machines (``compare --storage``): a real PostgreSQL server (tests/postgres.py) and a journal file,
workers started at the same moment, a worker lost with SIGKILL while it trains, and the report of what is missing.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import optuna
import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from sb3_reinforce.experiments.compare.grid import publish, read_result, write_json_atomic
from sb3_reinforce.zoo.storage import open_storage
from tests.cli import ROOT, run_module

# Tiny runs (see test_compare.py); a lost worker is found 5 s after its last heartbeat
TINY = ["-n", "600", "--n-evals", "3", "--eval-episodes", "2", "--n-eval-envs", "2", "--final-eval-episodes", "4"]
HEARTBEAT = ["--heartbeat-interval", "1", "--grace-period", "5"]
TRAINED = re.compile(r"^\[\d+/\d+\] (\S+ \S+ seed \d+): ok, .*s \| elapsed")  # a line of a run trained by this worker


def start_workers(n, args, cwd):
    """``n`` grid workers started at the same moment, each in a process group of its own (a machine of its own)."""
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(ROOT)}
    return [
        subprocess.Popen(
            [sys.executable, "-m", "sb3_reinforce.compare", *map(str, args)],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        for _ in range(n)
    ]


def load_study(url, name, deadline):
    """The grid's study, once a worker has created it."""
    while True:
        try:
            return optuna.load_study(study_name=name, storage=open_storage(url))
        except KeyError:
            assert time.monotonic() < deadline, "no worker created the study"
            time.sleep(0.2)


def kill_while_training(worker, study, out, deadline):
    """
    SIGKILL the worker and its run process (the whole machine) once it trains a cell: its trial is running and the
    attempt's folder exists. Its trial's number.
    """
    while True:
        assert worker.poll() is None and time.monotonic() < deadline, "the worker never trained a cell"
        mine = [
            t
            for t in study.get_trials(states=(TrialState.RUNNING,))
            if t.user_attrs.get("worker", "").endswith(f":{worker.pid}")
        ]
        if mine and list(out.glob(f"runs/*/*/.seed_*.trial-{mine[0].number}/spec.json")):
            os.killpg(worker.pid, signal.SIGKILL)
            return mine[0].number
        time.sleep(0.1)


def trained_lines(outputs):
    """The cells each worker trained to completion, over every worker's output."""
    return [m.group(1) for output in outputs for line in output.splitlines() if (m := TRAINED.match(line))]


@pytest.fixture(params=["postgresql", "journal"])
def storage_url(request, tmp_path):
    """An empty database on the session's PostgreSQL server (its URL as the docs write it), or a journal file."""
    if request.param == "journal":
        return str(tmp_path / "grid.log")
    return request.getfixturevalue("postgres").create_database(f"grid_{uuid.uuid4().hex[:8]}")


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_lost_worker_cell_is_trained_again_and_no_cell_is_missing(tmp_path, storage_url):
    out = tmp_path / "cmp"
    args = [
        *("--algos", "reinforce", "a2c", "--envs", "CartPole-v1", "--seeds", 4, *TINY, "--out", out, "--no-wandb"),
        *("--storage", storage_url, "--study-name", "grid", *HEARTBEAT),
    ]
    workers = start_workers(3, args, tmp_path)  # on an empty database: the three create its tables at once
    deadline = time.monotonic() + 180
    study = load_study(storage_url, "grid", deadline)
    lost = kill_while_training(workers[0], study, out, deadline)
    killed = time.time()
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert workers[0].returncode == -signal.SIGKILL
    assert [w.returncode for w in workers[1:]] == [0, 0], outputs

    # Every cell has exactly one result, trained to completion once (the lost attempt printed nothing)
    results = sorted(out.glob("runs/*/*/seed_*/result.json"))
    cells = {(r["algo"], r["env"], r["seed"]) for r in map(read_result, results)}
    assert len(results) == 8 and len(cells) == 8
    assert all(read_result(p)["status"] == "ok" for p in results)
    trained = trained_lines(outputs)
    assert sorted(trained) == sorted(f"{a} {e} seed {s}" for a, e, s in cells), outputs
    assert not list(out.glob("runs/*/*/.seed_*")), "an attempt's folder was left behind"

    # The lost trial was failed for its missing heartbeats and its cell queued again by Optuna's retry callback; the
    # cell was then trained by one later trial: the retry, or a duplicate queued when the workers started (the retry
    # is then PRUNED as a duplicate)
    trials = study.get_trials()
    assert trials[lost].state == TrialState.FAIL
    (retry,) = [t for t in trials if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == lost]
    assert retry.params == trials[lost].params and retry.state in (TrialState.COMPLETE, TrialState.PRUNED)
    (again,) = [t for t in trials if t.params == trials[lost].params and t.state == TrialState.COMPLETE]
    assert again.number > lost
    print(f"lost cell restarted {again.datetime_start.timestamp() - killed:.1f} s after the kill (grace period 5 s)")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 8 and len({tuple(sorted(t.params.items())) for t in complete}) == 8
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials if t.number != lost)

    # The report is complete, and says so
    summary = (out / "summary.md").read_text()
    assert "have no result" not in summary and "| reinforce | 4/4 |" in summary and "| a2c | 4/4 |" in summary
    assert all("(8 of 8 runs, 0 failed)" in output for output in outputs[1:])


def test_cells_that_no_worker_can_recover_are_reported_and_trained_by_the_next_worker(tmp_path):
    out, journal = tmp_path / "cmp", str(tmp_path / "grid.log")
    args = [
        *("--algos", "reinforce", "--envs", "CartPole-v1", "--seeds", 3, *TINY, "--out", out, "--no-wandb"),
        *("--storage", journal, "--study-name", "grid", *HEARTBEAT, "--max-retry", 0),
    ]
    workers = start_workers(2, args, tmp_path)
    deadline = time.monotonic() + 180
    lost = kill_while_training(workers[0], load_study(journal, "grid", deadline), out, deadline)
    output = workers[1].communicate(timeout=300)[0]
    workers[0].communicate(timeout=60)
    # The survivor waited for the lost worker's cell, found it lost for good (no retry left) and says so
    assert workers[1].returncode == 1, output
    study = load_study(journal, "grid", deadline)
    cell = study.trials[lost].user_attrs["cell"]
    hole = f"reinforce CartPole-v1 seed {cell[2]}"
    assert f"(2 of 3 runs, 0 failed, 1 without a result: {hole})" in output
    summary = (out / "summary.md").read_text()
    assert summary.count(f"**1 of the grid's 3 runs have no result**: {hole}.") == 2

    # The same command again re-queues the cell and trains it
    again = run_module("sb3_reinforce.compare", *args, cwd=tmp_path)
    assert f"re-queueing {hole}" in again.stdout and trained_lines([again.stdout]) == [hole]
    assert "(3 of 3 runs, 0 failed)" in again.stdout and "have no result" not in (out / "summary.md").read_text()


def test_the_first_attempt_to_finish_publishes_the_run(tmp_path):
    run_dir = tmp_path / "runs/reinforce/CartPole-v1/seed_0"
    attempts = [tmp_path / f"runs/reinforce/CartPole-v1/.seed_0.trial-{n}" for n in (3, 9)]
    for n, attempt in zip((3, 9), attempts):
        write_json_atomic(attempt / "result.json", {"attempt": n})
    assert publish(attempts[1], run_dir) and not publish(attempts[0], run_dir)
    assert read_result(run_dir / "result.json") == {"attempt": 9} and attempts[0].exists()


def test_a_database_url_without_its_driver_stops_at_once(tmp_path):
    result = run_module(
        "sb3_reinforce.compare",
        *("--algos", "reinforce", "--envs", "CartPole-v1", "--out", tmp_path / "cmp"),
        *("--storage", "mysql+pymysql://user:secret@127.0.0.1/grid"),
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --storage mysql+pymysql://user:***@127.0.0.1/grid needs the database driver")
    assert "pymysql" in line and 'pip install "sb3-reinforce[cluster]"' in line
    assert not (tmp_path / "cmp").exists()  # nothing started


def test_workers_started_at_once_all_open_an_empty_database(postgres):
    url = postgres.create_database("schema_race")
    code = (
        "import optuna; from sb3_reinforce.zoo.storage import open_storage; "
        f"optuna.create_study(storage=open_storage({url!r}, heartbeat_interval=1, grace_period=2), "
        "study_name='s', load_if_exists=True); print('opened')"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(8)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0] * 8, outputs
    assert json.dumps(outputs).count("opened") == 8
