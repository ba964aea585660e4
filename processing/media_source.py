"""What a media input may be (path, bytes, file-like, a datasets `{"path", "bytes"}` row), how errors name it, and
what decoding it gives. Shared by the decoders (`.decode_pyav`, `.decode_torchcodec`) and the loaders."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MediaError", "DecodedMedia", "source_name", "open_source"]


class MediaError(ValueError):
    """A media input that cannot be used; the message names the file."""


@dataclass
class DecodedMedia:
    """What one open of a media file gives: sampled frames and/or the 16 kHz mono audio track."""

    frames: np.ndarray | None  # (num_frames, H, W, 3) uint8, or None when no video was read
    audio: np.ndarray | None  # (N,) float32 at 16 kHz, or None when the file has no audio track
    total_frames: int = 0  # frames in the video stream (what the sampling indices were computed from)


def source_name(source: Any) -> str:
    """A human-readable name for error messages."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, dict):
        return str(source.get("path") or "<bytes>")
    return str(getattr(source, "name", None) or f"<{type(source).__name__}>")


def open_source(source: Any):
    """Normalise a path / file-like / bytes / datasets dict into something `av.open` takes, checking paths."""
    if isinstance(source, dict):  # datasets Video/Audio(decode=False) rows
        if source.get("bytes") is not None:
            return io.BytesIO(source["bytes"])
        source = source.get("path")
        if source is None:
            raise MediaError("media dict has neither 'bytes' nor 'path'")
    if isinstance(source, (bytes, bytearray)):
        return io.BytesIO(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"media file not found: {path}")
        return str(path)
    if hasattr(source, "read"):
        return source
    raise MediaError(f"unsupported media source of type {type(source).__name__}")
