"""The official label-list parser, per sample and vectorised.

Official rule (`string_to_list` + the scorer's `item.lower().strip()`): a list is taken as is (each item lowercased
and stripped, empties kept); a string loses one leading `[` and one trailing `]`, is split on `'`, `"` and `,`,
items are stripped, empties dropped, then lowercased. `""` gives `[]`. Where the official code would crash
(`"["`, whose trailing check indexes an empty string) we return `[]`; where it would quietly treat a missing value
(None, NaN) as an empty prediction we raise instead, so a lost output never scores as a real one."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from itertools import repeat

import numpy as np

__all__ = [
    "LIST_MARK",
    "encode_samples",
    "pack_samples",
    "parse_labels",
    "unpack_samples",
    "validate_samples",
]

_SPLIT = re.compile(r"['\",]")
_SEP = "\x00"
# One Arrow string per sample (see pack_samples): a list sample is LIST_MARK + its items joined by _ITEM_SEP.
LIST_MARK = "\x1e"
_ITEM_SEP = "\x1f"


def _strip_brackets(text: str) -> str:
    if text.startswith("["):
        text = text[1:]
    if text.endswith("]"):
        text = text[:-1]
    return text


def _bad_sample(value, index: int | None, what: str) -> Exception:
    where = f"{what}[{index}]" if index is not None else what
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ValueError(
            f"{where} is missing ({value!r}); pass '' or [] for an empty label list (the official scorer would "
            "silently count it as empty)"
        )
    return TypeError(
        f"{where} must be a label string like '[a, b]' or a list of strings, got {type(value).__name__}"
    )


def parse_labels(value, *, index: int | None = None, what: str = "sample") -> list[str]:
    """Parse one sample exactly as the official scorer does; see the module docstring."""
    if isinstance(value, str):
        text = _strip_brackets(value)
        items = (item.strip() for item in _SPLIT.split(text))
        return [item.lower().strip() for item in items if item not in ("", ",")]
    if isinstance(value, (list, tuple, np.ndarray)):
        out = []
        for j, item in enumerate(value.tolist() if isinstance(value, np.ndarray) else value):
            if not isinstance(item, str):
                raise TypeError(
                    f"{what}[{index}][{j}] must be a string, got {type(item).__name__} ({item!r})"
                    if index is not None
                    else f"{what}[{j}] must be a string, got {type(item).__name__} ({item!r})"
                )
            out.append(item.lower().strip())
        return out
    raise _bad_sample(value, index, what)


def validate_samples(values, what: str) -> list:
    """A list of samples (not a bare string, not None)."""
    if values is None:
        raise ValueError(f"{what} is None; pass a list with one entry per sample")
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{what} must be a list with one entry per sample, got {type(values).__name__}")
    return list(values)


def encode_samples(
    values: list, vocab: Mapping[str, int], what: str = "sample"
) -> tuple[np.ndarray, np.ndarray]:
    """Parse every sample and look each label up in `vocab`; drop unknown labels.

    Returns (owner, ids): for each kept label, the index of its sample and its vocabulary id. Strings are parsed
    in one pass over a joined buffer (the per-sample Python loop dominated scoring time); lists go item by item."""
    owners: list[np.ndarray] = []
    ids: list[np.ndarray] = []
    list_owner: list[int] = []
    list_tokens: list[str] = []
    if set(map(type, values)) <= {str}:  # the common case: no per-sample Python dispatch at all
        str_idx, texts = range(len(values)), list(values)
    else:
        is_str = [isinstance(value, str) for value in values]
        str_idx = [i for i, flag in enumerate(is_str) if flag]
        texts = [values[i] for i in str_idx]
        for i, flag in enumerate(is_str):
            if not flag:
                tokens = parse_labels(values[i], index=i, what=what)
                list_tokens.extend(tokens)
                list_owner.extend(repeat(i, len(tokens)))
    get = vocab.get
    if texts:
        wrap = f",{_SEP},"
        # The official one-leading-"[" / one-trailing-"]" rule, then all samples in one buffer, each between two
        # separators (C-level passes only: a Python expression per sample cost more than the rest of the parse).
        unbracketed = map(str.removesuffix, map(str.removeprefix, texts, repeat("[")), repeat("]"))
        joined = wrap + wrap.join(unbracketed) + wrap
        # "', '" only ever yields empty items, which are dropped: collapsing it first is exact and
        # halves the items of "['a', 'b']"-style samples. Remaining quotes split like commas.
        joined = joined.replace("', '", ",").replace('", "', ",")
        parts = joined.replace("'", ",").replace('"', ",").lower().split(",")
        lookup = dict(vocab)
        lookup[_SEP] = -1  # separators get their own id, so one C-level map finds both
        lookup[""] = -2  # empty items are dropped (officially before lookup)
        tokens = map(str.strip, parts)
        tok_ids = np.fromiter(map(lookup.get, tokens, repeat(-2)), dtype=np.int64, count=len(parts))
        is_sep = tok_ids == -1
        # One separator token per sample boundary, unless a sample holds an item that is our separator
        # character (checked here rather than by a pass over the buffer).
        if np.count_nonzero(is_sep) == len(texts) + 1:
            position = np.cumsum(is_sep) - 1  # which string sample each token belongs to
            keep = tok_ids >= 0
            owned = position[keep]
            owners.append(owned if isinstance(str_idx, range) else np.asarray(str_idx, dtype=np.int64)[owned])
            ids.append(tok_ids[keep])
        else:  # the slow, per-sample path
            for i in str_idx:
                tokens = parse_labels(values[i], index=i, what=what)
                list_tokens.extend(tokens)
                list_owner.extend(repeat(i, len(tokens)))
    if list_tokens:
        tok_ids = np.fromiter(map(get, list_tokens, repeat(-2)), dtype=np.int64, count=len(list_tokens))
        keep = tok_ids >= 0
        owners.append(np.asarray(list_owner, dtype=np.int64)[keep])
        ids.append(tok_ids[keep])
    if not owners:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(owners), np.concatenate(ids)


def pack_samples(values, what: str = "sample") -> list[str]:
    """Samples (label strings or lists of strings) -> one string each, losslessly (`unpack_samples` inverts it).

    The evaluate wrapper stores one string per sample because Arrow's list columns cost a Python call per item
    on the way in and out. A string is kept as is (the official parser reads it later); a list becomes
    LIST_MARK + items joined by U+001F, so it keeps the official list rule (items are not split again). Both
    control characters are reserved: a string that starts with U+001E or a list item holding U+001F is refused."""
    values = validate_samples(values, what)
    if set(map(type, values)) <= {str} and LIST_MARK not in "".join(values):
        return values  # plain strings, none starting with the mark: nothing to pack (two C-level passes)
    out = list(values)
    for i, value in enumerate(values):
        if isinstance(value, str):
            if value[:1] == LIST_MARK:
                raise ValueError(f"{what}[{i}] starts with the reserved control character U+001E")
            continue
        items = parse_labels(value, index=i, what=what) if not isinstance(value, list) else value
        try:
            joined = _ITEM_SEP.join(items)
        except TypeError:
            parse_labels(value, index=i, what=what)  # raises the precise per-item error
            raise
        if joined.count(_ITEM_SEP) != max(len(items) - 1, 0):
            raise ValueError(f"{what}[{i}] holds the reserved control character U+001F in a label")
        out[i] = LIST_MARK + joined
    return out


def unpack_samples(values) -> list:
    """Inverse of `pack_samples`: packed lists back to lists of strings, other strings unchanged."""
    if LIST_MARK not in "".join(values):
        return values  # nothing was packed (one C-level pass)
    # A bare LIST_MARK is the empty list ([""] packs the same way and scores the same: "" is never a label).
    return [(v[1:].split(_ITEM_SEP) if len(v) > 1 else []) if v[:1] == LIST_MARK else v for v in values]
