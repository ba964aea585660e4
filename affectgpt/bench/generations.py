"""Saved generations as `affectgpt bench --score-only` input: a bench output folder, a generations folder or
one JSONL file (the official `.npz` output files are `affectgpt.bench.official`)."""

from __future__ import annotations

import os
from pathlib import Path

from affectgpt.bench.cache import read_jsonl
from affectgpt.bench.datasets import DATASETS
from affectgpt.errors import CLIError

__all__ = ["read_outputs"]


def read_outputs(path: str | os.PathLike, datasets: list[str]) -> dict[str, dict[str, str]]:
    """Existing generations for `--score-only`: a bench output folder, a generations folder, or one JSONL of
    `{"name", "output"[, "dataset"]}` lines (lines without `dataset` are offered to every dataset by name)."""
    path = Path(path)
    if not path.exists():
        raise CLIError(f"--score-only: not found: {path}")
    files: list[tuple[str | None, Path]] = []
    if path.is_file():
        files.append((None, path))
    else:
        for file in sorted(path.rglob("*.jsonl")):
            if file.name == "predictions.jsonl" and file.parent == path:
                continue  # the report's per-sample file beside results.json, not generations
            stem = file.name.split(".")[0]
            files.append((stem if stem in DATASETS else None, file))
    if not files:
        raise CLIError(f"--score-only: no .jsonl files under {path}")
    outputs: dict[str, dict[str, str]] = {d: {} for d in datasets}
    protocols: dict[str, set] = {d: set() for d in datasets}
    for file_dataset, file in files:
        for rec in read_jsonl(file):
            if "name" not in rec or not any(k in rec for k in ("output", "text", "prediction")):
                raise CLIError(f"{file}: every line needs 'name' and 'output'")
            text = rec.get("output", rec.get("text", rec.get("prediction")))
            target = rec.get("dataset") or file_dataset
            for dataset in [target] if target else datasets:
                if dataset in outputs:
                    outputs[dataset][str(rec["name"])] = "" if text is None else str(text)
                    protocols[dataset].add(rec.get("protocol"))
    # A bench cache may hold generations of several protocols (greedy and official, say); mixing them would
    # score neither. Rerunning `bench` with the wanted protocol scores its cached generations instead.
    mixed = {d: sorted(map(str, p)) for d, p in protocols.items() if len(p) > 1}
    if mixed:
        name, hashes = next(iter(mixed.items()))
        raise CLIError(
            f"--score-only: {path} holds {name} generations of several protocols ({', '.join(hashes)}); "
            "point at one file, or rerun `affectgpt bench` with the protocol you want (it scores the cache)"
        )
    return outputs
