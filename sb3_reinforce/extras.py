"""
The optional parts of the package and the pip extras that bring them.

``pip install sb3-reinforce`` installs what the algorithms need; the tools need an extra. A command whose
extra is missing stops with one line that names the pip command, not a traceback.
"""

from __future__ import annotations

import importlib.util
import sys

# extra -> modules it must provide (import names)
ZOO_MODULES = ("rl_zoo3", "optuna", "yaml", "tensorboard")
EXTRAS: dict[str, tuple[str, ...]] = {
    "zoo": ZOO_MODULES,
    "compare": (*ZOO_MODULES, "wandb", "pandas", "scipy", "matplotlib", "rliable"),  # compare includes zoo
}


def missing_modules(extra: str) -> list[str]:
    """
    :param extra: A key of :data:`EXTRAS`
    :return: the modules of that extra that cannot be imported here
    """
    missing = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def require_extra(extra: str, command: str) -> None:
    """
    Stop (exit code 1) with one line naming the pip command when a module of ``extra`` is missing.

    :param extra: A key of :data:`EXTRAS`
    :param command: The command that needs it, named in the message
    """
    missing = missing_modules(extra)
    if missing:
        print(
            f"{command} needs the '{extra}' extra (missing: {', '.join(missing)}): pip install \"sb3-reinforce[{extra}]\"",
            file=sys.stderr,
        )
        raise SystemExit(1)
