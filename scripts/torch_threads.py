"""
Env steps per second of the README's two examples (REINFORCE on CartPole-v1, RecurrentREINFORCE on CartPoleNoVel-v1)
with torch's default thread count and with one thread, each in a fresh process:

    python scripts/torch_threads.py [--steps 20000]

The figures in the README ("One torch thread") come from this script.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

RUN = """
import time, torch as th
from stable_baselines3.common.env_util import make_vec_env
if {threads}:
    th.set_num_threads({threads})
import rl_zoo3.import_envs
from sb3_reinforce import REINFORCE, RecurrentREINFORCE
if {recurrent}:
    env = make_vec_env("CartPoleNoVel-v1", n_envs=2, seed=0)
    kwargs = dict(reward_to_go=True, baseline="loo", policy_kwargs=dict(lstm_hidden_size=32), seed=0)
    model = RecurrentREINFORCE("MlpLstmPolicy", env, **kwargs)
else:
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_episodes=8, learning_rate=3e-3, seed=0)
model.learn(2000)  # warm-up
start = time.perf_counter()
model.learn({steps}, reset_num_timesteps=False)
print(f"{{th.get_num_threads()}} {{(model.num_timesteps - 2000) / (time.perf_counter() - start):.0f}}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000, help="env steps timed per run (default: 20000)")
    args = parser.parse_args()
    for name, recurrent in (
        ("REINFORCE MlpPolicy, CartPole-v1", False),
        ("RecurrentREINFORCE MlpLstmPolicy, CartPoleNoVel-v1", True),
    ):
        for threads in (0, 1):
            code = RUN.format(threads=threads, recurrent=recurrent, steps=args.steps)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
            print(f"{name}: {'default' if threads == 0 else 'set_num_threads(1)'} ({out[-2]} threads): {out[-1]} steps/s")


if __name__ == "__main__":
    main()
