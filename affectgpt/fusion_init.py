"""Data-dependent initialisation of the pooling, projector and pre-fusion layers (recipe `model.init_fusion_from_data`).

Why: the official model reads pretrained CLIP/HuBERT features, which differ a lot from clip to clip. Randomly
initialised tiny towers give features that are nearly the same vector for every clip (cosine similarity ~0.98
across synth-mer clips) with the clip-specific part a few per cent of it; the language model's RMS norm then
sees almost the same media token for every clip and training never learns to read it. The cure is the standard
one for such features: standardise them. Doing it in the initial weights keeps the architecture, the code path
and the saved format unchanged; only the starting point moves (as LSUV / data-dependent init do):

* the attention pooling starts as a plain mean (score weight 0, bias 1/T);
* each projector (and each pre-fusion embedding) starts as W·diag(1/σ)·(x − μ), with μ, σ the per-feature mean
  and std over the training clips and W random at the scale of the layer it feeds;
* the pre-fusion weights α start at ½ each (fc_att weight 0, bias ½). Like a zero-initialised last layer of a
  residual branch, attention_mlp gets no gradient in the first step and trains once fc_att has moved.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["FusionInitError", "feature_statistics", "init_fusion_from_data"]


class FusionInitError(ValueError):
    """The model or the data cannot be used for the data-dependent initialisation."""


@torch.no_grad()
def feature_statistics(model, batches: Iterable[dict]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per-feature (mean, std) of the per-sample pooled-at-init features: the frame mean of the video
    features and the clip mean of the audio features, over every sample that has the modality.

    `batches` are processor/collator outputs (pixel_values_videos, input_features, video/audio flags)."""
    return _statistics(_encode(model.model, batches))


def _encode(inner, batches: Iterable[dict]) -> list[tuple]:
    """Tower features of every batch, computed once: (video (N_v, T, d_v) | None, audio (N_a, C, d_a) | None,
    has_video (B,), has_audio (B,)) per batch."""
    encoded = []
    for batch in batches:
        size = batch["input_ids"].shape[0]
        pixels, clips = batch.get("pixel_values_videos"), batch.get("input_features")
        has_video = inner._resolve_flags(batch.get("video_flags"), pixels, size)  # (B,)
        has_audio = inner._resolve_flags(batch.get("audio_flags"), clips, size)  # (B,)
        video = inner.get_video_features(inner._rows(pixels, has_video)) if has_video.any() else None
        audio = inner.get_audio_features(inner._rows(clips, has_audio)) if has_audio.any() else None
        encoded.append((video, audio, has_video, has_audio))
    return encoded


def _statistics(encoded: list[tuple]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    stats = {}
    for name, slot in (("video", 0), ("audio", 1)):
        rows = [item[slot].mean(dim=1) for item in encoded if item[slot] is not None]  # (N, T, d) -> (N, d)
        features = torch.cat(rows) if rows else torch.empty(0)  # (N, d)
        if features.shape[0] < 2:
            raise FusionInitError(
                f"init_fusion_from_data: {features.shape[0]} training samples have {name}; need at least 2 "
                "to estimate the feature mean and std"
            )
        stats[name] = (features.mean(dim=0), features.std(dim=0).clamp_min(1e-6))  # (d,), (d,)
    return stats


def _standardising_linear(
    layer: nn.Linear, mean: torch.Tensor, std: torch.Tensor, out_std: float, gen
) -> None:
    """layer(x) = G·diag(1/σ)·(x − μ), G ~ N(0, out_std²/d): outputs of std ~out_std on the training features."""
    fan_in = layer.weight.shape[1]
    gauss = torch.randn(layer.weight.shape, generator=gen, dtype=torch.float32) * (
        out_std / math.sqrt(fan_in)
    )
    weight = gauss / std.float().cpu()  # (out, d) / (d,) -> (out, d)
    layer.weight.copy_(weight.to(layer.weight))
    layer.bias.copy_((-(weight @ mean.float().cpu())).to(layer.bias))  # (out, d) @ (d,) -> (out,)


@torch.no_grad()
def init_fusion_from_data(model, batches: Iterable[dict], seed: int = 0) -> dict[str, float]:
    """Re-initialise the attention pooling, projectors and attention pre-fusion of `model` (an
    AffectGPTForConditionalGeneration, before any LoRA wrapping) from the features of `batches`.

    Returns the mean cosine similarity between the initial media tokens of different samples, before and after
    (a number near 1 means the tokens are nearly constant), for the training log."""
    inner = model.model
    config = inner.config
    supported = {
        "video_fusion": ("attention",),
        "audio_fusion": ("attention",),
        "multi_fusion": ("attention", "none"),
    }
    unsupported = {
        name: getattr(config, name) for name, ok in supported.items() if getattr(config, name) not in ok
    }
    if unsupported:
        raise FusionInitError(
            f"init_fusion_from_data supports the official attention pooling/pre-fusion only; this model has {unsupported}"
        )
    encoded = _encode(inner, batches)  # the towers are frozen: their features serve every step below
    before = _token_similarity(inner, encoded)
    (mu_v, sd_v), (mu_a, sd_a) = _statistics(encoded).values()
    gen = torch.Generator().manual_seed(seed)
    token_std = float(getattr(config.text_config, "initializer_range", 0.02))  # the scale of word embeddings

    for score, steps in (
        (inner.video_attention_mlp, config.num_frames),
        (inner.audio_attention_mlp, config.num_audio_clips),
    ):
        score.weight.zero_()
        score.bias.fill_(1.0 / steps)  # Σ_t (1/T)·Z_t: the mean
    _standardising_linear(inner.affectgpt_proj, mu_v, sd_v, token_std, gen)
    _standardising_linear(inner.audio_llama_proj, mu_a, sd_a, token_std, gen)
    if config.multi_fusion == "attention":
        _standardising_linear(inner.multi_video_embs, mu_v, sd_v, 1.0, gen)
        _standardising_linear(inner.multi_audio_embs, mu_a, sd_a, 1.0, gen)
        inner.fc_att.weight.zero_()
        inner.fc_att.bias.fill_(0.5)  # z = ½·h_v + ½·h_a until training moves α
        fused_std = 1.0 / math.sqrt(2.0)  # std of ½(h_v + h_a) for independent unit-std h_v, h_a
        proj = inner.multi_llama_proj
        gauss = torch.randn(proj.weight.shape, generator=gen) * (
            token_std / (fused_std * math.sqrt(proj.weight.shape[1]))
        )
        proj.weight.copy_(gauss.to(proj.weight))
        proj.bias.zero_()
    after = _token_similarity(inner, encoded)
    return {
        f"{name}_token_cosine_{when}": value
        for when, sims in (("before", before), ("after", after))
        for name, value in sims.items()
    }


def _token_similarity(inner, encoded: list[tuple]) -> dict[str, float]:
    """Mean pairwise cosine similarity of the video / audio / fused tokens across the encoded samples."""
    tokens = {"video": [], "audio": [], "multi": []}
    for video, audio, has_video, has_audio in encoded:
        if video is not None:
            tokens["video"].append(inner.pool_video(video).flatten(1))  # (N_v, K*H)
        if audio is not None:
            tokens["audio"].append(inner.pool_audio(audio).flatten(1))  # (N_a, K*H)
        if inner.config.multi_fusion != "none" and (has_video & has_audio).any():
            # rows of the per-modality features that belong to samples having both
            fused = inner.fuse(video[has_audio[has_video]], audio[has_video[has_audio]])  # (N_m, K, H)
            tokens["multi"].append(fused.flatten(1))  # (N_m, K*H)
    result = {}
    for name, rows in tokens.items():
        if not rows:
            continue
        unit = nn.functional.normalize(torch.cat(rows).float(), dim=1)  # (N, K*H)
        n = unit.shape[0]
        if n > 1:
            result[name] = float(((unit @ unit.T).sum() - n) / (n * (n - 1)))  # off-diagonal mean
    return result
