"""Per-sample records of one checkpoint (answer, extracted words, reference, hit) and what the report derives
from them for the basic-emotion sets: per-emotion recall and the confusion matrix."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckpointRun", "basic_sets", "confusion", "per_emotion", "sample_records"]


@dataclass
class CheckpointRun:
    """One checkpoint's scores (`bench.score_outputs` results, one per dataset) and its per-sample records."""

    name: str
    results: list[dict[str, Any]]
    samples: list[dict[str, Any]] = field(default_factory=list)


def _basic_hit(label: str | None, words: list[str], tables) -> float | None:
    """The sample's share of wheels on which its mapped label is among its mapped words: the HIT rule of the
    metric (`metrics.mer_unibench.scores.hit_rate`) for one sample, over the wheels its label lies on."""
    from metrics.mer_unibench import parse_labels
    from metrics.mer_unibench.wheel import NUM_WHEELS

    labels = parse_labels(label or "")
    if len(labels) != 1:
        return None
    hits = []
    for wheel in range(1, NUM_WHEELS + 1):
        gold = tables.map_word(labels[0], wheel)
        if gold:
            hits.append(float(gold in tables.map_labels(words, wheel)))
    return sum(hits) / len(hits) if hits else None


def _sentiment_hit(valence, sentiment: str | None) -> float | None:
    """Whether the predicted polarity matches the reference's sign (references of 0 are not scored)."""
    from metrics.mer_unibench import sentiment_to_value

    if valence is None or valence != valence or valence == 0:
        return None
    return float((sentiment_to_value(sentiment) > 0) == (valence > 0))


def sample_records(
    dataset: str,
    family: str,
    rows: list[dict],
    outputs: dict[str, str],
    words: list[list[str]],
    sentiments: list[str],
    failures: dict[str, str] | None,
    tables,
) -> list[dict[str, Any]]:
    """One record per row: `{dataset, name, answer, words, sentiment, reference, hit, error}`. `hit` follows the
    dataset's primary metric family (basic: share of wheels hit; sentiment: polarity right); None where that
    metric skips the sample (a label on no wheel, a neutral reference) and for the fine-grained set."""
    failures = failures or {}
    records = []
    for row, found, polarity in zip(rows, words, sentiments):
        name = row["name"]
        if family == "basic":
            reference, hit = row.get("label"), _basic_hit(row.get("label"), list(found), tables)
        elif family == "sentiment":
            reference, hit = row.get("valence"), _sentiment_hit(row.get("valence"), polarity)
        else:
            reference, hit = list(row.get("emotions") or []), None
        records.append(
            {
                "dataset": dataset,
                "name": name,
                "answer": outputs.get(name),
                "words": list(found),
                "sentiment": polarity,
                "reference": reference,
                "hit": hit,
                "error": failures.get(name) if name not in outputs else None,
            }
        )
    return records


def per_emotion(samples: list[dict]) -> dict[str, dict[str, float | int]]:
    """Reference label -> {n, recall}: recall is the mean per-sample hit of that label's samples (a sample's
    hit is its share of wheels hit, so this is the HIT rate restricted to one reference emotion)."""
    groups: dict[str, list[float]] = {}
    for s in samples:
        if s["hit"] is not None and isinstance(s["reference"], str):
            groups.setdefault(s["reference"], []).append(s["hit"])
    return {
        label: {"n": len(hits), "recall": sum(hits) / len(hits)} for label, hits in sorted(groups.items())
    }


def confusion(samples: list[dict], tables) -> tuple[list[str], list[list[float]]]:
    """Labels and matrix M[r][c] = mean over the samples of reference r of how well their extracted words hit
    label c (the HIT rule). The diagonal is the per-emotion recall; rows need not sum to 1, since an answer may
    name several emotions (or none)."""
    labels = sorted(
        {s["reference"] for s in samples if s["hit"] is not None and isinstance(s["reference"], str)}
    )
    matrix = []
    for ref in labels:
        own = [s for s in samples if s["reference"] == ref and s["hit"] is not None]
        row = []
        for col in labels:
            hits = [_basic_hit(col, s["words"], tables) for s in own]
            hits = [h for h in hits if h is not None]
            row.append(sum(hits) / len(hits) if hits else math.nan)
        matrix.append(row)
    return labels, matrix


def basic_sets(run: CheckpointRun) -> dict[str, list[dict]]:
    """The run's samples of the basic-emotion sets (those with a label and a hit), per dataset."""
    sets: dict[str, list[dict]] = {}
    for s in run.samples:
        if isinstance(s["reference"], str) and s["hit"] is not None:
            sets.setdefault(s["dataset"], []).append(s)
    return sets
