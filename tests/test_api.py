"""REINFORCE keeps SB3's OnPolicyAlgorithm contract: policies, action spaces, save/load, callbacks, logging."""

import json
import os
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import (
    CheckpointCallback,
    EvalCallback,
    StopTrainingOnMaxEpisodes,
    StopTrainingOnRewardThreshold,
)
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import (
    FakeImageEnv,
    IdentityEnv,
    IdentityEnvBox,
    IdentityEnvMultiBinary,
    IdentityEnvMultiDiscrete,
    SimpleMultiObsEnv,
)
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

from sb3_reinforce import REINFORCE
from sb3_reinforce.common.policies import ReinforcePolicy
from sb3_reinforce.reinforce.policies import CnnPolicy, MultiInputPolicy
from tests.envs import ActionReward, ToyEnv

CASES = {
    "discrete": ("MlpPolicy", lambda: IdentityEnv(4, ep_length=8)),
    "box": ("MlpPolicy", lambda: IdentityEnvBox(ep_length=8)),
    "multidiscrete": ("MlpPolicy", lambda: IdentityEnvMultiDiscrete(2, ep_length=8)),
    "multibinary": ("MlpPolicy", lambda: IdentityEnvMultiBinary(3, ep_length=8)),
    "image": ("CnnPolicy", lambda: ActionReward(FakeImageEnv(screen_height=36, screen_width=36, n_channels=1))),
    "dict": ("MultiInputPolicy", lambda: gym.wrappers.TimeLimit(SimpleMultiObsEnv(random_start=True), 10)),
}


def flat_params(model):
    return th.cat([p.detach().flatten() for p in model.policy.parameters()])


@pytest.mark.parametrize("case", list(CASES))
def test_policies_and_action_spaces_learn_predict_save_load(case, tmp_path):
    policy, make_env = CASES[case]
    env = make_vec_env(make_env, n_envs=2, seed=0)
    model = REINFORCE(policy, env, n_episodes=4, seed=0)
    before = flat_params(model).clone()
    model.learn(60)
    assert model.num_timesteps >= 60
    assert not th.equal(before, flat_params(model)), "the parameters must change"
    assert not any("value" in name or "critic" in name for name, _ in model.policy.named_parameters())

    obs = env.reset()
    for deterministic in (True, False):
        actions, _ = model.predict(obs, deterministic=deterministic)
        assert all(env.action_space.contains(a) for a in actions)
    single_obs = {k: v[0] for k, v in obs.items()} if isinstance(obs, dict) else obs[0]
    action, _ = model.predict(single_obs, deterministic=True)
    assert env.action_space.contains(action)

    model.save(tmp_path / "model.zip")
    loaded = REINFORCE.load(tmp_path / "model.zip", env=env)
    assert th.equal(flat_params(model), flat_params(loaded))
    assert type(loaded.policy) is type(model.policy)
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    with zipfile.ZipFile(tmp_path / "model.zip") as archive, archive.open("policy.pth") as f:
        saved_state = th.load(f, weights_only=True)
    assert saved_state.keys() == model.policy.state_dict().keys()
    assert not any("value" in key or "critic" in key for key in saved_state)
    loaded.learn(40, reset_num_timesteps=False)
    assert loaded.num_timesteps >= model.num_timesteps + 40


def test_policy_classes_and_kwargs():
    model = REINFORCE(
        "MlpPolicy",
        "CartPole-v1",
        policy_kwargs=dict(net_arch=[], optimizer_class=th.optim.SGD, activation_fn=th.nn.ReLU),
    )
    assert isinstance(model.policy, ReinforcePolicy)
    # A linear policy: logits = W s + b, nothing else
    assert sum(p.numel() for p in model.policy.parameters()) == 4 * 2 + 2
    # The user's optimizer is honoured as given: SGD with no momentum or other extras
    optimizer = model.policy.optimizer
    assert type(optimizer) is th.optim.SGD and optimizer.defaults["momentum"] == 0
    assert optimizer.param_groups[0]["lr"] == model.learning_rate
    adam = REINFORCE("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=dict(pi=[16])))
    assert type(adam.policy.optimizer) is th.optim.Adam and adam.policy.optimizer.defaults["eps"] == 1e-5
    assert [m.out_features for m in adam.policy.modules() if isinstance(m, th.nn.Linear)] == [16, 2]
    assert REINFORCE.policy_aliases["CnnPolicy"] is CnnPolicy
    assert REINFORCE.policy_aliases["MultiInputPolicy"] is MultiInputPolicy

    obs = th.zeros((5, 4))
    dist = model.policy.get_distribution(obs)
    assert dist.distribution.probs.shape == (5, 2)
    values, log_prob, entropy = model.policy.evaluate_actions(obs, th.tensor([0, 1, 0, 1, 1]))
    assert values is None and log_prob.shape == (5,) and entropy.shape == (5,)
    with pytest.raises(RuntimeError, match="no value head"):
        model.policy.predict_values(obs)


def test_same_seed_gives_bit_identical_parameters():
    def train(seed):
        model = REINFORCE("MlpPolicy", make_vec_env(ToyEnv, n_envs=2), n_episodes=4, seed=seed)
        return flat_params(model.learn(300))

    assert th.equal(train(1), train(1))
    assert not th.equal(train(1), train(2))


def test_env_types_and_subproc_vec_env():
    for env in ("CartPole-v1", gym.make("CartPole-v1"), DummyVecEnv([lambda: gym.make("CartPole-v1")] * 3)):
        model = REINFORCE("MlpPolicy", env, n_episodes=3, seed=0).learn(100)
        assert model.num_timesteps >= 100
    subproc = SubprocVecEnv([lambda: ToyEnv()] * 2, start_method="spawn")
    try:
        model = REINFORCE("MlpPolicy", subproc, n_episodes=4, seed=0).learn(100)
        assert model.n_envs == 2 and model.num_timesteps >= 100
    finally:
        subproc.close()


def test_set_env_and_load_with_another_number_of_envs(tmp_path):
    model = REINFORCE("MlpPolicy", make_vec_env(ToyEnv, n_envs=2), n_episodes=5, seed=0)
    model.learn(50)
    model.set_env(make_vec_env(ToyEnv, n_envs=2, seed=5))
    model.learn(50, reset_num_timesteps=False)
    model.save(tmp_path / "model")
    model = REINFORCE.load(tmp_path / "model", env=make_vec_env(ToyEnv, n_envs=3))
    assert model.rollout_buffer.n_envs == 3
    np.testing.assert_array_equal(model.rollout_buffer.quotas, [2, 2, 1])
    model.learn(50, reset_num_timesteps=False)
    assert len(model.rollout_buffer.get().lengths) == 5


def test_callbacks_and_evaluation(tmp_path):
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=1)
    stop = StopTrainingOnRewardThreshold(reward_threshold=-1.0)  # met at the first evaluation
    eval_cb = EvalCallback(
        eval_env,
        callback_on_new_best=stop,
        eval_freq=100,
        n_eval_episodes=2,
        best_model_save_path=str(tmp_path / "best"),
        log_path=str(tmp_path / "eval"),
    )
    ckpt = CheckpointCallback(save_freq=50, save_path=str(tmp_path / "ckpt"), name_prefix="reinforce")
    model = REINFORCE("MlpPolicy", env, n_episodes=2, seed=0)
    model.learn(10_000, callback=[ckpt, eval_cb])
    assert model.num_timesteps < 10_000, "StopTrainingOnRewardThreshold must stop training"
    assert (tmp_path / "best" / "best_model.zip").exists() and (tmp_path / "eval" / "evaluations.npz").exists()
    assert any(name.startswith("reinforce_") for name in os.listdir(tmp_path / "ckpt"))
    REINFORCE.load(tmp_path / "best" / "best_model.zip")

    max_episodes = StopTrainingOnMaxEpisodes(max_episodes=3)
    model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=0), n_episodes=10, seed=0)
    model.learn(10_000, callback=max_episodes)
    assert max_episodes.n_episodes == 3 and model._n_updates == 0
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=3)
    assert mean > 0 and std >= 0


def test_logger_keys_and_tensorboard(tmp_path):
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_episodes=4, seed=0, tensorboard_log=str(tmp_path / "tb"))
    model.set_logger(configure(str(tmp_path / "csv"), ["csv"]))
    model.learn(2000)
    import pandas as pd

    log = pd.read_csv(tmp_path / "csv" / "progress.csv")
    for key in (
        "rollout/ep_rew_mean",
        "rollout/ep_len_mean",
        "time/fps",
        "train/loss",
        "train/n_episodes",
        "train/grad_norm",
        "train/return_mean",
        "train/grad_variance",
        "train/learning_rate",
    ):
        assert key in log.columns, key
    assert (log["train/n_episodes"].dropna() == 4).all()

    model = REINFORCE("MlpPolicy", "CartPole-v1", n_episodes=2, seed=0, tensorboard_log=str(tmp_path / "tb"))
    model.learn(200)
    assert os.listdir(tmp_path / "tb") == ["REINFORCE_1"]


def test_vec_normalize_and_progress_bar(tmp_path):
    env = VecNormalize(make_vec_env(ToyEnv, n_envs=2, seed=0), norm_reward=True)
    model = REINFORCE("MlpPolicy", env, n_episodes=4, seed=0).learn(300, progress_bar=True)
    assert model.get_vec_normalize_env() is env and env.obs_rms.count > 300
    env.save(str(tmp_path / "vecnormalize.pkl"))
    loaded_env = VecNormalize.load(str(tmp_path / "vecnormalize.pkl"), make_vec_env(ToyEnv, n_envs=2))
    np.testing.assert_allclose(loaded_env.obs_rms.mean, env.obs_rms.mean)


def test_learning_rate_schedule_never_negative():
    seen = []

    def schedule(progress_remaining):
        seen.append(progress_remaining)
        return 1e-3 * progress_remaining + 1e-9

    model = REINFORCE("MlpPolicy", make_vec_env(ToyEnv, n_envs=2, seed=0), learning_rate=schedule, n_episodes=4, seed=0)
    model.learn(37)  # whole episodes overshoot total_timesteps
    assert model.num_timesteps > 37
    assert min(seen) >= 0.0
    assert model.policy.optimizer.param_groups[0]["lr"] > 0


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_device(device):
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_episodes=2, device=device).learn(100)
    expected = "cuda" if th.cuda.is_available() and device == "auto" else "cpu"
    assert model.device.type == expected
    assert next(model.policy.parameters()).device.type == expected


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "options",
    [
        dict(reward_to_go=True, baseline="value", normalize_advantage=True, ent_coef=0.01, max_grad_norm=0.5, gamma=0.99),
        dict(reward_to_go=True, baseline="loo", vf_coef=0.0),
        dict(baseline="mean", normalize_advantage=True),
    ],
)
def test_variance_reduction_options_with_every_policy_and_action_space(case, options, tmp_path):
    policy, make_env = CASES[case]
    env = make_vec_env(make_env, n_envs=2, seed=0)
    model = REINFORCE(policy, env, n_episodes=4, seed=0, **options).learn(40)
    has_value = options.get("baseline") == "value"
    assert any("value_net" in name for name, _ in model.policy.named_parameters()) == has_value
    model.save(tmp_path / "model.zip")
    loaded = REINFORCE.load(tmp_path / "model.zip", env=env)
    assert th.equal(flat_params(model), flat_params(loaded))
    assert loaded.baseline == options.get("baseline") and loaded.reward_to_go == options.get("reward_to_go", False)
    loaded.learn(20, reset_num_timesteps=False)


@pytest.mark.parametrize("case", ["discrete", "box", "multidiscrete"])
def test_rollout_sampling_is_the_policy_distribution_draw(case):
    policy, make_env = CASES[case]
    model = REINFORCE(policy, make_vec_env(make_env, n_envs=3, seed=0), seed=0)
    obs = th.as_tensor(model.env.reset())
    th.manual_seed(7)
    fast = th.stack([model.policy.sample_actions(obs) for _ in range(50)])
    th.manual_seed(7)
    reference = th.stack([model.policy.get_distribution(obs).get_actions() for _ in range(50)])
    assert th.equal(fast, reference)


@pytest.mark.parametrize("name", ["cartpole", "pendulum_value"])
def test_models_saved_by_version_0_1_0_still_load(name):
    """Saved zips pickle the policy class by its 0.1.0 path (sb3_reinforce.policies.ReinforcePolicy)."""
    data = Path(__file__).parent / "data"
    expected = json.loads((data / "reinforce_0.1.0_expected.json").read_text())[name]
    assert expected["policy_class"] == "sb3_reinforce.policies.ReinforcePolicy"
    model = REINFORCE.load(data / f"reinforce_0.1.0_{name}.zip", device="cpu")
    assert isinstance(model.policy, ReinforcePolicy)
    assert model.num_timesteps == expected["num_timesteps"]
    observations = np.array(expected["observations"], dtype=np.float32)
    actions, _ = model.predict(observations, deterministic=True)
    np.testing.assert_allclose(actions, np.array(expected["deterministic_actions"]), rtol=1e-5, atol=1e-6)
    model.set_env(make_vec_env(expected["env"], n_envs=1, seed=0))
    model.learn(200, reset_num_timesteps=False)  # and training resumes
    assert model.num_timesteps > expected["num_timesteps"]


def test_old_net_arch_format_is_accepted_with_sb3s_warning():
    with pytest.warns(UserWarning, match="net_arch=dict"):
        model = REINFORCE("MlpPolicy", "Pendulum-v1", baseline="value", policy_kwargs=dict(net_arch=[dict(pi=[8], vf=[4])]))
    assert model.policy.pi_arch == [8] and model.policy.vf_arch == [4]


class MatrixActionEnv(gym.Env):
    """A Box action of shape (2, 2): reward -||a - target||^2, 5 steps."""

    observation_space = spaces.Box(-1, 1, shape=(3,), dtype=np.float32)
    action_space = spaces.Box(-1, 1, shape=(2, 2), dtype=np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, dtype=np.float32), {}

    def step(self, action):
        assert action.shape == (2, 2) and np.all(np.abs(action) <= 1), action
        self.t += 1
        return np.zeros(3, dtype=np.float32), -float(np.sum((action - 0.5) ** 2)), False, self.t >= 5, {}


def test_multi_dimensional_box_actions():
    """The env gets actions of its own shape, clipped; the score function gets the flat sampled ones."""
    model = REINFORCE("MlpPolicy", MatrixActionEnv(), n_episodes=4, seed=0).learn(200)
    batch = model.rollout_buffer.get()
    assert batch.actions.shape == (20, 4)
    action, _ = model.predict(np.zeros(3, dtype=np.float32), deterministic=True)
    assert action.shape == (2, 2)
