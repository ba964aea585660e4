"""The converted folder's model card (README.md): provenance, conversion facts, license terms, intended use."""

from __future__ import annotations

from pathlib import Path

from affectgpt.convert.checkpoint import OfficialCheckpoint
from affectgpt.convert.lora import ADAPTER_DIR
from affectgpt.convert.plan import ConversionPlan

__all__ = ["model_card"]


def model_card(ckpt: OfficialCheckpoint, plan: ConversionPlan, sources: dict, options: dict) -> str:
    """README.md of the converted folder: provenance (file + sha256), license terms, intended use."""
    config = plan.config
    base = [src for src in sources.values() if src and not Path(src).exists()]
    front = [
        "---",
        "license: other",
        "license_name: affectgpt-research-preview",
        "library_name: transformers",
    ]
    front += [
        "pipeline_tag: video-text-to-text",
        "tags:",
        "  - affectgpt",
        "  - emotion-recognition",
        "  - multimodal",
    ]
    if base:
        front += ["base_model:", *(f"  - {src}" for src in base)]
    front.append("---")
    if plan.lora:
        lora = (
            f"LoRA r={plan.lora_r}, α={plan.lora_alpha:g} (α: {plan.lora_alpha_source}) on {len(plan.lora)} LLM "
            + (
                "linears, merged into the weights."
                if options["merge_lora"]
                else f"linears, kept as a PEFT adapter in `{ADAPTER_DIR}/`."
            )
        )
    else:
        lora = "No LoRA adapters in the checkpoint (the LLM is used as released)."
    skipped = "\n".join(f"- `{k}`: {why}" for k, why in sorted(plan.skipped.items())) or "- none"
    notes = "\n".join(f"- {n}" for n in plan.notes) or "- none"
    sources_md = "\n".join(
        f"- {kind}: `{src}`"
        if src
        else f"- {kind}: random initialisation (preset `{options['preset']}`, seeded)"
        for kind, src in sources.items()
    )
    usage = (
        "```python\nfrom transformers import AutoModelForImageTextToText, AutoProcessor\n\n"
        'model = AutoModelForImageTextToText.from_pretrained("PATH", trust_remote_code=True)\n'
        'processor = AutoProcessor.from_pretrained("PATH", trust_remote_code=True)\n```\n'
    )
    if not options["merge_lora"] and plan.lora:
        usage += f'\nThe LoRA is not merged: `PeftModel.from_pretrained(model, "PATH/{ADAPTER_DIR}")` (peft) applies it.\n'
    return f"""{chr(10).join(front)}

# AffectGPT ({config.visual_input} variant), converted from the official checkpoint

AffectGPT (Lian et al., *AffectGPT: A New Dataset, Model, and Benchmark for Emotion Understanding with Multimodal
Large Language Models*, ICML 2025, arXiv 2501.16566) describes a person's emotional state from a short video:
{config.visual_input}s + audio + subtitle. This folder was produced by `affectgpt convert` from the authors' released
weights; the computation is the official one (raw attention pooling, attention pre-fusion, placeholder scatter).

## Source

- checkpoint file: `{ckpt.path.name}`
- sha256: `{ckpt.sha256}`
- epoch: {ckpt.epoch if ckpt.epoch is not None else "not recorded"}
- official code: github.com/zeroQiaoba/AffectGPT (weights: HF `MERChallenge/AffectGPT`)

Base models (not part of the checkpoint, loaded when converting):
{sources_md}

## Conversion

- architecture: video pooling `{config.video_fusion}`, audio pooling `{config.audio_fusion}`, pre-fusion
  `{config.multi_fusion}`, visual input `{config.visual_input}`, dtype `{options["dtype"]}`
- {lora}
- official keys skipped on purpose:
{skipped}
- notes:
{notes}

## Usage

{usage}
## License

The authors release AffectGPT under **Apache-2.0** terms as a **research preview for non-commercial use only**;
these converted weights carry the same terms. The training data (MER-Caption+, `MERChallenge/MER2025`) is
CC BY-NC 4.0 for academic use. The base models keep their own licenses (see their model cards). Check the terms
of the original release before any use; nothing here grants more than the authors did.

## Intended use

Research on multimodal emotion understanding: describing emotional cues and open-vocabulary emotion labels of
people in short clips, and benchmarking (MER-UniBench). Out of scope: commercial use, surveillance or
profiling of people, and decisions about individuals (hiring, health, law enforcement, education). Emotion
inferred from faces and voices is uncertain and culturally dependent, and the model can be wrong or biased.
"""
