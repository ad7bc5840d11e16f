"""
On a tiny MDP whose expected return eta(theta) is enumerated exactly, the average of many independent
REINFORCE estimates matches the exact gradient of eta within its standard error.
"""

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_reinforce import REINFORCE
from tests.envs import TinyMDP

N_ESTIMATES = 3000


def exact_gradient(model, gamma=1.0, reward_offset=0.0):
    """grad eta, by autograd through eta = V(s0) computed from the policy's exact action probabilities."""
    policy = model.policy
    obs = th.arange(3)  # the three states, preprocessed to one-hot by the policy
    probs = policy.get_distribution(obs).distribution.probs  # (3 states, 2 actions)
    eta = TinyMDP.expected_return(probs, gamma, reward_offset)
    grads = th.autograd.grad(eta, list(policy.parameters()))
    return float(eta.detach()), np.concatenate([g.flatten().numpy() for g in grads])


def sample_estimates(model, n):
    """n independent estimates of grad eta: minus the gradient of the loss that train() differentiates."""
    params = list(model.policy.parameters())
    initial = [p.detach().clone() for p in params]
    _, callback = model._setup_learn(10**9, None)
    estimates = np.empty((n, sum(p.numel() for p in params)))
    for k in range(n):
        assert model.collect_rollouts(model.env, callback, None, 0)
        model.train()
        estimates[k] = -np.concatenate([p.grad.flatten().numpy() for p in params])
        with th.no_grad():
            for p, p0 in zip(params, initial):
                p.copy_(p0)
    return estimates


def make_model(n_envs=2, n_episodes=4, seed=0, reward_offset=0.0, **kwargs):
    venv = DummyVecEnv([lambda: TinyMDP(reward_offset) for _ in range(n_envs)])
    policy_kwargs = dict(net_arch=[4], optimizer_class=th.optim.SGD, ortho_init=False)
    return REINFORCE(
        "MlpPolicy", venv, learning_rate=1e-3, n_episodes=n_episodes, seed=seed, policy_kwargs=policy_kwargs, **kwargs
    )


def z_scores(estimates, exact):
    mean = estimates.mean(axis=0)
    stderr = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    assert np.all(stderr > 0)
    return (mean - exact) / stderr


@pytest.mark.parametrize("n_envs,n_episodes", [(1, 1), (2, 4), (3, 4)])
def test_average_estimate_matches_exact_gradient(n_envs, n_episodes):
    model = make_model(n_envs, n_episodes)
    eta, exact = exact_gradient(model)
    estimates = sample_estimates(model, N_ESTIMATES)
    z = z_scores(estimates, exact)
    # Every coordinate within 4.5 standard errors (a per-coordinate false alarm rate of 7e-6)
    assert np.max(np.abs(z)) < 4.5, np.abs(z).max()
    # The test has power: a gradient off by 25% is rejected
    assert np.max(np.abs(z_scores(estimates, 0.75 * exact))) > 6
    assert np.linalg.norm(exact) > 0.05 and -2 < eta < 3


def test_exact_expected_return_matches_monte_carlo():
    """The enumeration itself, checked against plain Monte Carlo returns of a uniform random policy."""
    env = TinyMDP()
    rng = np.random.default_rng(0)
    returns = []
    for episode in range(20_000):
        env.reset(seed=episode)
        done, ret = False, 0.0
        while not done:
            _, r, terminated, truncated, _ = env.step(int(rng.integers(2)))
            ret += r
            done = terminated or truncated
        returns.append(ret)
    eta = TinyMDP.expected_return([[0.5, 0.5]] * 3)
    assert abs(np.mean(returns) - eta) < 4 * np.std(returns) / np.sqrt(len(returns))
