"""`results.csv`: one row per checkpoint and dataset (primary and every metric in percent, counts, the paper's
number), each checkpoint's mean, and with several checkpoints the per-dataset best."""

from __future__ import annotations

import csv
import io

from affectgpt.bench.report.numbers import round_pct
from affectgpt.bench.report.records import CheckpointRun
from affectgpt.bench.report.summary import OFFICIAL_PROTOCOL, PAPER_TABLE2_MEAN, compare, summarize
from metrics.mer_unibench.tasks import PAPER_TABLE2

__all__ = ["csv_text"]


def csv_text(runs: list[CheckpointRun]) -> str:
    metric_names = sorted({m for run in runs for r in run.results for m in r["metrics"]})
    blank = [""] * len(metric_names)
    with io.StringIO(newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "checkpoint",
                "dataset",
                "primary_metric",
                "primary_pct",
                *(f"{m}_pct" for m in metric_names),
                "n",
                "missing",
                "failed",
                "paper_pct",
            ]
        )
        for run in runs:
            for r in run.results:
                writer.writerow(
                    [
                        run.name,
                        r["dataset"],
                        r["primary_metric"],
                        round_pct(r["primary"]),
                        *(round_pct(r["metrics"].get(m)) for m in metric_names),
                        r["n"],
                        r["missing"],
                        r.get("failed", 0),
                        PAPER_TABLE2.get(r["dataset"], ""),
                    ]
                )
            mean = summarize(run.results)["mean"]
            writer.writerow(
                [run.name, "mean", "primary", round_pct(mean), *blank, "", "", "", PAPER_TABLE2_MEAN]
            )
        if len(runs) > 1:
            official = compare(runs)["per_dataset_best"]
            for dataset, top in official["datasets"].items():
                row = [OFFICIAL_PROTOCOL, dataset, "primary", round_pct(top["primary"]), *blank]
                writer.writerow([*row, "", "", "", PAPER_TABLE2.get(dataset, "")])
            writer.writerow(
                [OFFICIAL_PROTOCOL, "mean", "primary", round_pct(official["mean"]), *blank, "", "", "", ""]
            )
        return fh.getvalue()
