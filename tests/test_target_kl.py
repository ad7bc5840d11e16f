"""
``target_kl``: the step is halved until the estimated KL(pi_old || pi_new) on the batch is at most ``target_kl``,
against the step and the KL recomputed by hand (linear softmax policy, SGD, gamma = 1).
"""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from sb3_reinforce import REINFORCE
from sb3_reinforce.common.episodic import KL_BACKTRACKS
from tests.envs import selected_episodes
from tests.test_maskable import MaskedToyEnv, masked_softmax
from tests.test_maskable import make_model as make_masked
from tests.test_maskable import params as masked_params
from tests.test_recurrent import hand_log_probs
from tests.test_recurrent import make_model as make_recurrent
from tests.test_update import make_model, params, softmax


def hand_kl(before, step, episodes, fraction):
    """mean_t [(r_t - 1) - log r_t], r_t = pi_new(a_t|s_t) / pi_old(a_t|s_t), pi_new at before + fraction * step."""
    w, b = before["action_net.weight"], before["action_net.bias"]
    w_new, b_new = w + fraction * step["action_net.weight"], b + fraction * step["action_net.bias"]
    terms = []
    for ep in episodes:
        for s, a in zip(ep["obs"][:-1], ep["actions"]):
            ratio = softmax(w_new @ s + b_new)[int(a)] / softmax(w @ s + b)[int(a)]
            terms.append(ratio - 1 - np.log(ratio))
    return float(np.mean(terms))


def full_step(seed):
    """The parameters before, the step plain REINFORCE takes, and the episodes of the first batch (seeded)."""
    model, recorders = make_model(n_envs=2, n_episodes=4, seed=seed)
    before = params(model)
    model.learn(1)
    step = {name: value - before[name] for name, value in params(model).items()}
    return before, step, selected_episodes(recorders, 4)


def test_step_is_halved_until_the_kl_is_below_target():
    before, step, episodes = full_step(seed=4)
    kl = [hand_kl(before, step, episodes, 2.0**-j) for j in range(4)]
    assert kl[0] > kl[1] > kl[2] > kl[3] > 0
    # A target between the KL of the quarter step and of the half step: two halvings
    model, _ = make_model(n_envs=2, n_episodes=4, seed=4, target_kl=(kl[1] + kl[2]) / 2)
    model.learn(1)
    for name, value in params(model).items():
        np.testing.assert_allclose(value, before[name] + step[name] / 4, rtol=1e-5, atol=1e-7, err_msg=name)
    assert model.logger.name_to_value["train/step_fraction"] == 0.25
    assert model.logger.name_to_value["train/approx_kl"] == pytest.approx(kl[2], rel=1e-3)


def test_step_within_target_is_unchanged():
    before, step, episodes = full_step(seed=4)
    kl = hand_kl(before, step, episodes, 1.0)
    model, _ = make_model(n_envs=2, n_episodes=4, seed=4, target_kl=kl * 1.01)
    model.learn(1)
    for name, value in params(model).items():
        np.testing.assert_allclose(value, before[name] + step[name], rtol=1e-5, atol=1e-7, err_msg=name)
    assert model.logger.name_to_value["train/step_fraction"] == 1.0
    assert model.logger.name_to_value["train/approx_kl"] == pytest.approx(kl, rel=1e-3)


def test_step_is_dropped_when_no_halving_meets_the_target():
    before, step, episodes = full_step(seed=4)
    smallest = hand_kl(before, step, episodes, 2.0**-KL_BACKTRACKS)
    model, _ = make_model(n_envs=2, n_episodes=4, seed=4, target_kl=smallest / 2)
    model.learn(1)
    for name, value in params(model).items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    assert model.logger.name_to_value["train/step_fraction"] == 0.0


def test_masked_kl_uses_the_masked_policy():
    space = spaces.Discrete(4)
    model, recorders = make_masked(space, target_kl=1e6)
    before = masked_params(model)
    model.learn(1)
    after = masked_params(model)
    env, terms, unmasked = MaskedToyEnv(space), [], []
    for ep in selected_episodes(recorders, 4):
        for s, a in zip(ep["obs"][:-1], ep["actions"]):
            mask = env.masks(s)
            old = masked_softmax(before["action_net.weight"] @ s + before["action_net.bias"], mask)
            new = masked_softmax(after["action_net.weight"] @ s + after["action_net.bias"], mask)
            ratio = new[int(a)] / old[int(a)]
            terms.append(ratio - 1 - np.log(ratio))
            all_valid = np.ones_like(mask)
            ratio = (
                masked_softmax(after["action_net.weight"] @ s + after["action_net.bias"], all_valid)[int(a)]
                / masked_softmax(before["action_net.weight"] @ s + before["action_net.bias"], all_valid)[int(a)]
            )
            unmasked.append(ratio - 1 - np.log(ratio))
    assert model.logger.name_to_value["train/approx_kl"] == pytest.approx(np.mean(terms), rel=1e-3)
    assert np.mean(unmasked) != pytest.approx(np.mean(terms), rel=1e-2)


def test_recurrent_kl_uses_the_whole_episode_memory():
    model, recorders = make_recurrent(target_kl=1e6)
    before = {name: p.detach().clone().double() for name, p in model.policy.named_parameters()}
    model.learn(1)
    after = {name: p.detach().clone().double() for name, p in model.policy.named_parameters()}
    terms = []
    for ep in selected_episodes(recorders, 4):
        log_ratio = hand_log_probs(after, ep["obs"][:-1], ep["actions"], True) - hand_log_probs(
            before, ep["obs"][:-1], ep["actions"], True
        )
        terms.append((th.exp(log_ratio) - 1 - log_ratio).numpy())
    expected = float(np.mean(np.concatenate(terms)))
    assert expected > 0
    assert model.logger.name_to_value["train/approx_kl"] == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_value_network_steps_with_the_policy(env_id):
    """As PPO's early stop halts the value's epochs too, the bound shortens the value network's step by the same fraction."""

    def one_update(**kwargs):
        model = REINFORCE("MlpPolicy", env_id, n_episodes=2, baseline="value", seed=0, **kwargs)
        before = {name: p.detach().clone() for name, p in model.policy.named_parameters()}
        model.learn(1)
        return model, before, {name: p.detach().clone() for name, p in model.policy.named_parameters()}

    _, before, full = one_update()
    model, before_bounded, after = one_update(target_kl=1e-9)
    fraction = model.logger.name_to_value["train/step_fraction"]
    assert fraction < 1
    assert any(name.startswith(("critic_net.", "value_net.")) for name in before)
    for name, value in after.items():
        th.testing.assert_close(before_bounded[name], before[name])
        assert not th.equal(full[name], before[name]), name  # every parameter moved in the full step
        th.testing.assert_close(value, before[name] + fraction * (full[name] - before[name]), rtol=1e-5, atol=1e-7, msg=name)
