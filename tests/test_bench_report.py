"""The bench report (affectgpt/bench/report/): per-sample records checked against the metric itself, per-emotion
recall and confusion, several checkpoints side by side, and the files (percent columns, no mean bar)."""

from __future__ import annotations

import csv
import json
import random

import pytest

from affectgpt.bench import report
from affectgpt.bench.report.figures import results_figure

LABELS = ["happy", "sad", "angry", "worried", "surprise", "neutral"]
WORDS = ["happy", "joyful", "sad", "angry", "furious", "worried", "anxious", "surprised", "calm", "bored"]


@pytest.fixture(scope="module")
def tables(wheel_dir):
    from metrics.mer_unibench import load_wheels

    return load_wheels(wheel_dir)


def _rows_and_words(n=60, seed=0):
    rng = random.Random(seed)
    rows = [
        {"name": f"s{i}", "label": rng.choice(LABELS), "valence": None, "emotions": None} for i in range(n)
    ]
    words = [rng.sample(WORDS, rng.randint(0, 3)) for _ in rows]
    return rows, words


def test_per_sample_hit_agrees_with_the_metric(tables, wheel_dir):
    from metrics.mer_unibench import hit_rate

    rows, words = _rows_and_words()
    outputs = {r["name"]: "answer" for r in rows}
    samples = report.sample_records(
        "mer2023", "basic", rows, outputs, words, ["neutral"] * len(rows), {}, tables
    )
    checked = 0
    for s, w in zip(samples, words):
        on_every_wheel = all(tables.map_word(s["reference"], k) for k in range(1, 6))
        if on_every_wheel:  # the metric scores one sample without a NaN wheel only then
            assert s["hit"] == hit_rate([w], [s["reference"]], wheel_dir=wheel_dir)["hit_rate"]
            checked += 1
        elif not any(tables.map_word(s["reference"], k) for k in range(1, 6)):
            assert s["hit"] is None  # neutral: on no wheel, skipped by the metric
    assert checked > 20
    # A dataset whose labels lie on every wheel: the mean per-sample hit is the metric's HIT rate.
    full = [
        (s, w) for s, w in zip(samples, words) if all(tables.map_word(s["reference"], k) for k in range(1, 6))
    ]
    mean = sum(s["hit"] for s, _ in full) / len(full)
    metric = hit_rate([w for _, w in full], [s["reference"] for s, _ in full], wheel_dir=wheel_dir)[
        "hit_rate"
    ]
    assert mean == pytest.approx(metric, abs=1e-12)


def test_per_emotion_recall_is_the_confusion_diagonal(tables):
    rows, words = _rows_and_words(seed=1)
    outputs = {r["name"]: "answer" for r in rows}
    samples = report.sample_records(
        "mer2023", "basic", rows, outputs, words, ["neutral"] * len(rows), {}, tables
    )
    recall = report.per_emotion(samples)
    labels, matrix = report.confusion(samples, tables)
    assert labels == sorted(recall) and "neutral" not in labels
    for i, label in enumerate(labels):
        own = [s["hit"] for s in samples if s["reference"] == label]
        assert recall[label]["n"] == len(own)
        assert recall[label]["recall"] == pytest.approx(sum(own) / len(own))
        assert matrix[i][i] == pytest.approx(recall[label]["recall"])


def test_sentiment_hit_skips_neutral_references(tables):
    rows = [
        {"name": n, "label": None, "valence": v, "emotions": None}
        for n, v in (("a", 1.5), ("b", -2.0), ("c", 0))
    ]
    samples = report.sample_records(
        "cmumosi",
        "sentiment",
        rows,
        {},
        [[], [], []],
        ["positive", "positive", "negative"],
        {"a": "bad"},
        tables,
    )
    assert [s["hit"] for s in samples] == [1.0, 0.0, None]
    assert samples[0]["error"] == "bad" and samples[0]["answer"] is None


def _result(dataset, primary, n=10):
    return {
        "dataset": dataset,
        "primary_metric": "hit_rate",
        "primary": primary,
        "metrics": {"hit_rate": primary},
        "n": n,
        "missing": 0,
        "failed": 0,
    }


def _runs():
    scores = {"ckpt30": (0.5, 0.9, 0.2), "ckpt40": (0.6, 0.5, 0.6), "ckpt50": (0.7, 0.3, 0.1)}
    return [
        report.CheckpointRun(name, [_result(d, v) for d, v in zip(("mer2023", "meld", "cmumosi"), values)])
        for name, values in scores.items()
    ]


def test_best_single_and_per_dataset_best():
    runs = _runs()
    summary = report.compare(runs)
    means = {run.name: sum(r["primary"] for r in run.results) / 3 for run in runs}
    assert summary["best_single"]["checkpoint"] == max(means, key=means.get) == "ckpt40"
    best = summary["per_dataset_best"]["datasets"]
    assert {d: v["checkpoint"] for d, v in best.items()} == {
        "mer2023": "ckpt50",
        "meld": "ckpt30",
        "cmumosi": "ckpt40",
    }
    assert summary["per_dataset_best"]["mean"] == pytest.approx((0.7 + 0.9 + 0.6) / 3)
    text = report.table_text(runs)
    assert "best single (ckpt40)" in text and "per-dataset best (official protocol)" in text
    assert "| mer2023 | 50.00 | 60.00 | 70.00 | 60.00 | 70.00 (ckpt50) | 78.54 |" in text


def test_files_use_percent_rounded_and_the_figure_has_no_mean_bar(tmp_path, tables):
    rows, words = _rows_and_words(n=12, seed=2)
    outputs = {r["name"]: f"answer {r['name']}" for r in rows}
    samples = report.sample_records("mer2023", "basic", rows, outputs, words, ["neutral"] * 12, {}, tables)
    run = report.CheckpointRun("model", [_result("mer2023", 0.8714000000000001, n=12)], samples)
    paths = report.write_report(tmp_path, [run], {"model": "m"}, tables)
    assert {p.name for p in paths} == {
        "results.md", "results.csv", "results.json", "results.png", "predictions.jsonl", "confusion.png"
    }  # fmt: skip
    table = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert table[0]["primary_pct"] == "87.14" and table[0]["hit_rate_pct"] == "87.14"
    assert table[0]["paper_pct"] == "78.54" and table[1]["dataset"] == "mean"
    lines = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 12 and lines[0]["answer"] == "answer s0" and lines[0]["checkpoint"] == "model"
    assert set(lines[0]) >= {"dataset", "name", "answer", "words", "reference", "hit"}
    payload = json.loads((tmp_path / "results.json").read_text())
    assert set(payload["per_emotion"]["mer2023"]) == {s["reference"] for s in samples if s["hit"] is not None}
    assert "## Per-emotion recall (`model`)" in (tmp_path / "results.md").read_text()

    fig = results_figure([run])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mer2023"]  # no "mean" bar
    assert any("paper" in t.get_text() for t in ax.get_legend().get_texts())  # the paper's number is marked
    assert "mean 87.14" in ax.get_title()


def test_several_checkpoints_are_written_side_by_side(tmp_path):
    paths = report.write_report(tmp_path, _runs(), {"model": "several"})
    payload = json.loads((tmp_path / "results.json").read_text())
    assert set(payload["checkpoints"]) == {"ckpt30", "ckpt40", "ckpt50"}
    assert payload["comparison"]["best_single"]["checkpoint"] == "ckpt40"
    table = list(csv.DictReader((tmp_path / "results.csv").open()))
    official = [r for r in table if r["checkpoint"] == "per-dataset best (official protocol)"]
    assert [r["primary_pct"] for r in official] == ["70.0", "90.0", "60.0", "73.33"]
    assert (tmp_path / "results.png") in paths
