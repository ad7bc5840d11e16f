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
    for command in ("train", "enjoy", "record_video", "push_to_hub", "load_from_hub", "compare", "bench"):
        assert f"  {command} " in result.stdout


def test_version(tmp_path):
    from sb3_reinforce import __version__

    assert run_module("sb3_reinforce.cli", "--version", cwd=tmp_path).stdout == f"sb3-reinforce {__version__}\n"


def test_demo_help_names_the_command_in_plain_text(tmp_path):
    help_text = run_module("sb3_reinforce.demo", "--help", cwd=tmp_path).stdout
    assert help_text.startswith("usage: python -m sb3_reinforce.demo") and "``" not in help_text


def test_an_unregistered_env_id_is_named_with_the_closest_registered_id(tmp_path):
    result = run_module("sb3_reinforce.train", "--algo", "reinforce", "--env", "CartPol-v1", cwd=tmp_path, check=False)
    assert result.returncode == 2 and not (tmp_path / "logs").exists()
    assert result.stderr.strip() == (
        "error: Env id 'CartPol-v1' is not registered in gymnasium (nor by rl-zoo or --gym-packages). "
        "Did you mean 'CartPole-v1'?"
    )
    zoo.check_env_id("CartPoleNoVel-v1")  # rl-zoo's own envs are registered ids


def test_the_entry_points_run_torch_on_one_thread_unless_told_otherwise():
    assert zoo.one_thread(["--env", "CartPole-v1"]) == ["--env", "CartPole-v1", "--num-threads", "1"]
    assert zoo.one_thread(["--num-threads", "4"]) == ["--num-threads", "4"]
    assert zoo.one_thread(["--num-threads=2"]) == ["--num-threads=2"]


@pytest.mark.parametrize("command", ["push_to_hub", "load_from_hub"])
def test_the_hub_scripts_know_the_package_algorithms(tmp_path, command):
    result = run_module("sb3_reinforce.cli", command, "--help", cwd=tmp_path, check=False)
    try:
        from huggingface_sb3.push_to_hub import generate_metadata  # noqa: F401
    except ImportError:
        if command == "push_to_hub":  # rl-zoo 2.9's script does not import with huggingface_sb3 3: one line says so
            assert result.returncode == 1 and result.stderr.startswith("error: rl-zoo's push_to_hub cannot run")
            assert len(result.stderr.strip().splitlines()) == 1
            return
    assert result.returncode == 0, result.stderr
    assert "reinforce,reinforce_vr,reinforce_lstm" in result.stdout.replace("\n", "").replace(" ", "")


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
