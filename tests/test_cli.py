"""The console script and the entry points as a new user meets them: help, unknown commands, missing extras."""

import subprocess
import sys

import pytest

from sb3_reinforce import zoo
from sb3_reinforce.zoo.config import ConfigError
from tests.cli import ROOT, run_module

# Runs an entry point in an interpreter where the given module cannot be imported, as without its extra
WITHOUT = (
    "import sys, runpy; sys.modules[{module!r}] = None; sys.argv = ['x', *{args!r}]; "
    "runpy.run_module({entry!r}, run_name='__main__')"
)


def test_help_lists_the_commands_and_exits_0(tmp_path):
    result = run_module("sb3_reinforce.cli", "--help", cwd=tmp_path)
    for command in ("train", "enjoy", "record_video", "compare", "bench"):
        assert f"  {command} " in result.stdout


def test_unknown_command_exits_2_naming_it(tmp_path):
    result = run_module("sb3_reinforce.cli", "trian", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "unknown command 'trian'" in result.stderr and "commands:" in result.stderr


@pytest.mark.parametrize(
    "entry,module,extra",
    [
        ("sb3_reinforce.train", "rl_zoo3", "zoo"),
        ("sb3_reinforce.enjoy", "optuna", "zoo"),
        ("sb3_reinforce.bench", "yaml", "zoo"),
        ("sb3_reinforce.compare", "wandb", "compare"),
        ("sb3_reinforce.cli", "rliable", "compare"),
    ],
)
def test_a_missing_extra_stops_with_one_line_naming_the_pip_command(tmp_path, entry, module, extra):
    args = ["compare"] if entry == "sb3_reinforce.cli" else ["--env", "CartPole-v1"]
    code = WITHOUT.format(module=module, args=args, entry=entry)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)}, timeout=120
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f'pip install "sb3-reinforce[{extra}]"' in lines[0] and module in lines[0]
    assert not (tmp_path / "logs").exists()


def test_a_bad_params_key_is_reported_as_given_with_params():
    with pytest.raises(ConfigError, match=r"Key 'n_steps' given with -params .*unknown key"):
        zoo.prepare_argv(["--env", "CartPole-v1", "-params", "n_steps:16"])
    with pytest.raises(ConfigError, match=r"Key 'gamma' given with -params .*gamma must be a number in \[0, 1\]"):
        zoo.prepare_argv(["--env", "CartPole-v1", "-params", "gamma:1.5"])
