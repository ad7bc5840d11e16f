"""
``noise_correlation``: AR(1) Gaussian exploration noise across the steps of an episode. The log-probabilities are
checked against the conditional densities written out by hand and against the joint density of the episode's
noise; the update against the gradient of that joint density (SGD, gamma = 1); the rollout's noise against its
AR(1) law. The same for RecurrentREINFORCE's LSTM policy, whose mean mu(h_t) is unrolled by hand through each
episode from the zero state.
"""

import copy

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from scipy.stats import norm

from sb3_reinforce import REINFORCE, MaskableRecurrentREINFORCE, RecurrentREINFORCE
from sb3_reinforce.common.checks import ArgumentError
from sb3_reinforce.common.recurrent_policies import run_episodes
from tests.envs import ToyEnv, recorded_envs, selected_episodes
from tests.test_recurrent import HIDDEN, hand_outputs
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
    return noise_log_density(p, mean, actions, rho)


def noise_log_density(p, mean, actions, rho):
    """log N(u - mu; 0, Sigma) of one episode's noise for the given means mu_t, Sigma_ts = sigma^2 rho^|t-s| (float64)."""
    noise = th.as_tensor(np.asarray(actions), dtype=th.float64) - mean
    t = th.arange(len(mean), dtype=th.float64)
    corr = rho ** (t[:, None] - t[None, :]).abs()
    total = th.zeros((), dtype=th.float64)
    for k in range(noise.shape[1]):
        cov = th.exp(2 * p["log_std"][k]) * corr
        total = total + th.distributions.MultivariateNormal(th.zeros(len(mean), dtype=th.float64), cov).log_prob(noise[:, k])
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


# RecurrentREINFORCE: mu(h_t) read from the LSTM's memory of the episode so far


def make_recurrent_model(rho, n_envs=2, n_episodes=4, seed=3, **kwargs):
    venv, recorders = recorded_envs(lambda: ToyEnv(BOX), n_envs)
    policy_kwargs = dict(
        net_arch=[],
        lstm_hidden_size=HIDDEN,
        optimizer_class=th.optim.SGD,
        ortho_init=False,
        log_std_init=-0.3,
        noise_correlation=rho,
    )
    model = RecurrentREINFORCE(
        "MlpLstmPolicy", venv, learning_rate=LR, n_episodes=n_episodes, seed=seed, policy_kwargs=policy_kwargs, **kwargs
    )
    return model, recorders


def hand_means(p, observations):
    """mu(h_t) along one episode, the LSTM unrolled by hand from the zero state (float64)."""
    return th.stack(hand_outputs(p, np.asarray(observations)))


def hand_episode_log_density(p, observations, actions, rho):
    """sum_t log pi(u_t | h_t) of one episode: the joint density of its noise u_t - mu(h_t), mu unrolled by hand."""
    return noise_log_density(p, hand_means(p, observations), actions, rho)


def test_recurrent_log_probs_are_the_conditional_densities():
    rho = 0.6
    model, _ = make_recurrent_model(rho)
    rng = np.random.default_rng(0)
    lengths = np.array([3, 1, 4])
    obs = rng.normal(size=(8, 3)).astype(np.float32)
    actions = rng.normal(size=(8, 2)).astype(np.float32)
    with th.no_grad():
        _, log_prob, entropy = model.policy.evaluate_correlated_actions(th.as_tensor(obs), th.as_tensor(actions), lengths)
    p = {name: th.as_tensor(v) for name, v in params(model).items()}
    ends = np.cumsum(lengths)
    mu = th.cat([hand_means(p, obs[start:end]) for start, end in zip(ends - lengths, ends)]).numpy()
    sigma = np.exp(p["log_std"].numpy())
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
    marginal = norm.entropy(scale=sigma).sum()
    np.testing.assert_allclose(entropy.numpy()[[0, 3, 4]], marginal, rtol=1e-5)
    np.testing.assert_allclose(entropy.numpy()[[1, 2, 5, 6, 7]], marginal + 2 * 0.5 * np.log(1 - rho**2), rtol=1e-5)
    for start, end in zip(ends - lengths, ends):
        joint = hand_episode_log_density(p, obs[start:end], actions[start:end], rho).item()
        assert log_prob[start:end].sum().item() == pytest.approx(joint, rel=1e-5)
    # Not the memoryless policy's densities: the mean comes from the memory, not from the current observation alone
    independent = [norm.logpdf(actions[i], mu[i], sigma).sum() for i in range(8)]
    assert np.abs(log_prob.numpy() - independent).max() > 1e-2


@pytest.mark.parametrize("reward_to_go", [False, True])
def test_recurrent_update_is_the_gradient_of_the_joint_density(reward_to_go):
    rho = 0.8
    model, recorders = make_recurrent_model(rho, reward_to_go=reward_to_go)
    before = {name: p.detach().clone().double().requires_grad_(True) for name, p in model.policy.named_parameters()}
    model.learn(1)  # one rollout, one gradient step
    episodes = selected_episodes(recorders, 4)  # the episodes as the envs saw them, not as the buffer kept them
    assert len({len(ep["rewards"]) for ep in episodes}) > 1, "the test needs episodes of different lengths"

    def objective(correlation):
        total = th.zeros((), dtype=th.float64)
        for ep in episodes:
            obs, actions, rewards = ep["obs"][:-1], np.array(ep["actions"]), np.array(ep["rewards"])
            if reward_to_go:
                # sum_t G_t log pi(u_t | h_t), each factor being the joint density of u_0..u_t over that of u_0..u_{t-1}
                joint = [
                    hand_episode_log_density(before, obs[: t + 1], actions[: t + 1], correlation) for t in range(len(obs))
                ]
                factors = [joint[0]] + [joint[t] - joint[t - 1] for t in range(1, len(joint))]
                to_go = np.cumsum(rewards[::-1])[::-1]
                total = total + sum(float(g) * f for g, f in zip(to_go, factors))
            else:
                total = total + float(rewards.sum()) * hand_episode_log_density(before, obs, actions, correlation)
        return total / len(episodes)

    grads = th.autograd.grad(objective(rho), list(before.values()))
    deltas = {}
    for (name, p), grad in zip(model.policy.named_parameters(), grads):
        deltas[name] = p.detach().double().numpy() - before[name].detach().numpy()
        np.testing.assert_allclose(deltas[name], LR * grad.numpy(), rtol=2e-4, atol=2e-7, err_msg=name)
    assert np.abs(deltas["lstm_actor.weight_hh_l0"]).max() > 1e-6, "the gradient flows through time"
    # The test has power: the update is far from the gradient that scores the same episodes as independent noise
    wrong = th.autograd.grad(objective(0.0), list(before.values()))
    update = np.concatenate([d.ravel() for d in deltas.values()])
    wrong_update = LR * np.concatenate([g.numpy().ravel() for g in wrong])
    assert np.linalg.norm(update - wrong_update) > 0.1 * np.linalg.norm(update)


def test_recurrent_rollout_noise_follows_the_ar1_law_around_the_memory_mean():
    rho = 0.8
    model, _ = make_recurrent_model(rho, n_envs=3, n_episodes=600, seed=7)
    policy = copy.deepcopy(model.policy)
    model.learn(1)
    batch = model.rollout_buffer.get()
    with th.no_grad():  # mu(h_t) of the parameters that acted, each episode run again from the zero state
        latent = run_episodes(th.as_tensor(batch.observations), batch.lengths, policy.lstm_actor)
        mean = policy.action_net(latent).numpy()
    noise = batch.actions - mean
    sigma = np.exp(policy.log_std.detach().numpy())
    starts = np.concatenate(([0], np.cumsum(batch.lengths)[:-1]))
    inside = np.setdiff1d(np.arange(1, len(noise)), starts)
    assert len(inside) > 2_000
    np.testing.assert_allclose(noise[starts].std(axis=0), sigma, rtol=0.1)
    np.testing.assert_allclose(noise.std(axis=0), sigma, rtol=0.06)
    innovation = (noise[inside] - rho * noise[inside - 1]) / np.sqrt(1 - rho**2)
    np.testing.assert_allclose(innovation.std(axis=0), sigma, rtol=0.06)
    for k in range(2):
        assert np.corrcoef(noise[inside, k], noise[inside - 1, k])[0, 1] == pytest.approx(rho, abs=0.03)
        assert abs(np.corrcoef(noise[starts[1:], k], noise[starts[1:] - 1, k])[0, 1]) < 0.1


def test_recurrent_saved_and_loaded_with_the_policy(tmp_path):
    model = RecurrentREINFORCE(
        "MlpLstmPolicy",
        "Pendulum-v1",
        n_episodes=2,
        baseline="value",
        seed=0,
        policy_kwargs=dict(lstm_hidden_size=8, noise_correlation=0.5, squash_output=True),
    ).learn(400)
    model.save(tmp_path / "model")
    loaded = RecurrentREINFORCE.load(tmp_path / "model")
    assert loaded.policy.noise_correlation == 0.5 and loaded.policy.squash_output
    obs = np.random.default_rng(0).normal(size=(3, 3)).astype(np.float32)
    state, starts = None, np.ones(1)
    loaded_state = None
    for t in range(3):
        action, state = model.predict(obs[t : t + 1], state, starts, deterministic=True)
        loaded_action, loaded_state = loaded.predict(obs[t : t + 1], loaded_state, starts, deterministic=True)
        np.testing.assert_allclose(loaded_action, action)
        assert np.all(np.abs(action) <= 2.0)  # squashed into Pendulum's bounds
        starts = np.zeros(1)
    loaded.set_env(model.get_env())
    loaded.learn(400)


INVALID = [
    (dict(noise_correlation=1.0), "Pendulum-v1", r"noise_correlation must be a number in \[0, 1\)"),
    (dict(noise_correlation=-0.1), "Pendulum-v1", r"noise_correlation must be a number in \[0, 1\)"),
    (dict(noise_correlation="0.5"), "Pendulum-v1", r"noise_correlation must be a number in \[0, 1\)"),
    (dict(noise_correlation=0.5), "CartPole-v1", "noise_correlation > 0 needs a Box action space"),
]


@pytest.mark.parametrize(
    "algo,kwargs,env,match",
    [(RecurrentREINFORCE, *case) for case in INVALID] + [(MaskableRecurrentREINFORCE, *INVALID[-1])],
)
def test_recurrent_invalid_noise_correlation(algo, kwargs, env, match):
    with pytest.raises(ArgumentError, match=match) as info:
        algo("MlpLstmPolicy", env, policy_kwargs=dict(lstm_hidden_size=8, **kwargs))
    assert info.value.argument == "policy_kwargs"
