"""
Argument checks shared by the algorithms, run before anything is built.

Every error names the argument (``error.argument``) and what is allowed. Numbers may be Python or NumPy
scalars (``np.float32(0.99)``, ``np.int64(8)``); booleans are not numbers here, and flags must be booleans.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

BASELINES = (None, "mean", "loo", "value")


class ArgumentError(ValueError):
    """
    An invalid hyperparameter.

    :param argument: Name of the offending argument
    :param message: What is wrong and what is allowed
    """

    def __init__(self, argument: str, message: str):
        super().__init__(message)
        self.argument = argument


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument of the wrong kind (e.g. a policy class that is not a policy of this package)."""


class UnsupportedSpaceError(ArgumentTypeError, AssertionError):
    """
    An env whose action space the algorithm does not support. Also an ``AssertionError``, as SB3's own check of
    ``supported_action_spaces`` raises, so code written for SB3's algorithms catches it the same way.
    """


def check_keywords(algorithm: type, keywords: dict[str, Any]) -> None:
    """
    Name the algorithm and the closest known argument when a keyword argument of its constructor is unknown (Python's
    own message names an internal base class and suggests nothing).

    :param algorithm: The algorithm class being constructed
    :param keywords: The keyword arguments given to it
    :raises ArgumentTypeError: an unknown keyword (a ``TypeError``, as Python raises)
    """
    import difflib
    import inspect

    skip = ("self", "_init_setup_model", "observation_space", "action_space", "lr_schedule")
    constructor: Any = algorithm.__init__  # type: ignore[misc]
    parameters = inspect.signature(constructor).parameters
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return  # a subclass that takes **kwargs passes them on: the constructor it calls checks them
    known = [name for name in parameters if name not in skip]
    policies = getattr(algorithm, "policy_aliases", {}).values()
    of_policy = sorted({name for policy in policies for name in inspect.signature(policy.__init__).parameters} - set(skip))
    for name in keywords:
        if name in known or name == "_init_setup_model":
            continue
        close = difflib.get_close_matches(name, [*known, *of_policy], n=1)
        if name in of_policy or (close and close[0] not in known):
            policy_name = name if name in of_policy else close[0]
            hint = f" {policy_name!r} is an argument of the policy: policy_kwargs=dict({policy_name}=...)."
        elif close:
            hint = f" Did you mean {close[0]!r}?"
        else:
            hint = f" Its arguments: {', '.join(known)}."
        raise ArgumentTypeError(name, f"{algorithm.__name__} got an unexpected keyword argument {name!r}.{hint}")


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or NumPy scalar), booleans excluded."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer (Python or NumPy scalar), booleans excluded."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_policy(policy: Any, policy_aliases: dict[str, type], base_class: type) -> None:
    """
    :param policy: A policy alias or class
    :param policy_aliases: The algorithm's aliases
    :param base_class: The class every policy of the algorithm derives from
    :raises ArgumentError: an unknown alias
    :raises ArgumentTypeError: a class that does not derive from ``base_class``
    """
    if isinstance(policy, str):
        if policy not in policy_aliases:
            raise ArgumentError("policy", f"policy must be one of {sorted(policy_aliases)} or a policy class, got {policy!r}")
    elif not (isinstance(policy, type) and issubclass(policy, base_class)):
        raise ArgumentTypeError(
            "policy", f"policy must be one of {sorted(policy_aliases)} or a {base_class.__name__} subclass, got {policy!r}"
        )


def wrong_type(name: str, value: Any, allowed: str) -> ArgumentTypeError:
    """The error for an argument of the wrong type: it names the argument, the type given and what is allowed."""
    return ArgumentTypeError(name, f"{name} must be {allowed}, got a {type(value).__name__}: {value!r}")


def _check_number(name: str, value: Any, allowed: str, ok: Callable[[Any], bool], optional: bool = False) -> None:
    if optional and value is None:
        return
    allowed = f"{'None or ' if optional else ''}{allowed}"
    if not is_number(value):
        raise wrong_type(name, value, allowed)
    if not ok(value):
        raise ArgumentError(name, f"{name} must be {allowed}, got {value!r}")


def _check_flag(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise wrong_type(name, value, "True or False")


def _check_return_range(value: Any) -> None:
    """``return_scaled_lr``: None or a pair (low, high) of finite numbers with low < high."""
    if value is None:
        return
    pair = isinstance(value, (tuple, list)) and len(value) == 2 and all(is_number(x) and np.isfinite(x) for x in value)
    if not pair or not value[0] < value[1]:
        allowed = "None or a pair (low, high) of finite returns with low < high, e.g. (0, 500) on CartPole-v1"
        raise ArgumentError("return_scaled_lr", f"return_scaled_lr must be {allowed}, got {value!r}")


def _check_value_steps(n_value_steps: Any, baseline: Any, vf_coef: Any) -> None:
    """``n_value_steps``: an integer >= 0; above 0 it fits the value baseline, so it needs ``baseline="value"``."""
    if not is_integer(n_value_steps):
        raise wrong_type("n_value_steps", n_value_steps, "an integer >= 0")
    if n_value_steps < 0:
        raise ArgumentError("n_value_steps", f"n_value_steps must be an integer >= 0, got {n_value_steps!r}")
    if n_value_steps > 0 and baseline != "value":
        message = f"n_value_steps={n_value_steps!r} fits the value baseline, which needs baseline='value', got {baseline!r}"
        raise ArgumentError("n_value_steps", message)
    if n_value_steps > 0 and vf_coef == 0:
        message = f"n_value_steps={n_value_steps!r} steps on the value loss, which needs vf_coef > 0, got vf_coef=0"
        raise ArgumentError("n_value_steps", message)


def check_hyperparameters(
    learning_rate: Any = 3e-3,
    n_episodes: Any = 8,
    gamma: Any = 1.0,
    reward_to_go: Any = False,
    baseline: Any = None,
    normalize_advantage: Any = False,
    normalize_returns: Any = False,
    noise_scaled_lr: Any = False,
    noise_scale_smoothing: Any = 0.9,
    return_scaled_lr: Any = None,
    ent_coef: Any = 0.0,
    ent_floor: Any = None,
    vf_coef: Any = 0.5,
    n_value_steps: Any = 0,
    max_grad_norm: Any = None,
    target_kl: Any = None,
    max_rollout_steps: Any = None,
    policy_kwargs: Any = None,
) -> None:
    """
    Check the hyperparameters of an episodic policy-gradient algorithm (the arguments of
    :class:`sb3_reinforce.REINFORCE`, with its defaults).

    :raises ArgumentError: naming the first invalid argument (``error.argument``) and what is allowed
    """
    allowed = "a number > 0 or a schedule (a callable of the remaining progress) whose value at progress 1 is > 0"
    initial_lr = learning_rate(1.0) if callable(learning_rate) else learning_rate
    if not is_number(initial_lr):
        raise wrong_type("learning_rate", learning_rate if not callable(learning_rate) else initial_lr, allowed)
    if not initial_lr > 0:
        raise ArgumentError("learning_rate", f"learning_rate must be {allowed}, got {learning_rate!r}")
    if not is_integer(n_episodes):
        raise wrong_type("n_episodes", n_episodes, "an integer >= 1")
    if n_episodes < 1:
        raise ArgumentError("n_episodes", f"n_episodes must be an integer >= 1, got {n_episodes!r}")
    _check_number("gamma", gamma, "a number in [0, 1]", lambda x: 0.0 <= x <= 1.0)
    _check_flag("reward_to_go", reward_to_go)
    _check_flag("normalize_advantage", normalize_advantage)
    _check_flag("normalize_returns", normalize_returns)
    _check_flag("noise_scaled_lr", noise_scaled_lr)
    if noise_scaled_lr and n_episodes < 2:
        raise ArgumentError("noise_scaled_lr", f"noise_scaled_lr needs n_episodes >= 2, got n_episodes={n_episodes}")
    if not (baseline is None or isinstance(baseline, str)) or baseline not in BASELINES:
        raise ArgumentError("baseline", f"baseline must be one of {list(BASELINES)}, got {baseline!r}")
    if baseline == "loo" and n_episodes < 2:
        raise ArgumentError("baseline", f"baseline='loo' needs n_episodes >= 2, got n_episodes={n_episodes}")
    _check_number("noise_scale_smoothing", noise_scale_smoothing, "a number in [0, 1)", lambda x: 0.0 <= x < 1.0)
    _check_return_range(return_scaled_lr)
    _check_number("ent_coef", ent_coef, "a number >= 0", lambda x: x >= 0)
    _check_number("ent_floor", ent_floor, "a finite number", lambda x: bool(np.isfinite(x)), optional=True)
    if ent_floor is not None and ent_coef == 0:
        message = f"ent_floor={ent_floor!r} caps the entropy bonus, which needs ent_coef > 0, got ent_coef=0"
        raise ArgumentError("ent_floor", message)
    _check_number("vf_coef", vf_coef, "a number >= 0", lambda x: x >= 0)
    _check_value_steps(n_value_steps, baseline, vf_coef)
    _check_number("max_grad_norm", max_grad_norm, "a number > 0", lambda x: x > 0, optional=True)
    _check_number("target_kl", target_kl, "a finite number > 0", lambda x: 0 < x < np.inf, optional=True)
    if max_rollout_steps is not None and not is_integer(max_rollout_steps):
        raise wrong_type("max_rollout_steps", max_rollout_steps, "None or an integer >= 1")
    if max_rollout_steps is not None and max_rollout_steps < 1:
        allowed = "None or an integer >= 1"
        raise ArgumentError("max_rollout_steps", f"max_rollout_steps must be {allowed}, got {max_rollout_steps!r}")
    if policy_kwargs is not None and not isinstance(policy_kwargs, dict):
        raise wrong_type("policy_kwargs", policy_kwargs, "None or a dict")
    if policy_kwargs is not None and "use_value_net" in policy_kwargs:
        raise ArgumentError("policy_kwargs", "policy_kwargs must not set 'use_value_net': it follows from baseline='value'")
