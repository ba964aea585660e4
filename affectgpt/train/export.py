"""The trained model as a folder: merged (a complete `from_pretrained` folder), an adapter pointing at its base,
or nothing (`export.mode`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from peft import PeftModel

from .model import build_model_and_processor

__all__ = ["export_model"]


def _copy_auto_map(folder: Path) -> None:
    """Give the model config an AutoProcessor entry too, so every Auto class resolves from config.json."""
    config_path, processor_path = folder / "config.json", folder / "processor_config.json"
    if not (config_path.is_file() and processor_path.is_file()):
        return
    processor_map = json.loads(processor_path.read_text()).get("auto_map", {})
    config = json.loads(config_path.read_text())
    if "AutoProcessor" in processor_map:
        config.setdefault("auto_map", {})["AutoProcessor"] = processor_map["AutoProcessor"]
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def export_model(trainer, processor, recipe: dict, directory: str | os.PathLike) -> Path | None:
    """Write the trained model as a `from_pretrained` folder (merged) or an adapter folder (+ its base)."""
    mode = recipe["export"]["mode"]
    if mode == "none":
        return None
    out = Path(directory)
    model = trainer.accelerator.unwrap_model(trainer.model)
    is_peft = isinstance(model, PeftModel)
    sharded = trainer.is_fsdp_enabled or (
        trainer.is_deepspeed_enabled and trainer.accelerator.state.deepspeed_plugin.zero_stage == 3
    )
    if mode == "adapter" or (is_peft and sharded) or not is_peft:
        # The trainer gathers sharded weights (ZeRO-3 / FSDP) and writes the adapter or the full model.
        trainer.save_model(str(out))
    if not trainer.is_world_process_zero():
        return out
    processor.save_pretrained(out)
    if is_peft and mode == "merged":
        if sharded:  # weights live in shards: merge from the gathered adapter on a fresh CPU copy of the base
            base, _ = build_model_and_processor(recipe["model"])
            merged = PeftModel.from_pretrained(base, str(out)).merge_and_unload()
            for name in ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin"):
                (out / name).unlink(missing_ok=True)
        else:
            merged = model.merge_and_unload()
        merged.save_pretrained(out)
    elif is_peft and mode == "adapter":
        _point_adapter_at_base(out, recipe)
    _copy_auto_map(out)
    return out


def _point_adapter_at_base(out: Path, recipe: dict) -> None:
    """An adapter folder loads with from_pretrained only when `base_model_name_or_path` is a real model: the
    pretrained folder, or (preset) a saved copy of the untrained base."""
    base = recipe["model"]["pretrained"]
    if not base:
        base_dir = out.parent / f"{out.name}-base"
        model, processor = build_model_and_processor(recipe["model"])
        model.save_pretrained(base_dir)
        processor.save_pretrained(base_dir)
        _copy_auto_map(base_dir)
        base = str(base_dir.resolve())
    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = str(Path(base).resolve()) if Path(base).exists() else base
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
