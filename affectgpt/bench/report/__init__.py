"""The `affectgpt bench` report: per-sample predictions, per-emotion recall, confusion matrices, and the
results of one or several checkpoints side by side.

Files written to `--out` (docs/BENCH.md): `results.{md,csv,json,png}`, `predictions.jsonl` (one line per sample
and checkpoint: answer, extracted words, reference, hit) and, when a basic-emotion set was scored,
`confusion.png`. Every number in a table is a percentage rounded to two decimals.

With several checkpoints the report shows each one, the best single checkpoint (highest mean over datasets)
and the per-dataset best, which is what the official scorer reports (the best of the epoch-30...60 checkpoints
chosen per dataset on the test set, paper Table 2): an optimistic protocol, labelled as such.

One module per job: `records` (per-sample records, per-emotion recall, confusion), `summary` (means, best
checkpoints), `numbers` (percent and NaN formatting), one per file format (`markdown`, `csv_text`,
`json_text`, `figures`) and `write` (the atomic writes)."""

from __future__ import annotations

from affectgpt.bench.report.markdown import table_text
from affectgpt.bench.report.records import CheckpointRun, confusion, per_emotion, sample_records
from affectgpt.bench.report.summary import OFFICIAL_PROTOCOL, PAPER_TABLE2_MEAN, compare, summarize
from affectgpt.bench.report.write import write_report

__all__ = [
    "OFFICIAL_PROTOCOL",
    "PAPER_TABLE2_MEAN",
    "CheckpointRun",
    "compare",
    "confusion",
    "per_emotion",
    "sample_records",
    "summarize",
    "table_text",
    "write_report",
]
