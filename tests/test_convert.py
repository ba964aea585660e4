"""`affectgpt convert`: an official-layout checkpoint becomes a from_pretrained folder whose logits equal the
official forward (tests/test_convert_official.py) to 1e-5, for the frame/face and attention/Q-Former variants."""

from __future__ import annotations

import json

import pytest
import torch

from tests.test_convert_official import (
    OfficialAffectGPT,
    Variant,
    official_checkpoint,
    sample_inputs,
    shared_base_models,
)

ATOL = 1e-5


@pytest.fixture(scope="module")
def base_paths(tmp_path_factory):
    return shared_base_models(tmp_path_factory)


_PROCESSORS: dict = {}


@pytest.fixture(autouse=True)
def _reuse_processors(monkeypatch):
    """Building the real Qwen2.5 tokenizer takes ~10-25 s on the CI machines; build each processor once."""
    import processing

    build = processing.build_processor

    def cached(**kwargs):
        key = tuple(sorted(kwargs.items()))
        if key not in _PROCESSORS:
            _PROCESSORS[key] = build(**kwargs)
        return _PROCESSORS[key]

    monkeypatch.setattr(processing, "build_processor", cached)


def _convert(base_paths, variant, tmp_path, *extra):
    from affectgpt.cli import main

    official = OfficialAffectGPT(base_paths, variant)
    ckpt = official_checkpoint(official, tmp_path / "checkpoint_000030_loss_0.612.pth")
    out = tmp_path / "converted"
    argv = ["convert", "--checkpoint", str(ckpt), "--out", str(out), "--preset", "tiny", "--dtype", "fp32"]
    argv += [
        "--vision",
        base_paths["vision"],
        "--audio",
        base_paths["audio"],
        "--llm",
        base_paths["llm"],
        *extra,
    ]
    assert main(argv) == 0
    return official, out


def _load(out):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(out, trust_remote_code=True).eval()


def _assert_parity(official, model, visual_input):
    ids, pixels, clips, mask = sample_inputs(visual_input)
    expected = official.logits(ids, pixels, clips, mask)
    with torch.no_grad():
        got = model(
            input_ids=ids, pixel_values_videos=pixels, input_features=clips, attention_mask=mask
        ).logits
    assert got.shape == expected.shape
    diff = (got - expected).abs().max().item()
    assert diff < ATOL, f"max |logit difference| {diff:.3g}"
    # The multimodal tokens matter: without them the logits differ (so parity is not vacuous).
    plain = model(input_ids=ids.masked_fill(ids > 151664, 0), attention_mask=mask).logits
    assert (plain - expected).abs().max().item() > 1e-3


@pytest.mark.parametrize(
    "variant",
    [
        Variant(),  # the released frame model: attention pooling + attention pre-fusion
        Variant(visual_input="face"),
        Variant(multi="qformer", lora_alpha=16.0, alpha_in_config=True),  # paper's Q-Former pre-fusion
        Variant(
            video="qformer", audio="qformer", multi="qformer", lora_r=2
        ),  # every Q-Former (32/8-row tables)
    ],
    ids=["frame-attention", "face-attention", "frame-qformer", "all-qformer"],
)
def test_converted_logits_match_the_official_forward(base_paths, tmp_path, variant):
    official, out = _convert(base_paths, variant, tmp_path)
    model = _load(out)
    assert model.config.visual_input == variant.visual_input
    assert model.config.multi_fusion == variant.multi and model.config.video_fusion == variant.video
    _assert_parity(official, model, variant.visual_input)
    provenance = json.loads((out / "conversion.json").read_text())
    assert provenance["lora"] == {
        "r": variant.lora_r,
        "alpha": variant.lora_alpha,
        "alpha_source": "ckpt['config']['model']"
        if variant.alpha_in_config
        else "official default (not stored in the checkpoint)",
        "modules": 14,
        "merged": True,
    }
    assert "image_llama_proj.weight" in provenance["skipped"]


_ISOLATED = """
import sys
sys.path.append(SITE)  # site-packages only: the project's packages (and its editable finder) stay unimportable
import numpy as np, torch
from transformers import AutoModelForImageTextToText, AutoProcessor
for name in ("affectgpt", "modeling_affectgpt", "processing"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{name} is importable: the check would prove nothing")
processor = AutoProcessor.from_pretrained(FOLDER, trust_remote_code=True)
assert processor.tokenizer.convert_tokens_to_ids("<FrameHere>") == 151667
model = AutoModelForImageTextToText.from_pretrained(FOLDER, trust_remote_code=True).eval()
data = np.load(INPUTS)
with torch.no_grad():
    logits = model(**{k: torch.from_numpy(v) for k, v in data.items()}).logits
np.save(OUTPUT, logits.numpy())
"""


def _isolated_logits(out, tmp_path, inputs: dict) -> torch.Tensor:
    """Load model + processor with trust_remote_code in a process that cannot import this project."""
    import os
    import subprocess
    import sys
    import sysconfig

    import numpy as np

    np.savez(tmp_path / "inputs.npz", **{k: v.numpy() for k, v in inputs.items()})
    header = (
        f"SITE = {sysconfig.get_paths()['purelib']!r}\nFOLDER = {str(out)!r}\n"
        f"INPUTS = {str(tmp_path / 'inputs.npz')!r}\nOUTPUT = {str(tmp_path / 'logits.npy')!r}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", header + _ISOLATED],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return torch.from_numpy(np.load(tmp_path / "logits.npy"))


def test_folder_loads_with_remote_code_and_has_a_model_card(base_paths, tmp_path):
    official, out = _convert(base_paths, Variant(), tmp_path)
    ids, pixels, clips, mask = sample_inputs("frame")
    inputs = {
        "input_ids": ids,
        "pixel_values_videos": pixels,
        "input_features": clips,
        "attention_mask": mask,
    }
    got = _isolated_logits(out, tmp_path, inputs)
    assert (got - official.logits(ids, pixels, clips, mask)).abs().max().item() < ATOL
    config = json.loads((out / "config.json").read_text())
    assert {"AutoModelForImageTextToText", "AutoProcessor"} <= set(config["auto_map"])
    card = (out / "README.md").read_text()
    digest = json.loads((out / "conversion.json").read_text())["sha256"]
    import hashlib

    assert digest == hashlib.sha256((tmp_path / "checkpoint_000030_loss_0.612.pth").read_bytes()).hexdigest()
    for needle in (
        "checkpoint_000030_loss_0.612.pth",
        digest,
        "Apache-2.0",
        "non-commercial",
        "Intended use",
        "using the official value 32",
        "image_llama_proj",
    ):
        assert needle in card, needle
    # Hub metadata (written by huggingface_hub's ModelCardData): parsed back, not matched as text.
    from huggingface_hub import ModelCard

    assert card.startswith("---\n")
    data = ModelCard.load(out / "README.md").data
    assert (data.license, data.license_name, data.library_name, data.pipeline_tag) == (
        "other",
        "affectgpt-research-preview",
        "transformers",
        "video-text-to-text",
    )
    assert data.tags == ["affectgpt", "emotion-recognition", "multimodal"]
    assert data.base_model is None  # local base folders are no Hub ids to link


def test_keep_adapter_saves_a_peft_adapter_with_the_same_logits(base_paths, tmp_path):
    from peft import PeftModel

    official, out = _convert(base_paths, Variant(), tmp_path, "--keep-adapter")
    assert (out / "lora_adapter" / "adapter_config.json").is_file()
    base = _load(out)
    ids, pixels, clips, mask = sample_inputs("frame")
    expected = official.logits(ids, pixels, clips, mask)
    with torch.no_grad():
        unmerged = base(
            input_ids=ids, pixel_values_videos=pixels, input_features=clips, attention_mask=mask
        ).logits
    assert (unmerged - expected).abs().max().item() > 1e-3  # the LoRA is not in the base weights
    model = PeftModel.from_pretrained(base, out / "lora_adapter").eval()
    with torch.no_grad():
        got = model(
            input_ids=ids, pixel_values_videos=pixels, input_features=clips, attention_mask=mask
        ).logits
    assert (got - expected).abs().max().item() < ATOL


@pytest.mark.parametrize("stop", [151645, 14374])  # <|im_end|>, "###": the official single-token stop words
def test_converted_checkpoint_has_the_official_stop_settings(base_paths, tmp_path, stop):
    from tests.conftest import scripted_logits

    _, out = _convert(base_paths, Variant(), tmp_path)
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [151645, 14374] and generation["pad_token_id"] == 151645
    model = _load(out)
    ids, pixels, clips, mask = sample_inputs("frame")
    length = ids.shape[1]
    script = [100, 101, stop, 102]
    with torch.no_grad():
        generated = model.generate(
            input_ids=ids,
            attention_mask=mask,
            pixel_values_videos=pixels,
            input_features=clips,
            max_new_tokens=8,
            logits_processor=[scripted_logits(script, length)],
        )
    assert generated[0, length:].tolist() == [100, 101, stop]
