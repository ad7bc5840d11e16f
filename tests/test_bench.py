"""Smoke tests of the benchmark script: tiny sizes, output structure only (no timing assertions)."""

from __future__ import annotations

import pytest

from sb3_reinforce.experiments import bench


def test_zoo_hyperparams_are_rl_zoo_configs():
    pytest.importorskip("rl_zoo3")
    for algo in ("a2c", "ppo"):
        hyperparams = bench.zoo_hyperparams(algo)
        assert hyperparams["n_envs"] == bench.N_ENVS
        assert "n_timesteps" in hyperparams
    ppo = bench.zoo_hyperparams("ppo")
    # rl-zoo's "lin_0.001" becomes rl-zoo's own schedule of the progress remaining
    from rl_zoo3.utils import SimpleLinearSchedule

    assert isinstance(ppo["learning_rate"], SimpleLinearSchedule)
    assert ppo["learning_rate"](1.0) == pytest.approx(1e-3)
    assert ppo["learning_rate"](0.5) == pytest.approx(5e-4)


def test_runners_take_the_steps_asked_for():
    pytest.importorskip("rl_zoo3")
    for name, run in bench.RUNNERS.items():
        taken, seconds = run(64, 0)
        assert taken >= 64, name
        assert seconds > 0, name


def test_measure_and_format_throughput():
    runners = {"reinforce": bench.run_reinforce, "physical": bench.run_physical}
    results = bench.measure_throughput(runners, steps=64, repeats=2)
    assert list(results) == ["reinforce", "physical"]
    assert all(len(values) == 2 and all(v > 0 for v in values) for values in results.values())
    table = bench.format_throughput(results, steps=64)
    assert "| reinforce |" in table and "| physical |" in table
    assert "reinforce >= 0.6 x physical" in table
    # 64 steps are too short to judge a target: no "yes"/"no" verdict
    assert "| not judged |" in table and "too short to judge" in table
    assert "| no |" not in table and "| yes |" not in table


def test_targets_are_judged_at_full_budget():
    results = {"reinforce": [30_000.0, 32_000.0], "physical": [60_000.0, 62_000.0], "a2c": [10_000.0, 11_000.0]}
    table = bench.format_throughput(results, steps=bench.DEFAULT_STEPS)
    assert "| reinforce >= 0.6 x physical | 0.51 x | no |" in table
    assert "| reinforce >= 2.0 x a2c | 2.95 x | yes |" in table
    assert "too short" not in table


def test_measure_rollout_memory():
    rows = bench.measure_rollout_memory([8, 16])
    assert [row["n_episodes"] for row in rows] == [8, 16]
    for row in rows:
        assert row["steps"] >= row["steps_kept"] > 0
        assert row["peak_bytes"] > 0 and row["buffer_bytes"] > 0
        assert row["bytes_per_step"] == pytest.approx(row["peak_bytes"] / row["steps"])
    assert "Least-squares fit" in bench.format_memory(rows)


def test_synthetic_batch_has_the_requested_shape():
    model = bench.synthetic_model(1_600)
    n_episodes = bench.fill_synthetic_batch(model, 1_600)
    batch = model.rollout_buffer.get()
    assert len(batch.rewards) == 1_600
    assert len(batch.lengths) == n_episodes == model.n_episodes
    assert batch.lengths.sum() == 1_600 and batch.lengths.min() >= 1


def test_measure_train():
    rows = bench.measure_train([800, 1_600], repeats=1)
    assert [row["steps"] for row in rows] == [800, 1_600]
    for row in rows:
        assert row["seconds"] > 0 and row["episodes"] >= 1
        assert row["numpy_peak_bytes"] > 0
    table = bench.format_train(rows)
    assert "| 1,600 |" in table


def test_main_prints_markdown(capsys):
    bench.main(
        [
            "--quick",
            "--steps",
            "64",
            "--repeats",
            "1",
            "--candidates",
            "reinforce",
            "physical",
            "--memory-episodes",
            "8",
            "--train-sizes",
            "800",
        ]
    )
    out = capsys.readouterr().out
    assert "Machine:" in out
    assert "| candidate |" in out and "| n_episodes |" in out and "| batch steps |" in out


def test_masked_and_recurrent_targets_are_judged_against_their_own_reference():
    from sb3_reinforce.experiments import bench_masked, bench_recurrent

    results = {"masked_reinforce": [29_000.0], "masked_ppo": [3_000.0], "reinforce": [36_000.0]}
    table = bench.format_throughput(
        results, bench.DEFAULT_STEPS, "masked_reinforce", bench_masked.DESCRIPTIONS, bench_masked.MASKED_TARGETS
    )
    assert "| masked_reinforce >= 2.0 x masked_ppo | 9.67 x | yes |" in table
    assert "| masked_reinforce >= 0.9 x reinforce | 0.81 x | no |" in table
    results = {"recurrent_reinforce": [7_000.0], "recurrent_ppo": [250.0]}
    table = bench.format_throughput(
        results, bench.DEFAULT_STEPS, "recurrent_reinforce", bench_recurrent.DESCRIPTIONS, bench_recurrent.RECURRENT_TARGETS
    )
    assert "| recurrent_reinforce >= 1.0 x recurrent_ppo | 28.00 x | yes |" in table


def test_mask_recurrent_section_runs_every_candidate_and_judges_both_targets():
    from sb3_reinforce.experiments import bench_mask_recurrent as bench_mr

    for name, run in bench_mr.RUNNERS.items():
        steps, seconds = run(400, 0)
        assert steps >= 400 and seconds > 0, name
    results = {"mask_recurrent_reinforce": [8_000.0], "recurrent_reinforce": [10_000.0], "recurrent_ppo": [400.0]}
    table = bench.format_throughput(
        results, bench.DEFAULT_STEPS, "mask_recurrent_reinforce", bench_mr.DESCRIPTIONS, bench_mr.MASK_RECURRENT_TARGETS
    )
    assert "| mask_recurrent_reinforce >= 0.85 x recurrent_reinforce | 0.80 x | no |" in table
    assert "| mask_recurrent_reinforce >= 10.0 x recurrent_ppo | 20.00 x | yes |" in table
