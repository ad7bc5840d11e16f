"""Running the package's command-line entry points in a subprocess, as a user would."""

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_module(module, *args, cwd, env=None, timeout=300, check=True):
    """``python -m module args`` in ``cwd``, wandb offline, no standard input; asserts exit 0 when ``check``."""
    full_env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONPATH": str(ROOT), **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def default_sigint() -> None:
    """``preexec_fn`` for a child that must see Ctrl-C: an ignored SIGINT is inherited across exec, and a library
    in the test process may have set that at the C level (Python's ``getsignal`` does not show it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
