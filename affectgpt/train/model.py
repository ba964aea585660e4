"""The model a recipe trains: built from a folder or a preset, its trainable parts chosen (LoRA or full), and
the optional data-dependent start of the fusion weights."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

from affectgpt.fusion_init import FusionInitError, init_fusion_from_data
from affectgpt.presets import (
    PRESETS,
    TRAINABLE_MODULES,
    build_model,
    lora_config,
    processor_for,
    set_generation_defaults,
)
from modeling_affectgpt import AffectGPTForConditionalGeneration
from processing import AffectGPTProcessor, build_processor

from .recipe import RecipeError

__all__ = ["build_model_and_processor", "configure_trainable", "start_fusion_from_data"]

logger = logging.getLogger(__name__)

_TOWERS = ("vision_tower", "audio_tower")


def build_model_and_processor(model_cfg: dict):
    """(model, processor) from a pretrained folder or a preset; towers frozen, the rest per `model_cfg`."""
    if model_cfg["pretrained"]:
        folder = model_cfg["pretrained"]
        if not Path(folder, "config.json").is_file():
            raise RecipeError(f"model.pretrained: no model folder at {folder}")
        # The project's own classes (not the folder's copied code): training must use this checkout's code.
        model = AffectGPTForConditionalGeneration.from_pretrained(folder)
        processor = AffectGPTProcessor.from_pretrained(folder)
        # The export's stop/pad settings follow the tokenizer it trains with (a folder saved by older code may
        # carry other ones).
        set_generation_defaults(model, processor.tokenizer)
        return model, processor

    if model_cfg["preset"] not in PRESETS:
        raise RecipeError(f"model.preset {model_cfg['preset']!r} unknown; choose one of {sorted(PRESETS)}")
    processor = build_processor()
    model = build_model(
        model_cfg["preset"],
        vision=model_cfg["vision"],
        audio=model_cfg["audio"],
        llm=model_cfg["llm"],
        seed=model_cfg["init_seed"],
        tokenizer=processor.tokenizer,
        **(model_cfg["config_overrides"] or {}),
    )
    return model, processor_for(model.config, processor.tokenizer)


def configure_trainable(model, model_cfg: dict):
    """LoRA: returns the peft config (TRL applies it; it freezes all but LoRA + `modules_to_save`).
    Full: the LLM, fusion and projectors train, the towers only with `train_towers`; returns None."""
    if model_cfg["lora"]:
        # anchored like presets.TRAINABLE_MODULES ("model.<name>"): PEFT matches modules_to_save by suffix
        towers = [f"model.{name}" for name in _TOWERS] if model_cfg["train_towers"] else []
        modules = list(TRAINABLE_MODULES) + towers
        peft_config = lora_config(
            r=model_cfg["lora_r"],
            lora_alpha=model_cfg["lora_alpha"],
            lora_dropout=model_cfg["lora_dropout"],
            modules_to_save=modules,
        )
    else:
        peft_config = None
        model.requires_grad_(True)
        for name in _TOWERS:
            getattr(model.model, name).requires_grad_(bool(model_cfg["train_towers"]))
    if model_cfg["train_towers"]:
        # The audio tower's convolutional waveform encoder stays frozen, as in every wav2vec2/HuBERT fine-tune:
        # its backward over 32,000-sample clips costs more than the rest of the tiny model.
        encoder = getattr(model.model.audio_tower, "feature_extractor", None)
        if encoder is not None:
            encoder.requires_grad_(False)
    return peft_config


def start_fusion_from_data(model, dataset, collator, model_cfg: dict) -> None:
    """Data-dependent start of the pooling / projectors (affectgpt.fusion_init) from the first training clips."""
    rows = list(itertools.islice(iter(dataset), model_cfg["init_fusion_from_data"]))
    batches = [collator(rows[i : i + 16]) for i in range(0, len(rows), 16)]
    was_training = model.training
    model.eval()
    try:
        similarity = init_fusion_from_data(model, batches, seed=model_cfg["init_seed"])
    except FusionInitError as err:
        raise RecipeError(str(err)) from err
    finally:
        model.train(was_training)
    logger.warning(
        "init_fusion_from_data: standardised the media features of %d clips; token cosine similarity %s",
        len(rows),
        {name: round(value, 4) for name, value in similarity.items()},
    )
