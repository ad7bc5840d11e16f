"""
Run a peer library's own test suite with this package's algorithm in place of the peer's.

    python scripts/peer_tests.py sb3 [pytest args]       # SB3's tests, REINFORCE in place of A2C

The suite comes from the peer's source distribution on the package index (the version installed here), is
copied into ``.peer_tests/``, and every ``A2C`` in it becomes ``REINFORCE``: a subclass of
:class:`sb3_reinforce.REINFORCE` that drops the A2C-only rollout arguments (``n_steps``, ``gae_lambda``,
``use_rms_prop``, ``rms_prop_eps``). Only the tests in which REINFORCE takes part are run. Tests of what
REINFORCE does not have by design are deselected, each with its reason (``DESELECTED``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".peer_tests"

# Imported first by every test module (also in SubprocVecEnv workers, which import the test module anew)
SHIM = '''
"""Written by scripts/peer_tests.py: REINFORCE, without A2C's rollout arguments, importable from stable_baselines3."""
import stable_baselines3

from sb3_reinforce import REINFORCE as _REINFORCE

A2C_ONLY = ("n_steps", "gae_lambda", "use_rms_prop", "rms_prop_eps")


class REINFORCE(_REINFORCE):
    def __init__(self, *args, **kwargs):
        for key in A2C_ONLY:
            kwargs.pop(key, None)
        super().__init__(*args, **kwargs)


stable_baselines3.REINFORCE = REINFORCE
'''

CONFTEST = '''
"""Written by scripts/peer_tests.py: only the tests REINFORCE takes part in are collected."""
import inspect

import stable_baselines3
from peer_algorithms import REINFORCE

DESELECTED = {deselected!r}


def _takes_part(item) -> bool:
    params = getattr(item, "callspec", None)
    values = list(params.params.values()) if params is not None else []
    classes = [v for v in values if inspect.isclass(v) and issubclass(v, stable_baselines3.common.base_class.BaseAlgorithm)]
    if classes:
        return REINFORCE in classes
    return "REINFORCE" in inspect.getsource(item.function)


def pytest_collection_modifyitems(config, items):
    kept, dropped = [], []
    for item in items:
        reason = next((why for name, why in DESELECTED.items() if name in item.nodeid), None)
        if _takes_part(item) and reason is None:
            kept.append(item)
        else:
            dropped.append(item)
            if reason is not None and _takes_part(item):
                print(f"deselected {{item.nodeid}}: {{reason}}")
    items[:] = kept
    config.hook.pytest_deselected(items=dropped)
'''

SUITES = {
    "sb3": {
        "distribution": "stable-baselines3",
        "rename": {"A2C": "REINFORCE"},
        # test id fragment -> why REINFORCE does not take that test
        "deselected": {
            "test_gae.py": "GAE and value bootstrapping: REINFORCE uses whole-episode returns",
            "test_sde.py": "gSDE exploration: not an option of REINFORCE",
            "use_sde": "gSDE exploration: not an option of REINFORCE",
            "test_custom_rollout_buffer": "rollout_buffer_class: REINFORCE stores whole episodes in its own buffer",
            "test_a2c_ppo_collect_rollouts_with_batch_norm": "reads RolloutBuffer.observations of A2C/PPO's buffer",
            "test_save_load_policy[True-": "gSDE exploration (use_sde=True): not an option of REINFORCE",
            "test_action_spaces[env2-": "an env whose episodes never end: REINFORCE stops with RolloutTooLongError",
            "test_squashed_gaussian": "gSDE exploration: not an option of REINFORCE",
            "test_save_load_env_cnn": "deletes ActorCriticPolicy.pi_features_extractor to mimic SB3 < 1.7 models",
            "test_set_env": "asserts num_timesteps == total_timesteps: whole episodes run past it (documented)",
            "test_eval_friendly_error": "whole episodes run past the last evaluation, so VecNormalize stats move on",
            "test_sb3_import_without_optional_deps": "imports SB3 in a fresh interpreter, where REINFORCE is not SB3's",
            "test_identity.py::test_discrete": "learning threshold at A2C's budget (1,200 steps = 12 episodes of 100 steps)",
            "test_identity.py::test_continuous": "learning threshold at A2C's budget (2,000 steps = 20 episodes of 100 steps)",
        },
    },
}


def fetch_tests(distribution: str) -> Path:
    """The ``tests/`` folder of the installed version's source distribution (downloaded once)."""
    version = importlib.metadata.version(distribution)
    cache = WORK / "sdist"
    cache.mkdir(parents=True, exist_ok=True)
    name = distribution.replace("-", "_")
    archives = list(cache.glob(f"{name}-{version}.tar.gz"))
    if not archives:
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", str(cache)]
        subprocess.run([*command, f"{distribution}=={version}"], check=True)
        archives = list(cache.glob(f"{name}-{version}.tar.gz"))
    source = cache / f"{name}-{version}"
    if not source.exists():
        with tarfile.open(archives[0]) as archive:
            archive.extractall(cache, filter="data")
    return source / "tests"


def prepare(suite: str) -> Path:
    """Copy the suite into ``.peer_tests/<suite>/tests`` with the renames and the conftest applied."""
    config = SUITES[suite]
    target = WORK / suite / "tests"
    shutil.rmtree(target.parent, ignore_errors=True)
    shutil.copytree(fetch_tests(config["distribution"]), target)
    for path in target.rglob("*.py"):
        text = path.read_text()
        for old, new in config["rename"].items():
            text = re.sub(rf"\b{old}\b", new, text)
        path.write_text("import peer_algorithms  # noqa: F401\n" + text)
    (target / "peer_algorithms.py").write_text(SHIM)
    (target / "conftest.py").write_text(CONFTEST.format(deselected=config["deselected"]))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", choices=sorted(SUITES), help="which peer's suite to run")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="more arguments for pytest")
    args = parser.parse_args()
    tests = prepare(args.suite)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", str(tests), *args.pytest_args]
    raise SystemExit(subprocess.call(command, cwd=tests.parent))


if __name__ == "__main__":
    main()
