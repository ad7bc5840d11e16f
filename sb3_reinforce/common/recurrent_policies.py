"""
LSTM policies for REINFORCE whose gradient flows through each whole episode.

The policy's memory after s_0..s_t of an episode is h_t = LSTM(features(s_t), h_{t-1}), started from the zero state
at the episode's first step, and pi_theta(a_t | h_t) is read from h_t. In the rollout the LSTM is stepped once per
env step; in ``train()`` every recorded episode is run again from the zero state in one batched LSTM call (packed
sequences), so log pi_theta(a_t | h_t) and its gradient are exact: back-propagation through time over the whole
episode, with no truncation. The keyword arguments follow sb3-contrib's ``RecurrentActorCriticPolicy``.
The masked variant reads pi_theta(a_t | h_t, M_t) under each step's action mask, with the same memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor, FlattenExtractor, NatureCNN
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import nn

from sb3_reinforce.common.checks import ArgumentError
from sb3_reinforce.common.policies import MaskableReinforcePolicy, ReinforcePolicy
from sb3_reinforce.common.returns import step_in_episode

LSTMStates = tuple[th.Tensor, th.Tensor]


def run_episodes(features: th.Tensor, lengths: np.ndarray, lstm: nn.LSTM) -> th.Tensor:
    """
    The LSTM's output at every step of whole episodes, each started from the zero state: one batched call on the
    packed sequences, no loop over time steps in Python.

    :param features: Inputs of every step, episodes back to back, shape ``(N, input_dim)``
    :param lengths: Length of each episode, shape ``(m,)``, summing to N
    :param lstm: The LSTM (``batch_first=False``)
    :return: h_t of the last layer at every step, in the same order, shape ``(N, hidden_size)``
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    sequences = th.split(features, lengths.tolist())
    packed = nn.utils.rnn.pack_sequence(list(sequences), enforce_sorted=False)
    output, _ = lstm(packed)
    padded, _ = nn.utils.rnn.pad_packed_sequence(output)  # (T_max, m, hidden), episodes in the given order
    time_index = th.as_tensor(step_in_episode(lengths), device=features.device)
    episode_index = th.as_tensor(np.repeat(np.arange(len(lengths)), lengths), device=features.device)
    return padded[time_index, episode_index]


def step_lstm(
    features: th.Tensor, states: LSTMStates, episode_starts: th.Tensor, lstm: nn.LSTM
) -> tuple[th.Tensor, LSTMStates]:
    """
    One step of the LSTM for a batch of envs; an env whose episode starts here starts from the zero state.
    The cell equations are applied to the LSTM's own weights, layer by layer,

        i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh),  c' = sigmoid(f) c + sigmoid(i) tanh(g),
        h' = sigmoid(o) tanh(c')

    which is what ``nn.LSTM`` computes (without dropout: the rollout runs in eval mode), at a fraction of the cost
    of calling ``nn.LSTM`` on a sequence of length 1.

    :param features: Inputs, shape ``(n_envs, input_dim)``
    :param states: (h, c), each of shape ``(n_layers, n_envs, hidden_size)``
    :param episode_starts: 1.0 where a new episode starts, shape ``(n_envs,)``
    :param lstm: The LSTM
    :return: the last layer's output, shape ``(n_envs, hidden_size)``, and the new states
    """
    keep = (1.0 - episode_starts.to(features.dtype)).view(-1, 1)
    x, new_h, new_c = features, [], []
    for layer in range(lstm.num_layers):
        h, c = states[0][layer] * keep, states[1][layer] * keep
        gates = nn.functional.linear(x, getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"bias_ih_l{layer}", None))
        gates = gates + nn.functional.linear(h, getattr(lstm, f"weight_hh_l{layer}"), getattr(lstm, f"bias_hh_l{layer}", None))
        i, f, g, o = gates.chunk(4, dim=1)
        c = th.sigmoid(f) * c + th.sigmoid(i) * th.tanh(g)
        x = th.sigmoid(o) * th.tanh(c)
        new_h.append(x)
        new_c.append(c)
    return x, (th.stack(new_h), th.stack(new_c))


class RecurrentReinforcePolicy(ReinforcePolicy):
    """
    Stochastic policy pi_theta(a | h_t) with an LSTM memory h_t over the episode so far: features extractor, LSTM,
    MLP, action distribution head. A value head V(h_t) only with ``use_value_net`` (``baseline="value"``).

    Parameters as in :class:`sb3_reinforce.common.policies.ReinforcePolicy` (``net_arch`` is the MLP after the
    LSTM; ``squash_output`` and ``noise_correlation`` as there, with mu(h_t) read from the memory: with
    ``noise_correlation`` = rho the rollout samples u_t = mu(h_t) + n_t with the AR(1) noise n_t, and the score is
    that of each action given the episode so far, :meth:`evaluate_correlated_actions`), plus sb3-contrib's:

    :param lstm_hidden_size: Number of hidden units of each LSTM layer
    :param n_lstm_layers: Number of LSTM layers
    :param shared_lstm: Whether the value head reads the actor's LSTM (its gradient then does not flow into it, as
        in sb3-contrib); only with a value head
    :param enable_critic_lstm: Whether the value head has an LSTM of its own (otherwise a linear layer on the
        features, as in sb3-contrib); only with a value head
    :param lstm_kwargs: Additional keyword arguments for ``nn.LSTM`` (e.g. ``dropout``)
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
        lstm_hidden_size: int = 256,
        n_lstm_layers: int = 1,
        shared_lstm: bool = False,
        enable_critic_lstm: bool = True,
        lstm_kwargs: dict[str, Any] | None = None,
    ):
        # The same checks and messages as sb3-contrib's RecurrentActorCriticPolicy
        assert not (shared_lstm and enable_critic_lstm), (
            "You must choose between shared LSTM, seperate or no LSTM for the critic."
        )
        assert not (shared_lstm and not share_features_extractor), (
            "If the features extractor is not shared, the LSTM cannot be shared."
        )
        self.lstm_hidden_size = lstm_hidden_size
        self.n_lstm_layers = n_lstm_layers
        self.shared_lstm = shared_lstm
        self.enable_critic_lstm = enable_critic_lstm
        self.lstm_kwargs = lstm_kwargs or {}
        unsupported = set(self.lstm_kwargs) - {"dropout", "bias"}
        if unsupported:
            raise ArgumentError(
                "policy_kwargs",
                f"lstm_kwargs may set 'dropout' and 'bias' (a causal, unprojected LSTM), got {sorted(unsupported)}",
            )
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch,
            activation_fn,
            ortho_init,
            log_std_init,
            features_extractor_class,
            features_extractor_kwargs,
            share_features_extractor,
            normalize_images,
            optimizer_class,
            optimizer_kwargs,
            use_value_net,
            squash_output=squash_output,
            noise_correlation=noise_correlation,
        )
        # (n_lstm_layers, n_envs, lstm_hidden_size) for n_envs = 1, as sb3-contrib's policies expose it
        self.lstm_hidden_state_shape = (n_lstm_layers, 1, lstm_hidden_size)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            lstm_hidden_size=self.lstm_hidden_size,
            n_lstm_layers=self.n_lstm_layers,
            shared_lstm=self.shared_lstm,
            enable_critic_lstm=self.enable_critic_lstm,
            lstm_kwargs=self.lstm_kwargs,
        )
        return data

    def _make_lstm(self) -> nn.LSTM:
        # int(): a FlattenExtractor of MultiDiscrete or MultiBinary observations gives a NumPy integer, which nn.LSTM refuses
        return nn.LSTM(int(self.features_dim), self.lstm_hidden_size, num_layers=self.n_lstm_layers, **self.lstm_kwargs)

    def _build(self, lr_schedule: Schedule) -> None:
        self.lstm_actor = self._make_lstm()
        self.actor_net, latent_dim_pi = self._mlp(self.pi_arch, self.lstm_hidden_size)
        module_gains = {self.features_extractor: np.sqrt(2), self.actor_net: np.sqrt(2)}
        module_gains.update(self._build_action_head(latent_dim_pi))
        if self.use_value_net:
            self.vf_features_extractor = (
                self.features_extractor if self.share_features_extractor else self.make_features_extractor()
            )
            if self.enable_critic_lstm:
                self.lstm_critic = self._make_lstm()
            elif not self.shared_lstm:
                self.critic = nn.Linear(self.features_dim, self.lstm_hidden_size)
            module_gains.update({self.vf_features_extractor: np.sqrt(2), **self._build_value_head(self.lstm_hidden_size)})
        self._init_weights_and_optimizer(module_gains, lr_schedule)

    def initial_state(self, n_envs: int) -> LSTMStates:
        """The zero state (h, c) of the actor's LSTM for ``n_envs`` envs."""
        shape = (self.n_lstm_layers, n_envs, self.lstm_hidden_size)
        return th.zeros(shape, device=self.device), th.zeros(shape, device=self.device)

    def _step_latent(
        self, obs: PyTorchObs, lstm_states: LSTMStates, episode_starts: th.Tensor
    ) -> tuple[th.Tensor, LSTMStates]:
        """
        The actor's latent (after ``actor_net``) for one step of a batch of envs, and the LSTM's new states.

        :param obs: Observations, one per env
        :param lstm_states: The actor LSTM's states (h, c) before this step
        :param episode_starts: 1.0 where an episode starts at this step (its state is reset to zero)
        """
        features = self.extract_features(obs, self.features_extractor)
        latent, states = step_lstm(features, lstm_states, episode_starts, self.lstm_actor)
        return self.actor_net(latent), states

    def get_distribution(  # type: ignore[override]
        self, obs: PyTorchObs, lstm_states: LSTMStates, episode_starts: th.Tensor
    ) -> tuple[Distribution, LSTMStates]:
        """
        pi_theta(. | h_t) for one step of a batch of envs, as sb3-contrib's recurrent policies give it.

        :param obs: Observations, one per env
        :param lstm_states: The actor LSTM's states (h, c) before this step
        :param episode_starts: 1.0 where an episode starts at this step (its state is reset to zero)
        :return: the action distribution and the new states
        """
        latent_pi, states = self._step_latent(obs, lstm_states, episode_starts)
        return self._get_action_dist_from_latent(latent_pi), states

    def sample_actions(  # type: ignore[override]
        self, obs: PyTorchObs, lstm_states: LSTMStates, episode_starts: th.Tensor
    ) -> tuple[th.Tensor, LSTMStates]:
        """
        Sample a_t ~ pi_theta(. | h_t) for one step of a batch of envs (the rollout's step).

        :param obs: Observations, one per env
        :param lstm_states: The actor LSTM's states (h, c) before this step
        :param episode_starts: 1.0 where an episode starts at this step
        :return: the actions and the new states
        """
        latent_pi, states = self._step_latent(obs, lstm_states, episode_starts)
        return self._sample_from_latent(latent_pi), states

    def sample_correlated_actions(  # type: ignore[override]
        self, obs: PyTorchObs, lstm_states: LSTMStates, episode_starts: th.Tensor, noise: th.Tensor
    ) -> tuple[th.Tensor, th.Tensor, LSTMStates]:
        """
        One rollout step with ``noise_correlation`` = rho for a batch of envs: u_t = mu(h_t) + n_t, with n_t = sigma eps_t
        where an episode starts and n_t = rho n_{t-1} + sqrt(1 - rho^2) sigma eps_t elsewhere, eps_t ~ N(0, I)
        (:meth:`~sb3_reinforce.common.policies.ReinforcePolicy.sample_correlated_actions` with the memory's mean).

        :param obs: Observations, one per env
        :param lstm_states: The actor LSTM's states (h, c) before this step
        :param episode_starts: 1.0 where an episode starts at this step (its state and noise start afresh)
        :param noise: n_{t-1} of every env (ignored where an episode starts)
        :return: the actions u_t, the noise n_t and the new states
        """
        latent_pi, states = self._step_latent(obs, lstm_states, episode_starts)
        mean, std = self._gaussian_from_latent(latent_pi)
        actions, new_noise = self._correlated_step(mean, std, noise, episode_starts)
        return actions, new_noise, states

    def evaluate_correlated_actions(
        self, obs: PyTorchObs, actions: th.Tensor, lengths: np.ndarray
    ) -> tuple[th.Tensor | None, th.Tensor, th.Tensor]:
        """
        With ``noise_correlation`` = rho: the log-density of each action given the episode so far, at every step of
        whole episodes each run from the zero state, the exact factors of the episode's action density:

            log pi(u_0 | h_0) = log N(u_0; mu(h_0), sigma^2)
            log pi(u_t | h_t) = log N(u_t; mu(h_t) + rho (u_{t-1} - mu(h_{t-1})), (1 - rho^2) sigma^2),  t >= 1

        (:meth:`~sb3_reinforce.common.policies.ReinforcePolicy.evaluate_correlated_actions` with mu read from the
        LSTM's memory), differentiable through the whole episode.

        :param obs: Observations of whole episodes, back to back
        :param actions: The actions sampled (before any clipping or squashing)
        :param lengths: Length of each episode
        :return: V(h_t) (None without a value head), log pi(u_t | h_t) and the entropy of pi(. | h_t)
        """
        mean, std = self._gaussian_from_latent(self.actor_net(self._actor_latent(obs, lengths)))
        log_prob, entropy = self._correlated_log_prob(mean, std, actions, lengths)
        values = self.predict_values(obs, lengths) if self.use_value_net else None
        return values, log_prob, entropy

    def _actor_latent(self, obs: PyTorchObs, lengths: np.ndarray) -> th.Tensor:
        """The actor LSTM's output h_t at every step of whole episodes, each run from the zero state."""
        return run_episodes(self.extract_features(obs, self.features_extractor), lengths, self.lstm_actor)

    def predict_values(self, obs: PyTorchObs, lengths: np.ndarray | None = None) -> th.Tensor:
        """
        V(h_t) at every step of whole episodes, each started from the zero state.

        :param obs: Observations of whole episodes, back to back
        :param lengths: Length of each episode
        """
        if not self.use_value_net:
            raise RuntimeError("This policy has no value head: it is built only with baseline='value'.")
        if lengths is None:
            raise ValueError("A recurrent policy's values need the episodes' lengths")
        features = self.extract_features(obs, self.vf_features_extractor)
        if self.shared_lstm:
            latent = self._actor_latent(obs, lengths).detach()
        elif self.enable_critic_lstm:
            latent = run_episodes(features, lengths, self.lstm_critic)
        else:
            latent = self.critic(features)
        return self.value_net(self.critic_net(latent))

    def evaluate_actions(  # type: ignore[override]
        self, obs: PyTorchObs, actions: th.Tensor, lengths: np.ndarray
    ) -> tuple[th.Tensor | None, th.Tensor, th.Tensor | None]:
        """
        log pi_theta(a_t | h_t), its entropy and V(h_t) at every step of whole episodes, each run from the zero
        state: the exact log-probabilities of the policy that generated them, differentiable through the whole
        episode.

        :param obs: Observations of whole episodes, back to back
        :param actions: The actions taken
        :param lengths: Length of each episode
        :return: V(h_t) (None without a value head), log pi(a_t | h_t), entropy of pi(. | h_t)
        """
        distribution = self._get_action_dist_from_latent(self.actor_net(self._actor_latent(obs, lengths)))
        values = self.predict_values(obs, lengths) if self.use_value_net else None
        return values, distribution.log_prob(actions), distribution.entropy()

    def forward(  # type: ignore[override]
        self, obs: th.Tensor, lstm_states: LSTMStates, episode_starts: th.Tensor, deterministic: bool = False
    ) -> tuple[th.Tensor, LSTMStates]:
        return self._predict(obs, lstm_states, episode_starts, deterministic)

    def _predict(  # type: ignore[override]
        self, observation: PyTorchObs, lstm_states: LSTMStates, episode_starts: th.Tensor, deterministic: bool = False
    ) -> tuple[th.Tensor, LSTMStates]:
        distribution, states = self.get_distribution(observation, lstm_states, episode_starts)
        return distribution.get_actions(deterministic=deterministic), states

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """
        The action for an observation and the memory so far, as sb3-contrib's recurrent policies give it (SB3's
        ``evaluate_policy``, ``EvalCallback`` and rl-zoo's ``enjoy`` call it this way).

        :param observation: The input observation(s)
        :param state: The LSTM states (h, c) returned by the previous call; None at the start (zero state)
        :param episode_start: Where an episode starts (its state is reset); None: no episode starts
        :param deterministic: Whether to return the most likely action instead of a sample
        :return: the action(s) and the new LSTM states
        """
        return self._predict_with_state(observation, state, episode_start, deterministic)

    def _predict_with_state(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None,
        episode_start: np.ndarray | None,
        deterministic: bool,
        **predict_kwargs: Any,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """
        :meth:`predict` on NumPy inputs: the arguments as there, ``predict_kwargs`` passed on to ``_predict``
        (the masked policy's ``action_masks``).
        """
        self.set_training_mode(False)
        obs_tensor, vectorized_env = self.obs_to_tensor(observation)
        n_envs = (next(iter(obs_tensor.values())) if isinstance(obs_tensor, dict) else obs_tensor).shape[0]
        if state is None:
            states = self.initial_state(n_envs)
        else:
            states = (th.as_tensor(state[0], device=self.device), th.as_tensor(state[1], device=self.device))
        starts = np.zeros(n_envs) if episode_start is None else np.asarray(episode_start)
        with th.no_grad():
            starts_t = th.as_tensor(starts, dtype=th.float32, device=self.device)
            actions, new_states = self._predict(obs_tensor, states, starts_t, deterministic=deterministic, **predict_kwargs)
        actions_np = actions.cpu().numpy().reshape((-1, *self.action_space.shape))  # type: ignore[misc]
        if isinstance(self.action_space, spaces.Box):
            actions_np = self.env_actions(actions_np)
        if not vectorized_env:
            actions_np = actions_np.squeeze(axis=0)
        return actions_np, (new_states[0].cpu().numpy(), new_states[1].cpu().numpy())


class RecurrentReinforceCnnPolicy(RecurrentReinforcePolicy):
    """RecurrentReinforcePolicy with a ``NatureCNN`` features extractor, for image observations."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("features_extractor_class", NatureCNN)
        super().__init__(*args, **kwargs)


class RecurrentMultiInputReinforcePolicy(RecurrentReinforcePolicy):
    """RecurrentReinforcePolicy with a ``CombinedExtractor``, for ``Dict`` observations."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("features_extractor_class", CombinedExtractor)
        super().__init__(*args, **kwargs)


class MaskableRecurrentReinforcePolicy(RecurrentReinforcePolicy, MaskableReinforcePolicy):
    """
    :class:`RecurrentReinforcePolicy` with invalid-action masking: pi_theta(a | h_t, M_t), the softmax of the LSTM
    policy's logits over the actions valid at step t (sb3-contrib's maskable distributions, from
    :class:`~sb3_reinforce.common.policies.MaskableReinforcePolicy`). The mask changes which actions the step may
    take, not the memory: h_t = LSTM(features(s_t), h_{t-1}) as in :class:`RecurrentReinforcePolicy`, from the zero
    state at each episode start. For ``Discrete``, ``MultiDiscrete`` and ``MultiBinary`` actions. Without masks it
    is :class:`RecurrentReinforcePolicy`. Parameters as in :class:`RecurrentReinforcePolicy`.
    """

    def get_distribution(  # type: ignore[override]
        self,
        obs: PyTorchObs,
        lstm_states: LSTMStates,
        episode_starts: th.Tensor,
        action_masks: np.ndarray | th.Tensor | None = None,
    ) -> tuple[Any, LSTMStates]:
        """
        pi_theta(. | h_t, M_t) for one step of a batch of envs.

        :param obs: Observations, one per env
        :param lstm_states: The actor LSTM's states (h, c) before this step
        :param episode_starts: 1.0 where an episode starts at this step (its state is reset to zero)
        :param action_masks: Valid actions (True) per env, shape ``(n_envs, n_logits)``; None for no masking
        :return: the (masked) action distribution and the new states
        """
        latent_pi, states = self._step_latent(obs, lstm_states, episode_starts)
        return self._masked_distribution(latent_pi, action_masks), states

    def sample_actions(  # type: ignore[override]
        self,
        obs: PyTorchObs,
        lstm_states: LSTMStates,
        episode_starts: th.Tensor,
        action_masks: np.ndarray | None = None,
    ) -> tuple[th.Tensor, LSTMStates]:
        """
        Sample a_t ~ pi_theta(. | h_t, M_t) for one step of a batch of envs (the rollout's step).

        :param obs: Observations, one per env
        :param lstm_states: The actor LSTM's states (h, c) before this step
        :param episode_starts: 1.0 where an episode starts at this step
        :param action_masks: Valid actions (True) per env; None for no masking
        :return: the actions and the new states
        """
        latent_pi, states = self._step_latent(obs, lstm_states, episode_starts)
        return self._sample_masked(latent_pi, action_masks), states

    def evaluate_actions(  # type: ignore[override]
        self,
        obs: PyTorchObs,
        actions: th.Tensor,
        lengths: np.ndarray,
        action_masks: np.ndarray | th.Tensor | None = None,
    ) -> tuple[th.Tensor | None, th.Tensor, th.Tensor | None]:
        """
        log pi_theta(a_t | h_t, M_t), its entropy over the valid actions and V(h_t) at every step of whole episodes,
        each run from the zero state under the masks recorded with its steps: the exact log-probabilities of the
        policy that generated them, differentiable through the whole episode.

        :param obs: Observations of whole episodes, back to back
        :param actions: The actions taken
        :param lengths: Length of each episode
        :param action_masks: The masks the actions were chosen under, one row per step; None for no masking
        :return: V(h_t) (None without a value head), log pi(a_t | h_t, M_t), entropy of pi(. | h_t, M_t)
        """
        latent_pi = self.actor_net(self._actor_latent(obs, lengths))
        log_prob, entropy = self._evaluate_masked(latent_pi, actions, action_masks)
        values = self.predict_values(obs, lengths) if self.use_value_net else None
        return values, log_prob, entropy

    def forward(  # type: ignore[override]
        self,
        obs: th.Tensor,
        lstm_states: LSTMStates,
        episode_starts: th.Tensor,
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[th.Tensor, LSTMStates]:
        return self._predict(obs, lstm_states, episode_starts, deterministic, action_masks)

    def _predict(  # type: ignore[override]
        self,
        observation: PyTorchObs,
        lstm_states: LSTMStates,
        episode_starts: th.Tensor,
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[th.Tensor, LSTMStates]:
        distribution, states = self.get_distribution(observation, lstm_states, episode_starts, action_masks)
        return distribution.get_actions(deterministic=deterministic), states

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """
        The action for an observation and the memory so far, among the valid actions when ``action_masks`` is given
        (sb3-contrib's masked ``evaluate_policy`` and ``MaskableEvalCallback`` call it this way).

        :param observation: The input observation(s)
        :param state: The LSTM states (h, c) returned by the previous call; None at the start (zero state)
        :param episode_start: Where an episode starts (its state is reset); None: no episode starts
        :param deterministic: Whether to return the most likely valid action instead of a sample
        :param action_masks: Valid actions (True); None for no masking
        :return: the action(s) and the new LSTM states
        """
        return self._predict_with_state(observation, state, episode_start, deterministic, action_masks=action_masks)


class MaskableRecurrentReinforceCnnPolicy(MaskableRecurrentReinforcePolicy):
    """MaskableRecurrentReinforcePolicy with a ``NatureCNN`` features extractor, for image observations."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("features_extractor_class", NatureCNN)
        super().__init__(*args, **kwargs)


class MaskableRecurrentMultiInputReinforcePolicy(MaskableRecurrentReinforcePolicy):
    """MaskableRecurrentReinforcePolicy with a ``CombinedExtractor``, for ``Dict`` observations."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("features_extractor_class", CombinedExtractor)
        super().__init__(*args, **kwargs)
