"""Data-dependent initialisation of the pooling / projectors (affectgpt.fusion_init) on the tiny random model
(at the test-only input sizes: the statistics do not depend on them)."""

from __future__ import annotations

import pytest
import torch

from affectgpt.fusion_init import FusionInitError, feature_statistics, init_fusion_from_data
from affectgpt.presets import build_model
from tests.conftest import TINY_TEST_MODEL, tiny_test_media


def _batches(count: int = 3, size: int = 6, seed: int = 0, audio_rows: int | None = None) -> list[dict]:
    """Collator-like batches of random media; only the media keys and the batch size matter here."""
    batches = []
    for i in range(count):
        audio_flags = torch.ones(size, dtype=torch.bool)
        if audio_rows is not None:
            audio_flags[audio_rows:] = False
        batches.append(
            {
                "input_ids": torch.zeros(size, 4, dtype=torch.long),
                **tiny_test_media(size, seed=seed * count + i, audio_scale=0.1),
                "video_flags": torch.ones(size, dtype=torch.bool),
                "audio_flags": audio_flags,
            }
        )
    return batches


@pytest.fixture(scope="module")
def initialised():
    model = build_model("tiny", seed=0, **TINY_TEST_MODEL).eval()
    batches = _batches()
    similarity = init_fusion_from_data(model, batches, seed=1)
    return model, batches, similarity


def _tokens(model, batches):
    inner = model.model
    with torch.no_grad():
        video = torch.cat(
            [inner.get_video_features(b["pixel_values_videos"]) for b in batches]
        )  # (N, T, d_v)
        audio = torch.cat([inner.get_audio_features(b["input_features"]) for b in batches])  # (N, C, d_a)
        return (
            video,
            audio,
            inner.pool_video(video)[:, 0],
            inner.pool_audio(audio)[:, 0],
            inner.fuse(video, audio)[:, 0],
        )


def test_tokens_are_standardised_on_the_data_they_were_fitted_on(initialised):
    model, batches, _ = initialised
    video, audio, video_tok, audio_tok, fused_tok = _tokens(model, batches)
    token_std = model.config.text_config.initializer_range
    for tokens in (video_tok, audio_tok, fused_tok):  # (N, H) each
        # centred: the bias removes W·μ, so the mean token over the fitting data is zero
        assert tokens.mean(dim=0).abs().max() < 1e-5
        # at the scale of the word embeddings (random W: a factor of about 2 either way)
        assert 0.3 * token_std < tokens.std() < 3 * token_std
    inner = model.model
    # pooling starts as a plain mean; the fused token starts as the projected ½(h_v + h_a)
    with torch.no_grad():
        torch.testing.assert_close(video_tok, inner.affectgpt_proj(video.mean(dim=1)))
        torch.testing.assert_close(audio_tok, inner.audio_llama_proj(audio.mean(dim=1)))
        halves = 0.5 * inner.multi_video_embs(video.mean(dim=1)) + 0.5 * inner.multi_audio_embs(
            audio.mean(dim=1)
        )
        torch.testing.assert_close(fused_tok, inner.multi_llama_proj(halves), rtol=1e-4, atol=1e-6)


def test_similarity_report_and_statistics(initialised):
    model, batches, similarity = initialised
    assert set(similarity) == {
        f"{name}_token_cosine_{when}" for name in ("video", "audio", "multi") for when in ("before", "after")
    }
    for name in ("video", "audio", "multi"):
        # centred tokens of 18 samples: mean pairwise cosine near -1/17 rather than near 1
        assert abs(similarity[f"{name}_token_cosine_after"]) < 0.2
    stats = feature_statistics(model, batches)
    d_v, d_a = model.config.vision_feature_size, model.config.audio_feature_size
    assert [tuple(t.shape) for pair in stats.values() for t in pair] == [(d_v,), (d_v,), (d_a,), (d_a,)]
    assert all((std > 0).all() for _, std in stats.values())


def test_same_seed_same_weights_and_towers_untouched():
    first, second = (
        build_model("tiny", seed=0, **TINY_TEST_MODEL).eval(),
        build_model("tiny", seed=0, **TINY_TEST_MODEL).eval(),
    )
    towers_before = {n: p.clone() for n, p in first.named_parameters() if "tower" in n}
    init_fusion_from_data(first, _batches(count=1), seed=3)
    init_fusion_from_data(second, _batches(count=1), seed=3)
    for (name, a), (_, b) in zip(first.named_parameters(), second.named_parameters(), strict=True):
        assert torch.equal(a, b), name
    for name, before in towers_before.items():
        assert torch.equal(before, first.get_parameter(name)), name


def test_bad_inputs_raise_clear_errors():
    model = build_model("tiny", seed=0, **TINY_TEST_MODEL).eval()
    with pytest.raises(FusionInitError, match=r"1 training samples have audio; need at least 2"):
        init_fusion_from_data(model, _batches(count=1, audio_rows=1))
    qformer = build_model("tiny", seed=0, audio_fusion="qformer", **TINY_TEST_MODEL).eval()
    with pytest.raises(FusionInitError, match=r"attention pooling/pre-fusion only.*audio_fusion"):
        init_fusion_from_data(qformer, _batches(count=1))
