"""`results.json` (every score, the comparison of checkpoints, per-emotion recall, the protocol) and
`predictions.jsonl` (one line per sample and checkpoint), as strict JSON: a NaN score is written as null."""

from __future__ import annotations

import json
from typing import Any

from affectgpt.bench.report.numbers import no_nan
from affectgpt.bench.report.records import CheckpointRun, basic_sets, per_emotion
from affectgpt.bench.report.summary import compare, reported, summarize

__all__ = ["predictions_jsonl", "results_json"]


def results_json(runs: list[CheckpointRun], protocol: dict[str, Any]) -> str:
    shown = reported(runs)
    payload: dict[str, Any] = {"protocol": protocol}
    if len(runs) == 1:
        payload.update(datasets=shown.results, summary=summarize(shown.results))
    else:
        payload.update(
            checkpoints={
                run.name: {"datasets": run.results, "summary": summarize(run.results)} for run in runs
            },
            comparison=compare(runs),
        )
    payload["per_emotion"] = {d: per_emotion(s) for d, s in basic_sets(shown).items()}
    payload["per_emotion_checkpoint"] = shown.name
    return json.dumps(no_nan(payload), indent=2, default=str, allow_nan=False) + "\n"


def predictions_jsonl(runs: list[CheckpointRun]) -> str:
    lines = [
        json.dumps(no_nan({"checkpoint": run.name, **s}), ensure_ascii=False, allow_nan=False)
        for run in runs
        for s in run.samples
    ]
    return "".join(line + "\n" for line in lines)
