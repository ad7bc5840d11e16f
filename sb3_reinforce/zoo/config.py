"""Checks a config entry of this package's algorithms, in rl-zoo's YAML format, before rl-zoo trains anything from it."""

from __future__ import annotations

import difflib
import inspect
from pathlib import Path
from typing import Any

import torch as th
import yaml
from torch import nn

from sb3_reinforce.common.checks import ArgumentError, check_hyperparameters, check_policy, is_integer, is_number
from sb3_reinforce.common.episodic import EpisodicPolicyGradient
from sb3_reinforce.reinforce import REINFORCE

# Keys rl-zoo's ExperimentManager consumes itself; every other key goes to the algorithm's constructor
ZOO_KEYS = {
    "n_timesteps", "n_envs", "policy", "normalize", "policy_kwargs", "env_wrapper", "vec_env_wrapper",
    "callback", "frame_stack", "monitor_kwargs", "env_kwargs",
}  # fmt: skip
# Constructor arguments rl-zoo sets from its command line (a config entry must not set them)
CLI_SET = {"self", "policy", "env", "tensorboard_log", "verbose", "seed", "device", "_init_setup_model"}
# Constructor arguments checked by check_hyperparameters (learning_rate and policy_kwargs are read first)
CHECKED_KEYS = set(inspect.signature(check_hyperparameters).parameters) - {"learning_rate", "policy_kwargs"}


def model_keys(algorithm: type[EpisodicPolicyGradient]) -> set[str]:
    """The constructor arguments of ``algorithm`` a config entry may set."""
    return set(inspect.signature(algorithm.__init__).parameters) - CLI_SET


def policy_keys(algorithm: type[EpisodicPolicyGradient]) -> set[str]:
    """The ``policy_kwargs`` keys the policies of ``algorithm`` take."""
    parameters = set(inspect.signature(algorithm.policy_base.__init__).parameters)
    return parameters - {"self", "observation_space", "action_space", "lr_schedule", "use_value_net"}


class ConfigError(ValueError):
    """A config file, entry, key or value that cannot be used."""


def load_entry(path: str | Path, env_id: str) -> dict[str, Any]:
    """
    The hyperparameters of ``env_id`` in a rl-zoo YAML config (or its ``default`` entry, as rl-zoo does).

    :param path: YAML file
    :param env_id: Gymnasium env id
    :raises ConfigError: unreadable file, malformed YAML, or no entry for the env
    """
    path = Path(path)
    try:
        content = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"Cannot read config file {path}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"Config file {path} is not valid YAML: {e}") from e
    if not isinstance(content, dict):
        raise ConfigError(f"Config file {path} must map env ids to hyperparameters, got {type(content).__name__}")
    entry = content.get(env_id, content.get("default"))
    if entry is None:
        raise ConfigError(f"No entry for env {env_id!r} in config file {path} (entries: {', '.join(map(str, content))})")
    if not isinstance(entry, dict):
        raise ConfigError(f"Entry {env_id!r} in config file {path} must be a mapping of hyperparameters")
    return dict(entry)


def validate_entry(
    entry: dict[str, Any],
    env_id: str,
    path: str | Path,
    overrides: dict[str, Any] | None = None,
    algorithm: type[EpisodicPolicyGradient] = REINFORCE,
    overrides_flag: str = "-params",
) -> None:
    """
    Check every key and value of a config entry, the way rl-zoo will read it.

    :param entry: The entry's hyperparameters (after ``-params`` overrides)
    :param env_id: The env the entry is for (named in errors)
    :param path: The config file (named in errors)
    :param overrides: The ``-params`` overrides applied to the entry: errors in their keys say they came from there
    :param algorithm: The algorithm the entry is for (its arguments and policies)
    :param overrides_flag: The flag the overrides came with, named in errors (``-params`` for ``train``,
        ``--params`` for ``compare``)
    :raises ConfigError: naming the key, the env and the file (or the overrides' flag)
    """
    overrides = overrides or {}
    try:
        _check_zoo_keys(entry, model_keys(algorithm))
        learning_rate = _initial_learning_rate(entry.get("learning_rate", 3e-3))
        policy_kwargs = _policy_kwargs(entry.get("policy_kwargs", {}), policy_keys(algorithm))
        policy = entry.get("policy", "MlpPolicy")
        if isinstance(policy, str) and "." not in policy:  # a dotted path is rl-zoo's to import
            check_policy(policy, algorithm.policy_aliases, algorithm.policy_base)
        model_kwargs = {key: entry[key] for key in CHECKED_KEYS if key in entry}
        check_hyperparameters(learning_rate=learning_rate, policy_kwargs=policy_kwargs, **model_kwargs)
    except ArgumentError as e:
        where = (
            f"given with {overrides_flag} (entry {env_id!r} of config file {path})"
            if e.argument in overrides
            else f"for env {env_id!r} in config file {path}"
        )
        raise ConfigError(f"Key {e.argument!r} {where}: {e}") from e


def _check_zoo_keys(entry: dict[str, Any], allowed_model_keys: set[str]) -> None:
    """The keys of an entry, and the values rl-zoo reads itself (``n_timesteps``, ``n_envs``)."""
    allowed = sorted(ZOO_KEYS | allowed_model_keys)
    for key in entry:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ArgumentError(key, f"unknown key.{hint} Allowed: {', '.join(allowed)}")
    if "n_timesteps" not in entry:
        raise ArgumentError("n_timesteps", "missing (rl-zoo requires it)")
    n_timesteps = entry["n_timesteps"]
    if not is_number(n_timesteps) or n_timesteps < 1:
        raise ArgumentError("n_timesteps", f"must be a number >= 1 (write !!float 1e6 or 1000000), got {n_timesteps!r}")
    n_envs = entry.get("n_envs", 1)
    if not is_integer(n_envs) or n_envs < 1:
        raise ArgumentError("n_envs", f"must be an integer >= 1, got {n_envs!r}")
    for key in ("reward_to_go", "normalize_advantage", "normalize_returns", "noise_scaled_lr"):
        if key in entry and not isinstance(entry[key], bool):
            raise ArgumentError(key, f"must be true or false, got {entry[key]!r}")


def _initial_learning_rate(learning_rate: Any) -> Any:
    """A number, or rl-zoo's ``lin_<number>`` schedule (whose value at progress 1 is returned)."""
    if not isinstance(learning_rate, str):
        return learning_rate
    schedule, _, value = learning_rate.partition("_")
    try:
        initial = float(value)
    except ValueError:
        initial = None
    if schedule != "lin" or initial is None:
        raise ArgumentError("learning_rate", f"must be a number or 'lin_<number>', got {learning_rate!r}")
    return initial


def _policy_kwargs(policy_kwargs: Any, allowed: set[str]) -> dict[str, Any]:
    """``policy_kwargs`` as rl-zoo evaluates it (a string is eval'd with ``nn`` and ``th`` in scope), checked."""
    if isinstance(policy_kwargs, str):
        try:
            policy_kwargs = eval(policy_kwargs, {"nn": nn, "th": th})  # rl-zoo evaluates it the same way
        except Exception as e:
            raise ArgumentError("policy_kwargs", f"cannot be evaluated ({type(e).__name__}: {e})") from e
    if not isinstance(policy_kwargs, dict):
        raise ArgumentError("policy_kwargs", f"must be a dict (or a string evaluating to one), got {policy_kwargs!r}")
    unknown = set(policy_kwargs) - allowed
    if unknown:
        raise ArgumentError(
            "policy_kwargs", f"unknown policy argument(s) {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    return policy_kwargs
