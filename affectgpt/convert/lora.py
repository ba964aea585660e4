"""The checkpoint's LoRA: merged into the LLM weights, or saved as a PEFT adapter folder."""

from __future__ import annotations

from pathlib import Path

from affectgpt.convert.errors import ConversionError
from affectgpt.convert.plan import ConversionPlan

__all__ = ["ADAPTER_DIR", "merge_lora", "save_adapter"]

# Where `--keep-adapter` writes the PEFT adapter (a subfolder, so transformers does not mistake the model folder
# itself for an adapter folder).
ADAPTER_DIR = "lora_adapter"


def merge_lora(model, plan: ConversionPlan) -> None:
    """W += (B @ A) · α/r on each targeted LLM linear, computed in fp32 and cast back."""
    import torch

    if not plan.lora:
        return
    scale = plan.lora_alpha / plan.lora_r
    with torch.no_grad():
        for key, (a, b) in plan.lora.items():
            weight = model.get_parameter(key)
            delta = b.to(torch.float32) @ a.to(torch.float32)  # (out, r) @ (r, in) -> (out, in)
            weight.copy_((weight.to(torch.float32) + scale * delta).to(weight.dtype))


def save_adapter(plan: ConversionPlan, directory: Path) -> Path:
    """The LoRA as a PEFT adapter folder for our model (names as `get_peft_model(AffectGPTFor...)` gives them)."""
    import torch
    from safetensors.torch import save_file

    from affectgpt.presets import lora_config

    try:
        config = lora_config(r=plan.lora_r, lora_alpha=plan.lora_alpha, modules_to_save=None)
    except ImportError as err:
        raise ConversionError(f"--keep-adapter needs peft (pip install 'affectgpt[train]'): {err}") from None
    directory.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(str(directory))
    tensors = {}
    for key, (a, b) in plan.lora.items():
        stem = f"base_model.model.{key.removesuffix('.weight')}"
        tensors[f"{stem}.lora_A.weight"] = a.to(torch.float32).contiguous()
        tensors[f"{stem}.lora_B.weight"] = b.to(torch.float32).contiguous()
    save_file(tensors, str(directory / "adapter_model.safetensors"), metadata={"format": "pt"})
    return directory
