"""Bad input gets a clear error naming the argument, before any damage; parameters never turn NaN."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnv
from stable_baselines3.common.vec_env import VecNormalize

from sb3_reinforce import REINFORCE, MaskableREINFORCE, RecurrentREINFORCE
from sb3_reinforce.common.buffers import RolloutTooLongError
from sb3_reinforce.common.checks import ArgumentError, ArgumentTypeError, UnsupportedSpaceError
from tests.envs import ExplodingEnv, ToyEnv


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_episodes=0), "n_episodes must be an integer >= 1"),
        (dict(n_episodes=-3), "n_episodes must be an integer >= 1"),
        (dict(n_episodes=2.5), "n_episodes must be an integer >= 1"),
        (dict(gamma=-0.1), r"gamma must be a number in \[0, 1\]"),
        (dict(gamma=1.01), r"gamma must be a number in \[0, 1\]"),
        (dict(learning_rate=0.0), "learning_rate must be a number > 0"),
        (dict(learning_rate=-1e-3), "learning_rate must be a number > 0"),
        (dict(learning_rate=lambda _: -1.0), "learning_rate must be a number > 0"),
        (dict(baseline="median"), "baseline must be one of"),
        (dict(baseline="loo", n_episodes=1), "baseline='loo' needs n_episodes >= 2"),
        (dict(ent_coef=-0.1), "ent_coef must be a number >= 0"),
        (dict(max_grad_norm=0.0), "max_grad_norm must be None or a number > 0"),
        (dict(target_kl=0.0), "target_kl must be None or a finite number > 0"),
        (dict(target_kl=float("inf")), "target_kl must be None or a finite number > 0"),
        (dict(target_kl="0.01"), "target_kl must be None or a finite number > 0"),
        (dict(max_rollout_steps=0), "max_rollout_steps must be None or an integer >= 1"),
        (dict(policy_kwargs=dict(use_value_net=True)), "use_value_net"),
        (dict(policy_kwargs=dict(net_arch=dict(pi=[8], qf=[8]))), "net_arch dict keys"),
        (dict(reward_to_go="yes"), "reward_to_go must be True or False"),
        (dict(normalize_advantage=1), "normalize_advantage must be True or False"),
        (dict(max_grad_norm=True), "max_grad_norm must be None or a number > 0"),
        (dict(gamma=float("nan")), r"gamma must be a number in \[0, 1\]"),
        (dict(gamma="0.99"), r"gamma must be a number in \[0, 1\]"),
        (dict(vf_coef=np.float32(-1)), "vf_coef must be a number >= 0"),
        (dict(n_episodes=np.float64(4)), "n_episodes must be an integer >= 1"),
    ],
)
def test_invalid_hyperparameters(kwargs, match):
    with pytest.raises(ArgumentError, match=match) as info:
        REINFORCE("MlpPolicy", "CartPole-v1", **kwargs)
    assert isinstance(info.value, ValueError)
    name = next(iter(kwargs))
    assert info.value.argument == ("baseline" if name == "baseline" else name)


def test_numpy_scalars_are_accepted_wherever_numbers_are():
    model = REINFORCE(
        "MlpPolicy",
        "CartPole-v1",
        learning_rate=np.float32(1e-3),
        n_episodes=np.int64(4),
        gamma=np.float32(0.99),
        reward_to_go=np.bool_(True),
        ent_coef=np.float64(0.01),
        max_grad_norm=np.float32(0.5),
        max_rollout_steps=np.int32(10_000),
    )
    assert model.n_episodes == 4 and isinstance(model.n_episodes, int)
    assert model.gamma == pytest.approx(0.99) and model.reward_to_go is True
    model.learn(100)


def test_unknown_policy_and_unsupported_action_space():
    with pytest.raises(ValueError, match=r"policy must be one of \['CnnPolicy', 'MlpPolicy', 'MultiInputPolicy'\]"):
        REINFORCE("MlpLstmPolicy", "CartPole-v1")
    with pytest.raises(TypeError, match="policy must be one of"):
        REINFORCE(th.nn.Linear, "CartPole-v1")
    tuple_env = IdentityEnv(space=spaces.Tuple([spaces.Discrete(2), spaces.Discrete(3)]))
    with pytest.raises(
        TypeError, match=r"^The algorithm only supports \[.*\] as action spaces but Tuple.* was provided \(REINFORCE\)$"
    ):
        REINFORCE("MlpPolicy", tuple_env)


def test_unsupported_observation_space_is_named_at_construction():
    with pytest.raises(
        UnsupportedSpaceError, match=r"REINFORCE supports only \[.*\] observation spaces, but the env's is Tuple"
    ):
        REINFORCE("MlpPolicy", gym.make("Blackjack-v1"))  # Tuple observations (A2C: "not supported" too)


@pytest.mark.parametrize(
    "algorithm,policy,kwargs,match",
    [
        (
            REINFORCE,
            "MlpPolicy",
            dict(n_episode=4),
            r"^REINFORCE got an unexpected keyword argument 'n_episode'\. Did you mean 'n_episodes'\?",
        ),
        (
            MaskableREINFORCE,
            "MlpPolicy",
            dict(learning_rat=1e-3),
            r"^MaskableREINFORCE got .* 'learning_rat'\. Did you mean 'learning_rate'\?",
        ),
        (
            RecurrentREINFORCE,
            "MlpLstmPolicy",
            dict(lstm_hiden_size=8),
            r"'lstm_hidden_size' is an argument of the policy: policy_kwargs",
        ),
        (
            REINFORCE,
            "MlpPolicy",
            dict(net_arch=[8]),
            r"'net_arch' is an argument of the policy: policy_kwargs=dict\(net_arch=\.\.\.\)",
        ),
    ],
)
def test_a_misspelled_keyword_names_the_algorithm_and_the_closest_argument(algorithm, policy, kwargs, match):
    with pytest.raises(TypeError, match=match) as info:
        algorithm(policy, "CartPole-v1", **kwargs)
    assert info.value.argument == next(iter(kwargs))


def test_a_subclass_taking_kwargs_checks_them_where_they_arrive():
    class Wrapped(REINFORCE):
        def __init__(self, policy, env, n_steps=5, **kwargs):  # an A2C-shaped wrapper, as a peer suite writes it
            super().__init__(policy, env, **kwargs)

    assert Wrapped("MlpPolicy", "CartPole-v1", n_steps=3, n_episodes=2).n_episodes == 2
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_episode'"):
        Wrapped("MlpPolicy", "CartPole-v1", n_episode=2)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(learning_rate="0.001"), r"learning_rate must be a number > 0 .*, got a str: '0.001'"),
        (dict(n_episodes=8.0), "n_episodes must be an integer >= 1, got a float: 8.0"),
        (dict(gamma="0.99"), r"gamma must be a number in \[0, 1\], got a str: '0.99'"),
        (dict(reward_to_go="yes"), "reward_to_go must be True or False, got a str: 'yes'"),
        (dict(policy_kwargs=[("net_arch", [8])]), "policy_kwargs must be None or a dict, got a list"),
    ],
)
def test_a_wrong_type_is_named_as_such(kwargs, match):
    with pytest.raises(ArgumentTypeError, match=match):
        REINFORCE("MlpPolicy", "CartPole-v1", **kwargs)


def params(model):
    return th.cat([p.detach().flatten() for p in model.policy.parameters()]).clone()


@pytest.mark.parametrize("bad_reward", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_reward_raises_before_any_update(bad_reward):
    model = REINFORCE("MlpPolicy", ExplodingEnv(explode_at=30, bad_reward=bad_reward), n_episodes=2, seed=0)
    before = params(model)
    with pytest.raises(ValueError, match="non-finite reward"):
        model.learn(10_000)
    assert model._n_updates > 0, "the bad reward must come after a few good updates"
    after = params(model)
    assert th.isfinite(after).all()
    # ... and the update that would have used the bad reward did not happen: retraining up to it gives the same
    replay = REINFORCE("MlpPolicy", ExplodingEnv(explode_at=30, bad_reward=0.0), n_episodes=2, seed=0)
    for _ in range(model._n_updates):
        replay.learn(1, reset_num_timesteps=False)
    assert th.equal(params(replay), after) and not th.equal(before, after)


def test_overflowing_return_raises_before_any_update():
    # Each reward is a finite float32, their sum is not: the loss would be infinite
    model = REINFORCE("MlpPolicy", ExplodingEnv(explode_at=1, bad_reward=3e38), n_episodes=1, seed=0)
    before = params(model)
    with pytest.raises(FloatingPointError, match="parameters were not changed"):
        model.learn(1)
    assert th.equal(before, params(model))
    assert all(p.grad is None or not p.grad.any() for p in model.policy.parameters())


def test_env_exception_propagates_unchanged_and_leaves_parameters():
    model = REINFORCE("MlpPolicy", ExplodingEnv(explode_at=7), n_episodes=3, seed=0)
    before = params(model)
    with pytest.raises(RuntimeError, match=r"^env exploded$"):
        model.learn(1000)
    assert th.equal(before, params(model))


def test_rollout_longer_than_max_rollout_steps():
    never_ends = IdentityEnv(3, ep_length=10**9)
    model = REINFORCE("MlpPolicy", never_ends, n_episodes=2, max_rollout_steps=500, seed=0)
    before = params(model)
    with pytest.raises(RolloutTooLongError, match=r"max_rollout_steps=500.*time limit") as info:
        model.learn(10_000)
    assert "n_episodes=2" in str(info.value)
    assert th.equal(before, params(model))
    assert model.num_timesteps == 500
    assert model.rollout_buffer.capacity == 500, "memory stays bounded by max_rollout_steps"


def test_default_max_rollout_steps_bounds_memory():
    cartpole = REINFORCE("MlpPolicy", "CartPole-v1")
    assert cartpole.rollout_buffer.max_rollout_steps == 1_000_000
    image_env = gym.make("CartPole-v1")
    image_env.observation_space = spaces.Box(0, 255, (84, 84, 4), np.uint8)  # 28 KB per step
    from sb3_reinforce.common.buffers import bytes_per_step, default_max_rollout_steps

    steps = default_max_rollout_steps(image_env.observation_space, image_env.action_space)
    assert steps * bytes_per_step(image_env.observation_space, image_env.action_space) <= 1 << 30
    assert 30_000 < steps < 40_000


def test_more_envs_than_episodes_is_allowed_and_exact():
    model = REINFORCE("MlpPolicy", make_vec_env(ToyEnv, n_envs=4, seed=0), n_episodes=2, seed=0)
    model.learn(1)
    np.testing.assert_array_equal(model.rollout_buffer.quotas, [1, 1, 0, 0])
    assert len(model.rollout_buffer.get().lengths) == 2


def test_return_scaled_lr_refuses_normalized_rewards_before_any_step():
    env = VecNormalize(make_vec_env("CartPole-v1", n_envs=1, seed=0), norm_reward=True)
    model = REINFORCE("MlpPolicy", env, return_scaled_lr=(0, 500), seed=0)
    before = th.cat([p.detach().flatten().clone() for p in model.policy.parameters()])
    with pytest.raises(ArgumentError, match=r"return_scaled_lr=\(0.0, 500.0\) .* norm_reward=True") as info:
        model.learn(200)
    assert info.value.argument == "return_scaled_lr"
    assert model.num_timesteps == 0
    assert th.equal(before, th.cat([p.detach().flatten() for p in model.policy.parameters()]))
    # Observations alone normalized: the rewards are the env's own, and it trains
    env = VecNormalize(make_vec_env("CartPole-v1", n_envs=1, seed=0), norm_reward=False)
    model = REINFORCE("MlpPolicy", env, return_scaled_lr=(0, 500), seed=0).learn(200)
    assert model.num_timesteps >= 200
