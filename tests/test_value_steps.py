"""
``n_value_steps``: after the update's one step, k more optimizer steps on the value loss alone,

    phi_{j+1} = phi_j - lr * grad_phi [vf_coef * (1/N) sum_t (V_phi_j(s_t) - G_t)^2],   j = 1..k

moving only the parameters the policy does not use. The policy's step is the one without them (its weights come
from V before the update), checked against the hand computation for a linear policy and value head (SGD), and with
Adam and a CNN shared with the value head the policy's parameters do not move at all during the value steps.
"""

import numpy as np
import pytest

from sb3_reinforce import REINFORCE, RecurrentREINFORCE
from sb3_reinforce.common.checks import ArgumentError
from tests.test_api import CASES
from tests.test_update import LR, make_model, params, selected_episodes
from tests.test_variance_reduction import linear_softmax_update, naive_weights

VF_COEF = 0.7
GAMMA = 0.9


def value_sgd_step(v_w, v_b, obs, targets):
    """One SGD step on vf_coef * mean_t (v_w . s_t + v_b - G_t)^2."""
    err = obs @ v_w + v_b - targets
    return v_w - LR * VF_COEF * 2 * (err[:, None] * obs).mean(axis=0), v_b - LR * VF_COEF * 2 * err.mean()


@pytest.mark.parametrize("n_value_steps", [1, 3])
def test_value_steps_by_hand(n_value_steps):
    kwargs = dict(n_envs=2, n_episodes=4, baseline="value", reward_to_go=True, gamma=GAMMA, vf_coef=VF_COEF)
    model, recorders = make_model(n_value_steps=n_value_steps, **kwargs)
    before = params(model)
    model.learn(1)
    after = params(model)
    episodes = selected_episodes(recorders, 4)

    # The policy's step: weights G_t - V(s_t) with V before the update, as without value steps
    v_w, v_b = before["value_net.weight"][0], before["value_net.bias"][0]
    returns_to_go = naive_weights(episodes, GAMMA, True, None)
    values = [np.array([v_w @ s + v_b for s in ep["obs"][:-1]]) for ep in episodes]
    delta_w, delta_b = linear_softmax_update(before, episodes, [g - v for g, v in zip(returns_to_go, values)], 4)
    np.testing.assert_allclose(after["action_net.weight"] - before["action_net.weight"], delta_w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after["action_net.bias"] - before["action_net.bias"], delta_b, rtol=1e-4, atol=1e-6)

    # The value head: the update's step, then n_value_steps more on the value loss alone
    obs = np.concatenate([ep["obs"][:-1] for ep in episodes])
    targets = np.concatenate(returns_to_go)
    path = [(v_w, v_b)]
    for _ in range(1 + n_value_steps):
        path.append(value_sgd_step(*path[-1], obs, targets))
    np.testing.assert_allclose(after["value_net.weight"][0], path[-1][0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after["value_net.bias"][0], path[-1][1], rtol=1e-4, atol=1e-6)
    # Logged: the mean squared error before the last value step, which the steps have lowered
    mse = [np.mean((obs @ w + b - targets) ** 2) for w, b in path]
    assert model.logger.name_to_value["train/value_fit_loss"] == pytest.approx(mse[-2], rel=1e-4)
    assert model.logger.name_to_value["train/value_loss"] == pytest.approx(mse[0], rel=1e-4)
    assert mse[-1] < mse[1] < mse[0]


def changed(a, b):
    return {name for name in a if not np.array_equal(a[name], b[name])}


@pytest.mark.parametrize(
    "algo,policy,policy_kwargs,env,value_only",
    [
        (REINFORCE, "MlpPolicy", dict(net_arch=[8]), "CartPole-v1", {"critic_net.0.weight", "value_net.weight"}),
        # the CNN shared by policy and value: the value loss reaches it, the value steps must leave it
        (REINFORCE, "CnnPolicy", dict(net_arch=[]), CASES["image"][1], {"value_net.weight"}),
        (RecurrentREINFORCE, "MlpLstmPolicy", dict(lstm_hidden_size=4), "CartPole-v1", {"lstm_critic.weight_ih_l0"}),
        (
            RecurrentREINFORCE,
            "MlpLstmPolicy",
            dict(lstm_hidden_size=4, shared_lstm=True, enable_critic_lstm=False),
            "CartPole-v1",
            {"value_net.weight"},
        ),
    ],
)
def test_value_steps_move_only_what_the_policy_does_not_use(algo, policy, policy_kwargs, env, value_only):
    """With Adam, whose moments would move a parameter with a zero gradient: one update with and without value
    steps; the policy's parameters (a shared LSTM included) end identical, the value's own differ."""

    def one_update(n_value_steps):
        train_env = env if isinstance(env, str) else env()
        if not isinstance(train_env, str):
            train_env.observation_space.seed(0)  # the fake image env draws its observations from its space
        model = algo(
            policy,
            train_env,
            n_episodes=2,
            baseline="value",
            n_value_steps=n_value_steps,
            seed=5,
            policy_kwargs=policy_kwargs,
        )
        before = params(model)
        model.learn(1)
        return before, params(model)

    before, plain = one_update(0)
    _, fitted = one_update(4)
    policy_names = {name for name in plain if not name.startswith(("value_net", "critic", "lstm_critic"))}
    assert policy_names and all(np.array_equal(plain[name], fitted[name]) for name in policy_names)
    assert value_only <= changed(plain, fitted) <= set(plain) - policy_names
    assert value_only <= changed(before, plain), "the update's own step moves the value head too"


def test_value_steps_arguments_are_checked():
    for bad, argument in [
        (dict(n_value_steps=2), "n_value_steps"),  # no value baseline
        (dict(n_value_steps=2, baseline="loo"), "n_value_steps"),
        (dict(n_value_steps=-1, baseline="value"), "n_value_steps"),
        (dict(n_value_steps=1.5, baseline="value"), "n_value_steps"),
        (dict(n_value_steps=True, baseline="value"), "n_value_steps"),
        (dict(n_value_steps=2, baseline="value", vf_coef=0.0), "n_value_steps"),
    ]:
        for algo, policy in ((REINFORCE, "MlpPolicy"), (RecurrentREINFORCE, "MlpLstmPolicy")):
            with pytest.raises(ArgumentError) as info:
                algo(policy, "CartPole-v1", **bad)
            assert info.value.argument == argument and "n_value_steps" in str(info.value)
    model = REINFORCE("MlpPolicy", "CartPole-v1", baseline="value", n_value_steps=np.int64(3))
    assert model.n_value_steps == 3 and isinstance(model.n_value_steps, int)
