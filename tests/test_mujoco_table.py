"""The MuJoCo table (docs/mujoco.md) built from compare runs: best evaluation, final model, archive."""

import json

from sb3_reinforce.experiments import mujoco


def fake_run(out, algo, env_id, seed, evals, final, fps=1000.0):
    run = out / "runs" / algo / env_id / f"seed_{seed}"
    run.mkdir(parents=True)
    result = {
        "algo": algo,
        "env": env_id,
        "seed": seed,
        "status": "ok",
        "eval_returns": evals,
        "final_eval": {"deterministic": {"mean": final}},
        "fps": fps,
        "wall_time_s": 600.0,
        "n_timesteps": 3_000_000,
    }
    (run / "result.json").write_text(json.dumps(result))


def test_table_reports_best_evaluation_and_final_model_per_env(tmp_path):
    out = tmp_path / "reinforce_vr"
    fake_run(out, "reinforce_vr", "HalfCheetah-v5", 0, [100.0, 950.0, 700.0], 650.0)
    fake_run(out, "reinforce_vr", "HalfCheetah-v5", 1, [200.0, 850.0, 800.0], 750.0)
    fake_run(out, "reinforce_vr", "Hopper-v5", 0, [10.0, 20.0], 15.0)
    fake_run(out, "reinforce_vr", "Hopper-v5", 1, [10.0, 30.0], 25.0, fps=3000.0)
    fake_run(tmp_path / "ppo", "ppo", "HalfCheetah-v5", 0, [1500.0], 1400.0, fps=800.0)
    archive, table = tmp_path / "docs" / "runs", tmp_path / "docs" / "table.md"
    args = ["--runs", str(out), str(tmp_path / "ppo"), "--archive", str(archive), "--out", str(table)]
    assert mujoco.main(args) == 0
    assert len(list(archive.glob("*.json"))) == 5
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in table.read_text().splitlines()[2:]}
    cheetah, hopper = rows["HalfCheetah-v5"], rows["Hopper-v5"]
    # best of each seed's evaluations (950, 850): mean 900 +- 50, at or above Tianshou's 884
    assert cheetah[2] == "900.0 +- 50.0 (2) **>=**"
    assert cheetah[3] == "700.0 +- 50.0 (2)"  # the final models: 650 and 750
    assert cheetah[5] == "1400.0 (1 seed)" and cheetah[7] == "1,000" and cheetah[8] == "800"
    assert hopper[2] == "25.0 +- 5.0 (2)" and hopper[7] == "2,000"  # below Tianshou's 395.8: no mark
    assert rows["Ant-v5"][2] == "-"
    # The final models against the best evaluations, beside the table: medians over seeds, within max(10%, 50) or not
    cells = [line.strip("| ").split(" | ") for line in (table.parent / "table_final_vs_best.md").read_text().splitlines()]
    close = {(c[0], c[1]): c[2:] for c in cells[2:]}
    # HalfCheetah: best 900 (950, 850), final 700 (650, 750): 200 below, outside 10% of 900
    assert close["HalfCheetah-v5", "reinforce_vr"] == ["2", "900.0", "700.0", "-200.0", "90.0", "**no**"]
    assert close["HalfCheetah-v5", "ppo"] == ["1", "1500.0", "1400.0", "-100.0", "150.0", "yes"]
    assert close["Hopper-v5", "reinforce_vr"] == ["2", "25.0", "20.0", "-5.0", "50.0", "yes"]
    assert len(close) == 3 and list(close)[1] == ("HalfCheetah-v5", "ppo")  # the baseline after this package's algo
    # The archive alone rebuilds the same table; a second archiving copies nothing new
    assert mujoco.archive([out], archive) == 0
    assert mujoco.table(mujoco.load_archive(archive)) == table.read_text()
    # Rows limited to some envs, for another algo (the vanilla entries)
    vanilla = tmp_path / "vanilla.md"
    args = ["--archive", str(archive), "--out", str(vanilla), "--algo", "reinforce", "--envs", "InvertedPendulum-v5"]
    assert mujoco.main(args) == 0
    lines = vanilla.read_text().splitlines()
    assert len(lines) == 3 and lines[2].startswith("| InvertedPendulum-v5 |") and "| reinforce: best eval |" in lines[0]


def test_missing_run_folder_is_an_error(tmp_path, capsys):
    assert mujoco.main(["--runs", str(tmp_path / "nope"), "--archive", str(tmp_path / "a")]) == 2
    assert "--runs: no such folder" in capsys.readouterr().err
