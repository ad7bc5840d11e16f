"""The return bookkeeping alone, against naive loops, with non-constant rewards."""

import numpy as np
import pytest

from sb3_reinforce.common.returns import episode_returns, rewards_to_go, step_in_episode, step_weights

REWARDS = np.array([1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 4.0, 2.0, -0.5])
LENGTHS = np.array([3, 1, 5])  # episodes: [1, -2, .5], [3], [.25, -1, 4, 2, -.5]


def naive_episodes(rewards, lengths):
    out, start = [], 0
    for length in lengths:
        out.append(rewards[start : start + length])
        start += length
    return out


@pytest.mark.parametrize("gamma", [1.0, 0.9, 0.0])
def test_episode_returns_by_hand(gamma):
    expected = [sum(gamma**t * r for t, r in enumerate(ep)) for ep in naive_episodes(REWARDS, LENGTHS)]
    np.testing.assert_allclose(episode_returns(REWARDS, LENGTHS, gamma), expected)
    if gamma == 1.0:
        np.testing.assert_allclose(expected, [-0.5, 3.0, 4.75])


@pytest.mark.parametrize("gamma", [1.0, 0.9, 0.0])
def test_rewards_to_go_by_hand(gamma):
    expected = []
    for ep in naive_episodes(REWARDS, LENGTHS):
        expected += [sum(gamma ** (k - t) * ep[k] for k in range(t, len(ep))) for t in range(len(ep))]
    np.testing.assert_allclose(rewards_to_go(REWARDS, LENGTHS, gamma), expected)
    # The first step's reward-to-go of each episode is the episode's return; the last is its last reward
    starts = np.array([0, 3, 4])
    np.testing.assert_allclose(rewards_to_go(REWARDS, LENGTHS, gamma)[starts], episode_returns(REWARDS, LENGTHS, gamma))
    np.testing.assert_allclose(rewards_to_go(REWARDS, LENGTHS, gamma)[[2, 3, 8]], REWARDS[[2, 3, 8]])


def test_step_in_episode():
    np.testing.assert_array_equal(step_in_episode(LENGTHS), [0, 1, 2, 0, 0, 1, 2, 3, 4])


def test_vanilla_weights_are_the_episode_return_at_every_step():
    weights = step_weights(REWARDS, LENGTHS, 1.0)
    np.testing.assert_allclose(weights, [-0.5] * 3 + [3.0] + [4.75] * 5)


@pytest.mark.parametrize("reward_to_go", [False, True])
@pytest.mark.parametrize("gamma", [1.0, 0.95])
def test_baselines_against_naive_loops(reward_to_go, gamma):
    episodes = naive_episodes(REWARDS, LENGTHS)
    m, t_max = len(episodes), max(LENGTHS)
    if reward_to_go:
        per_ep = [[sum(gamma ** (k - t) * ep[k] for k in range(t, len(ep))) for t in range(len(ep))] for ep in episodes]
    else:
        per_ep = [[sum(gamma**k * r for k, r in enumerate(ep))] * len(ep) for ep in episodes]
    # Zero-padded table of G_t^j (or R_j when not reward-to-go: the scalar baselines)
    padded = np.zeros((m, t_max))
    for j, w in enumerate(per_ep):
        padded[j, : len(w)] = w
    mean_expected, loo_expected = [], []
    for i, w in enumerate(per_ep):
        for t in range(len(w)):
            if reward_to_go:
                column = padded[:, t]
            else:
                column = np.array([per_ep[j][0] for j in range(m)])
            mean_expected.append(w[t] - column.mean())
            loo_expected.append(w[t] - (column.sum() - column[i]) / (m - 1))
    np.testing.assert_allclose(step_weights(REWARDS, LENGTHS, gamma, reward_to_go, "mean"), mean_expected)
    np.testing.assert_allclose(step_weights(REWARDS, LENGTHS, gamma, reward_to_go, "loo"), loo_expected)


def test_value_baseline_and_normalization():
    values = np.linspace(-1, 1, len(REWARDS))
    weights = step_weights(REWARDS, LENGTHS, 0.9, reward_to_go=True, baseline="value", values=values)
    np.testing.assert_allclose(weights, rewards_to_go(REWARDS, LENGTHS, 0.9) - values)
    normalized = step_weights(REWARDS, LENGTHS, 1.0, normalize=True)
    raw = step_weights(REWARDS, LENGTHS, 1.0)
    np.testing.assert_allclose(normalized, (raw - raw.mean()) / (raw.std() + 1e-8))
    assert abs(normalized.mean()) < 1e-12 and abs(normalized.std() - 1) < 1e-6


def test_bad_baseline_arguments():
    with pytest.raises(ValueError, match="baseline must be one of"):
        step_weights(REWARDS, LENGTHS, 1.0, baseline="median")
    with pytest.raises(ValueError, match="needs the value predictions"):
        step_weights(REWARDS, LENGTHS, 1.0, baseline="value")
    with pytest.raises(ValueError, match="at least 2 episodes"):
        step_weights(REWARDS[:3], LENGTHS[:1], 1.0, baseline="loo")
