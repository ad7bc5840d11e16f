"""
Critic-free actor policies for REINFORCE, following SB3's ``ActorCriticPolicy`` conventions.

The vanilla algorithm needs only pi(a|s), so by default these policies hold no value network at all: no
unused critic parameters in the model, its optimizer or its saved file. A value head is built only when the
algorithm asks for it (``baseline="value"``).
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.maskable.distributions import make_masked_proba_distribution
from stable_baselines3.common.distributions import (
    CategoricalDistribution,
    DiagGaussianDistribution,
    Distribution,
    make_proba_distribution,
)
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
    create_mlp,
)
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import nn

from sb3_reinforce.common.checks import ArgumentError, ArgumentTypeError, is_number


class ReinforcePolicy(BasePolicy):
    """
    Stochastic policy pi_theta(a|s) for REINFORCE: features extractor, MLP, action distribution head.
    Optionally a separate value head V(s) used as a baseline.

    :param observation_space: Observation space
    :param action_space: Action space
    :param lr_schedule: Learning rate schedule (could be constant)
    :param net_arch: Hidden layer sizes. A list applies to the actor (and to the value head when there is one);
        ``dict(pi=[...], vf=[...])`` sets them apart. ``[]`` gives a linear policy. Default ``[64, 64]``
        (``[]`` after a ``NatureCNN``).
    :param activation_fn: Activation function between hidden layers
    :param ortho_init: Orthogonal initialization as in SB3 (gain sqrt(2) for hidden layers, 0.01 for the action
        head, 1 for the value head)
    :param log_std_init: Initial log standard deviation of the Gaussian policy (``Box`` actions)
    :param features_extractor_class: Features extractor to use
    :param features_extractor_kwargs: Keyword arguments to pass to the features extractor
    :param share_features_extractor: Whether the value head shares the actor's features extractor
        (only relevant with a value head)
    :param normalize_images: Whether to divide image observations by 255
    :param optimizer_class: The optimizer to use, ``th.optim.Adam`` by default
    :param optimizer_kwargs: Additional keyword arguments, excluding the learning rate, to pass to the
        optimizer (default for Adam: ``eps=1e-5``, as in SB3; other optimizers get exactly what is given)
    :param use_value_net: Build a value head V(s) (used by ``baseline="value"``)
    :param squash_output: ``Box`` actions only: the env gets ``low + (tanh(u) + 1) / 2 * (high - low)`` for the
        Gaussian sample u instead of u clipped to the bounds. The score function stays grad log pi(u|s) of the
        Gaussian: the squashing is a fixed map of u, part of the environment as far as the gradient goes (the
        log-density of tanh(u) differs from that of u by a term without theta). ``predict()`` maps the same way.
    :param noise_correlation: ``Box`` actions only: rho in [0, 1), the correlation of the Gaussian exploration noise
        between consecutive steps of an episode (0, the default: independent draws). The rollout samples
        u_t = mu(s_t) + n_t with the AR(1) noise n_0 = sigma eps_0, n_t = rho n_{t-1} + sqrt(1 - rho^2) sigma eps_t,
        so every n_t ~ N(0, sigma^2) but pushes persist for about 1 / (1 - rho) steps. The score function is that
        of each action given the episode so far (:meth:`evaluate_correlated_actions`), which is exact; ``predict()``
        and ``get_distribution()`` give each step's marginal N(mu(s), sigma^2).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.Tanh,
        ortho_init: bool = True,
        log_std_init: float = 0.0,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        share_features_extractor: bool = True,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        use_value_net: bool = False,
        squash_output: bool = False,
        noise_correlation: float = 0.0,
    ):
        if not (is_number(noise_correlation) and 0.0 <= noise_correlation < 1.0):
            raise ArgumentError("policy_kwargs", f"noise_correlation must be a number in [0, 1), got {noise_correlation!r}")
        if noise_correlation > 0 and not isinstance(action_space, spaces.Box):
            raise ArgumentError("policy_kwargs", f"noise_correlation > 0 needs a Box action space, got {action_space}")
        if squash_output and not (
            isinstance(action_space, spaces.Box) and np.all(np.isfinite(action_space.low) & np.isfinite(action_space.high))
        ):
            raise ArgumentError(
                "policy_kwargs", f"squash_output=True needs a Box action space with finite bounds, got {action_space}"
            )
        if optimizer_kwargs is None:
            optimizer_kwargs = {"eps": 1e-5} if optimizer_class == th.optim.Adam else {}
        super().__init__(
            observation_space,
            action_space,
            features_extractor_class,
            features_extractor_kwargs,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            normalize_images=normalize_images,
            squash_output=bool(squash_output),
        )
        if net_arch is None:
            net_arch = [] if features_extractor_class == NatureCNN else [64, 64]
        if isinstance(net_arch, list) and len(net_arch) > 0 and isinstance(net_arch[0], dict):
            # SB3 < 1.8's format, still accepted by SB3's ActorCriticPolicy with the same warning
            warnings.warn(
                "As shared layers in the mlp_extractor are removed since SB3 v1.8.0, "
                "you should now pass directly a dictionary and not a list "
                "(net_arch=dict(pi=..., vf=...) instead of net_arch=[dict(pi=..., vf=...)])",
                stacklevel=2,
            )
            net_arch = net_arch[0]
        if isinstance(net_arch, dict):
            unknown = set(net_arch) - {"pi", "vf"}
            if unknown:
                raise ArgumentError("policy_kwargs", f"net_arch dict keys must be 'pi' and/or 'vf', got {sorted(unknown)}")
            pi_arch, vf_arch = list(net_arch.get("pi", [])), list(net_arch.get("vf", []))
        else:
            pi_arch, vf_arch = list(net_arch), list(net_arch)
        self.net_arch = net_arch
        self.pi_arch, self.vf_arch = pi_arch, vf_arch
        self.activation_fn = activation_fn
        self.ortho_init = ortho_init
        self.log_std_init = log_std_init
        self.share_features_extractor = share_features_extractor
        self.use_value_net = use_value_net
        self.noise_correlation = float(noise_correlation)
        self.action_dist = self._make_action_dist(action_space)

        self.features_extractor = self.make_features_extractor()
        self.features_dim = self.features_extractor.features_dim
        self._build(lr_schedule)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            dict(
                net_arch=self.net_arch,
                activation_fn=self.activation_fn,
                ortho_init=self.ortho_init,
                log_std_init=self.log_std_init,
                lr_schedule=self._dummy_schedule,  # not needed to load the policy alone
                features_extractor_class=self.features_extractor_class,
                features_extractor_kwargs=self.features_extractor_kwargs,
                share_features_extractor=self.share_features_extractor,
                optimizer_class=self.optimizer_class,
                optimizer_kwargs=self.optimizer_kwargs,
                use_value_net=self.use_value_net,
                squash_output=self.squash_output,
                noise_correlation=self.noise_correlation,
            )
        )
        return data

    def _make_action_dist(self, action_space: spaces.Space) -> Any:
        """The action distribution for ``action_space`` (SB3's; the maskable policy uses sb3-contrib's)."""
        return make_proba_distribution(action_space)

    def _mlp(self, arch: list[int], input_dim: int) -> tuple[nn.Module, int]:
        layers = create_mlp(input_dim, -1, arch, self.activation_fn)
        return nn.Sequential(*layers), (arch[-1] if arch else input_dim)

    def _build(self, lr_schedule: Schedule) -> None:
        """
        Create the networks and the optimizer.

        :param lr_schedule: Learning rate schedule; lr_schedule(1) is the initial learning rate
        """
        self.actor_net, latent_dim_pi = self._mlp(self.pi_arch, self.features_dim)
        module_gains = {self.features_extractor: np.sqrt(2), self.actor_net: np.sqrt(2)}
        module_gains.update(self._build_action_head(latent_dim_pi))
        if self.use_value_net:
            self.vf_features_extractor = (
                self.features_extractor if self.share_features_extractor else self.make_features_extractor()
            )
            module_gains.update({self.vf_features_extractor: np.sqrt(2), **self._build_value_head(self.features_dim)})
        self._init_weights_and_optimizer(module_gains, lr_schedule)

    def _build_action_head(self, latent_dim: int) -> dict[nn.Module, float]:
        """The action distribution's parameters on a latent of ``latent_dim``; returns its init gain (0.01, as SB3)."""
        if isinstance(self.action_dist, DiagGaussianDistribution):
            self.action_net, self.log_std = self.action_dist.proba_distribution_net(
                latent_dim=latent_dim, log_std_init=self.log_std_init
            )
        else:  # categorical, multi-categorical or Bernoulli logits (SB3's or sb3-contrib's maskable ones)
            self.action_net = self.action_dist.proba_distribution_net(latent_dim=latent_dim)
        return {self.action_net: 0.01}

    def _build_value_head(self, input_dim: int) -> dict[nn.Module, float]:
        """The value MLP and output V(s) on an input of ``input_dim``; returns their init gains (as SB3)."""
        self.critic_net, latent_dim_vf = self._mlp(self.vf_arch, input_dim)
        self.value_net = nn.Linear(latent_dim_vf, 1)
        return {self.critic_net: np.sqrt(2), self.value_net: 1.0}

    def _init_weights_and_optimizer(self, module_gains: dict[nn.Module, float], lr_schedule: Schedule) -> None:
        if self.ortho_init:
            for module, gain in module_gains.items():
                module.apply(partial(self.init_weights, gain=gain))
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)  # type: ignore[call-arg]

    def _get_action_dist_from_latent(self, latent_pi: th.Tensor) -> Distribution:
        mean_actions = self.action_net(latent_pi)
        if isinstance(self.action_dist, DiagGaussianDistribution):
            return self.action_dist.proba_distribution(mean_actions, self.log_std)
        return self.action_dist.proba_distribution(action_logits=mean_actions)

    def get_distribution(self, obs: PyTorchObs) -> Distribution:
        """
        The current policy's action distribution pi_theta(.|s) for the given observations.

        :param obs: Observations
        :return: the action distribution
        """
        features = self.extract_features(obs, self.features_extractor)
        return self._get_action_dist_from_latent(self.actor_net(features))

    def sample_actions(self, obs: PyTorchObs) -> th.Tensor:
        """
        Sample a ~ pi_theta(.|s), the same draw as ``get_distribution(obs).get_actions()``, for the rollout loop.
        Categorical actions are sampled straight from the softmax of the logits (``torch.multinomial``, as
        ``torch.distributions.Categorical.sample`` does), skipping the construction and argument validation of
        the distribution object, which cost more than the forward pass of a small network.

        :param obs: Observations
        :return: actions, shape ``(batch, *action_shape)``
        """
        return self._sample_from_latent(self.actor_net(self.extract_features(obs, self.features_extractor)))

    def _sample_from_latent(self, latent_pi: th.Tensor) -> th.Tensor:
        if isinstance(self.action_dist, CategoricalDistribution):
            return th.multinomial(th.softmax(self.action_net(latent_pi), dim=-1), 1).squeeze(-1)
        return self._get_action_dist_from_latent(latent_pi).get_actions()

    def _gaussian(self, obs: PyTorchObs) -> tuple[th.Tensor, th.Tensor]:
        """mu(s) and sigma of the Gaussian policy (``Box`` actions), from :meth:`get_distribution`."""
        return self._gaussian_from_latent(self.actor_net(self.extract_features(obs, self.features_extractor)))

    def _gaussian_from_latent(self, latent_pi: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """mu and sigma of the Gaussian policy (``Box`` actions) on the actor's latent (after ``actor_net``)."""
        normal = self._get_action_dist_from_latent(latent_pi).distribution
        assert isinstance(normal, th.distributions.Normal)
        return normal.mean, normal.stddev

    def sample_correlated_actions(
        self, obs: PyTorchObs, noise: th.Tensor, episode_starts: th.Tensor
    ) -> tuple[th.Tensor, th.Tensor]:
        """
        One rollout step with ``noise_correlation`` = rho: u_t = mu(s_t) + n_t, with n_t = sigma eps_t where an
        episode starts and n_t = rho n_{t-1} + sqrt(1 - rho^2) sigma eps_t elsewhere, eps_t ~ N(0, I).

        :param obs: Observations, one per env
        :param noise: n_{t-1} of every env (ignored where an episode starts)
        :param episode_starts: 1 where the observation is the first of an episode
        :return: the actions u_t and the noise n_t
        """
        mean, std = self._gaussian(obs)
        return self._correlated_step(mean, std, noise, episode_starts)

    def _correlated_step(
        self, mean: th.Tensor, std: th.Tensor, noise: th.Tensor, episode_starts: th.Tensor
    ) -> tuple[th.Tensor, th.Tensor]:
        """
        u_t = mu_t + n_t with the AR(1) noise n_t of :meth:`sample_correlated_actions`, for the policy's mu_t and
        sigma at this step (the recurrent policy's read from its memory h_t).

        :param mean: mu_t, one row per env
        :param std: sigma
        :param noise: n_{t-1} of every env (ignored where an episode starts)
        :param episode_starts: 1 where the observation is the first of an episode
        :return: the actions u_t and the noise n_t
        """
        eps = th.randn_like(mean)
        carried = self.noise_correlation * noise + np.sqrt(1.0 - self.noise_correlation**2) * std * eps
        new_noise = th.where(episode_starts.bool().reshape(-1, 1), std * eps, carried)
        return mean + new_noise, new_noise

    def evaluate_correlated_actions(
        self, obs: PyTorchObs, actions: th.Tensor, lengths: np.ndarray
    ) -> tuple[th.Tensor | None, th.Tensor, th.Tensor]:
        """
        With ``noise_correlation`` = rho: the log-density of each action given the episode so far, the exact factors
        of the episode's action density (sum_t log pi(u_t | h_t) = log p(u_0..u_T | s_0..s_T)):

            log pi(u_0 | h_0) = log N(u_0; mu(s_0), sigma^2)
            log pi(u_t | h_t) = log N(u_t; mu(s_t) + rho (u_{t-1} - mu(s_{t-1})), (1 - rho^2) sigma^2),  t >= 1

        A step's score is then zero-mean given the past, so rewards-to-go and baselines of s_t keep the estimate
        unbiased, as with independent noise.

        :param obs: Observations of whole episodes, back to back
        :param actions: The actions sampled (before any clipping or squashing)
        :param lengths: Length of each episode
        :return: V(s) (None without a value head), log pi(u_t | h_t) and the entropy of pi(. | h_t)
        """
        mean, std = self._gaussian(obs)
        log_prob, entropy = self._correlated_log_prob(mean, std, actions, lengths)
        values = self.predict_values(obs) if self.use_value_net else None
        return values, log_prob, entropy

    def _correlated_log_prob(
        self, mean: th.Tensor, std: th.Tensor, actions: th.Tensor, lengths: np.ndarray
    ) -> tuple[th.Tensor, th.Tensor]:
        """
        log pi(u_t | h_t) and the entropy of pi(. | h_t) of :meth:`evaluate_correlated_actions` for the policy's mu_t
        and sigma at every step of whole episodes (the recurrent policy's read from its memory h_t).

        :param mean: mu_t at every step, episodes back to back
        :param std: sigma
        :param actions: The actions sampled (before any clipping or squashing)
        :param lengths: Length of each episode
        """
        starts = th.zeros(len(mean), dtype=th.bool, device=mean.device)
        starts[np.concatenate(([0], np.cumsum(lengths)[:-1]))] = True
        starts = starts.reshape(-1, 1)
        residual = actions - mean
        previous = th.cat([th.zeros_like(residual[:1]), residual[:-1]])
        rho = self.noise_correlation
        conditional = th.distributions.Normal(
            th.where(starts, mean, mean + rho * previous), th.where(starts, std, std * np.sqrt(1.0 - rho**2))
        )
        return conditional.log_prob(actions).sum(dim=-1), conditional.entropy().sum(dim=-1)

    def predict_values(self, obs: PyTorchObs) -> th.Tensor:
        """
        The value head's estimate V(s), shape (batch, 1). Only with ``use_value_net=True``.

        :param obs: Observations
        """
        if not self.use_value_net:
            raise RuntimeError("This policy has no value head: it is built only with baseline='value'.")
        features = self.extract_features(obs, self.vf_features_extractor)
        return self.value_net(self.critic_net(features))

    def evaluate_actions(self, obs: PyTorchObs, actions: th.Tensor) -> tuple[th.Tensor | None, th.Tensor, th.Tensor | None]:
        """
        Evaluate actions under the current policy, as SB3's ``ActorCriticPolicy.evaluate_actions`` does.

        :param obs: Observations
        :param actions: Actions (as sampled, before any clipping)
        :return: V(s) (None when the policy has no value head), log pi(a|s) and the entropy of pi(.|s)
            (None where the distribution has no closed form, as in SB3)
        """
        distribution = self.get_distribution(obs)
        values = self.predict_values(obs) if self.use_value_net else None
        return values, distribution.log_prob(actions), distribution.entropy()

    def forward(self, obs: th.Tensor, deterministic: bool = False) -> th.Tensor:
        """
        Sample (or take the most likely) actions.

        :param obs: Observations
        :param deterministic: Whether to return the mode instead of a sample
        :return: actions, shape ``(batch, *action_shape)``
        """
        return self._predict(obs, deterministic=deterministic)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        actions = self.get_distribution(observation).get_actions(deterministic=deterministic)
        return th.tanh(actions) if self.squash_output else actions  # SB3's predict() rescales squashed actions

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """
        The ``Box`` actions the env gets for sampled ones: clipped to the bounds, or with ``squash_output``
        ``low + (tanh(u) + 1) / 2 * (high - low)``. The sampled actions themselves go to the score function.

        :param actions: Sampled actions, shape ``(batch, *action_shape)``
        """
        assert isinstance(self.action_space, spaces.Box)
        if self.squash_output:
            return self.unscale_action(np.tanh(actions))
        return np.clip(actions, self.action_space.low, self.action_space.high)


class ReinforceCnnPolicy(ReinforcePolicy):
    """
    ReinforcePolicy with a ``NatureCNN`` features extractor, for image observations.
    Parameters as in :class:`ReinforcePolicy`.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("features_extractor_class", NatureCNN)
        super().__init__(*args, **kwargs)


class MultiInputReinforcePolicy(ReinforcePolicy):
    """
    ReinforcePolicy with a ``CombinedExtractor``, for ``Dict`` observations.
    Parameters as in :class:`ReinforcePolicy`.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("features_extractor_class", CombinedExtractor)
        super().__init__(*args, **kwargs)


# The logit given to invalid actions (sb3-contrib's MaskableCategorical uses the same)
MASKED_LOGIT = th.tensor(-1e8)


def mask_logits(logits: th.Tensor, action_masks: np.ndarray | th.Tensor) -> tuple[th.Tensor, th.Tensor]:
    """
    The logits of the masked policy, as sb3-contrib's ``MaskableCategorical`` makes them: those of invalid actions
    set to ``MASKED_LOGIT`` (-1e8), so their softmax is the distribution over the valid actions.

    :param logits: Logits of a ``Discrete`` action distribution, shape ``(batch, n_actions)``
    :param action_masks: Valid actions (True), any shape of ``batch * n_actions`` elements
    :return: the masked logits and the mask as a boolean tensor of the logits' shape
    """
    if not isinstance(action_masks, th.Tensor):  # a boolean array (the rollout's masks) is shared, not copied
        action_masks = th.from_numpy(np.asarray(action_masks, dtype=bool))
    valid = action_masks.to(device=logits.device, dtype=th.bool)
    if valid.shape != logits.shape:
        valid = valid.reshape(logits.shape)
    return th.where(valid, logits, MASKED_LOGIT.to(logits.device)), valid


class MaskableReinforcePolicy(ReinforcePolicy):
    """
    :class:`ReinforcePolicy` with invalid-action masking, through sb3-contrib's maskable distributions
    (``sb3_contrib.common.maskable.distributions``): the logits of invalid actions are set to a large negative
    number, so pi_theta(a|s, mask) is the softmax over the valid actions, and its entropy is taken over them.
    For ``Discrete``, ``MultiDiscrete`` and ``MultiBinary`` actions. Without masks it is :class:`ReinforcePolicy`.
    Parameters as in :class:`ReinforcePolicy`.
    """

    def _make_action_dist(self, action_space: spaces.Space) -> Any:
        if not isinstance(action_space, (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
            raise ArgumentTypeError(
                "env", f"Action masking supports Discrete, MultiDiscrete and MultiBinary action spaces, got {action_space}"
            )
        return make_masked_proba_distribution(action_space)

    def _masked_distribution(self, latent_pi: th.Tensor, action_masks: np.ndarray | th.Tensor | None) -> Any:
        """
        pi_theta(.|mask) on the actor's latent (after ``actor_net``): the maskable distribution, masked when masks
        are given. The recurrent masked policy reads the same head from its LSTM's output.

        :param latent_pi: The actor's latent, shape ``(batch, latent_dim)``
        :param action_masks: Valid actions (True) per row, shape ``(batch, n_logits)``; None for no masking
        """
        distribution = self._get_action_dist_from_latent(latent_pi)
        if action_masks is not None:
            distribution.apply_masking(action_masks)  # type: ignore[attr-defined]
        return distribution

    def _sample_masked(self, latent_pi: th.Tensor, action_masks: np.ndarray | th.Tensor | None) -> th.Tensor:
        """
        Sample a ~ pi_theta(.|mask) on the actor's latent, the same draw as ``_masked_distribution(...).get_actions()``.
        ``Discrete`` actions are sampled straight from the softmax of the masked logits (invalid logits set to
        -1e8, as sb3-contrib's ``MaskableCategorical`` does).

        :param latent_pi: The actor's latent, shape ``(batch, latent_dim)``
        :param action_masks: Valid actions (True), shape ``(batch, n_actions)``; None for no masking
        """
        if isinstance(self.action_space, spaces.Discrete):
            logits = self.action_net(latent_pi)
            if action_masks is not None:
                logits, _ = mask_logits(logits, action_masks)
            return th.multinomial(th.softmax(logits, dim=-1), 1).squeeze(-1)
        return self._masked_distribution(latent_pi, action_masks).get_actions()

    def _evaluate_masked(
        self, latent_pi: th.Tensor, actions: th.Tensor, action_masks: np.ndarray | th.Tensor | None
    ) -> tuple[th.Tensor, th.Tensor]:
        """
        log pi_theta(a|mask) and the entropy over the valid actions, on the actor's latent.

        :param latent_pi: The actor's latent, shape ``(batch, latent_dim)``
        :param actions: The actions taken
        :param action_masks: The masks the actions were chosen under; None for no masking
        """
        if isinstance(self.action_space, spaces.Discrete) and action_masks is not None:
            # What sb3-contrib's MaskableCategorical gives (invalid logits -> -1e8; entropy over the valid actions),
            # computed without building the distribution twice (get_distribution, then apply_masking) per chunk
            logits, valid = mask_logits(self.action_net(latent_pi), action_masks)
            log_probs = th.log_softmax(logits, dim=-1)
            log_prob = log_probs.gather(-1, actions.long().reshape(-1, 1)).squeeze(-1)
            entropy = -th.where(valid, log_probs.exp() * log_probs, 0.0).sum(-1)
            return log_prob, entropy
        distribution = self._masked_distribution(latent_pi, action_masks)
        return distribution.log_prob(actions), distribution.entropy()

    def get_distribution(self, obs: PyTorchObs, action_masks: np.ndarray | th.Tensor | None = None) -> Any:
        """
        The current policy's action distribution pi_theta(.|s, mask).

        :param obs: Observations
        :param action_masks: Valid actions (True) per observation, shape ``(batch, n_logits)``; None for no masking
        :return: the (masked) action distribution
        """
        return self._masked_distribution(self.actor_net(self.extract_features(obs, self.features_extractor)), action_masks)

    def sample_actions(self, obs: PyTorchObs, action_masks: np.ndarray | None = None) -> th.Tensor:
        """
        Sample a ~ pi_theta(.|s, mask), the same draw as ``get_distribution(obs, action_masks).get_actions()``
        (see :meth:`_sample_masked`).

        :param obs: Observations
        :param action_masks: Valid actions (True), shape ``(batch, n_actions)``; None for no masking
        """
        return self._sample_masked(self.actor_net(self.extract_features(obs, self.features_extractor)), action_masks)

    def evaluate_actions(
        self, obs: PyTorchObs, actions: th.Tensor, action_masks: np.ndarray | th.Tensor | None = None
    ) -> tuple[th.Tensor | None, th.Tensor, th.Tensor | None]:
        """
        Evaluate actions under the masked policy that chose them.

        :param obs: Observations
        :param actions: Actions
        :param action_masks: The masks the actions were chosen under; None for no masking
        :return: V(s) (None without a value head), log pi(a|s, mask) and the entropy over the valid actions
        """
        values = self.predict_values(obs) if self.use_value_net else None
        latent_pi = self.actor_net(self.extract_features(obs, self.features_extractor))
        log_prob, entropy = self._evaluate_masked(latent_pi, actions, action_masks)
        return values, log_prob, entropy

    def forward(self, obs: th.Tensor, deterministic: bool = False, action_masks: np.ndarray | None = None) -> th.Tensor:
        return self._predict(obs, deterministic=deterministic, action_masks=action_masks)

    def _predict(
        self, observation: PyTorchObs, deterministic: bool = False, action_masks: np.ndarray | None = None
    ) -> th.Tensor:
        return self.get_distribution(observation, action_masks).get_actions(deterministic=deterministic)

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """
        The policy's action for an observation, as ``MaskableActorCriticPolicy.predict`` gives it.

        :param observation: The input observation
        :param state: Unused (recurrent policies' state), returned as given
        :param episode_start: Unused (recurrent policies)
        :param deterministic: Whether to return the most likely valid action instead of a sample
        :param action_masks: Valid actions (True); None for no masking
        :return: the action and ``state``
        """
        self.set_training_mode(False)
        obs_tensor, vectorized_env = self.obs_to_tensor(observation)
        with th.no_grad():
            actions = self._predict(obs_tensor, deterministic=deterministic, action_masks=action_masks)
        actions_np = actions.cpu().numpy().reshape((-1, *self.action_space.shape))  # type: ignore[misc]
        if not vectorized_env:
            actions_np = actions_np.squeeze(axis=0)
        return actions_np, state


class MaskableReinforceCnnPolicy(MaskableReinforcePolicy):
    """
    MaskableReinforcePolicy with a ``NatureCNN`` features extractor, for image observations.
    Parameters as in :class:`ReinforcePolicy`.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("features_extractor_class", NatureCNN)
        super().__init__(*args, **kwargs)


class MaskableMultiInputReinforcePolicy(MaskableReinforcePolicy):
    """
    MaskableReinforcePolicy with a ``CombinedExtractor``, for ``Dict`` observations.
    Parameters as in :class:`ReinforcePolicy`.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("features_extractor_class", CombinedExtractor)
        super().__init__(*args, **kwargs)
