"""A short CartPole run shows learning (seeded; the full targets are checked by the zoo configs, not here)."""

import numpy as np
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_reinforce import REINFORCE


def test_cartpole_return_improves():
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=123)
    model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), learning_rate=3e-3, n_episodes=8, seed=0)
    before, _ = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=False)
    model.learn(40_000)
    after, _ = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=False)
    assert before < 40
    assert after > 150 and after > 4 * before, (before, after)
    returns = [info["r"] for info in model.ep_info_buffer]
    assert np.mean(returns) > 100
