"""
``noise_correlation``: AR(1) Gaussian exploration noise across the steps of an episode. The log-probabilities are
checked against the conditional densities written out by hand and against the joint density of the episode's
noise; the update against the gradient of that joint density (SGD, gamma = 1); the rollout's noise against its
AR(1) law.
"""

import copy

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from scipy.stats import norm

from sb3_reinforce import REINFORCE
from sb3_reinforce.common.checks import ArgumentError
from tests.envs import ToyEnv, recorded_envs
from tests.test_update import LR, params

BOX = spaces.Box(-50.0, 50.0, shape=(2,), dtype=np.float32)  # wide: no sampled action gets clipped


def make_model(rho, n_envs=2, n_episodes=4, seed=3, **kwargs):
    venv, recorders = recorded_envs(lambda: ToyEnv(BOX), n_envs)
    policy_kwargs = dict(net_arch=[], optimizer_class=th.optim.SGD, ortho_init=False, log_std_init=-0.3, noise_correlation=rho)
    model = REINFORCE(
        "MlpPolicy", venv, learning_rate=LR, n_episodes=n_episodes, seed=seed, policy_kwargs=policy_kwargs, **kwargs
    )
    return model, recorders


def joint_log_density(p, obs, actions, rho):
    """log N(u - mu; 0, Sigma) of one episode's noise per action dimension, Sigma_ts = sigma^2 rho^|t-s| (float64)."""
    mean = th.as_tensor(obs, dtype=th.float64) @ p["action_net.weight"].T + p["action_net.bias"]
    noise = th.as_tensor(actions, dtype=th.float64) - mean
    t = th.arange(len(obs), dtype=th.float64)
    corr = rho ** (t[:, None] - t[None, :]).abs()
    total = th.zeros((), dtype=th.float64)
    for k in range(noise.shape[1]):
        cov = th.exp(2 * p["log_std"][k]) * corr
        total = total + th.distributions.MultivariateNormal(th.zeros(len(obs), dtype=th.float64), cov).log_prob(noise[:, k])
    return total


def test_log_probs_are_the_conditional_densities():
    rho = 0.6
    model, _ = make_model(rho)
    rng = np.random.default_rng(0)
    lengths = np.array([3, 1, 4])
    obs = rng.normal(size=(8, 3)).astype(np.float32)
    actions = rng.normal(size=(8, 2)).astype(np.float32)
    with th.no_grad():
        _, log_prob, entropy = model.policy.evaluate_correlated_actions(th.as_tensor(obs), th.as_tensor(actions), lengths)
    p = params(model)
    mu = obs @ p["action_net.weight"].T + p["action_net.bias"]
    sigma = np.exp(p["log_std"])
    expected = []
    for length in lengths:
        for t in range(length):
            i = len(expected)
            if t == 0:
                expected.append(norm.logpdf(actions[i], mu[i], sigma).sum())
            else:
                cond_mean = mu[i] + rho * (actions[i - 1] - mu[i - 1])
                expected.append(norm.logpdf(actions[i], cond_mean, sigma * np.sqrt(1 - rho**2)).sum())
    np.testing.assert_allclose(log_prob.numpy(), expected, rtol=1e-5, atol=1e-5)
    # Entropy of the conditional Gaussians: smaller than the marginal's after the first step
    marginal = norm.entropy(scale=sigma).sum()
    np.testing.assert_allclose(entropy.numpy()[[0, 3, 4]], marginal, rtol=1e-5)
    np.testing.assert_allclose(entropy.numpy()[1], marginal + 2 * 0.5 * np.log(1 - rho**2), rtol=1e-5)
    # The factors multiply to the joint density of each episode's noise
    p64 = {k: th.as_tensor(v) for k, v in p.items()}
    ends = np.cumsum(lengths)
    for start, end in zip(ends - lengths, ends):
        joint = joint_log_density(p64, obs[start:end], actions[start:end], rho).item()
        assert log_prob[start:end].sum().item() == pytest.approx(joint, rel=1e-5)


@pytest.mark.parametrize("reward_to_go", [False, True])
def test_update_is_the_gradient_of_the_joint_density(reward_to_go):
    rho = 0.8
    model, _ = make_model(rho, reward_to_go=reward_to_go)
    before = {name: p.detach().clone().double().requires_grad_(True) for name, p in model.policy.named_parameters()}
    model.learn(1)  # one rollout, one gradient step
    batch = model.rollout_buffer.get()
    assert len(set(batch.lengths.tolist())) > 1, "the test needs episodes of different lengths"
    objective = th.zeros((), dtype=th.float64)
    ends = np.cumsum(batch.lengths)
    for start, end in zip(ends - batch.lengths, ends):
        obs, actions, rewards = batch.observations[start:end], batch.actions[start:end], batch.rewards[start:end]
        if reward_to_go:
            # sum_t G_t log pi(u_t | h_t), each factor being the joint density of u_0..u_t over that of u_0..u_{t-1}
            joint = [joint_log_density(before, obs[: t + 1], actions[: t + 1], rho) for t in range(end - start)]
            factors = [joint[0]] + [joint[t] - joint[t - 1] for t in range(1, len(joint))]
            to_go = np.cumsum(rewards[::-1])[::-1]
            objective = objective + sum(float(g) * f for g, f in zip(to_go, factors))
        else:
            objective = objective + float(rewards.sum()) * joint_log_density(before, obs, actions, rho)
    objective = objective / len(batch.lengths)
    grads = th.autograd.grad(objective, list(before.values()))
    for (name, p), grad in zip(model.policy.named_parameters(), grads):
        delta = p.detach().double().numpy() - before[name].detach().numpy()
        np.testing.assert_allclose(delta, LR * grad.numpy(), rtol=2e-4, atol=2e-7, err_msg=name)


def test_rollout_noise_follows_the_ar1_law():
    rho = 0.8
    model, _ = make_model(rho, n_envs=3, n_episodes=600, seed=7)
    policy = copy.deepcopy(model.policy)
    model.learn(1)
    batch = model.rollout_buffer.get()
    with th.no_grad():
        mean = policy.action_net(th.as_tensor(batch.observations)).numpy()
    noise = batch.actions - mean
    sigma = np.exp(policy.log_std.detach().numpy())
    starts = np.concatenate(([0], np.cumsum(batch.lengths)[:-1]))
    inside = np.setdiff1d(np.arange(1, len(noise)), starts)  # steps with a predecessor in their episode
    assert len(inside) > 2_000
    np.testing.assert_allclose(noise[starts].std(axis=0), sigma, rtol=0.1)  # each episode starts from N(0, sigma^2)
    np.testing.assert_allclose(noise.std(axis=0), sigma, rtol=0.06)  # stationary
    innovation = (noise[inside] - rho * noise[inside - 1]) / np.sqrt(1 - rho**2)
    np.testing.assert_allclose(innovation.std(axis=0), sigma, rtol=0.06)
    for k in range(2):
        assert np.corrcoef(noise[inside, k], noise[inside - 1, k])[0, 1] == pytest.approx(rho, abs=0.03)
        assert abs(np.corrcoef(noise[starts[1:], k], noise[starts[1:] - 1, k])[0, 1]) < 0.1  # fresh at each start


def test_saved_and_loaded_with_the_policy(tmp_path):
    model, _ = make_model(0.5)
    model.learn(50)
    model.save(tmp_path / "model")
    loaded = REINFORCE.load(tmp_path / "model")
    assert loaded.policy.noise_correlation == 0.5
    obs = np.zeros((1, 3), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    loaded.set_env(model.get_env())
    loaded.learn(50)


@pytest.mark.parametrize(
    "kwargs,env,match",
    [
        (dict(noise_correlation=1.0), "Pendulum-v1", r"noise_correlation must be a number in \[0, 1\)"),
        (dict(noise_correlation=-0.1), "Pendulum-v1", r"noise_correlation must be a number in \[0, 1\)"),
        (dict(noise_correlation="0.5"), "Pendulum-v1", r"noise_correlation must be a number in \[0, 1\)"),
        (dict(noise_correlation=0.5), "CartPole-v1", "noise_correlation > 0 needs a Box action space"),
    ],
)
def test_invalid_noise_correlation(kwargs, env, match):
    with pytest.raises(ArgumentError, match=match) as info:
        REINFORCE("MlpPolicy", env, policy_kwargs=kwargs)
    assert info.value.argument == "policy_kwargs"
