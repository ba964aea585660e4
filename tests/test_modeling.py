"""AffectGPT model (modeling_affectgpt/) on tiny random configs at the test-only input sizes, CPU only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap

import numpy as np
import pytest
import torch

from affectgpt.presets import EOS_TOKEN_ID, build_config, build_model
from modeling_affectgpt import (
    AUTO_MAP,
    FUSION_MODULES,
    OFFICIAL_GENERATION_KWARGS,
    OFFICIAL_KEY_MAP,
    AffectGPTForConditionalGeneration,
    official_generation_config,
)
from tests.conftest import TINY_TEST_MODEL, tiny_test_media

FRAME, FACE, AUDIO, MULTI = 151667, 151668, 151666, 151669
IM_START = 151644


def prompt(video: bool, audio: bool, body=(101, 102, 103), visual=FRAME) -> list[int]:
    """Token ids laid out like the official prompt: fused, audio, visual placeholders then text."""
    ids = [IM_START, 11]
    if video and audio:
        ids += [12, MULTI, 13]
    if audio:
        ids += [14, AUDIO, 15]
    if video:
        ids += [16, visual, 17]
    return ids + list(body)


def left_pad(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), EOS_TOKEN_ID)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row)
        mask[i, width - len(row) :] = 1
    return ids, mask


def media(batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    return tiny_test_media(batch, seed=seed)


@pytest.fixture(scope="module")
def model() -> AffectGPTForConditionalGeneration:
    return build_model("tiny", seed=0, **TINY_TEST_MODEL).eval()


def test_forward_and_loss_match_manual_cross_entropy(model):
    ids = torch.tensor([prompt(True, True), prompt(True, True, body=(104, 105, 106))])
    labels = ids.clone()
    labels[:, :8] = -100
    out = model(input_ids=ids, labels=labels, **media(2))
    assert out.logits.shape == (2, ids.shape[1], 151670)
    manual = torch.nn.functional.cross_entropy(
        out.logits[:, :-1].reshape(-1, out.logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100
    )
    torch.testing.assert_close(out.loss, manual)
    # The media change the logits at the text positions (features really reach the LM).
    other = model(input_ids=ids, **media(2, seed=1)).logits
    assert not torch.allclose(other[:, -1], out.logits[:, -1])


def test_backward_reaches_every_fusion_param_and_no_tower_param():
    model = build_model("tiny", seed=1, **TINY_TEST_MODEL).train()
    ids = torch.tensor([prompt(True, True)] * 2)
    model(input_ids=ids, labels=ids, **media(2)).loss.backward()
    # the tiny preset's attention pooling + attention pre-fusion: the nine Linear fusion modules, no Q-Former
    present = [f"model.{m}." for m in FUSION_MODULES if hasattr(model.model, m)]
    assert len(present) == 9
    fusion = {n: p for n, p in model.named_parameters() if n.startswith(tuple(present))}
    assert len(fusion) == 2 * len(present)  # weight + bias each
    for name, param in fusion.items():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    for name, param in model.named_parameters():
        if name.startswith(("model.vision_tower.", "model.audio_tower.")):
            assert not param.requires_grad and param.grad is None, name
    # Towers stay in eval mode (no HuBERT layerdrop / dropout) even though the model is in train mode.
    assert model.training and not model.model.vision_tower.training and not model.model.audio_tower.training


def test_gradient_checkpointing_trains():
    model = build_model("tiny", seed=2, **TINY_TEST_MODEL).train()
    model.gradient_checkpointing_enable()
    ids = torch.tensor([prompt(True, True)])
    model(input_ids=ids, labels=ids, **media(1)).loss.backward()
    assert model.model.affectgpt_proj.weight.grad is not None


def test_placeholder_feature_mismatch_raises_with_both_counts(model):
    ids = torch.tensor([prompt(True, True) + [FRAME]])  # one sample with video, two frame placeholders
    with pytest.raises(ValueError, match=r"hold 2 frame placeholder.*fill 1 \(1 samples x 1"):
        model(input_ids=ids, **media(1))
    # Placeholders with no features at all (text-only call on a multimodal prompt).
    with pytest.raises(ValueError, match=r"hold 1 frame placeholder.*fill 0"):
        model(input_ids=torch.tensor([prompt(True, True)]))
    # Counts per sample must match too: the totals agree here (2 and 2) but sample 1 has its token in sample 0.
    rows = [prompt(False, True) + [AUDIO], prompt(False, False, body=(101, 102, 103, 104, 105, 106, 107))]
    with pytest.raises(ValueError, match=r"per sample \[2, 0\].*per sample \[1, 1\]"):
        model(input_ids=torch.tensor(rows), input_features=media(2)["input_features"])
    # A face placeholder in a frame model.
    with pytest.raises(ValueError, match="visual_input='frame'"):
        model(input_ids=torch.tensor([prompt(False, False) + [FACE]]))


@pytest.mark.parametrize(
    ("video", "audio"),
    [(True, False), (False, True), (False, False)],
    ids=["video-only", "audio-only", "text-only"],
)
def test_missing_modalities_run(model, video, audio):
    feats = media(1)
    kwargs = {}
    if video:
        kwargs["pixel_values_videos"] = feats["pixel_values_videos"]
    if audio:
        kwargs["input_features"] = feats["input_features"]
    ids = torch.tensor([prompt(video, audio)])
    logits = model(input_ids=ids, **kwargs).logits
    assert torch.isfinite(logits).all()


def test_flags_select_samples_and_match_single_runs(model):
    """A mixed batch (flags) gives each sample the logits it gets alone with only its own modalities."""
    feats = media(3)
    rows = [prompt(True, True), prompt(False, True), prompt(True, False)]
    ids, mask = left_pad(rows)
    out = model(
        input_ids=ids,
        attention_mask=mask,
        video_flags=torch.tensor([True, False, True]),
        audio_flags=torch.tensor([True, True, False]),
        **feats,
    ).logits
    for i, (video, audio) in enumerate([(True, True), (False, True), (True, False)]):
        kwargs = {}
        if video:
            kwargs["pixel_values_videos"] = feats["pixel_values_videos"][i : i + 1]
        if audio:
            kwargs["input_features"] = feats["input_features"][i : i + 1]
        single = model(input_ids=torch.tensor([rows[i]]), **kwargs).logits
        torch.testing.assert_close(out[i, -1], single[0, -1], atol=1e-4, rtol=1e-4)


def test_official_fusion_math_matches_numpy_restatement(model):
    """DESIGN.md §3 formulas restated in NumPy, fed from the towers, compared with the embeddings the LM sees."""
    inner = model.model
    feats = media(1, seed=3)
    ids = torch.tensor([prompt(True, True)])

    seen = {}
    hook = inner.language_model.register_forward_pre_hook(
        lambda mod, args, kwargs: seen.update(embeds=kwargs["inputs_embeds"]), with_kwargs=True
    )
    try:
        with torch.no_grad():
            model(input_ids=ids, **feats)
            z_v = inner.vision_tower(
                pixel_values=feats["pixel_values_videos"][0]
            ).image_embeds.numpy()  # (8, d_v)
            hidden = inner.audio_tower(feats["input_features"][0], output_hidden_states=True).hidden_states
    finally:
        hook.remove()
    z_a = np.mean([h.numpy() for h in hidden[-4:]], axis=0).mean(axis=1)  # (8, T', d_a) -> (8, d_a)

    def w(module):
        return module.weight.detach().numpy(), module.bias.detach().numpy()

    def linear(x, module):
        weight, bias = w(module)
        return x @ weight.T + bias

    s_v = linear(z_v, inner.video_attention_mlp)  # (8, 1) raw scores
    video_token = linear((s_v * z_v).sum(0), inner.affectgpt_proj)
    s_a = linear(z_a, inner.audio_attention_mlp)
    audio_token = linear((s_a * z_a).sum(0), inner.audio_llama_proj)
    h_v = linear(z_v.mean(0), inner.multi_video_embs)
    h_a = linear(z_a.mean(0), inner.multi_audio_embs)
    alpha = linear(linear(np.concatenate([h_v, h_a]), inner.attention_mlp), inner.fc_att)
    multi_token = linear(alpha[0] * h_v + alpha[1] * h_a, inner.multi_llama_proj)

    embeds = seen["embeds"][0].numpy()
    row = ids[0].tolist()
    np.testing.assert_allclose(embeds[row.index(FRAME)], video_token, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(embeds[row.index(AUDIO)], audio_token, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(embeds[row.index(MULTI)], multi_token, rtol=1e-4, atol=1e-5)
    # Text positions keep their token embeddings.
    table = inner.get_input_embeddings().weight.detach().numpy()
    np.testing.assert_allclose(embeds[-1], table[row[-1]])
    # The official pooling has no softmax: a softmax-normalised pooling would give another token.
    soft = np.exp(s_v - s_v.max()) / np.exp(s_v - s_v.max()).sum()
    assert not np.allclose(linear((soft * z_v).sum(0), inner.affectgpt_proj), video_token, atol=1e-4)


def _strip_after_eos(seq: list[int], eos: set[int]) -> list[int]:
    for i, tok in enumerate(seq):
        if tok in eos:
            return seq[: i + 1]
    return seq


def test_batched_generate_equals_one_by_one(model):
    feats = media(3, seed=4)
    rows = [prompt(True, True), prompt(False, True, body=(101,)), prompt(True, False, body=(7, 8, 9, 10, 11))]
    flags = {
        "video_flags": torch.tensor([True, False, True]),
        "audio_flags": torch.tensor([True, True, False]),
    }
    ids, mask = left_pad(rows)
    batched = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, **feats, **flags)
    eos = set(model.generation_config.eos_token_id)
    for i, (video, audio) in enumerate([(True, True), (False, True), (True, False)]):
        kwargs = {}
        if video:
            kwargs["pixel_values_videos"] = feats["pixel_values_videos"][i : i + 1]
        if audio:
            kwargs["input_features"] = feats["input_features"][i : i + 1]
        single = model.generate(input_ids=torch.tensor([rows[i]]), max_new_tokens=6, **kwargs)
        new_single = single[0, len(rows[i]) :].tolist()
        new_batched = _strip_after_eos(batched[i, ids.shape[1] :].tolist(), eos)
        assert new_batched == new_single, i
        assert len(new_single) > 0


def test_generate_with_and_without_cache_agree(model):
    feats = media(2, seed=5)
    ids, mask = left_pad([prompt(True, True), prompt(True, True, body=(101,))])
    cached = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=4, use_cache=True, **feats)
    uncached = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=4, use_cache=False, **feats)
    assert torch.equal(cached, uncached)


def test_generation_defaults_and_prefill_only_media(model):
    assert model.generation_config.do_sample is False
    assert model.generation_config.eos_token_id == [EOS_TOKEN_ID, 14374]
    official = official_generation_config(model)
    assert official.do_sample and official.top_p == 0.9 and official.temperature == 1.0
    assert official.max_new_tokens == OFFICIAL_GENERATION_KWARGS["max_new_tokens"] == 1200
    assert official.eos_token_id == model.generation_config.eos_token_id
    feats = media(1)
    ids = torch.tensor([prompt(True, True)])
    kwargs = dict(**feats, video_flags=torch.tensor([True]), audio_flags=torch.tensor([True]), use_cache=True)
    first = model.prepare_inputs_for_generation(ids, is_first_iteration=True, **kwargs)
    later = model.prepare_inputs_for_generation(ids, is_first_iteration=False, **kwargs)
    assert {"pixel_values_videos", "input_features", "video_flags"} <= set(first)
    assert not {"pixel_values_videos", "input_features", "video_flags", "audio_flags"} & set(later)


@pytest.mark.parametrize("fusion", ["qformer", "mean"])
def test_variant_fusions_run_and_train(fusion):
    overrides = {"video_fusion": fusion, "audio_fusion": fusion}
    if fusion == "qformer":
        overrides |= {"multi_fusion": "qformer", "num_video_query_tokens": 2, "num_multi_query_tokens": 3}
    else:
        overrides |= {"multi_fusion": "none"}
    model = build_model("tiny", seed=6, **TINY_TEST_MODEL, **overrides).train()
    k_v = model.config.num_video_query_tokens
    k_m = model.config.num_multi_query_tokens if fusion == "qformer" else 0
    ids = [IM_START] + [MULTI] * k_m + [AUDIO] + [FRAME] * k_v + [101, 102]
    ids = torch.tensor([ids, ids])
    out = model(input_ids=ids, labels=ids, **media(2))
    out.loss.backward()
    assert torch.isfinite(out.loss)
    if fusion == "qformer":
        assert model.model.multi_qformer.query_tokens.grad is not None
        assert model.model.video_qformer.qformer.encoder.layer[0].crossattention is not None
        # 2 video tokens per sample now: the 1-token official prompt is a count error.
        with pytest.raises(ValueError, match=r"fill 2 \(1 samples x 2 tokens"):
            model(input_ids=torch.tensor([prompt(True, True)]), **media(1))
    else:
        assert not hasattr(model.model, "fc_att")


def test_face_variant_uses_face_placeholder():
    model = build_model("tiny", seed=7, visual_input="face", **TINY_TEST_MODEL).eval()
    assert model.config.video_token_id == FACE
    logits = model(input_ids=torch.tensor([prompt(True, True, visual=FACE)]), **media(1)).logits
    assert torch.isfinite(logits).all()
    with pytest.raises(ValueError, match="visual_input='face'"):
        model(input_ids=torch.tensor([prompt(True, True, visual=FRAME) + [FACE]]), **media(1))


def test_official_key_map_covers_every_parameter():
    for fusion in ("attention", "qformer"):
        model = AffectGPTForConditionalGeneration(
            build_config("tiny", video_fusion=fusion, audio_fusion=fusion, multi_fusion=fusion)
        )
        for name in model.state_dict():
            assert any(name.startswith(prefix) for prefix in OFFICIAL_KEY_MAP), name
    # The fusion modules keep their official attribute names (Q-Former internals are renamed; see the map).
    for name in FUSION_MODULES:
        rows = {ours: off for ours, off in OFFICIAL_KEY_MAP.items() if ours.startswith(f"model.{name}.")}
        assert rows, name
        if not name.endswith("_qformer"):
            assert rows == {f"model.{name}.": f"{name}."}, name


# --------------------------------------------------------------------------------------------------------------
# Save / reload
# --------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("affectgpt-tiny")
    model.save_pretrained(path)
    return path


def realign(model):
    """Copy the parameters out of the memory-mapped safetensors buffers.

    CPU matmul kernels pick code paths by pointer alignment, so weights at an odd mmap offset give last-bit
    differences (~1e-7) for identical values; in aligned memory the logits must be bit-identical."""
    for param in model.parameters():
        param.data = param.data.clone()
    return model


def test_save_reload_identical_logits(model, saved):
    from transformers import AutoModelForImageTextToText, AutoModelForMultimodalLM

    ids = torch.tensor([prompt(True, True)])
    feats = media(1, seed=8)
    expected = model(input_ids=ids, **feats).logits
    for loader in (AffectGPTForConditionalGeneration, AutoModelForImageTextToText, AutoModelForMultimodalLM):
        reloaded = realign(loader.from_pretrained(saved).eval())
        assert type(reloaded) is AffectGPTForConditionalGeneration
        assert torch.equal(reloaded(input_ids=ids, **feats).logits, expected)
    assert json.loads((saved / "generation_config.json").read_text())["eos_token_id"] == [EOS_TOKEN_ID, 14374]


def test_saved_folder_is_flat_with_complete_auto_map(saved):
    config = json.loads((saved / "config.json").read_text())
    assert config["auto_map"] == AUTO_MAP
    assert set(AUTO_MAP) >= {
        "AutoConfig",
        "AutoModel",
        "AutoModelForImageTextToText",
        "AutoModelForMultimodalLM",
    }
    for name in ("configuration_affectgpt.py", "modeling_affectgpt.py", "pooling.py", "fusion_qformer.py"):
        assert (saved / name).is_file(), name
    for code in saved.glob("*.py"):
        text = code.read_text()
        assert "from affectgpt" not in text and "import modeling_affectgpt" not in text, code.name


def test_sdpa_and_bf16_loading(saved):
    model = AffectGPTForConditionalGeneration.from_pretrained(
        saved, attn_implementation="sdpa", dtype=torch.bfloat16
    )
    assert model.model.language_model.config._attn_implementation == "sdpa"
    assert model.dtype == torch.bfloat16
    logits = model(input_ids=torch.tensor([prompt(True, True)]), **media(1)).logits
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits.float()).all()


_REMOTE_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.append(SITE)  # site-packages without its .pth files: no editable install of the project
    for name in ("modeling_affectgpt", "affectgpt", "processing"):
        try:
            __import__(name)
        except ImportError:
            pass
        else:
            raise SystemExit(f"isolation failed: {name} is importable")
    import numpy as np
    import torch
    from transformers import AutoModelForImageTextToText
    model = AutoModelForImageTextToText.from_pretrained(FOLDER, trust_remote_code=True).eval()
    for param in model.parameters():  # out of the mmap buffers (see realign() in the test file)
        param.data = param.data.clone()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    data = np.load(INPUTS)
    with torch.no_grad():
        out = model(
            input_ids=torch.from_numpy(data["input_ids"]),
            pixel_values_videos=torch.from_numpy(data["pixel_values_videos"]),
            input_features=torch.from_numpy(data["input_features"]),
        )
    np.save(OUTPUT, out.logits.numpy())
    """
)


def test_trust_remote_code_reload_in_isolated_process(model, saved, tmp_path):
    ids = torch.tensor([prompt(True, True)])
    feats = media(1, seed=9)
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, input_ids=ids.numpy(), **{k: v.numpy() for k, v in feats.items()})
    output = tmp_path / "logits.npy"
    header = (
        f"SITE = {sysconfig.get_paths()['purelib']!r}\nFOLDER = {str(saved)!r}\n"
        f"INPUTS = {str(inputs)!r}\nOUTPUT = {str(output)!r}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # -I: no cwd/script dir/PYTHONPATH/user site on sys.path; -S: no site-packages .pth (the editable finder).
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", header + _REMOTE_SCRIPT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = model(input_ids=ids, **feats).logits.detach().numpy()
    np.testing.assert_array_equal(np.load(output), expected)
