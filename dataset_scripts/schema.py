"""The one row schema every converter writes (docs/ARCHITECTURE.md, "Dataset rows"), and small helpers that
every converter shares: the official open-set list parser and tolerant CSV reading."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

__all__ = [
    "BASIC_LABELS",
    "COLUMNS",
    "features",
    "make_row",
    "parse_openset",
    "read_csv_columns",
]

# Column order of every parquet file we write.
COLUMNS = (
    "name",
    "video",
    "audio",
    "face",
    "subtitle",
    "subtitle_en",
    "subtitle_zh",
    "description",
    "emotions",
    "label",
    "valence",
    "source",
    "split",
)

# Reference label strings per basic-emotion set, exactly as the datasets spell them (DESIGN.md §5).
BASIC_LABELS = {
    "mer2023": ("worried", "happy", "neutral", "angry", "surprise", "sad"),
    "mer2024": ("worried", "happy", "neutral", "angry", "surprise", "sad"),
    "iemocap": ("happy", "sad", "neutral", "anger"),
    "meld": ("anger", "joy", "sadness", "neutral", "disgust", "fear", "surprise"),
    "synth-mer": ("happy", "sad", "angry", "surprise", "worried", "neutral"),
}


def features():
    """`datasets.Features` of the schema. Media columns are `Video(decode=False)`/`Audio(decode=False)`:
    `{"path", "bytes"}` structs, decoded by our processor rather than by `datasets` (whose decoders need
    torchcodec)."""
    from datasets import Audio, Features, List, Value, Video

    return Features(
        {
            "name": Value("string"),
            "video": Video(decode=False),
            "audio": Audio(decode=False),
            "face": Value("string"),
            "subtitle": Value("string"),
            "subtitle_en": Value("string"),
            "subtitle_zh": Value("string"),
            "description": Value("string"),
            "emotions": List(Value("string")),
            "label": Value("string"),
            "valence": Value("float32"),
            "source": Value("string"),
            "split": Value("string"),
        }
    )


def _media(path: str | Path | None) -> dict | None:
    return None if path is None else {"path": str(path), "bytes": None}


def make_row(
    name: str,
    *,
    source: str,
    split: str,
    video: str | Path | None = None,
    audio: str | Path | None = None,
    face: str | Path | None = None,
    subtitle: str | None = "",
    subtitle_en: str | None = None,
    subtitle_zh: str | None = None,
    description: str | None = "",
    emotions: list[str] | None = None,
    label: str | None = "",
    valence: float | None = None,
) -> dict[str, Any]:
    """One row of the schema; None text becomes "" where the schema promises a string."""
    if valence is not None and (isinstance(valence, float) and math.isnan(valence)):
        valence = None
    return {
        "name": str(name),
        "video": _media(video),
        "audio": _media(audio),
        "face": None if face is None else str(face),
        "subtitle": subtitle or "",
        "subtitle_en": subtitle_en,
        "subtitle_zh": subtitle_zh,
        "description": description or "",
        "emotions": list(emotions or []),
        "label": label or "",
        "valence": None if valence is None else float(valence),
        "source": source,
        "split": split,
    }


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def parse_openset(value: Any) -> list[str]:
    """Parse an open-set label cell the way the official code does: strip one leading `[` and one trailing
    `]`, split on `'`, `"` and `,`, strip, drop empties, lowercase. Lists pass through (lowercased, stripped);
    None/NaN/"" give []. Kept here rather than imported from `metrics` because the packages never import
    each other."""
    if _is_missing(value):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip().lower() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.lower() == "nan":  # what pandas writes back for an empty cell
        return []
    if text.startswith("["):
        text = text[1:]
    if text.endswith("]"):
        text = text[:-1]
    return [item.strip().lower() for item in re.split(r"['\",]", text) if item.strip()]


def _csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a UTF-8 CSV; text in another encoding is an error naming the file, not a traceback."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            return list(reader.fieldnames or []), list(reader)
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}); "
            "save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        ) from None
    except csv.Error as err:
        raise ValueError(f"{path}: not a readable CSV file ({err})") from None


def csv_header(path: str | Path) -> list[str]:
    return _csv_rows(Path(path))[0]


def read_csv_columns(path: str | Path, key: str, columns: list[str]) -> dict[str, dict[str, str | None]]:
    """`{row[key]: {column: value or None}}` from a CSV; empty cells become None (pandas' NaN in the official
    code). Raises KeyError naming the file when a required column is absent, and ValueError when a `key`
    value appears twice (keeping either row would drop the other without a word)."""
    path = Path(path)
    header, rows = _csv_rows(path)
    missing = [c for c in [key, *columns] if c not in header]
    if missing:
        raise KeyError(f"{path}: missing column(s) {missing}; found {header}")
    out: dict[str, dict[str, str | None]] = {}
    duplicates: dict[str, list[int]] = {}
    for line, row in enumerate(rows, 2):
        name = (row.get(key) or "").strip()
        if not name:
            continue
        if name in out:
            duplicates.setdefault(name, [out[name]["__line__"]]).append(line)
        out[name] = {
            "__line__": line,
            **{c: (row[c] if row.get(c) not in (None, "") else None) for c in columns},
        }
    if duplicates:
        shown = "; ".join(
            f"{n} (lines {', '.join(map(str, lines))})" for n, lines in list(duplicates.items())[:10]
        )
        more = f" and {len(duplicates) - 10} more" if len(duplicates) > 10 else ""
        raise ValueError(
            f"{path}: {len(duplicates)} duplicate {key}(s): {shown}{more}; each clip must appear once"
        )
    for cols in out.values():
        del cols["__line__"]
    return out
