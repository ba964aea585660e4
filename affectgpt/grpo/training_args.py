"""GRPOConfig from a recipe's `training:` section, with the reward weights of its `grpo:` section."""

from __future__ import annotations

from affectgpt.train import RecipeError
from affectgpt.train.training_args import cpu_fallback

__all__ = ["build_grpo_config"]


def build_grpo_config(training: dict, weights: list[float], output_dir: str | None = None):
    """GRPOConfig from the `training:` section; the reward weights come from the `grpo:` section."""
    from trl import GRPOConfig  # here, not at the top: `affectgpt.grpo` must not import TRL's trainers

    kwargs = dict(training)
    if output_dir:
        kwargs["output_dir"] = output_dir
    if kwargs.get("use_vllm"):
        raise RecipeError(
            "training.use_vllm: vLLM has no implementation of the AffectGPT model (video/audio towers, pre-fusion, "
            "placeholder scattering), so TRL cannot serve it there; leave use_vllm off (generation uses "
            "model.generate)"
        )
    if "reward_weights" in kwargs:
        raise RecipeError("set the reward weights in grpo.reward_weights, not training.reward_weights")
    # The media columns must reach the prompt encoder and the labels the rewards.
    kwargs.update(reward_weights=weights, remove_unused_columns=False)
    kwargs.setdefault("beta", 0.0)
    cpu_fallback(kwargs)
    try:
        return GRPOConfig(**kwargs)
    except (TypeError, ValueError) as err:
        raise RecipeError(f"bad training settings: {err}") from err
