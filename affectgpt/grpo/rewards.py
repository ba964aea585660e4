"""The reward functions and their weights from a recipe's `grpo:` section (metrics.rewards)."""

from __future__ import annotations

from affectgpt.train import RecipeError
from metrics.mer_unibench.sources import WheelFilesNotFoundError
from metrics.rewards import REWARD_NAMES, EmotionWheelRewards

__all__ = ["build_rewards"]


def build_rewards(grpo_cfg: dict):
    """(reward functions, their weights) from the `grpo:` section, in `metrics.rewards.REWARD_NAMES` order."""
    weights = grpo_cfg["reward_weights"] or {}
    unknown = sorted(set(weights) - set(REWARD_NAMES))
    if unknown:
        raise RecipeError(f"grpo.reward_weights: unknown reward(s) {unknown}; known: {list(REWARD_NAMES)}")
    names = [name for name in REWARD_NAMES if name in weights]
    extractor = None
    spec = grpo_cfg["extractor"]
    if spec != "lexicon":
        if not (isinstance(spec, str) and spec.startswith("llm:") and len(spec) > 4):
            raise RecipeError(f"grpo.extractor must be 'lexicon' or 'llm:MODEL', got {spec!r}")
        from metrics.extraction import LLMExtractor

        extractor = LLMExtractor(spec[4:])
    try:
        rewards = EmotionWheelRewards(
            grpo_cfg["wheel_dir"],
            extractor=extractor,
            level=grpo_cfg["level"],
            max_words=grpo_cfg["max_words"],
            label_column=grpo_cfg["label_column"],
        )
    except (WheelFilesNotFoundError, ValueError) as err:
        raise RecipeError(f"grpo: {err}") from err
    return rewards.functions(names), [float(weights[name]) for name in names]
