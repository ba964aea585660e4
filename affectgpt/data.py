"""Dataset rows -> local media paths (docs/ARCHITECTURE.md, "Dataset media paths").

Rows written by `affectgpt build-dataset` keep media as `Video(decode=False)` / `Audio(decode=False)` values
(`{"path": str|None, "bytes": bytes|None}`) or plain strings (`face`). Relative paths are relative to the
dataset directory (`data_root`). Rows pushed with embedded bytes have no usable path: the bytes are written
once to a temporary file, because the processor decodes from files (PyAV), not from datasets' decoders.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

__all__ = ["MEDIA_COLUMNS", "load_split", "resolve_media", "row_to_clip"]

MEDIA_COLUMNS = ("video", "audio", "face")

_TMP_LOCK = threading.Lock()
_TMP_DIR: Path | None = None


def _tmp_dir() -> Path:
    """One private folder per process for embedded bytes, removed at exit."""
    global _TMP_DIR
    with _TMP_LOCK:
        if _TMP_DIR is None:
            _TMP_DIR = Path(tempfile.mkdtemp(prefix="affectgpt-media-"))
            atexit.register(shutil.rmtree, _TMP_DIR, True)
        return _TMP_DIR


def _write_bytes(data: bytes, name: str | None) -> str:
    # Content-addressed, so the same clip seen in every epoch is written once.
    digest = hashlib.sha256(data).hexdigest()[:32]
    suffix = Path(name).suffix if name else ""
    target = _tmp_dir() / f"{digest}{suffix}"
    if not target.exists():
        partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.part")
        partial.write_bytes(data)
        os.replace(partial, target)  # atomic: DataLoader workers may race on the same clip
    return str(target)


def _join(path: str, data_root: str | os.PathLike | None) -> str:
    expanded = os.path.expanduser(path)
    if os.path.isabs(expanded) or data_root is None:
        return expanded
    return os.path.join(os.fspath(data_root), expanded)


def resolve_media(value: Any, data_root: str | os.PathLike | None = None) -> str | None:
    """A local file path for a media cell, or None when the row has no such medium.

    `value` is None, a path string, or `{"path", "bytes"}`. An existing file at the (joined) path wins;
    otherwise embedded bytes are written to a temporary file; otherwise the joined path is returned as is,
    so a missing file fails later in the decoder with its real name rather than silently dropping a modality.
    """
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        return _join(value, data_root) if value else None
    if not isinstance(value, dict):
        raise TypeError(f"media cell must be None, a path or a {{'path', 'bytes'}} dict, got {type(value)!r}")
    path, data = value.get("path"), value.get("bytes")
    joined = _join(path, data_root) if path else None
    if joined is not None and os.path.isfile(joined):
        return joined
    if data:
        return _write_bytes(data, path)
    return joined


def row_to_clip(row: dict, data_root: str | os.PathLike | None = None) -> dict:
    """The inference/collator clip dict `{"video", "audio", "face", "subtitle", "name"}` of a dataset row."""
    clip = {key: resolve_media(row.get(key), data_root) for key in MEDIA_COLUMNS}
    clip["subtitle"] = row.get("subtitle")
    clip["name"] = row.get("name")
    return clip


def load_split(data_dir: str | os.PathLike, config: str | None, split: str, streaming: bool = False):
    """`datasets.load_dataset(data_dir, config, split=split)`; a local folder or a Hub id (the card's YAML
    `configs:` picks the parquet files). Media stay undecoded; use `resolve_media` with `data_root=data_dir`."""
    from datasets import load_dataset

    from dataset_scripts.card import split_patterns
    from dataset_scripts.writer import local_load_kwargs

    data_dir = os.fspath(data_dir)
    kwargs = {}
    if os.path.isdir(data_dir):
        # Only the wanted split's files: `load_dataset(DIR, CONFIG, split=...)` alone prepares every split of
        # the config (a whole train split read to score a test split).
        card = os.path.join(data_dir, "README.md")
        text = open(card, encoding="utf-8").read() if os.path.isfile(card) else ""
        patterns = split_patterns(text, config, split) if config else None
        if patterns:
            kwargs["data_files"] = {split: patterns}
        if not streaming:  # a local folder must not load a stale cache of a same-named folder
            kwargs.update(local_load_kwargs(data_dir))
    try:
        return load_dataset(data_dir, config, split=split, streaming=streaming, **kwargs)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"no dataset at {data_dir!r} (config {config!r}, split {split!r}): {err}"
        ) from err
