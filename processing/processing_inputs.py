"""The processor's argument handling: per-sample argument lists, and chat conversations -> media sources.

Hub custom code, a flat sibling of `processing_affectgpt.py` (copied next to it by `save_pretrained`), so it
imports only numpy. Nothing here decodes media: `AffectGPTProcessor.__call__` does, one sample at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SAMPLE_ARGUMENTS", "conversation_inputs", "per_sample", "sample_columns", "unwrap_nested"]

# The `__call__` arguments that hold one entry per sample; the first one given sets the batch size.
SAMPLE_ARGUMENTS = ("text", "videos", "audio", "faces", "subtitles", "questions")


def per_sample(value: Any, batch_size: int | None, name: str) -> list | None:
    """A per-sample argument as a list (a single item for batch size 1 is accepted)."""
    if value is None:
        return None
    single = (
        isinstance(value, (str, bytes, dict, tuple)) or hasattr(value, "read") or hasattr(value, "__fspath__")
    )
    if isinstance(value, np.ndarray):
        single = True  # one decoded video / face array / waveform; batches are lists
    items = [value] if single else list(value)
    if batch_size is not None and len(items) != batch_size:
        raise ValueError(f"`{name}` has {len(items)} items but the batch has {batch_size} samples")
    return items


def unwrap_nested(item: Any, name: str) -> Any:
    """apply_chat_template passes one list of videos per conversation; AffectGPT takes at most one."""
    if isinstance(item, list):
        if len(item) > 1:
            raise ValueError(f"AffectGPT takes one {name} per sample, got {len(item)}")
        return item[0] if item else None
    return item


def sample_columns(arguments: dict[str, Any], task: str | None) -> tuple[dict[str, list], int]:
    """`{name: value}` for the `SAMPLE_ARGUMENTS` -> (`{name: one entry per sample}`, batch size).

    An argument that is None is a column of `None`; with none given, `task` alone makes a batch of one."""
    if set(arguments) != set(SAMPLE_ARGUMENTS):  # the caller's list and this one must not drift apart
        raise ValueError(f"sample_columns takes exactly {SAMPLE_ARGUMENTS}, got {tuple(arguments)}")
    lists = {}
    batch_size = None
    for name in SAMPLE_ARGUMENTS:
        lists[name] = per_sample(arguments[name], batch_size, name)
        if lists[name] is not None and batch_size is None:
            batch_size = len(lists[name])
    if batch_size is None:
        if task is None:
            raise ValueError("nothing to process: give text, videos, audio, faces, subtitles or questions")
        batch_size = 1
    column = {name: (items if items is not None else [None] * batch_size) for name, items in lists.items()}
    return column, batch_size


def conversation_inputs(conversations) -> tuple[list, list, list, dict]:
    """Collect video / audio sources and subtitles per conversation WITHOUT decoding: `__call__` decodes
    (transformers' own loaders need torchcodec/librosa, and would separate a video from its audio track).

    Subtitle blocks are removed from the messages in place, since the processor renders them inside the media
    block. Returns what `ProcessorMixin._multimodal_inputs_from_conversations` returns: images (always empty),
    videos, audios and extra `__call__` arguments."""
    batch_videos, batch_audios, subtitles = [], [], []
    for conversation in conversations:
        videos, audios, subtitle = [], [], None
        for message in conversation:
            content = message.get("content") or []
            if isinstance(content, str):
                continue
            kept = []
            for block in content:
                kind = block.get("type")
                if kind == "video":
                    videos.extend(block[k] for k in ("video", "path", "url") if k in block)
                elif kind == "audio":
                    audios.extend(block[k] for k in ("audio", "path", "url") if k in block)
                elif kind == "subtitle":
                    subtitle = block.get("text", block.get("subtitle"))
                    continue
                kept.append(block)
            message["content"] = kept
        batch_videos.append(videos)
        batch_audios.append(audios[0] if audios else None)
        subtitles.append(subtitle)
    extra = {"subtitles": subtitles} if any(s is not None for s in subtitles) else {}
    has_audio = any(a is not None for a in batch_audios)
    return [[] for _ in conversations], batch_videos, (batch_audios if has_audio else []), extra
