"""
Returns, rewards-to-go and baselines as pure array functions.

Every function here works on a batch of ``m`` complete episodes stored back to back in flat arrays:
``rewards[k]`` is the reward of the k-th step of the batch, and ``lengths[i]`` the number of steps of
episode ``i`` (episode ``i`` occupies ``rewards[starts[i]:starts[i] + lengths[i]]``). Nothing here touches
torch, the environment or the policy, so the bookkeeping can be tested on its own.

Notation: ``r_t^i`` is the reward received after the action taken at step ``t`` (counted from 0) of
episode ``i``, ``T_i`` its length and ``gamma`` the discount factor.
"""

from __future__ import annotations

import numpy as np

from sb3_reinforce.common.checks import BASELINES


def episode_starts(lengths: np.ndarray) -> np.ndarray:
    """
    Index of the first step of each episode in the flat arrays.

    :param lengths: Length of each episode, shape (m,)
    :return: ``starts[i] = sum_{j<i} lengths[j]``, shape (m,)
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)


def step_in_episode(lengths: np.ndarray) -> np.ndarray:
    """
    Time index ``t`` of every step inside its own episode.

    :param lengths: Length of each episode, shape (m,)
    :return: ``[0, 1, ..., T_0 - 1, 0, 1, ..., T_1 - 1, ...]``, shape (sum(lengths),)
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(episode_starts(lengths), lengths)


def episode_returns(rewards: np.ndarray, lengths: np.ndarray, gamma: float) -> np.ndarray:
    """
    Discounted return of each whole episode:

        R(tau_i) = sum_{t=0}^{T_i - 1} gamma^t r_t^i

    With ``gamma = 1`` (the default of REINFORCE) this is the plain sum of the episode's rewards.

    :param rewards: Rewards of all steps, episodes back to back, shape (N,)
    :param lengths: Length of each episode, shape (m,), all >= 1
    :param gamma: Discount factor in [0, 1]
    :return: R(tau_i) for each episode, shape (m,), float64
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.int64)
    discounts = np.float64(gamma) ** step_in_episode(lengths)
    return np.add.reduceat(rewards * discounts, episode_starts(lengths)) if len(lengths) else np.zeros(0)


def rewards_to_go(rewards: np.ndarray, lengths: np.ndarray, gamma: float) -> np.ndarray:
    """
    Discounted return from each step to the end of its episode ("reward-to-go"):

        G_t^i = sum_{k=t}^{T_i - 1} gamma^(k - t) r_k^i

    computed backwards in time, G_t = r_t + gamma G_{t+1}, for all episodes at once: one vectorized step per
    time index, over the episodes that are still running at that index.

    :param rewards: Rewards of all steps, episodes back to back, shape (N,)
    :param lengths: Length of each episode, shape (m,)
    :param gamma: Discount factor in [0, 1]
    :return: G_t for each step, shape (N,), float64
    """
    out = np.array(rewards, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        return out
    order = np.argsort(-lengths, kind="stable")  # longest episodes first
    longest_first, starts = lengths[order], episode_starts(lengths)[order]
    for t in range(int(longest_first[0]) - 2, -1, -1):
        n_running = int(np.count_nonzero(longest_first > t + 1))  # episodes that have a step t + 1
        index = starts[:n_running] + t
        out[index] += gamma * out[index + 1]
    return out


def step_returns(rewards: np.ndarray, lengths: np.ndarray, gamma: float, reward_to_go: bool = False) -> np.ndarray:
    """
    The return each step is weighted by before any baseline: ``G_t^i`` (see :func:`rewards_to_go`) with
    ``reward_to_go``, else the whole episode's ``R(tau_i)`` at each of its steps.

    :param rewards: Rewards of all steps, episodes back to back, shape (N,)
    :param lengths: Length of each episode, shape (m,)
    :param gamma: Discount factor in [0, 1]
    :param reward_to_go: G_t instead of R(tau)
    :return: shape (N,), float64
    """
    if reward_to_go:
        return rewards_to_go(rewards, lengths, gamma)
    return np.repeat(episode_returns(rewards, lengths, gamma), np.asarray(lengths, dtype=np.int64))


def step_weights(
    rewards: np.ndarray,
    lengths: np.ndarray,
    gamma: float,
    reward_to_go: bool = False,
    baseline: str | None = None,
    values: np.ndarray | None = None,
    normalize: bool = False,
    return_stats: tuple[float, float] | None = None,
) -> np.ndarray:
    """
    The weight ``w_t^i`` that multiplies ``grad log pi(a_t^i | s_t^i)`` in the policy gradient estimate

        grad eta ~= (1/m) sum_i sum_t w_t^i grad log pi(a_t^i | s_t^i)

    Vanilla REINFORCE (all options off) uses the whole episode's return at every step: ``w_t^i = R(tau_i)``.
    The options, applied in this order:

    - ``reward_to_go``: ``w_t^i = G_t^i`` (see :func:`rewards_to_go`) instead of ``R(tau_i)``.
    - ``return_stats = (mu, sigma)``: ``w_t^i = (w_t^i - mu) / sigma``, the returns standardized with statistics
      that do not depend on this batch (see ``normalize_returns`` of :class:`sb3_reinforce.REINFORCE`).
    - ``baseline`` subtracts ``b``:

      - ``"mean"``: without reward-to-go, ``b = (1/m) sum_j R(tau_j)``; with it, the step-wise mean
        ``b_t = (1/m) sum_j G_t^j`` where ``G_t^j = 0`` once episode j has ended (``t >= T_j``).
        Includes episode i itself, so it is biased by O(1/m).
      - ``"loo"`` (leave-one-out): the same averages over the *other* episodes only,
        ``b^i = (1/(m-1)) sum_{j != i} R(tau_j)`` or ``b_t^i = (1/(m-1)) sum_{j != i} G_t^j``.
        ``b^i`` does not depend on episode i, so the estimate stays exactly unbiased. Needs m >= 2.
      - ``"value"``: ``b_t^i = V(s_t^i)``, the given ``values``.

    - ``normalize``: standardize the weights over all steps of the batch, ``(w - mean(w)) / (std(w) + 1e-8)``.

    :param rewards: Rewards of all steps, episodes back to back, shape (N,)
    :param lengths: Length of each episode, shape (m,)
    :param gamma: Discount factor in [0, 1]
    :param reward_to_go: Weight each step by G_t instead of R(tau)
    :param baseline: None, "mean", "loo" or "value"
    :param values: V(s_t) for every step, shape (N,); required with ``baseline="value"``
    :param normalize: Standardize the weights within the batch
    :param return_stats: (mu, sigma) to standardize the returns with before any baseline; None: no standardization
    :return: w_t for each step, shape (N,), float64
    """
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    lengths = np.asarray(lengths, dtype=np.int64)
    n_episodes = len(lengths)
    weights = step_returns(rewards, lengths, gamma, reward_to_go)
    if return_stats is not None:
        mu, sigma = return_stats
        weights = (weights - mu) / sigma

    if baseline in ("mean", "loo"):
        if baseline == "loo" and n_episodes < 2:
            raise ValueError("baseline='loo' needs at least 2 episodes per batch")
        if reward_to_go:
            # Sum over episodes of G_t^j at each time index t (episodes that ended contribute 0)
            t = step_in_episode(lengths)
            totals = np.bincount(t, weights=weights)[t]
        else:
            totals = np.full_like(weights, np.sum(weights[episode_starts(lengths)]))
        if baseline == "mean":
            weights = weights - totals / n_episodes
        else:
            weights = weights - (totals - weights) / (n_episodes - 1)
    elif baseline == "value":
        if values is None:
            raise ValueError("baseline='value' needs the value predictions `values`")
        weights = weights - np.asarray(values, dtype=np.float64)

    if normalize:
        weights = (weights - weights.mean()) / (weights.std() + 1e-8)
    return weights
