"""The checkpoint's LoRA through PEFT: our LLM wrapped with a `LoraConfig` on exactly the planned linears, the
official A/B loaded into it, then merged (`merge_and_unload`) or saved as an adapter folder."""

from __future__ import annotations

import re
from pathlib import Path

from affectgpt.convert.errors import ConversionError
from affectgpt.convert.plan import ConversionPlan

__all__ = ["ADAPTER_DIR", "adapter_config", "merge_lora", "require_peft", "save_adapter", "with_adapter"]

# Where `--keep-adapter` writes the PEFT adapter (a subfolder, so transformers does not mistake the model folder
# itself for an adapter folder).
ADAPTER_DIR = "lora_adapter"


def require_peft():
    """peft is in the [train] extra; checked before any base model is loaded."""
    try:
        import peft
    except ImportError as err:
        raise ConversionError(
            f"the checkpoint's LoRA needs peft: pip install 'affectgpt[train]' ({err})"
        ) from None
    return peft


def adapter_config(model, plan: ConversionPlan):
    """The paper's LoraConfig (`presets.lora_config`) with the checkpoint's r and alpha, on the planned linears."""
    require_peft()
    from affectgpt.presets import lora_config

    return lora_config(
        r=plan.lora_r,
        lora_alpha=plan.lora_alpha,
        target_modules=_target_modules(model, plan),
        modules_to_save=None,
    )


def _target_modules(model, plan: ConversionPlan) -> str:
    """The recipe's pattern when the checkpoint has a LoRA on exactly the linears it names (every released one
    does), otherwise an exact alternation of the planned names. A string either way: PEFT keeps a list as a set
    and saves it in hash order, so adapter_config.json would differ from run to run."""
    from affectgpt.presets import LORA_TARGET_MODULES

    pattern = re.compile(LORA_TARGET_MODULES)
    if sorted(name for name, _ in model.named_modules() if pattern.fullmatch(name)) == plan.lora_modules:
        return LORA_TARGET_MODULES
    return "|".join(re.escape(name) for name in plan.lora_modules)


def with_adapter(model, plan: ConversionPlan):
    """`model` wrapped by PEFT with the checkpoint's A/B, in float32, as its "default" adapter.

    PEFT keeps a bf16/fp16 model's adapter in float32 (`autocast_adapter_dtype`) and the A/B are copied into it.
    Not `low_cpu_mem_usage=True`: its meta-device adapter takes the base layer's dtype, so a bf16 merge would
    compute B·A from rounded factors."""
    import torch

    peft = require_peft()
    wrapped = peft.get_peft_model(model, adapter_config(model, plan))
    # PEFT's adapter names: the module path under `base_model.model.`, `.lora_A/B.weight`, no adapter name.
    tensors = {}
    for module in plan.lora_modules:
        a, b = plan.lora[f"{module}.weight"]
        tensors[f"base_model.model.{module}.lora_A.weight"] = a.to(torch.float32).contiguous()
        tensors[f"base_model.model.{module}.lora_B.weight"] = b.to(torch.float32).contiguous()
    result = peft.set_peft_model_state_dict(wrapped, tensors)
    missing = [k for k in result.missing_keys if "lora_" in k]
    if result.unexpected_keys or missing:
        raise ConversionError(
            f"internal: the LoRA does not fit its PEFT wrapper: unexpected {result.unexpected_keys[:5]}, "
            f"missing {missing[:5]}"
        )
    return wrapped


def merge_lora(model, plan: ConversionPlan):
    """W += (B @ A) · α/r on each targeted LLM linear (PEFT's merge); returns the model without PEFT layers.

    The adapter stays float32, so the delta is computed in float32 and the in-place add into a bf16/fp16 weight
    rounds once, to the weight's dtype."""
    if not plan.lora:
        return model
    return with_adapter(model, plan).merge_and_unload()


def save_adapter(model, plan: ConversionPlan, directory: Path) -> Path:
    """The LoRA as a PEFT adapter folder for our model (`PeftModel.from_pretrained(model, directory)`); `model`
    is left without PEFT layers, as it came.

    Written from PEFT's own state dict and config rather than `PeftModel.save_pretrained`, which also writes a
    README.md of placeholders beside them."""
    from safetensors.torch import save_file

    peft = require_peft()
    wrapped = with_adapter(model, plan)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        wrapped.peft_config["default"].save_pretrained(str(directory))
        state = peft.get_peft_model_state_dict(wrapped)
        save_file(
            {k: v.contiguous() for k, v in state.items()},
            str(directory / "adapter_model.safetensors"),
            metadata={"format": "pt"},
        )
    finally:
        wrapped.unload()
    return directory
