"""
MaskableREINFORCE: the REINFORCE estimator for the masked policy pi(a | s, M(s)), checked against a hand
computation of one update, plus the MaskablePPO conventions (masks from the env, predict with masks, errors).
"""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from sb3_contrib.common.envs import InvalidActionEnvDiscrete
from sb3_contrib.common.maskable.evaluation import evaluate_policy
from sb3_contrib.common.wrappers import ActionMasker

from sb3_reinforce import REINFORCE, MaskableREINFORCE
from sb3_reinforce.common.checks import ArgumentTypeError
from sb3_reinforce.common.policies import MaskableReinforcePolicy, ReinforcePolicy
from tests.envs import ToyEnv, recorded_envs, selected_episodes

LR = 0.05


def state_mask(obs: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
    """Valid actions among n, a function of the observation: action 0 is always valid, others depend on s."""
    mask = np.array([k == 0 or obs[(k + offset) % 3] > 0.2 * (k - 1) - 0.3 for k in range(n)])
    return mask


class MaskedToyEnv(ToyEnv):
    """ToyEnv with a state-dependent action mask; an invalid action is an error."""

    def masks(self, obs: np.ndarray) -> np.ndarray:
        if isinstance(self.action_space, spaces.Discrete):
            return state_mask(obs, int(self.action_space.n))
        return np.concatenate([state_mask(obs, int(n), offset=i) for i, n in enumerate(self.action_space.nvec)])

    def action_masks(self) -> np.ndarray:
        return self.masks(self.state)

    def step(self, action):
        mask = self.action_masks()
        if isinstance(self.action_space, spaces.Discrete):
            assert mask[int(action)], f"invalid action {action} under mask {mask}"
        else:
            starts = np.concatenate(([0], np.cumsum(self.action_space.nvec)[:-1]))
            assert all(mask[s + int(a)] for s, a in zip(starts, action)), f"invalid action {action} under mask {mask}"
        return super().step(action)


def make_model(action_space, n_envs=2, n_episodes=4, seed=3, **kwargs):
    venv, recorders = recorded_envs(lambda: MaskedToyEnv(action_space), n_envs)
    policy_kwargs = dict(net_arch=[], optimizer_class=th.optim.SGD, ortho_init=False)
    model = MaskableREINFORCE(
        "MlpPolicy", venv, learning_rate=LR, n_episodes=n_episodes, seed=seed, policy_kwargs=policy_kwargs, **kwargs
    )
    return model, recorders


def params(model):
    return {name: p.detach().clone().numpy().astype(np.float64) for name, p in model.policy.named_parameters()}


def masked_softmax(logits, mask):
    z = np.where(mask, logits, -np.inf)
    z = np.exp(z - z[mask].max())
    return z / z.sum()


def hand_update(before, episodes, nvec, masked=True):
    """lr * (1/m) sum_i R(tau_i) sum_t grad log pi(a_t|s_t, M(s_t)), for a linear (multi-)categorical policy."""
    w, b = before["action_net.weight"], before["action_net.bias"]
    grad_w, grad_b = np.zeros_like(w), np.zeros_like(b)
    starts = np.concatenate(([0], np.cumsum(nvec)[:-1]))
    env = MaskedToyEnv(spaces.Discrete(nvec[0]) if len(nvec) == 1 else spaces.MultiDiscrete(nvec))
    for ep in episodes:
        ret = sum(ep["rewards"])
        for s, a in zip(ep["obs"][:-1], ep["actions"]):
            logits, mask = w @ s + b, env.masks(s) if masked else np.ones(sum(nvec), dtype=bool)
            for start, n, a_k in zip(starts, nvec, np.atleast_1d(a)):
                part = slice(start, start + n)
                score = np.eye(n)[int(a_k)] - masked_softmax(logits[part], mask[part])
                grad_w[part] += ret * np.outer(score, s)
                grad_b[part] += ret * score
    return LR * grad_w / len(episodes), LR * grad_b / len(episodes)


@pytest.mark.parametrize("action_space", [spaces.Discrete(4), spaces.MultiDiscrete([3, 4])])
def test_masked_update_matches_hand_computed_estimator(action_space):
    model, recorders = make_model(action_space)
    before = params(model)
    model.learn(1)  # one rollout, one gradient step
    after = params(model)
    episodes = selected_episodes(recorders, 4)
    nvec = [int(action_space.n)] if isinstance(action_space, spaces.Discrete) else [int(n) for n in action_space.nvec]
    all_masks = [MaskedToyEnv(action_space).masks(s) for ep in episodes for s in ep["obs"][:-1]]
    assert not np.all(all_masks), "some actions must be masked for the test to mean anything"
    delta_w, delta_b = hand_update(before, episodes, nvec)
    np.testing.assert_allclose(after["action_net.weight"] - before["action_net.weight"], delta_w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after["action_net.bias"] - before["action_net.bias"], delta_b, rtol=1e-4, atol=1e-6)
    # The score function of the unmasked policy is a different update
    unmasked_w, _ = hand_update(before, episodes, nvec, masked=False)
    assert not np.allclose(after["action_net.weight"] - before["action_net.weight"], unmasked_w, rtol=1e-2)
    # The masks recorded with the steps are those the env declared
    batch = model.rollout_buffer.get()
    np.testing.assert_array_equal(batch.action_masks, [MaskedToyEnv(action_space).masks(s) for s in batch.observations])


def test_sampled_actions_are_the_same_draws_as_the_masked_distribution():
    model, _ = make_model(spaces.Discrete(6), n_envs=1)
    obs = th.as_tensor(np.random.default_rng(0).uniform(-1, 1, size=(64, 3)), dtype=th.float32)
    masks = np.array([state_mask(o, 6) for o in obs.numpy()])
    th.manual_seed(5)
    fast = model.policy.sample_actions(obs, action_masks=masks)
    th.manual_seed(5)
    reference = model.policy.get_distribution(obs, masks).get_actions()
    th.testing.assert_close(fast, reference)
    assert masks[np.arange(64), fast.numpy()].all()


def test_evaluated_actions_match_the_masked_distribution_and_its_gradient():
    """train()'s log pi(a|s, mask) and entropy are those of sb3-contrib's MaskableCategorical, gradients included."""
    model, _ = make_model(spaces.Discrete(6), n_envs=1)
    obs = th.as_tensor(np.random.default_rng(1).uniform(-1, 1, size=(64, 3)), dtype=th.float32)
    masks = np.array([state_mask(o, 6) for o in obs.numpy()])
    actions = th.as_tensor([np.random.default_rng(k).choice(np.flatnonzero(m)) for k, m in enumerate(masks)])
    _, log_prob, entropy = model.policy.evaluate_actions(obs, actions, th.as_tensor(masks))
    reference = model.policy.get_distribution(obs, masks)
    th.testing.assert_close(log_prob, reference.log_prob(actions))
    th.testing.assert_close(entropy, reference.entropy())
    params = list(model.policy.parameters())
    ours = th.autograd.grad((log_prob * th.linspace(-1, 1, 64)).sum() + entropy.sum(), params, allow_unused=True)
    theirs = th.autograd.grad(
        (reference.log_prob(actions) * th.linspace(-1, 1, 64)).sum() + reference.entropy().sum(), params, allow_unused=True
    )
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            th.testing.assert_close(a, b)
    assert not th.allclose(log_prob, model.policy.get_distribution(obs).log_prob(actions))  # masking matters


def test_without_masking_it_is_reinforce():
    masked = MaskableREINFORCE("MlpPolicy", "CartPole-v1", n_episodes=2, seed=3).learn(2_000, use_masking=False)
    plain = REINFORCE("MlpPolicy", "CartPole-v1", n_episodes=2, seed=3).learn(2_000)
    assert masked.num_timesteps == plain.num_timesteps  # the same episodes
    for p, q in zip(masked.policy.parameters(), plain.policy.parameters()):
        th.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)  # up to float rounding of sb3-contrib's distribution


def test_masking_conventions_and_errors(tmp_path):
    with pytest.raises(ValueError, match="Environment does not support action masking"):
        MaskableREINFORCE("MlpPolicy", "CartPole-v1").learn(100)
    with pytest.raises(
        ArgumentTypeError,
        match=r"^The algorithm only supports \[.*\] as action spaces but Box.* was provided \(MaskableREINFORCE\)$",
    ):
        MaskableREINFORCE("MlpPolicy", "Pendulum-v1")
    with pytest.raises(TypeError, match="MaskableReinforcePolicy subclass"):
        MaskableREINFORCE(ReinforcePolicy, "CartPole-v1")

    np.random.seed(0)  # sb3-contrib's invalid-action envs draw from numpy's global generator
    env = InvalidActionEnvDiscrete(dim=10, n_invalid_actions=6)
    wrapped = ActionMasker(InvalidActionEnvDiscrete(dim=10, n_invalid_actions=6), lambda e: e.unwrapped.action_masks())
    model = MaskableREINFORCE("MlpPolicy", wrapped, n_episodes=2, seed=0).learn(400)
    assert isinstance(model.policy, MaskableReinforcePolicy)
    obs, _ = env.reset()
    mask = np.array(env.action_masks())
    for _ in range(20):
        action, _ = model.predict(obs, action_masks=mask)
        assert mask[action]
    evaluate_policy(model, model.get_env(), n_eval_episodes=2, warn=False)
    model.save(tmp_path / "masked")
    loaded = MaskableREINFORCE.load(tmp_path / "masked", env=model.get_env())
    assert isinstance(loaded.policy, MaskableReinforcePolicy)
    action, _ = loaded.predict(obs, action_masks=mask, deterministic=True)
    assert mask[action]
    loaded.learn(200, reset_num_timesteps=False)


def test_masking_learns_what_unmasked_reinforce_cannot_in_the_same_budget():
    """sb3-contrib's 70-action identity env, 55 actions invalid at every step: 100 steps per episode, reward 1 for
    the action equal to the state. A uniform policy over the valid actions scores 100/15 = 6.7."""
    scores = {}
    for use_masking in (True, False):
        np.random.seed(0)  # the env draws its invalid actions from numpy's global generator
        env = InvalidActionEnvDiscrete(dim=70, n_invalid_actions=55)
        model = MaskableREINFORCE(
            "MlpPolicy", env, n_episodes=4, learning_rate=3e-3, reward_to_go=True, baseline="loo", seed=0
        ).learn(12_000, use_masking=use_masking)
        np.random.seed(1)
        scores[use_masking], _ = evaluate_policy(model, model.get_env(), n_eval_episodes=10, use_masking=use_masking)
    assert scores[True] > 40 and scores[True] > 2.5 * scores[False], scores


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(reward_to_go=True, baseline="loo"),
        dict(baseline="mean", normalize_advantage=True),
        dict(baseline="value", reward_to_go=True, gamma=0.9),
        dict(ent_coef=0.01, max_grad_norm=0.5),
    ],
)
@pytest.mark.parametrize("action_space", [spaces.Discrete(4), spaces.MultiDiscrete([3, 4])])
def test_every_option_trains_under_masks(action_space, kwargs):
    model, recorders = make_model(action_space, **kwargs)
    model.learn(300)  # MaskedToyEnv asserts that no invalid action ever reaches it
    assert all(th.isfinite(p).all() for p in model.policy.parameters())
    entropy = model.logger.name_to_value.get("train/entropy")
    assert entropy is None or np.isfinite(entropy)
    assert sum(len(r.finished_episodes()) for r in recorders) >= 4
