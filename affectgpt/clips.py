"""Clips as the pipeline takes them: `normalize_clip` (a path or dict -> the contract dict, missing files named
before any model time is spent), `ClipEncoder` (clips -> the processor's left-padded batch) and `ClipResult`
(one clip's answer). Contract: docs/ARCHITECTURE.md, "Inference pipeline"."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from affectgpt.errors import PipelineError

__all__ = ["TASKS", "ClipEncoder", "ClipResult", "normalize_clip"]

TASKS = ("description", "ovlabel")


@dataclass
class ClipResult:
    """One clip's answer. `emotions`/`sentiment` are None when no extractor is available (see `note`)."""

    name: str | None
    text: str
    emotions: list[str] | None = None
    sentiment: str | None = None
    task: str = "description"
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize_clip(clip: str | os.PathLike | dict) -> dict[str, Any]:
    """A clip dict with all contract keys; a bare path means a video. Missing files fail here, naming the file."""
    if isinstance(clip, (str, os.PathLike)):
        clip = {"video": clip}
    if not isinstance(clip, dict):
        raise PipelineError(f"a clip must be a path or a dict, got {type(clip).__name__}")
    unknown = set(clip) - {"video", "audio", "face", "subtitle", "name"}
    if unknown:
        raise PipelineError(f"unknown clip keys: {sorted(unknown)}")
    out: dict[str, Any] = {}
    for key in ("video", "audio", "face"):
        value = clip.get(key)
        if value is not None and not isinstance(value, (str, os.PathLike)):
            out[key] = value  # already-decoded arrays go to the processor as they are
            continue
        if value is not None:
            path = Path(value).expanduser()
            if not path.is_file():
                raise PipelineError(f"{key} file not found: {path}")
            value = str(path)
        out[key] = value
    if all(out[k] is None for k in ("video", "audio", "face")) and not clip.get("subtitle"):
        raise PipelineError("a clip needs at least one of video, audio, face or subtitle")
    subtitle = clip.get("subtitle")
    if subtitle is not None and not isinstance(subtitle, str):
        raise PipelineError(f"subtitle must be text, got {type(subtitle).__name__}")
    out["subtitle"] = subtitle
    name = clip.get("name")
    if name is None:
        first = next((out[k] for k in ("video", "face", "audio") if isinstance(out[k], str)), None)
        name = Path(first).stem if first else None
    out["name"] = name
    return out


class ClipEncoder:
    """clips -> BatchFeature (left padded). A picklable callable, so a DataLoader can run it as `collate_fn`
    in worker processes: decoding the media is the slow part, and it happens there."""

    def __init__(self, processor, task: str = "description"):
        if task not in TASKS:
            raise PipelineError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
        self.processor = processor
        self.task = task

    def __call__(self, clips: Sequence[dict]) -> tuple[list[str | None], Any]:
        clips = [normalize_clip(c) for c in clips]
        inputs = self.processor(
            videos=[c["video"] for c in clips],
            audios=[c["audio"] for c in clips],
            faces=[c["face"] for c in clips],
            subtitles=[c["subtitle"] for c in clips],
            task=self.task,
            padding_side="left",
            return_tensors="pt",
        )
        return [c["name"] for c in clips], inputs
