"""Planning a conversion before anything big is loaded: every official key mapped onto our model (a meta-device
skeleton), the LoRA pairs and their r/alpha, and one error listing every unknown, missing and mis-shaped key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from affectgpt.assembly import BASE_PREFIXES
from affectgpt.convert.checkpoint import OfficialCheckpoint
from affectgpt.convert.errors import ConversionError, listing
from affectgpt.convert.keymap import (
    LLM_OFFICIAL_PREFIX,
    LORA_KEY,
    SKIPPED,
    fit_position_rows,
    official_to_ours,
    reverse_key_map,
)

__all__ = ["OFFICIAL_LORA_ALPHA", "ConversionPlan", "plan_conversion"]

# The official code hard-codes `LoraConfig(lora_alpha=32)`; alpha is in neither the state dict nor the config.
OFFICIAL_LORA_ALPHA = 32.0


@dataclass
class ConversionPlan:
    """Everything decided before the heavy loading: our config, the renamed weights, the LoRA pairs."""

    config: Any  # AffectGPTConfig
    weights: dict[str, Any] = field(
        default_factory=dict
    )  # our key -> tensor (fusion, projectors, LLM overrides)
    lora: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # our LLM weight key -> (A, B)
    lora_r: int | None = None
    lora_alpha: float = OFFICIAL_LORA_ALPHA
    lora_alpha_source: str = "official default (not stored in the checkpoint)"
    skipped: dict[str, str] = field(default_factory=dict)  # official key -> why
    notes: list[str] = field(default_factory=list)

    @property
    def lora_modules(self) -> list[str]:
        """Our names of the LLM linears the LoRA targets (the weight keys without `.weight`)."""
        return sorted(key.removesuffix(".weight") for key in self.lora)


def plan_conversion(ckpt: OfficialCheckpoint, config, lora_alpha: float | None = None) -> ConversionPlan:
    """Map every official key to our model (built on the meta device from `config`, so nothing big is loaded).

    Raises one `ConversionError` listing every unknown, missing and wrongly shaped key.
    """
    import torch

    from modeling_affectgpt import AffectGPTForConditionalGeneration

    with torch.device("meta"):
        skeleton = AffectGPTForConditionalGeneration(config)
    ours = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    expected = {k for k in ours if not k.startswith(BASE_PREFIXES)}
    reverse_map = reverse_key_map()
    plan = ConversionPlan(config=config)
    unknown, shapes, lora_parts, mismatched = [], [], {}, set()

    for key, tensor in sorted(ckpt.state_dict.items()):
        reason = next((why for pattern, why in SKIPPED if pattern.match(key)), None)
        if reason is not None:
            plan.skipped[key] = reason
            continue
        if (match := LORA_KEY.match(key)) is not None:
            if match["adapter"] != "default":
                unknown.append(
                    f"{key}: LoRA adapter {match['adapter']!r} (the official model has only 'default')"
                )
                continue
            base = official_to_ours(f"{LLM_OFFICIAL_PREFIX}{match['base']}.weight", reverse_map)
            if base is None or base not in ours or not base.startswith("model.language_model."):
                unknown.append(
                    f"{key}: LoRA on a module our language model does not have ({base or match['base']})"
                )
                continue
            lora_parts.setdefault(base, {})[match["ab"]] = (key, tensor)
            continue
        target = official_to_ours(key, reverse_map)
        if target is None or target not in ours:
            hint = f" (would be {target}; not in this configuration)" if target else ""
            unknown.append(f"{key}{hint}")
            continue
        if target.startswith(("model.vision_tower.", "model.audio_tower.")):
            unknown.append(f"{key}: tower weights come from --vision/--audio, not from the checkpoint")
            continue
        if tuple(tensor.shape) != ours[target]:
            fitted = fit_position_rows(tensor, ours[target], target, config)
            if fitted is None:
                shapes.append(f"{key} -> {target}: checkpoint {tuple(tensor.shape)}, model {ours[target]}")
                mismatched.add(target)  # listed once, under wrong shapes, not again as missing
                continue
            plan.notes.append(
                f"{key}: {tensor.shape[0]} position rows -> {ours[target][0]} (only the first rows are read)"
            )
            tensor = fitted
        plan.weights[target] = tensor

    for base, parts in sorted(lora_parts.items()):
        if set(parts) != {"A", "B"}:
            unknown.append(f"{next(iter(parts.values()))[0]}: lora_{'B' if 'A' in parts else 'A'} is missing")
            continue
        (key_a, a), (key_b, b) = parts["A"], parts["B"]
        out_features, in_features = ours[base]
        if (
            a.dim() != 2
            or b.dim() != 2
            or a.shape[1] != in_features
            or b.shape[0] != out_features
            or a.shape[0] != b.shape[1]
        ):
            shapes.append(
                f"{key_a} / {key_b}: A {tuple(a.shape)}, B {tuple(b.shape)} do not fit {base} {ours[base]}"
            )
            continue
        plan.lora[base] = (a, b)
    ranks = {a.shape[0] for a, _ in plan.lora.values()}
    if len(ranks) > 1:
        shapes.append(f"LoRA ranks differ between modules: {sorted(ranks)} (expected one r)")
    plan.lora_r = ranks.pop() if len(ranks) == 1 else None

    missing = sorted(expected - set(plan.weights) - mismatched)
    problems = []
    if missing:
        problems.append(listing("missing from the checkpoint (our model needs them)", missing))
    if unknown:
        problems.append(listing("unknown keys (no place in our model)", unknown))
    if shapes:
        problems.append(listing("wrong shapes", shapes))
    if problems:
        variant = (
            f"visual_input={config.visual_input}, video_fusion={config.video_fusion}, "
            f"audio_fusion={config.audio_fusion}, multi_fusion={config.multi_fusion}"
        )
        raise ConversionError(
            f"{ckpt.path.name} does not match the model ({variant}):\n" + "\n".join(problems)
        )

    if lora_alpha is not None:
        plan.lora_alpha, plan.lora_alpha_source = float(lora_alpha), "given with --lora-alpha"
    elif "lora_alpha" in ckpt.model_config:
        plan.lora_alpha, plan.lora_alpha_source = (
            float(ckpt.model_config["lora_alpha"]),
            "ckpt['config']['model']",
        )
    if plan.lora_r and "lora_r" in ckpt.model_config and int(ckpt.model_config["lora_r"]) != plan.lora_r:
        plan.notes.append(
            f"ckpt config lora_r={ckpt.model_config['lora_r']} but the adapters have r={plan.lora_r}"
        )
    return plan
