"""
Masked algorithms through rl-zoo: masks wherever rl-zoo evaluates or plays (evaluation during training, -optimize's
pruner evaluations, enjoy, record_video, compare), the mask wrapper for envs that report masks in ``info``, and the
masked POMDP the package registers. Every env here raises on an invalid action (``RaiseOnInvalidAction``), so a place
that plays without masks fails the test.
"""

import itertools
import json
import re

import gymnasium as gym
import numpy as np
import pytest
import yaml
from sb3_contrib import MaskablePPO
from stable_baselines3.common import evaluation
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env

import sb3_reinforce.zoo as zoo
from sb3_reinforce import MaskableRecurrentREINFORCE, MaskableREINFORCE, RecurrentREINFORCE
from sb3_reinforce.common.wrappers import InfoActionMasker
from sb3_reinforce.envs.taxi import HIDDEN, decode_observation
from sb3_reinforce.zoo import masking
from tests.cli import ROOT, run_module
from tests.envs import InvalidActionError, RaiseOnInvalidAction

STRICT = ["tests.envs.RaiseOnInvalidAction", "sb3_reinforce.common.wrappers.InfoActionMasker"]


def strict_env(env_id="Taxi-v4", n_envs=2, seed=0):
    return make_vec_env(env_id, n_envs=n_envs, seed=seed, wrapper_class=lambda e: InfoActionMasker(RaiseOnInvalidAction(e)))


def test_info_action_masker_reads_the_masks_the_env_reports():
    env = InfoActionMasker(gym.make("Taxi-v4"))
    with pytest.raises(RuntimeError, match="reset"):
        env.action_masks()
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(60):
        taxi = env.unwrapped
        expected = taxi.action_mask(taxi.s).astype(bool)
        assert np.array_equal(env.action_masks(), expected)
        _, _, terminated, truncated, _ = env.step(int(rng.choice(np.flatnonzero(expected))))
        if terminated or truncated:
            env.reset()
    with pytest.raises(KeyError, match=r"CartPole-v1 returned no info\['action_mask'\]"):
        InfoActionMasker(gym.make("CartPole-v1")).reset(seed=0)


def test_hidden_destination_is_taxi_with_the_destination_shown_once():
    taxi, hidden = gym.make("Taxi-v4"), gym.make("TaxiHiddenDest-v0")
    assert hidden.spec.max_episode_steps == 200 and hidden.observation_space == gym.spaces.Discrete(625)
    rng = np.random.default_rng(1)
    for episode in range(5):
        state, info = taxi.reset(seed=episode)
        obs, hidden_info = hidden.reset(seed=episode)
        assert decode_observation(obs) == tuple(taxi.unwrapped.decode(state))  # shown at the first step
        assert decode_observation(obs)[3] != HIDDEN
        done, steps = False, 0
        while not done:
            assert np.array_equal(info["action_mask"], hidden_info["action_mask"])
            action = int(rng.choice(np.flatnonzero(info["action_mask"])))
            state, reward, terminated, truncated, info = taxi.step(action)
            obs, hidden_reward, hidden_terminated, hidden_truncated, hidden_info = hidden.step(action)
            row, col, passenger, _ = taxi.unwrapped.decode(state)
            assert decode_observation(obs) == (row, col, passenger, HIDDEN)  # and hidden at every later step
            assert (reward, terminated, truncated) == (hidden_reward, hidden_terminated, hidden_truncated)
            done, steps = terminated or truncated, steps + 1
        assert steps <= 200


@pytest.mark.parametrize(
    "algorithm, policy",
    [(MaskableREINFORCE, "MlpPolicy"), (MaskableRecurrentREINFORCE, "MlpLstmPolicy"), (MaskablePPO, "MlpPolicy")],
)
def test_masked_evaluation_plays_only_valid_actions(algorithm, policy):
    model = algorithm(policy, strict_env(seed=1), seed=0)
    returns, lengths = masking.evaluate_policy(
        model, strict_env(seed=2), n_eval_episodes=4, deterministic=False, return_episode_rewards=True
    )
    assert len(returns) == 4 and sum(lengths) > 4
    with pytest.raises(InvalidActionError):  # the same evaluation without masks plays an invalid action
        evaluation.evaluate_policy(model, strict_env(seed=2), n_eval_episodes=4, deterministic=False)
    unmasked = RecurrentREINFORCE("MlpLstmPolicy", "Taxi-v4", seed=0)
    assert not masking.takes_masks(unmasked)
    with pytest.raises(ValueError, match="no action_masks"):  # a masked model on an env without masks
        masking.evaluate_policy(model, make_vec_env("Taxi-v4", n_envs=1), n_eval_episodes=1)


def test_masked_evaluation_carries_the_recurrent_state():
    model = MaskableRecurrentREINFORCE("MlpLstmPolicy", strict_env(seed=1), seed=0)
    calls = []

    class Spy:  # records the state each call gets and returns
        def predict(self, observation, state=None, episode_start=None, deterministic=False, action_masks=None):
            actions, new_state = model.predict(observation, state, episode_start, deterministic, action_masks=action_masks)
            calls.append((state, new_state, action_masks))
            return actions, new_state

    env = strict_env(seed=3)
    evaluation.evaluate_policy(masking.MaskedPredictor(Spy(), env), env, n_eval_episodes=2)
    assert calls[0][0] is None and len(calls) > 10
    for (_, returned, _), (given, _, masks) in itertools.pairwise(calls):
        assert given is returned and masks is not None  # each step starts from the previous step's memory


def test_evaluation_callbacks_use_masks_for_masked_models_only(tmp_path):
    model = MaskableREINFORCE("MlpPolicy", strict_env(seed=1), n_episodes=2, seed=0)
    callback = masking.ZooEvalCallback(
        strict_env(seed=2), eval_freq=100, n_eval_episodes=2, deterministic=False, log_path=str(tmp_path), verbose=0
    )
    model.learn(600, callback=callback)
    assert len(callback.evaluations_results) >= 2 and isinstance(callback.model, masking.MaskedPredictor)
    plain = EvalCallback(strict_env(seed=2), eval_freq=100, n_eval_episodes=2, deterministic=False)
    with pytest.raises(InvalidActionError):
        MaskableREINFORCE("MlpPolicy", strict_env(seed=1), n_episodes=2, seed=0).learn(600, callback=plain)
    unmasked = RecurrentREINFORCE("MlpLstmPolicy", "CartPole-v1", n_episodes=2, seed=0)
    callback = masking.ZooEvalCallback(make_vec_env("CartPole-v1", n_envs=1), eval_freq=100, n_eval_episodes=1)
    unmasked.learn(300, callback=callback)
    assert callback.model is unmasked  # every other model: SB3's EvalCallback as it is


def test_register_adds_the_masked_algorithms_and_masked_evaluations():
    import rl_zoo3
    import rl_zoo3.exp_manager
    from rl_zoo3.callbacks import TrialEvalCallback
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_SAMPLER

    zoo.register()
    assert rl_zoo3.ALGOS["reinforce_mask"] is MaskableREINFORCE
    assert rl_zoo3.ALGOS["reinforce_mask_lstm"] is MaskableRecurrentREINFORCE
    assert rl_zoo3.ALGOS["ppo_mask"] is MaskablePPO and HYPERPARAMS_SAMPLER["ppo_mask"] is HYPERPARAMS_SAMPLER["ppo"]
    assert issubclass(rl_zoo3.exp_manager.EvalCallback, masking.ZooEvalCallback)
    assert issubclass(rl_zoo3.exp_manager.TrialEvalCallback, TrialEvalCallback)
    for algo in ("reinforce_mask", "reinforce_mask_lstm", "ppo_mask"):
        assert zoo.default_config(algo).is_file()


def strict_config(tmp_path, algo, env_id, **extra):
    entry = yaml.safe_load(zoo.default_config(algo).read_text())[env_id]
    entry.update(env_wrapper=STRICT if "Taxi" in env_id else STRICT[:1], **extra)  # CueCorridor has action_masks()
    path = tmp_path / f"{algo}.yml"
    path.write_text(yaml.safe_dump({env_id: entry}))
    return path


@pytest.mark.parametrize(
    "algo, env_id, extra",
    [
        ("reinforce_mask", "Taxi-v4", {"n_envs": 2}),
        ("reinforce_mask_lstm", "CueCorridor-v0", {"n_envs": 2}),
        ("ppo_mask", "Taxi-v4", {"n_envs": 2, "n_steps": 64, "batch_size": 64}),
    ],
)
def test_masked_algos_train_tune_enjoy_and_record_through_rl_zoo(tmp_path, algo, env_id, extra):
    conf = strict_config(tmp_path, algo, env_id, **extra)
    common = ["--algo", algo, "--env", env_id, "-f", "logs", "--seed", 0]
    # evaluation during training (every 300 steps, sampled actions: unmasked, the first invalid action fails the run)
    run_module(
        "sb3_reinforce.train", *common, "-conf", conf, "-n", 1200, "--eval-freq", 300, "--eval-episodes", 2, cwd=tmp_path
    )
    run_dir = tmp_path / "logs" / algo / f"{env_id}_1"
    evaluations = np.load(run_dir / "evaluations.npz")
    assert len(evaluations["timesteps"]) >= 2 and (run_dir / f"{env_id}.zip").is_file()
    # enjoy and record_video play the final model, sampling its actions
    played = run_module("sb3_reinforce.enjoy", *common, "-n", 300, "--no-render", "--stochastic", cwd=tmp_path)
    assert "Episode Reward" in played.stdout
    run_module("sb3_reinforce.cli", "record_video", *common, "-n", 40, "--stochastic", "-o", "videos", cwd=tmp_path)
    assert list((tmp_path / "videos").glob("*.mp4"))
    # -optimize: the pruner's evaluations play (two trials, each evaluated twice)
    tuned = run_module(
        "sb3_reinforce.train",
        *common,
        "-conf",
        conf,
        "-optimize",
        "--n-trials",
        2,
        "--n-jobs",
        1,
        "-n",
        600,
        "--n-evaluations",
        2,
        "--eval-episodes",
        2,
        "--sampler",
        "random",
        "--pruner",
        "none",
        cwd=tmp_path,
    )
    assert re.search(r"Number of finished trials:\s+2\n", tuned.stdout), tuned.stdout[-2000:]


def test_compare_masked_reinforce_with_maskable_ppo(tmp_path):
    from sb3_reinforce.experiments.compare.grid import build_grid
    from sb3_reinforce.experiments.compare.runner import train_one

    confs = [
        f"reinforce_mask:{strict_config(tmp_path, 'reinforce_mask', 'Taxi-v4', n_envs=2)}",
        f"ppo_mask:{strict_config(tmp_path, 'ppo_mask', 'Taxi-v4', n_envs=2, n_steps=64, batch_size=64)}",
    ]
    settings = dict(n_timesteps=600, n_evals=2, n_eval_episodes=2, n_eval_envs=2, final_eval_episodes=3)
    grid = build_grid(["reinforce_mask", "ppo_mask"], ["Taxi-v4"], 1, tmp_path, "x", conf_files=confs, **settings)
    for spec in grid:
        result = json.loads(json.dumps(train_one(spec)))
        assert result["status"] == "ok" and len(result["final_eval"]["stochastic"]["returns"]) == 3, spec.algo


def test_masked_config_entries_are_checked(tmp_path):
    conf = strict_config(tmp_path, "reinforce_mask", "Taxi-v4", n_episodes=0)
    result = run_module(
        "sb3_reinforce.train", "--algo", "reinforce_mask", "--env", "Taxi-v4", "-conf", conf, cwd=tmp_path, check=False
    )
    assert result.returncode == 2 and "n_episodes" in result.stderr and str(conf) in result.stderr


@pytest.mark.parametrize("config", ["reinforce_mask.yml", "reinforce_mask_lstm.yml", "ppo_mask.yml"])
def test_shipped_masked_configs_name_their_mask_wrapper(config):
    entries = yaml.safe_load((ROOT / "zoo_configs" / config).read_text())
    for env_id, entry in entries.items():  # Taxi's masks are in info; CueCorridor has action_masks()
        wrappers = entry.get("env_wrapper", [])
        assert ("sb3_reinforce.common.wrappers.InfoActionMasker" in wrappers) == env_id.startswith("Taxi"), env_id


def test_cue_corridor_needs_masks_and_memory():
    from sb3_reinforce.envs.corridor import CueCorridor

    env = gym.make("CueCorridor-v0").unwrapped
    assert isinstance(env, CueCorridor) and env.length == 2 and gym.spec("CueCorridor-v0").reward_threshold == 0.9
    rng = np.random.default_rng(0)

    def play(choose, episodes=400):
        total = 0.0
        for episode in range(episodes):
            obs, _ = env.reset(seed=episode)
            cue_seen, done, steps = obs // (env.length + 2), False, 0
            assert cue_seen < env.n_doors and obs % (env.length + 2) == 0  # the cue, at the start
            while not done:
                mask = env.action_masks()
                at_door = steps == env.length + 1
                assert mask[env.n_moves :].all() == at_door and mask.sum() == (env.n_doors if at_door else env.n_valid)
                obs, reward, done, truncated, _ = env.step(choose(mask, cue_seen, at_door))
                steps += 1
                assert not truncated and (done or obs // (env.length + 2) == env.n_doors)  # hidden later
            total += reward
        return total / episodes

    # masks and memory: every episode; masks only (a fixed door): 1/n_doors; memory only (any move): (1/2)^(length + 1)
    assert play(lambda mask, cue, door: int(np.flatnonzero(mask)[cue] if door else rng.choice(np.flatnonzero(mask)))) == 1.0
    guess = play(lambda mask, cue, door: int(np.flatnonzero(mask)[0] if door else rng.choice(np.flatnonzero(mask))))
    assert abs(guess - 1 / env.n_doors) < 0.06
    blind = play(lambda mask, cue, door: env.n_moves + cue if door else int(rng.integers(env.n_moves)))
    assert abs(blind - 0.5 ** (env.length + 1)) < 0.04
    with pytest.raises(ValueError, match="n_valid < n_moves"):
        CueCorridor(n_valid=4)
