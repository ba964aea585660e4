"""The whole conversion: read and plan (every problem reported before anything big is loaded), assemble our
model once through `affectgpt.assembly`, merge or keep the LoRA, and write the folder atomically."""

from __future__ import annotations

import json
from pathlib import Path

from affectgpt.convert.card import model_card
from affectgpt.convert.checkpoint import OfficialCheckpoint, load_official_checkpoint, refuse_non_finite
from affectgpt.convert.errors import ConversionError, guarded_load
from affectgpt.convert.lora import ADAPTER_DIR, merge_lora, require_peft, save_adapter
from affectgpt.convert.plan import OFFICIAL_LORA_ALPHA, ConversionPlan, plan_conversion
from affectgpt.convert.target import build_target_config, resolve_sources

__all__ = ["assemble_model", "convert"]

_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def _torch_dtype(name: str):
    import torch

    if name not in _DTYPES:
        raise ConversionError(f"--dtype must be one of {sorted(_DTYPES)}, got {name!r}")
    return getattr(torch, _DTYPES[name])


def assemble_model(plan: ConversionPlan, sources: dict[str, str | None], dtype, seed: int = 0):
    """Our model with the base parts from `sources` (random, seeded, where a source is None) and the planned
    weights (`affectgpt.assembly`: built on the meta device, so a 7B LLM is held in memory once)."""
    from affectgpt.assembly import AssemblyError
    from affectgpt.assembly import assemble_model as assemble

    try:
        return assemble(
            plan.config, sources, dtype=dtype, seed=seed, weights=plan.weights, guard=guarded_load
        )
    except AssemblyError as err:
        raise ConversionError(str(err)) from None


def convert(
    checkpoint: str | Path,
    out: str | Path,
    *,
    preset: str = "official",
    vision: str | None = None,
    audio: str | None = None,
    llm: str | None = None,
    merge_lora_weights: bool = True,
    dtype: str = "bf16",
    visual_input: str | None = None,
    fusion: str | None = None,
    lora_alpha: float | None = None,
    overwrite: bool = False,
    log=print,
) -> Path:
    """Convert `checkpoint` into the model folder `out` (model + processor + README.md); returns `out`."""
    from affectgpt.presets import add_auto_map, processor_for, set_generation_defaults
    from dataset_scripts.writer import staging

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConversionError(f"--out {out} is a file; give a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConversionError(f"{out} exists and is not empty (pass --overwrite to replace it)")
    torch_dtype = _torch_dtype(dtype)
    ckpt = load_official_checkpoint(checkpoint)
    log(f"read {ckpt.path.name}: {len(ckpt.state_dict)} tensors, sha256 {ckpt.sha256[:16]}...")
    sources = resolve_sources(preset, vision, audio, llm)
    config, notes = build_target_config(ckpt, preset, sources, visual_input=visual_input, fusion=fusion)
    plan = plan_conversion(ckpt, config, lora_alpha=lora_alpha)
    plan.notes[:0] = notes
    if plan.lora:
        require_peft()
        if plan.lora_alpha_source.startswith("official"):
            plan.notes.append(
                f"lora_alpha is not stored in the checkpoint: using the official value {OFFICIAL_LORA_ALPHA:g}"
            )
    for key, why in plan.skipped.items():
        log(f"skipped {key}: {why}")
    for note in plan.notes:
        log(f"note: {note}")

    model = assemble_model(plan, sources, torch_dtype)
    if merge_lora_weights:
        model = merge_lora(model, plan)
    refuse_non_finite(model.state_dict(), "the converted model")  # base weights, or a merge that overflowed
    processor = processor_for(config)
    set_generation_defaults(model, processor.tokenizer)
    add_auto_map(model.config)
    options = {"preset": preset, "merge_lora": merge_lora_weights, "dtype": dtype}
    # Written into a temp folder beside `out` and renamed into place: a kill mid-save leaves `out` as it was,
    # and --overwrite replaces the whole folder (no adapter of an earlier --keep-adapter run stays behind).
    try:
        with staging(out, overwrite=True) as tmp:
            _write_folder(tmp, model, processor, ckpt, plan, sources, options)
    except OSError as err:
        raise ConversionError(f"cannot write {out}: {err.strerror or err}") from None
    log(f"saved {out}")
    return out


def _write_folder(
    out: Path, model, processor, ckpt: OfficialCheckpoint, plan: ConversionPlan, sources: dict, options: dict
) -> None:
    model.save_pretrained(out)
    processor.save_pretrained(out)
    if plan.lora and not options["merge_lora"]:
        save_adapter(model, plan, out / ADAPTER_DIR)
    model_card(ckpt, plan, sources, options).save(out / "README.md")
    provenance = {
        "checkpoint": ckpt.path.name,
        "sha256": ckpt.sha256,
        "epoch": ckpt.epoch,
        "sources": sources,
        "lora": {
            "r": plan.lora_r,
            "alpha": plan.lora_alpha,
            "alpha_source": plan.lora_alpha_source,
            "modules": len(plan.lora),
            "merged": options["merge_lora"],
        },
        "skipped": plan.skipped,
        "notes": plan.notes,
        **options,
    }
    (out / "conversion.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
