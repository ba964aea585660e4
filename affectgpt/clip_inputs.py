"""What a user hands `describe` and the Space, checked before any model time is spent: small text files read
safely, clip manifests, and which modalities a clip really gives the model.

- `read_text_file`: only a regular file, at most `max_bytes` (a FIFO would block for ever, /dev/zero would fill
  memory, a directory would raise deep inside pathlib).
- `read_manifest`: CSV or JSONL rows `video, audio, face, subtitle[, name]`, paths relative to the manifest.
- `clip_modalities` / `modality_notes`: the inputs the processor will use for a clip, and what is missing.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

from affectgpt.errors import CLIError

__all__ = [
    "MANIFEST_COLUMNS",
    "MAX_MANIFEST_BYTES",
    "MAX_SUBTITLE_BYTES",
    "clip_modalities",
    "has_audio_track",
    "modality_notes",
    "read_manifest",
    "read_text_file",
]

# A subtitle is what one person says in one short clip; 64 KiB is already far beyond the LLM's context.
MAX_SUBTITLE_BYTES = 64 * 1024
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MANIFEST_COLUMNS = ("video", "audio", "face", "subtitle", "name")
_PATH_COLUMNS = ("video", "audio", "face")


def read_text_file(path: str | os.PathLike, max_bytes: int, what: str) -> str:
    """The UTF-8 text of a regular file of at most `max_bytes`; `CLIError` naming `what` and the file else."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError as err:
        raise CLIError(f"{what} not found: {path}") from err
    except OSError as err:
        raise CLIError(f"{what} cannot be read: {path} ({err.strerror or err})") from err
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise CLIError(f"{what} is {kind}: {path}")
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)  # bounded even if the file grows after the stat
    except OSError as err:
        raise CLIError(f"{what} cannot be read: {path} ({err.strerror or err})") from err
    if len(data) > max_bytes:
        raise CLIError(f"{what} is larger than {max_bytes // 1024} KiB: {path}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CLIError(f"{what} is not UTF-8 text: {path} (byte {err.start})") from err


def _manifest_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    """(line number, raw row) pairs of a .csv or .jsonl manifest."""
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        unknown = sorted(set(reader.fieldnames or ()) - set(MANIFEST_COLUMNS))
        if unknown:
            raise CLIError(f"{path}: unknown column(s) {unknown}; use {', '.join(MANIFEST_COLUMNS)}")
        try:
            return [(reader.line_num, row) for row in reader]
        except csv.Error as err:
            raise CLIError(f"{path}:{reader.line_num}: not valid CSV ({err})") from err
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise CLIError(f"{path}:{number}: not valid JSON ({err.msg})") from err
            if not isinstance(row, dict):
                raise CLIError(f"{path}:{number}: each line must be a JSON object, got {type(row).__name__}")
            unknown = sorted(set(row) - set(MANIFEST_COLUMNS))
            if unknown:
                raise CLIError(
                    f"{path}:{number}: unknown key(s) {unknown}; use {', '.join(MANIFEST_COLUMNS)}"
                )
            rows.append((number, row))
        return rows
    raise CLIError(f"{path}: a manifest must be .csv or .jsonl")


def read_manifest(path: str | os.PathLike) -> list[dict]:
    """Clip dicts (`video`, `audio`, `face`, `subtitle`, `name`) from a manifest; relative paths are relative to
    the manifest's folder. Missing files and empty rows fail here, naming the manifest line and the column."""
    path = Path(path)
    text = read_text_file(path, MAX_MANIFEST_BYTES, "manifest")
    base = path.resolve().parent
    clips = []
    for number, row in _manifest_rows(path, text):
        clip: dict = {}
        for key in MANIFEST_COLUMNS:
            value = row.get(key)
            if value is not None and not isinstance(value, str):
                raise CLIError(f"{path}:{number}: {key} must be text, got {type(value).__name__}")
            clip[key] = value.strip() if value and value.strip() else None
        for key in _PATH_COLUMNS:
            if clip[key] is not None:
                media = base / Path(clip[key]).expanduser()
                if not media.is_file():
                    raise CLIError(f"{path}:{number}: {key} file not found: {media}")
                clip[key] = str(media)
        if not any(clip[k] for k in (*_PATH_COLUMNS, "subtitle")):
            raise CLIError(f"{path}:{number}: the row has no video, audio, face or subtitle")
        if clip["name"] is None:
            media = next((clip[k] for k in _PATH_COLUMNS if clip[k]), None)
            clip["name"] = Path(media).name if media else f"row{number}"
        clips.append(clip)
    if not clips:
        raise CLIError(f"{path}: the manifest has no rows")
    return clips


def has_audio_track(path: str | os.PathLike) -> bool | None:
    """Whether a media file has an audio stream; None when PyAV cannot open it (the pipeline reports why)."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        return None


def clip_modalities(clip: dict, visual_input: str = "frame") -> list[str]:
    """The inputs the processor will give the model for `clip`, in prompt order: "audio", "frames" or "faces",
    "subtitle". Mirrors `AffectGPTProcessor._visual_and_audio`: a frame model reads the video's frames and
    ignores face crops; a face model reads the face crops; audio is the audio file, else the video's own track."""
    used = []
    if clip.get("audio") is not None or (clip.get("video") is not None and has_audio_track(clip["video"])):
        used.append("audio")
    if visual_input == "face" and clip.get("face") is not None:
        used.append("faces")
    elif visual_input != "face" and clip.get("video") is not None:
        used.append("frames")
    if (clip.get("subtitle") or "").strip():
        used.append("subtitle")
    return used


def modality_notes(clip: dict, used: list[str], visual_input: str = "frame") -> list[str]:
    """Short notes on what a clip lacks (shown to the user: the answer cannot be about it)."""
    notes = []
    if "audio" not in used:
        notes.append("no audio (the no-audio prompt was used)")
    if "frames" not in used and "faces" not in used:
        wanted = "face crops" if visual_input == "face" else "video frames"
        notes.append(f"no {wanted} (this model reads {wanted})")
    if "subtitle" not in used:
        notes.append("no subtitle")
    return notes
