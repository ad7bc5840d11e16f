"""
The episode collection and the update step shared by every algorithm of this package.

An algorithm here is the score-function policy gradient on whole episodes: collect ``n_episodes`` = m complete
episodes with the current policy, weight every step, and take one gradient step. Collection and update are
written once, in :class:`EpisodicPolicyGradient`; the public algorithms only pick their policies.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.type_aliases import GymEnv, Schedule
from stable_baselines3.common.utils import explained_variance, obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from sb3_reinforce.common.buffers import EpisodeBatch, EpisodeBuffer, default_max_rollout_steps
from sb3_reinforce.common.checks import (
    ArgumentError,
    UnsupportedSpaceError,
    check_hyperparameters,
    check_keywords,
    check_policy,
)
from sb3_reinforce.common.policies import ReinforcePolicy
from sb3_reinforce.common.returns import episode_returns, rewards_to_go, step_returns, step_weights


class NonFiniteError(ValueError, FloatingPointError):
    """A return, loss or gradient is NaN or infinite; raised before the parameters change.

    A ``ValueError`` too, so rl-zoo's tuner prunes the trial instead of stopping the study.
    """


SUPPORTED_ACTION_SPACES = (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)
# SB3's policies take these observation spaces (a Dict with the MultiInput policies)
SUPPORTED_OBSERVATION_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary, spaces.Dict)
# Steps per forward/backward pass in ``train()``; bounds its memory whatever the batch size.
TRAIN_CHUNK_STEPS = 16_384
# Most groups of episodes whose gradients are taken apart to estimate the estimator's variance.
VARIANCE_GROUPS = 32
# Most halvings of a step that ``target_kl`` tries before it drops the step (2^-10 of it)
KL_BACKTRACKS = 10


class GradientPass(NamedTuple):
    """
    What one pass over a batch accumulates (see :meth:`EpisodicPolicyGradient.policy_gradient_pass`).

    :param pg_grad: Gradient of the policy-gradient loss, one tensor per parameter
    :param group_sq_norms: sum_g ||m L_g||^2 / n_g over the groups of episodes (for :func:`estimator_variance`)
    :param n_groups: Number of groups G
    :param policy_loss: The policy-gradient loss
    :param aux_loss: Entropy and value terms of the loss (their gradient is already in the parameters' ``.grad``)
    :param entropy_sum: Sum of the policy's entropy over every step
    :param value_loss: The value regression loss (``baseline="value"``)
    :param below_floor: Number of steps whose entropy is below ``ent_floor`` (0 without it)
    :param in_policy: For each parameter, whether log pi depends on it (False: the value head's own parameters)
    """

    pg_grad: list[th.Tensor]
    group_sq_norms: float
    n_groups: int
    policy_loss: float
    aux_loss: float
    entropy_sum: float
    value_loss: float
    below_floor: int = 0
    in_policy: tuple[bool, ...] = ()


class Chunk(NamedTuple):
    """
    Steps ``start:end`` of a batch's flat arrays.

    :param start: First step
    :param end: One past the last step
    :param lengths: The lengths of the whole episodes the chunk holds, back to back; None for a piece of an episode
    """

    start: int
    end: int
    lengths: np.ndarray | None


def episode_chunks(lengths: np.ndarray, max_steps: int, offset: int = 0, split_episodes: bool = True) -> list[Chunk]:
    """
    Cut consecutive episodes into chunks of at most ``max_steps`` steps: whole episodes, packed in order, and an
    episode longer than ``max_steps`` cut into pieces of ``max_steps`` steps (or refused).

    :param lengths: Lengths of the episodes, stored back to back from step ``offset``
    :param max_steps: Most steps per chunk
    :param offset: Index of the first episode's first step
    :param split_episodes: Whether an episode may be cut (False for recurrent policies, which need each episode whole)
    :raises ValueError: an episode longer than ``max_steps`` when ``split_episodes`` is False
    """
    chunks: list[Chunk] = []
    start, pending = offset, list[int]()  # the first step and the episode lengths of the chunk being filled
    for length in (int(n) for n in lengths):
        if pending and sum(pending) + length > max_steps:
            chunks.append(Chunk(start, start + sum(pending), np.array(pending)))
            start, pending = start + sum(pending), []
        if length <= max_steps:
            pending.append(length)
            continue
        if not split_episodes:
            raise ValueError(f"An episode of {length} steps does not fit in one chunk of {max_steps} steps")
        chunks += [Chunk(s, min(s + max_steps, start + length), None) for s in range(start, start + length, max_steps)]
        start += length
    if pending:
        chunks.append(Chunk(start, start + sum(pending), np.array(pending)))
    return chunks


def noise_scaled_lr_factor(pg_norm_sq: float, trace_cov: float) -> float:
    """
    The factor ``noise_scaled_lr`` multiplies the learning rate by: the estimated fraction of the squared norm of
    the gradient estimate g_hat that is signal. Since E||g_hat||^2 = ||grad eta||^2 + tr Cov[g_hat],

        factor = max(0, ||g_hat||^2 - tr Cov[g_hat]) / ||g_hat||^2 ~= 1 / (1 + B_noise / m)

    with B_noise = m tr Cov[g_hat] / ||grad eta||^2 the gradient noise scale of "An Empirical Model of
    Large-Batch Training" (https://arxiv.org/abs/1812.06162), whose optimal SGD step at batch size m is the
    noiseless one times this factor. Near an optimum the signal vanishes and so do the steps.

    :param pg_norm_sq: ||g_hat||^2
    :param trace_cov: The estimate of tr Cov[g_hat] (:func:`estimator_variance`)
    """
    if pg_norm_sq <= 0:
        return 0.0
    return float(max(0.0, 1.0 - trace_cov / pg_norm_sq))  # a Python float: it becomes the optimizer's saved lr


def return_scaled_lr_factor(mean_return: float, low: float, high: float) -> float:
    """
    The factor ``return_scaled_lr=(low, high)`` multiplies the learning rate by: the fraction of the way from the
    batch's mean undiscounted return R_bar to ``high`` that is left, clipped to [0, 1],

        factor = min(1, max(0, (high - R_bar) / (high - low)))

    1 at or below ``low``, 0 at or above ``high`` (no step once every episode of a batch reaches the best return):
    a learning-rate schedule that decays as the policy improves rather than with the steps taken.

    :param mean_return: R_bar, the mean over the batch's episodes of sum_t r_t
    :param low: The return at which the full learning rate applies
    :param high: The return at which the steps stop (for a time-limited env, the best return it allows)
    """
    return float(min(1.0, max(0.0, (high - mean_return) / (high - low))))  # a Python float: the optimizer's saved lr


def approx_kl(old_log_prob: th.Tensor, new_log_prob: th.Tensor) -> float:
    """
    The estimate of KL(pi_old || pi_new) that ``target_kl`` bounds, from the batch's own actions a_t ~ pi_old(.|s_t):

        KL_hat = mean_t [(r_t - 1) - log r_t],   r_t = pi_new(a_t|s_t) / pi_old(a_t|s_t)

    unbiased and never negative (the estimate of ``approx_kl`` in SB3's PPO).

    :param old_log_prob: log pi_old(a_t|s_t) for every step
    :param new_log_prob: log pi_new(a_t|s_t) for every step
    """
    log_ratio = new_log_prob - old_log_prob
    return float(th.mean(th.exp(log_ratio) - 1 - log_ratio).item())


def estimator_variance(group_sq_norms: float, pg_norm_sq: float, m: int, n_groups: int) -> float:
    """
    Trace of the covariance of the gradient estimate g_hat = sum_g L_g, estimated by batch means: with
    n_g episodes in group g, m L_g / n_g is an unbiased estimate of the gradient from the group alone, so

        tr Cov[g_hat] ~= (1/m) * (1/(G-1)) * (sum_g ||m L_g||^2 / n_g - m ||g_hat||^2)

    :param group_sq_norms: sum_g ||m L_g||^2 / n_g
    :param pg_norm_sq: ||g_hat||^2
    :param m: Number of episodes
    :param n_groups: Number of groups G >= 2
    """
    return (group_sq_norms - m * pg_norm_sq) / (n_groups - 1) / m


class EpisodicPolicyGradient(OnPolicyAlgorithm):
    """
    The shared machinery of this package's algorithms: collect ``n_episodes`` complete episodes with the
    current policy, weight every step, and take one gradient step on

        loss(theta) = -(1/m) sum_i sum_t w_t^i log pi_theta(a_t^i | s_t^i)

    The public algorithms (:class:`sb3_reinforce.REINFORCE`, ...) derive from it; their docstrings list the
    arguments.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {}
    # The class every policy of the algorithm derives from, and the action spaces it supports
    policy_base: ClassVar[type[ReinforcePolicy]] = ReinforcePolicy
    supported_action_spaces: ClassVar[tuple[type[spaces.Space], ...]] = SUPPORTED_ACTION_SPACES
    # Whether the algorithm records an action mask with every step (see _action_masks)
    stores_action_masks: ClassVar[bool] = False
    policy: ReinforcePolicy  # type: ignore[assignment]
    rollout_buffer: EpisodeBuffer  # type: ignore[assignment]

    def __new__(cls, *args: Any, **kwargs: Any) -> EpisodicPolicyGradient:
        check_keywords(cls, kwargs)  # before Python's TypeError, which names this base class and suggests nothing
        return super().__new__(cls)

    def __init__(
        self,
        policy: str | type[ReinforcePolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-3,
        n_episodes: int = 8,
        gamma: float = 1.0,
        reward_to_go: bool = False,
        baseline: str | None = None,
        normalize_advantage: bool = False,
        normalize_returns: bool = False,
        noise_scaled_lr: bool = False,
        noise_scale_smoothing: float = 0.9,
        return_scaled_lr: tuple[float, float] | None = None,
        ent_coef: float = 0.0,
        ent_floor: float | None = None,
        vf_coef: float = 0.5,
        n_value_steps: int = 0,
        max_grad_norm: float | None = None,
        target_kl: float | None = None,
        max_rollout_steps: int | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        check_policy(policy, self.policy_aliases, self.policy_base)
        check_hyperparameters(
            learning_rate=learning_rate,
            n_episodes=n_episodes,
            gamma=gamma,
            reward_to_go=reward_to_go,
            baseline=baseline,
            normalize_advantage=normalize_advantage,
            normalize_returns=normalize_returns,
            noise_scaled_lr=noise_scaled_lr,
            noise_scale_smoothing=noise_scale_smoothing,
            return_scaled_lr=return_scaled_lr,
            ent_coef=ent_coef,
            ent_floor=ent_floor,
            vf_coef=vf_coef,
            n_value_steps=n_value_steps,
            max_grad_norm=max_grad_norm,
            target_kl=target_kl,
            max_rollout_steps=max_rollout_steps,
            policy_kwargs=policy_kwargs,
        )
        super().__init__(
            policy,  # type: ignore[arg-type]
            env,
            learning_rate=learning_rate if callable(learning_rate) else float(learning_rate),
            n_steps=1,  # unused: a rollout lasts until its episodes are complete
            gamma=float(gamma),
            gae_lambda=1.0,
            ent_coef=float(ent_coef),
            vf_coef=float(vf_coef),
            max_grad_norm=None if max_grad_norm is None else float(max_grad_norm),  # type: ignore[arg-type]
            use_sde=False,
            sde_sample_freq=-1,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            device=device,
            seed=seed,
            _init_setup_model=False,
        )
        if env is not None and not isinstance(self.action_space, self.supported_action_spaces):
            names = [space.__name__ for space in self.supported_action_spaces]
            raise UnsupportedSpaceError(  # SB3's wording, which code written for SB3's algorithms may match
                "env",
                f"The algorithm only supports {names} as action spaces but {self.action_space} was provided "
                f"({type(self).__name__})",
            )
        if env is not None and not isinstance(self.observation_space, SUPPORTED_OBSERVATION_SPACES):
            names = [space.__name__ for space in SUPPORTED_OBSERVATION_SPACES]
            raise UnsupportedSpaceError(
                "env",
                f"{type(self).__name__} supports only {names} observation spaces, but the env's is {self.observation_space} "
                "(a Tuple of simple spaces can be flattened with gymnasium.wrappers.FlattenObservation)",
            )
        self.n_episodes = int(n_episodes)
        self.reward_to_go = bool(reward_to_go)
        self.baseline = baseline
        self.normalize_advantage = bool(normalize_advantage)
        self.normalize_returns = bool(normalize_returns)
        self.n_value_steps = int(n_value_steps)
        self.noise_scaled_lr = bool(noise_scaled_lr)
        self.noise_scale_smoothing = float(noise_scale_smoothing)
        # Moving averages of ||g_hat||^2 and tr Cov[g_hat] (noise_scaled_lr); saved with the model
        self.noise_scale_averages: np.ndarray | None = None
        self.return_scaled_lr = None if return_scaled_lr is None else (float(return_scaled_lr[0]), float(return_scaled_lr[1]))
        # Running mean and variance of the returns (normalize_returns); saved with the model
        self.return_rms = RunningMeanStd(shape=()) if self.normalize_returns else None
        self.target_kl = None if target_kl is None else float(target_kl)
        self.ent_floor = None if ent_floor is None else float(ent_floor)
        self.max_rollout_steps = None if max_rollout_steps is None else int(max_rollout_steps)
        self._discarded_steps = 0
        # Each env's last exploration noise n_{t-1} (policy's noise_correlation > 0); not saved
        self._last_noise: th.Tensor | None = None
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(  # type: ignore[assignment]
            self.observation_space,
            self.action_space,
            self.lr_schedule,
            use_value_net=self.baseline == "value",
            **self.policy_kwargs,
        )
        self.policy = self.policy.to(self.device)
        self._setup_rollout_buffer()
        self._maybe_recommend_cpu("ReinforcePolicy")

    def _setup_rollout_buffer(self) -> None:
        max_steps = self.max_rollout_steps or default_max_rollout_steps(
            self.observation_space, self.action_space, masked=self.stores_action_masks
        )
        self.rollout_buffer = EpisodeBuffer(self.observation_space, self.action_space, self.n_envs, self.n_episodes, max_steps)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_last_noise"]

    def _setup_learn(self, total_timesteps: int, *args: Any, **kwargs: Any) -> tuple[int, BaseCallback]:
        # return_scaled_lr reads the batch's rewards, which VecNormalize(norm_reward=True) has rescaled by a running
        # statistic: thresholds in the env's units would then mean nothing. Refuse before the first rollout.
        vec_normalize = self.get_vec_normalize_env()
        if self.return_scaled_lr is not None and vec_normalize is not None and vec_normalize.norm_reward:
            raise ArgumentError(
                "return_scaled_lr",
                f"return_scaled_lr={self.return_scaled_lr} compares the batch's mean return with thresholds in the "
                "env's reward units, but the env is a VecNormalize with norm_reward=True, whose rewards are rescaled "
                "by a running statistic: use norm_reward=False, or drop return_scaled_lr",
            )
        return super()._setup_learn(total_timesteps, *args, **kwargs)

    def _update_current_progress_remaining(self, num_timesteps: int, total_timesteps: int) -> None:
        # Whole episodes overshoot total_timesteps: never let a schedule see progress below 0
        # (rl-zoo's lin_<x> schedules would give a negative learning rate).
        super()._update_current_progress_remaining(min(num_timesteps, total_timesteps), total_timesteps)

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """
        Collect ``n_episodes`` complete episodes with the current policy into ``self.rollout_buffer``.

        :param env: The training environment
        :param callback: Callback called at each step (and at the beginning and end of the rollout)
        :param rollout_buffer: Unused (SB3's signature); episodes go to ``self.rollout_buffer``
        :param n_rollout_steps: Unused (SB3's signature); a rollout lasts until its episodes are complete
        :return: True if the episodes were collected, False if a callback stopped training
        """
        assert self._last_obs is not None, "No previous observation was provided"
        buffer = self.rollout_buffer
        self.policy.set_training_mode(False)
        if not np.all(self._last_episode_starts):
            # Episodes under way were started by the previous parameters: start them again
            self._last_obs = env.reset()  # type: ignore[assignment]
            self._last_episode_starts = np.ones((env.num_envs,), dtype=bool)
            if self._vec_normalize_env is not None:
                self._last_original_obs = self._vec_normalize_env.get_original_obs()
        buffer.reset()
        callback.on_rollout_start()

        while not buffer.full:
            action_masks = self._action_masks(env)
            with th.inference_mode():
                obs_tensor = obs_as_tensor(self._last_obs, self.device)  # type: ignore[arg-type]
                actions = self._sample_actions(obs_tensor, action_masks).cpu().numpy()
            # The env gets actions clipped (or squashed) to its bounds; the score function gets the sampled ones
            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                clipped_actions = self.policy.env_actions(actions.reshape((-1, *self.action_space.shape)))

            new_obs, rewards, dones, infos = env.step(clipped_actions)
            self.num_timesteps += env.num_envs

            # Give access to local variables (dones, infos, ...) as SB3's rollout loop does
            callback.update_locals(locals())
            if not callback.on_step():
                # The envs moved past self._last_obs: have the next rollout start them again
                self._last_episode_starts = np.zeros((env.num_envs,), dtype=bool)
                return False

            self._update_info_buffer(infos, dones)
            buffer.add(self._last_obs, actions, rewards, dones, action_masks)  # type: ignore[arg-type]
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones

        self._discarded_steps = buffer.pos * env.num_envs - buffer.steps_kept
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _sample_actions(self, obs: Any, action_masks: np.ndarray | None) -> th.Tensor:
        """a_t ~ pi_theta(. | s_t) for every env, the rollout's step (under ``action_masks`` when given)."""
        if self.policy.noise_correlation > 0:
            assert self._last_episode_starts is not None
            starts = th.as_tensor(self._last_episode_starts, device=self.device)
            actions, self._last_noise = self.policy.sample_correlated_actions(obs, self._previous_noise(), starts)
            return actions
        if action_masks is None:
            return self.policy.sample_actions(obs)
        return self.policy.sample_actions(obs, action_masks=action_masks)  # type: ignore[call-arg]

    def _previous_noise(self) -> th.Tensor:
        """Each env's last exploration noise n_{t-1} (``noise_correlation`` > 0), zero before the first step."""
        if self._last_noise is None or len(self._last_noise) != self.n_envs:
            self._last_noise = th.zeros((self.n_envs, get_action_dim(self.action_space)), device=self.device)
        return self._last_noise

    def _action_masks(self, env: VecEnv) -> np.ndarray | None:
        """The valid actions of every env at this step, given to the policy and recorded; None: no masking."""
        return None

    def _obs_slice(self, observations: np.ndarray | dict[str, np.ndarray], start: int, end: int) -> Any:
        if isinstance(observations, dict):
            return obs_as_tensor({key: value[start:end] for key, value in observations.items()}, self.device)
        return obs_as_tensor(observations[start:end], self.device)

    def _chunks(self, lengths: np.ndarray, offset: int = 0) -> list[Chunk]:
        """
        Chunks of consecutive episodes (the given ``lengths``, starting at step ``offset``), see :func:`episode_chunks`;
        whole episodes only with correlated noise, whose log-probabilities read the previous step.
        """
        if self.policy.noise_correlation == 0:
            return episode_chunks(lengths, TRAIN_CHUNK_STEPS, offset)
        try:
            return episode_chunks(lengths, TRAIN_CHUNK_STEPS, offset, split_episodes=False)
        except ValueError as e:
            raise ValueError(f"{e}: noise_correlation > 0 needs each episode whole in train()") from e

    def _evaluate_chunk(
        self, batch: EpisodeBatch, actions: th.Tensor, chunk: Chunk
    ) -> tuple[th.Tensor | None, th.Tensor, th.Tensor | None]:
        """V(s), log pi(a|s) and the entropy of pi(.|s) for the steps of one chunk, as the policy chose the actions."""
        obs = self._obs_slice(batch.observations, chunk.start, chunk.end)
        if self.policy.noise_correlation > 0:
            assert chunk.lengths is not None  # chunks of whole episodes
            return self.policy.evaluate_correlated_actions(obs, actions[chunk.start : chunk.end], chunk.lengths)
        masks = self._chunk_masks(batch, chunk)
        if masks is None:
            return self.policy.evaluate_actions(obs, actions[chunk.start : chunk.end])
        return self.policy.evaluate_actions(obs, actions[chunk.start : chunk.end], masks)  # type: ignore[call-arg]

    def _chunk_masks(self, batch: EpisodeBatch, chunk: Chunk) -> th.Tensor | None:
        """The action masks recorded with the steps of one chunk (those the actions were chosen under); None: none."""
        if batch.action_masks is None:
            return None
        return th.as_tensor(batch.action_masks[chunk.start : chunk.end], device=self.device)

    def _chunk_values(self, batch: EpisodeBatch, chunk: Chunk) -> th.Tensor:
        """V(s) for the steps of one chunk (``baseline="value"``)."""
        return self.policy.predict_values(self._obs_slice(batch.observations, chunk.start, chunk.end))

    def _value_targets(
        self, batch: EpisodeBatch, raw_returns: np.ndarray, return_stats: tuple[float, float] | None
    ) -> np.ndarray:
        """
        The value head's regression targets G_t (standardized like the returns with ``normalize_returns``).

        :param batch: The episodes
        :param raw_returns: The batch's step returns (:func:`sb3_reinforce.common.returns.step_returns`): already
            G_t with ``reward_to_go``
        :param return_stats: The (mu, sigma) of ``normalize_returns``, else None
        """
        targets = raw_returns if self.reward_to_go else rewards_to_go(batch.rewards, batch.lengths, self.gamma)
        return targets if return_stats is None else (targets - return_stats[0]) / return_stats[1]

    def _scale_learning_rate(self, factor: float) -> None:
        """Multiply this update's learning rate (the schedule's, set at the start of ``train()``) by ``factor``."""
        for param_group in self.policy.optimizer.param_groups:
            param_group["lr"] *= factor
        self.logger.record("train/lr_factor", factor)

    def _lr_factor(self, pg_norm_sq: float, trace_cov: float | None, batch: EpisodeBatch, returns: np.ndarray) -> float:
        """
        The product of the factors of ``noise_scaled_lr`` and ``return_scaled_lr`` (those that are on).

        :param returns: The batch's episode returns at ``gamma`` (reused as the undiscounted ones when gamma = 1)
        """
        factor = 1.0
        if self.noise_scaled_lr:
            assert trace_cov is not None  # n_episodes >= 2 is checked
            factor *= self._noise_scaled_lr_factor(pg_norm_sq, trace_cov)
        if self.return_scaled_lr is not None:
            undiscounted = returns if self.gamma == 1.0 else episode_returns(batch.rewards, batch.lengths, 1.0)
            factor *= return_scaled_lr_factor(float(undiscounted.mean()), *self.return_scaled_lr)
        return factor

    def _noise_scaled_lr_factor(self, pg_norm_sq: float, trace_cov: float) -> float:
        """
        :func:`noise_scaled_lr_factor` of the exponential moving averages, with coefficient
        ``noise_scale_smoothing``, of ||g_hat||^2 and tr Cov[g_hat] over the updates (from the first update's values).
        """
        current = np.array([pg_norm_sq, trace_cov])
        beta = self.noise_scale_smoothing
        averages = self.noise_scale_averages
        self.noise_scale_averages = current if averages is None else beta * averages + (1 - beta) * current
        return noise_scaled_lr_factor(float(self.noise_scale_averages[0]), float(self.noise_scale_averages[1]))

    def _return_stats(self, returns: np.ndarray) -> tuple[float, float]:
        """
        (mu, sigma) that ``normalize_returns`` standardizes this batch's returns with: the running mean and
        standard deviation sqrt(var + 1e-8) of every return of the previous batches, which do not depend on this
        batch (its own statistics for the first batch, which has no predecessors).

        :param returns: The returns of this batch's steps (:func:`sb3_reinforce.common.returns.step_returns`)
        """
        assert self.return_rms is not None
        if self.return_rms.count < 1:  # no batch yet (RunningMeanStd starts from a count of 1e-4)
            return float(returns.mean()), float(np.sqrt(returns.var() + 1e-8))
        return float(self.return_rms.mean), float(np.sqrt(self.return_rms.var + 1e-8))

    def _batch_log_prob(self, batch: EpisodeBatch) -> th.Tensor:
        """log pi(a_t|s_t) of the current parameters for every step of the batch, without gradient."""
        actions = th.as_tensor(batch.actions, device=self.device)
        with th.no_grad():
            return th.cat([self._evaluate_chunk(batch, actions, chunk)[1].flatten() for chunk in self._chunks(batch.lengths)])

    def _kl_bounded_step(self, batch: EpisodeBatch, params: list[th.nn.Parameter]) -> None:
        """
        ``target_kl``: the optimizer's step theta_old -> theta_new, shortened to

            theta = theta_old + 2^-j (theta_new - theta_old),   j = min {j >= 0 : KL_hat(theta) <= target_kl}

        (:func:`approx_kl` on the batch), trying j = 0..``KL_BACKTRACKS``; if none qualifies, theta = theta_old.
        All parameters move together (the value head's too); the optimizer's state keeps the full step's update.
        """
        assert self.target_kl is not None
        old_params, old_log_prob = [p.detach().clone() for p in params], self._batch_log_prob(batch)
        self.policy.optimizer.step()
        steps = [p.detach() - old for p, old in zip(params, old_params)]

        def move(fraction: float) -> float:
            """Set theta = theta_old + fraction * step and return KL_hat there."""
            with th.no_grad():
                for p, old, step in zip(params, old_params, steps):
                    p.copy_(old + fraction * step)
            return approx_kl(old_log_prob, self._batch_log_prob(batch))

        fraction, kl = 1.0, approx_kl(old_log_prob, self._batch_log_prob(batch))
        for _ in range(KL_BACKTRACKS):
            if kl <= self.target_kl:
                break
            fraction /= 2
            kl = move(fraction)
        if kl > self.target_kl:
            fraction, kl = 0.0, move(0.0)
        self.logger.record("train/approx_kl", kl)
        self.logger.record("train/step_fraction", fraction)

    def _predict_values(self, batch: EpisodeBatch) -> np.ndarray:
        with th.no_grad():
            values = [self._chunk_values(batch, chunk) for chunk in self._chunks(batch.lengths)]
        return np.concatenate([v.flatten().cpu().numpy() for v in values])

    def _value_loss(self, values: th.Tensor, targets: th.Tensor, chunk: Chunk, n_steps: int) -> th.Tensor:
        """The value regression loss of one chunk's steps, (1/N) sum_t (V(s_t) - G_t)^2 over the batch's N steps."""
        return ((values.flatten() - targets[chunk.start : chunk.end]) ** 2).sum() / n_steps

    def _fit_value(self, batch: EpisodeBatch, targets: np.ndarray, policy_params: list[th.nn.Parameter]) -> None:
        """
        ``n_value_steps``: after the update's step, ``n_value_steps`` more optimizer steps on the value loss alone,

            vf_coef * (1/N) sum_t (V(s_t) - G_t)^2,

        moving only the parameters log pi does not depend on (a feature extractor or LSTM shared with the policy, among
        ``policy_params``, stays), at the schedule's learning rate (Spinning Up's VPG fits its value function with 80
        such steps per update). The policy is not changed. This batch's weights were computed before, from V fitted on earlier
        batches only, and the V fitted here baselines later batches, which it does not depend on: the estimate stays
        unbiased.

        :param batch: The episodes
        :param targets: The value targets G_t (:meth:`_value_targets`)
        :param policy_params: The parameters log pi depends on, which stay
        """
        self._update_learning_rate(self.policy.optimizer)  # the scaled-lr factors are for the policy's step
        targets_t = th.as_tensor(targets, dtype=th.float32, device=self.device)
        value_loss = 0.0
        for _ in range(self.n_value_steps):
            self.policy.optimizer.zero_grad(set_to_none=True)
            value_loss = 0.0
            for chunk in self._chunks(batch.lengths):
                loss = self.vf_coef * self._value_loss(self._chunk_values(batch, chunk), targets_t, chunk, len(targets))
                loss.backward()
                value_loss += loss.item()
            for p in policy_params:
                p.grad = None  # the optimizer skips parameters without a gradient (Adam's moments too)
            self.policy.optimizer.step()
        self.logger.record("train/value_fit_loss", value_loss / self.vf_coef)

    def _entropy_bonus(self, entropy: th.Tensor) -> th.Tensor:
        """
        The sum over the given steps of the entropy the bonus ``ent_coef`` rewards: sum_t H(pi(.|s_t)), or with
        ``ent_floor`` = H_min, sum_t min(H(pi(.|s_t)), H_min). Since -min(H, H_min) = max(0, H_min - H) - H_min, the
        capped bonus is a hinge penalty on each step's entropy below the floor: no gradient at steps whose entropy is
        at or above H_min, the full entropy gradient at steps below it.

        :param entropy: H(pi(.|s_t)) at every step of a chunk
        """
        if self.ent_floor is None:
            return entropy.sum()
        return th.clamp(entropy, max=self.ent_floor).sum()

    def policy_gradient_pass(self, batch: EpisodeBatch, weights: np.ndarray, targets: np.ndarray | None) -> GradientPass:
        """
        One forward/backward pass over the batch, in groups of whole episodes and chunks of at most
        ``TRAIN_CHUNK_STEPS`` steps (bounded memory; see :func:`episode_chunks`). The policy-gradient part of the loss,

            L = -(1/m) sum_i sum_t w_t^i log pi(a_t^i | s_t^i),

        is differentiated group by group, giving the per-group sums L_g (returned together as ``pg_grad``) from
        which :func:`estimator_variance` estimates the estimator's variance. The entropy and value terms,
        ``-ent_coef * mean_t H(pi(.|s_t)) + vf_coef * mean_t (V(s_t) - G_t)^2`` (with ``ent_floor``, each H capped
        at the floor: :meth:`_entropy_bonus`), are back-propagated into the parameters' ``.grad`` directly.

        :param batch: The episodes
        :param weights: w_t^i for every step
        :param targets: The value targets G_t (``baseline="value"``), else None
        """
        m, n_steps = len(batch.lengths), len(batch.rewards)
        weights_t = th.as_tensor(weights, dtype=th.float32, device=self.device)
        actions_t = th.as_tensor(batch.actions, device=self.device)
        targets_t = None if targets is None else th.as_tensor(targets, dtype=th.float32, device=self.device)
        has_aux = self.ent_coef != 0 or targets_t is not None
        params = [p for p in self.policy.parameters() if p.requires_grad]
        pg_grad = [th.zeros_like(p) for p in params]
        group_sq_norms, policy_loss, aux_loss, entropy_sum, value_loss = 0.0, 0.0, 0.0, 0.0, 0.0
        below_floor, reached = 0, [False] * len(params)
        ep_starts = np.concatenate(([0], np.cumsum(batch.lengths)))
        groups = np.array_split(np.arange(m), min(m, VARIANCE_GROUPS))
        for group in groups:
            group_grad = [th.zeros_like(p) for p in params]
            for chunk in self._chunks(batch.lengths[group], int(ep_starts[group[0]])):
                start, end = chunk.start, chunk.end
                values, log_prob, entropy = self._evaluate_chunk(batch, actions_t, chunk)
                assert entropy is not None  # every supported action distribution has one
                pg_loss = -(weights_t[start:end] * log_prob).sum() / m
                chunk_aux = -self.ent_coef * self._entropy_bonus(entropy) / n_steps
                if targets_t is not None:
                    assert values is not None
                    chunk_value_loss = self._value_loss(values, targets_t, chunk, n_steps)
                    chunk_aux = chunk_aux + self.vf_coef * chunk_value_loss
                    value_loss += chunk_value_loss.item()
                grads = th.autograd.grad(pg_loss, params, retain_graph=has_aux, allow_unused=True)
                for i, (acc, grad) in enumerate(zip(group_grad, grads)):
                    if grad is not None:
                        acc += grad
                        reached[i] = True
                if has_aux:
                    chunk_aux.backward()
                    aux_loss += float(chunk_aux.item())
                policy_loss += pg_loss.item()
                entropy_sum += float(entropy.detach().sum().item())
                if self.ent_floor is not None:
                    below_floor += int((entropy.detach() < self.ent_floor).sum().item())
            group_sq_norms += sum(float((m * g).pow(2).sum()) for g in group_grad) / len(group)
            for acc, g in zip(pg_grad, group_grad):
                acc += g
        return GradientPass(
            pg_grad, group_sq_norms, len(groups), policy_loss, aux_loss, entropy_sum, value_loss, below_floor, tuple(reached)
        )

    def train(self) -> None:
        """
        One gradient step on the episodes of the last rollout: the weights w_t^i of the estimator
        (:func:`sb3_reinforce.common.returns.step_weights`), the loss and its gradient
        (:meth:`policy_gradient_pass`), one optimizer step, then logging.
        """
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        batch = self.rollout_buffer.get()
        m, n_steps = len(batch.lengths), len(batch.rewards)

        # Weights of the estimator (and the value targets, with baseline="value")
        values = self._predict_values(batch) if self.baseline == "value" else None
        raw_returns = step_returns(batch.rewards, batch.lengths, self.gamma, self.reward_to_go)
        return_stats = self._return_stats(raw_returns) if self.return_rms is not None else None
        weights = step_weights(
            batch.rewards,
            batch.lengths,
            self.gamma,
            self.reward_to_go,
            self.baseline,
            values,
            self.normalize_advantage,
            return_stats,
        )
        returns = episode_returns(batch.rewards, batch.lengths, self.gamma)
        if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(returns))):
            raise NonFiniteError(
                f"Non-finite episode return or weight (returns: {returns.tolist()[:10]}...): rewards overflow. "
                "The parameters were not changed."
            )
        targets = self._value_targets(batch, raw_returns, return_stats) if values is not None else None

        # Loss and gradient
        self.policy.optimizer.zero_grad()
        result = self.policy_gradient_pass(batch, weights, targets)
        pg_norm_sq = float(sum(g.pow(2).sum() for g in result.pg_grad))  # before clipping, which scales .grad in place
        params = [p for p in self.policy.parameters() if p.requires_grad]
        for p, g in zip(params, result.pg_grad):
            p.grad = g if p.grad is None else p.grad + g
        loss = result.policy_loss + result.aux_loss
        grad_norm = th.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
        if not (np.isfinite(loss) and th.isfinite(grad_norm)):
            self.policy.optimizer.zero_grad()
            raise NonFiniteError(
                f"Non-finite loss ({loss}) or gradient norm ({grad_norm.item()}); the parameters were not changed. "
                "Check the rewards' scale, the learning rate and the policy's log_std."
            )

        # Optimization step
        trace_cov = estimator_variance(result.group_sq_norms, pg_norm_sq, m, result.n_groups) if result.n_groups > 1 else None
        if self.noise_scaled_lr or self.return_scaled_lr is not None:
            self._scale_learning_rate(self._lr_factor(pg_norm_sq, trace_cov, batch, returns))
        if self.max_grad_norm is not None:
            th.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
        if self.target_kl is None:
            self.policy.optimizer.step()
        else:
            self._kl_bounded_step(batch, params)
        if self.n_value_steps > 0:
            assert targets is not None  # n_value_steps needs baseline="value" (checked)
            self._fit_value(batch, targets, [p for p, used in zip(params, result.in_policy) if used])
        if self.return_rms is not None:
            self.return_rms.update(raw_returns)
        self._n_updates += 1

        # Logs
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", loss)
        self.logger.record("train/policy_loss", result.policy_loss)
        self.logger.record("train/entropy", result.entropy_sum / n_steps)
        if self.ent_floor is not None:
            self.logger.record("train/below_ent_floor", result.below_floor / n_steps)
        self.logger.record("train/grad_norm", grad_norm.item())
        self.logger.record("train/n_episodes", m)
        self.logger.record("train/n_steps", n_steps)
        self.logger.record("train/discarded_steps", self._discarded_steps)
        self.logger.record("train/return_mean", float(returns.mean()))
        self.logger.record("train/return_std", float(returns.std()))
        if return_stats is not None:
            self.logger.record("train/return_rms_mean", return_stats[0])
            self.logger.record("train/return_rms_std", return_stats[1])
        if trace_cov is not None:
            self.logger.record("train/grad_variance", trace_cov)
            self.logger.record("train/grad_snr", pg_norm_sq / trace_cov if trace_cov > 0 else float("inf"))
        if values is not None and targets is not None:
            self.logger.record("train/value_loss", result.value_loss)
            self.logger.record("train/explained_variance", float(explained_variance(values, targets)))
