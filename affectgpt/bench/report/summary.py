"""Across datasets and checkpoints: the mean of the primary metrics, the best single checkpoint and the
per-dataset best (the official protocol), and which checkpoint's details the report shows."""

from __future__ import annotations

from typing import Any

from affectgpt.bench.report.numbers import ok
from affectgpt.bench.report.records import CheckpointRun
from metrics.mer_unibench.tasks import TABLE2_ORDER

__all__ = ["OFFICIAL_PROTOCOL", "PAPER_TABLE2_MEAN", "compare", "reported", "summarize"]

PAPER_TABLE2_MEAN = 74.77
OFFICIAL_PROTOCOL = "per-dataset best (official protocol)"


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of the primary metrics (NaN-free ones), as in Table 2's last column."""
    values = [r["primary"] for r in results if ok(r["primary"])]
    unibench = [r for r in results if r["dataset"] in TABLE2_ORDER]
    return {
        "mean": sum(values) / len(values) if values else None,
        "n_datasets": len(values),
        # Only comparable with the paper's mean when all nine UniBench sets were scored.
        "complete_unibench": len(unibench) == len(TABLE2_ORDER),
    }


def compare(runs: list[CheckpointRun]) -> dict[str, Any]:
    """The best single checkpoint (highest mean; ties to the first) and the per-dataset best (official)."""
    means = {run.name: summarize(run.results)["mean"] for run in runs}
    ranked = [run for run in runs if means[run.name] is not None]
    best = max(ranked, key=lambda run: means[run.name]) if ranked else runs[0]
    per_dataset: dict[str, dict[str, Any]] = {}
    for run in runs:
        for r in run.results:
            seen = per_dataset.get(r["dataset"])
            if ok(r["primary"]) and (seen is None or r["primary"] > seen["primary"]):
                per_dataset[r["dataset"]] = {"checkpoint": run.name, "primary": r["primary"]}
    values = [v["primary"] for v in per_dataset.values()]
    return {
        "best_single": {"checkpoint": best.name, "mean": means[best.name]},
        "per_dataset_best": {
            "datasets": per_dataset,
            "mean": sum(values) / len(values) if values else None,
        },
    }


def reported(runs: list[CheckpointRun]) -> CheckpointRun:
    """The checkpoint whose details (recalls, confusion) are shown: the only one, else the best single."""
    if len(runs) == 1:
        return runs[0]
    best = compare(runs)["best_single"]["checkpoint"]
    return next(run for run in runs if run.name == best)
