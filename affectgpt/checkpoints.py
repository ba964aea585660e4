"""Which Trainer checkpoint a run may resume from (docs/TRAINING.md, "Resuming").

The Trainer writes a checkpoint folder in place: weights, then optimizer / scheduler / RNG state, and
`trainer_state.json` last. A run killed while saving leaves the newest `checkpoint-N` without that file (or with
files cut short), and the Trainer's own `get_last_checkpoint` would pick it and fail. A checkpoint counts as
complete when its state file parses and every weight and state file in it is whole; the checks read headers
and zip directories only, never the tensors, so they cost milliseconds even for large checkpoints."""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile
from pathlib import Path

__all__ = ["checkpoint_problem", "latest_complete_checkpoint"]

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
STATE_FILE = "trainer_state.json"  # transformers.trainer.TRAINER_STATE_NAME, written last


def _safetensors_problem(path: Path) -> str | None:
    """A safetensors file is 8 bytes of header length, the JSON header, then the tensors up to the largest end
    offset the header names: a file cut short is smaller than that."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return f"{path.name} is cut short ({size} bytes)"
        (length,) = struct.unpack("<Q", head)
        if length > size - 8:
            return f"{path.name} is cut short (header of {length} bytes in a {size}-byte file)"
        try:
            header = json.loads(fh.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return f"{path.name} has an unreadable header"
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    need = 8 + length + max(ends, default=0)
    if size < need:
        return f"{path.name} is cut short ({size} of {need} bytes)"
    return None


def _torch_file_problem(path: Path) -> str | None:
    """`torch.save` files are zip archives whose directory sits at the end: a file cut short has none."""
    try:
        with zipfile.ZipFile(path):
            return None
    except (zipfile.BadZipFile, OSError):
        return f"{path.name} is cut short or not a torch.save file"


def checkpoint_problem(folder: str | os.PathLike) -> str | None:
    """Why `folder` cannot be resumed from (a one-line reason), or None when it is complete."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"no checkpoint folder at {folder}"
    state = folder / STATE_FILE
    if not state.is_file():
        return f"no {STATE_FILE} (a save that did not finish)"
    try:
        if not isinstance(json.loads(state.read_text(encoding="utf-8")).get("global_step"), int):
            return f"{STATE_FILE} has no global_step"
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return f"{STATE_FILE} is not valid JSON (a save that did not finish)"
    weights = list(folder.glob("*.safetensors")) + list(folder.glob("*/*.safetensors"))
    torch_files = [p for p in folder.iterdir() if p.suffix in {".pt", ".pth", ".bin"} and p.is_file()]
    if (
        not weights
        and not torch_files
        and not any(p.name.startswith("global_step") for p in folder.iterdir())
    ):
        return "no weight files"
    for path in sorted(weights):
        if problem := _safetensors_problem(path):
            return problem
    for path in sorted(torch_files):
        if problem := _torch_file_problem(path):
            return problem
    return None


def latest_complete_checkpoint(output_dir: str | os.PathLike) -> tuple[str | None, list[str]]:
    """`(the newest complete checkpoint-N in output_dir or None, [why each newer one was skipped])`."""
    root = Path(output_dir)
    found = []
    for path in root.iterdir() if root.is_dir() else ():
        match = _CHECKPOINT.match(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    skipped = []
    for _, path in sorted(found, reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            return str(path), skipped
        skipped.append(f"{path.name}: {problem}")
    return None, skipped
