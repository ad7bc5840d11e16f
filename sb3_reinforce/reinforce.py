"""REINFORCE: the score-function policy gradient, on whole episodes, as an SB3 on-policy algorithm."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import explained_variance, obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from sb3_reinforce.buffers import EpisodeBatch, EpisodeBuffer, default_max_rollout_steps
from sb3_reinforce.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, ReinforcePolicy
from sb3_reinforce.returns import BASELINES, episode_returns, rewards_to_go, step_weights

SelfREINFORCE = TypeVar("SelfREINFORCE", bound="REINFORCE")


class NonFiniteError(ValueError, FloatingPointError):
    """A return, loss or gradient is NaN or infinite; raised before the parameters change.

    A ``ValueError`` too, so rl-zoo's tuner prunes the trial instead of stopping the study.
    """


SUPPORTED_ACTION_SPACES = (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)
# Steps per forward/backward pass in ``train()``; bounds its memory whatever the batch size.
TRAIN_CHUNK_STEPS = 16_384
# Most groups of episodes whose gradients are taken apart to estimate the estimator's variance.
VARIANCE_GROUPS = 32


class REINFORCE(OnPolicyAlgorithm):
    """
    REINFORCE (Williams, 1992): the Monte Carlo score-function policy gradient.

    Each update collects ``n_episodes`` = m complete episodes tau_1..tau_m with the current policy and takes
    one gradient step on

        loss(theta) = -(1/m) sum_i sum_t w_t^i log pi_theta(a_t^i | s_t^i)

    whose gradient is minus the estimate of grad eta(theta). By default (vanilla REINFORCE)
    ``w_t^i = R(tau_i) = sum_t gamma^t r_t^i`` with ``gamma = 1``: the loss is averaged over episodes, not
    over steps, and there is no baseline, no reward-to-go, no normalization, no entropy bonus and no gradient
    clipping. The variance-reduction options below are opt-in.

    Episodes are collected without bias towards short ones: every env contributes a fixed number of episodes
    (``n_episodes // n_envs``, one more for the first ``n_episodes % n_envs`` envs) started after a reset.
    Steps an env takes after finishing its share are discarded, and every env that is mid-episode when a
    rollout starts is reset, so no episode straddles a parameter update. A time-limit truncation ends an
    episode like a termination (no bootstrapping).

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, it can be a function of the current progress remaining (from 1 to 0)
    :param n_episodes: Number of complete episodes (m) per gradient step, counted across all envs
    :param gamma: Discount factor in [0, 1]; 1 (undiscounted) by default
    :param reward_to_go: Weight each step by the return from that step on,
        G_t = sum_{k>=t} gamma^(k-t) r_k, instead of the whole episode's return R(tau)
    :param baseline: Baseline subtracted from the weights: None (default), ``"mean"`` (batch average),
        ``"loo"`` (leave-one-out average over the other episodes: unbiased) or ``"value"`` (a learned V(s),
        trained by regression on the rewards-to-go). See :func:`sb3_reinforce.returns.step_weights`.
    :param normalize_advantage: Standardize the weights within the batch
    :param ent_coef: Entropy coefficient: adds ``-ent_coef * mean_t H(pi(.|s_t))`` to the loss
    :param vf_coef: Value loss coefficient (``baseline="value"`` only): adds
        ``vf_coef * mean_t (V(s_t) - G_t)^2`` to the loss
    :param max_grad_norm: Clip the gradient to this global norm; None (default) for no clipping
    :param max_rollout_steps: Most env steps (all envs together) one rollout may take before training stops
        with an error. None: as many as fit in 1 GiB of rollout storage, at most 1,000,000.
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
        (see :class:`sb3_reinforce.policies.ReinforcePolicy`)
    :param verbose: Verbosity level: 0 for no output, 1 for info messages (such as device or wrappers used), 2 for
        debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
        Setting it to auto, the code will be run on the GPU if possible.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
    policy: ReinforcePolicy  # type: ignore[assignment]
    rollout_buffer: EpisodeBuffer  # type: ignore[assignment]

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
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float | None = None,
        max_rollout_steps: int | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        _check_arguments(
            policy,
            self.policy_aliases,
            learning_rate,
            n_episodes,
            gamma,
            baseline,
            ent_coef,
            vf_coef,
            max_grad_norm,
            max_rollout_steps,
            policy_kwargs,
        )
        super().__init__(
            policy,  # type: ignore[arg-type]
            env,
            learning_rate=learning_rate,
            n_steps=1,  # unused: a rollout lasts until its episodes are complete
            gamma=gamma,
            gae_lambda=1.0,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,  # type: ignore[arg-type]
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
        if env is not None and not isinstance(self.action_space, SUPPORTED_ACTION_SPACES):
            raise TypeError(
                f"REINFORCE supports the action spaces {[s.__name__ for s in SUPPORTED_ACTION_SPACES]}, "
                f"but the env's action_space is {self.action_space}"
            )
        self.n_episodes = n_episodes
        self.reward_to_go = reward_to_go
        self.baseline = baseline
        self.normalize_advantage = normalize_advantage
        self.max_rollout_steps = max_rollout_steps
        self._discarded_steps = 0
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
        max_steps = self.max_rollout_steps or default_max_rollout_steps(self.observation_space, self.action_space)
        self.rollout_buffer = EpisodeBuffer(self.observation_space, self.action_space, self.n_envs, self.n_episodes, max_steps)

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
            with th.inference_mode():
                obs_tensor = obs_as_tensor(self._last_obs, self.device)  # type: ignore[arg-type]
                actions = self.policy.sample_actions(obs_tensor).cpu().numpy()
            # The env gets actions clipped to its bounds; the buffer keeps the sampled ones for the score function
            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)

            new_obs, rewards, dones, infos = env.step(clipped_actions)
            self.num_timesteps += env.num_envs

            # Give access to local variables (dones, infos, ...) as SB3's rollout loop does
            callback.update_locals(locals())
            if not callback.on_step():
                # The envs moved past self._last_obs: have the next rollout start them again
                self._last_episode_starts = np.zeros((env.num_envs,), dtype=bool)
                return False

            self._update_info_buffer(infos, dones)
            buffer.add(self._last_obs, actions, rewards, dones)  # type: ignore[arg-type]
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones

        self._discarded_steps = buffer.pos * env.num_envs - buffer.steps_kept
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _obs_slice(self, observations: np.ndarray | dict[str, np.ndarray], start: int, end: int) -> Any:
        if isinstance(observations, dict):
            return obs_as_tensor({key: value[start:end] for key, value in observations.items()}, self.device)
        return obs_as_tensor(observations[start:end], self.device)

    def _chunks(self, start: int, end: int) -> list[tuple[int, int]]:
        return [(s, min(s + TRAIN_CHUNK_STEPS, end)) for s in range(start, end, TRAIN_CHUNK_STEPS)]

    def _predict_values(self, batch: EpisodeBatch) -> np.ndarray:
        n_steps = len(batch.rewards)
        with th.no_grad():
            return np.concatenate(
                [
                    self.policy.predict_values(self._obs_slice(batch.observations, s, e)).flatten().cpu().numpy()
                    for s, e in self._chunks(0, n_steps)
                ]
            )

    def train(self) -> None:
        """
        One gradient step on the episodes of the last rollout.

        The loss is processed in groups of whole episodes (and chunks of at most ``TRAIN_CHUNK_STEPS`` steps),
        which bounds memory and gives the per-group policy-gradient sums L_g from which the estimator's
        variance is estimated (batch means): with n_g episodes in group g and the estimate g_hat = sum_g L_g,

            tr Cov[g_hat] ~= (1/m) * (1/(G-1)) * (sum_g ||m L_g||^2 / n_g - m ||g_hat||^2)
        """
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        batch = self.rollout_buffer.get()
        lengths = batch.lengths
        m, n_steps = len(lengths), len(batch.rewards)
        use_value = self.baseline == "value"

        values = self._predict_values(batch) if use_value else None
        weights = step_weights(
            batch.rewards, lengths, self.gamma, self.reward_to_go, self.baseline, values, self.normalize_advantage
        )
        returns = episode_returns(batch.rewards, lengths, self.gamma)
        if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(returns))):
            raise NonFiniteError(
                f"Non-finite episode return or weight (returns: {returns.tolist()[:10]}...): rewards overflow. "
                "The parameters were not changed."
            )
        weights_t = th.as_tensor(weights, dtype=th.float32, device=self.device)
        actions_t = th.as_tensor(batch.actions, device=self.device)
        targets = rewards_to_go(batch.rewards, lengths, self.gamma) if use_value else None
        targets_t = None if targets is None else th.as_tensor(targets, dtype=th.float32, device=self.device)

        params = [p for p in self.policy.parameters() if p.requires_grad]
        pg_grad = [th.zeros_like(p) for p in params]
        self.policy.optimizer.zero_grad()
        group_sq_norms, policy_loss, aux_loss, entropy_sum, value_loss = 0.0, 0.0, 0.0, 0.0, 0.0
        ep_starts = np.concatenate(([0], np.cumsum(lengths)))
        groups = np.array_split(np.arange(m), min(m, VARIANCE_GROUPS))
        for group in groups:
            group_grad = [th.zeros_like(p) for p in params]
            for start, end in self._chunks(int(ep_starts[group[0]]), int(ep_starts[group[-1] + 1])):
                obs = self._obs_slice(batch.observations, start, end)
                values_pred, log_prob, entropy = self.policy.evaluate_actions(obs, actions_t[start:end])
                assert entropy is not None  # every supported action distribution has one
                pg_loss = -(weights_t[start:end] * log_prob).sum() / m
                chunk_aux = -self.ent_coef * entropy.sum() / n_steps
                if use_value:
                    assert values_pred is not None and targets_t is not None
                    chunk_value_loss = ((values_pred.flatten() - targets_t[start:end]) ** 2).sum() / n_steps
                    chunk_aux = chunk_aux + self.vf_coef * chunk_value_loss
                    value_loss += chunk_value_loss.item()
                has_aux = self.ent_coef != 0 or use_value
                grads = th.autograd.grad(pg_loss, params, retain_graph=has_aux, allow_unused=True)
                for acc, grad in zip(group_grad, grads):
                    if grad is not None:
                        acc += grad
                if has_aux:
                    chunk_aux.backward()
                    aux_loss += float(chunk_aux.item())
                policy_loss += pg_loss.item()
                entropy_sum += float(entropy.detach().sum().item())
            group_sq_norms += sum(float((m * g).pow(2).sum()) for g in group_grad) / len(group)
            for acc, g in zip(pg_grad, group_grad):
                acc += g

        loss = policy_loss + aux_loss
        for p, g in zip(params, pg_grad):
            p.grad = g if p.grad is None else p.grad + g
        grad_norm = th.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
        if not (np.isfinite(loss) and th.isfinite(grad_norm)):
            self.policy.optimizer.zero_grad()
            raise NonFiniteError(
                f"Non-finite loss ({loss}) or gradient norm ({grad_norm.item()}); the parameters were not changed. "
                "Check the rewards' scale, the learning rate and the policy's log_std."
            )
        if self.max_grad_norm is not None:
            th.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
        self.policy.optimizer.step()
        self._n_updates += 1

        pg_norm_sq = float(sum(g.pow(2).sum() for g in pg_grad))
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", loss)
        self.logger.record("train/policy_loss", policy_loss)
        self.logger.record("train/entropy", entropy_sum / n_steps)
        self.logger.record("train/grad_norm", grad_norm.item())
        self.logger.record("train/n_episodes", m)
        self.logger.record("train/n_steps", n_steps)
        self.logger.record("train/discarded_steps", self._discarded_steps)
        self.logger.record("train/return_mean", float(returns.mean()))
        self.logger.record("train/return_std", float(returns.std()))
        if len(groups) > 1:
            trace_cov = (group_sq_norms - m * pg_norm_sq) / (len(groups) - 1) / m
            self.logger.record("train/grad_variance", trace_cov)
            self.logger.record("train/grad_snr", pg_norm_sq / trace_cov if trace_cov > 0 else float("inf"))
        if values is not None and targets is not None:
            self.logger.record("train/value_loss", value_loss)
            self.logger.record("train/explained_variance", float(explained_variance(values, targets)))

    def learn(
        self: SelfREINFORCE,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "REINFORCE",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfREINFORCE:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )


def _check_arguments(
    policy: Any,
    policy_aliases: dict[str, type[BasePolicy]],
    learning_rate: Any,
    n_episodes: Any,
    gamma: Any,
    baseline: Any,
    ent_coef: Any,
    vf_coef: Any,
    max_grad_norm: Any,
    max_rollout_steps: Any,
    policy_kwargs: Any,
) -> None:
    """Reject invalid hyperparameters before anything is built, naming the argument and what is allowed."""
    if isinstance(policy, str) and policy not in policy_aliases:
        raise ValueError(f"policy must be one of {sorted(policy_aliases)} or a policy class, got {policy!r}")
    if not isinstance(policy, str) and not (isinstance(policy, type) and issubclass(policy, ReinforcePolicy)):
        raise TypeError(f"policy must be one of {sorted(policy_aliases)} or a ReinforcePolicy subclass, got {policy!r}")
    initial_lr = learning_rate(1.0) if callable(learning_rate) else learning_rate
    if isinstance(initial_lr, bool) or not isinstance(initial_lr, (int, float)) or not initial_lr > 0:
        raise ValueError(f"learning_rate must be > 0 (or a schedule whose value at progress 1 is > 0), got {learning_rate!r}")
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) or n_episodes < 1:
        raise ValueError(f"n_episodes must be an integer >= 1, got {n_episodes!r}")
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be a number in [0, 1], got {gamma!r}")
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {list(BASELINES)}, got {baseline!r}")
    if baseline == "loo" and n_episodes < 2:
        raise ValueError(f"baseline='loo' needs n_episodes >= 2, got n_episodes={n_episodes}")
    for name, value in (("ent_coef", ent_coef), ("vf_coef", vf_coef)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if max_grad_norm is not None and (not isinstance(max_grad_norm, (int, float)) or not max_grad_norm > 0):
        raise ValueError(f"max_grad_norm must be None or a number > 0, got {max_grad_norm!r}")
    if max_rollout_steps is not None and (
        isinstance(max_rollout_steps, bool) or not isinstance(max_rollout_steps, (int, np.integer)) or max_rollout_steps < 1
    ):
        raise ValueError(f"max_rollout_steps must be None or an integer >= 1, got {max_rollout_steps!r}")
    if policy_kwargs is not None and "use_value_net" in policy_kwargs:
        raise ValueError("policy_kwargs must not set 'use_value_net': it follows from baseline='value'")
