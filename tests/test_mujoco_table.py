"""The MuJoCo table (docs/mujoco.md) built from compare runs: best evaluation, final model, archive, the two lines."""

import json
from pathlib import Path

from sb3_reinforce.experiments import mujoco
from sb3_reinforce.experiments.mujoco import TIANSHOU_LINE, VALUE_LINE

DOCS = Path(__file__).resolve().parents[1] / "docs"


def fake_run(out, algo, env_id, seed, evals, final, fps=1000.0, line=TIANSHOU_LINE, entry=None):
    """A finished run's result.json, as the compare tool writes it; reinforce_vr's records ``line``'s config entry."""
    run = out / "runs" / algo / env_id / f"seed_{seed}"
    run.mkdir(parents=True)
    if entry is None:
        entry = mujoco.line_entry(line, env_id) if algo == line.algo else {}
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
        "settings": {"n_timesteps": 3_000_000, "entry": entry},
    }
    (run / "result.json").write_text(json.dumps(result))
    return run / "result.json"


def read_table(path):
    """The rows of a markdown table: first cell -> {header: cell}."""
    rows = [[cell.strip() for cell in line.strip("| ").split(" | ")] for line in path.read_text().splitlines()]
    return {row[0]: dict(zip(rows[0], row)) for row in rows[2:]}


def read_closeness(path):
    """The final-vs-best table: (env, algo) -> the other cells, in order."""
    cells = [line.strip("| ").split(" | ") for line in path.read_text().splitlines()]
    return {(c[0], c[1]): c[2:] for c in cells[2:]}


def test_table_reports_best_evaluation_and_final_model_per_env(tmp_path):
    out = tmp_path / "reinforce_vr"
    fake_run(out, "reinforce_vr", "HalfCheetah-v5", 0, [100.0, 950.0, 700.0], 650.0)
    fake_run(out, "reinforce_vr", "HalfCheetah-v5", 1, [200.0, 850.0, 800.0], 750.0)
    fake_run(out, "reinforce_vr", "Hopper-v5", 0, [10.0, 20.0], 15.0)
    fake_run(out, "reinforce_vr", "Hopper-v5", 1, [10.0, 30.0], 25.0, fps=3000.0)
    fake_run(tmp_path / "ppo", "ppo", "HalfCheetah-v5", 0, [1500.0], 1400.0, fps=800.0)
    archive, table = tmp_path / "docs" / "runs", tmp_path / "docs" / "table.md"
    args = ["--runs", str(out), str(tmp_path / "ppo"), "--archive", str(archive), "--out", str(table)]
    args += ["--value-archive", str(tmp_path / "docs" / "runs_value")]
    assert mujoco.main(args) == 0
    assert len(list(archive.glob("*.json"))) == 5
    rows = read_table(table)
    cheetah, hopper = rows["HalfCheetah-v5"], rows["Hopper-v5"]
    first = "reinforce_vr (Tianshou settings)"
    # best of each seed's evaluations (950, 850): mean 900 +- 50, at or above Tianshou's 884; 2 of the 5 seeds planned
    assert cheetah[f"{first}: best eval"] == "900.0 +- 50.0 (2 of 5 seeds) **>=**"
    assert cheetah[f"{first}: final model"] == "700.0 +- 50.0 (2 of 5 seeds)"  # the final models: 650 and 750
    assert cheetah["ppo: final model"] == "1400.0 (1 seed)"
    assert cheetah["steps/s: Tianshou settings"] == "1,000" and cheetah["steps/s: ppo"] == "800"
    assert cheetah["wall time (min): Tianshou settings"] == "10.0"
    assert hopper[f"{first}: best eval"] == "25.0 +- 5.0 (2 of 5 seeds)"  # below Tianshou's 395.8: no mark
    assert hopper["steps/s: Tianshou settings"] == "2,000"
    assert rows["Ant-v5"][f"{first}: best eval"] == "not measured"
    assert rows["Ant-v5"]["steps/s: Tianshou settings"] == "not measured"
    # The final models against the best evaluations, beside the table: medians over seeds, within max(10%, 50) or not
    close = read_closeness(table.parent / "table_final_vs_best.md")
    # HalfCheetah: best 900 (950, 850), final 700 (650, 750): 200 below, outside 10% of 900
    assert close["HalfCheetah-v5", first] == ["2 of 5", "900.0", "700.0", "-200.0", "90.0", "**no**"]
    assert close["HalfCheetah-v5", "ppo"] == ["1", "1500.0", "1400.0", "-100.0", "150.0", "yes"]
    assert close["Hopper-v5", first] == ["2 of 5", "25.0", "20.0", "-5.0", "50.0", "yes"]
    # both lines on every env, labelled, the baseline after them
    assert list(close)[:3] == [("HalfCheetah-v5", first), ("HalfCheetah-v5", VALUE_LINE.label), ("HalfCheetah-v5", "ppo")]
    assert close["Ant-v5", first] == ["0 of 5", "not measured", "not measured", "-", "-", "n/a"]
    assert len(close) == 2 * 9 + 1
    # The archive alone rebuilds the same table; a second archiving copies nothing new
    assert mujoco.archive([out], archive) == 0
    assert mujoco.lines_table(mujoco.load_archive(archive), []) == table.read_text()
    # Rows limited to some envs, for another algo (the vanilla entries): a table of that algo's runs alone
    vanilla = tmp_path / "vanilla.md"
    args = ["--archive", str(archive), "--out", str(vanilla), "--algo", "reinforce", "--envs", "InvertedPendulum-v5"]
    assert mujoco.main(args) == 0
    lines = vanilla.read_text().splitlines()
    assert len(lines) == 3 and lines[2].startswith("| InvertedPendulum-v5 |") and "| reinforce: best eval |" in lines[0]


def test_two_lines_side_by_side(tmp_path):
    first, value = tmp_path / "reinforce_vr", tmp_path / "reinforce_value"
    # HalfCheetah, 5 seeds each: final models 600-800 (mean 700) against 1000-1200 (mean 1100); std sqrt(5000)
    for seed in range(5):
        fake_run(first, "reinforce_vr", "HalfCheetah-v5", seed, [0.0, 900.0 + 50 * seed], 600.0 + 50 * seed)
        fake_run(value, "reinforce_vr", "HalfCheetah-v5", seed, [1300.0], 1000.0 + 50 * seed, line=VALUE_LINE)
    # Walker2d: the first line complete (final models 400), the value line 2 of 5 seeds (300, 350)
    for seed in range(5):
        fake_run(first, "reinforce_vr", "Walker2d-v5", seed, [420.0], 400.0)
    fake_run(value, "reinforce_vr", "Walker2d-v5", 0, [310.0], 300.0, fps=500.0, line=VALUE_LINE)
    fake_run(value, "reinforce_vr", "Walker2d-v5", 1, [360.0], 350.0, fps=700.0, line=VALUE_LINE)
    # Hopper: the first line only; Humanoid (no VPG figure): both, 3 seeds each
    fake_run(first, "reinforce_vr", "Hopper-v5", 0, [900.0], 850.0)
    for seed in range(3):
        fake_run(first, "reinforce_vr", "Humanoid-v5", seed, [520.0], 500.0)
        fake_run(value, "reinforce_vr", "Humanoid-v5", seed, [900.0], 600.0 + 100 * seed, line=VALUE_LINE)
    docs = tmp_path / "docs"
    args = ["--runs", str(first), "--value-runs", str(value), "--archive", str(docs / "runs")]
    args += ["--value-archive", str(docs / "runs_value"), "--out", str(docs / "table.md")]
    assert mujoco.main(args) == 0
    # each line in its own folder, under the same file names
    assert len(list((docs / "runs").glob("*.json"))) == 5 + 5 + 1 + 3
    assert len(list((docs / "runs_value").glob("*.json"))) == 5 + 2 + 3
    assert (docs / "runs_value" / "reinforce_vr-HalfCheetah-v5-seed0.json").exists()
    rows = read_table(docs / "table.md")
    first_label, value_label = TIANSHOU_LINE.label, VALUE_LINE.label

    cheetah = rows["HalfCheetah-v5"]
    assert cheetah[f"{first_label}: best eval"] == "1000.0 +- 70.7 (5) **>=**"  # 900-1100, at or above 884
    assert cheetah[f"{first_label}: final model"] == "700.0 +- 70.7 (5)"
    assert cheetah[f"{value_label}: best eval"] == "1300.0 +- 0.0 (5) **>=**"
    assert cheetah[f"{value_label}: final model"] == "1100.0 +- 70.7 (5)"
    # 1100 >= Spinning Up's ~630 and Tianshou's 884
    assert cheetah["better final model"] == "value baseline"
    assert cheetah["better final >= VPG"] == "yes" and cheetah["better final >= Tianshou 3M"] == "yes"

    walker = rows["Walker2d-v5"]
    assert walker[f"{first_label}: final model"] == "400.0 +- 0.0 (5)"
    assert walker[f"{value_label}: best eval"] == "335.0 +- 25.0 (2 of 5 seeds)"
    assert walker[f"{value_label}: final model"] == "325.0 +- 25.0 (2 of 5 seeds)"
    assert walker["steps/s: value baseline"] == "600" and walker["wall time (min): value baseline"] == "10.0"
    # 400 against 325 of a partial line: provisional; 400 is below VPG's ~470 and Tianshou's 412
    assert walker["better final model"] == "Tianshou settings (provisional: partial seeds)"
    assert walker["better final >= VPG"] == "no" and walker["better final >= Tianshou 3M"] == "no"

    hopper = rows["Hopper-v5"]
    assert hopper[f"{first_label}: final model"] == "850.0 (1 of 5 seeds)"
    assert hopper[f"{value_label}: best eval"] == "not measured"
    assert hopper[f"{value_label}: final model"] == "not measured"
    assert hopper["steps/s: value baseline"] == "not measured"
    assert hopper["better final model"] == "not decided: value baseline not measured"
    assert hopper["better final >= VPG"] == "not decided" and hopper["better final >= Tianshou 3M"] == "not decided"

    humanoid = rows["Humanoid-v5"]
    # 600, 700, 800: mean 700, std sqrt(20000/3) = 81.6; above the first line's 500 and Tianshou's 438.2
    assert humanoid[f"{value_label}: final model"] == "700.0 +- 81.6 (3)"
    assert humanoid["better final model"] == "value baseline"
    assert humanoid["better final >= VPG"] == "no VPG figure" and humanoid["better final >= Tianshou 3M"] == "yes"

    ant = rows["Ant-v5"]
    assert ant["better final model"] == "not decided: Tianshou settings and value baseline not measured"

    close = read_closeness(docs / "table_final_vs_best.md")
    # medians: best 1300, final 1100: 200 below, tolerance 130
    assert close["HalfCheetah-v5", value_label] == ["5", "1300.0", "1100.0", "-200.0", "130.0", "**no**"]
    assert close["HalfCheetah-v5", first_label] == ["5", "1000.0", "700.0", "-300.0", "100.0", "**no**"]
    assert close["Walker2d-v5", value_label] == ["2 of 5", "335.0", "325.0", "-10.0", "50.0", "yes"]
    assert close["Hopper-v5", value_label] == ["0 of 5", "not measured", "not measured", "-", "-", "n/a"]
    assert close["Humanoid-v5", value_label] == ["3", "900.0", "700.0", "-200.0", "90.0", "**no**"]


def test_lines_cannot_be_mixed(tmp_path, capsys):
    docs = tmp_path / "docs"
    archives = ["--archive", str(docs / "runs"), "--value-archive", str(docs / "runs_value"), "--out", str(docs / "t.md")]
    # a value-line run among the first line's runs: refused, naming its result.json and the option it belongs to;
    # nothing is archived, not even the first line's good run beside it
    first = tmp_path / "reinforce_vr"
    fake_run(first, "reinforce_vr", "Hopper-v5", 0, [900.0], 850.0)
    wrong = fake_run(first, "reinforce_vr", "Walker2d-v5", 0, [300.0], 290.0, line=VALUE_LINE)
    assert mujoco.main(["--runs", str(first), *archives]) == 2
    err = capsys.readouterr().err
    assert str(wrong) in err and "reinforce_mujoco_value.yml" in err and "--value-runs" in err
    assert not (docs / "runs").exists() and not (docs / "t.md").exists()
    # a first-line run given as the value line's
    value = tmp_path / "reinforce_value"
    wrong = fake_run(value, "reinforce_vr", "Hopper-v5", 0, [900.0], 850.0)
    assert mujoco.main(["--value-runs", str(value), *archives]) == 2
    err = capsys.readouterr().err
    assert str(wrong) in err and "Tianshou settings" in err and "--runs" in err
    # another algo in the value line
    ppo = tmp_path / "ppo"
    wrong = fake_run(ppo, "ppo", "Hopper-v5", 0, [900.0], 850.0)
    assert mujoco.main(["--value-runs", str(ppo), *archives]) == 2
    assert str(wrong) in capsys.readouterr().err
    # a run with another entry (here gamma): neither line's
    other = tmp_path / "other"
    entry = {**mujoco.line_entry(TIANSHOU_LINE, "Hopper-v5"), "gamma": 0.9}
    wrong = fake_run(other, "reinforce_vr", "Hopper-v5", 0, [900.0], 850.0, entry=entry)
    assert mujoco.main(["--runs", str(other), *archives]) == 2
    err = capsys.readouterr().err
    assert str(wrong) in err and "neither line" in err and "gamma: 0.9 in the run, 0.99 in the file" in err
    # a run that records no entry cannot be placed
    bare = tmp_path / "bare"
    wrong = fake_run(bare, "reinforce_vr", "Hopper-v5", 0, [900.0], 850.0)
    result = json.loads(wrong.read_text())
    del result["settings"]
    wrong.write_text(json.dumps(result))
    assert mujoco.main(["--runs", str(bare), *archives]) == 2
    assert "records no config entry" in capsys.readouterr().err
    # a result copied by hand into the other line's archive is refused when the tables are built
    assert mujoco.main(["--runs", str(tmp_path / "reinforce_value"), *archives]) == 0  # the first line's run
    capsys.readouterr()
    (docs / "runs_value").mkdir()
    copied = docs / "runs_value" / "reinforce_vr-Hopper-v5-seed0.json"
    copied.write_text((docs / "runs" / "reinforce_vr-Hopper-v5-seed0.json").read_text())
    assert mujoco.main(archives) == 2
    assert str(copied) in capsys.readouterr().err
    # one folder for both lines
    assert mujoco.main(["--archive", str(docs / "runs"), "--value-archive", str(docs / "runs")]) == 2
    assert "same folder" in capsys.readouterr().err


def test_line_entries_and_the_committed_archive():
    # the value line has a learned value baseline, the first line none (entry by entry: tests/test_zoo.py)
    for env_id in mujoco.ENVS:
        first, value = mujoco.line_entry(TIANSHOU_LINE, env_id), mujoco.line_entry(VALUE_LINE, env_id)
        assert "baseline" not in first and value["baseline"] == "value"
    # every archived reinforce_vr run of the first line was made with zoo_configs/reinforce_vr.yml
    results = mujoco.load_archive(DOCS / "mujoco" / "runs", TIANSHOU_LINE)
    assert sum(r["algo"] == "reinforce_vr" for r in results) == 5 * 5 + 4 * 3
    assert mujoco.load_archive(DOCS / "mujoco" / "runs_value", VALUE_LINE) == [
        json.loads(p.read_text()) for p in sorted((DOCS / "mujoco" / "runs_value").glob("*.json"))
    ]


def test_missing_run_folder_is_an_error(tmp_path, capsys):
    assert mujoco.main(["--runs", str(tmp_path / "nope"), "--archive", str(tmp_path / "a")]) == 2
    assert "--runs: no such folder" in capsys.readouterr().err
    assert mujoco.main(["--value-runs", str(tmp_path / "nope"), "--archive", str(tmp_path / "a")]) == 2
    assert "--value-runs: no such folder" in capsys.readouterr().err
