"""
The trained agents shipped in ``trained_agents/``, in rl-zoo's layout, and the pictures made from them::

    python -m sb3_reinforce.experiments.agents train       # train each shipped agent (compare, one seed each)
    python -m sb3_reinforce.experiments.agents collect     # copy their final models into trained_agents/
    python -m sb3_reinforce.experiments.agents benchmark   # evaluate them: trained_agents/benchmark.md
    python -m sb3_reinforce.experiments.agents animate     # one episode of each as a GIF: docs/images/

Each agent is the final model (the file ``enjoy`` loads) of one held-out seed of a shipped config entry, trained by
``python -m sb3_reinforce.compare`` exactly as the benchmark runs are: the seed whose final model is the median of
the entry's held-out seeds (:data:`AGENTS`), so the agent is typical of what the entry gives, not its best run.
``python -m sb3_reinforce.enjoy --algo ALGO --env ENV --folder trained_agents`` plays one.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np


class Agent(NamedTuple):
    """A shipped agent: its ``--algo`` name, env, training seed, and the ``compare`` flags that trained it."""

    algo: str
    env: str
    seed: int
    flags: tuple[str, ...] = ()


# The median held-out seed of each entry (docs/benchmark.md, docs/mujoco.md, zoo_configs/README.md; of an even number of
# seeds the lower middle one); MuJoCo with the evaluation schedule of
# docs/mujoco.md
MUJOCO_FLAGS = ("--n-evals", "100", "--eval-episodes", "10", "--final-eval-episodes", "10")
AGENTS = [
    Agent("reinforce", "CartPole-v1", 0),
    Agent("reinforce", "Acrobot-v1", 2),
    Agent("reinforce_vr", "CartPole-v1", 0),
    Agent("reinforce_vr", "Acrobot-v1", 2),
    Agent("reinforce_vr", "Pendulum-v1", 13),
    Agent("reinforce_vr", "LunarLander-v3", 17),
    Agent("reinforce_vr", "InvertedDoublePendulum-v5", 2, MUJOCO_FLAGS),
    Agent("reinforce_lstm", "CartPoleNoVel-v1", 15),
]
# The envs shown as animations at the top of the README, and the agent shown for each
ANIMATED = [
    ("reinforce_vr", "CartPole-v1"),
    ("reinforce_vr", "Acrobot-v1"),
    ("reinforce_vr", "Pendulum-v1"),
    ("reinforce_vr", "LunarLander-v3"),
]
EVAL_EPISODES = 100
EVAL_SEED = 1_000_000  # as the comparison's final evaluation: far from every training seed
ROOT = Path(__file__).resolve().parents[2]


def run_folder(runs: Path, agent: Agent) -> Path | None:
    """The rl-zoo log folder of the agent's training run in any ``compare --out`` folder under ``runs``, or None."""
    pattern = f"*/runs/{agent.algo}/{agent.env}/seed_{agent.seed}/zoo/{agent.algo}/{agent.env}_1/{agent.env}.zip"
    found = sorted(runs.glob(pattern))
    return found[0].parent if found else None


def agent_folder(folder: Path, algo: str, env_id: str) -> Path:
    """rl-zoo's layout: ``<folder>/<algo>/<env>_1`` holding ``<env>.zip`` and ``<env>/`` (its settings)."""
    return folder / algo / f"{env_id}_1"


def train(out: Path, agents: list[Agent] = AGENTS) -> None:
    """
    Train every agent with ``python -m sb3_reinforce.compare`` (its entry's own budget), one run at a time, into
    ``out/<algo>-<env>-seed<k>`` (finished runs are kept: the same command resumes).
    """
    from sb3_reinforce.experiments.compare import main as compare

    for agent in agents:
        args = ["--algos", agent.algo, "--envs", agent.env, "--seeds", "1", "--first-seed", str(agent.seed), "--no-wandb"]
        compare([*args, *agent.flags, "--out", str(out / f"{agent.algo}-{agent.env}-seed{agent.seed}")])


def sanitized_args(args: Any, algo: str) -> Any:
    """rl-zoo's ``args.yml`` without the paths of the machine that trained the agent."""
    clean = OrderedDict(args)
    clean["log_folder"] = "trained_agents"
    clean["tensorboard_log"] = ""
    conf_file = Path(str(clean.get("conf_file") or ""))
    clean["conf_file"] = f"zoo_configs/{conf_file.name}" if conf_file.name else None
    return clean


def copy_model(source: Path, target: Path) -> None:
    """
    Copy a saved model without the machine's path SB3 stores in it (``tensorboard_log`` in the zip's ``data``, set to
    None); every other member is copied byte for byte.
    """
    import json
    import zipfile

    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for member in src.infolist():
            content = src.read(member)
            if member.filename == "data":
                data = json.loads(content)
                data["tensorboard_log"] = None
                content = json.dumps(data, indent=4).encode()
            dst.writestr(member, content)


def collect(runs: Path, folder: Path, agents: list[Agent] = AGENTS) -> list[Agent]:
    """
    Copy each agent's final model and settings from its training run (:func:`train`) into ``folder`` in rl-zoo's
    layout: ``<algo>/<env>_1/<env>.zip`` (:func:`copy_model`) and ``<env>/`` with ``config.yml``, ``args.yml`` (machine
    paths removed), ``env_kwargs.yml`` and ``vecnormalize.pkl`` where the config normalizes.

    :return: The agents copied (an agent whose run is missing is skipped, and said)
    """
    import yaml

    copied = []
    for agent in agents:
        source = run_folder(runs, agent)
        if source is None:
            print(f"skipped {agent.algo} {agent.env} seed {agent.seed}: no finished run in {runs}", file=sys.stderr)
            continue
        target = agent_folder(folder, agent.algo, agent.env)
        shutil.rmtree(target, ignore_errors=True)
        (target / agent.env).mkdir(parents=True)
        copy_model(source / f"{agent.env}.zip", target / f"{agent.env}.zip")
        for name in ("config.yml", "env_kwargs.yml", "vecnormalize.pkl"):
            if (source / agent.env / name).is_file():
                shutil.copy2(source / agent.env / name, target / agent.env / name)
        with open(source / agent.env / "args.yml") as f:
            args = yaml.load(f, Loader=yaml.UnsafeLoader)  # rl-zoo writes an OrderedDict
        with open(target / agent.env / "args.yml", "w") as f:
            yaml.dump(sanitized_args(args, agent.algo), f)
        copied.append(agent)
    return copied


def shipped(folder: Path) -> list[tuple[str, str]]:
    """The (algo, env) of every agent in ``folder`` (rl-zoo's ``get_trained_models``), in a stable order."""
    from rl_zoo3.utils import get_trained_models

    return sorted(get_trained_models(str(folder)).values())


def benchmark(folder: Path, episodes: int = EVAL_EPISODES) -> str:
    """
    Evaluate every agent in ``folder`` as ``rl_zoo3.enjoy`` plays it (:func:`~.compare.runner.evaluate_saved_model`,
    deterministic actions, ``episodes`` episodes on one env seeded 1,000,000) and write ``folder/benchmark.md`` in
    rl-zoo's benchmark format.

    :return: The text written
    """
    import yaml

    from sb3_reinforce import zoo
    from sb3_reinforce.experiments.compare.runner import evaluate_saved_model

    zoo.register()
    rows = []
    for algo, env_id in shipped(folder):
        path = agent_folder(folder, algo, env_id)
        with open(path / env_id / "args.yml") as f:
            args = yaml.load(f, Loader=yaml.UnsafeLoader)
        result = evaluate_saved_model(
            algo, env_id, path / f"{env_id}.zip", path / env_id, 1, episodes, EVAL_SEED, ways=("deterministic",)
        )
        way = result["deterministic"]
        steps = int(args["n_timesteps"])
        budget = f"{steps // 1_000_000}M" if steps >= 1_000_000 else f"{steps // 1000}k"
        figures = f"{way['mean']:.3f} | {way['std']:.3f} | {budget} | {way['steps']} | {episodes}"
        rows.append(f"| {algo} | {env_id} | {figures} | {args['seed']} |")
        print(rows[-1], flush=True)
    text = "\n".join(
        [
            "## Performance of trained agents",
            "",
            "Final performance of the trained agents in this folder, computed by running",
            "`python -m sb3_reinforce.experiments.agents benchmark`: each agent (trained on `n_timesteps`, the final model",
            f"of the training seed `seed`) plays {episodes} episodes with deterministic actions on an env seeded "
            f"{EVAL_SEED:,} (never a training seed), as `python -m sb3_reinforce.enjoy` plays it; `mean_reward` and "
            "`std_reward` are over those episodes, `eval_timesteps` the steps they took.",
            "",
            "Each agent is one run, the seed whose final model is the median of its entry's held-out seeds: not a",
            "quantitative benchmark (see docs/benchmark.md and docs/mujoco.md for 5 to 10 seeds), but what a user loads.",
            "The agents were trained again for this folder; runs are reproducible on one machine, but floating-point",
            "differences between machines make long runs diverge, so an agent can score differently from its seed's",
            "run in docs/benchmark.md.",
            "",
            "| algo | env_id | mean_reward | std_reward | n_timesteps | eval_timesteps | eval_episodes | seed |",
            "|---|---|---:|---:|---|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    (folder / "benchmark.md").write_text(text)
    return text


def record_episode(algo: str, env_id: str, folder: Path, seed: int = EVAL_SEED, max_steps: int = 1000) -> list[np.ndarray]:
    """The frames of one episode of an agent with deterministic actions (rendered off screen, ``rgb_array``)."""
    from sb3_reinforce import zoo
    from sb3_reinforce.experiments.compare.runner import load_saved_model, saved_test_env

    zoo.register()
    path = agent_folder(folder, algo, env_id)
    model = load_saved_model(algo, path / f"{env_id}.zip")
    env = saved_test_env(env_id, path / env_id, 1, seed, render_mode="rgb_array")
    obs = env.reset()
    state, start, frames = None, np.ones(1, dtype=bool), []
    for _ in range(max_steps):
        frames.append(env.render())
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        obs, _, done, _ = env.step(action)
        start = done
        if done[0]:
            break
    env.close()
    return frames


def write_gif(frames: list[np.ndarray], path: Path, width: int = 240, every: int = 2, fps: int = 25) -> None:
    """An animated GIF of every ``every``-th frame, ``width`` pixels wide, looping (Pillow)."""
    from PIL import Image

    images = []
    for frame in frames[::every]:
        image = Image.fromarray(frame)
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
        images.append(image.quantize(colors=64, method=Image.Quantize.MEDIANCUT))
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 * every / fps), loop=0, optimize=True)


def animate(folder: Path, out: Path) -> list[Path]:
    """One episode of each agent of :data:`ANIMATED` as ``out/<algo>-<env>.gif``; the files written."""
    written = []
    for algo, env_id in ANIMATED:
        path = out / f"{algo}-{env_id}.gif"
        write_gif(record_episode(algo, env_id, folder), path)
        print(f"{path} ({path.stat().st_size / 1024:.0f} KiB)")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    """``python -m sb3_reinforce.experiments.agents train|collect|benchmark|animate``."""
    import torch as th

    parser = argparse.ArgumentParser(prog="python -m sb3_reinforce.experiments.agents", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["train", "collect", "benchmark", "animate"])
    parser.add_argument("--runs", type=Path, default=Path("logs/agents"), help="training runs (default: logs/agents)")
    parser.add_argument("--folder", type=Path, default=ROOT / "trained_agents", help="the agents (default: trained_agents/)")
    parser.add_argument("--images", type=Path, default=ROOT / "docs" / "images", help="GIFs (default: docs/images/)")
    args = parser.parse_args(argv)
    th.set_num_threads(1)
    if args.command == "train":
        train(args.runs)
    elif args.command == "collect":
        copied = collect(args.runs, args.folder)
        print(f"{len(copied)} of {len(AGENTS)} agents in {args.folder}")
    elif args.command == "benchmark":
        benchmark(args.folder)
        print(f"Written: {args.folder / 'benchmark.md'}")
    else:
        animate(args.folder, args.images)


if __name__ == "__main__":
    main()
