"""
MaskableRecurrentREINFORCE: REINFORCE with invalid-action masking and LSTM policies, the exact gradient through each
whole episode under each step's recorded mask.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import MaybeCallback

from sb3_reinforce.common.policies import ReinforcePolicy
from sb3_reinforce.common.recurrent_policies import MaskableRecurrentReinforcePolicy
from sb3_reinforce.reinforce_mask import MaskableREINFORCE
from sb3_reinforce.reinforce_mask_recurrent.policies import CnnLstmPolicy, MlpLstmPolicy, MultiInputLstmPolicy
from sb3_reinforce.reinforce_recurrent import RecurrentREINFORCE

SelfMaskableRecurrentREINFORCE = TypeVar("SelfMaskableRecurrentREINFORCE", bound="MaskableRecurrentREINFORCE")


class MaskableRecurrentREINFORCE(MaskableREINFORCE, RecurrentREINFORCE):
    """
    REINFORCE with invalid-action masking and an LSTM policy: the estimator of :class:`sb3_reinforce.REINFORCE` for
    the masked policy pi_theta(a | h_t, M_t), the softmax over the actions the env declares valid at step t of a policy
    that reads its memory h_t of the episode so far,

        grad eta(theta) ~= (1/m) sum_i sum_t w_t^i grad log pi_theta(a_t^i | h_t^i, M_t^i),
        h_t = LSTM(s_t, h_{t-1}), h_{-1} = 0

    with M_t the mask of step t (sb3-contrib's open request for masking with recurrent policies, sb3-contrib #101).
    At every step the env's masks (its ``action_masks()`` method, e.g. through
    ``sb3_contrib.common.wrappers.ActionMasker``) are given to the policy and recorded with the step; ``train()`` runs
    every recorded episode again from the zero state in one batched LSTM call and recomputes each step's
    log-probability under the mask recorded with it, so the gradient is exact: the score function of the policy that
    generated the episode, back-propagated through the recurrence over the whole episode without truncation.

    It is the masking of :class:`sb3_reinforce.MaskableREINFORCE` (masks from the env, recorded with each step,
    ``learn(use_masking=)``, ``predict(..., action_masks=)``) on the recurrence of
    :class:`sb3_reinforce.RecurrentREINFORCE` (LSTM states in the rollout, chunks of whole episodes in ``train()``):
    the same collection and update code. The API follows sb3-contrib's ``RecurrentPPO`` (policies ``"MlpLstmPolicy"``,
    ``"CnnLstmPolicy"``, ``"MultiInputLstmPolicy"`` and their ``policy_kwargs``;
    ``predict(obs, state, episode_start, deterministic, action_masks)``) and its ``MaskablePPO`` (sb3-contrib's
    ``get_action_masks``, ``ActionMasker``, masked ``evaluate_policy`` and ``MaskableEvalCallback``). With
    ``use_masking=False`` it is exactly :class:`sb3_reinforce.RecurrentREINFORCE`.

    Papers: "A Closer Look at Invalid Action Masking in Policy Gradient Algorithms", https://arxiv.org/abs/2006.14171;
    "Recurrent policy gradients", https://doi.org/10.1093/jigpal/jzp049; REINFORCE: https://doi.org/10.1007/BF00992696

    :param policy: The policy model to use (MlpLstmPolicy, CnnLstmPolicy, MultiInputLstmPolicy), maskable and recurrent
    :param env: The environment to learn from (if registered in Gym, can be str); Discrete, MultiDiscrete or
        MultiBinary actions
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
    :param train_chunk_steps: Most steps of whole episodes in one forward/backward pass of ``train()``; the
        longest episode must fit (memory grows with it)
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
        (see :class:`sb3_reinforce.common.recurrent_policies.MaskableRecurrentReinforcePolicy`)
    :param verbose: Verbosity level: 0 for no output, 1 for info messages (such as device or wrappers used), 2 for
        debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
        Setting it to auto, the code will be run on the GPU if possible.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    # From MaskableREINFORCE (first in the method resolution order): the supported action spaces, the masks recorded
    # with each step (_action_masks), predict(action_masks=) and learn(use_masking=), whose super().learn() is
    # RecurrentREINFORCE's. From RecurrentREINFORCE: the constructor (train_chunk_steps), the LSTM states of the rollout
    # (_sample_actions) and the chunks of whole episodes of train() (_chunks, _evaluate_chunk), which pass each step's
    # recorded mask to the policy. Collection and update are EpisodicPolicyGradient's.
    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpLstmPolicy": MlpLstmPolicy,
        "CnnLstmPolicy": CnnLstmPolicy,
        "MultiInputLstmPolicy": MultiInputLstmPolicy,
    }
    policy_base: ClassVar[type[ReinforcePolicy]] = MaskableRecurrentReinforcePolicy
    policy: MaskableRecurrentReinforcePolicy

    def learn(  # type: ignore[override]
        self: SelfMaskableRecurrentREINFORCE,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "MaskableRecurrentREINFORCE",
        reset_num_timesteps: bool = True,
        use_masking: bool = True,
        progress_bar: bool = False,
    ) -> SelfMaskableRecurrentREINFORCE:
        """
        As ``MaskablePPO.learn``.

        :param use_masking: Whether to take the env's action masks during training (the env must have an
            ``action_masks()`` method, e.g. through ``ActionMasker``)
        """
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            use_masking=use_masking,
            progress_bar=progress_bar,
        )
