"""The comparison report's final model against best evaluation table, on hand-made results (nothing trained)."""

import shutil

import pytest

from sb3_reinforce.experiments.compare import main, report
from sb3_reinforce.experiments.compare.grid import write_json_atomic
from sb3_reinforce.experiments.compare.stats import final_close_to_best

ENVS = {"CartPole-v1": 475.0, "Pendulum-v1": -200.0}


def fake_result(out, algo, env_id, seed, evals, final=None, status="ok"):
    """A run's ``result.json`` with the given periodic evaluations and final model (deterministic) mean return."""
    result = {
        "comparison": "x",
        "algo": algo,
        "env": env_id,
        "seed": seed,
        "status": status,
        "n_timesteps": 1000,
        "threshold": ENVS[env_id],
        "error": None if status == "ok" else "boom",
    }
    if status == "ok":
        result.update(
            eval_timesteps=[500 * (i + 1) for i in range(len(evals))],
            eval_returns=evals,
            eval_stds=[1.0] * len(evals),
            final_return=evals[-1],
            steps_to_threshold=None,
            train_return_final=evals[-1],
            train_return_best=max(evals),
            train_steps_to_threshold=None,
            wall_time_s=10.0,
            fps=100.0,
        )
    if final is not None:
        result["final_eval"] = {"episodes": 4, "deterministic": {"mean": final}, "stochastic": {"mean": final - 1.0}}
    write_json_atomic(out / "runs" / algo / env_id / f"seed_{seed}" / "result.json", result)


@pytest.fixture
def fake_comparison(tmp_path):
    out = tmp_path / "cmp"
    # CartPole, reinforce: bests 480, 500, 470 (median 480); finals 440, 460, 300 (median 440): 40 below, within 50
    fake_result(out, "reinforce", "CartPole-v1", 0, [100.0, 480.0, 450.0], 440.0)
    fake_result(out, "reinforce", "CartPole-v1", 1, [200.0, 500.0, 490.0], 460.0)
    fake_result(out, "reinforce", "CartPole-v1", 2, [300.0, 400.0, 470.0], 300.0)
    # CartPole, a2c: bests 500, 450, 480, 490 (median 485); finals 350, 420, 400 (median 400), the fourth run without
    # a final evaluation (missing): 85 below, outside max(48.5, 50)
    fake_result(out, "a2c", "CartPole-v1", 0, [500.0, 300.0], 350.0)
    fake_result(out, "a2c", "CartPole-v1", 1, [450.0, 200.0], 420.0)
    fake_result(out, "a2c", "CartPole-v1", 2, [480.0, 100.0], 400.0)
    fake_result(out, "a2c", "CartPole-v1", 3, [490.0, 480.0])
    # Pendulum, reinforce: bests -1000, -900, -1100 (median -1000); finals -1080, -1100, -1050 (median -1080): 80
    # below, within 10% of |-1000| = 100 (outside 50 points alone)
    fake_result(out, "reinforce", "Pendulum-v1", 0, [-1500.0, -1000.0, -1200.0], -1080.0)
    fake_result(out, "reinforce", "Pendulum-v1", 1, [-900.0, -1300.0], -1100.0)
    fake_result(out, "reinforce", "Pendulum-v1", 2, [-1400.0, -1100.0], -1050.0)
    # Pendulum, a2c: bests -150, -140, -160 (median -150); finals -210, -190, -205 (median -205): 55 below, outside
    # max(15, 50) = 50
    fake_result(out, "a2c", "Pendulum-v1", 0, [-300.0, -150.0], -210.0)
    fake_result(out, "a2c", "Pendulum-v1", 1, [-140.0, -200.0], -190.0)
    fake_result(out, "a2c", "Pendulum-v1", 2, [-400.0, -160.0], -205.0)
    # Pendulum, ppo: its only run failed, nothing to compare
    fake_result(out, "ppo", "Pendulum-v1", 0, [], status="failed")
    report.write_meta(out, {"algos": ["reinforce", "a2c", "ppo"], "envs": list(ENVS), "n_eval_episodes": 2})
    # The random policy's returns, cached: the report measures none
    write_json_atomic(out / "random_scores.json", {"CartPole-v1": 22.0, "Pendulum-v1": -1200.0})
    return out


def final_vs_best_rows(summary):
    """The final model against best evaluation rows of each env's section: {(env, algo): cells}."""
    rows, env = {}, None
    for line in summary.splitlines():
        if line.startswith("## "):
            env = line[3:]
        elif line.startswith("| ") and line.count(" | ") == 6 and not line.startswith("| algo "):
            cells = line.strip("| ").split(" | ")
            rows[env, cells[0]] = cells[1:]
    return rows


def test_final_close_to_best():
    assert final_close_to_best(480.0, 440.0) == (-40.0, 50.0, True)
    assert final_close_to_best(485.0, 400.0) == (-85.0, 50.0, False)
    assert final_close_to_best(1000.0, 900.0) == (-100.0, 100.0, True)  # 10% of 1000, exactly at the bound
    assert final_close_to_best(1000.0, 899.0) == (-101.0, 100.0, False)
    # Negative returns: 10% of |best|
    assert final_close_to_best(-1000.0, -1080.0) == (-80.0, 100.0, True)
    assert final_close_to_best(-1000.0, -1101.0) == (-101.0, 100.0, False)
    assert final_close_to_best(-150.0, -205.0) == (-55.0, 50.0, False)  # 10% is 15: 50 points
    assert final_close_to_best(400.0, 450.0) == (50.0, 50.0, True)  # above its best: within


def test_report_compares_median_final_with_median_best(fake_comparison):
    summary = report.build_report(fake_comparison, quiet=True)
    rows = final_vs_best_rows(summary)
    assert rows["CartPole-v1", "reinforce"] == ["3", "480.0", "440.0", "-40.0", "50.0", "yes"]
    assert rows["CartPole-v1", "a2c"] == ["4", "485.0", "400.0 (3 runs; 1 missing)", "-85.0", "50.0", "**no**"]
    assert rows["Pendulum-v1", "reinforce"] == ["3", "-1,000.0", "-1,080.0", "-80.0", "100.0", "yes"]
    assert rows["Pendulum-v1", "a2c"] == ["3", "-150.0", "-205.0", "-55.0", "50.0", "**no**"]
    missing = "missing (1 of 1 runs)"
    assert rows["Pendulum-v1", "ppo"] == ["1", missing, missing, "n/a", "n/a", "n/a"]
    assert len(rows) == 5
    assert "max(0.1 x |median best|, 50) below it" in summary  # the rule, in the explanatory paragraph
    # The final model table, unchanged, still leaves the run without a final evaluation out
    assert "| a2c | 4 | 400.0 (350.0, 420.0) | 0/3 |" in summary


def test_report_is_rebuilt_from_results_csv_alone(fake_comparison, tmp_path):
    summary = report.build_report(fake_comparison, quiet=True)
    kept = tmp_path / "kept"  # what docs/ keeps of a comparison: no run folders
    kept.mkdir()
    for name in ("results.csv", "comparison.json", "random_scores.json"):
        shutil.copy(fake_comparison / name, kept / name)
    main(["--report-only", "--out", str(kept)])
    assert (kept / "results.csv").read_bytes() == (fake_comparison / "results.csv").read_bytes()
    rebuilt = (kept / "summary.md").read_text()
    assert "read back from its `results.csv` (the run folders are not kept)" in rebuilt.splitlines()[2]
    assert rebuilt.splitlines()[3:] == summary.splitlines()[3:]
    assert final_vs_best_rows(rebuilt) == final_vs_best_rows(summary)


def test_report_only_without_runs_or_results_csv_fails(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--report-only", "--out", str(tmp_path)])
    assert e.value.code == 2 and f"/runs and no {tmp_path}/results.csv" in capsys.readouterr().err
