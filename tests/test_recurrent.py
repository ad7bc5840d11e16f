"""
RecurrentREINFORCE: one update against the gradient computed by hand, unrolling the LSTM over each recorded episode
from the zero state; the average estimate against the exact gradient of a partially observed MDP; the rollout's
step-by-step memory against the whole-episode pass of train(); bounded chunks; save/load.
"""

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_reinforce import RecurrentREINFORCE
from sb3_reinforce.common.recurrent_policies import RecurrentReinforcePolicy, run_episodes, step_lstm
from sb3_reinforce.common.returns import rewards_to_go
from tests.envs import ToyEnv, recorded_envs, selected_episodes
from tests.test_exact_gradient import sample_estimates, z_scores

LR = 0.05
HIDDEN = 4


def make_model(action_space=None, n_envs=2, n_episodes=4, seed=3, **kwargs):
    venv, recorders = recorded_envs(lambda: ToyEnv(action_space), n_envs)
    policy_kwargs = dict(net_arch=[], lstm_hidden_size=HIDDEN, optimizer_class=th.optim.SGD, ortho_init=False)
    model = RecurrentREINFORCE(
        "MlpLstmPolicy", venv, learning_rate=LR, n_episodes=n_episodes, seed=seed, policy_kwargs=policy_kwargs, **kwargs
    )
    return model, recorders


def hand_outputs(p: dict[str, th.Tensor], observations: np.ndarray) -> list[th.Tensor]:
    """The action head's output along one episode, the LSTM cell unrolled by hand from h = c = 0."""
    h, c = th.zeros(HIDDEN, dtype=th.float64), th.zeros(HIDDEN, dtype=th.float64)
    outputs = []
    for s in observations:
        x = th.as_tensor(np.asarray(s, dtype=np.float64))
        gates = p["lstm_actor.weight_ih_l0"] @ x + p["lstm_actor.bias_ih_l0"] + p["lstm_actor.weight_hh_l0"] @ h
        gates = gates + p["lstm_actor.bias_hh_l0"]
        i, f, g, o = (gates[k * HIDDEN : (k + 1) * HIDDEN] for k in range(4))
        c = th.sigmoid(f) * c + th.sigmoid(i) * th.tanh(g)
        h = th.sigmoid(o) * th.tanh(c)
        outputs.append(p["action_net.weight"] @ h + p["action_net.bias"])
    return outputs


def hand_log_probs(p: dict[str, th.Tensor], observations: np.ndarray, actions: np.ndarray, discrete: bool) -> th.Tensor:
    """log pi(a_t | h_t) along one episode, the LSTM cell unrolled by hand from h = c = 0."""
    log_probs = []
    for out, a in zip(hand_outputs(p, observations), actions):
        if discrete:
            log_probs.append(th.log_softmax(out, dim=0)[int(a)])
        else:
            std = th.exp(p["log_std"])
            a_t = th.as_tensor(np.asarray(a, dtype=np.float64))
            log_probs.append(th.distributions.Normal(out, std).log_prob(a_t).sum())
    return th.stack(log_probs)


@pytest.mark.parametrize("discrete", [True, False])
@pytest.mark.parametrize("reward_to_go", [False, True])
def test_update_matches_gradient_unrolled_by_hand(discrete, reward_to_go):
    box = spaces.Box(-50.0, 50.0, shape=(2,), dtype=np.float32)  # wide: no sampled action is clipped
    model, recorders = make_model(None if discrete else box, reward_to_go=reward_to_go)
    before = {name: p.detach().clone().double().requires_grad_(True) for name, p in model.policy.named_parameters()}
    model.learn(1)  # one rollout, one gradient step
    episodes = selected_episodes(recorders, 4)
    assert len({len(ep["rewards"]) for ep in episodes}) > 1, "the test needs episodes of different lengths"

    objective = th.zeros((), dtype=th.float64)  # (1/m) sum_i sum_t w_t^i log pi(a_t^i | h_t^i)
    for ep in episodes:
        rewards = np.array(ep["rewards"])
        weights = rewards_to_go(rewards, [len(rewards)], 1.0) if reward_to_go else np.full(len(rewards), rewards.sum())
        log_probs = hand_log_probs(before, ep["obs"][:-1], ep["actions"], discrete)
        objective = objective + (th.as_tensor(weights) * log_probs).sum()
    objective = objective / len(episodes)
    grads = th.autograd.grad(objective, list(before.values()), allow_unused=True)
    for (name, p), grad in zip(model.policy.named_parameters(), grads):
        expected = np.zeros(p.shape) if grad is None else LR * grad.numpy()
        delta = p.detach().double().numpy() - before[name].detach().numpy()
        np.testing.assert_allclose(delta, expected, rtol=2e-4, atol=2e-7, err_msg=name)
    assert (
        np.abs(
            before["lstm_actor.weight_hh_l0"].detach().numpy() - model.policy.lstm_actor.weight_hh_l0.detach().numpy()
        ).max()
        > 1e-6
    ), "the recurrent weights must move: the gradient flows through time"


def test_rollout_memory_equals_the_whole_episode_pass():
    """The states stepped in the rollout (reset at each episode start) give the log-probabilities train() recomputes."""
    model, _ = make_model(n_envs=1)
    model.learn(1)
    batch = model.rollout_buffer.get()
    obs = th.as_tensor(batch.observations)
    actions = th.as_tensor(batch.actions)
    with th.no_grad():
        _, whole, _ = model.policy.evaluate_actions(obs, actions, batch.lengths)
        stepped, states = [], model.policy.initial_state(1)
        starts = np.concatenate([[1.0] + [0.0] * (n - 1) for n in batch.lengths])
        for t in range(len(obs)):
            distribution, states = model.policy.get_distribution(obs[t : t + 1], states, th.tensor([starts[t]]))
            stepped.append(distribution.log_prob(actions[t : t + 1]))
    th.testing.assert_close(th.cat(stepped), whole, rtol=1e-5, atol=1e-6)
    features = th.randn(9, 3)
    lstm = th.nn.LSTM(3, HIDDEN, num_layers=2)
    out, _ = lstm(features.unsqueeze(1))
    stepped_out, states = [], (th.zeros(2, 1, HIDDEN), th.zeros(2, 1, HIDDEN))
    for t in range(9):
        h, states = step_lstm(features[t : t + 1], states, th.zeros(1), lstm)
        stepped_out.append(h)
    th.testing.assert_close(th.cat(stepped_out), out.squeeze(1), rtol=1e-5, atol=1e-6)
    th.testing.assert_close(run_episodes(features, np.array([9]), lstm), out.squeeze(1), rtol=1e-5, atol=1e-6)


class CueMDP(gym.Env):
    """
    A partially observed MDP that needs memory. Step 0 shows a cue c in {-1, 1}; action 1 pays 0.3 and ends the
    episode with probability 1/2. Step 1 shows nothing: the action that matches the cue pays 1, the other -0.5.
    """

    observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.cue, self.t = int(self.np_random.integers(2)), 0
        return np.array([1.0, 2.0 * self.cue - 1.0], dtype=np.float32), {}

    def step(self, action):
        blank = np.zeros(2, dtype=np.float32)
        if self.t == 1:
            return blank, (1.0 if int(action) == self.cue else -0.5), True, False, {}
        self.t = 1
        if int(action) == 1:
            return blank, 0.3, bool(self.np_random.random() < 0.5), False, {}
        return blank, 0.0, False, False, {}

    @staticmethod
    def expected_return(policy: RecurrentReinforcePolicy) -> th.Tensor:
        """eta(theta), enumerated over the cue, both actions and the early end, with the policy's exact probabilities."""
        eta = th.zeros(())
        for cue in (0, 1):
            obs = th.tensor([[1.0, 2.0 * cue - 1.0], [0.0, 0.0]])
            pi = [policy.evaluate_actions(obs, th.tensor([a, a]), np.array([2]))[1].exp() for a in (0, 1)]
            pi0, pi1 = (pi[0][0], pi[1][0]), (pi[0][1], pi[1][1])  # pi(a | h_0), pi(a | h_1)
            v1 = pi1[cue] * 1.0 + pi1[1 - cue] * (-0.5)
            eta = eta + 0.5 * (pi0[0] * v1 + pi0[1] * (0.3 + 0.5 * v1))
        return eta


@pytest.mark.parametrize("kwargs", [dict(), dict(reward_to_go=True, baseline="loo")])
def test_average_estimate_matches_exact_gradient_of_a_pomdp(kwargs):
    venv = DummyVecEnv([CueMDP for _ in range(2)])
    policy_kwargs = dict(net_arch=[], lstm_hidden_size=3, optimizer_class=th.optim.SGD)
    model = RecurrentREINFORCE("MlpLstmPolicy", venv, n_episodes=4, seed=0, policy_kwargs=policy_kwargs, **kwargs)
    params = list(model.policy.parameters())
    exact = np.concatenate([g.flatten().numpy() for g in th.autograd.grad(CueMDP.expected_return(model.policy), params)])
    estimates = sample_estimates(model, 2000)
    # Coordinates whose every estimate is 0 (e.g. the forget gate's input weights: the cue arrives while c = 0)
    constant = estimates.std(axis=0) == 0
    np.testing.assert_allclose(exact[constant], estimates[0, constant], atol=1e-7)
    assert np.max(np.abs(z_scores(estimates[:, ~constant], exact[~constant]))) < 4.5
    assert np.max(np.abs(z_scores(estimates[:, ~constant], 0.75 * exact[~constant]))) > 6  # the test has power
    n_input = model.policy.lstm_actor.weight_ih_l0.numel()
    recurrent = exact[n_input : n_input + model.policy.lstm_actor.weight_hh_l0.numel()]
    assert np.linalg.norm(recurrent) > 1e-5, "the cue reaches the reward only through the recurrent weights"


def test_long_episodes_are_an_error_naming_the_argument_and_memory_is_bounded():
    model, _ = make_model(n_envs=1, n_episodes=2, train_chunk_steps=5)
    with pytest.raises(ValueError, match=r"Raise train_chunk_steps \(now 5\)"):
        model.learn(100)
    model, _ = make_model(n_envs=1, n_episodes=6, train_chunk_steps=12)  # ToyEnv episodes last at most 12 steps
    model.learn(300)
    with pytest.raises(ValueError, match="train_chunk_steps must be an integer >= 1"):
        make_model(train_chunk_steps=0)


def test_value_baseline_policy_kwargs_and_save_load(tmp_path):
    for policy_kwargs in (
        dict(),
        dict(shared_lstm=True, enable_critic_lstm=False),
        dict(enable_critic_lstm=False, n_lstm_layers=2, lstm_kwargs=dict(dropout=0.5)),
    ):
        model = RecurrentREINFORCE(
            "MlpLstmPolicy",
            "CartPole-v1",
            n_episodes=2,
            baseline="value",
            seed=0,
            policy_kwargs=dict(lstm_hidden_size=8, **policy_kwargs),
        ).learn(200)
        assert model.policy.use_value_net
    model = RecurrentREINFORCE("MlpLstmPolicy", "Pendulum-v1", n_episodes=2, seed=0, policy_kwargs=dict(lstm_hidden_size=8))
    model.learn(400)
    assert not hasattr(model.policy, "value_net") and not hasattr(model.policy, "lstm_critic"), "no critic by default"
    model.save(tmp_path / "recurrent")
    loaded = RecurrentREINFORCE.load(tmp_path / "recurrent", env=model.get_env())
    for p, q in zip(model.policy.parameters(), loaded.policy.parameters()):
        assert th.equal(p, q)
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    a1, s1 = model.predict(obs, deterministic=True)
    a2, s2 = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    a1, _ = model.predict(obs, state=s1, episode_start=np.zeros(5), deterministic=True)
    a2, _ = loaded.predict(obs, state=s2, episode_start=np.zeros(5), deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    evaluate_policy(loaded, loaded.get_env(), n_eval_episodes=2)
    loaded.learn(400, reset_num_timesteps=False)
    with pytest.raises(ValueError, match="lstm_kwargs may set"):
        RecurrentREINFORCE("MlpLstmPolicy", "CartPole-v1", policy_kwargs=dict(lstm_kwargs=dict(bidirectional=True)))
