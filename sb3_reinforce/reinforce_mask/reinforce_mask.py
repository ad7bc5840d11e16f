"""MaskableREINFORCE: REINFORCE with invalid-action masking, through sb3-contrib's maskable distributions."""

from __future__ import annotations

from typing import ClassVar, TypeVar

import numpy as np
from gymnasium import spaces
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import MaybeCallback
from stable_baselines3.common.vec_env import VecEnv

from sb3_reinforce.common.episodic import EpisodicPolicyGradient
from sb3_reinforce.common.policies import MaskableReinforcePolicy, ReinforcePolicy
from sb3_reinforce.reinforce_mask.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

SelfMaskableREINFORCE = TypeVar("SelfMaskableREINFORCE", bound="MaskableREINFORCE")


class MaskableREINFORCE(EpisodicPolicyGradient):
    """
    REINFORCE with invalid-action masking: the estimator of :class:`sb3_reinforce.REINFORCE` for the masked
    policy pi_theta(a | s, M(s)), the softmax over the actions the env declares valid in s.

        grad eta(theta) ~= (1/m) sum_i sum_t w_t^i grad log pi_theta(a_t^i | s_t^i, M(s_t^i))

    At every step the env's masks (its ``action_masks()`` method, e.g. through
    ``sb3_contrib.common.wrappers.ActionMasker``) are given to the policy and recorded with the step; ``train()``
    recomputes the log-probabilities under the same masks, so the score function is that of the policy that
    generated the episode. Code written for sb3-contrib's ``MaskablePPO`` works unchanged:
    ``learn(..., use_masking=True)``, ``predict(..., action_masks=None)``, sb3-contrib's ``evaluate_policy`` and
    ``MaskableEvalCallback``. With ``use_masking=False`` it is exactly :class:`sb3_reinforce.REINFORCE`.

    Paper (masking in policy gradients): "A Closer Look at Invalid Action Masking in Policy Gradient Algorithms",
    https://arxiv.org/abs/2006.14171. REINFORCE: https://doi.org/10.1007/BF00992696

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy), maskable
    :param env: The environment to learn from (if registered in Gym, can be str); Discrete, MultiDiscrete or
        MultiBinary actions
    :param learning_rate: The learning rate, it can be a function of the current progress remaining (from 1 to 0)
    :param n_episodes: Number of complete episodes (m) per gradient step, counted across all envs
    :param gamma: Discount factor in [0, 1]; 1 (undiscounted) by default
    :param reward_to_go: Weight each step by the return from that step on instead of the whole episode's return
    :param baseline: Baseline subtracted from the weights: None (default), ``"mean"``, ``"loo"`` or ``"value"``
        (see :func:`sb3_reinforce.common.returns.step_weights`)
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
    :param ent_coef: Entropy coefficient (entropy over the valid actions)
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
        with an error. None: as many as fit in 1 GiB of rollout storage (masks included), at most 1,000,000.
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
        (see :class:`sb3_reinforce.common.policies.ReinforcePolicy`)
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
    policy_base: ClassVar[type[ReinforcePolicy]] = MaskableReinforcePolicy
    supported_action_spaces: ClassVar[tuple[type[spaces.Space], ...]] = (
        spaces.Discrete,
        spaces.MultiDiscrete,
        spaces.MultiBinary,
    )
    stores_action_masks: ClassVar[bool] = True
    policy: MaskableReinforcePolicy
    _use_masking = True  # set by learn()

    def _action_masks(self, env: VecEnv) -> np.ndarray | None:
        return get_action_masks(env) if self._use_masking else None

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """
        The policy's action for an observation, among the valid actions when ``action_masks`` is given.

        :param observation: the input observation
        :param state: Unused (recurrent policies' state), returned as given
        :param episode_start: Unused (recurrent policies)
        :param deterministic: Whether or not to return deterministic actions.
        :param action_masks: Valid actions (True); None: every action is valid
        :return: the model's action and ``state``
        """
        return self.policy.predict(observation, state, episode_start, deterministic, action_masks=action_masks)

    def learn(  # type: ignore[override]
        self: SelfMaskableREINFORCE,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "MaskableREINFORCE",
        reset_num_timesteps: bool = True,
        use_masking: bool = True,
        progress_bar: bool = False,
    ) -> SelfMaskableREINFORCE:
        """
        As ``MaskablePPO.learn``.

        :param use_masking: Whether to take the env's action masks during training (the env must have an
            ``action_masks()`` method, e.g. through ``ActionMasker``)
        """
        if use_masking and self.env is not None and not is_masking_supported(self.env):
            raise ValueError("Environment does not support action masking. Consider using ActionMasker wrapper")
        self._use_masking = use_masking
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
