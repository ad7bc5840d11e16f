"""RecurrentREINFORCE: REINFORCE with LSTM policies and the exact gradient through each whole episode."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule

from sb3_reinforce.common.buffers import EpisodeBatch
from sb3_reinforce.common.checks import ArgumentError, is_integer
from sb3_reinforce.common.episodic import TRAIN_CHUNK_STEPS, Chunk, EpisodicPolicyGradient, episode_chunks
from sb3_reinforce.common.policies import ReinforcePolicy
from sb3_reinforce.common.recurrent_policies import LSTMStates, RecurrentReinforcePolicy
from sb3_reinforce.reinforce_recurrent.policies import CnnLstmPolicy, MlpLstmPolicy, MultiInputLstmPolicy

SelfRecurrentREINFORCE = TypeVar("SelfRecurrentREINFORCE", bound="RecurrentREINFORCE")


class RecurrentREINFORCE(EpisodicPolicyGradient):
    """
    REINFORCE with an LSTM policy, for partially observed envs: the estimator of :class:`sb3_reinforce.REINFORCE`
    for a policy that reads its memory h_t of the episode so far,

        grad eta(theta) ~= (1/m) sum_i sum_t w_t^i grad log pi_theta(a_t^i | h_t^i),   h_t = LSTM(s_t, h_{t-1}), h_{-1} = 0

    Each episode starts from the zero state, and ``train()`` runs every recorded episode again from it in one
    batched LSTM call, so the gradient flows through the recurrence over the whole episode: back-propagation
    through time without truncation (sb3-contrib's ``RecurrentPPO`` cuts it at rollout-chunk boundaries). The
    score-function estimate is then exact for the history-dependent policy. Episodes are processed in chunks of
    whole episodes of at most ``train_chunk_steps`` steps, which bounds ``train()``'s memory; an episode longer
    than that is an error, not a silent truncation.

    The API follows sb3-contrib's ``RecurrentPPO``: policies ``"MlpLstmPolicy"``, ``"CnnLstmPolicy"``,
    ``"MultiInputLstmPolicy"`` with its ``policy_kwargs`` (``lstm_hidden_size``, ``n_lstm_layers``, ``lstm_kwargs``,
    ``shared_lstm``, ``enable_critic_lstm``, ``net_arch``, ...; for ``Box`` actions also this package's
    ``squash_output`` and ``noise_correlation``, exploration noise correlated across the steps of an episode and
    scored exactly), and
    ``predict(obs, state, episode_start, deterministic)``. There is no critic unless ``baseline="value"``.

    Paper (REINFORCE): https://doi.org/10.1007/BF00992696; recurrent policy gradients with back-propagation
    through time: "Recurrent policy gradients", https://doi.org/10.1093/jigpal/jzp049

    :param policy: The policy model to use (MlpLstmPolicy, CnnLstmPolicy, MultiInputLstmPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, it can be a function of the current progress remaining (from 1 to 0)
    :param n_episodes: Number of complete episodes (m) per gradient step, counted across all envs
    :param gamma: Discount factor in [0, 1]; 1 (undiscounted) by default
    :param reward_to_go: Weight each step by the return from that step on instead of the whole episode's return
    :param baseline: Baseline subtracted from the weights: None (default), ``"mean"``, ``"loo"`` or ``"value"``
        (a recurrent value head V(h_t); see :func:`sb3_reinforce.common.returns.step_weights`)
    :param normalize_advantage: Standardize the weights within the batch
    :param normalize_returns: Standardize the returns (R(tau), or G_t with ``reward_to_go``) before any baseline,
        ``(G - mu) / sigma``, with the running mean mu and standard deviation sigma of the returns of all previous
        batches (the first batch uses its own), kept in ``return_rms`` and saved with the model. The statistics do not
        depend on the batch they scale, so the estimate keeps its direction without bias; the value head
        (``baseline="value"``) regresses on the standardized rewards-to-go.
    :param noise_scaled_lr: Multiply each update's learning rate by the estimated fraction of the gradient
        estimate's squared norm that is signal, ``max(0, 1 - tr Cov[g_hat] / ||g_hat||^2)``
        (:func:`sb3_reinforce.common.episodic.noise_scaled_lr_factor`, after "An Empirical Model of Large-Batch
        Training", https://arxiv.org/abs/1812.06162): steps shrink where the estimate is mostly noise, as near an
        optimum. The estimator is unchanged. Needs ``n_episodes >= 2``.
    :param noise_scale_smoothing: With ``noise_scaled_lr``: the factor is computed from exponential moving averages,
        with this coefficient in [0, 1), of ||g_hat||^2 and tr Cov[g_hat] over the updates (0: each batch's own)
    :param return_scaled_lr: None (default) or (low, high): multiply each update's learning rate by
        ``min(1, max(0, (high - R_bar) / (high - low)))``, with R_bar the batch's mean undiscounted return
        (:func:`sb3_reinforce.common.episodic.return_scaled_lr_factor`): a schedule that decays as the policy
        improves, down to no step once a whole batch reaches ``high``. The estimator is unchanged. With
        ``noise_scaled_lr``, both factors apply. Not with ``VecNormalize(norm_reward=True)`` (its rewards are
        rescaled: an error).
    :param ent_coef: Entropy coefficient
    :param ent_floor: None (default) or a floor H_min on the entropy the bonus rewards: with it the entropy term is
        ``-ent_coef * mean_t min(H(pi(.|s_t)), H_min)``, which equals ``ent_coef * mean_t max(0, H_min - H(pi(.|s_t)))``
        up to a constant: a hinge penalty that leaves every step whose entropy is at least H_min alone and pulls the
        others back up (:meth:`sb3_reinforce.common.episodic.EpisodicPolicyGradient._entropy_bonus`). It keeps a
        policy from turning deterministic, where the score function and the leave-one-out weights vanish and nothing
        else moves it, without the bias of a full entropy bonus while the policy still explores. Needs
        ``ent_coef > 0``. Opt-in: it changes the objective, like ``ent_coef``.
    :param vf_coef: Value loss coefficient (``baseline="value"`` only)
    :param n_value_steps: 0 (default) or a number of extra optimizer steps per update on the value loss alone
        (``baseline="value"`` only), moving only the parameters the policy does not use (see :class:`sb3_reinforce.REINFORCE`)
    :param max_grad_norm: Clip the gradient to this global norm; None (default) for no clipping
    :param target_kl: None (default) or a bound on each step's KL(pi_old || pi_new), estimated on the batch's own
        actions (:func:`sb3_reinforce.common.episodic.approx_kl`): the step (after any clipping) is halved until the
        estimate is at most ``target_kl``, at most ``KL_BACKTRACKS`` times, and dropped if it is still above
        (:meth:`sb3_reinforce.common.episodic.EpisodicPolicyGradient._kl_bounded_step`). It shortens steps, never changes their
        direction, so the estimator is unchanged. (SB3's PPO stops its epochs at ``1.5 * target_kl``; with one step
        per batch, REINFORCE shortens the step instead.)
    :param max_rollout_steps: Most env steps (all envs together) one rollout may take before training stops
        with an error. None: as many as fit in 1 GiB of rollout storage, at most 1,000,000.
    :param train_chunk_steps: Most steps of whole episodes in one forward/backward pass of ``train()``; the
        longest episode must fit (memory grows with it)
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
        (see :class:`sb3_reinforce.common.recurrent_policies.RecurrentReinforcePolicy`)
    :param verbose: Verbosity level: 0 for no output, 1 for info messages (such as device or wrappers used), 2 for
        debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
        Setting it to auto, the code will be run on the GPU if possible.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpLstmPolicy": MlpLstmPolicy,
        "CnnLstmPolicy": CnnLstmPolicy,
        "MultiInputLstmPolicy": MultiInputLstmPolicy,
    }
    policy_base: ClassVar[type[ReinforcePolicy]] = RecurrentReinforcePolicy
    policy: RecurrentReinforcePolicy

    def __init__(
        self,
        policy: str | type[RecurrentReinforcePolicy],
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
        train_chunk_steps: int = TRAIN_CHUNK_STEPS,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        if not is_integer(train_chunk_steps) or train_chunk_steps < 1:
            raise ArgumentError("train_chunk_steps", f"train_chunk_steps must be an integer >= 1, got {train_chunk_steps!r}")
        self.train_chunk_steps = int(train_chunk_steps)
        self._last_lstm_states: LSTMStates | None = None
        super().__init__(
            policy,
            env,
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
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=_init_setup_model,
        )

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_last_lstm_states"]

    def _sample_actions(self, obs: Any, action_masks: np.ndarray | None) -> th.Tensor:
        assert self._last_episode_starts is not None
        if self._last_lstm_states is None or self._last_lstm_states[0].shape[1] != self.n_envs:
            self._last_lstm_states = self.policy.initial_state(self.n_envs)
        starts = th.as_tensor(self._last_episode_starts, dtype=th.float32, device=self.device)
        if self.policy.noise_correlation > 0:  # Box actions: never masked
            actions, self._last_noise, self._last_lstm_states = self.policy.sample_correlated_actions(
                obs, self._last_lstm_states, starts, self._previous_noise()
            )
        elif action_masks is None:
            actions, self._last_lstm_states = self.policy.sample_actions(obs, self._last_lstm_states, starts)
        else:  # a masked recurrent policy (MaskableRecurrentREINFORCE)
            actions, self._last_lstm_states = self.policy.sample_actions(
                obs,
                self._last_lstm_states,
                starts,
                action_masks=action_masks,  # type: ignore[call-arg]
            )
        return actions

    def _chunks(self, lengths: np.ndarray, offset: int = 0) -> list[Chunk]:
        try:
            return episode_chunks(lengths, self.train_chunk_steps, offset, split_episodes=False)
        except ValueError as e:
            raise ValueError(
                f"{e}: the LSTM needs each episode whole in train(). Raise train_chunk_steps "
                f"(now {self.train_chunk_steps}) or put a shorter time limit on the env."
            ) from e

    def _chunk_values(self, batch: EpisodeBatch, chunk: Chunk) -> th.Tensor:
        assert chunk.lengths is not None  # chunks of whole episodes
        obs = self._obs_slice(batch.observations, chunk.start, chunk.end)
        return self.policy.predict_values(obs, chunk.lengths)

    def _evaluate_chunk(
        self, batch: EpisodeBatch, actions: th.Tensor, chunk: Chunk
    ) -> tuple[th.Tensor | None, th.Tensor, th.Tensor | None]:
        assert chunk.lengths is not None  # chunks of whole episodes
        obs = self._obs_slice(batch.observations, chunk.start, chunk.end)
        if self.policy.noise_correlation > 0:
            return self.policy.evaluate_correlated_actions(obs, actions[chunk.start : chunk.end], chunk.lengths)
        masks = self._chunk_masks(batch, chunk)
        if masks is None:
            return self.policy.evaluate_actions(obs, actions[chunk.start : chunk.end], chunk.lengths)
        # a masked recurrent policy (MaskableRecurrentREINFORCE): each step under the mask recorded with it
        return self.policy.evaluate_actions(obs, actions[chunk.start : chunk.end], chunk.lengths, masks)  # type: ignore[call-arg]

    def learn(
        self: SelfRecurrentREINFORCE,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "RecurrentREINFORCE",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfRecurrentREINFORCE:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
