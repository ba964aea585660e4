"""Writes the report's files into `--out`, each atomically (a temporary file beside it, then a rename), so an
interrupted run never leaves a half-written result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from affectgpt.bench.report.csv_text import csv_text
from affectgpt.bench.report.figures import confusion_figure, results_figure
from affectgpt.bench.report.json_text import predictions_jsonl, results_json
from affectgpt.bench.report.markdown import markdown
from affectgpt.bench.report.records import CheckpointRun
from affectgpt.bench.report.summary import reported

__all__ = ["write_report"]


def write_report(
    out_dir: str | Path, runs: list[CheckpointRun], protocol: dict[str, Any], tables=None
) -> list[Path]:
    """results.{md,csv,json,png}, predictions.jsonl and (basic sets) confusion.png; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write(out / "results.json", results_json(runs, protocol))
    _atomic_write(out / "results.csv", csv_text(runs))
    _atomic_write(out / "results.md", markdown(runs, protocol, tables))
    _atomic_write(out / "predictions.jsonl", predictions_jsonl(runs))
    _save_figure(results_figure(runs), out / "results.png")
    paths = [out / f"results.{ext}" for ext in ("md", "csv", "json", "png")] + [out / "predictions.jsonl"]
    if tables is not None:
        fig = confusion_figure(reported(runs), tables)
        if fig is not None:
            _save_figure(fig, out / "confusion.png")
            paths.append(out / "confusion.png")
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)


def _save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        fig.savefig(tmp, bbox_inches="tight")
        tmp.replace(path)
    finally:
        plt.close(fig)
