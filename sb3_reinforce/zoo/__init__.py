"""
The rl-zoo bridge: registers REINFORCE with rl_zoo3 and hands over to rl-zoo's own ``train``/``enjoy``.

rl-zoo has no plugin entry point: its algorithms are the plain dict ``rl_zoo3.ALGOS``, from which
``train``/``enjoy`` build their ``--algo`` choices when they parse the command line, and its Optuna search
spaces are the dicts ``HYPERPARAMS_SAMPLER``/``HYPERPARAMS_CONVERTER``. :func:`register` adds REINFORCE to
all three in place; the entry points here call it, point ``--algo reinforce`` to the config shipped in
``zoo_configs/`` unless ``-conf`` is given, check that config, and then run rl-zoo's code unchanged.

The masked algorithms (``reinforce_mask``, ``reinforce_mask_lstm``, and sb3-contrib's MaskablePPO as ``ppo_mask``)
act with the env's masks wherever rl-zoo evaluates or plays them (:mod:`sb3_reinforce.zoo.masking`).
"""

from __future__ import annotations

import argparse
import contextlib
import netrc
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from sb3_contrib import MaskablePPO
from stable_baselines3.common.base_class import BaseAlgorithm

from sb3_reinforce.common.episodic import EpisodicPolicyGradient
from sb3_reinforce.reinforce import REINFORCE
from sb3_reinforce.reinforce_mask import MaskableREINFORCE
from sb3_reinforce.reinforce_mask_recurrent import MaskableRecurrentREINFORCE
from sb3_reinforce.reinforce_recurrent import RecurrentREINFORCE
from sb3_reinforce.zoo.config import ConfigError, load_entry, validate_entry
from sb3_reinforce.zoo.hyperparams import (
    convert_reinforce_params,
    sample_reinforce_lstm_params,
    sample_reinforce_params,
    sample_reinforce_vr_params,
)


class ZooAlgo(NamedTuple):
    """What rl-zoo needs to know of one ``--algo`` name of this package."""

    config: str  # the default config file, in zoo_configs/
    algorithm: type[BaseAlgorithm]
    sampler: Callable | None  # the Optuna search space (None: rl-zoo's of the same algorithm)
    zoo_name: str | None = None  # the name rl-zoo's search space has for it


ALGOS: dict[str, ZooAlgo] = {
    "reinforce": ZooAlgo("reinforce.yml", REINFORCE, sample_reinforce_params),
    "reinforce_vr": ZooAlgo("reinforce_vr.yml", REINFORCE, sample_reinforce_vr_params),
    "reinforce_lstm": ZooAlgo("reinforce_lstm.yml", RecurrentREINFORCE, sample_reinforce_lstm_params),
    "reinforce_mask": ZooAlgo("reinforce_mask.yml", MaskableREINFORCE, sample_reinforce_vr_params),
    "reinforce_mask_lstm": ZooAlgo("reinforce_mask_lstm.yml", MaskableRecurrentREINFORCE, sample_reinforce_lstm_params),
    # sb3-contrib's MaskablePPO (rl-zoo has no masked algorithm), to compare with: rl-zoo's PPO search space
    "ppo_mask": ZooAlgo("ppo_mask.yml", MaskablePPO, None, zoo_name="ppo"),
}


def reinforce_class(algo: str) -> type[EpisodicPolicyGradient] | None:
    """The class of ``algo`` if it is one of this package's algorithms (whose config entries are checked), else None."""
    algorithm = ALGOS[algo].algorithm if algo in ALGOS else None
    return algorithm if algorithm is not None and issubclass(algorithm, EpisodicPolicyGradient) else None


def config_dir() -> Path:
    """The folder of the shipped configs: ``zoo_configs/`` of a source checkout, else the installed copy."""
    checkout = Path(__file__).resolve().parents[2] / "zoo_configs"
    if checkout.is_dir():
        return checkout
    from importlib.resources import files

    return Path(str(files("sb3_reinforce") / "zoo_configs"))


def default_config(algo: str) -> Path:
    """
    :param algo: A key of :data:`ALGOS`
    :return: the shipped config file of that algo name
    """
    return config_dir() / ALGOS[algo].config


def register() -> None:
    """
    Add this package's algorithms to rl-zoo's algorithms and Optuna samplers: REINFORCE as ``reinforce`` and
    ``reinforce_vr`` (its variance-reduced configs), RecurrentREINFORCE as ``reinforce_lstm`` (as rl-zoo names
    RecurrentPPO ``ppo_lstm``), MaskableREINFORCE as ``reinforce_mask``, MaskableRecurrentREINFORCE as
    ``reinforce_mask_lstm``, and sb3-contrib's MaskablePPO as ``ppo_mask``.

    rl-zoo's ``ExperimentManager`` builds its evaluation callbacks by the names ``EvalCallback`` and
    ``TrialEvalCallback`` of ``rl_zoo3.exp_manager``: they are bound to subclasses that evaluate a masked model with
    the env's masks and are the originals for every other model (:mod:`sb3_reinforce.zoo.masking`).
    """
    import rl_zoo3
    import rl_zoo3.exp_manager
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER, HYPERPARAMS_SAMPLER

    from sb3_reinforce.zoo import masking

    for name, zoo_algo in ALGOS.items():
        rl_zoo3.ALGOS[name] = zoo_algo.algorithm
        if zoo_algo.sampler is None:  # rl-zoo's search space of the same algorithm
            assert zoo_algo.zoo_name is not None
            HYPERPARAMS_SAMPLER[name] = HYPERPARAMS_SAMPLER[zoo_algo.zoo_name]
            HYPERPARAMS_CONVERTER[name] = HYPERPARAMS_CONVERTER[zoo_algo.zoo_name]
        else:
            HYPERPARAMS_SAMPLER[name] = zoo_algo.sampler
            HYPERPARAMS_CONVERTER[name] = convert_reinforce_params
    if not issubclass(rl_zoo3.exp_manager.EvalCallback, masking.ZooEvalCallback):
        rl_zoo3.exp_manager.EvalCallback = masking.ZooEvalCallback  # type: ignore[misc]
        rl_zoo3.exp_manager.TrialEvalCallback = masking.trial_eval_callback()  # type: ignore[misc, assignment]


def wandb_logged_in() -> bool:
    """Whether wandb has credentials (``WANDB_API_KEY`` or a ``~/.netrc`` entry from ``wandb login``)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def prepare_argv(argv: list[str], default_algo: str | None = "reinforce") -> list[str]:
    """
    Complete a ``rl_zoo3.train`` command line for REINFORCE and check its config before anything runs.

    - ``--algo`` defaults to ``reinforce``; this package's algo names (:data:`ALGOS`, ``ppo_mask`` included) read
      ``zoo_configs/`` unless ``-conf`` is given; other algos keep rl-zoo's own configs.
    - The config entry of the env (with ``-params`` overrides) is checked (:mod:`sb3_reinforce.zoo.config`).
    - ``--track`` without wandb credentials runs wandb offline (``WANDB_MODE=offline``), never prompting.
    - ``--storage`` with a database URL: its driver must be installed (one line naming the extra otherwise), and
      Optuna's tables are created here, so that tuning workers started at the same moment on an empty database
      do not collide creating them (:func:`sb3_reinforce.zoo.storage.open_storage`).

    :param argv: command line arguments (without the program name)
    :param default_algo: algo to use when ``--algo`` is absent (None: rl-zoo's default)
    :return: the arguments to hand to rl-zoo
    :raises ConfigError: the config file, entry or a value in it is unusable, or ``--storage`` cannot be opened
    """
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--storage", default=None)
    parser.add_argument("--gym-packages", nargs="+", default=[])
    parser.add_argument("--algo", default=None)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("-conf", "--conf-file", default=None)
    parser.add_argument("-params", "--hyperparams", nargs="+", default=[])
    parser.add_argument("--track", action="store_true")
    args, _ = parser.parse_known_args(argv)
    argv = list(argv)
    algo = args.algo
    if algo is None and default_algo is not None:
        algo = default_algo
        argv = ["--algo", algo, *argv]
    if "-h" not in argv and "--help" not in argv:
        check_env_id(args.env, args.gym_packages)
    if algo in ALGOS and ("-h" not in argv and "--help" not in argv):
        if args.conf_file is None:
            args.conf_file = str(default_config(algo))
            argv += ["--conf-file", args.conf_file]
        algorithm = reinforce_class(algo)
        if algorithm is not None and args.conf_file.endswith((".yml", ".yaml")):
            entry = load_entry(args.conf_file, args.env)
            overrides = parse_overrides(args.hyperparams)
            entry.update(overrides)
            validate_entry(entry, args.env, args.conf_file, overrides, algorithm)
    if args.storage is not None and "-h" not in argv and "--help" not in argv:
        from sb3_reinforce.zoo.storage import StorageError, is_journal, open_storage

        try:
            if not is_journal(args.storage):
                open_storage(args.storage)  # checks the driver, creates the tables (retrying while another process does)
        except StorageError as e:
            raise ConfigError(str(e)) from e
    if args.track and not os.environ.get("WANDB_MODE") and not wandb_logged_in():
        os.environ["WANDB_MODE"] = "offline"
        print("wandb: no credentials found, logging offline (upload later with `wandb sync wandb/offline-run-*`)")
    return argv


def check_env_id(env_id: str, gym_packages: list[str] | None = None) -> None:
    """
    :param env_id: ``--env``
    :param gym_packages: ``--gym-packages`` (imported here first: they may register the env)
    :raises ConfigError: the id is not registered, naming the closest registered id
    """
    import difflib
    import importlib

    import gymnasium as gym
    import rl_zoo3.import_envs  # noqa: F401  (rl-zoo's own envs: CartPoleNoVel-v1, ...)

    for package in gym_packages or []:
        importlib.import_module(package)
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"Env id {env_id!r} is not registered in gymnasium (nor by rl-zoo or --gym-packages).{hint}")


def parse_overrides(items: list[str]) -> dict:
    """``-params key:value`` pairs, evaluated as rl-zoo's ``StoreDict`` does."""
    from rl_zoo3.utils import StoreDict

    namespace = argparse.Namespace()
    try:
        StoreDict(option_strings=["-params"], dest="params")(argparse.ArgumentParser(), namespace, items)
    except Exception as e:
        raise ConfigError(f"Cannot read -params {items} (expected key:value pairs): {e}") from e
    return getattr(namespace, "params", {}) or {}


def one_thread(argv: list[str]) -> list[str]:
    """
    ``--num-threads 1`` unless the command line sets it: torch's default thread count (one per core) slows the small
    policies of these algorithms on a CPU several times over (docs: README, "One torch thread").

    :param argv: An rl-zoo ``train``/``enjoy`` command line
    """
    if any(a == "--num-threads" or a.startswith("--num-threads=") for a in argv):
        return argv
    return [*argv, "--num-threads", "1"]


def _run(module: str, argv: list[str] | None, default_algo: str | None) -> None:
    argv = one_thread(sys.argv[1:] if argv is None else argv)
    try:
        argv = prepare_argv(argv, default_algo)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from e
    register()
    import importlib

    entry_point = importlib.import_module(f"rl_zoo3.{module}")
    sys.argv = [f"rl_zoo3.{module}", *argv]
    getattr(entry_point, module)()


def _tuning_experiment_manager() -> type:
    """
    rl-zoo's ``ExperimentManager`` whose ``-optimize`` removes the run folder its own set-up made and never used: the
    set-up (``setup_experiment``) creates ``logs/<algo>/<env>_<n>`` with a monitor file and an empty settings folder
    even for a study. Only this manager's own ``save_path`` is removed, and only when it holds nothing but monitor
    files, so workers sharing a log folder never touch each other's folders.
    """
    import shutil

    from rl_zoo3.exp_manager import ExperimentManager

    class TuningExperimentManager(ExperimentManager):
        def hyperparameters_optimization(self) -> None:
            try:
                super().hyperparameters_optimization()
            finally:
                folder = Path(self.save_path)
                files = [p for p in folder.rglob("*") if p.is_file()]
                if folder.is_dir() and all(p.name.endswith("monitor.csv") for p in files):
                    shutil.rmtree(folder, ignore_errors=True)

    return TuningExperimentManager


def train(argv: list[str] | None = None) -> None:
    """
    ``python -m sb3_reinforce.train``: rl-zoo's ``train`` with REINFORCE registered (``--algo reinforce``); with
    ``-optimize``, without the unused run folder rl-zoo's set-up leaves (:func:`_tuning_experiment_manager`: rl-zoo's
    ``train`` module builds its ``ExperimentManager`` by that name, so the subclass takes its place there).
    """
    import rl_zoo3.train

    rl_zoo3.train.ExperimentManager = _tuning_experiment_manager()  # type: ignore[misc, assignment]
    _run("train", argv, default_algo="reinforce")


def _algo_of(argv: list[str]) -> str | None:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--algo", default=None)
    return parser.parse_known_args(argv)[0].algo


@contextlib.contextmanager
def _masked_play(algo: str | None, module: Any = None) -> Iterator[None]:
    """
    While ``enjoy``/``record_video`` plays a masked algo, ``rl_zoo3.ALGOS[algo]`` loads the model acting with the
    masks of the env played (:func:`sb3_reinforce.zoo.masking.masked_loader`); ``module``'s ``create_test_env`` (rl-zoo's
    function, by the name the script calls it) records that env, for scripts that do not pass it to ``load``.
    """
    import rl_zoo3

    from sb3_reinforce.zoo import masking

    if algo not in ALGOS or not masking.takes_masks(ALGOS[algo].algorithm):
        yield
        return
    played: list[Any] = []
    create_test_env = module.create_test_env if module is not None else None

    def recording_create_test_env(*args: Any, **kwargs: Any) -> Any:
        env = create_test_env(*args, **kwargs)  # type: ignore[misc]
        played.append(env)
        return env

    if module is not None:
        module.create_test_env = recording_create_test_env
    rl_zoo3.ALGOS[algo] = masking.masked_loader(ALGOS[algo].algorithm, played)
    try:
        yield
    finally:
        rl_zoo3.ALGOS[algo] = ALGOS[algo].algorithm
        if module is not None:
            module.create_test_env = create_test_env


def enjoy(argv: list[str] | None = None) -> None:
    """
    ``python -m sb3_reinforce.enjoy``: rl-zoo's ``enjoy`` with REINFORCE registered; a masked algo acts with the masks
    of the env it plays (:func:`_masked_play`).
    """
    argv = one_thread(sys.argv[1:] if argv is None else argv)
    if not any(a == "--algo" or a.startswith("--algo=") for a in argv):
        argv = ["--algo", "reinforce", *argv]
    register()
    import rl_zoo3.enjoy

    sys.argv = ["rl_zoo3.enjoy", *argv]
    with _masked_play(_algo_of(argv), rl_zoo3.enjoy):
        rl_zoo3.enjoy.enjoy()


def _run_script(module: str, argv: list[str] | None) -> None:
    """Run one of rl-zoo's scripts that have no function to call (only a ``__main__`` block), REINFORCE registered."""
    import runpy

    import torch as th

    argv = sys.argv[1:] if argv is None else argv
    th.set_num_threads(1)  # these scripts have no --num-threads; see one_thread()
    register()
    sys.argv = [module, *argv]
    with _masked_play(_algo_of(argv)):  # rl-zoo's record_video gives load() the env it plays
        runpy.run_module(module, run_name="__main__")


def record_video(argv: list[str] | None = None) -> None:
    """``sb3-reinforce record_video``: rl-zoo's ``record_video`` with REINFORCE registered."""
    _run_script("rl_zoo3.record_video", argv)


def push_to_hub(argv: list[str] | None = None) -> None:
    """
    ``sb3-reinforce push_to_hub``: rl-zoo's ``push_to_hub`` (an agent to the Hugging Face Hub), REINFORCE registered.

    rl-zoo 2.9's script imports ``generate_metadata`` from ``huggingface_sb3``, which version 3 no longer has: where
    the installed pair does not fit, this stops with one line saying so instead of a traceback.
    """
    try:
        from huggingface_sb3.push_to_hub import generate_metadata  # noqa: F401  (what rl-zoo's script imports)
    except ImportError as e:
        print(
            f"error: rl-zoo's push_to_hub cannot run with the installed huggingface_sb3 ({e}); publish with "
            "huggingface_sb3.package_to_hub() from Python, or install a huggingface_sb3 that provides generate_metadata",
            file=sys.stderr,
        )
        raise SystemExit(1) from e
    _run_script("rl_zoo3.push_to_hub", argv)


def load_from_hub(argv: list[str] | None = None) -> None:
    """``sb3-reinforce load_from_hub``: rl-zoo's ``load_from_hub`` (an agent from the Hub), REINFORCE registered."""
    _run_script("rl_zoo3.load_from_hub", argv)
