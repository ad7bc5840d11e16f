"""
MaskableRecurrentREINFORCE: one update against the masked estimator computed by hand, unrolling the LSTM over each
recorded episode under its recorded masks; the average estimate against the exact gradient of a masked POMDP (and
the unmasked score function rejected by the same test); the rollout's step-by-step memory against train()'s
whole-episode pass; predict with masks and state; save/load; without masks it is RecurrentREINFORCE; errors.
"""

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from sb3_contrib.common.envs import InvalidActionEnvDiscrete, InvalidActionEnvMultiBinary, InvalidActionEnvMultiDiscrete
from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback
from sb3_contrib.common.maskable.evaluation import evaluate_policy
from sb3_contrib.common.maskable.utils import get_action_masks
from sb3_contrib.common.wrappers import ActionMasker
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_reinforce import MaskableRecurrentREINFORCE, RecurrentREINFORCE
from sb3_reinforce.common.checks import ArgumentTypeError
from sb3_reinforce.common.policies import MaskableReinforcePolicy
from sb3_reinforce.common.recurrent_policies import MaskableRecurrentReinforcePolicy, RecurrentReinforcePolicy
from sb3_reinforce.common.returns import rewards_to_go
from tests.envs import recorded_envs, selected_episodes
from tests.test_exact_gradient import sample_estimates, z_scores
from tests.test_maskable import MaskedToyEnv
from tests.test_recurrent import HIDDEN, hand_outputs

LR = 0.05


def make_model(action_space, n_envs=2, n_episodes=4, seed=3, **kwargs):
    venv, recorders = recorded_envs(lambda: MaskedToyEnv(action_space), n_envs)
    policy_kwargs = dict(net_arch=[], lstm_hidden_size=HIDDEN, optimizer_class=th.optim.SGD, ortho_init=False)
    model = MaskableRecurrentREINFORCE(
        "MlpLstmPolicy", venv, learning_rate=LR, n_episodes=n_episodes, seed=seed, policy_kwargs=policy_kwargs, **kwargs
    )
    return model, recorders


def nvec_of(action_space: spaces.Space) -> list[int]:
    if isinstance(action_space, spaces.Discrete):
        return [int(action_space.n)]
    return [int(n) for n in action_space.nvec]


def hand_masked_log_probs(p, observations, actions, masks, nvec, masked=True) -> th.Tensor:
    """log pi(a_t | h_t, M_t) along one episode: the LSTM unrolled by hand from zero, log-softmax over the valid actions."""
    log_probs = []
    starts = np.concatenate(([0], np.cumsum(nvec)[:-1]))
    for out, a, mask in zip(hand_outputs(p, observations), actions, masks):
        valid = th.as_tensor(np.asarray(mask, dtype=bool) if masked else np.ones(sum(nvec), dtype=bool))
        logits = th.where(valid, out, th.tensor(-np.inf, dtype=th.float64))
        log_probs.append(
            sum(
                th.log_softmax(logits[start : start + n], dim=0)[int(a_k)]
                for start, n, a_k in zip(starts, nvec, np.atleast_1d(a))
            )
        )
    return th.stack(log_probs)


@pytest.mark.parametrize("reward_to_go", [False, True])
@pytest.mark.parametrize("action_space", [spaces.Discrete(4), spaces.MultiDiscrete([3, 4])])
def test_update_matches_masked_gradient_unrolled_by_hand(action_space, reward_to_go):
    model, recorders = make_model(action_space, reward_to_go=reward_to_go)
    before = {name: p.detach().clone().double().requires_grad_(True) for name, p in model.policy.named_parameters()}
    model.learn(1)  # one rollout, one gradient step
    episodes = selected_episodes(recorders, 4)
    assert len({len(ep["rewards"]) for ep in episodes}) > 1, "the test needs episodes of different lengths"
    env, nvec = MaskedToyEnv(action_space), nvec_of(action_space)
    all_masks = [env.masks(s) for ep in episodes for s in ep["obs"][:-1]]
    assert not np.all(all_masks), "some actions must be masked for the test to mean anything"

    def expected_delta(masked: bool) -> list[np.ndarray]:
        """lr * grad of (1/m) sum_i sum_t w_t^i log pi(a_t^i | h_t^i, M_t^i), with or without the recorded masks."""
        objective = th.zeros((), dtype=th.float64)
        for ep in episodes:
            rewards = np.array(ep["rewards"])
            weights = rewards_to_go(rewards, [len(rewards)], 1.0) if reward_to_go else np.full(len(rewards), rewards.sum())
            masks = [env.masks(s) for s in ep["obs"][:-1]]
            log_probs = hand_masked_log_probs(before, ep["obs"][:-1], ep["actions"], masks, nvec, masked)
            objective = objective + (th.as_tensor(weights) * log_probs).sum()
        grads = th.autograd.grad(objective / len(episodes), list(before.values()), allow_unused=True)
        return [np.zeros(p.shape) if g is None else LR * g.numpy() for p, g in zip(before.values(), grads)]

    deltas = [p.detach().double().numpy() - before[name].detach().numpy() for name, p in model.policy.named_parameters()]
    for name, delta, expected in zip(before, deltas, expected_delta(masked=True)):
        np.testing.assert_allclose(delta, expected, rtol=2e-4, atol=2e-7, err_msg=name)
    unmasked = expected_delta(masked=False)  # the score function of the unmasked policy is a different update
    assert not all(np.allclose(d, u, rtol=1e-2, atol=1e-6) for d, u in zip(deltas, unmasked))
    recurrent = dict(zip(before, deltas))["lstm_actor.weight_hh_l0"]
    assert np.abs(recurrent).max() > 1e-6, "the recurrent weights must move: the gradient flows through time"
    # The masks recorded with the steps are those the env declared
    batch = model.rollout_buffer.get()
    np.testing.assert_array_equal(batch.action_masks, [env.masks(s) for s in batch.observations])


class MaskedCueMDP(gym.Env):
    """
    A partially observed MDP with state-dependent masks that needs memory. Step 0 shows a cue c in {0, 1}
    (``[1, 2c - 1, 0]``); with c = 0 action 2 is invalid. Action a_0 pays R0[a_0]; a_0 = 2 ends the episode with
    probability 1/2. Step 1 shows nothing; action 2 is invalid there after a_0 = 0. The action equal to the cue pays 1,
    action 2 pays 0.2, the other -0.5, and the episode ends.
    """

    observation_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
    action_space = spaces.Discrete(3)
    R0 = (0.0, 0.1, 0.3)
    BLANK = np.zeros(3, dtype=np.float32)

    @staticmethod
    def cue_obs(cue: int) -> np.ndarray:
        return np.array([1.0, 2.0 * cue - 1.0, 0.0], dtype=np.float32)

    @staticmethod
    def mask0(cue: int) -> np.ndarray:
        return np.array([True, True, cue == 1])

    @staticmethod
    def mask1(a0: int) -> np.ndarray:
        return np.array([True, True, a0 != 0])

    @staticmethod
    def reward1(cue: int, a1: int) -> float:
        return 1.0 if a1 == cue else (0.2 if a1 == 2 else -0.5)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.cue, self.t, self.a0 = int(self.np_random.integers(2)), 0, -1
        return self.cue_obs(self.cue), {}

    def action_masks(self) -> np.ndarray:
        return self.mask0(self.cue) if self.t == 0 else self.mask1(self.a0)

    def step(self, action):
        a = int(action)
        assert self.action_masks()[a], f"invalid action {a} at step {self.t}"
        if self.t == 1:
            return self.BLANK, self.reward1(self.cue, a), True, False, {}
        self.t, self.a0 = 1, a
        return self.BLANK, self.R0[a], bool(a == 2 and self.np_random.random() < 0.5), False, {}

    @classmethod
    def expectation(cls, log_prob: Any, value: Any) -> th.Tensor:
        """
        sum over every trajectory tau of P(tau) * value(tau), with P(tau) built from the policy's probabilities
        ``exp(log_prob(cue, a0, a1))`` (a1 = None: the episode ended after step 0).

        :param log_prob: (cue, a0, a1) -> (log pi(a0 | h_0, M_0), log pi(a1 | h_1, M_1)) (the second unused if a1 is None)
        :param value: (cue, a0, a1, log_probs) -> what is averaged
        """
        total = th.zeros(())
        for cue in (0, 1):
            for a0 in np.flatnonzero(cls.mask0(cue)):
                ends = [(None, 0.5)] if a0 == 2 else []  # a0 = 2: the episode ends after step 0 half the time
                for a1, p_env in ends + [(int(a1), 0.5 if a0 == 2 else 1.0) for a1 in np.flatnonzero(cls.mask1(a0))]:
                    log_probs = log_prob(cue, int(a0), a1 if a1 is not None else 0)
                    p = 0.5 * p_env * log_probs[0].exp() * (1.0 if a1 is None else log_probs[1].exp())
                    total = total + p * value(cue, int(a0), a1, log_probs)
        return total

    @classmethod
    def episode_return(cls, cue: int, a0: int, a1: int | None) -> float:
        return cls.R0[a0] + (0.0 if a1 is None else cls.reward1(cue, a1))

    @classmethod
    def policy_log_probs(cls, policy: MaskableRecurrentReinforcePolicy, masked: bool = True) -> Any:
        """(cue, a0, a1) -> log pi(a_0 | h_0, M_0), log pi(a_1 | h_1, M_1) from the policy's whole-episode pass."""

        def log_prob(cue: int, a0: int, a1: int) -> th.Tensor:
            obs = th.as_tensor(np.stack([cls.cue_obs(cue), cls.BLANK]))
            masks = th.as_tensor(np.stack([cls.mask0(cue), cls.mask1(a0)])) if masked else None
            return policy.evaluate_actions(obs, th.tensor([a0, a1]), np.array([2]), masks)[1]

        return log_prob


def test_average_estimate_matches_exact_gradient_of_a_masked_pomdp():
    venv = DummyVecEnv([MaskedCueMDP for _ in range(2)])
    policy_kwargs = dict(net_arch=[], lstm_hidden_size=3, optimizer_class=th.optim.SGD)
    model = MaskableRecurrentREINFORCE("MlpLstmPolicy", venv, n_episodes=4, seed=0, policy_kwargs=policy_kwargs)
    params = list(model.policy.parameters())

    def flat(tensor: th.Tensor) -> np.ndarray:
        return np.concatenate([g.flatten().numpy() for g in th.autograd.grad(tensor, params)])

    masked_log_prob = MaskedCueMDP.policy_log_probs(model.policy)
    eta = MaskedCueMDP.expectation(masked_log_prob, lambda c, a0, a1, lp: MaskedCueMDP.episode_return(c, a0, a1))
    exact = flat(eta)
    # What an estimator that forgets the masks in train() averages to: E[R(tau) sum_t grad log pi_unmasked(a_t | h_t)]
    # under the masked policy's trajectories
    unmasked_log_prob = MaskedCueMDP.policy_log_probs(model.policy, masked=False)

    def unmasked_score(cue: int, a0: int, a1: int | None, _) -> th.Tensor:
        log_probs = unmasked_log_prob(cue, a0, a1 if a1 is not None else 0)
        return MaskedCueMDP.episode_return(cue, a0, a1) * (log_probs[0] + (0.0 if a1 is None else log_probs[1]))

    wrong = flat(
        MaskedCueMDP.expectation(
            lambda c, a0, a1: [x.detach() for x in masked_log_prob(c, a0, a1)],
            unmasked_score,
        )
    )
    assert th.isclose(MaskedCueMDP.expectation(masked_log_prob, lambda *_: th.ones(())), th.tensor(1.0), atol=1e-6)

    estimates = sample_estimates(model, 2000)
    # Coordinates whose every estimate is 0 (e.g. the forget gate's input weights: the cue arrives while c = 0)
    constant = estimates.std(axis=0) == 0
    np.testing.assert_allclose(exact[constant], estimates[0, constant], atol=1e-7)
    assert np.max(np.abs(z_scores(estimates[:, ~constant], exact[~constant]))) < 4.5
    assert np.max(np.abs(z_scores(estimates[:, ~constant], 0.75 * exact[~constant]))) > 6  # the test has power
    assert np.max(np.abs(z_scores(estimates[:, ~constant], wrong[~constant]))) > 6  # the unmasked score is rejected
    n_input = model.policy.lstm_actor.weight_ih_l0.numel()
    recurrent = exact[n_input : n_input + model.policy.lstm_actor.weight_hh_l0.numel()]
    assert np.linalg.norm(recurrent) > 1e-5, "the cue reaches the reward only through the recurrent weights"


def test_exact_expected_return_of_the_masked_pomdp_matches_monte_carlo():
    """The enumeration itself, against plain Monte Carlo returns of the uniform policy over the valid actions."""

    def uniform(cue: int, a0: int, a1: int) -> th.Tensor:
        n0, n1 = MaskedCueMDP.mask0(cue).sum(), MaskedCueMDP.mask1(a0).sum()
        return th.log(th.tensor([1.0 / n0, 1.0 / n1]))

    eta = float(MaskedCueMDP.expectation(uniform, lambda c, a0, a1, lp: MaskedCueMDP.episode_return(c, a0, a1)))
    env, rng, returns = MaskedCueMDP(), np.random.default_rng(0), []
    for episode in range(20_000):
        env.reset(seed=episode)
        done, ret = False, 0.0
        while not done:
            _, r, terminated, truncated, _ = env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
            ret, done = ret + r, terminated or truncated
        returns.append(ret)
    assert abs(np.mean(returns) - eta) < 4 * np.std(returns) / np.sqrt(len(returns))


def test_rollout_memory_under_masks_equals_the_whole_episode_pass():
    """The states and masks of the rollout's steps give the log-probabilities train() recomputes; predict() agrees."""
    model, _ = make_model(spaces.Discrete(4), n_envs=1)
    model.learn(1)
    batch = model.rollout_buffer.get()
    obs, actions, masks = th.as_tensor(batch.observations), th.as_tensor(batch.actions), batch.action_masks
    assert not masks.all()
    with th.no_grad():
        _, whole, _ = model.policy.evaluate_actions(obs, actions, batch.lengths, th.as_tensor(masks))
        stepped, states = [], model.policy.initial_state(1)
        starts = np.concatenate([[1.0] + [0.0] * (n - 1) for n in batch.lengths])
        for t in range(len(obs)):
            distribution, states = model.policy.get_distribution(obs[t : t + 1], states, th.tensor([starts[t]]), masks[t])
            stepped.append(distribution.log_prob(actions[t : t + 1]))
        latent_pi = model.policy.actor_net(model.policy._actor_latent(obs, batch.lengths))
        probs = model.policy._masked_distribution(latent_pi, masks).distribution.probs  # pi(. | h_t, M_t), every step
    th.testing.assert_close(th.cat(stepped), whole, rtol=1e-5, atol=1e-6)
    # predict() with the state carried and the masks given: the most likely valid action of the whole-episode pass
    state, predicted = None, []
    for t in range(len(obs)):
        action, state = model.predict(obs[t].numpy(), state, np.array([starts[t]]), deterministic=True, action_masks=masks[t])
        predicted.append(int(action))
    np.testing.assert_array_equal(predicted, probs.argmax(dim=1).numpy())
    assert all(masks[t][a] for t, a in enumerate(predicted))


def test_predict_with_and_without_masks_and_state():
    np.random.seed(0)  # sb3-contrib's invalid-action envs draw from numpy's global generator
    env = InvalidActionEnvDiscrete(dim=10, n_invalid_actions=6)
    model = MaskableRecurrentREINFORCE(
        "MlpLstmPolicy", env, n_episodes=2, seed=0, policy_kwargs=dict(lstm_hidden_size=8, ortho_init=False)
    )
    obs, _ = env.reset()
    mask = np.array(env.action_masks())
    for _ in range(30):
        action, state = model.predict(obs, action_masks=mask)
        assert mask[action]
    assert state[0].shape == state[1].shape == (1, 1, 8)
    actions = {int(model.predict(obs)[0]) for _ in range(60)}  # without masks every action may be drawn
    assert actions - set(np.flatnonzero(mask)), actions
    # A state carried from the previous step changes the action distribution; an episode start resets it
    _, s1 = model.predict(obs, deterministic=True, action_masks=mask)

    def probs(state: tuple[th.Tensor, th.Tensor], episode_start: float) -> th.Tensor:
        """pi(. | h, M) after one step from ``state`` (copied: SB3's distribution objects are reused between calls)."""
        obs_t, masks_t, start_t = th.as_tensor(np.array(obs)[None]), th.as_tensor(mask[None]), th.tensor([episode_start])
        with th.no_grad():
            return model.policy.get_distribution(obs_t, state, start_t, masks_t)[0].distribution.probs.clone()

    fresh = probs(model.policy.initial_state(1), 0.0)
    carried = probs((th.as_tensor(s1[0]), th.as_tensor(s1[1])), 0.0)
    assert (fresh - carried).abs().max() > 1e-3
    th.testing.assert_close(probs((th.as_tensor(s1[0]), th.as_tensor(s1[1])), 1.0), fresh)
    assert fresh[0][~mask].sum() == 0
    # Vectorized observations: one state row per env
    obs4 = np.stack([obs] * 4)
    actions4, state4 = model.predict(obs4, episode_start=np.ones(4), action_masks=np.stack([mask] * 4))
    assert actions4.shape == (4,) and mask[actions4].all() and state4[0].shape == (1, 4, 8)


def test_save_load_and_sb3_contrib_masked_evaluation(tmp_path):
    np.random.seed(0)
    wrapped = ActionMasker(InvalidActionEnvDiscrete(dim=10, n_invalid_actions=6), lambda e: e.unwrapped.action_masks())
    eval_env = ActionMasker(InvalidActionEnvDiscrete(dim=10, n_invalid_actions=6), lambda e: e.unwrapped.action_masks())
    callback = MaskableEvalCallback(eval_env, n_eval_episodes=2, eval_freq=100, warn=False)
    model = MaskableRecurrentREINFORCE(
        "MlpLstmPolicy", wrapped, n_episodes=2, baseline="value", seed=0, policy_kwargs=dict(lstm_hidden_size=8)
    ).learn(400, callback=callback)
    assert callback.n_calls > 0 and np.isfinite(callback.best_mean_reward)  # it evaluated
    assert isinstance(model.policy, MaskableRecurrentReinforcePolicy) and model.policy.use_value_net
    evaluate_policy(model, model.get_env(), n_eval_episodes=2, warn=False)
    model.save(tmp_path / "masked_lstm")
    loaded = MaskableRecurrentREINFORCE.load(tmp_path / "masked_lstm", env=model.get_env())
    assert isinstance(loaded.policy, MaskableRecurrentReinforcePolicy)
    for p, q in zip(model.policy.parameters(), loaded.policy.parameters()):
        assert th.equal(p, q)
    venv = model.get_env()
    obs, state, starts = venv.reset(), None, np.ones(1)
    loaded_state = None
    for _ in range(10):
        masks = get_action_masks(venv)
        a1, state = model.predict(obs, state, starts, deterministic=True, action_masks=masks)
        a2, loaded_state = loaded.predict(obs, loaded_state, starts, deterministic=True, action_masks=masks)
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(state[0], loaded_state[0])
        assert masks[0][a1[0]]
        obs, _, starts, _ = venv.step(a1)
    loaded.learn(200, reset_num_timesteps=False)


def test_without_masking_it_is_recurrent_reinforce():
    kwargs = dict(n_episodes=2, seed=3, policy_kwargs=dict(lstm_hidden_size=8))
    masked = MaskableRecurrentREINFORCE("MlpLstmPolicy", "CartPole-v1", **kwargs).learn(2_000, use_masking=False)
    plain = RecurrentREINFORCE("MlpLstmPolicy", "CartPole-v1", **kwargs).learn(2_000)
    assert masked.num_timesteps == plain.num_timesteps  # the same episodes
    assert masked._n_updates == plain._n_updates > 5
    for p, q in zip(masked.policy.parameters(), plain.policy.parameters()):
        th.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)  # up to float rounding of sb3-contrib's distribution


def test_errors():
    with pytest.raises(ArgumentTypeError, match=r"^The algorithm only supports \[.*\] .* \(MaskableRecurrentREINFORCE\)$"):
        MaskableRecurrentREINFORCE("MlpLstmPolicy", "Pendulum-v1")
    with pytest.raises(ValueError, match="Environment does not support action masking"):
        MaskableRecurrentREINFORCE("MlpLstmPolicy", "CartPole-v1").learn(100)
    for policy in (RecurrentReinforcePolicy, MaskableReinforcePolicy):
        with pytest.raises(TypeError, match="MaskableRecurrentReinforcePolicy subclass"):
            MaskableRecurrentREINFORCE(policy, "CartPole-v1")
    with pytest.raises(ValueError, match=r"Raise train_chunk_steps \(now 3\)"):
        make_model(spaces.Discrete(4), n_envs=1, n_episodes=2, train_chunk_steps=3)[0].learn(100)
    with pytest.raises(TypeError, match=r"MaskableRecurrentREINFORCE got an unexpected keyword argument 'n_step'"):
        MaskableRecurrentREINFORCE("MlpLstmPolicy", "CartPole-v1", n_step=5)


@pytest.mark.parametrize("algorithm", [MaskableRecurrentREINFORCE, RecurrentREINFORCE])
@pytest.mark.parametrize("env_class", [InvalidActionEnvMultiDiscrete, InvalidActionEnvMultiBinary])
def test_multi_discrete_and_multi_binary_spaces(algorithm, env_class):
    """MultiDiscrete and MultiBinary actions under masks, and their observations (whose flattened size is a NumPy integer)."""
    np.random.seed(0)
    env = env_class(dims=[2, 3] if env_class is InvalidActionEnvMultiDiscrete else 4, n_invalid_actions=2)
    model = algorithm("MlpLstmPolicy", env, n_episodes=2, seed=0, policy_kwargs=dict(lstm_hidden_size=8)).learn(200)
    assert model._n_updates >= 1 and all(th.isfinite(p).all() for p in model.policy.parameters())
    if algorithm is MaskableRecurrentREINFORCE:
        obs, _ = env.reset()
        mask = np.array(env.action_masks())
        for _ in range(20):
            action, _ = model.predict(obs, action_masks=mask)
            assert env.action_space.contains(action)
            if env_class is InvalidActionEnvMultiDiscrete:
                assert mask[np.concatenate(([0], np.cumsum(env.action_space.nvec)[:-1])) + action].all()
            else:  # a MultiBinary mask has two entries per dimension: (0 valid, 1 valid)
                assert mask.reshape(-1, 2)[np.arange(len(action)), action].all()
