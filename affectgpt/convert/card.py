"""The converted folder's model card (README.md): `huggingface_hub.ModelCard` from `card_template.md`, with the
Hub metadata (license, base models, tags, pipeline tag) as `ModelCardData`."""

from __future__ import annotations

from pathlib import Path

from affectgpt.convert.checkpoint import OfficialCheckpoint
from affectgpt.convert.lora import ADAPTER_DIR
from affectgpt.convert.plan import ConversionPlan

__all__ = ["TEMPLATE", "model_card"]

TEMPLATE = Path(__file__).with_name("card_template.md")


def model_card(ckpt: OfficialCheckpoint, plan: ConversionPlan, sources: dict, options: dict):
    """Provenance (file + sha256), base models, conversion facts, license terms, intended use."""
    from huggingface_hub import ModelCard, ModelCardData

    config = plan.config
    # Hub ids only: a local folder is no `base_model` the Hub can link.
    base = [src for src in sources.values() if src and not Path(src).exists()]
    data = ModelCardData(
        license="other",
        license_name="affectgpt-research-preview",
        library_name="transformers",
        pipeline_tag="video-text-to-text",
        tags=["affectgpt", "emotion-recognition", "multimodal"],
        base_model=base or None,
    )
    if plan.lora:
        kept = (
            "merged into the weights."
            if options["merge_lora"]
            else f"kept as a PEFT adapter in `{ADAPTER_DIR}/`."
        )
        lora = f"LoRA r={plan.lora_r}, α={plan.lora_alpha:g} (α: {plan.lora_alpha_source}) on {len(plan.lora)} LLM linears, {kept}"
    else:
        lora = "No LoRA adapters in the checkpoint (the LLM is used as released)."
    return ModelCard.from_template(
        data,
        template_path=str(TEMPLATE),
        visual_input=config.visual_input,
        video_fusion=config.video_fusion,
        audio_fusion=config.audio_fusion,
        multi_fusion=config.multi_fusion,
        checkpoint=ckpt.path.name,
        sha256=ckpt.sha256,
        epoch=ckpt.epoch if ckpt.epoch is not None else "not recorded",
        sources=list(sources.items()),
        preset=options["preset"],
        dtype=options["dtype"],
        lora=lora,
        skipped=sorted(plan.skipped.items()),
        notes=plan.notes,
        adapter_dir=ADAPTER_DIR if plan.lora and not options["merge_lora"] else None,
    )
