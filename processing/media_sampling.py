"""The official sampling rules: which 8 frames of a video and which 8 two-second windows of its audio track the
model sees (decord index rule of the official `load_video`, pytorchvideo's `ConstantClipsPerVideoSampler` of the
official `load_audio`). Pure numpy; checked against the authors' outputs in tests/test_media_parity.py."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .media_source import MediaError

__all__ = [
    "TARGET_SAMPLE_RATE",
    "CLIP_SECONDS",
    "sample_frame_indices",
    "audio_clip_bounds",
    "split_audio_clips",
    "sample_frames",
]

TARGET_SAMPLE_RATE = 16000  # HuBERT's rate
CLIP_SECONDS = 2.0


def sample_frame_indices(num_total: int, num_frames: int = 8) -> np.ndarray:
    """First frame of each of `min(num_frames, n)` equal segments, last index repeated up to `num_frames`.

    Official: `indices = np.arange(0, n, n / min(num_frames, n)).astype(int)`, then padded with the last index."""
    if num_total <= 0:
        raise ValueError(f"cannot sample frames from a video with {num_total} frames")
    count = min(num_frames, num_total)
    indices = np.arange(0, num_total, num_total / count).astype(int)[:count]
    if len(indices) < num_frames:
        indices = np.concatenate([indices, np.full(num_frames - len(indices), indices[-1])])
    return indices


def audio_clip_bounds(
    num_samples: int,
    num_clips: int = 8,
    sample_rate: int = TARGET_SAMPLE_RATE,
    clip_seconds: float = CLIP_SECONDS,
) -> list[tuple[int, int]]:
    """[start, end) sample bounds of `num_clips` clips after zero-padding to >= one clip.

    Official (pytorchvideo 0.1.5 `ConstantClipsPerVideoSampler` inside the official `load_audio`): with D the padded
    duration in seconds as a Python float, `s_k = Fraction(max(D - clip, 0)) / num_clips * k` (divided by
    num_clips, not num_clips - 1, so the last clip ends before the end), bounds `int(s_k * rate)` and
    `int((s_k + clip) * rate)`. The exact Fraction matters: float arithmetic lands one sample off (5.3 s: clip 1
    starts at 6599, not 6600)."""
    clip_len = int(round(clip_seconds * sample_rate))
    duration = max(num_samples, clip_len) / sample_rate
    step = Fraction(max(duration - clip_seconds, 0)) / num_clips
    clip = Fraction(clip_seconds)
    return [(int(step * k * sample_rate), int((step * k + clip) * sample_rate)) for k in range(num_clips)]


def split_audio_clips(
    waveform: np.ndarray,
    num_clips: int = 8,
    sample_rate: int = TARGET_SAMPLE_RATE,
    clip_seconds: float = CLIP_SECONDS,
) -> np.ndarray:
    """(num_clips, clip_seconds*sample_rate) float32 clips of a 16 kHz mono waveform (zero-padded to >= 1 clip)."""
    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    clip_len = int(round(clip_seconds * sample_rate))
    bounds = audio_clip_bounds(len(waveform), num_clips, sample_rate, clip_seconds)
    padded = np.zeros(max(len(waveform), bounds[-1][1], clip_len), dtype=np.float32)
    padded[: len(waveform)] = waveform
    return np.stack([padded[start : start + clip_len] for start, _ in bounds])


def sample_frames(frames: np.ndarray, num_frames: int = 8, name: str = "frames") -> np.ndarray:
    """Apply the 8-index rule to already-decoded (T, H, W, 3) frames (videos given as arrays, face crops)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise MediaError(f"{name}: expected (T, H, W, 3) frames, got shape {frames.shape}")
    if frames.shape[0] == 0 or frames.shape[1] == 0 or frames.shape[2] == 0:
        raise MediaError(f"{name}: zero-length or empty frames {frames.shape}")
    if frames.dtype != np.uint8:
        if np.issubdtype(frames.dtype, np.floating) and frames.size and float(np.nanmax(frames)) <= 1.0:
            frames = frames * 255.0  # floats in [0, 1]
        frames = np.clip(np.nan_to_num(frames), 0, 255).astype(np.uint8)
    return frames[sample_frame_indices(frames.shape[0], num_frames)]
