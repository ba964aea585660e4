"""The `grpo:` recipe section (read by affectgpt.train.recipe.load_recipe; used only with `method: grpo`).

Kept apart from the trainer so that loading a recipe imports neither TRL nor torch."""

from __future__ import annotations

__all__ = ["GRPO_DEFAULTS"]

GRPO_DEFAULTS = {
    # Question of the rollouts: the OV-label one, the question `affectgpt bench` asks, so the reward optimises
    # what the benchmark scores. The prompt is the inference prompt (affectgpt.inference.ClipEncoder).
    "task": "ovlabel",
    # Weighted sum of the metrics.rewards functions (AffectGPT-R1 re-implementations: accuracy 1.0, dual 0.6,
    # alignment 0.4, format 0.2). The length penalty lies in [-1, 0]. A reward left out is not computed.
    "reward_weights": {"accuracy": 1.0, "dual": 0.6, "alignment": 0.4, "format": 0.2, "length": 1.0},
    "max_words": 120,  # the length penalty starts above this many words per completion
    "level": "level1",  # emotion-wheel level of the rewards' label mapping: level1 | level2
    "extractor": "lexicon",  # label extraction in the rewards: lexicon (offline) | llm:MODEL
    "wheel_dir": None,  # official emotion-wheel files; default: MER_UNIBENCH_WHEEL_DIR / HF cache
    "label_column": "emotions",  # dataset column with the ground-truth labels
}
