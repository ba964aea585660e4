"""The `affectgpt bench` report: per-sample predictions, per-emotion recall, confusion matrices, and the
results of one or several checkpoints side by side.

Files written to `--out` (docs/BENCH.md): `results.{md,csv,json,png}`, `predictions.jsonl` (one line per sample
and checkpoint: answer, extracted words, reference, hit) and, when a basic-emotion set was scored,
`confusion.png`. Every number in a table is a percentage rounded to two decimals.

With several checkpoints the report shows each one, the best single checkpoint (highest mean over datasets)
and the per-dataset best, which is what the official scorer reports (the best of the epoch-30...60 checkpoints
chosen per dataset on the test set, paper Table 2): an optimistic protocol, labelled as such."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metrics.mer_unibench.tasks import PAPER_TABLE2, TABLE2_ORDER

__all__ = [
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

PAPER_TABLE2_MEAN = 74.77
OFFICIAL_PROTOCOL = "per-dataset best (official protocol)"


@dataclass
class CheckpointRun:
    """One checkpoint's scores (`bench.score_outputs` results, one per dataset) and its per-sample records."""

    name: str
    results: list[dict[str, Any]]
    samples: list[dict[str, Any]] = field(default_factory=list)


# --- per sample -------------------------------------------------------------------------------------------


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


# --- across datasets and checkpoints ----------------------------------------------------------------------


def _ok(value) -> bool:
    return isinstance(value, (int, float)) and value == value


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of the primary metrics (NaN-free ones), as in Table 2's last column."""
    values = [r["primary"] for r in results if _ok(r["primary"])]
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
            if _ok(r["primary"]) and (seen is None or r["primary"] > seen["primary"]):
                per_dataset[r["dataset"]] = {"checkpoint": run.name, "primary": r["primary"]}
    values = [v["primary"] for v in per_dataset.values()]
    return {
        "best_single": {"checkpoint": best.name, "mean": means[best.name]},
        "per_dataset_best": {
            "datasets": per_dataset,
            "mean": sum(values) / len(values) if values else None,
        },
    }


def _pct(value) -> str:
    return f"{100 * value:.2f}" if _ok(value) else "n/a"


def _round_pct(value) -> float | str:
    return round(100 * value, 2) if _ok(value) else ""


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


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
        cells = [_pct(by_run[run.name].get(dataset, {}).get("primary")) for run in runs]
        cells.append(_pct(by_run[best].get(dataset, {}).get("primary")))
        top = official["datasets"].get(dataset)
        cells.append(f"{_pct(top['primary'])} ({top['checkpoint']})" if top else "n/a")
        paper = PAPER_TABLE2.get(dataset)
        cells.append("" if paper is None else f"{paper:.2f}")
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    means = [_pct(summarize(run.results)["mean"]) for run in runs]
    # The paper's mean is over the nine UniBench sets: only comparable when all of them were scored.
    complete = set(TABLE2_ORDER) <= set(_datasets(runs))
    paper_mean = f"{PAPER_TABLE2_MEAN:.2f}" if complete else ""
    means += [_pct(summary["best_single"]["mean"]), _pct(official["mean"]), paper_mean]
    lines.append("| **mean** | " + " | ".join(f"**{m}**" if m else "" for m in means) + " |")
    return "\n".join(lines)


def _single_table(results: list[dict[str, Any]]) -> str:
    summary = summarize(results)
    lines = [
        "| dataset | metric | score | secondary | n | missing | failed | paper |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        secondary = ", ".join(f"{k} {_pct(v)}" for k, v in r["metrics"].items() if k != r["primary_metric"])
        paper = PAPER_TABLE2.get(r["dataset"])
        lines.append(
            f"| {r['dataset']} | {r['primary_metric']} | {_pct(r['primary'])} | {secondary} | {r['n']} "
            f"| {r['missing']} | {r.get('failed', 0)} | {'' if paper is None else f'{paper:.2f}'} |"
        )
    paper_mean = f"{PAPER_TABLE2_MEAN:.2f}" if summary["complete_unibench"] else ""
    n = summary["n_datasets"]
    lines.append(
        f"| **mean** ({n} dataset{'s' if n != 1 else ''}) | primary | **{_pct(summary['mean'])}** "
        f"| | | | | {paper_mean} |"
    )
    return "\n".join(lines)


# --- files ------------------------------------------------------------------------------------------------


def _basic_sets(run: CheckpointRun) -> dict[str, list[dict]]:
    sets: dict[str, list[dict]] = {}
    for s in run.samples:
        if isinstance(s["reference"], str) and s["hit"] is not None:
            sets.setdefault(s["dataset"], []).append(s)
    return sets


def _csv_text(runs: list[CheckpointRun]) -> str:
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
                        _round_pct(r["primary"]),
                        *(_round_pct(r["metrics"].get(m)) for m in metric_names),
                        r["n"],
                        r["missing"],
                        r.get("failed", 0),
                        PAPER_TABLE2.get(r["dataset"], ""),
                    ]
                )
            mean = summarize(run.results)["mean"]
            writer.writerow(
                [run.name, "mean", "primary", _round_pct(mean), *blank, "", "", "", PAPER_TABLE2_MEAN]
            )
        if len(runs) > 1:
            official = compare(runs)["per_dataset_best"]
            for dataset, top in official["datasets"].items():
                row = [OFFICIAL_PROTOCOL, dataset, "primary", _round_pct(top["primary"]), *blank]
                writer.writerow([*row, "", "", "", PAPER_TABLE2.get(dataset, "")])
            writer.writerow(
                [OFFICIAL_PROTOCOL, "mean", "primary", _round_pct(official["mean"]), *blank, "", "", "", ""]
            )
        return fh.getvalue()


def _markdown(runs: list[CheckpointRun], protocol: dict[str, Any], tables) -> str:
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
    run = _reported(runs)
    basic = _basic_sets(run)
    if basic:
        lines += [
            f"## Per-emotion recall (`{run.name}`)",
            "",
            "| dataset | emotion | n | recall |",
            "|---|---|---:|---:|",
        ]
        for dataset, samples in basic.items():
            for label, stats in per_emotion(samples).items():
                lines.append(f"| {dataset} | {label} | {stats['n']} | {_pct(stats['recall'])} |")
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
    lines += ["## Protocol", "", "```json", json.dumps(_no_nan(protocol), indent=2, default=str), "```", ""]
    return "\n".join(lines)


def _reported(runs: list[CheckpointRun]) -> CheckpointRun:
    """The checkpoint whose details (recalls, confusion) are shown: the only one, else the best single."""
    if len(runs) == 1:
        return runs[0]
    best = compare(runs)["best_single"]["checkpoint"]
    return next(run for run in runs if run.name == best)


def _results_figure(runs: list[CheckpointRun]):
    """Bars: the reported checkpoint's primary metric per dataset (no mean bar: the mean is in the title);
    markers: the paper's Table 2 and, with several checkpoints, the per-dataset best."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    run = _reported(runs)
    datasets = [r["dataset"] for r in run.results]
    values = [100 * r["primary"] if _ok(r["primary"]) else 0.0 for r in run.results]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(datasets) + 2.5), 4.2), dpi=100)
    label = f"{run.name} (best single checkpoint)" if len(runs) > 1 else run.name
    bars = ax.bar(datasets, values, color="#4C72B0", label=label)
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    if len(runs) > 1:
        official = compare(runs)["per_dataset_best"]["datasets"]
        xs = [i for i, d in enumerate(datasets) if d in official]
        ax.scatter(xs, [100 * official[datasets[i]]["primary"] for i in xs], marker="_", s=400, color="#C44E52",
                   linewidths=2.5, zorder=3, label=OFFICIAL_PROTOCOL)  # fmt: skip
    papers = [(i, PAPER_TABLE2[d]) for i, d in enumerate(datasets) if d in PAPER_TABLE2]
    if papers:
        ax.scatter([i for i, _ in papers], [v for _, v in papers], marker="D", s=36, color="black", zorder=4,
                   label="paper (Table 2)")  # fmt: skip
    mean = summarize(run.results)["mean"]
    ax.set_title(f"MER-UniBench — {run.name}: mean {_pct(mean)} over {len(datasets)} dataset(s)", fontsize=10)
    ax.set_ylabel("primary metric (%)")
    ax.set_ylim(0, 105)
    ax.tick_params(axis="x", rotation=30)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(
        handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, frameon=False
    )
    fig.tight_layout()
    return fig


def _save_figure(fig, path: Path, **kwargs) -> None:
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        fig.savefig(tmp, **kwargs)
        tmp.replace(path)
    finally:
        plt.close(fig)


def _confusion_figure(path: Path, run: CheckpointRun, tables) -> bool:
    basic = _basic_sets(run)
    if not basic:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(basic), figsize=(4.2 * len(basic), 4.0), dpi=100, squeeze=False)
    for ax, (dataset, samples) in zip(axes[0], basic.items()):
        labels, matrix = confusion(samples, tables)
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="Blues")
        for r, row in enumerate(matrix):
            for c, value in enumerate(row):
                text = "n/a" if value != value else f"{100 * value:.0f}"
                ax.text(c, r, text, ha="center", va="center", fontsize=8,
                        color="white" if value == value and value > 0.6 else "black")  # fmt: skip
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_xlabel("covered by the answer (%)")
        ax.set_ylabel("reference")
        ax.set_title(dataset, fontsize=10)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8)
    fig.suptitle(
        f"{run.name}: share of clips whose answer covers each emotion (diagonal = recall)", fontsize=9
    )
    _save_figure(fig, path, bbox_inches="tight")
    return True


def write_report(
    out_dir: str | Path, runs: list[CheckpointRun], protocol: dict[str, Any], tables=None
) -> list[Path]:
    """results.{md,csv,json,png}, predictions.jsonl and (basic sets) confusion.png; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reported = _reported(runs)
    payload: dict[str, Any] = {"protocol": protocol}
    if len(runs) == 1:
        payload.update(datasets=reported.results, summary=summarize(reported.results))
    else:
        payload.update(
            checkpoints={
                run.name: {"datasets": run.results, "summary": summarize(run.results)} for run in runs
            },
            comparison=compare(runs),
        )
    payload["per_emotion"] = {d: per_emotion(s) for d, s in _basic_sets(reported).items()}
    payload["per_emotion_checkpoint"] = reported.name
    # Strict JSON: a NaN score (the official 0/0 cases) is written as null.
    _atomic_write(
        out / "results.json", json.dumps(_no_nan(payload), indent=2, default=str, allow_nan=False) + "\n"
    )
    _atomic_write(out / "results.csv", _csv_text(runs))
    _atomic_write(out / "results.md", _markdown(runs, protocol, tables))
    lines = [
        json.dumps(_no_nan({"checkpoint": run.name, **s}), ensure_ascii=False, allow_nan=False)
        for run in runs
        for s in run.samples
    ]
    _atomic_write(out / "predictions.jsonl", "".join(line + "\n" for line in lines))
    _save_figure(_results_figure(runs), out / "results.png", bbox_inches="tight")
    paths = [out / f"results.{ext}" for ext in ("md", "csv", "json", "png")] + [out / "predictions.jsonl"]
    if tables is not None and _confusion_figure(out / "confusion.png", reported, tables):
        paths.append(out / "confusion.png")
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)
