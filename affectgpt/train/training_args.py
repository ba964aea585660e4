"""The trainer config from a recipe's `training:` section: SFTConfig with what AffectGPT's own collator needs,
and the CPU fallback GRPO shares."""

from __future__ import annotations

import logging

from .recipe import RecipeError

__all__ = ["build_sft_config", "cpu_fallback"]

logger = logging.getLogger(__name__)


def build_sft_config(training: dict, output_dir: str | None = None):
    """SFTConfig with the settings a custom multimodal collator needs; CPU-only machines get fp32."""
    from trl import SFTConfig  # here, not at the top: loading a recipe must not import TRL's trainers

    kwargs = dict(training)
    if output_dir:
        kwargs["output_dir"] = output_dir
    forced = {
        "dataset_kwargs": {"skip_prepare_dataset": True},  # rows stay rows; the collator tokenizes
        "remove_unused_columns": False,  # the collator needs video/audio/subtitle/description/emotions
        "max_length": None,  # no TRL truncation: the collator drops over-long samples instead
        "dataloader_persistent_workers": False,  # workers must be re-forked to see the new epoch's draw
    }
    for key, value in forced.items():
        if key in kwargs and kwargs[key] != value:
            logger.warning("training.%s=%r ignored: AffectGPT training needs %r", key, kwargs[key], value)
        kwargs[key] = value
    cpu_fallback(kwargs)
    try:
        return SFTConfig(**kwargs)
    except (TypeError, ValueError) as err:
        raise RecipeError(f"bad training settings: {err}") from err


def cpu_fallback(kwargs: dict) -> None:
    """No GPU: fp32 on CPU (bf16/fp16 off); `report_to` defaults to none. Edits the trainer-config kwargs."""
    import torch

    kwargs.setdefault("report_to", "none")
    if not torch.cuda.is_available():
        if kwargs.get("bf16") or kwargs.get("fp16"):
            logger.warning("no GPU: training in fp32 on CPU (bf16/fp16 switched off)")
        kwargs.update(use_cpu=True, bf16=False, fp16=False)
