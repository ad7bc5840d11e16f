"""The rl-zoo bridge: CLI, configs, bad input, tuning with a shared Optuna storage, wandb offline, Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import yaml

import sb3_reinforce.zoo as zoo
from sb3_reinforce import REINFORCE, RecurrentREINFORCE
from sb3_reinforce.zoo.config import ConfigError, load_entry, validate_entry
from sb3_reinforce.zoo.hyperparams import sample_reinforce_params, sample_reinforce_vr_params
from sb3_reinforce.zoo.storage import open_storage
from tests.cli import ROOT, default_sigint, run_module

# Where the value-baseline MuJoCo line departs from the Tianshou-settings line beyond the baseline itself
MUJOCO_VALUE_LINE_CHANGES: dict[str, dict] = {"Swimmer-v5": {"gamma": 0.999}}


def run(module, *args, cwd, env=None, timeout=300, check=True):
    return run_module(module, *args, cwd=cwd, env=env, timeout=timeout, check=check)


def test_register_adds_reinforce_to_rl_zoo():
    import rl_zoo3
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER, HYPERPARAMS_SAMPLER

    zoo.register()
    assert rl_zoo3.ALGOS["reinforce"] is REINFORCE and rl_zoo3.ALGOS["reinforce_vr"] is REINFORCE
    assert HYPERPARAMS_SAMPLER["reinforce"] is sample_reinforce_params
    assert "reinforce_vr" in HYPERPARAMS_CONVERTER
    assert zoo.default_config("reinforce") == ROOT / "zoo_configs" / "reinforce.yml"


@pytest.mark.parametrize("config", ["reinforce.yml", "reinforce_vr.yml"])
def test_shipped_configs_are_valid(config):
    path = ROOT / "zoo_configs" / config
    entries = yaml.safe_load(path.read_text())
    assert {"CartPole-v1", "Acrobot-v1", "LunarLander-v3", "Pendulum-v1"} <= set(entries)
    for env_id in entries:
        validate_entry(load_entry(path, env_id), env_id, path)
    vanilla = yaml.safe_load((ROOT / "zoo_configs" / "reinforce.yml").read_text())
    for entry in vanilla.values():  # the vanilla set stays vanilla
        assert entry.get("gamma", 1.0) == 1.0 and entry.get("baseline") is None and not entry.get("reward_to_go")
        assert not (entry.get("normalize_advantage") or entry.get("normalize_returns") or entry.get("ent_coef"))
        assert entry.get("max_grad_norm") is None


def test_mujoco_value_line_is_the_tianshou_line_with_a_value_baseline():
    """zoo_configs/reinforce_mujoco_value.yml: valid, and each entry is reinforce_vr's MuJoCo entry plus the baseline."""
    path = ROOT / "zoo_configs" / "reinforce_mujoco_value.yml"
    value_line = yaml.safe_load(path.read_text())
    tianshou_line = yaml.safe_load((ROOT / "zoo_configs" / "reinforce_vr.yml").read_text())
    assert len(value_line) == 9
    for env_id, entry in value_line.items():
        validate_entry(load_entry(path, env_id), env_id, path)
        assert entry == {**tianshou_line[env_id], "baseline": "value", **MUJOCO_VALUE_LINE_CHANGES.get(env_id, {})}


def test_train_enjoy_and_builtin_algo_through_the_same_command(tmp_path):
    run(
        "sb3_reinforce.train",
        "--algo",
        "reinforce",
        "--env",
        "CartPole-v1",
        "-n",
        3000,
        "--seed",
        3,
        "-f",
        "logs",
        "--eval-freq",
        1000,
        "--eval-episodes",
        2,
        "--save-freq",
        1000,
        "-params",
        "n_episodes:4",
        "n_envs:2",
        "--vec-env",
        "subproc",
        "--device",
        "cpu",
        "-P",
        cwd=tmp_path,
    )
    run_dir = tmp_path / "logs" / "reinforce" / "CartPole-v1_1"
    for name in ("CartPole-v1.zip", "best_model.zip", "evaluations.npz", "0.monitor.csv", "CartPole-v1/config.yml"):
        assert (run_dir / name).exists(), name
    assert any(p.name.startswith("rl_model_") for p in run_dir.iterdir())
    config = dict(yaml.unsafe_load((run_dir / "CartPole-v1" / "config.yml").read_text()))  # rl-zoo dumps an OrderedDict
    assert config["n_episodes"] == 4 and config["n_envs"] == 2
    model = REINFORCE.load(run_dir / "CartPole-v1.zip")
    assert model.n_episodes == 4 and model.num_timesteps >= 3000

    result = run(
        "sb3_reinforce.enjoy",
        "--algo",
        "reinforce",
        "--env",
        "CartPole-v1",
        "-f",
        "logs",
        "-n",
        200,
        "--no-render",
        cwd=tmp_path,
    )
    assert "Mean reward" in result.stdout or "Episode Reward" in result.stdout

    run(
        "sb3_reinforce.train",
        "--algo",
        "a2c",
        "--env",
        "CartPole-v1",
        "-n",
        500,
        "-f",
        "logs",
        "--eval-freq",
        -1,
        cwd=tmp_path,
    )
    assert (tmp_path / "logs" / "a2c" / "CartPole-v1_1" / "CartPole-v1.zip").exists()
    # rl-zoo's own tools read the layout
    from rl_zoo3.utils import get_latest_run_id

    assert get_latest_run_id(str(tmp_path / "logs" / "reinforce"), "CartPole-v1") == 1


def write_config(tmp_path, entry, env_id="CartPole-v1"):
    path = tmp_path / "custom.yml"
    path.write_text(yaml.safe_dump({env_id: entry}))
    return path


@pytest.mark.parametrize(
    "entry,env_id,message",
    [
        ({"n_timesteps": 1000, "n_episode": 4}, "CartPole-v1", "Key 'n_episode' .*unknown key. Did you mean 'n_episodes'"),
        ({"n_timesteps": 1000}, "Acrobot-v1", "No entry for env 'Acrobot-v1'"),
        ({"n_timesteps": "1e6"}, "CartPole-v1", "Key 'n_timesteps' .*must be a number"),
        ({"n_timesteps": 1000, "gamma": 2}, "CartPole-v1", r"Key 'gamma' .*gamma must be a number in \[0, 1\]"),
        ({"n_timesteps": 1000, "learning_rate": "cos_0.1"}, "CartPole-v1", "Key 'learning_rate'"),
        (
            {"n_timesteps": 1000, "policy_kwargs": "dict(net_arch=[64"},
            "CartPole-v1",
            "Key 'policy_kwargs' .*cannot be evaluated",
        ),
        ({"n_timesteps": 1000, "policy_kwargs": "dict(vf_arch=[3])"}, "CartPole-v1", "unknown policy argument"),
        ({"n_timesteps": 1000, "reward_to_go": "yes"}, "CartPole-v1", "Key 'reward_to_go' .*true or false"),
    ],
)
def test_bad_config_fails_before_training_naming_key_env_and_file(tmp_path, entry, env_id, message):
    path = write_config(tmp_path, entry)
    with pytest.raises(ConfigError, match=message) as info:
        zoo.prepare_argv(["--env", env_id, "-conf", str(path), "-f", str(tmp_path / "logs")])
    assert str(path) in str(info.value) and env_id in str(info.value)


def test_bad_config_on_the_command_line_exits_cleanly(tmp_path):
    path = write_config(tmp_path, {"n_timesteps": 1000, "n_episodes": 0})
    result = run("sb3_reinforce.train", "--env", "CartPole-v1", "-conf", path, "-f", "logs", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "n_episodes must be an integer >= 1" in result.stderr and str(path) in result.stderr
    assert not (tmp_path / "logs").exists(), "nothing may start before the config is checked"
    with pytest.raises(ConfigError, match="Key 'n_episodes'"):
        zoo.prepare_argv(["--env", "CartPole-v1", "-params", "n_episodes:-1"])
    with pytest.raises(ConfigError, match="Cannot read config file"):
        zoo.prepare_argv(["--env", "CartPole-v1", "-conf", str(tmp_path / "missing.yml")])


@pytest.mark.parametrize("sampler", [sample_reinforce_params, sample_reinforce_vr_params])
def test_every_sampled_configuration_builds_and_trains(sampler):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(12):
        trial = study.ask()
        params = sampler(trial, 1, 1, {})
        model = REINFORCE("MlpPolicy", "Pendulum-v1" if trial.number % 2 else "CartPole-v1", seed=0, **params)
        model.learn(300)
        study.tell(trial, 0.0)
    vr_keys = {"reward_to_go", "baseline", "normalize_advantage", "gamma", "ent_coef", "max_grad_norm", "target_kl"}
    assert (vr_keys <= set(study.trials[0].params)) == (sampler is sample_reinforce_vr_params)


@pytest.mark.parametrize("kind", ["journal", "postgresql"])
def test_distributed_tuning_two_workers_share_one_storage(tmp_path, kind, request):
    """Two tuning workers started together on a journal file, or on an empty PostgreSQL database (a real server)."""
    url = (
        "study.log" if kind == "journal" else request.getfixturevalue("postgres").create_database(f"tune_{tmp_path.name[-8:]}")
    )
    args = [
        "--algo",
        "reinforce",
        "--env",
        "CartPole-v1",
        "-optimize",
        "--storage",
        url,
        "--study-name",
        "shared",
        "--n-trials",
        2,
        "-n",
        1000,
        "--n-evaluations",
        1,
        "--eval-episodes",
        2,
        "--sampler",
        "random",
        "--pruner",
        "none",
        "--no-optim-plots",
        "-f",
        "logs",
    ]
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "sb3_reinforce.train", *map(str, args), "--seed", str(seed)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in (1, 2)
    ]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    study = optuna.load_study(study_name="shared", storage=open_storage(url if kind == "postgresql" else str(tmp_path / url)))
    complete = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    assert len(complete) == 4 and len({t.number for t in complete}) == 4
    assert {"learning_rate", "n_episodes", "net_arch", "activation_fn"} <= set(complete[0].params)
    # No stray run folder: rl-zoo's set-up makes one per worker (a monitor file, an empty settings folder), each removed
    assert not [p for p in (tmp_path / "logs/reinforce").iterdir() if p.is_dir()]
    # A trial's hyperparameters can be trained again from the study
    best = study.best_trial.number
    run(
        "sb3_reinforce.train",
        "--algo",
        "reinforce",
        "--env",
        "CartPole-v1",
        "--storage",
        url,
        "--study-name",
        "shared",
        "--trial-id",
        best if best else 1,
        "-n",
        200,
        "-f",
        "logs2",
        "--eval-freq",
        -1,
        cwd=tmp_path,
    )


def test_a_sampled_zero_entropy_bonus_drops_the_entry_entropy_floor():
    from sb3_reinforce.zoo.hyperparams import convert_reinforce_params

    entry = {"ent_coef": 5.0, "ent_floor": 0.1}  # the CartPoleNoVel-v1 entry's; the sampler replaces ent_coef
    for ent_coef, floor in ((0.0, None), (1e-3, 0.1)):
        kwargs = {**entry, **convert_reinforce_params({"ent_coef": ent_coef})}  # rl-zoo: entry updated by the sample
        assert kwargs["ent_floor"] == floor
        RecurrentREINFORCE("MlpLstmPolicy", "CartPole-v1", **{k: v for k, v in kwargs.items() if k != "policy_kwargs"})


def test_track_runs_wandb_offline_without_prompting(tmp_path):
    env = {"HOME": str(tmp_path), "WANDB_MODE": "", "WANDB_API_KEY": "", "WANDB_DIR": str(tmp_path)}
    result = run(
        "sb3_reinforce.train",
        "--env",
        "CartPole-v1",
        "-n",
        400,
        "-f",
        "logs",
        "--eval-freq",
        -1,
        "--track",
        "--wandb-project-name",
        "test",
        cwd=tmp_path,
        env=env,
        timeout=240,
    )
    assert "logging offline" in result.stdout
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].glob("*.wandb"))


def test_ctrl_c_saves_the_model(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sb3_reinforce.train",
            "--env",
            "CartPole-v1",
            "-n",
            str(10**8),
            "-f",
            "logs",
            "--eval-freq",
            "-1",
            "--seed",
            "0",
        ],
        cwd=tmp_path,
        env=env,
        preexec_fn=default_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    monitor = tmp_path / "logs" / "reinforce" / "CartPole-v1_1" / "0.monitor.csv"
    deadline = time.time() + 120
    while time.time() < deadline and (not monitor.exists() or len(monitor.read_text().splitlines()) < 20):
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        output = proc.communicate(timeout=300)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("training went on after SIGINT:\n" + proc.communicate()[0][-3000:])
    assert proc.returncode == 0, output[-3000:]
    saved = tmp_path / "logs" / "reinforce" / "CartPole-v1_1" / "CartPole-v1.zip"
    assert saved.exists(), output[-3000:]
    assert REINFORCE.load(saved).num_timesteps > 0


def test_reinforce_lstm_config_is_checked_with_its_own_arguments(tmp_path):
    path = write_config(
        tmp_path, {"n_timesteps": 1000, "policy": "MlpLstmPolicy", "policy_kwargs": "dict(lstm_hidden_size=8)"}
    )
    zoo.prepare_argv(["--algo", "reinforce_lstm", "--env", "CartPole-v1", "-conf", str(path)])
    with pytest.raises(ConfigError, match="unknown policy argument"):
        zoo.prepare_argv(["--algo", "reinforce", "--env", "CartPole-v1", "-conf", str(path), "-params", "policy:'MlpPolicy'"])
    with pytest.raises(ConfigError, match=r"Key 'policy' .*policy must be one of \['CnnLstmPolicy'"):
        zoo.prepare_argv(
            ["--algo", "reinforce_lstm", "--env", "CartPole-v1", "-conf", str(path), "-params", "policy:'MlpPolicy'"]
        )
    checked = [name for name in zoo.ALGOS if zoo.reinforce_class(name) is not None]  # all but ppo_mask (MaskablePPO)
    assert len(checked) == len(zoo.ALGOS) - 1 and zoo.reinforce_class("ppo_mask") is None
    for name in checked:
        for env_id in load_yaml_keys(zoo.default_config(name)):
            algorithm = zoo.reinforce_class(name)
            validate_entry(load_entry(zoo.default_config(name), env_id), env_id, zoo.default_config(name), None, algorithm)


def load_yaml_keys(path):
    return list(yaml.safe_load(path.read_text()))
