"""
``ent_floor``: the entropy bonus counts each step's entropy only up to the floor H_min,

    theta' - theta = lr * [(1/m) sum_i R(tau_i) sum_t grad log pi(a_t|s_t) + ent_coef * (1/N) sum_t 1[H_t < H_min] grad H_t]

(SGD, gamma = 1), against the step computed by hand: the softmax entropy's gradient written out for a linear policy,
and the LSTM unrolled by hand for the recurrent one.
"""

import numpy as np
import pytest
import torch as th

from sb3_reinforce import REINFORCE, RecurrentREINFORCE
from sb3_reinforce.common.checks import ArgumentError
from tests.envs import selected_episodes
from tests.test_recurrent import hand_outputs
from tests.test_recurrent import make_model as make_recurrent
from tests.test_update import LR, make_model, params, softmax

ENT_COEF = 0.7


def entropy_and_gradient(w, b, s):
    """H(softmax(z)) at z = w s + b, and dH/dz = -p * (log p + H)."""
    p = softmax(w @ s + b)
    entropy = -np.sum(p * np.log(p))
    return entropy, -p * (np.log(p) + entropy)


def batch_entropies(before, episodes):
    w, b = before["action_net.weight"], before["action_net.bias"]
    return np.array([entropy_and_gradient(w, b, s)[0] for ep in episodes for s in ep["obs"][:-1]])


def hand_step(before, episodes, ent_coef, floor):
    """The SGD step of vanilla REINFORCE plus the capped entropy bonus, written out for a linear softmax policy."""
    w, b = before["action_net.weight"], before["action_net.bias"]
    pg_w, pg_b, ent_w, ent_b = np.zeros_like(w), np.zeros_like(b), np.zeros_like(w), np.zeros_like(b)
    n_steps = 0
    for ep in episodes:
        ret = sum(ep["rewards"])
        for s, a in zip(ep["obs"][:-1], ep["actions"]):
            n_steps += 1
            p = softmax(w @ s + b)
            score = np.eye(len(b))[int(a)] - p
            pg_w += ret * np.outer(score, s)
            pg_b += ret * score
            entropy, d_entropy = entropy_and_gradient(w, b, s)
            if floor is None or entropy < floor:  # min(H, floor) has H's gradient below the floor, none above
                ent_w += np.outer(d_entropy, s)
                ent_b += d_entropy
    m = len(episodes)
    return {
        "action_net.weight": LR * (pg_w / m + ent_coef * ent_w / n_steps),
        "action_net.bias": LR * (pg_b / m + ent_coef * ent_b / n_steps),
    }


def one_update(seed=3, **kwargs):
    model, recorders = make_model(n_envs=2, n_episodes=4, seed=seed, **kwargs)
    before = params(model)
    model.learn(1)  # one rollout, one gradient step
    return model, before, params(model), selected_episodes(recorders, 4)


def assert_step(before, after, expected):
    for name, delta in expected.items():
        np.testing.assert_allclose(after[name] - before[name], delta, rtol=1e-4, atol=1e-7, err_msg=name)


def test_bonus_counts_only_the_steps_below_the_floor():
    _, before, _, episodes = one_update()  # the same seed gives the same episodes with any floor (SGD, one step)
    entropies = batch_entropies(before, episodes)
    floor = float(np.median(entropies))
    assert 0 < np.mean(entropies < floor) < 1, "the floor must split the batch's steps"
    model, before, after, episodes = one_update(ent_coef=ENT_COEF, ent_floor=floor)
    assert_step(before, after, hand_step(before, episodes, ENT_COEF, floor))
    # The uncapped bonus is a different step: the test would fail if the cap were ignored
    uncapped = hand_step(before, episodes, ENT_COEF, None)
    assert not np.allclose(after["action_net.bias"] - before["action_net.bias"], uncapped["action_net.bias"], rtol=1e-2)
    assert model.logger.name_to_value["train/below_ent_floor"] == pytest.approx(np.mean(entropies < floor))


def test_floor_above_every_entropy_is_the_plain_bonus_and_below_every_entropy_no_bonus():
    _, before, _, episodes = one_update()
    entropies = batch_entropies(before, episodes)
    _, before, after, episodes = one_update(ent_coef=ENT_COEF, ent_floor=float(entropies.max()) + 0.1)
    assert_step(before, after, hand_step(before, episodes, ENT_COEF, None))
    _, _, plain, _ = one_update(ent_coef=ENT_COEF)
    for name in after:
        np.testing.assert_allclose(after[name], plain[name], rtol=1e-6, atol=1e-8, err_msg=name)
    _, before, after, episodes = one_update(ent_coef=ENT_COEF, ent_floor=float(entropies.min()) - 0.1)
    assert_step(before, after, hand_step(before, episodes, 0.0, None))


def hand_entropies(p, observations):
    """H(pi(.|h_t)) along one episode, the LSTM cell unrolled by hand from h = c = 0 (discrete actions)."""
    log_ps = [th.log_softmax(out, dim=0) for out in hand_outputs(p, observations)]
    return th.stack([-(log_p.exp() * log_p).sum() for log_p in log_ps])


def test_recurrent_bonus_is_capped_at_the_floor():
    from tests.test_recurrent import hand_log_probs

    def update(**kwargs):
        model, recorders = make_recurrent(ent_coef=ENT_COEF, **kwargs)
        before = {name: p.detach().clone().double().requires_grad_(True) for name, p in model.policy.named_parameters()}
        model.learn(1)
        return model, before, selected_episodes(recorders, 4)

    _, before, episodes = update()
    with th.no_grad():
        entropies = th.cat([hand_entropies(before, ep["obs"][:-1]) for ep in episodes]).numpy()
    floor = float(np.median(entropies))
    assert 0 < np.mean(entropies < floor) < 1, "the floor must split the batch's steps"
    model, before, episodes = update(ent_floor=floor)

    n_steps = sum(len(ep["rewards"]) for ep in episodes)
    objective = th.zeros((), dtype=th.float64)  # (1/m) sum_i R(tau_i) sum_t log pi + ent_coef (1/N) sum_t min(H_t, floor)
    for ep in episodes:
        log_probs = hand_log_probs(before, ep["obs"][:-1], ep["actions"], discrete=True)
        objective = objective + sum(ep["rewards"]) * log_probs.sum() / len(episodes)
        capped = th.minimum(hand_entropies(before, ep["obs"][:-1]), th.tensor(floor, dtype=th.float64))
        objective = objective + ENT_COEF * capped.sum() / n_steps
    grads = th.autograd.grad(objective, list(before.values()), allow_unused=True)
    for (name, p), grad in zip(model.policy.named_parameters(), grads):
        expected = np.zeros(p.shape) if grad is None else LR * grad.numpy()
        delta = p.detach().double().numpy() - before[name].detach().numpy()
        np.testing.assert_allclose(delta, expected, rtol=2e-4, atol=2e-7, err_msg=name)


@pytest.mark.parametrize("algo", [REINFORCE, RecurrentREINFORCE])
def test_floor_needs_a_positive_ent_coef_and_a_finite_value(algo):
    policy = "MlpLstmPolicy" if algo is RecurrentREINFORCE else "MlpPolicy"
    with pytest.raises(ArgumentError, match="ent_coef") as info:
        algo(policy, "CartPole-v1", ent_floor=0.1)
    assert info.value.argument == "ent_floor"
    for bad in (float("inf"), float("nan"), "0.1", True):
        with pytest.raises(ArgumentError) as info:
            algo(policy, "CartPole-v1", ent_coef=0.1, ent_floor=bad)
        assert info.value.argument == "ent_floor"
