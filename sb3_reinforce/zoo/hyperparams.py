"""Optuna search spaces for REINFORCE, in rl-zoo's sampler/converter format."""

from __future__ import annotations

from typing import Any

import optuna
from torch import nn

NET_ARCH: dict[str, list[int]] = {"linear": [], "tiny": [32], "small": [64, 64], "medium": [256, 256]}
ACTIVATION_FN: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def convert_reinforce_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """
    Turn the parameters an Optuna trial sampled into REINFORCE hyperparameters
    (rl-zoo's ``HYPERPARAMS_CONVERTER`` contract, also used by ``--trial-id`` to reload a trial).

    :param sampled_params: ``trial.params``
    :return: keyword arguments for ``REINFORCE``
    """
    hyperparams = dict(sampled_params)
    policy_kwargs: dict[str, Any] = dict(
        net_arch=NET_ARCH[hyperparams.pop("net_arch", "small")],
        activation_fn=ACTIVATION_FN[hyperparams.pop("activation_fn", "tanh")],
    )
    if "lstm_hidden_size" in hyperparams:
        policy_kwargs["lstm_hidden_size"] = hyperparams.pop("lstm_hidden_size")
    if hyperparams.get("max_grad_norm") == 0.0:
        hyperparams["max_grad_norm"] = None  # 0 stands for "no clipping" in the search space
    if hyperparams.get("ent_coef") == 0.0:
        hyperparams["ent_floor"] = None  # no bonus to cap: the entry's ent_floor (it needs ent_coef > 0) is dropped
    return {**hyperparams, "policy_kwargs": policy_kwargs}


def _sample_common(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-2, log=True),
        # at least 2: noise_scaled_lr and the leave-one-out baseline need them
        "n_episodes": trial.suggest_categorical("n_episodes", [2, 4, 8, 16, 32, 64]),
        "noise_scaled_lr": trial.suggest_categorical("noise_scaled_lr", [False, True]),
        "net_arch": trial.suggest_categorical("net_arch", list(NET_ARCH)),
        "activation_fn": trial.suggest_categorical("activation_fn", list(ACTIVATION_FN)),
    }


def sample_reinforce_params(trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """
    Search space of vanilla REINFORCE (gamma = 1, no variance reduction): learning rate and
    ``noise_scaled_lr``, episodes per update, network size and activation.

    :param trial: Optuna trial
    :param n_actions: Unused (rl-zoo's sampler signature)
    :param n_envs: Number of envs
    :param additional_args: Unused (rl-zoo's sampler signature)
    """
    return convert_reinforce_params(_sample_common(trial))


def sample_reinforce_vr_params(trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """
    Search space of REINFORCE with its variance-reduction options: the vanilla space plus reward-to-go,
    baseline, running or batch normalization of the weights, discount, entropy bonus, gradient clipping and the
    KL-bounded step (``target_kl``).

    :param trial: Optuna trial
    :param n_actions: Unused (rl-zoo's sampler signature)
    :param n_envs: Number of envs
    :param additional_args: Unused (rl-zoo's sampler signature)
    """
    params = _sample_common(trial)
    params.update(
        reward_to_go=trial.suggest_categorical("reward_to_go", [False, True]),
        normalize_returns=trial.suggest_categorical("normalize_returns", [False, True]),
        baseline=trial.suggest_categorical("baseline", [None, "mean", "loo", "value"]),
        normalize_advantage=trial.suggest_categorical("normalize_advantage", [False, True]),
        gamma=trial.suggest_categorical("gamma", [0.98, 0.99, 0.995, 0.999, 1.0]),
        ent_coef=trial.suggest_categorical("ent_coef", [0.0, 1e-4, 1e-3, 1e-2]),
        max_grad_norm=trial.suggest_categorical("max_grad_norm", [0.0, 0.5, 1.0, 5.0]),
        target_kl=trial.suggest_categorical("target_kl", [None, 1e-4, 1e-3, 1e-2]),
    )
    if params["baseline"] == "value":
        params["vf_coef"] = trial.suggest_float("vf_coef", 0.1, 1.0)
    return convert_reinforce_params(params)


def sample_reinforce_lstm_params(trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """
    Search space of RecurrentREINFORCE: the variance-reduced space plus the LSTM's size.

    :param trial: Optuna trial
    :param n_actions: Unused (rl-zoo's sampler signature)
    :param n_envs: Number of envs
    :param additional_args: Unused (rl-zoo's sampler signature)
    """
    params = sample_reinforce_vr_params(trial, n_actions, n_envs, additional_args)
    params["policy_kwargs"]["lstm_hidden_size"] = trial.suggest_categorical("lstm_hidden_size", [16, 32, 64, 128, 256])
    return params
