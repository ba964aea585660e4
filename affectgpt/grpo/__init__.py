"""Reinforcement fine-tuning (GRPO) of AffectGPT with emotion-wheel rewards on TRL's GRPOTrainer.

`affectgpt train --config recipes/grpo-tiny-synth.yaml`; see docs/TRAINING.md (GRPO). One job per module:
`data` (cold-start targets, rollout prompts), `rewards`, `training_args` (GRPOConfig), `trainer` (the
GRPOTrainer subclass; the only module that imports it), `curves` (the reward-curve figure), `run` (`train_grpo`)."""

from affectgpt.train.schema import GRPO_DEFAULTS

from .curves import REWARD_CURVES_FILE, plot_reward_curves
from .rewards import build_rewards
from .run import train_grpo
from .training_args import build_grpo_config

__all__ = [
    "GRPO_DEFAULTS",
    "REWARD_CURVES_FILE",
    "build_grpo_config",
    "build_rewards",
    "plot_reward_curves",
    "train_grpo",
]
