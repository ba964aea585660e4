"""Reinforcement fine-tuning (GRPO) of AffectGPT with emotion-wheel rewards on TRL's GRPOTrainer.

`affectgpt train --config recipes/grpo-tiny-synth.yaml`; see docs/TRAINING.md (GRPO)."""

from affectgpt.train.schema import GRPO_DEFAULTS

from .trainer import REWARD_CURVES_FILE, build_grpo_config, build_rewards, plot_reward_curves, train_grpo

__all__ = [
    "GRPO_DEFAULTS",
    "REWARD_CURVES_FILE",
    "build_grpo_config",
    "build_rewards",
    "plot_reward_curves",
    "train_grpo",
]
