"""Presets, the LoRA recipe (PEFT) and `affectgpt init`."""

from __future__ import annotations

import json
import re

import peft
import pytest
import torch

from affectgpt.presets import (
    HASHES_TOKEN_ID,
    LORA_TARGET_MODULES,
    TRAINABLE_MODULES,
    build_config,
    build_model,
    lora_config,
)
from modeling_affectgpt import AffectGPTForConditionalGeneration
from tests.conftest import save_tiny_parts

FRAME, AUDIO, MULTI, IM_START = 151667, 151666, 151669, 151644
LORA_LINEARS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def _batch():
    g = torch.Generator().manual_seed(0)
    ids = torch.tensor([[IM_START, 11, MULTI, 12, AUDIO, 13, FRAME, 101, 102, 103]] * 2)
    return {
        "input_ids": ids,
        "labels": ids,
        "pixel_values_videos": torch.randn(2, 8, 3, 224, 224, generator=g),
        "input_features": torch.randn(2, 8, 32000, generator=g),
    }


def test_tiny_preset_shapes_and_token_ids():
    config = build_config("tiny")
    assert config.text_config.vocab_size == 151670 and config.text_config.hidden_size == 64
    assert config.tie_word_embeddings and config.fusion_hidden_size == 64
    assert (config.vision_config.hidden_size, config.vision_config.projection_dim) == (32, 32)
    assert (config.audio_config.hidden_size, config.audio_config.num_hidden_layers) == (32, 4)
    # Official add order: Image, Audio, Frame, Face, Multi (official_media/prompts.json).
    ids = [config.image_token_id, config.audio_token_id, config.frame_token_id, config.face_token_id]
    assert ids + [config.multi_token_id] == [151665, 151666, 151667, 151668, 151669]
    # Overrides merge into sub-config dicts and replace top-level fields.
    changed = build_config("tiny", text_config={"num_hidden_layers": 3}, multi_fusion="none")
    assert changed.text_config.num_hidden_layers == 3 and changed.text_config.hidden_size == 64
    assert changed.multi_fusion == "none"
    with pytest.raises(ValueError, match="Unknown preset"):
        build_config("huge")


def test_official_preset_is_the_released_architecture():
    config = build_config("official")
    text, audio, vision = config.text_config, config.audio_config, config.vision_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_attention_heads, text.num_key_value_heads) == (
        3584,
        28,
        28,
        4,
    )
    assert (text.intermediate_size, text.vocab_size, text.max_position_embeddings) == (18944, 152064, 32768)
    assert (
        text.rope_parameters["rope_theta"] == 1e6
        and text.rms_norm_eps == 1e-6
        and not text.tie_word_embeddings
    )
    assert (audio.model_type, audio.hidden_size, audio.num_hidden_layers) == ("hubert", 1024, 24)
    assert (vision.hidden_size, vision.patch_size, vision.projection_dim) == (1024, 14, 768)
    assert (config.video_fusion, config.audio_fusion, config.multi_fusion) == ("attention",) * 3
    assert (config.fusion_hidden_size, config.hubert_layers, config.num_frames) == (1024, 4, 8)


def test_lora_regex_matches_only_language_model_linears():
    pattern = re.compile(LORA_TARGET_MODULES)
    model = AffectGPTForConditionalGeneration(build_config("tiny"))
    matched = [name for name, _ in model.named_modules() if pattern.fullmatch(name)]
    assert matched and all(name.startswith("model.language_model.layers.") for name in matched)
    assert {name.rsplit(".", 1)[1] for name in matched} == LORA_LINEARS
    assert len(matched) == len(LORA_LINEARS) * model.config.text_config.num_hidden_layers
    # The towers do have q/k/v projections: a suffix match would have taken them.
    assert any(n.endswith("q_proj") for n, _ in model.model.vision_tower.named_modules())


def test_lora_wrap_trains_and_leaves_towers_untouched():
    model = build_model("tiny", seed=3)
    tower_before = {n: p.detach().clone() for n, p in model.named_parameters() if "_tower." in n}
    peft_model = peft.get_peft_model(model, lora_config())
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert not [n for n in trainable if "_tower." in n]
    lora_names = [n for n in trainable if "lora_" in n]
    assert lora_names and all(".language_model.layers." in n for n in lora_names)
    present = [m for m in TRAINABLE_MODULES if hasattr(model.model, m.removeprefix("model."))]
    assert len(present) == 9  # the tiny preset's attention pooling + attention pre-fusion
    for module in present:
        assert any(f"{module}.modules_to_save" in n for n in trainable), module
    no_tower_lora = [n for n, _ in peft_model.named_modules() if "_tower" in n and "lora" in n]
    assert not no_tower_lora

    peft_model.train()
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-2)
    lora_b = next(p for n, p in peft_model.named_parameters() if "lora_B" in n)
    fused_before = peft_model.base_model.model.model.fc_att.modules_to_save["default"].weight.detach().clone()
    losses = []
    for _ in range(3):
        loss = peft_model(**_batch()).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert lora_b.abs().sum() > 0  # LoRA B starts at zero and has moved
    assert not torch.equal(
        fused_before, peft_model.base_model.model.model.fc_att.modules_to_save["default"].weight
    )
    for name, param in peft_model.base_model.model.named_parameters():
        if name in tower_before:
            assert torch.equal(param, tower_before[name]), name


def test_official_preset_lora_parameter_count_on_meta_device(capsys):
    from transformers.initialization import no_init_weights

    with torch.device("meta"), no_init_weights():
        model = AffectGPTForConditionalGeneration(build_config("official"))
    base_total = sum(p.numel() for p in model.parameters())
    peft_model = peft.get_peft_model(model, lora_config())
    lora = sum(p.numel() for n, p in peft_model.named_parameters() if "lora_" in n)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert lora == 40_370_176
    # Fusion/projectors of the released model: 2 scores + 2 projectors to 3584 + the attention pre-fusion.
    fusion = (768 + 1) + (768 * 3584 + 3584) + (1024 + 1) + (1024 * 3584 + 3584)
    fusion += (768 * 1024 + 1024) + (1024 * 1024 + 1024) + (2048 * 1024 + 1024) + (1024 * 2 + 2)
    fusion += 1024 * 3584 + 3584
    assert trainable == lora + fusion
    with capsys.disabled():
        print(
            f"\nofficial preset: LoRA {lora:,} + fusion {fusion:,} = trainable {trainable:,}; total {base_total:,}"
        )


def test_hashes_stop_id_is_the_qwen_token():
    from processing import build_qwen_tokenizer

    tokenizer = build_qwen_tokenizer()
    assert tokenizer.encode("###", add_special_tokens=False) == [HASHES_TOKEN_ID]


def test_init_tiny_writes_loadable_model_and_processor(tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from affectgpt.cli import main

    out = tmp_path / "tiny"
    assert main(["init", str(out), "--preset", "tiny", "--seed", "1"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["auto_map"]["AutoProcessor"] == "processing_affectgpt.AffectGPTProcessor"
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [151645, HASHES_TOKEN_ID] and generation["pad_token_id"] == 151645
    model = AutoModelForImageTextToText.from_pretrained(out)
    assert isinstance(model, AffectGPTForConditionalGeneration)
    processor = AutoProcessor.from_pretrained(out, trust_remote_code=True)
    assert len(processor.tokenizer) == model.config.text_config.vocab_size
    # A second init into the same, now non-empty folder is a user error (exit status 2).
    assert main(["init", str(out), "--preset", "tiny"]) == 2
    assert main(["init", str(tmp_path / "x"), "--preset", "tiny", "--llm", "Qwen/Qwen2.5-7B-Instruct"]) == 2


def test_init_official_config_only(tmp_path):
    from transformers import AutoConfig

    from affectgpt.cli import main

    out = tmp_path / "official"
    assert main(["init", str(out), "--preset", "official", "--config-only", "--visual-input", "face"]) == 0
    assert not list(out.glob("*.safetensors"))
    config = AutoConfig.from_pretrained(out)
    assert config.visual_input == "face" and config.text_config.hidden_size == 3584
    assert (out / "modeling_affectgpt.py").is_file()


def test_official_preset_loads_pretrained_parts_from_local_folders(tmp_path):
    """--vision/--audio/--llm with local folders (offline): weights land in the towers and the LM unchanged."""
    from transformers import AutoModel, AutoModelForCausalLM, CLIPVisionModelWithProjection

    folders = save_tiny_parts(tmp_path)
    parts = {
        "vision": CLIPVisionModelWithProjection.from_pretrained(folders["vision"]),
        "audio": AutoModel.from_pretrained(folders["audio"]),
        "llm": AutoModelForCausalLM.from_pretrained(folders["llm"]),
    }
    model = build_model("official", **folders, fusion_hidden_size=16)
    assert model.config.text_config.hidden_size == 64 and model.config.vision_config.projection_dim == 32
    pairs = [
        (parts["vision"], model.model.vision_tower),
        (parts["audio"], model.model.audio_tower),
        (parts["llm"].model, model.model.language_model),
    ]
    for source, target in pairs:
        for (name, expected), actual in zip(source.state_dict().items(), target.state_dict().values()):
            assert torch.equal(expected, actual), name
    assert torch.equal(model.lm_head.weight, parts["llm"].lm_head.weight)
    assert model(**_batch()).loss.isfinite()


def test_full_clip_model_folder_keeps_its_projection(tmp_path):
    """openai/clip-vit-large-patch14 is a full CLIPModel: its projection size lives at the config's top level.
    Loading the vision tower from it must keep the trained projection, never re-initialise it."""
    from transformers import CLIPConfig, CLIPModel, CLIPVisionModelWithProjection

    from affectgpt.assembly import clip_vision_config, load_pretrained_part

    tiny = build_config("tiny").vision_config
    full = CLIPConfig(
        vision_config=tiny.to_dict(),
        text_config={
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 32,
        },
        projection_dim=24,
    )
    torch.manual_seed(3)
    CLIPModel(full).save_pretrained(tmp_path / "clip")
    config = clip_vision_config(str(tmp_path / "clip"))
    assert config.projection_dim == 24
    tower = load_pretrained_part(CLIPVisionModelWithProjection, str(tmp_path / "clip"), config)
    reference = CLIPModel.from_pretrained(tmp_path / "clip")
    assert torch.equal(tower.visual_projection.weight, reference.visual_projection.weight)

    # Why the helper exists: the plain sub-config loader loses the top-level projection size.
    assert CLIPVisionModelWithProjection.config_class.from_pretrained(tmp_path / "clip").projection_dim != 24


def test_build_model_constructs_in_the_requested_dtype_and_restores_the_default(monkeypatch):
    """The official preset is built in bf16 directly (16.5 GB instead of 33 GB in float32 first)."""
    seen = []
    init = AffectGPTForConditionalGeneration.__init__

    def spy(self, config):
        seen.append(torch.get_default_dtype())
        init(self, config)

    monkeypatch.setattr(AffectGPTForConditionalGeneration, "__init__", spy)
    model = build_model("tiny", dtype=torch.bfloat16)
    assert seen == [torch.bfloat16] and torch.get_default_dtype() == torch.float32
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    ids = torch.tensor([[101, 102, 103]])
    with torch.no_grad():
        assert model(input_ids=ids).logits.dtype == torch.bfloat16


def test_training_from_an_old_folder_writes_the_official_stop_settings(tmp_path):
    """`train` from `model.pretrained`: the export's eos/pad follow the tokenizer it trains with, not whatever
    generation config an older folder carried (eos <|endoftext|> before the official tokens were fixed)."""
    from affectgpt.train.model import build_model_and_processor
    from processing import build_processor

    model = build_model("tiny")
    model.generation_config.eos_token_id, model.generation_config.pad_token_id = [151643, 14374], 151643
    model.save_pretrained(tmp_path)
    build_processor().save_pretrained(tmp_path)
    loaded, processor = build_model_and_processor({"pretrained": str(tmp_path)})
    assert processor.tokenizer.eos_token_id == 151645
    assert loaded.generation_config.eos_token_id == [151645, HASHES_TOKEN_ID]
    assert loaded.generation_config.pad_token_id == 151645
