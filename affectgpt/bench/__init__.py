"""MER-UniBench runner: generation (batched, cached, resumable, data-parallel) -> extraction -> metrics -> report.

The official benchmark asks the OV-label question on every dataset, extracts emotion words from the answers
and scores them per dataset (DESIGN.md §5). Generations are cached as JSONL per model files and dataset, keyed
by sample name + a hash of the sample's content + a hash of the run's settings, so a crashed run resumes where
it stopped, a finished run is never repeated and a changed clip, subtitle or model file is generated anew.
A sample that cannot be decoded or generated is recorded and reported; the run goes on.

One module per job: `datasets` (which sets, their rows), `protocol` (what an answer depends on), `cache` (the
generation cache), `run` (generation), `generations` and `official` (the `--score-only` inputs: saved JSONL
answers, the official `.npz` output files), `extract` (label extraction), `score` (the metrics) and `report`
(Markdown, CSV, JSON, figures, per-sample predictions). The names below are the API the CLI
(`affectgpt/commands/bench.py`) uses."""

from __future__ import annotations

from affectgpt.bench.cache import CacheLookup, GenerationCache
from affectgpt.bench.datasets import (
    BASIC,
    DATASETS,
    FINE_GRAINED,
    SENTIMENT,
    SPLIT,
    SYNTH,
    TASK,
    TASKS,
    available_datasets,
    load_rows,
    select_datasets,
)
from affectgpt.bench.extract import Extractor, build_extractor
from affectgpt.bench.generations import read_outputs
from affectgpt.bench.protocol import Protocol, input_key, library_versions, model_fingerprint
from affectgpt.bench.run import generate_dataset
from affectgpt.bench.score import score_outputs
from metrics.mer_unibench.tasks import PAPER_TABLE2, TABLE2_ORDER

__all__ = [
    "BASIC",
    "DATASETS",
    "FINE_GRAINED",
    "PAPER_TABLE2",
    "SENTIMENT",
    "SPLIT",
    "SYNTH",
    "TABLE2_ORDER",
    "TASK",
    "TASKS",
    "CacheLookup",
    "Extractor",
    "GenerationCache",
    "Protocol",
    "available_datasets",
    "build_extractor",
    "generate_dataset",
    "input_key",
    "library_versions",
    "load_rows",
    "model_fingerprint",
    "read_outputs",
    "score_outputs",
    "select_datasets",
]
