"""The comparison command: grid, report, wandb offline, resuming, failures, bad input (grid workers: test_cluster.py)."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sb3_reinforce.experiments.compare import main
from sb3_reinforce.experiments.compare.grid import GridError, build_grid, parse_conf_files, write_json_atomic
from sb3_reinforce.experiments.compare.runner import train_one
from sb3_reinforce.experiments.compare.stats import (
    MIN_RUNS_FOR_CI,
    interval_estimate,
    iqm,
    mean,
    median_steps,
    steps_to_threshold,
)
from tests.cli import ROOT, default_sigint, run_module

# Tiny runs: 600 steps, an evaluation every 200 steps with 2 episodes on 2 envs, the final model over 4 episodes
TINY = ["-n", "600", "--n-evals", "3", "--eval-episodes", "2", "--n-eval-envs", "2", "--final-eval-episodes", "4"]


def compare(*args, cwd, check=True, timeout=240):
    return run_module("sb3_reinforce.compare", *args, cwd=cwd, timeout=timeout, check=check)


def start_compare(args, cwd, **popen_kwargs):
    """``python -m sb3_reinforce.compare ARGS`` started in the background, in a process group of its own (as a terminal
    starts it: a Ctrl-C there reaches the whole group)."""
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "sb3_reinforce.compare", *map(str, args)]
    return subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True, **popen_kwargs)


def result_files(out):
    return sorted(out.glob("runs/*/*/seed_*/result.json"))


def test_stats():
    assert iqm(np.array([[1.0], [2.0], [3.0], [4.0], [100.0]])) == pytest.approx(3.0)  # trims one score each side
    point, low, high = interval_estimate(np.array([1.0, 2.0, 3.0, 10.0, 4.0]), mean)
    assert point == 4.0 and 1.0 <= low < point < high <= 10.0
    assert interval_estimate(np.array([1.0, 2.0, 3.0, 10.0, 4.0]), mean) == (point, low, high)  # seeded: reproducible
    # Below MIN_RUNS_FOR_CI seeds there is no interval: a bootstrap of 2 to 4 runs is about their range
    assert MIN_RUNS_FOR_CI == 5
    assert all(np.isnan(interval_estimate(np.arange(n, dtype=float), mean)[1]) for n in range(1, 5))
    assert interval_estimate(np.array([1.0, 2.0, 3.0]), mean, min_runs=2)[1] < 2.0
    # Stratified over envs: (n_runs, n_envs), rliable's mean is the mean of the per-env means
    scores = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0], [3.0, 13.0], [4.0, 14.0]])
    assert interval_estimate(scores, mean)[0] == pytest.approx(7.0)
    assert steps_to_threshold([100, 200, 300], [1.0, 5.0, 4.0], 5.0) == 200
    assert steps_to_threshold([100, 200], [1.0, 2.0], 5.0) is None
    assert median_steps([100, None, 300]) == 300 and median_steps([None, None, 100]) is None


def test_training_curve_is_read_at_true_env_steps():
    from stable_baselines3.common.env_util import make_vec_env

    from sb3_reinforce import REINFORCE
    from sb3_reinforce.experiments.compare.runner import TrainingCurve

    curve = TrainingCurve()
    model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), n_episodes=4, seed=0)
    model.learn(3000, callback=curve)
    assert curve.timesteps == sorted(curve.timesteps) and curve.timesteps[-1] == model.num_timesteps >= 3000
    # Every env step counts (4 envs, steps after an env's episode quota too), not only the finished episodes' lengths
    assert all(t % 4 == 0 for t in curve.timesteps)
    assert curve.returns[-1] == pytest.approx(np.mean([info["r"] for info in model.ep_info_buffer]))
    summary = curve.summary(threshold=-1e9)
    assert summary["train_steps_to_threshold"] == curve.timesteps[0]
    assert summary["train_return_best"] >= summary["train_return_final"] == curve.returns[-1]
    assert curve.summary(threshold=1e9)["train_steps_to_threshold"] is None


def test_bad_input_fails_before_training(tmp_path, capsys):
    def fails(*args, match):
        with pytest.raises(SystemExit) as error:
            main(["--out", str(tmp_path / "out"), "--no-wandb", *args])
        assert error.value.code == 2
        message = capsys.readouterr().err
        assert match in message, message
        assert not (tmp_path / "out" / "runs").exists()  # nothing trained, nothing started

    fails("--algos", "reinforce", "a2cc", "--envs", "CartPole-v1", match="Unknown algo 'a2cc'. Did you mean 'a2c'?")
    fails("--algos", "reinforce", "--envs", "CartPole-v2", match="Unknown env id 'CartPole-v2'")
    fails("--algos", "reinforce", "--envs", "MountainCar-v0", match="No entry for env 'MountainCar-v0'")
    fails("--algos", "a2c", "--params", "ppo:n_steps:8", match="--params 'ppo:n_steps:8'")
    fails("--algos", "reinforce", "--params", "reinforce:n_episodes:0", match="n_episodes")
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as error:
        main(["--out", str(tmp_path / "file" / "out"), "--no-wandb", "--algos", "a2c", "--envs", "CartPole-v1"])
    assert error.value.code == 2 and "is not writable" in capsys.readouterr().err
    with pytest.raises(GridError, match="seeds must be >= 1"):
        build_grid(["a2c"], ["CartPole-v1"], 0, tmp_path / "out", "x")


def test_budget_is_shared_by_the_compared_algos_or_the_measured_config_own(tmp_path):
    from sb3_reinforce.zoo import default_config
    from sb3_reinforce.zoo.config import load_entry

    two = build_grid(["reinforce", "a2c"], ["CartPole-v1"], 1, tmp_path, "x")
    assert {s.n_timesteps for s in two} == {200_000}  # DEFAULT_BUDGETS, the same for both
    (one,) = build_grid(["reinforce"], ["CartPole-v1"], 1, tmp_path, "x")  # measuring one config: its own budget
    assert one.n_timesteps == int(load_entry(default_config("reinforce"), "CartPole-v1")["n_timesteps"])
    (given,) = build_grid(["reinforce"], ["CartPole-v1"], 1, tmp_path, "x", n_timesteps=600)
    assert given.n_timesteps == 600
    # --own-budgets: every algo at its own entry's budget, as rl-zoo's train runs it
    own = build_grid(["reinforce", "a2c"], ["CartPole-v1"], 1, tmp_path, "x", own_budgets=True, n_evals=10)
    a2c_entry = load_entry(parse_conf_files([], ["a2c"])["a2c"], "CartPole-v1")  # rl-zoo's own a2c.yml
    expected = {"reinforce": one.n_timesteps, "a2c": int(a2c_entry["n_timesteps"])}
    assert {s.algo: s.n_timesteps for s in own} == expected and len(set(expected.values())) == 2
    assert {s.algo: s.eval_freq for s in own} == {algo: budget // 10 for algo, budget in expected.items()}
    with pytest.raises(GridError, match="--own-budgets"):
        build_grid(["reinforce", "a2c"], ["CartPole-v1"], 1, tmp_path, "x", own_budgets=True, n_timesteps=600)


def test_a_bad_params_key_is_reported_as_given_with_compare_s_flag(tmp_path):
    with pytest.raises(GridError, match=r"Key 'n_episode' given with --params .*Did you mean 'n_episodes'"):
        build_grid(["reinforce"], ["CartPole-v1"], 1, tmp_path, "x", params=["reinforce:n_episode:4"])


def test_first_seed_shifts_the_seeds_and_the_missing_list(tmp_path):
    from sb3_reinforce.experiments.compare import report

    specs = build_grid(["reinforce"], ["CartPole-v1"], 3, tmp_path, "x", n_timesteps=600, first_seed=10)
    assert [s.seed for s in specs] == [10, 11, 12] and specs[0].run_dir.name == "seed_10"
    with pytest.raises(GridError, match="--first-seed must be >= 0"):
        build_grid(["reinforce"], ["CartPole-v1"], 1, tmp_path, "x", first_seed=-1)
    report.write_meta(tmp_path, {"algos": ["reinforce"], "envs": ["CartPole-v1"], "seeds": 3, "first_seed": 10})
    write_json_atomic(specs[1].result_path, {**specs[1].result_header(), "status": "failed", "error": "boom"})
    summary = report.build_report(tmp_path, quiet=True)
    hole = "**2 of the grid's 3 runs have no result**: reinforce CartPole-v1 seed 10, reinforce CartPole-v1 seed 12."
    assert summary.splitlines()[2] == hole and summary.count(hole) == 2  # said before the tables, and again at the end


def test_results_made_with_other_settings_are_not_mixed_in(tmp_path):
    (spec,) = build_grid(["a2c"], ["CartPole-v1"], 1, tmp_path, "x", n_timesteps=600)
    write_json_atomic(spec.result_path, {"algo": "a2c", "status": "ok", "settings": {**spec.settings(), "n_timesteps": 500}})
    with pytest.raises(GridError, match=r"other settings.*n_timesteps: 500 there, 600 now"):
        build_grid(["a2c"], ["CartPole-v1"], 1, tmp_path, "x", n_timesteps=600)


def test_compare_report_wandb_and_resume(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["--algos", "reinforce", "a2c", "--envs", "CartPole-v1", "--seeds", 2, *TINY, "--out", out, "--jobs", 2]
    first = compare(*args, "--wandb-project", "test-compare", cwd=tmp_path)
    assert "4 runs in the grid: 0 already finished, 4 to train" in first.stdout
    assert "[4/4]" in first.stdout and "ETA" in first.stdout

    results = [json.loads(p.read_text()) for p in result_files(out)]
    assert len(results) == 4 and all(r["status"] == "ok" for r in results), results
    for r in results:
        assert r["eval_timesteps"][-1] >= 600 - 200 and len(r["eval_returns"]) == len(r["eval_timesteps"]) >= 2
        assert r["final_return"] == r["eval_returns"][-1] and r["fps"] > 0 and r["threshold"] == 475.0
        assert r["wandb_run"]
        # The final model, saved where rl-zoo's enjoy loads it, evaluated both ways on 4 episodes
        final = r["final_eval"]
        assert final["model"] == f"zoo/{r['algo']}/CartPole-v1_1/CartPole-v1.zip"
        assert (out / "runs" / r["algo"] / "CartPole-v1" / f"seed_{r['seed']}" / final["model"]).is_file()
        assert final["episodes"] == 4 and final["seed"] != r["seed"]
        for way in ("deterministic", "stochastic"):
            assert len(final[way]["returns"]) == 4 and final[way]["mean"] == pytest.approx(np.mean(final[way]["returns"]))
        assert r["train_return_final"] > 0 and r["train_return_best"] >= r["train_return_final"]

    table = pd.read_csv(out / "results.csv")
    assert set(table["algo"]) == {"reinforce", "a2c"} and set(table["seed"]) == {0, 1}
    assert len(table) == sum(len(r["eval_timesteps"]) for r in results)  # one row per run and evaluation point
    assert {"final_eval_deterministic", "final_eval_stochastic", "train_return_final"} <= set(table.columns)
    assert table["final_eval_deterministic"].notna().all() and (table["final_eval_episodes"] == 4).all()

    summary = (out / "summary.md").read_text()
    for text in ("## CartPole-v1", "| reinforce | 2/2 |", "| a2c | 2/2 |", "## Across envs", "learning_curves.png"):
        assert text in summary, text
    # 2 seeds: no interval is called a 95% CI
    assert "(no CI: 2 seeds < 5)" in summary and not re.search(r"\d \[-?\d", summary)
    # The final models' table: median (min, max) over seeds and how many reach the threshold, each way of acting
    assert "final model, deterministic: median (min, max) | reach threshold" in summary
    assert "final model, sampled actions: median (min, max) | reach threshold" in summary
    assert re.search(r"\| reinforce \| 2 \| [\d.]+ \([\d.]+, [\d.]+\) \| 0/2 \|", summary), summary
    for png in ("learning_curves.png", "aggregate.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # wandb: offline, one run per (algo, env, seed) in the comparison's group with algo and env as tags
    offline = sorted((out / "wandb").glob("offline-run-*"))
    assert len(offline) == 4, offline
    assert all(list(run.glob("*.wandb")) for run in offline)

    # Resume: the same command trains nothing it already has
    stamps = {p: p.stat().st_mtime_ns for p in result_files(out)}
    capsys.readouterr()
    main([*map(str, args), "--no-wandb"])
    assert "4 already finished, 0 to train" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in result_files(out)} == stamps

    (out / "summary.md").unlink()
    main(["--out", str(out), "--report-only"])
    rebuilt = (out / "summary.md").read_text()
    assert rebuilt[rebuilt.index("## CartPole-v1") :] == summary[summary.index("## CartPole-v1") :]


def test_crashing_run_is_reported_and_others_go_on(tmp_path):
    out = tmp_path / "cmp"
    result = compare(
        *("--algos", "reinforce", "a2c", "--envs", "CartPole-v1", "--seeds", 1, *TINY, "--out", out, "--jobs", 2),
        *("--no-wandb", "--params", "a2c:policy:'NoSuchPolicy'"),
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED" in result.stdout
    failed = json.loads((out / "runs/a2c/CartPole-v1/seed_0/result.json").read_text())
    assert failed["status"] == "failed" and "NoSuchPolicy" in failed["error"] and "Traceback" in failed["traceback"]
    assert json.loads((out / "runs/reinforce/CartPole-v1/seed_0/result.json").read_text())["status"] == "ok"
    summary = (out / "summary.md").read_text()
    assert "## Failed runs" in summary and "| a2c | CartPole-v1 | 0 |" in summary and "NoSuchPolicy" in summary
    assert "| a2c | 0/1 | failed |" in summary and "| reinforce | 1/1 |" in summary


def test_a_run_whose_process_dies_is_recorded_and_the_next_run_gets_a_new_worker(tmp_path):
    out = tmp_path / "cmp"
    result = compare(
        *("--algos", "a2c", "reinforce", "--envs", "CartPole-v1", "--seeds", 1, *TINY, "--out", out, "--no-wandb"),
        *("--params", "a2c:env_wrapper:'sys.exit'"),  # the wrapper ends the worker process (SystemExit) mid-run
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    failed = json.loads((out / "runs/a2c/CartPole-v1/seed_0/result.json").read_text())
    assert failed["status"] == "failed" and "without a result" in failed["error"]
    assert json.loads((out / "runs/reinforce/CartPole-v1/seed_0/result.json").read_text())["status"] == "ok"


def test_a_worker_process_gives_the_same_result_as_a_fresh_one(tmp_path):
    # Runs trained one after another in one process must not depend on what ran before (seeding, leftover state);
    # with normalize, the final model is evaluated with the VecNormalize statistics saved beside it
    settings = dict(n_timesteps=600, n_evals=3, n_eval_episodes=2, n_eval_envs=2, final_eval_episodes=3)
    # Observations only: the entry's return_scaled_lr refuses normalized rewards
    normalize = "reinforce:normalize:\"{'norm_obs': True, 'norm_reward': False}\""
    grid = build_grid(["reinforce"], ["CartPole-v1"], 2, tmp_path, "x", params=[normalize], **settings)
    first = train_one(grid[0])
    assert (grid[0].run_dir / "zoo/reinforce/CartPole-v1_1/CartPole-v1/vecnormalize.pkl").is_file()
    train_one(grid[1])
    again = train_one(grid[0])  # a new rl-zoo log folder (CartPole-v1_2) after other runs in this process
    assert again["final_eval"].pop("model") == "zoo/reinforce/CartPole-v1_2/CartPole-v1.zip"
    assert first["final_eval"].pop("model") == "zoo/reinforce/CartPole-v1_1/CartPole-v1.zip"
    for key in ("eval_timesteps", "eval_returns", "final_eval", "train_return_final", "timesteps_trained"):
        assert again[key] == first[key], key


def test_interrupted_run_leaves_no_result_and_resumes(tmp_path):
    out = tmp_path / "cmp"
    args = ["--algos", "reinforce", "--envs", "CartPole-v1", "--seeds", 2, "-n", 200_000, "--out", out, "--no-wandb"]
    process = start_compare(
        args, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=default_sigint
    )
    attempt = out / "runs/reinforce/CartPole-v1/.seed_0.local"  # the attempt's folder, published once finished
    log = attempt / "train.log"
    deadline = time.monotonic() + 120
    while not re.search(r"Using \d+ environments", log.read_text() if log.exists() else ""):  # seed 0 is training
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert not result_files(out)  # interrupted runs are not mistaken for finished ones
    assert log.exists() and not (out / "runs/reinforce/CartPole-v1/seed_0").exists()  # leftovers, never published

    # The next call (here with a small budget: no result was kept, so nothing is mixed in) trains it afresh
    resumed = compare(
        "--algos", "reinforce", "--envs", "CartPole-v1", "--seeds", 1, *TINY, "--out", out, "--no-wandb", cwd=tmp_path
    )
    assert "0 already finished, 1 to train" in resumed.stdout
    assert len(result_files(out)) == 1
    assert [p.name for p in (out / "runs/reinforce/CartPole-v1/seed_0/zoo/reinforce").iterdir()] == ["CartPole-v1_1"]
    assert not attempt.exists()  # leftovers wiped


def _gone(pid):
    """True once ``pid`` has exited (a zombie left to a container's init that does not reap it counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_whose_parent_is_killed_stops_training(tmp_path):
    """SIGKILL of compare alone (not its process group): its worker interrupts the run and exits, writing no result."""
    out = tmp_path / "cmp"
    args = ["--algos", "reinforce", "--envs", "CartPole-v1", "--seeds", 1, "-n", 1_000_000, "--out", out, "--no-wandb"]
    process = start_compare(args, tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = out / "runs/reinforce/CartPole-v1/.seed_0.local/train.log"
    deadline = time.monotonic() + 120
    try:
        while not re.search(r"Using \d+ environments", log.read_text() if log.exists() else ""):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        tasks = Path(f"/proc/{process.pid}/task").iterdir()  # the worker is started from a pool thread
        workers = [int(pid) for task in tasks for pid in (task / "children").read_text().split()]
        assert len(workers) == 1
        process.kill()  # the parent alone: the worker is not signalled
        process.wait()
        while not _gone(workers[0]):
            assert time.monotonic() < deadline, "the worker trains on after its parent was killed"
            time.sleep(0.2)
        assert "interrupted: no result written" in log.read_text()
        assert not result_files(out)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
