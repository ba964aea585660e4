"""MER-UniBench scoring of one dataset's answers: extract their labels and score them with the dataset's
metric families, counting missing and failed samples as empty answers."""

from __future__ import annotations

import os
from typing import Any

from affectgpt.bench.datasets import TASKS
from metrics.mer_unibench.tasks import PRIMARY_METRIC

__all__ = ["score_outputs"]


def score_outputs(
    dataset: str,
    rows: list[dict],
    outputs: dict[str, str],
    extractor,
    wheel_dir: str | os.PathLike,
    failures: dict[str, str] | None = None,
    extracted: tuple[list[list[str]], list[str]] | None = None,
    tables=None,
) -> dict[str, Any]:
    """Extract labels from the outputs and score them with the dataset's metric families.

    Samples without an output count as empty answers (nothing predicted, so the score keeps every sample in
    its denominator): those that failed (`failures`, name -> error) are reported as `failed` with their
    errors, the others as `missing`. `extracted` = (words, sentiments) per row replaces the extractor (the
    official output files' own extraction); with the wheel `tables`, the result also holds `samples`, one
    record per row for the report (`report.sample_records`)."""
    from metrics.mer_unibench.tasks import score_dataset

    failures = {n: e for n, e in (failures or {}).items() if n not in outputs}
    missing = [r["name"] for r in rows if r["name"] not in outputs and r["name"] not in failures]
    texts = [outputs.get(r["name"], "") for r in rows]
    words, sentiments = extracted if extracted is not None else extractor(texts)
    metrics: dict[str, float] = {}
    for family in TASKS[dataset]:
        if family == "basic":
            refs, preds = [r["label"] for r in rows], words
        elif family == "sentiment":
            refs, preds = [r["valence"] for r in rows], sentiments
        else:
            refs, preds = [r["emotions"] for r in rows], words
        metrics.update(score_dataset(family, preds, refs, wheel_dir=wheel_dir))
    primary = PRIMARY_METRIC[TASKS[dataset][0]]
    result = {
        "dataset": dataset,
        "primary_metric": primary,
        "primary": metrics[primary],
        "metrics": metrics,
        "n": len(rows),
        "missing": len(missing),
        "failed": len(failures),
        "failures": [{"name": n, "error": e} for n, e in sorted(failures.items())],
    }
    if tables is not None:
        from affectgpt.bench.report import sample_records

        family = TASKS[dataset][0]
        result["samples"] = sample_records(
            dataset, family, rows, outputs, words, sentiments, failures, tables
        )
    return result
