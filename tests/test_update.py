"""
One update of REINFORCE against the estimator recomputed by hand from the episodes the env saw:

    theta' - theta = lr * (1/m) sum_i R(tau_i) sum_t grad log pi(a_t^i | s_t^i)    (SGD, gamma = 1)
"""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback

import sb3_reinforce.common.episodic as episodic_module
from sb3_reinforce import REINFORCE
from tests.envs import ToyEnv, recorded_envs, selected_episodes

LR = 0.05


def make_model(action_space=None, n_envs=2, n_episodes=5, net_arch=(), seed=3, **kwargs):
    venv, recorders = recorded_envs(lambda: ToyEnv(action_space), n_envs)
    policy_kwargs = dict(net_arch=list(net_arch), optimizer_class=th.optim.SGD, ortho_init=False)
    model = REINFORCE(
        "MlpPolicy", venv, learning_rate=LR, n_episodes=n_episodes, seed=seed, policy_kwargs=policy_kwargs, **kwargs
    )
    return model, recorders


def params(model):
    return {name: p.detach().clone().numpy().astype(np.float64) for name, p in model.policy.named_parameters()}


def softmax(x):
    z = np.exp(x - x.max())
    return z / z.sum()


@pytest.mark.parametrize("n_envs,n_episodes", [(1, 4), (2, 5), (3, 3)])
def test_discrete_update_matches_hand_computed_estimator(n_envs, n_episodes):
    model, recorders = make_model(n_envs=n_envs, n_episodes=n_episodes)
    before = params(model)
    model.learn(1)  # exactly one rollout and one gradient step
    after = params(model)
    episodes = selected_episodes(recorders, n_episodes)
    lengths = [len(ep["rewards"]) for ep in episodes]
    assert len(set(lengths)) > 1, "the test needs episodes of different lengths"

    w, b = before["action_net.weight"], before["action_net.bias"]
    grad_w, grad_b = np.zeros_like(w), np.zeros_like(b)
    for ep in episodes:
        ret = sum(ep["rewards"])
        for s, a in zip(ep["obs"][:-1], ep["actions"]):
            p = softmax(w @ s + b)
            onehot = np.eye(len(b))[int(a)]
            grad_w += ret * np.outer(onehot - p, s)
            grad_b += ret * (onehot - p)
    grad_w, grad_b = grad_w / n_episodes, grad_b / n_episodes
    np.testing.assert_allclose(after["action_net.weight"] - w, LR * grad_w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after["action_net.bias"] - b, LR * grad_b, rtol=1e-4, atol=1e-6)
    # Averaged over episodes: dividing by the number of steps instead would give a different update
    assert not np.allclose(after["action_net.bias"] - b, LR * grad_b * n_episodes / sum(lengths), rtol=1e-2)
    assert model.num_timesteps == sum(len(ep["rewards"]) for r in recorders for ep in r.episodes)


def gaussian_update(before, episodes_obs, episodes_actions, returns):
    w, b, log_std = before["action_net.weight"], before["action_net.bias"], before["log_std"]
    var = np.exp(2 * log_std)
    grads = {"action_net.weight": np.zeros_like(w), "action_net.bias": np.zeros_like(b), "log_std": np.zeros_like(log_std)}
    for obs, actions, ret in zip(episodes_obs, episodes_actions, returns):
        for s, a in zip(obs, actions):
            mu = w @ s + b
            grads["action_net.weight"] += ret * np.outer((a - mu) / var, s)
            grads["action_net.bias"] += ret * (a - mu) / var
            grads["log_std"] += ret * ((a - mu) ** 2 / var - 1.0)
    return {k: LR * v / len(returns) for k, v in grads.items()}


def test_box_update_matches_hand_computed_estimator():
    box = spaces.Box(-50.0, 50.0, shape=(2,), dtype=np.float32)  # wide: no sampled action gets clipped
    model, recorders = make_model(action_space=box, n_envs=2, n_episodes=4)
    before = params(model)
    model.learn(1)
    after = params(model)
    episodes = selected_episodes(recorders, 4)
    expected = gaussian_update(
        before,
        [ep["obs"][:-1] for ep in episodes],
        [ep["actions"] for ep in episodes],
        [sum(ep["rewards"]) for ep in episodes],
    )
    for name, delta in expected.items():
        np.testing.assert_allclose(after[name] - before[name], delta, rtol=1e-4, atol=1e-6, err_msg=name)


def test_score_function_uses_the_sampled_action_not_the_clipped_one():
    box = spaces.Box(-0.2, 0.2, shape=(2,), dtype=np.float32)
    model, recorders = make_model(action_space=box, n_envs=1, n_episodes=3)
    before = params(model)
    model.learn(1)
    after = params(model)
    batch = model.rollout_buffer.get()
    env_actions = np.concatenate([np.stack(ep["actions"]) for ep in selected_episodes(recorders, 3)])
    assert np.any(np.abs(batch.actions) > 0.2), "some sampled actions must fall outside the bounds"
    np.testing.assert_allclose(np.clip(batch.actions, -0.2, 0.2), env_actions, rtol=1e-6)

    ends = np.cumsum(batch.lengths)
    starts = ends - batch.lengths
    obs = [batch.observations[s:e] for s, e in zip(starts, ends)]
    returns = [batch.rewards[s:e].astype(np.float64).sum() for s, e in zip(starts, ends)]
    sampled = gaussian_update(before, obs, [batch.actions[s:e] for s, e in zip(starts, ends)], returns)
    clipped = gaussian_update(before, obs, [env_actions[s:e] for s, e in zip(starts, ends)], returns)
    delta = after["log_std"] - before["log_std"]
    np.testing.assert_allclose(delta, sampled["log_std"], rtol=1e-4, atol=1e-6)
    assert not np.allclose(delta, clipped["log_std"], rtol=1e-2)


def test_mlp_update_in_chunks_matches_autograd_per_episode(monkeypatch):
    """A hidden layer, and train() forced to split episodes into chunks of 3 steps, give the same step."""
    monkeypatch.setattr(episodic_module, "TRAIN_CHUNK_STEPS", 3)
    monkeypatch.setattr(episodic_module, "VARIANCE_GROUPS", 2)
    model, recorders = make_model(n_envs=2, n_episodes=6, net_arch=(8,))
    reference = [p.detach().clone().requires_grad_(True) for p in model.policy.parameters()]
    names = [name for name, _ in model.policy.named_parameters()]
    model.learn(1)
    episodes = selected_episodes(recorders, 6)

    def log_prob(obs, action):
        tensors = dict(zip(names, reference))
        hidden = th.tanh(obs @ tensors["actor_net.0.weight"].T + tensors["actor_net.0.bias"])
        logits = hidden @ tensors["action_net.weight"].T + tensors["action_net.bias"]
        return th.log_softmax(logits, dim=-1)[action]

    objective = sum(
        sum(ep["rewards"]) * sum(log_prob(th.as_tensor(s), int(a)) for s, a in zip(ep["obs"][:-1], ep["actions"]))
        for ep in episodes
    ) / len(episodes)
    grads = th.autograd.grad(objective, reference)
    for name, p0, g, p1 in zip(names, reference, grads, model.policy.parameters()):
        np.testing.assert_allclose((p1 - p0).detach().numpy(), LR * g.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_stale_episodes_are_restarted_after_an_update():
    model, recorders = make_model(n_envs=2, n_episodes=3, seed=0)
    model.learn(1)
    n_before = [len(r.episodes) for r in recorders]
    mid_episode = [bool(r.episodes[-1]["rewards"]) and not r.episodes[-1]["done"] for r in recorders]
    assert any(mid_episode), "the test needs an env that is mid-episode when the first update happens"
    model.learn(1, reset_num_timesteps=False)
    batch = model.rollout_buffer.get()
    # Each env's episode in the second batch is its first one to finish after the update; had the stale
    # episode been continued instead of restarted, its batch length would be only the part after the update
    finished_after = [[ep for ep in r.episodes[n - 1 :] if ep["done"]] for r, n in zip(recorders, n_before)]
    second = finished_after[0][:2] + finished_after[1][:1]  # quotas 2 and 1
    for recorder, n, was_mid in zip(recorders, n_before, mid_episode):
        if was_mid:
            assert not recorder.episodes[n - 1]["done"], "the stale episode must never be finished"
    np.testing.assert_array_equal(batch.lengths, [len(ep["rewards"]) for ep in second])
    np.testing.assert_allclose(batch.rewards, np.concatenate([ep["rewards"] for ep in second]), rtol=1e-6)


class StopAtFirstStep(BaseCallback):
    def _on_step(self) -> bool:
        return False


def test_rollout_stopped_by_a_callback_restarts_the_envs_next_time():
    model, recorders = make_model(n_envs=1, n_episodes=3, seed=0)
    model.learn(1000, callback=StopAtFirstStep())  # the env took one step the rollout never stored
    n_before = len(recorders[0].episodes)
    model.learn(1, reset_num_timesteps=False)
    batch = model.rollout_buffer.get()
    # The next batch starts at a fresh reset, not from where the stopped rollout left the env
    second = [ep for ep in recorders[0].episodes[n_before:] if ep["done"]][:3]
    np.testing.assert_array_equal(batch.lengths, [len(ep["rewards"]) for ep in second])
    np.testing.assert_allclose(batch.observations[0], second[0]["obs"][0])


def test_variance_diagnostic_is_taken_before_clipping():
    """clip_grad_norm_ scales the gradient in place: the diagnostic must read the unclipped estimate."""
    logged = []
    for max_grad_norm in (None, 1e-6):
        model, _ = make_model(n_envs=2, n_episodes=6, max_grad_norm=max_grad_norm)
        model.learn(1)
        logged.append(
            {key: model.logger.name_to_value[key] for key in ("train/grad_variance", "train/grad_snr", "train/grad_norm")}
        )
    assert logged[0] == pytest.approx(logged[1], rel=1e-6)
    assert logged[0]["train/grad_variance"] > 0
