"""Audio samples -> float32 mono at 16 kHz, as the official loader (torchaudio load + resample) makes them:
integer PCM scaled as soundfile does, channels averaged, torchaudio's sinc resampler."""

from __future__ import annotations

import numpy as np

from .media_sampling import TARGET_SAMPLE_RATE
from .media_source import MediaError

__all__ = ["MIN_SAMPLE_RATE", "MAX_SAMPLE_RATE", "pcm_to_float", "resample_sinc_hann", "to_mono_16k"]

# Rates outside this range are not audio we can meaningfully resample (and usually a units mistake).
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384000
_MAX_CHANNELS = 16
# Most kernel elements `resample_sinc_hann` builds at once (64 MB of float32, a few times that in temporaries).
_KERNEL_BUDGET = 1 << 24


def pcm_to_float(audio: np.ndarray) -> np.ndarray:
    """Integer PCM -> float32 in [-1, 1) as soundfile (the official torchaudio backend) reads it: signed samples
    divided by 2**(bits - 1) (int16 / 32768), unsigned 8-bit centred on 128."""
    if audio.dtype == np.uint8:
        return (audio.astype(np.float32) - 128.0) / 128.0
    return audio.astype(np.float32) / float(-np.iinfo(audio.dtype).min)


def resample_sinc_hann(
    waveform: np.ndarray,
    orig_freq: int,
    new_freq: int = TARGET_SAMPLE_RATE,
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
) -> np.ndarray:
    """`torchaudio.functional.resample(waveform, orig_freq, new_freq)` (default sinc_interp_hann kernel) in plain
    torch, float32, over the last axis.

    Written out because the official loader resamples with torchaudio and torchaudio cannot be a dependency here
    (its wheels pin matching CUDA torch builds). Same kernel, padding, strided convolution and output length as
    torchaudio's `_get_sinc_resample_kernel` / `_apply_sinc_resample_kernel`, so the result agrees to float32
    rounding."""
    import math

    import torch

    if orig_freq == new_freq:
        return np.asarray(waveform, dtype=np.float32)
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    base_freq = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base_freq)
    if new * (2 * width + orig) > _KERNEL_BUDGET:
        return _resample_sparse(waveform, orig, new, width, base_freq, lowpass_filter_width)
    dtype = torch.float32
    idx = torch.arange(-width, width + orig, dtype=dtype)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=dtype)[:, None, None] / new + idx
    kernel = _sinc_hann(t, base_freq, orig, lowpass_filter_width)

    tensor = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))
    shape = tensor.shape
    tensor = tensor.reshape(-1, shape[-1])
    length = tensor.shape[-1]
    padded = torch.nn.functional.pad(tensor, (width, width + orig))
    with torch.no_grad():
        out = torch.nn.functional.conv1d(padded[:, None], kernel, stride=orig)
    out = out.transpose(1, 2).reshape(tensor.shape[0], -1)
    target_length = math.ceil(new * length / orig)
    out = out[..., :target_length].reshape(*shape[:-1], -1)
    return out.numpy()


def _sinc_hann(t, base_freq: float, orig: int, lowpass_filter_width: int):
    """torchaudio's sinc_interp_hann kernel values at offsets `t` (in input-block units; modified in place)."""
    import math

    import torch

    t *= base_freq
    t = t.clamp_(-lowpass_filter_width, lowpass_filter_width)
    window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t *= math.pi
    kernel = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernel *= window * (base_freq / orig)
    return kernel


def _resample_sparse(waveform, orig: int, new: int, width: int, base_freq: float, lowpass_filter_width: int):
    """`resample_sinc_hann` for rates whose full kernel does not fit in memory (co-prime rates: 44,101 Hz ->
    16,000 phases of 44,135 taps, ~3 GB per temporary). Output sample m (phase i = m % new of input block
    b = m // new) only has non-zero taps within `2 * width + 1` of `i * orig // new`; those taps are computed with
    the dense kernel's float32 operations, the rest (~1e-22, the clamped window's rounding) are left out, so the
    result agrees with the dense path to float32 rounding."""
    import math

    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))
    shape = tensor.shape
    tensor = tensor.reshape(-1, shape[-1])
    length = tensor.shape[-1]
    padded = torch.nn.functional.pad(tensor, (width, width + orig))  # (rows, width + length + width + orig)
    target_length = math.ceil(new * length / orig)
    span = torch.arange(2 * width + 1)
    chunk = max(1, _KERNEL_BUDGET // span.numel())
    pieces = []
    for first in range(0, target_length, chunk):
        m = torch.arange(first, min(first + chunk, target_length))
        block, phase = m // new, m % new
        taps = (phase * orig // new)[:, None] + span  # (M, 2w+1) kernel columns
        t = (-phase).to(torch.float32)[:, None] / new + (taps - width).to(torch.float32) / orig
        kernel = _sinc_hann(t, base_freq, orig, lowpass_filter_width)
        samples = padded[:, block[:, None] * orig + taps]  # (rows, M, 2w+1)
        pieces.append((samples * kernel).sum(-1))
    return torch.cat(pieces, dim=-1).reshape(*shape[:-1], -1).numpy()


def to_mono_16k(waveform: np.ndarray, sample_rate: int, name: str = "audio") -> np.ndarray:
    """(N,), (channels, N) or (N, channels) audio at `sample_rate` -> (N',) float32 mono at 16 kHz.

    Integer PCM is scaled as the official reader does (int16 / 32768). ALL channels are averaged (the official
    code averages only 2-channel audio and would pass a 6-channel file on unaveraged: a deliberate improvement);
    resampling is the official torchaudio kernel (`resample_sinc_hann`). The official code resamples each channel
    and then averages; resampling is linear, so averaging first gives the same result to float32 rounding and
    resamples once."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        if isinstance(sample_rate, float) and sample_rate.is_integer():
            sample_rate = int(sample_rate)
        else:
            raise MediaError(f"{name}: unsupported sampling rate {sample_rate!r} (need an integer in Hz)")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise MediaError(
            f"{name}: unsupported sampling rate {sample_rate} Hz (supported {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE})"
        )
    audio = np.asarray(waveform)
    if np.issubdtype(audio.dtype, np.integer):
        audio = pcm_to_float(audio)
    audio = audio.astype(np.float32, copy=False)
    if audio.ndim == 2:
        # PyAV/torch give (channels, N), soundfile (N, channels): channels are the small axis, first preferred.
        if audio.shape[0] <= _MAX_CHANNELS:
            audio = audio[0] if audio.shape[0] == 1 else audio.mean(axis=0)
        elif audio.shape[1] <= _MAX_CHANNELS:
            audio = audio[:, 0] if audio.shape[1] == 1 else audio.mean(axis=1)
        else:
            raise MediaError(f"{name}: cannot tell the channel axis of audio shaped {audio.shape}")
    elif audio.ndim != 1:
        raise MediaError(f"{name}: audio must be 1-D or 2-D, got shape {audio.shape}")
    audio = np.nan_to_num(audio)
    if sample_rate != TARGET_SAMPLE_RATE and audio.size:
        audio = resample_sinc_hann(audio, sample_rate, TARGET_SAMPLE_RATE)
    return np.ascontiguousarray(audio, dtype=np.float32)
