"""The five emotion wheels, the merged synonym map and the inverted variant map, and the word -> sector tables.

Mapping G_w(word) (official `func_backward_case3`): a word that is not a key of the variant map maps to nothing;
otherwise collect every wheel word reachable via variant -> base words -> synonym map, sort them, and take the
sector (in wheel w) of the first one that lies in wheel w. The tables are computed once per source and cached,
so scoring is array look-ups.

Sources: by default the bundled table (`wheel_table.py`, built by `build_table.py` from the official files);
`wheel_dir=` / MER_UNIBENCH_WHEEL_DIR name a folder with the official files (read with pandas exactly as the
official code reads them, its NA rules included, because any difference in reading changes which words exist) or
a table `.json` written by `build_table.py`."""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .sources import ENV_VAR, resolve_wheel_dir

__all__ = [
    "BUNDLED",
    "LEVELS",
    "NUM_WHEELS",
    "TABLE_FORMAT",
    "WheelTables",
    "bundled_table",
    "load_wheels",
    "read_official_facts",
]

BUNDLED = "bundled"  # WheelTables.source of the table shipped in wheel_table.py
TABLE_FORMAT = 1  # bump when the table's layout changes

NUM_WHEELS = 5
LEVELS = ("level1", "level2")
_SPLIT = re.compile(r"['\",]")


def _isna(value) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _cell_list(value) -> list[str]:
    """The official string_to_list for spreadsheet cells (no lowercasing: the callers decide)."""
    if isinstance(value, list):
        return value
    if _isna(value) or value == "":
        return []
    text = str(value)
    if text[:1] == "[":
        text = text[1:]
    if text[-1:] == "]":
        text = text[:-1]
    return [item.strip() for item in _SPLIT.split(text) if item.strip() not in ("", ",")]


def _read_wheel(path: Path) -> dict[str, dict[str, list[str]]]:
    """level1 -> level2 -> [level3]; blank cells repeat the row above (each column on its own)."""
    import pandas as pd

    tree: dict[str, dict[str, list[str]]] = {}
    level1 = level2 = level3 = ""
    for row in pd.read_excel(path).itertuples(index=False):
        level1 = level1 if _isna(row.level1) else row.level1
        level2 = level2 if _isna(row.level2) else row.level2
        level3 = level3 if _isna(row.level3) else row.level3
        level1, level2, level3 = (str(v).lower().strip() for v in (level1, level2, level3))
        tree.setdefault(level1, {}).setdefault(level2, []).append(level3)
    return tree


def _sector_map(tree: dict[str, dict[str, list[str]]], level: str) -> dict[str, str]:
    """Official `func_get_wheel_cluster`: word -> its level-1 (or level-2) sector; later rows overwrite."""
    sector: dict[str, str] = {}
    for l1, children in tree.items():
        sector[l1] = l1 if level == "level1" else sorted(children)[0]
        for l2, leaves in children.items():
            sector[l2] = l1 if level == "level1" else l2
            for l3 in leaves:
                sector[l3] = l1 if level == "level1" else l2
    return sector


def _read_variants(path: Path) -> dict[str, list[str]]:
    """format.csv inverted: every variant (and every base word itself) -> base words, official order."""
    import pandas as pd

    variants: dict[str, list[str]] = {}
    frame = pd.read_csv(path)
    for raw, forms in zip(frame["name"], frame["format"]):
        raw = "" if _isna(raw) else raw
        for form in _cell_list("" if _isna(forms) else forms):
            variants.setdefault(form, []).append(raw)
        variants.setdefault(raw, []).append(raw)
    return variants


def _read_synonyms(path: Path, wheel_words: frozenset[str]) -> dict[str, frozenset[str]]:
    """synonym.xlsx, 8 runs merged: synonym (and each wheel word itself) -> wheel words."""
    import pandas as pd

    frame = pd.read_excel(path)
    merged: dict[str, set[str]] = {}
    for run in range(1, 9):
        for word, synonyms in zip(frame[f"word_run{run}"], frame[f"synonym_run{run}"]):
            raw = str(word).strip().lower()
            if raw not in wheel_words:  # the official code asserts this
                raise ValueError(f"{path}: word_run{run} value {raw!r} is not a wheel word")
            merged.setdefault(raw, set()).add(raw)
            for synonym in _cell_list(synonyms):
                merged.setdefault(str(synonym).strip().lower(), set()).add(raw)
    return {key: frozenset(value) for key, value in merged.items()}


@dataclass(frozen=True)
class WheelTables:
    """Everything the scorer needs, built once per wheel directory."""

    source: str  # BUNDLED, or the folder / table file the facts were read from
    wheels: tuple[dict[str, dict[str, list[str]]], ...]
    wheel_words: frozenset[str]
    synonym_map: dict[str, frozenset[str]]
    variant_map: dict[str, list[str]]
    sector_maps: dict[str, tuple[dict[str, str], ...]]
    vocab: dict[str, int] = field(repr=False)
    sector_names: dict[str, tuple[tuple[str, ...], ...]] = field(repr=False)
    sector_ids: dict[str, np.ndarray] = field(repr=False)  # (V, 5) int16, -1 = maps to nothing
    sector_bits: dict[str, np.ndarray] = field(repr=False)  # (V, 5) uint64, 1 << sector id, 0 = nothing

    def map_word(self, word: str, wheel: int, level: str = "level1") -> str:
        """Sector of `word` on wheel `wheel` (1..5) at `level`; "" when it maps to nothing."""
        row = self.vocab.get(word)
        if row is None:
            return ""
        sid = int(self.sector_ids[_check_level(level)][row, wheel - 1])
        return self.sector_names[level][wheel - 1][sid] if sid >= 0 else ""

    def map_labels(self, words, wheel: int, level: str = "level1") -> set[str]:
        """The set of sectors of a label list on one wheel (unknown and unmapped words dropped)."""
        return {s for s in (self.map_word(w, wheel, level) for w in words) if s}


def _check_level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    return level


def read_official_facts(directory: Path) -> dict:
    """The official files -> the table's facts: wheels (level1 -> level2 -> [level3], row order), the merged
    synonym map (word -> sorted wheel words) and the inverted variant map (variant -> base words, official order)."""
    wheels = tuple(_read_wheel(directory / f"wheel{i}.xlsx") for i in range(1, NUM_WHEELS + 1))
    synonyms = _read_synonyms(directory / "synonym.xlsx", _wheel_words(wheels))
    variants = _read_variants(directory / "format.csv")
    return {
        "wheels": list(wheels),
        "synonyms": {word: sorted(found) for word, found in synonyms.items()},
        "variants": variants,
    }


def _wheel_words(wheels) -> frozenset[str]:
    return frozenset(
        word
        for tree in wheels
        for l1, children in tree.items()
        for word in (l1, *children, *(leaf for leaves in children.values() for leaf in leaves))
    )


def _check_facts(facts, where: str) -> tuple[tuple, dict[str, frozenset[str]], dict[str, list[str]]]:
    """Shape checks for a table read from JSON (a hand-edited or truncated file fails here, by name)."""
    try:
        wheels = tuple(
            {
                str(l1): {str(l2): [str(w) for w in leaves] for l2, leaves in kids.items()}
                for l1, kids in t.items()
            }
            for t in facts["wheels"]
        )
        synonyms = {str(k): frozenset(map(str, v)) for k, v in facts["synonyms"].items()}
        variants = {str(k): [str(b) for b in v] for k, v in facts["variants"].items()}
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{where}: not a wheel table (needs wheels, synonyms, variants): {err!r}") from None
    if len(wheels) != NUM_WHEELS:
        raise ValueError(f"{where}: {len(wheels)} wheels, expected {NUM_WHEELS}")
    return wheels, synonyms, variants


def _build(source: str, wheels, synonyms, variants) -> WheelTables:
    wheel_words = _wheel_words(wheels)
    missing = sorted({base for bases in variants.values() for base in bases} - synonyms.keys())
    if missing:  # the official code would raise KeyError mid-scoring
        raise ValueError(f"{source}: format.csv base words missing from synonym.xlsx: {missing[:10]}")
    strays = sorted({w for found in synonyms.values() for w in found} - wheel_words)
    if strays:
        raise ValueError(f"{source}: synonym targets that are not wheel words: {strays[:10]}")

    vocab = {word: i for i, word in enumerate(variants)}
    # Reachable wheel words per variant, sorted once: the official rule takes the first one found in the wheel.
    reachable = [sorted(w for base in variants[word] for w in synonyms[base]) for word in vocab]
    sector_maps, names, ids, bits = {}, {}, {}, {}
    for level in LEVELS:
        maps = tuple(_sector_map(tree, level) for tree in wheels)
        table = np.full((len(vocab), NUM_WHEELS), -1, dtype=np.int16)
        level_names = []
        for w, sector_of in enumerate(maps):
            sectors = sorted(set(sector_of.values()))
            if len(sectors) > 64:
                raise ValueError(f"wheel{w + 1} has {len(sectors)} {level} sectors; at most 64 are supported")
            sid = {s: i for i, s in enumerate(sectors)}
            for row, candidates in enumerate(reachable):
                hit = next((c for c in candidates if c in sector_of), None)
                if hit is not None:
                    table[row, w] = sid[sector_of[hit]]
            level_names.append(tuple(sectors))
        sector_maps[level], names[level], ids[level] = maps, tuple(level_names), table
        bits[level] = np.where(
            table >= 0, np.left_shift(np.uint64(1), np.maximum(table, 0).astype(np.uint64)), 0
        )
        bits[level] = bits[level].astype(np.uint64)
    return WheelTables(source, wheels, wheel_words, synonyms, variants, sector_maps, vocab, names, ids, bits)


def _read_table(path: Path) -> dict:
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable wheel table JSON ({err})") from None
    if not isinstance(table, dict) or table.get("format") != TABLE_FORMAT:
        raise ValueError(
            f"{path}: not a wheel table of format {TABLE_FORMAT} (write one with build_table.py)"
        )
    return table


def bundled_table() -> dict:
    """The shipped table (facts + provenance), as written by build_table.py."""
    from .wheel_table import TABLE_JSON

    return json.loads(TABLE_JSON)


def _tables_for(key: tuple[str, bool]) -> WheelTables:
    where, verify = key
    if where == BUNDLED:
        facts, source = bundled_table(), BUNDLED
    elif where.endswith(".json"):
        facts, source = _read_table(Path(where)), where
    else:
        directory = resolve_wheel_dir(where, verify=verify)
        facts, source = read_official_facts(directory), str(directory)
    return _build(source, *_check_facts(facts, source))


_CACHE: dict[tuple[str, bool], WheelTables] = {}
_LOCK = threading.Lock()


def load_wheels(wheel_dir: str | os.PathLike | None = None, *, verify: bool = True) -> WheelTables:
    """The tables from `wheel_dir` (a folder with the official files, or a table .json), else from the folder or
    table in MER_UNIBENCH_WHEEL_DIR, else the bundled table; built once per source and cached.

    `verify=False` skips the sha256 check of official files (for experiments with edited wheels)."""
    if wheel_dir is None:
        wheel_dir = os.environ.get(ENV_VAR, "").strip() or None
    if wheel_dir is None:
        where = BUNDLED
    else:
        path = Path(wheel_dir).expanduser()
        if path.suffix == ".json":
            if not path.is_file():
                raise FileNotFoundError(f"wheel table not found: {path}")
            where = str(path.resolve())
        else:
            where = str(resolve_wheel_dir(path, verify=verify))
    key = (where, verify)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _tables_for(key)
        return _CACHE[key]
