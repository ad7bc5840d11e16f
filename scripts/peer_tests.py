"""
Run a peer library's own test suite with this package's algorithm in place of the peer's.

    python scripts/peer_tests.py sb3 [pytest args]            # SB3's tests, REINFORCE in place of A2C
    python scripts/peer_tests.py contrib-mask [pytest args]   # sb3-contrib's MaskablePPO tests, MaskableREINFORCE
    python scripts/peer_tests.py contrib-lstm [pytest args]   # sb3-contrib's RecurrentPPO tests, RecurrentREINFORCE
    python scripts/peer_tests.py contrib-mask-lstm-masking    # sb3-contrib's MaskablePPO tests, MaskableRecurrentREINFORCE
    python scripts/peer_tests.py contrib-mask-lstm-recurrent  # sb3-contrib's RecurrentPPO tests, MaskableRecurrentREINFORCE
    python scripts/peer_tests.py zoo [pytest args]            # rl-zoo's tests, --algo reinforce in place of a2c

The suite comes from the peer's source distribution on the package index (the version installed here), is
copied into ``.peer_tests/``, and every name of the peer's algorithm in it (``A2C``, ``MaskablePPO``) becomes this
package's (``REINFORCE``, ``MaskableREINFORCE``): a subclass that drops the peer's rollout-only arguments
(``n_steps``, ``gae_lambda``, ...). rl-zoo's tests run its ``train.py``/``enjoy.py`` scripts with ``--algo a2c``
(and ``ppo_lstm``): they get ``--algo reinforce`` (``reinforce_lstm``) and scripts that call this package's rl-zoo
entry points. Only the tests in which our algorithm takes part are run. Tests of what it does not have by design,
or that need files the source distribution does not ship, are deselected, each with its reason
(``SUITES[...]["deselected"]``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".peer_tests"

# Imported first by every test module (also in SubprocVecEnv workers, which import the test module anew): the
# package's algorithm under the name the renamed tests import, without the peer algorithm's rollout arguments
SHIM = '''
"""Written by scripts/peer_tests.py."""
import {peer_module}

from sb3_reinforce import {ours} as _Ours

PEER_ONLY = {peer_only!r}


class {ours}(_Ours):
    def __init__(self, *args, **kwargs):
        for key in PEER_ONLY:
            kwargs.pop(key, None)
        {init_extra}
        super().__init__(*args, **kwargs)
{class_extra}

{peer_module}.{ours} = {ours}
'''

# The collection hook that ends every suite's conftest: keep the tests _takes_part(item) accepts, less the deselected
DESELECT_HOOK = """

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
"""

CONFTEST = '''
"""Written by scripts/peer_tests.py: only the tests {ours} takes part in are collected."""
import inspect

from stable_baselines3.common.base_class import BaseAlgorithm
from peer_algorithms import {ours}

DESELECTED = {deselected!r}


def _takes_part(item) -> bool:
    params = getattr(item, "callspec", None)
    values = list(params.params.values()) if params is not None else []
    classes = [v for v in values if inspect.isclass(v) and issubclass(v, BaseAlgorithm)]
    if classes:
        return {ours} in classes
    return "{ours}" in inspect.getsource(item.function)
'''

# rl-zoo's tests: the algorithm is a string in the command line of rl-zoo's scripts, run from the suite's folder
ZOO_CONFTEST = '''
"""Written by scripts/peer_tests.py: only the tests {ours} takes part in are collected; no network."""
import inspect

import rl_zoo3.utils

DESELECTED = {deselected!r}
OURS = {ours!r}

# test_enjoy.py lists rl-zoo's pretrained agents on the Hugging Face hub when it is imported: none are used here
rl_zoo3.utils.get_hf_trained_models = lambda *args, **kwargs: {{}}


def _takes_part(item) -> bool:
    params = getattr(item, "callspec", None)
    values = [str(v) for v in params.params.values()] if params is not None else []
    if any(v.startswith(OURS) for v in values):
        return True
    return not values and any(name in inspect.getsource(item.function) for name in OURS)
'''

ZOO_SCRIPT = '''"""Written by scripts/peer_tests.py: rl-zoo's {name}.py with this package's algorithms registered."""
from sb3_reinforce.zoo import {name}

if __name__ == "__main__":
    {name}()
'''

PPO_ONLY = ("n_steps", "batch_size", "n_epochs", "gae_lambda", "clip_range", "clip_range_vf", "target_kl")

# A Box env is refused with an AssertionError, as SB3 refuses it, but the message names the algorithm and the spaces
# The tests that configure the critic's LSTM run with the value baseline (no critic otherwise)
VALUE_BASELINE_FOR_CRITIC_KWARGS = (
    "if {'shared_lstm', 'enable_critic_lstm'} & set(kwargs.get('policy_kwargs') or {}):\n"
    "            kwargs.setdefault('baseline', 'value')"
)
# MaskablePPO's tests name non-recurrent policies: MaskableRecurrentREINFORCE's are sb3-contrib's LSTM policies
LSTM_POLICY_NAMES = (
    "policy = {'MlpPolicy': 'MlpLstmPolicy', 'CnnPolicy': 'CnnLstmPolicy', 'MultiInputPolicy': 'MultiInputLstmPolicy'}\n"
    "        if args and isinstance(args[0], str):\n"
    "            args = (policy.get(args[0], args[0]), *args[1:])"
)
# RecurrentPPO's tests use envs without action masks: learn() masks only where the env has them, as a user would ask
MASK_WHERE_SUPPORTED = """
    def learn(self, *args, **kwargs):
        from sb3_contrib.common.maskable.utils import is_masking_supported

        kwargs.setdefault("use_masking", is_masking_supported(self.env))
        return super().learn(*args, **kwargs)
"""

SUITES = {
    "sb3": {
        "distribution": "stable-baselines3",
        "files": None,  # every test file
        "peer": "A2C",
        "peer_module": "stable_baselines3",
        "ours": "REINFORCE",
        "peer_only": ("n_steps", "gae_lambda", "use_rms_prop", "rms_prop_eps"),
        "init_extra": "",
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
    "contrib-mask": {
        "distribution": "sb3-contrib",
        "files": ["test_invalid_actions.py"],
        "peer": "MaskablePPO",
        "peer_module": "sb3_contrib",
        "ours": "MaskableREINFORCE",
        "peer_only": PPO_ONLY,
        "init_extra": "",
        "deselected": {
            "test_identity": "learning threshold at MaskablePPO's budget (2,048 steps = 20 episodes of 100 steps); "
            "tests/test_maskable.py checks masked against unmasked learning at a budget of REINFORCE's own",
        },
    },
    "contrib-lstm": {
        "distribution": "sb3-contrib",
        "files": ["test_lstm.py"],
        "peer": "RecurrentPPO",
        "peer_module": "sb3_contrib",
        "ours": "RecurrentREINFORCE",
        "peer_only": PPO_ONLY,
        "init_extra": VALUE_BASELINE_FOR_CRITIC_KWARGS,
        "deselected": {
            "test_run_sde": "gSDE exploration: not an option of REINFORCE",
            "test_ppo_lstm_performance": "learning threshold at RecurrentPPO's budget and settings (50k steps); the "
            "CartPoleNoVel-v1 entry of zoo_configs/reinforce_lstm.yml is measured instead",
        },
    },
    "contrib-mask-lstm-masking": {
        "distribution": "sb3-contrib",
        "files": ["test_invalid_actions.py"],
        "peer": "MaskablePPO",
        "peer_module": "sb3_contrib",
        "ours": "MaskableRecurrentREINFORCE",
        "peer_only": PPO_ONLY,
        "init_extra": LSTM_POLICY_NAMES,
        "deselected": {
            "test_identity": "learning threshold at MaskablePPO's budget (2,048 steps = 20 episodes of 100 steps); "
            "tests/test_mask_recurrent.py checks the estimator's exactness and unbiasedness instead",
        },
    },
    "contrib-mask-lstm-recurrent": {
        "distribution": "sb3-contrib",
        "files": ["test_lstm.py"],
        "peer": "RecurrentPPO",
        "peer_module": "sb3_contrib",
        "ours": "MaskableRecurrentREINFORCE",
        "peer_only": PPO_ONLY,
        "init_extra": VALUE_BASELINE_FOR_CRITIC_KWARGS,
        "class_extra": MASK_WHERE_SUPPORTED,
        "deselected": {
            "test_run[Pendulum-v1]": "Box actions: masking supports Discrete, MultiDiscrete and MultiBinary actions",
            "test_ppo_multi_dimensional_action_space": "Box actions: masking supports Discrete, MultiDiscrete and "
            "MultiBinary actions",
            "test_run_sde": "gSDE exploration: not an option of REINFORCE (and Box actions)",
            "test_ppo_lstm_performance": "learning threshold at RecurrentPPO's budget and settings (50k steps)",
        },
    },
    "zoo": {
        "distribution": "rl_zoo3",
        "files": ["test_train.py", "test_hyperparams_opt.py", "test_enjoy.py"],
        # rl-zoo's algo names -> this package's (not in file names: hyperparams/a2c.yml stays A2C's config)
        "renames": {"a2c": "reinforce", "ppo_lstm": "reinforce_lstm"},
        "deselected": {
            "test_load": "reads tests/test_config.yml, which rl-zoo's source distribution does not ship",
            "test_optimize_log_path": "runs scripts/parse_study.py, which rl-zoo's source distribution does not ship",
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
        if subprocess.run([*command, f"{distribution}=={version}"]).returncode != 0:
            # No package index to download from: nothing was tested, which is not a failure of the tests
            print(f"peer tests skipped: could not download the source of {distribution}=={version}")
            raise SystemExit(0)
        archives = list(cache.glob(f"{name}-{version}.tar.gz"))
    source = cache / f"{name}-{version}"
    if not source.exists():
        with tarfile.open(archives[0]) as archive:
            archive.extractall(cache, filter="data")
    return source / "tests"


def prepare_zoo(config: dict) -> Path:
    """Copy rl-zoo's tests into ``.peer_tests/zoo/tests``, its algo names renamed, with ``train.py``/``enjoy.py``."""
    target = WORK / "zoo" / "tests"
    shutil.rmtree(target.parent, ignore_errors=True)
    source = fetch_tests(config["distribution"])
    target.mkdir(parents=True)
    for name in config["files"]:
        text = (source / name).read_text()
        for peer, ours in config["renames"].items():
            text = re.sub(rf"(?<!\w){peer}(?![\w.])", ours, text)
        (target / name).write_text(text)
    for name in ("train", "enjoy"):
        (target.parent / f"{name}.py").write_text(ZOO_SCRIPT.format(name=name))
    ours = tuple(config["renames"].values())
    (target / "conftest.py").write_text((ZOO_CONFTEST + DESELECT_HOOK).format(ours=ours, deselected=config["deselected"]))
    # rl-zoo's pretrained agents (rl-trained-agents/, which test_continue_training continues and test_enjoy.py's
    # test_trained_agents plays) are not shipped: one of ours takes their place, trained here with rl-zoo's layout
    command = [sys.executable, "train.py", "-n", "100", "--algo", ours[0], "--env", "CartPole-v1", "-f", "rl-trained-agents"]
    subprocess.run(command, cwd=target.parent, check=True, stdout=subprocess.DEVNULL)
    return target


def prepare(suite: str) -> Path:
    """Copy the suite into ``.peer_tests/<suite>/tests`` with the renames and the conftest applied."""
    config = SUITES[suite]
    if "renames" in config:
        return prepare_zoo(config)
    target = WORK / suite / "tests"
    shutil.rmtree(target.parent, ignore_errors=True)
    source = fetch_tests(config["distribution"])
    files = config["files"]
    shutil.copytree(
        source,
        target,
        ignore=None if files is None else lambda d, names: [n for n in names if n.startswith("test_") and n not in files],
    )
    for path in target.rglob("*.py"):
        text = re.sub(rf"\b{config['peer']}\b", config["ours"], path.read_text())
        path.write_text("import peer_algorithms  # noqa: F401\n" + text)
    names = {key: config[key] for key in ("ours", "peer_module", "peer_only", "init_extra", "deselected")}
    names["class_extra"] = config.get("class_extra", "")
    (target / "peer_algorithms.py").write_text(SHIM.format(**names))
    (target / "conftest.py").write_text((CONFTEST + DESELECT_HOOK).format(**names))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", choices=sorted(SUITES), help="which peer's suite to run")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="more arguments for pytest")
    args = parser.parse_args()
    tests = prepare(args.suite)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", str(tests), *args.pytest_args]
    # rl-zoo's tests run `python train.py`: the `python` of this interpreter's environment, as if it were activated
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    raise SystemExit(subprocess.call(command, cwd=tests.parent, env={**os.environ, "PATH": path}))


if __name__ == "__main__":
    main()
