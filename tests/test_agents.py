"""The shipped trained agents (trained_agents/): rl-zoo's layout, enjoy plays each, benchmark.md comes from them."""

import json
import re
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import yaml

from sb3_reinforce import REINFORCE, zoo
from sb3_reinforce.experiments import agents
from sb3_reinforce.experiments.compare.runner import evaluate_saved_model
from tests.cli import ROOT

FOLDER = ROOT / "trained_agents"
SHIPPED = agents.shipped(FOLDER)


def benchmark_rows():
    """algo, env -> the row's cells of trained_agents/benchmark.md."""
    rows = {}
    for line in (FOLDER / "benchmark.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 8 and cells[0] in zoo.ALGOS:
            rows[cells[0], cells[1]] = cells
    return rows


def test_every_listed_agent_is_shipped_and_listed_in_the_benchmark():
    listed = {(a.algo, a.env) for a in agents.AGENTS}
    assert set(SHIPPED) == listed
    assert set(benchmark_rows()) == listed
    for algo, env_id in SHIPPED:
        folder = agents.agent_folder(FOLDER, algo, env_id)
        args = yaml.load((folder / env_id / "args.yml").read_text(), Loader=yaml.UnsafeLoader)
        assert args["log_folder"] == "trained_agents" and "/" not in str(args["tensorboard_log"])
        assert not re.search(r"(^|\s)/\w", (folder / env_id / "args.yml").read_text())  # no machine path anywhere
        assert (folder / f"{env_id}.zip").stat().st_size < 2_000_000
        with zipfile.ZipFile(folder / f"{env_id}.zip") as model:
            assert json.loads(model.read("data"))["tensorboard_log"] is None  # SB3 stores the training machine's path
    assert sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file()) < 8_000_000  # a few MB


@pytest.mark.parametrize("algo,env_id", SHIPPED)
def test_enjoy_plays_every_shipped_agent(algo, env_id, capsys):
    zoo.enjoy(["--algo", algo, "--env", env_id, "--folder", str(FOLDER), "-n", "300", "--no-render", "--seed", "0"])
    assert "Loading" in capsys.readouterr().out


def test_the_benchmark_figures_come_from_the_shipped_files():
    # Acrobot's episodes are short: the agent's 100 episodes again, as `agents benchmark` plays them
    _, _, mean, std, _, steps, episodes, _ = benchmark_rows()["reinforce_vr", "Acrobot-v1"]
    zoo.register()
    folder = agents.agent_folder(FOLDER, "reinforce_vr", "Acrobot-v1")
    model, params = folder / "Acrobot-v1.zip", folder / "Acrobot-v1"
    result = evaluate_saved_model(
        "reinforce_vr", "Acrobot-v1", model, params, 1, int(episodes), agents.EVAL_SEED, ("deterministic",)
    )
    way = result["deterministic"]
    assert (f"{way['mean']:.3f}", f"{way['std']:.3f}", str(way["steps"])) == (mean, std, steps)


def test_collect_copies_rl_zoo_layout_without_machine_paths(tmp_path):
    agent = agents.Agent("reinforce", "CartPole-v1", 3)
    run = tmp_path / "runs/cmp/runs/reinforce/CartPole-v1/seed_3/zoo/reinforce/CartPole-v1_1"
    (run / "CartPole-v1").mkdir(parents=True)
    REINFORCE("MlpPolicy", "CartPole-v1").save(run / "CartPole-v1.zip")
    (run / "CartPole-v1" / "config.yml").write_text("- - n_envs\n  - 2\n")
    args = OrderedDict(env="CartPole-v1", seed=3, log_folder="/somewhere/zoo", tensorboard_log="/somewhere/tb")
    args["conf_file"] = "/somewhere/zoo_configs/reinforce.yml"
    with open(run / "CartPole-v1" / "args.yml", "w") as f:
        yaml.dump(args, f)
    (run / "evaluations.npz").write_bytes(b"not shipped")

    assert agents.collect(tmp_path / "runs", tmp_path / "out", [agent, agents.Agent("reinforce", "Acrobot-v1", 0)]) == [agent]
    target = tmp_path / "out/reinforce/CartPole-v1_1"
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "CartPole-v1.zip",
        "CartPole-v1/args.yml",
        "CartPole-v1/config.yml",
    ]
    copied = yaml.load((target / "CartPole-v1/args.yml").read_text(), Loader=yaml.UnsafeLoader)
    assert copied == OrderedDict(
        env="CartPole-v1", seed=3, log_folder="trained_agents", tensorboard_log="", conf_file="zoo_configs/reinforce.yml"
    )
    assert agents.shipped(tmp_path / "out") == [("reinforce", "CartPole-v1")]


def test_write_gif_writes_a_looping_animation(tmp_path):
    from PIL import Image

    frames = [np.full((40, 60, 3), 20 * i, dtype=np.uint8) for i in range(10)]
    agents.write_gif(frames, tmp_path / "a.gif", width=30, every=2)
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.size == (30, 20) and gif.n_frames == 5 and gif.info["loop"] == 0
