"""Media decoding for AffectGPT: 8 frames, the audio track and face crops, sampled exactly as the official code.

The one module the processor imports: `decode_media` and `load_audio` pick a decoder, and every public name of the
media siblings is re-exported here so that callers keep one import path. Each job lives in its own flat sibling
(flat because Hub custom code is copied into a model folder without sub-packages):

* `.media_source`: accepted inputs, `MediaError`, `DecodedMedia`;
* `.media_sampling`: the official frame-index and audio-window rules;
* `.audio_convert`: PCM scaling, channel mixing, torchaudio's resampler written out;
* `.decode_pyav` (default; with `.pyav_frame_graph` and `.pyav_seek_plan`) and `.decode_torchcodec` (optional);
* `.faces`: face crops and OpenCV's bilinear resize written out.

Every step reproduces the official readers (decord frames, cv2 face resize, torchaudio load + resample,
pytorchvideo clip windows), measured in docs/ARCHITECTURE.md "Media preprocessing".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .audio_convert import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, resample_sinc_hann, to_mono_16k
from .decode_pyav import decode_pyav
from .decode_torchcodec import decode_torchcodec
from .faces import load_faces, resize_linear_cv2
from .media_sampling import (
    CLIP_SECONDS,
    TARGET_SAMPLE_RATE,
    audio_clip_bounds,
    sample_frame_indices,
    sample_frames,
    split_audio_clips,
)
from .media_source import DecodedMedia, MediaError, source_name

__all__ = [
    "TARGET_SAMPLE_RATE",
    "CLIP_SECONDS",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MediaError",
    "DecodedMedia",
    "sample_frame_indices",
    "audio_clip_bounds",
    "split_audio_clips",
    "resample_sinc_hann",
    "to_mono_16k",
    "decode_media",
    "load_audio",
    "load_faces",
    "resize_linear_cv2",
    "sample_frames",
    "source_name",
]


def decode_media(
    source: Any,
    num_frames: int = 8,
    want_video: bool = True,
    want_audio: bool = True,
    frame_size: tuple[int, int] | None = (224, 224),
    backend: str = "pyav",
    seek: str = "auto",
) -> DecodedMedia:
    """Decode `num_frames` sampled frames and/or the 16 kHz mono audio track of one media file in one open.

    `source`: path, file-like, bytes, or a datasets `{"path", "bytes"}` dict. `frame_size` (H, W) squashes frames
    during colour conversion, as the official decord reader does; `None` keeps the native size. A file with no
    audio track gives `audio=None` (missing, never noise). `seek`: "auto" jumps to the keyframe before a sampled
    frame when that decodes far fewer frames than one pass (short GOPs), "never" always decodes sequentially up
    to the last sampled frame (with the audio in the same pass), "always" forces seeking."""
    if backend == "pyav":
        return decode_pyav(source, num_frames, want_video, want_audio, frame_size, seek)
    if backend == "torchcodec":
        return decode_torchcodec(source, num_frames, want_video, want_audio, frame_size)
    raise ValueError(f"unknown media backend {backend!r}; expected 'pyav' or 'torchcodec'")


def load_audio(source: Any, backend: str = "pyav") -> np.ndarray | None:
    """An audio source -> (N,) float32 mono 16 kHz. `source` is a file (wav, mp3, an mp4's track, ...) or a
    `(waveform, sampling_rate)` pair. Returns None for a media file without an audio track."""
    if isinstance(source, tuple):
        if len(source) != 2:
            raise MediaError(f"audio tuple must be (waveform, sampling_rate), got {len(source)} items")
        waveform, rate = source
        return to_mono_16k(waveform, rate, "audio array")
    if isinstance(source, np.ndarray):
        raise MediaError("a bare audio array needs its sampling rate: pass (waveform, sampling_rate)")
    return decode_media(source, want_video=False, want_audio=True, backend=backend).audio
