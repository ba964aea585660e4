"""MER-UniBench scores, vectorised, with the official scorer's arithmetic (see README.md for definitions).

Each sample's mapped label set on a wheel is a 64-bit mask (one bit per sector), so |Y|, |Ŷ| and |Y∩Ŷ| are
popcounts. Means are taken with np.mean over the same values in the same order as the official per-sample loop,
so results agree to the last bit, NaN included where the official code divides 0 by 0."""

from __future__ import annotations

import math
import numbers
import os
from itertools import repeat

import numpy as np

from .parse import encode_samples, parse_labels, validate_samples
from .wheel import NUM_WHEELS, WheelTables, load_wheels

__all__ = [
    "check_pair",
    "check_sentiment_inputs",
    "fine_grained_scores",
    "hit_rate",
    "popcount",
    "sentiment_scores",
    "sentiment_to_value",
]


def check_pair(predictions, references) -> tuple[list, list]:
    """Both are lists of the same, non-zero length; returns them as lists."""
    predictions = validate_samples(predictions, "predictions")
    references = validate_samples(references, "references")
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references differ in length: {len(predictions)} != {len(references)}"
        )
    if not predictions:
        raise ValueError("no samples to score (empty predictions and references)")
    return predictions, references


def _tables(tables: WheelTables | None, wheel_dir) -> WheelTables:
    return tables if tables is not None else load_wheels(wheel_dir)


def _masks(values: list, tables: WheelTables, level: str, what: str) -> np.ndarray:
    """(n, 5) uint64: bit s of column w set when a label of sample i maps to sector s on wheel w+1."""
    owner, ids = encode_samples(values, tables.vocab, what)
    masks = np.zeros((len(values), NUM_WHEELS), dtype=np.uint64)
    np.bitwise_or.at(masks, owner, tables.sector_bits[level][ids])
    return masks


_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount(masks: np.ndarray) -> np.ndarray:
    """Set bits per uint64 (np.bitwise_count needs numpy >= 2; the byte table serves numpy 1.26)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(masks)
    as_bytes = np.ascontiguousarray(masks).view(np.uint8).reshape(*masks.shape, 8)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1, dtype=np.uint8)


def _mean(values: np.ndarray) -> float:
    # np.mean of nothing is NaN in the official code too (with a RuntimeWarning we do not repeat).
    return float(np.mean(values)) if values.size else math.nan


def fine_grained_scores(
    predictions,
    references,
    *,
    wheel_dir: str | os.PathLike | None = None,
    level: str = "level1",
    tables: WheelTables | None = None,
) -> dict[str, float]:
    """EW-based fine-grained scores: {"fscore", "precision", "recall"}, means over the five wheels.

    Per wheel, over samples whose reference maps to at least one sector: P = mean |Y∩Ŷ|/|Ŷ| (0 when Ŷ is empty),
    R = mean |Y∩Ŷ|/|Y|, F = 2PR/(P+R), which is NaN when P = R = 0 (as officially); NaN propagates to the mean."""
    predictions, references = check_pair(predictions, references)
    tables = _tables(tables, wheel_dir)
    if level not in tables.sector_bits:
        raise ValueError(f"level must be 'level1' or 'level2', got {level!r}")
    pred = _masks(predictions, tables, level, "predictions")
    gold = _masks(references, tables, level, "references")
    n_pred, n_gold = popcount(pred), popcount(gold)
    n_both = popcount(pred & gold)
    rows = []
    for w in range(NUM_WHEELS):
        keep = n_gold[:, w] > 0
        both, n_p, n_g = (a[keep, w].astype(np.float64) for a in (n_both, n_pred, n_gold))
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = _mean(np.where(n_p > 0, both / n_p, 0.0))
            recall = _mean(both / n_g)
            fscore = float(2 * (np.float64(precision) * recall) / (np.float64(precision) + recall))
        rows.append([fscore, precision, recall])
    fscore, precision, recall = np.mean(np.array(rows), axis=0).tolist()
    return {"fscore": fscore, "precision": precision, "recall": recall}


def _reference_row(value, index: int, tables: WheelTables) -> np.ndarray:
    labels = parse_labels(value, index=index, what="references")
    if len(labels) > 1:
        raise ValueError(
            f"references[{index}] holds {len(labels)} labels ({labels}); basic tasks take one each"
        )
    if labels and labels[0] in tables.vocab:
        return tables.sector_ids["level1"][tables.vocab[labels[0]]]
    return np.full(NUM_WHEELS, -1, dtype=np.int16)


def _reference_sectors(references: list, tables: WheelTables) -> np.ndarray:
    """(n, 5) int16 sector id of each single-label reference per wheel; -1 = maps to nothing (skipped)."""
    if set(map(type, references)) <= {str}:
        # Basic references come from a handful of label names: parse each distinct one once (in C-level passes).
        distinct = {value: row for row, value in enumerate(dict.fromkeys(references))}
        table = np.array(
            [_reference_row(value, references.index(value), tables) for value in distinct], dtype=np.int16
        ).reshape(-1, NUM_WHEELS)
        rows = np.fromiter(map(distinct.__getitem__, references), dtype=np.int64, count=len(references))
        return table[rows]
    return np.array(
        [_reference_row(value, i, tables) for i, value in enumerate(references)], dtype=np.int16
    ).reshape(-1, NUM_WHEELS)


def hit_rate(
    predictions,
    references,
    *,
    wheel_dir: str | os.PathLike | None = None,
    tables: WheelTables | None = None,
) -> dict[str, float]:
    """Basic-emotion HIT rate: {"hit_rate"}, mean over the five wheels (level 1).

    Per wheel, samples whose reference maps to nothing (e.g. "neutral") are skipped; HIT = share of the rest whose
    mapped reference is among the mapped predictions. NaN for a wheel on which no reference maps (official)."""
    predictions, references = check_pair(predictions, references)
    tables = _tables(tables, wheel_dir)
    pred = _masks(predictions, tables, "level1", "predictions")
    gold = _reference_sectors(references, tables)
    rates = []
    for w in range(NUM_WHEELS):
        keep = gold[:, w] >= 0
        hits = (pred[keep, w] >> gold[keep, w].astype(np.uint64)) & np.uint64(1)
        rates.append(_mean(hits.astype(np.int64)))
    return {"hit_rate": float(np.mean(np.array(rates)))}


_SENTIMENT_VALUE = {"positive": 1, "negative": -1}


def sentiment_to_value(label) -> int:
    """Official rule: exactly "positive" -> 1, exactly "negative" -> -1, anything else -> 0."""
    return _SENTIMENT_VALUE.get(label, 0) if isinstance(label, str) else 0


def _valence(value, i: int) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"references[{i}] must be a valence number, got {type(value).__name__} ({value!r})")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"references[{i}] is NaN; drop the sample or give its valence")
    return value


def _valences(references: list) -> np.ndarray:
    """float64 valences; plain int/float lists take one vectorised pass, anything else the per-sample check."""
    if set(map(type, references)) <= {
        float,
        int,
    }:  # one C-level pass (a generator cost more than the scoring)
        gold = np.array(references, dtype=np.float64)
        if not np.isnan(gold).any():
            return gold
    return np.array([_valence(v, i) for i, v in enumerate(references)], dtype=np.float64)


def _check_sentiment_labels(predictions: list) -> None:
    if not set(map(type, predictions)) <= {str} and not all(isinstance(label, str) for label in predictions):
        i, label = next((i, p) for i, p in enumerate(predictions) if not isinstance(p, str))
        raise TypeError(
            f"predictions[{i}] must be a sentiment string, got {type(label).__name__} ({label!r})"
        )


def check_sentiment_inputs(predictions, references) -> tuple[list[str], list[float]]:
    """Sentiment strings and finite-or-infinite, non-NaN valence numbers, one each per sample."""
    predictions, references = check_pair(predictions, references)
    _check_sentiment_labels(predictions)
    return predictions, _valences(references).tolist()


def sentiment_scores(predictions, references) -> dict[str, float]:
    """Binary sentiment: {"weighted_f1", "accuracy"} over samples whose reference valence is not 0.

    predictions are "positive"/"negative"/"neutral"/other strings (see `sentiment_to_value`); y = valence > 0,
    ŷ = prediction > 0. Weighted F1 is sklearn's average="weighted" (per-class F1 weighted by true support)."""
    predictions, references = check_pair(predictions, references)
    _check_sentiment_labels(predictions)
    gold = _valences(references)
    # sentiment_to_value's rule as one C-level map over the (checked) strings
    pred = np.fromiter(
        map(_SENTIMENT_VALUE.get, predictions, repeat(0)), dtype=np.int64, count=len(predictions)
    )
    keep = gold != 0
    if not keep.any():
        raise ValueError(
            "every reference valence is 0; nothing to score (the official scorer fails here too)"
        )
    y, y_hat = gold[keep] > 0, pred[keep] > 0
    accuracy = float(np.mean(y == y_hat))
    f1s, support = [], []
    for label in np.unique(np.concatenate([y, y_hat])):
        tp = np.sum((y == label) & (y_hat == label))
        fp = np.sum((y != label) & (y_hat == label))
        fn = np.sum((y == label) & (y_hat != label))
        denominator = 2 * tp + fp + fn
        f1s.append(2 * tp / denominator if denominator else 0.0)
        support.append(np.sum(y == label))
    weighted_f1 = float(np.average(np.array(f1s, dtype=np.float64), weights=np.array(support)))
    return {"weighted_f1": weighted_f1, "accuracy": accuracy}
