"""The episode buffer alone: length-independent selection, env-major order, growth."""

import numpy as np
import pytest
from gymnasium import spaces

from sb3_reinforce.common.buffers import EpisodeBuffer, RolloutTooLongError, episode_quotas


def test_quotas_sum_to_n_episodes_and_ignore_lengths():
    np.testing.assert_array_equal(episode_quotas(5, 2), [3, 2])
    np.testing.assert_array_equal(episode_quotas(4, 4), [1, 1, 1, 1])
    np.testing.assert_array_equal(episode_quotas(2, 3), [1, 1, 0])
    for m in range(1, 20):
        for n in range(1, 9):
            assert episode_quotas(m, n).sum() == m


def feed(buffer, dones_per_step, start=0):
    """Step t of env e observes [t, e], takes action 10 t + e and gets reward t + e / 10."""
    for t, dones in enumerate(dones_per_step, start):
        n_envs = len(dones)
        obs = np.array([[t, e] for e in range(n_envs)], dtype=np.float32)
        buffer.add(
            obs, np.array([10 * t + e for e in range(n_envs)]), np.array([t + e / 10 for e in range(n_envs)]), np.array(dones)
        )


def test_first_episodes_of_each_env_in_env_major_order():
    buffer = EpisodeBuffer(spaces.Box(-1, 1, (2,)), spaces.Discrete(50), n_envs=2, n_episodes=3, max_rollout_steps=100)
    # env 0 (quota 2): episodes end at t=0 and t=3; env 1 (quota 1): its first episode ends at t=1 and a second,
    # shorter, one at t=2 is discarded although it finished before env 0's second episode
    dones = [(True, False), (False, True), (False, True), (True, False)]
    feed(buffer, dones[:3])
    assert not buffer.full
    feed(buffer, dones[3:], start=3)
    assert buffer.full
    batch = buffer.get()
    np.testing.assert_array_equal(batch.lengths, [1, 3, 2])
    np.testing.assert_array_equal(batch.observations[:, 0], [0, 1, 2, 3, 0, 1])  # time index
    np.testing.assert_array_equal(batch.observations[:, 1], [0, 0, 0, 0, 1, 1])  # env index
    np.testing.assert_array_equal(batch.actions, [0, 10, 20, 30, 1, 11])
    np.testing.assert_allclose(batch.rewards, [0, 1, 2, 3, 0.1, 1.1], rtol=1e-6)
    assert buffer.steps_kept == 6 and buffer.pos * 2 - buffer.steps_kept == 2


def test_growth_keeps_data_and_reset_reuses_memory():
    buffer = EpisodeBuffer(spaces.Box(-1, 1, (2,)), spaces.Discrete(10**4), n_envs=1, n_episodes=1, max_rollout_steps=5000)
    feed(buffer, [(False,)] * 999 + [(True,)])
    batch = buffer.get()
    assert buffer.capacity == 1024
    np.testing.assert_array_equal(batch.lengths, [1000])
    np.testing.assert_array_equal(batch.observations[:, 0], np.arange(1000))
    buffer.reset()
    feed(buffer, [(True,)])
    assert buffer.capacity == 1024 and buffer.get().lengths.tolist() == [1]


def test_dict_observations_and_box_actions():
    obs_space = spaces.Dict({"a": spaces.Box(-1, 1, (2,)), "b": spaces.Discrete(3)})
    buffer = EpisodeBuffer(obs_space, spaces.Box(-1, 1, (2,)), n_envs=1, n_episodes=1, max_rollout_steps=10)
    buffer.add({"a": np.ones((1, 2)), "b": np.array([2])}, np.array([[3.5, -7.0]]), np.array([1.0]), np.array([True]))
    batch = buffer.get()
    assert set(batch.observations) == {"a", "b"} and batch.observations["b"].tolist() == [2]
    np.testing.assert_array_equal(batch.actions, [[3.5, -7.0]])  # unclipped actions are kept


def test_max_rollout_steps_and_non_finite_rewards():
    buffer = EpisodeBuffer(spaces.Box(-1, 1, (2,)), spaces.Discrete(100), n_envs=2, n_episodes=2, max_rollout_steps=6)
    with pytest.raises(RolloutTooLongError, match="max_rollout_steps=6"):
        feed(buffer, [(False, False)] * 4)
    buffer.reset()
    with pytest.raises(ValueError, match=r"non-finite reward \[nan\] \(env index \[1\]\)"):
        buffer.add(np.zeros((2, 2)), np.zeros(2), np.array([1.0, np.nan]), np.zeros(2, dtype=bool))


def test_episode_chunks_keep_episodes_whole_and_bounded():
    from sb3_reinforce.common.episodic import Chunk, episode_chunks

    chunks = episode_chunks(np.array([3, 4, 10, 2, 2]), max_steps=6, offset=5)
    assert [(c.start, c.end) for c in chunks] == [(5, 8), (8, 12), (12, 18), (18, 22), (22, 26)]
    assert [None if c.lengths is None else c.lengths.tolist() for c in chunks] == [[3], [4], None, None, [2, 2]]
    (whole,) = episode_chunks(np.array([3, 4, 2]), max_steps=100)
    assert isinstance(whole, Chunk) and (whole.start, whole.end, whole.lengths.tolist()) == (0, 9, [3, 4, 2])
    with pytest.raises(ValueError, match="episode of 10 steps does not fit in one chunk of 6 steps"):
        episode_chunks(np.array([3, 10]), max_steps=6, split_episodes=False)
