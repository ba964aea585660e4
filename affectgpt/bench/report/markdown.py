"""`results.md`: the results table (one checkpoint with its secondary metrics, or several side by side with
the best single one and the per-dataset best), per-emotion recall, failed samples and the protocol."""

from __future__ import annotations

import json
from typing import Any

from affectgpt.bench.report.numbers import no_nan, pct
from affectgpt.bench.report.records import CheckpointRun, basic_sets, per_emotion
from affectgpt.bench.report.summary import OFFICIAL_PROTOCOL, PAPER_TABLE2_MEAN, compare, reported, summarize
from metrics.mer_unibench.tasks import PAPER_TABLE2, TABLE2_ORDER

__all__ = ["markdown", "table_text"]


def _datasets(runs: list[CheckpointRun]) -> list[str]:
    return list(dict.fromkeys(r["dataset"] for run in runs for r in run.results))


def table_text(runs: list[CheckpointRun]) -> str:
    """The Markdown results table (percent): for one checkpoint its scores with the secondary metrics; for
    several, every checkpoint side by side with the best single one and the per-dataset best."""
    if len(runs) == 1:
        return _single_table(runs[0].results)
    summary = compare(runs)
    best = summary["best_single"]["checkpoint"]
    official = summary["per_dataset_best"]
    head = [*(run.name for run in runs), f"best single ({best})", OFFICIAL_PROTOCOL, "paper"]
    lines = ["| dataset | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    by_run = {run.name: {r["dataset"]: r for r in run.results} for run in runs}
    for dataset in _datasets(runs):
        cells = [pct(by_run[run.name].get(dataset, {}).get("primary")) for run in runs]
        cells.append(pct(by_run[best].get(dataset, {}).get("primary")))
        top = official["datasets"].get(dataset)
        cells.append(f"{pct(top['primary'])} ({top['checkpoint']})" if top else "n/a")
        paper = PAPER_TABLE2.get(dataset)
        cells.append("" if paper is None else f"{paper:.2f}")
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    means = [pct(summarize(run.results)["mean"]) for run in runs]
    # The paper's mean is over the nine UniBench sets: only comparable when all of them were scored.
    complete = set(TABLE2_ORDER) <= set(_datasets(runs))
    paper_mean = f"{PAPER_TABLE2_MEAN:.2f}" if complete else ""
    means += [pct(summary["best_single"]["mean"]), pct(official["mean"]), paper_mean]
    lines.append("| **mean** | " + " | ".join(f"**{m}**" if m else "" for m in means) + " |")
    return "\n".join(lines)


def _single_table(results: list[dict[str, Any]]) -> str:
    summary = summarize(results)
    lines = [
        "| dataset | metric | score | secondary | n | missing | failed | paper |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        secondary = ", ".join(f"{k} {pct(v)}" for k, v in r["metrics"].items() if k != r["primary_metric"])
        paper = PAPER_TABLE2.get(r["dataset"])
        lines.append(
            f"| {r['dataset']} | {r['primary_metric']} | {pct(r['primary'])} | {secondary} | {r['n']} "
            f"| {r['missing']} | {r.get('failed', 0)} | {'' if paper is None else f'{paper:.2f}'} |"
        )
    paper_mean = f"{PAPER_TABLE2_MEAN:.2f}" if summary["complete_unibench"] else ""
    n = summary["n_datasets"]
    lines.append(
        f"| **mean** ({n} dataset{'s' if n != 1 else ''}) | primary | **{pct(summary['mean'])}** "
        f"| | | | | {paper_mean} |"
    )
    return "\n".join(lines)


def markdown(runs: list[CheckpointRun], protocol: dict[str, Any], tables) -> str:
    lines = [
        "# MER-UniBench results",
        "",
        "Values in percent. Primary metric per dataset: HIT rate (basic emotions), weighted F1 (sentiment), "
        "EW F-score (fine-grained); the mean is over the primary metrics. `paper` = AffectGPT audio+face+text, "
        "paper Table 2: per dataset the best of the epoch-30...60 checkpoints, chosen on the test set, labels "
        "extracted by an LLM sampling at T=0.7 -- a different protocol, for orientation only.",
        "",
        table_text(runs),
        "",
    ]
    if len(runs) > 1:
        summary = compare(runs)
        lines += [
            f"**Best single checkpoint**: `{summary['best_single']['checkpoint']}` (highest mean). "
            f"**{OFFICIAL_PROTOCOL}**: each dataset's best checkpoint, as the official scorer reports; it "
            "picks on the test set, so it overstates what any one checkpoint achieves.",
            "",
        ]
    run = reported(runs)
    basic = basic_sets(run)
    if basic:
        lines += [
            f"## Per-emotion recall (`{run.name}`)",
            "",
            "| dataset | emotion | n | recall |",
            "|---|---|---:|---:|",
        ]
        for dataset, samples in basic.items():
            for label, stats in per_emotion(samples).items():
                lines.append(f"| {dataset} | {label} | {stats['n']} | {pct(stats['recall'])} |")
        lines += [
            "",
            "Confusion matrices: `confusion.png`. Per-sample answers, words and hits: `predictions.jsonl`.",
            "",
        ]
    failures = [
        (run.name, r["dataset"], f) for run in runs for r in run.results for f in r.get("failures", [])
    ]
    if failures:
        lines += ["## Failed samples (scored as empty answers)", ""]
        lines += [f"- {ckpt} {dataset} `{f['name']}`: {f['error']}" for ckpt, dataset, f in failures]
        lines.append("")
    lines += ["## Protocol", "", "```json", json.dumps(no_nan(protocol), indent=2, default=str), "```", ""]
    return "\n".join(lines)
