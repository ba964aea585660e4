"""The checkpoint's LoRA goes through PEFT (`affectgpt.convert.lora`): the merge equals the official formula
W + (B @ A) · α/r, touches nothing else and leaves no PEFT layer behind; a missing peft is a one-line error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from affectgpt.convert import ConversionPlan, merge_lora
from affectgpt.convert.errors import ConversionError
from affectgpt.presets import build_model

TARGETS = (
    "model.language_model.layers.0.self_attn.q_proj",
    "model.language_model.layers.0.mlp.down_proj",
    "model.language_model.layers.1.self_attn.v_proj",
)


def _plan(model, r=3, alpha=8.0, seed=0) -> ConversionPlan:
    gen = torch.Generator().manual_seed(seed)
    lora = {}
    for name in TARGETS:
        out_features, in_features = model.get_parameter(f"{name}.weight").shape
        a = torch.randn(r, in_features, generator=gen)
        b = torch.randn(out_features, r, generator=gen)
        lora[f"{name}.weight"] = (a, b)
    return ConversionPlan(config=model.config, lora=lora, lora_r=r, lora_alpha=alpha)


def _by_hand(weight: torch.Tensor, a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    """The formula the converter used before PEFT did the merge: fp32 delta, one rounding to the weight's dtype."""
    return (weight.to(torch.float32) + scale * (b.to(torch.float32) @ a.to(torch.float32))).to(weight.dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_peft_merge_equals_the_official_formula(dtype):
    model = build_model("tiny", seed=0, dtype=dtype).eval()
    plan = _plan(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    merged = merge_lora(model, plan)
    after = merged.state_dict()
    assert after.keys() == before.keys()  # no lora_A/lora_B/base_layer names left
    assert all(type(merged.get_submodule(name)) is nn.Linear for name in TARGETS)
    scale = plan.lora_alpha / plan.lora_r
    for key, value in after.items():
        if key in plan.lora:
            expected = _by_hand(before[key], *plan.lora[key], scale)
            assert value.dtype == dtype
            if dtype == torch.float32:
                torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-6)
            else:  # the adapter stays fp32, so the bf16 weight is rounded once, as by hand
                assert torch.equal(value, expected), key
            assert not torch.equal(value, before[key])
        else:
            assert torch.equal(value, before[key]), key


def test_no_lora_leaves_the_model_as_it_is():
    model = build_model("tiny", seed=0)
    assert merge_lora(model, ConversionPlan(config=model.config)) is model


def test_missing_peft_is_a_one_line_error(monkeypatch):
    import sys

    model = build_model("tiny", seed=0)
    monkeypatch.setitem(sys.modules, "peft", None)  # `import peft` raises ImportError
    with pytest.raises(ConversionError, match=r"needs peft: pip install 'affectgpt\[train\]'"):
        merge_lora(model, _plan(model))


def test_adapter_wraps_exactly_the_planned_linears(tmp_path):
    """A string pattern, never a list: PEFT keeps a list as a set and would save it in hash order."""
    import json
    import re

    from affectgpt.convert import save_adapter
    from affectgpt.convert.lora import adapter_config, with_adapter
    from affectgpt.presets import LORA_TARGET_MODULES

    model = build_model("tiny", seed=0)
    plan = _plan(model)
    wrapped = with_adapter(model, plan)
    lora_modules = {
        n.removeprefix("base_model.model.") for n, m in wrapped.named_modules() if hasattr(m, "lora_A")
    }
    assert lora_modules == set(TARGETS)
    wrapped.unload()
    save_adapter(model, plan, tmp_path / "adapter")
    saved = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert isinstance(saved["target_modules"], str) and (saved["r"], saved["lora_alpha"]) == (3, 8.0)
    assert not any(hasattr(m, "lora_A") for m in model.modules())  # left as it came

    # A LoRA on every linear the recipe names (as in every released checkpoint): the recipe's own pattern.
    pattern = re.compile(LORA_TARGET_MODULES)
    every = [n for n, _ in model.named_modules() if pattern.fullmatch(n)]
    full = ConversionPlan(
        config=model.config,
        lora={f"{n}.weight": (torch.zeros(2, 1), torch.zeros(1, 2)) for n in every},
        lora_r=1,
    )
    assert adapter_config(model, full).target_modules == LORA_TARGET_MODULES
