"""Face crops as the official `load_face` reads them: a `.npy` of crops, 8 sampled by the frame rule, each resized
with `cv2.resize` (INTER_LINEAR), here OpenCV's 8-bit fixed-point kernel written out in numpy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .media_sampling import sample_frames
from .media_source import MediaError, source_name

__all__ = ["load_faces", "resize_linear_cv2"]


def load_faces(source: Any, num_frames: int = 8, size: tuple[int, int] | None = None) -> np.ndarray:
    """Face crops as a `.npy` path or array (T, H, W, 3) -> (num_frames, H, W, 3) uint8 by the 8-index rule.

    `size` (H, W) resizes each sampled crop as the official `load_face` does (`cv2.resize`, bilinear; here
    `resize_linear_cv2`, the same pixels without OpenCV)."""
    name = source_name(source) if not isinstance(source, np.ndarray) else "face array"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"face file not found: {path}")
        try:
            source = np.load(path, allow_pickle=False)  # never unpickle user files
        except (ValueError, OSError) as error:
            raise MediaError(f"{name}: unreadable face .npy file ({error})") from error
    crops = sample_frames(np.asarray(source), num_frames, name)
    if size is None or crops.shape[1:3] == tuple(size):
        return crops
    return np.stack([resize_linear_cv2(crop, *size) for crop in crops])


def resize_linear_cv2(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """`cv2.resize(image, (width, height))` (default INTER_LINEAR) of a (H, W, C) uint8 image, bit for bit.

    Written out so that face crops get the official resize without making OpenCV a dependency. OpenCV's 8-bit
    path: horizontal pass in int32 with 11-bit weights, then the vertical pass of its SIMD kernel
    (`VResizeLinearVec_32s8u`: rows >> 4, 16-bit high multiply by the weight, sum, round with (+2) >> 2). Its
    scalar tail rounds differently, but a 224-wide 3-channel row (672 values) is a whole number of 16- and 32-lane
    SIMD blocks, so for the 224x224 faces the SIMD formula is the one that applies (tests compare with cv2)."""
    image = np.asarray(image)
    src_h, src_w = image.shape[:2]
    ys0, ys1, yb0, yb1 = _axis_taps(src_h, height, clamp_weights=False)
    xs0, xs1, xa0, xa1 = _axis_taps(src_w, width, clamp_weights=True)
    rows = image.astype(np.int32)
    horizontal = rows[:, xs0] * xa0[None, :, None] + rows[:, xs1] * xa1[None, :, None]  # (H, width, C)
    top, bottom = horizontal[ys0] >> 4, horizontal[ys1] >> 4
    mixed = ((top * yb0[:, None, None]) >> 16) + ((bottom * yb1[:, None, None]) >> 16)
    return np.clip((mixed + 2) >> 2, 0, 255).astype(np.uint8)


def _axis_taps(src: int, dst: int, clamp_weights: bool):
    """Source indices and 11-bit weights of OpenCV's INTER_LINEAR along one axis: `f = (d + 0.5) * src/dst - 0.5`
    in float32, `s = floor(f)`, weights `saturate_cast<short>((1 - frac) * 2048)` and `(frac * 2048)`, each
    rounded on its own. Columns clamp out-of-range taps to the edge with weight (2048, 0); rows keep the weights
    and clamp the row index (both as OpenCV does; the results agree)."""
    f = ((np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5).astype(np.float32)
    start = np.floor(f).astype(np.int64)
    frac = (f - start.astype(np.float32)).astype(np.float32)
    if clamp_weights:
        edge = (start < 0) | (start >= src - 1)
        frac[edge] = 0
        start = np.clip(start, 0, src - 1)
    w0 = np.rint((np.float32(1) - frac) * np.float32(2048)).astype(np.int32)
    w1 = np.rint(frac * np.float32(2048)).astype(np.int32)
    return np.clip(start, 0, src - 1), np.clip(start + 1, 0, src - 1), w0, w1
