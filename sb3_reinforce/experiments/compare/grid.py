"""
The comparison grid: which (algo, env, seed) runs to make, with which config and budget, checked up front.

Everything that can be wrong with the command line (an unknown algo or env, an env missing from an algo's
config, a bad config entry, an unwritable output folder, results in the output folder made with other
settings) raises :class:`GridError` here, before any training starts.
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

# Step budget per env when --n-timesteps is not given (the same for every algo)
DEFAULT_BUDGETS = {
    "CartPole-v1": 200_000,
    "Acrobot-v1": 300_000,
    "Pendulum-v1": 300_000,
    "LunarLander-v3": 500_000,
}
# Threshold for envs whose gymnasium spec has no reward_threshold
EXTRA_THRESHOLDS = {"Pendulum-v1": -200.0}
# Many machines (sb3_reinforce.experiments.compare.cluster): seconds between two heartbeats of a training worker,
# seconds without one after which the worker counts as lost and its cell is queued again, and how many times
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 60
MAX_RETRY = 3
# The final model is evaluated on envs seeded from this offset + the run's seed (training uses seed .. seed + n_envs - 1)
FINAL_EVAL_SEED_OFFSET = 1_000_000


class GridError(ValueError):
    """A command line that cannot give a valid comparison (reported before any training)."""


@dataclass
class RunSpec:
    """
    Everything one run needs, written to ``spec.json`` in its folder and read by the run's own process.

    :param algo: Algo name (``reinforce``, ``reinforce_vr`` or a key of ``rl_zoo3.ALGOS``)
    :param env: Gymnasium env id
    :param seed: Seed of the run (its index in the grid)
    :param out: The comparison's output folder
    :param comparison: Name of the comparison (wandb group)
    :param config: rl-zoo config file of the algo
    :param n_timesteps: Step budget
    :param eval_freq: Evaluate every this many env steps
    :param n_eval_episodes: Episodes per evaluation
    :param n_eval_envs: Envs of the evaluation VecEnv (also of the final model's evaluation)
    :param final_eval_episodes: Episodes of the final model's evaluation, with deterministic and with sampled actions
    :param hyperparams: ``--params`` overrides of the config entry
    :param threshold: Return at which the env counts as solved (None: none known)
    :param wandb_project: wandb project (None: no wandb)
    :param entry: The config entry with the overrides applied (to detect results made with other settings)
    :param attempt: Set on the copy of the spec an attempt trains with (:meth:`attempt_of`): the attempt's own folder
    """

    algo: str
    env: str
    seed: int
    out: str
    comparison: str
    config: str
    n_timesteps: int
    eval_freq: int
    n_eval_episodes: int
    n_eval_envs: int
    final_eval_episodes: int = 100
    hyperparams: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    wandb_project: str | None = None
    entry: dict[str, Any] = field(default_factory=dict)
    attempt: str | None = None

    @property
    def run_dir(self) -> Path:
        """The run's folder: ``runs/<algo>/<env>/seed_<k>`` once published, ``.seed_<k>.<attempt>`` while an attempt trains."""
        name = f"seed_{self.seed}"
        return Path(self.out) / "runs" / self.algo / self.env / (name if self.attempt is None else f".{name}.{self.attempt}")

    def attempt_of(self, attempt: str) -> RunSpec:
        """
        This run as trained by one attempt, in a folder of its own beside the run's folder, which the attempt renames
        to the run's folder when it is done (:func:`publish`): two attempts never write in the same folder.

        :param attempt: A name unique to the attempt (``local``, ``trial-12``)
        """
        return replace(self, attempt=attempt)

    @property
    def result_path(self) -> Path:
        return self.run_dir / "result.json"

    @property
    def name(self) -> str:
        return f"{self.algo} {self.env} seed {self.seed}"

    @property
    def final_eval_seed(self) -> int:
        """Seed of the final model's evaluation envs: far from every training and evaluation seed of the grid."""
        return FINAL_EVAL_SEED_OFFSET + self.seed

    def result_header(self) -> dict[str, Any]:
        """The fields that open this run's ``result.json``, whatever its outcome."""
        return {
            "algo": self.algo,
            "env": self.env,
            "seed": self.seed,
            "comparison": self.comparison,
            "n_timesteps": self.n_timesteps,
            "threshold": self.threshold,
            "settings": self.settings(),
        }

    def settings(self) -> dict[str, Any]:
        """What must match for an existing result to count as this run's result."""
        return {
            "n_timesteps": self.n_timesteps,
            "eval_freq": self.eval_freq,
            "n_eval_episodes": self.n_eval_episodes,
            "n_eval_envs": self.n_eval_envs,
            "final_eval_episodes": self.final_eval_episodes,
            "entry": json.loads(json.dumps(self.entry, default=str)),
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        return cls(**json.loads(text))


def write_json_atomic(path: Path, content: Any) -> None:
    """
    Write JSON so that ``path`` either does not exist or holds the complete content (tmp file + ``os.replace``).

    :param path: Destination
    :param content: JSON-serializable object
    """
    write_atomic(path, json.dumps(content, indent=2, default=str).encode())


def write_atomic(path: Path, data: bytes) -> None:
    """
    Write bytes atomically (tmp file in the same folder, fsync, ``os.replace``).

    :param path: Destination
    :param data: Content
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def publish(attempt_dir: Path, run_dir: Path) -> bool:
    """
    Make an attempt's finished folder the run's folder, unless another attempt did so first: one atomic
    ``os.rename``, which fails when the run's folder exists (two attempts of a run never both publish).

    :param attempt_dir: The attempt's folder (its ``result.json`` written)
    :param run_dir: The run's folder
    :return: True if this attempt's folder is now the run's folder
    """
    if run_dir.exists():
        return False
    try:
        os.rename(attempt_dir, run_dir)
    except OSError:  # the run's folder appeared in between (ENOTEMPTY/EEXIST)
        return False
    return True


def read_result(path: Path) -> dict[str, Any] | None:
    """The content of a ``result.json``, or None if there is none (or it cannot be read)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def threshold_of(env_id: str) -> float | None:
    """The env's threshold: gymnasium's ``spec.reward_threshold``, else :data:`EXTRA_THRESHOLDS`, else None."""
    import gymnasium as gym

    threshold = gym.spec(env_id).reward_threshold
    if threshold is None:
        threshold = EXTRA_THRESHOLDS.get(env_id)
    return None if threshold is None else float(threshold)


def config_of(algo: str) -> Path:
    """
    The config file of an algo: ``zoo_configs/`` for REINFORCE's names, rl-zoo's ``hyperparams/`` otherwise.

    :param algo: A registered algo name
    """
    from sb3_reinforce import zoo

    if algo in zoo.ALGOS:
        return zoo.default_config(algo)
    import rl_zoo3

    return Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo}.yml"


def _split_algo_item(item: str, algos: list[str], flag: str, what: str) -> tuple[str, str]:
    """``ALGO:REST`` of a command-line item whose ALGO must be a compared algo."""
    algo, sep, rest = item.partition(":")
    if not sep or algo not in algos or not rest:
        raise GridError(f"{flag} {item!r}: expected ALGO:{what} with ALGO one of {', '.join(algos)}")
    return algo, rest


def parse_params(items: list[str], algos: list[str]) -> dict[str, dict[str, Any]]:
    """
    ``--params ALGO:KEY:VALUE`` overrides, per algo (the value is evaluated as rl-zoo's ``-params`` does).

    :param items: The command line items
    :param algos: The compared algos
    :return: algo -> {key: value}
    """
    from sb3_reinforce.zoo import parse_overrides
    from sb3_reinforce.zoo.config import ConfigError

    overrides: dict[str, dict[str, Any]] = {}
    for item in items:
        algo, rest = _split_algo_item(item, algos, "--params", "KEY:VALUE")
        try:
            overrides.setdefault(algo, {}).update(parse_overrides([rest]))
        except ConfigError as e:
            raise GridError(str(e)) from e
    return overrides


def parse_conf_files(items: list[str], algos: list[str]) -> dict[str, Path]:
    """
    The config file of every algo: ``--conf-file ALGO:FILE`` where given, else :func:`config_of`.

    :param items: The command line items
    :param algos: The compared algos
    :return: algo -> rl-zoo YAML config file
    """
    configs = {algo: config_of(algo) for algo in algos}
    for item in items:
        algo, path = _split_algo_item(item, algos, "--conf-file", "FILE")
        configs[algo] = Path(path).resolve()
    return configs


def check_out_dir(out: Path) -> None:
    """
    Create the output folder if needed and check that files can be written in it.

    :raises GridError: if it cannot be created or written
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-"):
            pass
    except OSError as e:
        raise GridError(f"Output folder {out} is not writable: {e.strerror or e}") from e


def _check_counts(seeds: int, n_timesteps: int | None, evaluation: dict[str, int]) -> None:
    """Seeds, budget and evaluation settings must be positive."""
    if seeds < 1:
        raise GridError(f"--seeds must be >= 1, got {seeds}")
    if n_timesteps is not None and n_timesteps < 1:
        raise GridError(f"--n-timesteps must be >= 1, got {n_timesteps}")
    if min(evaluation.values()) < 1:
        raise GridError("--n-evals, --eval-episodes, --n-eval-envs and --final-eval-episodes must be >= 1")


def _known(name: str, known: list[str], what: str, note: str = "", tail: str = "") -> None:
    """
    Raise a :class:`GridError` naming the closest known name when ``name`` is not one of ``known``.

    :param note: Said right after the name
    :param tail: Said at the end of the message
    """
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise GridError(f"Unknown {what} {name!r}{note}.{hint}{tail}")


def _check_names(algos: list[str], envs: list[str]) -> None:
    """At least one algo and env, no duplicates, every algo registered in rl-zoo, every env in gymnasium."""
    import gymnasium as gym
    import rl_zoo3
    import rl_zoo3.import_envs  # rl-zoo's extra envs, as its train script sees them

    if not algos or not envs:
        raise GridError("Give at least one algo (--algos) and one env (--envs)")
    for what, items in (("algo", algos), ("env", envs)):
        duplicates = sorted({x for x in items if items.count(x) > 1})
        if duplicates:
            raise GridError(f"Duplicate {what}(s): {', '.join(duplicates)}")
    for algo in algos:
        _known(algo, list(rl_zoo3.ALGOS), "algo", tail=f" Known: {', '.join(sorted(rl_zoo3.ALGOS))}")
    for env_id in envs:
        _known(env_id, list(gym.registry), "env id", note=" (not in gymnasium's registry)")


def load_checked_entry(algo: str, env_id: str, config: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """
    An algo's config entry for an env with the ``--params`` overrides applied, checked as the run will read it
    (REINFORCE's entries fully, by :func:`sb3_reinforce.zoo.config.validate_entry`; the others for ``n_timesteps``).

    :raises GridError: naming the algo, the env and the file
    """
    from sb3_reinforce import zoo
    from sb3_reinforce.zoo.config import ConfigError, load_entry, validate_entry

    try:
        entry = {**load_entry(config, env_id), **overrides}
        algorithm = zoo.reinforce_class(algo)
        if algorithm is not None:
            validate_entry(entry, env_id, config, overrides, algorithm, overrides_flag="--params")
    except ConfigError as e:
        raise GridError(f"Algo {algo!r}: {e}") from e
    if "n_timesteps" not in entry:
        raise GridError(f"Algo {algo!r}: no 'n_timesteps' in the entry for {env_id!r} in {config}")
    return entry


def budget_of(env_id: str, n_timesteps: int | None, entries: list[dict[str, Any]]) -> int:
    """
    The step budget of an env, the same for every algo: ``--n-timesteps`` when given; else, for a single algo (a
    measurement of one config), its entry's own ``n_timesteps``, as ``train`` would use; else
    :data:`DEFAULT_BUDGETS`, or the largest ``n_timesteps`` of the compared algos' entries for another env.

    :param env_id: Gymnasium env id
    :param n_timesteps: ``--n-timesteps``
    :param entries: The compared algos' config entries for the env
    """
    if n_timesteps is not None:
        return n_timesteps
    if len(entries) == 1:
        return int(entries[0]["n_timesteps"])
    return DEFAULT_BUDGETS.get(env_id) or max(int(entry["n_timesteps"]) for entry in entries)


def build_grid(
    algos: list[str],
    envs: list[str],
    seeds: int,
    out: Path,
    comparison: str,
    n_timesteps: int | None = None,
    n_evals: int = 20,
    n_eval_episodes: int = 10,
    n_eval_envs: int = 5,
    params: list[str] | None = None,
    wandb_project: str | None = None,
    final_eval_episodes: int = 100,
    conf_files: list[str] | None = None,
    own_budgets: bool = False,
    first_seed: int = 0,
) -> list[RunSpec]:
    """
    Check the command line and list the runs of the comparison (algo-major, then env, then seed).

    :param algos: Algo names
    :param envs: Gymnasium env ids
    :param seeds: Number of seeds (seeds ``first_seed`` .. ``first_seed + seeds - 1``)
    :param out: Output folder (created, must be writable)
    :param comparison: Name of the comparison
    :param n_timesteps: Step budget for every env (None: :func:`budget_of`)
    :param n_evals: Evaluations per run (every ``budget // n_evals`` steps)
    :param n_eval_episodes: Episodes per evaluation
    :param n_eval_envs: Envs of the evaluation VecEnv
    :param params: ``ALGO:KEY:VALUE`` overrides
    :param wandb_project: wandb project (None: no wandb)
    :param final_eval_episodes: Episodes of the final model's evaluation (each way: deterministic, sampled)
    :param conf_files: ``ALGO:FILE`` config files replacing an algo's default one
    :param own_budgets: Train each (algo, env) for its own config entry's ``n_timesteps``, as rl-zoo's ``train``
        would, instead of one budget per env (not with ``n_timesteps``)
    :param first_seed: The first seed (seeds held out from tuning, e.g. 10 .. 19, without renumbering)
    :raises GridError: anything that would make a run unusable, with a message naming it
    """
    from sb3_reinforce import zoo

    zoo.register()
    evaluation = dict(n_evals=n_evals, n_eval_episodes=n_eval_episodes, n_eval_envs=n_eval_envs)
    _check_counts(seeds, n_timesteps, {**evaluation, "final_eval_episodes": final_eval_episodes})
    if first_seed < 0:
        raise GridError(f"--first-seed must be >= 0, got {first_seed}")
    _check_names(algos, envs)
    overrides = parse_params(params or [], algos)
    configs = parse_conf_files(conf_files or [], algos)
    entries = {
        (algo, env_id): load_checked_entry(algo, env_id, configs[algo], overrides.get(algo, {}))
        for algo in algos
        for env_id in envs
    }
    if own_budgets and n_timesteps is not None:
        raise GridError("--own-budgets and --n-timesteps exclude each other: each run's budget comes from its config entry")
    budgets = {
        (algo, env_id): budget_of(
            env_id, n_timesteps, [entries[algo, env_id]] if own_budgets else [entries[a, env_id] for a in algos]
        )
        for algo in algos
        for env_id in envs
    }
    check_out_dir(out)
    specs = [
        RunSpec(
            algo=algo,
            env=env_id,
            seed=seed,
            out=str(out),
            comparison=comparison,
            config=str(configs[algo]),
            n_timesteps=budgets[algo, env_id],
            eval_freq=max(budgets[algo, env_id] // n_evals, 1),
            n_eval_episodes=n_eval_episodes,
            n_eval_envs=n_eval_envs,
            final_eval_episodes=final_eval_episodes,
            hyperparams=overrides.get(algo, {}),
            threshold=threshold_of(env_id),
            wandb_project=wandb_project,
            entry={k: v for k, v in entries[algo, env_id].items() if k != "n_timesteps"},
        )
        for algo in algos
        for env_id in envs
        for seed in range(first_seed, first_seed + seeds)
    ]
    check_existing(specs)
    return specs


def check_existing(specs: list[RunSpec]) -> None:
    """
    Refuse to mix in finished results that were made with other settings (budget, evaluation, config entry).

    :raises GridError: naming the run folder and the differing settings
    """
    for spec in specs:
        result = read_result(spec.result_path)
        if result is None:
            continue
        old, new = result.get("settings", {}), spec.settings()
        if old != new:
            diff = ", ".join(f"{k}: {old.get(k)!r} there, {new[k]!r} now" for k in new if old.get(k) != new[k])
            raise GridError(
                f"{spec.run_dir} holds a result made with other settings ({diff}). "
                "Use another --out, or delete that folder to train it again."
            )
