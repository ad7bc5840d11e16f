"""
The opt-in variance-reduction options, recomputed by hand, and checked for bias and variance against the
exactly enumerated gradient of the tiny MDP.
"""

import numpy as np
import pytest
import torch as th

from sb3_reinforce import REINFORCE
from tests.test_exact_gradient import N_ESTIMATES, exact_gradient, sample_estimates, z_scores
from tests.test_exact_gradient import make_model as make_tiny_model
from tests.test_update import LR, make_model, params, selected_episodes, softmax


def naive_weights(episodes, gamma, reward_to_go, baseline):
    """w_t^i by plain loops, straight from the definitions in the docstring of returns.step_weights."""
    rewards = [np.asarray(ep["rewards"], dtype=np.float64) for ep in episodes]
    if reward_to_go:
        raw = [np.array([sum(gamma ** (k - t) * r[k] for k in range(t, len(r))) for t in range(len(r))]) for r in rewards]
    else:
        raw = [np.full(len(r), sum(gamma**t * x for t, x in enumerate(r))) for r in rewards]
    m = len(raw)
    out = []
    for i, w in enumerate(raw):
        b = np.zeros(len(w))
        for t in range(len(w)):
            others = (
                [raw[j][t] if t < len(raw[j]) else 0.0 for j in range(m) if j != i]
                if reward_to_go
                else [raw[j][0] for j in range(m) if j != i]
            )
            own = w[t]
            if baseline == "mean":
                b[t] = (sum(others) + own) / m
            elif baseline == "loo":
                b[t] = sum(others) / (m - 1)
        out.append(w - b)
    return out


def linear_softmax_update(before, episodes, weights, m):
    w, b = before["action_net.weight"], before["action_net.bias"]
    grad_w, grad_b = np.zeros_like(w), np.zeros_like(b)
    for ep, ws in zip(episodes, weights):
        for s, a, weight in zip(ep["obs"][:-1], ep["actions"], ws):
            p = softmax(w @ s + b)
            onehot = np.eye(len(b))[int(a)]
            grad_w += weight * np.outer(onehot - p, s)
            grad_b += weight * (onehot - p)
    return LR * grad_w / m, LR * grad_b / m


@pytest.mark.parametrize(
    "options",
    [
        dict(reward_to_go=True, gamma=0.9),
        dict(baseline="mean"),
        dict(baseline="loo"),
        dict(baseline="loo", reward_to_go=True),
        dict(baseline="mean", reward_to_go=True, gamma=0.95),
        dict(normalize_advantage=True, reward_to_go=True),
        dict(gamma=0.8),
    ],
)
def test_update_with_options_matches_hand_computation(options):
    model, recorders = make_model(n_envs=2, n_episodes=5, **options)
    before = params(model)
    model.learn(1)
    after = params(model)
    episodes = selected_episodes(recorders, 5)
    weights = naive_weights(episodes, options.get("gamma", 1.0), options.get("reward_to_go", False), options.get("baseline"))
    if options.get("normalize_advantage"):
        flat = np.concatenate(weights)
        weights = [(w - flat.mean()) / (flat.std() + 1e-8) for w in weights]
    delta_w, delta_b = linear_softmax_update(before, episodes, weights, 5)
    np.testing.assert_allclose(after["action_net.weight"] - before["action_net.weight"], delta_w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after["action_net.bias"] - before["action_net.bias"], delta_b, rtol=1e-4, atol=1e-6)


def test_value_baseline_update_by_hand():
    model, recorders = make_model(n_envs=2, n_episodes=4, baseline="value", reward_to_go=True, gamma=0.9, vf_coef=0.7)
    names = [name for name, _ in model.policy.named_parameters()]
    assert "value_net.weight" in names and "value_net.bias" in names
    before = params(model)
    model.learn(1)
    after = params(model)
    episodes = selected_episodes(recorders, 4)
    v_w, v_b = before["value_net.weight"][0], before["value_net.bias"][0]
    returns_to_go = naive_weights(episodes, 0.9, True, None)
    values = [np.array([v_w @ s + v_b for s in ep["obs"][:-1]]) for ep in episodes]
    delta_w, delta_b = linear_softmax_update(before, episodes, [g - v for g, v in zip(returns_to_go, values)], 4)
    np.testing.assert_allclose(after["action_net.weight"] - before["action_net.weight"], delta_w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after["action_net.bias"] - before["action_net.bias"], delta_b, rtol=1e-4, atol=1e-6)
    # Value head: SGD on vf_coef * mean_t (V(s_t) - G_t)^2
    obs = np.concatenate([ep["obs"][:-1] for ep in episodes])
    err = np.concatenate(values) - np.concatenate(returns_to_go)
    grad_vw = 0.7 * 2 * (err[:, None] * obs).mean(axis=0)
    np.testing.assert_allclose(after["value_net.weight"][0] - v_w, -LR * grad_vw, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after["value_net.bias"][0] - v_b, -LR * 0.7 * 2 * err.mean(), rtol=1e-4, atol=1e-6)


def test_entropy_bonus_and_gradient_clipping():
    model, recorders = make_model(n_envs=1, n_episodes=3, ent_coef=0.3)
    reference = {name: p.detach().clone().requires_grad_(True) for name, p in model.policy.named_parameters()}
    before = params(model)
    model.learn(1)
    after = params(model)
    episodes = selected_episodes(recorders, 3)
    weights = naive_weights(episodes, 1.0, False, None)
    delta_w, _ = linear_softmax_update(before, episodes, weights, 3)
    obs = th.as_tensor(np.concatenate([ep["obs"][:-1] for ep in episodes]))
    logits = obs @ reference["action_net.weight"].T + reference["action_net.bias"]
    entropy = th.distributions.Categorical(logits=logits).entropy().mean()
    (grad_ent_w,) = th.autograd.grad(0.3 * entropy, [reference["action_net.weight"]])
    np.testing.assert_allclose(
        after["action_net.weight"] - before["action_net.weight"], delta_w + LR * grad_ent_w.numpy(), rtol=1e-4, atol=1e-6
    )

    model, _ = make_model(n_envs=1, n_episodes=3, max_grad_norm=0.01)
    before = params(model)
    model.learn(1)
    step = np.sqrt(sum(((params(model)[k] - before[k]) ** 2).sum() for k in before))
    assert step == pytest.approx(LR * 0.01, rel=1e-3)
    assert model.logger.name_to_value["train/grad_norm"] > 0.1  # logged before clipping


@pytest.fixture(scope="module")
def vanilla_estimates():
    return sample_estimates(make_tiny_model(2, 4, reward_offset=3.0), N_ESTIMATES)


@pytest.mark.parametrize("options", [dict(reward_to_go=True), dict(baseline="loo"), dict(baseline="loo", reward_to_go=True)])
def test_unbiased_options_match_exact_gradient_with_lower_variance(options, vanilla_estimates):
    # Every reward shifted by +3, so returns sit far from 0 as on most tasks (on the unshifted MDP, whose mean
    # return is near 0, the leave-one-out baseline has nothing to remove and adds its own noise: measured
    # total variance x1.4 there)
    model = make_tiny_model(2, 4, reward_offset=3.0, **options)
    _, exact = exact_gradient(model, reward_offset=3.0)
    estimates = sample_estimates(model, N_ESTIMATES)
    assert np.max(np.abs(z_scores(estimates, exact))) < 4.5
    # Same seeds, so the same episodes: a paired comparison, coordinate by coordinate
    var_vanilla, var_option = vanilla_estimates.var(axis=0), estimates.var(axis=0)
    assert var_option.sum() < 0.8 * var_vanilla.sum(), (var_option.sum(), var_vanilla.sum())
    assert np.all(var_option <= var_vanilla * (1 + 1e-6)), var_option / var_vanilla


def test_mean_baseline_is_biased_by_design_but_close():
    """The batch-mean baseline includes the episode itself: E[estimate] = (1 - 1/m) grad eta."""
    model = make_tiny_model(2, 4, baseline="mean")
    _, exact = exact_gradient(model)
    estimates = sample_estimates(model, N_ESTIMATES)
    assert np.max(np.abs(z_scores(estimates, 0.75 * exact))) < 4.5


def test_gradient_variance_diagnostic_matches_per_episode_gradients():
    model, recorders = make_model(n_envs=2, n_episodes=6)
    before = params(model)
    model.learn(1)
    logged = dict(model.logger.name_to_value)
    episodes = selected_episodes(recorders, 6)
    per_episode = []
    for ep, w in zip(episodes, naive_weights(episodes, 1.0, False, None)):
        gw, gb = linear_softmax_update(before, [ep], [w], 1)
        per_episode.append(np.concatenate([gw.ravel(), gb]) / LR)
    per_episode = np.array(per_episode)
    trace = per_episode.var(axis=0, ddof=1).sum() / len(per_episode)
    mean = per_episode.mean(axis=0)
    assert logged["train/grad_variance"] == pytest.approx(trace, rel=1e-3)
    assert logged["train/grad_snr"] == pytest.approx((mean**2).sum() / trace, rel=1e-3)
    assert logged["train/grad_norm"] == pytest.approx(np.linalg.norm(mean), rel=1e-4)
    assert logged["train/return_mean"] == pytest.approx(np.mean([sum(ep["rewards"]) for ep in episodes]), rel=1e-5)


def test_value_baseline_logs_explained_variance_and_saves(tmp_path):
    model = REINFORCE("MlpPolicy", "CartPole-v1", baseline="value", reward_to_go=True, n_episodes=4, seed=0)
    model.learn(500)
    assert {"train/value_loss", "train/explained_variance"} <= set(model.logger.name_to_value)
    model.save(tmp_path / "m")
    loaded = REINFORCE.load(tmp_path / "m")
    assert loaded.baseline == "value" and loaded.policy.use_value_net
    for a, b in zip(model.policy.parameters(), loaded.policy.parameters()):
        assert th.equal(a, b)
