"""
Masks wherever rl-zoo evaluates or plays a masked algorithm (``reinforce_mask``, ``reinforce_mask_lstm``,
``ppo_mask``).

rl-zoo knows no masks: its evaluation during training (``EvalCallback``), the pruner's evaluations of ``-optimize``
(``TrialEvalCallback``), ``enjoy`` and ``record_video`` all call ``model.predict(obs, state, episode_start,
deterministic)``, so a masked model would act among every action. Each of these places gets the model through one
public name, and this module gives each a masked counterpart that uses rl-zoo's own code otherwise:

- evaluations: :class:`ZooEvalCallback` and rl-zoo's ``TrialEvalCallback`` (:func:`trial_eval_callback`), subclasses
  that hand SB3's ``evaluate_policy`` a :class:`~sb3_reinforce.common.evaluation.MaskedPredictor` when the model takes
  masks (and are the originals otherwise);
  :func:`register` binds them to the names rl-zoo's ``ExperimentManager`` builds its callbacks by;
- ``enjoy`` and ``record_video``: :func:`masked_loader` takes the place of the algorithm in ``rl_zoo3.ALGOS`` for the
  command; its ``load`` returns the model wrapped in a ``MaskedPredictor`` over the env rl-zoo plays on;
- compare's final evaluation: :func:`sb3_reinforce.common.evaluation.evaluate_policy`.

The masks are the env's (``action_masks()``, e.g. sb3-contrib's ``ActionMasker`` or
:class:`sb3_reinforce.common.wrappers.InfoActionMasker` set in the config's ``env_wrapper``), read with sb3-contrib's
``get_action_masks`` before every action. SB3's ``evaluate_policy`` carries a recurrent model's state between steps
(sb3-contrib's masked ``evaluate_policy`` 2.9 does not, which is why it is not used here).
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.vec_env import VecEnv

from sb3_reinforce.common.evaluation import MaskedPredictor, evaluate_policy, takes_masks

__all__ = ["MaskedPredictor", "ZooEvalCallback", "evaluate_policy", "masked_loader", "takes_masks", "trial_eval_callback"]


class _MaskedEvaluation:
    """Callbacks that evaluate ``self.model`` on ``self.eval_env``: a masked model is evaluated with its env's masks."""

    eval_env: VecEnv

    def init_callback(self, model: Any) -> None:
        if takes_masks(model):
            model = MaskedPredictor(model, self.eval_env)
        super().init_callback(model)  # type: ignore[misc]


class ZooEvalCallback(_MaskedEvaluation, EvalCallback):
    """SB3's ``EvalCallback`` (rl-zoo's evaluation during training), masked for a masked model."""


def trial_eval_callback() -> type:
    """rl-zoo's ``TrialEvalCallback`` (the pruner's evaluations of ``-optimize``), masked for a masked model."""
    from rl_zoo3.callbacks import TrialEvalCallback

    class ZooTrialEvalCallback(_MaskedEvaluation, TrialEvalCallback):
        pass

    return ZooTrialEvalCallback


def masked_loader(algorithm: type[BaseAlgorithm], played: list[VecEnv]) -> type:
    """
    What ``rl_zoo3.ALGOS[algo]`` is while ``enjoy`` or ``record_video`` plays a masked algorithm: ``load`` returns the
    model acting with the masks of the env rl-zoo plays on (the ``env`` given to ``load``, as ``record_video`` gives it,
    else the last env in ``played``, where ``enjoy``'s env is recorded when it creates it).

    :param algorithm: The algorithm class
    :param played: The envs created for playing, in order
    """

    class MaskedLoader:
        @staticmethod
        def load(path: str, env: VecEnv | None = None, **kwargs: Any) -> MaskedPredictor:
            model = algorithm.load(path, env=env, **kwargs)
            if env is None and not played:
                raise RuntimeError(f"No env to take the masks of while loading {path}")
            return MaskedPredictor(model, env if env is not None else played[-1])

    MaskedLoader.__name__ = MaskedLoader.__qualname__ = f"Masked{algorithm.__name__}"
    return MaskedLoader
