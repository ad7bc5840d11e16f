"""
The options that change the step but not the episodes: running standardization of the returns
(``normalize_returns``), the learning rate scaled by the estimate's signal fraction (``noise_scaled_lr``) or by the
distance of the batch's return from a target (``return_scaled_lr``), and tanh-squashed Gaussian actions
(``squash_output``), each against the update recomputed by hand (SGD, gamma = 1).
"""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.running_mean_std import RunningMeanStd

from sb3_reinforce import REINFORCE
from sb3_reinforce.common.checks import ArgumentError
from sb3_reinforce.common.episodic import noise_scaled_lr_factor, return_scaled_lr_factor
from sb3_reinforce.common.policies import ReinforcePolicy
from sb3_reinforce.common.returns import rewards_to_go
from tests.envs import ToyEnv, recorded_envs, selected_episodes
from tests.test_update import LR, gaussian_update, make_model, params, softmax


def score_terms(before, episodes):
    """Per step: (grad of log pi(a|s) w.r.t. action_net.weight, w.r.t. action_net.bias) for a linear softmax policy."""
    w, b = before["action_net.weight"], before["action_net.bias"]
    terms = []
    for ep in episodes:
        steps = []
        for s, a in zip(ep["obs"][:-1], ep["actions"]):
            diff = np.eye(len(b))[int(a)] - softmax(w @ s + b)
            steps.append((np.outer(diff, s), diff))
        terms.append(steps)
    return terms


def weighted_gradient(terms, weights):
    """(1/m) sum_i sum_t w_t^i grad log pi(a_t^i | s_t^i), per parameter, with the weights given per step."""
    grad_w = sum(w_t * g_w for steps, ws in zip(terms, weights) for (g_w, _), w_t in zip(steps, ws))
    grad_b = sum(w_t * g_b for steps, ws in zip(terms, weights) for (_, g_b), w_t in zip(steps, ws))
    return grad_w / len(terms), grad_b / len(terms)


def episode_weights(episodes, mu, sigma):
    """(R(tau_i) - mu) / sigma at every step of each episode."""
    return [[(sum(ep["rewards"]) - mu) / sigma] * len(ep["rewards"]) for ep in episodes]


def step_returns(episodes):
    return np.concatenate([[sum(ep["rewards"])] * len(ep["rewards"]) for ep in episodes])


def assert_update(before, after, expected):
    np.testing.assert_allclose(
        after["action_net.weight"] - before["action_net.weight"], LR * expected[0], rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(after["action_net.bias"] - before["action_net.bias"], LR * expected[1], rtol=1e-4, atol=1e-6)


def test_normalize_returns_uses_the_statistics_of_previous_batches():
    model, recorders = make_model(n_envs=2, n_episodes=4, normalize_returns=True)
    before = params(model)
    model.learn(1)
    middle = params(model)
    first = selected_episodes(recorders, 4)
    returns_1 = step_returns(first)
    # First batch: no predecessors, its own statistics over its steps
    mu_1, sigma_1 = returns_1.mean(), np.sqrt(returns_1.var() + 1e-8)
    assert abs(mu_1) > 0.5, "the test needs returns whose mean is far from 0"
    assert_update(before, middle, weighted_gradient(score_terms(before, first), episode_weights(first, mu_1, sigma_1)))

    n_seen = [len(r.finished_episodes()) for r in recorders]
    model.learn(1, reset_num_timesteps=False)
    after = params(model)
    second = [ep for r, n in zip(recorders, n_seen) for ep in r.finished_episodes()[n:][:2]]
    np.testing.assert_array_equal(model.rollout_buffer.get().lengths, [len(ep["rewards"]) for ep in second])
    # Second batch: the running statistics of the first batch only (SB3's RunningMeanStd)
    rms = RunningMeanStd(shape=())
    rms.update(returns_1)
    mu_2, sigma_2 = float(rms.mean), float(np.sqrt(rms.var + 1e-8))
    terms = score_terms(middle, second)
    assert_update(middle, after, weighted_gradient(terms, episode_weights(second, mu_2, sigma_2)))
    # ... not statistics that include the batch itself
    both = np.concatenate([returns_1, step_returns(second)])
    including = weighted_gradient(terms, episode_weights(second, both.mean(), both.std()))
    assert not np.allclose(after["action_net.bias"] - middle["action_net.bias"], LR * including[1], rtol=1e-2)
    # The statistics now hold both batches, and are saved with the model
    np.testing.assert_allclose(model.return_rms.mean, both.mean(), rtol=1e-3)
    np.testing.assert_allclose(model.return_rms.var, both.var(), rtol=1e-3)


def test_normalize_returns_standardizes_the_value_targets(tmp_path):
    venv, _ = recorded_envs(lambda: ToyEnv(), 2)
    model = REINFORCE("MlpPolicy", venv, n_episodes=4, reward_to_go=True, baseline="value", normalize_returns=True, seed=1)
    model.learn(1)
    expected_stats = (float(model.return_rms.mean), float(np.sqrt(model.return_rms.var + 1e-8)))
    model.save(tmp_path / "first")
    policy_before = REINFORCE.load(tmp_path / "first").policy
    model.learn(1, reset_num_timesteps=False)
    batch = model.rollout_buffer.get()
    mu, sigma = model.logger.name_to_value["train/return_rms_mean"], model.logger.name_to_value["train/return_rms_std"]
    assert (mu, sigma) == pytest.approx(expected_stats) and abs(mu) > 0.5
    with th.no_grad():
        values = policy_before.predict_values(th.as_tensor(batch.observations)).numpy().ravel()
    targets = rewards_to_go(batch.rewards, batch.lengths, 1.0)
    value_loss = model.logger.name_to_value["train/value_loss"]
    assert value_loss == pytest.approx(np.mean((values - (targets - mu) / sigma) ** 2), rel=1e-4)
    assert value_loss != pytest.approx(np.mean((values - targets) ** 2), rel=1e-2)
    model.save(tmp_path / "model")
    loaded = REINFORCE.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.return_rms.mean, model.return_rms.mean)
    np.testing.assert_allclose(loaded.return_rms.var, model.return_rms.var)
    assert loaded.return_rms.count == model.return_rms.count


def per_episode_gradients(terms, episodes):
    """R(tau_i) sum_t grad log pi(a_t^i | s_t^i), flattened, one row per episode."""
    rows = []
    for steps, ep in zip(terms, episodes):
        ret = sum(ep["rewards"])
        rows.append(np.concatenate([ret * sum(g_w for g_w, _ in steps).ravel(), ret * sum(g_b for _, g_b in steps)]))
    return np.array(rows)


@pytest.mark.parametrize("n_envs,n_episodes,seed", [(1, 4, 4), (2, 6, 8)])
def test_noise_scaled_lr_update_matches_hand_computed_factor(n_envs, n_episodes, seed, tmp_path):
    model, recorders = make_model(n_envs=n_envs, n_episodes=n_episodes, seed=seed, noise_scaled_lr=True)
    before = params(model)
    model.learn(1)
    after = params(model)
    episodes = selected_episodes(recorders, n_episodes)
    terms = score_terms(before, episodes)
    g = per_episode_gradients(terms, episodes)
    g_hat = g.mean(axis=0)
    trace_cov = ((g - g_hat) ** 2).sum() / (n_episodes - 1) / n_episodes  # tr Cov of the mean of m estimates
    factor = max(0.0, 1.0 - trace_cov / (g_hat**2).sum())
    assert 0.05 < factor < 0.95, f"the test needs a factor away from 0 and 1, got {factor}"
    assert model.logger.name_to_value["train/lr_factor"] == pytest.approx(factor, rel=1e-4)
    plain = weighted_gradient(terms, [[sum(ep["rewards"])] * len(ep["rewards"]) for ep in episodes])
    assert_update(before, after, (factor * plain[0], factor * plain[1]))
    assert model.policy.optimizer.param_groups[0]["lr"] == pytest.approx(LR * factor)
    # Next update: the factor of the moving averages (coefficient 0.9) of ||g_hat||^2 and tr Cov[g_hat], applied to
    # the schedule's rate (it does not compound)
    model.learn(1, reset_num_timesteps=False)
    logged = model.logger.name_to_value
    trace_cov_2 = logged["train/grad_variance"]
    sq_norm_2 = logged["train/grad_snr"] * trace_cov_2
    expected = max(0.0, 1 - (0.9 * trace_cov + 0.1 * trace_cov_2) / (0.9 * (g_hat**2).sum() + 0.1 * sq_norm_2))
    assert logged["train/lr_factor"] == pytest.approx(expected, rel=1e-4)
    assert model.policy.optimizer.param_groups[0]["lr"] == pytest.approx(LR * expected, rel=1e-4)
    # The scaled rate is a plain float: the saved optimizer state loads with torch's weights_only loading
    assert type(model.policy.optimizer.param_groups[0]["lr"]) is float
    model.save(tmp_path / "model")
    loaded = REINFORCE.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.noise_scale_averages, model.noise_scale_averages)


def test_noise_scaled_lr_takes_no_step_when_the_estimate_is_mostly_noise():
    model, recorders = make_model(n_envs=1, n_episodes=4, seed=1, noise_scaled_lr=True)
    before = params(model)
    model.learn(1)
    episodes = selected_episodes(recorders, 4)
    g = per_episode_gradients(score_terms(before, episodes), episodes)
    g_hat = g.mean(axis=0)
    assert ((g - g_hat) ** 2).sum() / 3 / 4 > (g_hat**2).sum()  # tr Cov[g_hat] > ||g_hat||^2
    assert model.logger.name_to_value["train/lr_factor"] == 0.0
    for name, value in params(model).items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_noise_scaled_lr_factor():
    assert noise_scaled_lr_factor(4.0, 1.0) == pytest.approx(0.75)
    assert noise_scaled_lr_factor(1.0, 3.0) == 0.0  # more noise than the whole estimate: no step
    assert noise_scaled_lr_factor(0.0, 0.0) == 0.0


def batch_mean_return(n_envs, n_episodes, seed):
    """The mean undiscounted return of the first batch of ``make_model(n_envs, n_episodes, seed)`` (collection does
    not depend on the learning-rate options)."""
    model, recorders = make_model(n_envs=n_envs, n_episodes=n_episodes, seed=seed)
    model.learn(1)
    return float(np.mean([sum(ep["rewards"]) for ep in selected_episodes(recorders, n_episodes)]))


@pytest.mark.parametrize("n_envs,n_episodes,seed", [(1, 3, 2), (2, 5, 6)])
def test_return_scaled_lr_update_matches_hand_computed_factor(n_envs, n_episodes, seed, tmp_path):
    mean_return = batch_mean_return(n_envs, n_episodes, seed)
    low, high = mean_return - 1.0, mean_return + 3.0  # factor (high - R_bar) / (high - low) = 0.75
    model, recorders = make_model(n_envs=n_envs, n_episodes=n_episodes, seed=seed, return_scaled_lr=(low, high))
    before = params(model)
    model.learn(1)
    after = params(model)
    episodes = selected_episodes(recorders, n_episodes)
    assert np.mean([sum(ep["rewards"]) for ep in episodes]) == pytest.approx(mean_return)
    assert model.logger.name_to_value["train/lr_factor"] == pytest.approx(0.75)
    plain = weighted_gradient(score_terms(before, episodes), [[sum(ep["rewards"])] * len(ep["rewards"]) for ep in episodes])
    assert_update(before, after, (0.75 * plain[0], 0.75 * plain[1]))
    # The factor scales the schedule's rate of each update; it does not compound
    assert model.policy.optimizer.param_groups[0]["lr"] == pytest.approx(LR * 0.75)
    model.learn(1, reset_num_timesteps=False)
    second = model.rollout_buffer.get()
    ends = np.cumsum(second.lengths)
    r_bar = float(np.mean([second.rewards[end - length : end].sum() for end, length in zip(ends, second.lengths)]))
    expected = min(1.0, max(0.0, (high - r_bar) / (high - low)))
    assert model.policy.optimizer.param_groups[0]["lr"] == pytest.approx(LR * expected)
    assert type(model.policy.optimizer.param_groups[0]["lr"]) is float
    model.save(tmp_path / "model")
    assert tuple(REINFORCE.load(tmp_path / "model").return_scaled_lr) == (low, high)  # saved as JSON: a list


def test_return_scaled_lr_uses_the_undiscounted_return_and_stops_at_high():
    mean_return = batch_mean_return(2, 4, 5)
    # With gamma < 1 the factor still reads sum_t r_t: a batch whose undiscounted mean is at `high` takes no step
    model, _ = make_model(n_envs=2, n_episodes=4, seed=5, gamma=0.5, return_scaled_lr=(mean_return - 10.0, mean_return))
    before = params(model)
    model.learn(1)
    assert model.logger.name_to_value["train/lr_factor"] == 0.0
    for name, value in params(model).items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_return_scaled_lr_and_noise_scaled_lr_multiply():
    mean_return = batch_mean_return(2, 6, 8)
    return_range = (mean_return - 1.0, mean_return + 1.0)  # factor 0.5
    model, recorders = make_model(n_envs=2, n_episodes=6, seed=8, noise_scaled_lr=True, return_scaled_lr=return_range)
    before = params(model)
    model.learn(1)
    episodes = selected_episodes(recorders, 6)
    g = per_episode_gradients(score_terms(before, episodes), episodes)
    g_hat = g.mean(axis=0)
    noise_factor = max(0.0, 1.0 - ((g - g_hat) ** 2).sum() / 5 / 6 / (g_hat**2).sum())
    assert 0.05 < noise_factor < 0.95
    assert model.logger.name_to_value["train/lr_factor"] == pytest.approx(0.5 * noise_factor, rel=1e-4)


def test_return_scaled_lr_factor():
    assert return_scaled_lr_factor(125.0, 0.0, 500.0) == pytest.approx(0.75)
    assert return_scaled_lr_factor(-20.0, 0.0, 500.0) == 1.0  # below low: the full rate
    assert return_scaled_lr_factor(500.0, 0.0, 500.0) == 0.0
    assert return_scaled_lr_factor(-150.0, -200.0, -100.0) == pytest.approx(0.5)


def test_squash_output_maps_actions_and_keeps_the_gaussian_score():
    box = spaces.Box(np.array([-1.0, 0.0], dtype=np.float32), np.array([3.0, 0.5], dtype=np.float32))
    venv, recorders = recorded_envs(lambda: ToyEnv(box), 1)
    policy_kwargs = dict(net_arch=[], optimizer_class=th.optim.SGD, ortho_init=False, squash_output=True, log_std_init=0.5)
    model = REINFORCE("MlpPolicy", venv, learning_rate=LR, n_episodes=3, seed=2, policy_kwargs=policy_kwargs)
    before = params(model)
    model.learn(1)
    after = params(model)
    batch = model.rollout_buffer.get()
    episodes = selected_episodes(recorders, 3)
    env_actions = np.concatenate([np.stack(ep["actions"]) for ep in episodes])
    assert np.any(np.abs(batch.actions) > 1.5), "some sampled actions must be far in the tails"
    np.testing.assert_allclose(env_actions, box.low + (np.tanh(batch.actions) + 1) / 2 * (box.high - box.low), rtol=1e-5)
    # The score function is that of the Gaussian sample u, not of the squashed action
    ends = np.cumsum(batch.lengths)
    starts = ends - batch.lengths
    expected = gaussian_update(
        before,
        [batch.observations[s:e] for s, e in zip(starts, ends)],
        [batch.actions[s:e] for s, e in zip(starts, ends)],
        [batch.rewards[s:e].astype(np.float64).sum() for s, e in zip(starts, ends)],
    )
    for name, delta in expected.items():
        np.testing.assert_allclose(after[name] - before[name], delta, rtol=1e-4, atol=1e-6, err_msg=name)
    # predict(): the mode (or a sample) squashed into the bounds the same way
    obs = batch.observations[:5]
    mean = obs @ after["action_net.weight"].T + after["action_net.bias"]
    action, _ = model.predict(obs, deterministic=True)
    np.testing.assert_allclose(action, box.low + (np.tanh(mean) + 1) / 2 * (box.high - box.low), rtol=1e-5)
    sampled, _ = model.predict(obs)
    assert np.all((sampled >= box.low) & (sampled <= box.high))


def test_squash_output_needs_a_bounded_box():
    with pytest.raises(ArgumentError, match="squash_output") as error:
        REINFORCE("MlpPolicy", ToyEnv(spaces.Discrete(3)), policy_kwargs=dict(squash_output=True))
    assert error.value.argument == "policy_kwargs"
    unbounded = spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)  # SB3's algorithms refuse it; a policy alone
    with pytest.raises(ArgumentError, match="finite bounds"):
        ReinforcePolicy(ToyEnv().observation_space, unbounded, lambda _: 1e-3, squash_output=True)


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        (dict(normalize_returns="yes"), "normalize_returns"),
        (dict(noise_scaled_lr=1), "noise_scaled_lr"),
        (dict(noise_scaled_lr=True, n_episodes=1), "noise_scaled_lr"),
        (dict(noise_scaled_lr=True, noise_scale_smoothing=1.0), "noise_scale_smoothing"),
        (dict(return_scaled_lr=500.0), "return_scaled_lr"),
        (dict(return_scaled_lr=(500.0, 0.0)), "return_scaled_lr"),
        (dict(return_scaled_lr=(0.0, float("inf"))), "return_scaled_lr"),
        (dict(return_scaled_lr=(0.0, 1.0, 2.0)), "return_scaled_lr"),
    ],
)
def test_bad_option_values_name_the_argument(kwargs, argument):
    with pytest.raises(ArgumentError, match=argument) as error:
        REINFORCE("MlpPolicy", ToyEnv(), **kwargs)
    assert error.value.argument == argument
