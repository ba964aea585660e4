"""`affectgpt bench`: end to end on a small synth-mer test split, the generation cache, resume, score-only."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from affectgpt import bench
from affectgpt.cli import main
from affectgpt.errors import CLIError
from affectgpt.inference import AffectGPTPipeline


@pytest.fixture(scope="module")
def test_rows(synth_data):
    return bench.load_rows(synth_data, "synth-mer")


def _bench_argv(model, data, out, wheel_dir, *extra):
    return [
        "bench",
        *("--model", str(model), "--data", str(data), "--out", str(out), "--wheel-dir", str(wheel_dir)),
        *("--datasets", "synth-mer", "--max-new-tokens", "4", "--no-progress", *extra),
    ]


def _cache_lines(out: Path) -> list[dict]:
    files = sorted((out / "generations").rglob("synth-mer*.jsonl"))
    return [json.loads(line) for file in files for line in file.read_text().splitlines()]


class _CountingGenerate:
    """Wraps AffectGPTPipeline.generate: counts batches, and raises KeyboardInterrupt at call `fail_at`."""

    def __init__(self, fail_at: int | None = None):
        self.calls, self.fail_at, self.original = 0, fail_at, AffectGPTPipeline.generate

    def __call__(self, pipe, inputs, *args, **kwargs):
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt  # what Ctrl-C (or a crash) does mid-run
        return self.original(pipe, inputs, *args, **kwargs)


def test_dataset_selection_errors(synth_data, tmp_path):
    with pytest.raises(CLIError, match="data folder not found"):
        bench.select_datasets("all", tmp_path / "missing")
    with pytest.raises(CLIError, match="unknown dataset.*mer2025.*choose from"):
        bench.select_datasets("mer2023,mer2025", synth_data)
    with pytest.raises(CLIError, match="mer2023 not found under"):
        bench.select_datasets("mer2023", synth_data)
    with pytest.raises(CLIError, match="no UniBench or synth-mer test split"):
        bench.select_datasets("all", tmp_path)
    assert bench.select_datasets("all", synth_data) == ["synth-mer"]
    assert bench.select_datasets(" SYNTH-MER ", synth_data) == ["synth-mer"]


def test_cli_errors_are_one_line(synth_data, tmp_path, capsys):
    cases = [
        (["bench", "--data", str(tmp_path / "nope")], "data folder not found"),
        (["bench", "--data", str(synth_data), "--datasets", "mosi"], "unknown dataset(s) mosi"),
        (["bench", "--data", str(synth_data), "--batch-size", "0"], "--batch-size must be >= 1"),
        (["bench", "--data", str(synth_data), "--extractor", "gpt"], "--extractor must be"),
        (["bench", "--data", str(synth_data), "--score-only", str(tmp_path / "x.jsonl")], "not found"),
        (["bench", "--data", str(synth_data), "--out", str(Path(__file__))], "is a file; give a folder"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)


def test_end_to_end_writes_every_output_and_reuses_the_cache(
    tiny_model_dir, synth_data, wheel_dir, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out"
    argv = _bench_argv(tiny_model_dir, synth_data, out, wheel_dir, "--batch-size", "2", "--num-workers", "1")
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| synth-mer | hit_rate |" in printed and "results.png" in printed

    for name in ("results.md", "results.csv", "results.json", "results.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "results.json").read_text())  # strict JSON: NaN would fail here
    (row,) = report["datasets"]
    assert row["dataset"] == "synth-mer" and row["primary_metric"] == "hit_rate" and row["n"] == 4
    assert set(row["metrics"]) == {"hit_rate", "weighted_f1", "accuracy", "fscore", "precision", "recall"}
    protocol = report["protocol"]
    assert protocol["decoding"] == "greedy" and protocol["generation"]["do_sample"] is False
    assert protocol["generation"]["max_new_tokens"] == 4 and protocol["seed"] == 0
    assert protocol["extractor"] == "lexicon" and protocol["extractor_settings"]["name"] == "lexicon"
    assert protocol["model"] == str(tiny_model_dir) and len(protocol["model_hash"]) == 16
    assert protocol["versions"]["transformers"]
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["dataset"] for r in rows] == ["synth-mer", "mean"]
    assert "## Protocol" in (out / "results.md").read_text()
    first = _cache_lines(out)
    assert sorted(r["name"] for r in first) == sorted(
        r["name"] for r in bench.load_rows(synth_data, "synth-mer")
    )

    # A second run finds every generation cached: no batch is generated again, same numbers.
    counter = _CountingGenerate()
    monkeypatch.setattr(AffectGPTPipeline, "generate", lambda self, *a, **k: counter(self, *a, **k))
    assert main(argv) == 0
    assert counter.calls == 0
    assert json.loads((out / "results.json").read_text())["datasets"] == report["datasets"]
    assert _cache_lines(out) == first


def test_resume_after_interruption_skips_finished_samples(
    tiny_model_dir, synth_data, wheel_dir, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out"
    argv = _bench_argv(tiny_model_dir, synth_data, out, wheel_dir, "--batch-size", "1", "--num-workers", "0")
    crashing = _CountingGenerate(fail_at=3)
    monkeypatch.setattr(AffectGPTPipeline, "generate", lambda self, *a, **k: crashing(self, *a, **k))
    assert main(argv) == 130  # interrupted during the third sample
    assert len(_cache_lines(out)) == 2 and not (out / "results.json").exists()

    resumed = _CountingGenerate()
    monkeypatch.setattr(AffectGPTPipeline, "generate", lambda self, *a, **k: resumed(self, *a, **k))
    assert main(argv) == 0
    assert resumed.calls == 2  # only the two samples the crashed run had not finished
    names = [r["name"] for r in _cache_lines(out)]
    assert len(names) == len(set(names)) == 4

    # A different protocol (official sampling) is a different cache key: everything is generated anew.
    fresh = _CountingGenerate()
    monkeypatch.setattr(AffectGPTPipeline, "generate", lambda self, *a, **k: fresh(self, *a, **k))
    assert main([*argv, "--protocol", "official"]) == 0
    assert fresh.calls == 4
    capsys.readouterr()
    # The cache now holds two protocols: scoring it blindly would mix them, so score-only refuses.
    argv = ["bench", "--data", str(synth_data), "--datasets", "synth-mer", "--score-only", str(out)]
    assert main([*argv, "--out", str(tmp_path / "rescored"), "--wheel-dir", str(wheel_dir)]) == 2
    assert "several protocols" in capsys.readouterr().err


def _score_only(lines, synth_data, wheel_dir, out):
    peer = out.with_suffix(".jsonl")
    peer.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    argv = ["bench", "--data", str(synth_data), "--datasets", "synth-mer", "--score-only", str(peer)]
    assert main([*argv, "--out", str(out), "--wheel-dir", str(wheel_dir)]) == 0
    assert not (out / "generations").exists()  # scoring only: no model, no generation
    report = json.loads((out / "results.json").read_text())
    assert report["protocol"]["score_only"] == str(peer)
    return report["datasets"][0]


def test_score_only_on_a_peer_jsonl(synth_data, test_rows, wheel_dir, tmp_path, capsys):
    # A peer's answers in the OV-label format naming exactly the reference emotions score perfectly.
    perfect = [
        {
            "name": r["name"],
            "output": f"The character's emotional state is {', '.join(r['emotions'])}.",
            "dataset": "synth-mer",
        }
        for r in test_rows
    ]
    row = _score_only(perfect, synth_data, wheel_dir, tmp_path / "perfect")
    assert row["missing"] == 0 and row["n"] == len(test_rows) == 4
    assert (
        row["metrics"]["fscore"]
        == row["metrics"]["precision"]
        == row["metrics"]["recall"]
        == pytest.approx(1.0)
    )
    # The synthetic emotions are written to fit the clip's basic label, so they hit it on (nearly) every wheel.
    assert row["metrics"]["hit_rate"] >= 0.75

    # Without its `dataset` field a line is matched by name; an absent sample counts as an empty answer.
    partial = [{"name": line["name"], "output": line["output"]} for line in perfect[:-1]]
    row = _score_only(partial, synth_data, wheel_dir, tmp_path / "partial")
    assert row["missing"] == 1 and row["metrics"]["fscore"] < 1.0
    assert "1 samples without output" in capsys.readouterr().err


def test_cache_ignores_a_torn_last_line_and_other_protocols(tmp_path):
    protocol = bench.Protocol(
        model="m", model_hash="abc", generation={"do_sample": False, "max_new_tokens": 4}
    )
    cache = bench.GenerationCache(tmp_path, protocol)
    cache.append("mer2023", [("a", "x", "ka"), ("b", "y", "kb")])
    other = bench.Protocol(model="m", model_hash="abc", decoding="official", generation={"do_sample": True})
    bench.GenerationCache(tmp_path, other).append("mer2023", [("c", "z", "kc")])
    file = cache.dir / "mer2023.jsonl"
    with file.open("a") as fh:
        fh.write('{"name": "d", "outp')  # a crash in the middle of a write
    assert cache.load("mer2023").outputs == {"a": "x", "b": "y"}
    assert protocol.key() != other.key()
    # Greedy outputs do not depend on the batch size; sampled ones do (one RNG stream per batch).
    assert protocol.key() == bench.Protocol(**{**protocol.__dict__, "batch_size": 1}).key()
    assert other.key() != bench.Protocol(**{**other.__dict__, "batch_size": 1}).key()
    file.write_text('{"name": "a"}\nnot json\n{"name": "b"}\n')
    with pytest.raises(CLIError, match="mer2023.jsonl:2: not valid JSON"):
        cache.load("mer2023")


def test_append_after_a_torn_line_cuts_it_off_and_the_file_stays_readable(tmp_path, capsys):
    protocol = bench.Protocol(model="m", model_hash="abc", generation={"do_sample": False})
    cache = bench.GenerationCache(tmp_path, protocol)
    cache.append("mer2023", [("a", "x", "ka")])
    file = cache.dir / "mer2023.jsonl"
    with file.open("a") as fh:
        fh.write('{"name": "b", "output": "torn \u00e9')  # killed mid-write: no newline
    cache.append("mer2023", [("c", "z", "kc")])  # the resumed run
    assert "removed a torn last line" in capsys.readouterr().err
    lines = file.read_text().splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["a", "c"]
    # ... and every later run still reads it (it used to fail with `:2: not valid JSON` from here on).
    cache.append("mer2023", [("d", "w", "kd")])
    keys = {"a": "ka", "c": "kc", "d": "kd"}
    assert cache.load("mer2023", keys).outputs == {"a": "x", "c": "z", "d": "w"}

    # A complete last line that only lacks its newline (a hand-edited file) is kept, not cut off.
    with file.open("a") as fh:
        fh.write(json.dumps({"name": "e", "output": "v", "protocol": protocol.key(), "input": "ke"}))
    cache.append("mer2023", [("f", "u", "kf")])
    assert cache.load("mer2023", {**keys, "e": "ke", "f": "kf"}).outputs.keys() == {"a", "c", "d", "e", "f"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[1, 2]\n{"name": "a"}\n', "mer2023.jsonl:1: expected a JSON object, got list"),
        (b'"text"\n', "mer2023.jsonl:1: expected a JSON object, got str"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\n", "mer2023.jsonl:1: not UTF-8 text"),
    ],
)
def test_a_cache_line_that_is_not_an_object_is_a_one_line_error(tmp_path, content, message):
    protocol = bench.Protocol(model="m", model_hash="abc")
    cache = bench.GenerationCache(tmp_path, protocol)
    cache.dir.mkdir(parents=True)
    (cache.dir / "mer2023.jsonl").write_bytes(content)
    with pytest.raises(CLIError, match=message):
        cache.load("mer2023")


def test_cache_is_keyed_on_clip_content_and_model_files(
    tiny_model_dir, synth_data, test_rows, wheel_dir, tmp_path, monkeypatch, capsys
):
    import shutil

    data, model, out = tmp_path / "data", tmp_path / "model", tmp_path / "out"
    shutil.copytree(synth_data, data)
    shutil.copytree(tiny_model_dir, model)
    argv = _bench_argv(model, data, out, wheel_dir, "--batch-size", "2", "--num-workers", "0")
    assert main(argv) == 0
    capsys.readouterr()

    # Another clip's video under the same name: that sample (only) is generated again, and the user is told.
    rows = bench.load_rows(data, "synth-mer")
    first, second = Path(rows[0]["clip"]["video"]), Path(rows[1]["clip"]["video"])
    first.write_bytes(second.read_bytes())
    counter = _CountingGenerate()
    monkeypatch.setattr(AffectGPTPipeline, "generate", lambda self, *a, **k: counter(self, *a, **k))
    assert main(argv) == 0
    assert counter.calls == 1
    err = capsys.readouterr().err
    assert f"1 cached generation(s) not used (e.g. {rows[0]['name']})" in err and "media or subtitle" in err

    # A changed code file of the model folder (the processor's prompts) is a new cache; nothing is reused.
    code = model / "prompts.py"
    code.write_text(code.read_text() + "\n# edited\n")
    counter.calls = 0
    assert main(argv) == 0
    assert counter.calls == 2  # four samples, batch size 2
    assert "made with other model files" in capsys.readouterr().err


def test_unreadable_clip_is_recorded_and_the_run_goes_on(
    tiny_model_dir, synth_data, test_rows, wheel_dir, tmp_path, monkeypatch, capsys
):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(synth_data, data)
    broken = Path(test_rows[1]["clip"]["video"].replace(str(synth_data), str(data)))
    broken.write_bytes(broken.read_bytes()[:64] + b"\0" * 2048)  # header survives, payload is garbage
    out = tmp_path / "out"
    argv = _bench_argv(tiny_model_dir, data, out, wheel_dir, "--batch-size", "2", "--num-workers", "1")
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "1 samples failed" in err and test_rows[1]["name"] in err and "Traceback" not in err
    (row,) = json.loads((out / "results.json").read_text())["datasets"]
    assert row["n"] == 4 and row["failed"] == 1 and row["missing"] == 0
    assert row["failures"][0]["name"] == test_rows[1]["name"] and broken.name in row["failures"][0]["error"]
    assert test_rows[1]["name"] in (out / "results.md").read_text()
    # The three good samples are cached; a rerun retries only the failed one.
    assert sorted(r["name"] for r in _cache_lines(out)) == sorted(
        r["name"] for i, r in enumerate(test_rows) if i != 1
    )
    counter = _CountingGenerate()
    monkeypatch.setattr(AffectGPTPipeline, "generate", lambda self, *a, **k: counter(self, *a, **k))
    assert main(argv) == 0 and counter.calls == 0  # it fails in decoding again, before generation

    # --fail-fast stops at it with a one-line error naming the file.
    assert main([*argv, "--fail-fast", "--out", str(tmp_path / "strict")]) == 2
    err = capsys.readouterr().err
    assert broken.name in err and "Traceback" not in err


def test_a_sample_that_breaks_generation_fails_alone(
    tiny_model_dir, synth_data, test_rows, wheel_dir, tmp_path, monkeypatch, capsys
):
    original = AffectGPTPipeline.generate
    bad = test_rows[2]["name"]

    calls = []

    def flaky(self, inputs, *args, **kwargs):
        calls.append(inputs["input_ids"].shape[0])
        if len(calls) in (2, 4):  # the second batch, then its second sample alone
            raise RuntimeError("CUDA out of memory (simulated)")
        return original(self, inputs, *args, **kwargs)

    monkeypatch.setattr(AffectGPTPipeline, "generate", flaky)
    out = tmp_path / "out"
    argv = _bench_argv(tiny_model_dir, synth_data, out, wheel_dir, "--batch-size", "2", "--num-workers", "0")
    assert main(argv) == 0
    assert calls == [2, 2, 1, 1]
    (row,) = json.loads((out / "results.json").read_text())["datasets"]
    assert row["failed"] == 1 and row["failures"] == [
        {"name": test_rows[3]["name"], "error": "CUDA out of memory (simulated)"}
    ]
    assert bad in {r["name"] for r in _cache_lines(out)}


def test_input_key_hashes_the_media_bytes_not_their_size_and_time(tmp_path):
    import os

    video = tmp_path / "clip.mp4"
    video.write_bytes(b"A" * 4096)
    clip = {"name": "clip", "video": str(video), "audio": None, "face": None, "subtitle": "hello"}
    key = bench.input_key(clip)
    stat = video.stat()
    video.write_bytes(b"B" * 4096)  # same size, and the same mtime restored: a re-encode copied over it
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert bench.input_key(clip) != key
    video.write_bytes(b"A" * 4096)
    assert bench.input_key(clip) == key  # content, not identity of the file
    assert bench.input_key({**clip, "subtitle": "hello!"}) != key
    assert bench.input_key({**clip, "audio": str(video)}) != key


# --- the report: per-sample predictions, per-emotion recall, several checkpoints, official outputs ---------


def test_predictions_file_per_emotion_recall_and_confusion(
    tiny_model_dir, synth_data, test_rows, wheel_dir, tmp_path
):
    out = tmp_path / "out"
    assert main(_bench_argv(tiny_model_dir, synth_data, out, wheel_dir, "--num-workers", "0")) == 0
    cached = {r["name"]: r["output"] for r in _cache_lines(out)}
    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [p["name"] for p in lines] == [r["name"] for r in test_rows]
    for line, row in zip(lines, test_rows):
        assert line["answer"] == cached[row["name"]] and line["reference"] == row["label"]
        assert isinstance(line["words"], list) and line["dataset"] == "synth-mer"
    report = json.loads((out / "results.json").read_text())
    recall = report["per_emotion"]["synth-mer"]
    scored = [p for p in lines if p["hit"] is not None]
    assert sum(v["n"] for v in recall.values()) == len(scored)
    for label, stats in recall.items():
        hits = [p["hit"] for p in scored if p["reference"] == label]
        assert stats["recall"] == pytest.approx(sum(hits) / len(hits))
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (out / "results.csv").open() as fh:
        row = next(csv.DictReader(fh))
    assert row["primary_pct"] == str(round(100 * report["datasets"][0]["primary"], 2))  # percent, rounded


def test_several_checkpoints_side_by_side(tiny_model_dir, synth_data, wheel_dir, tmp_path, capsys):
    import shutil

    first, second = tmp_path / "ckpt-a", tmp_path / "ckpt-b"
    shutil.copytree(tiny_model_dir, first)
    shutil.copytree(tiny_model_dir, second)
    out = tmp_path / "out"
    argv = _bench_argv(first, synth_data, out, wheel_dir, "--num-workers", "0")
    argv[argv.index(str(first)) + 1 : argv.index(str(first)) + 1] = [str(second)]  # --model A B
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert (
        "| dataset | ckpt-a | ckpt-b | best single (ckpt-a) | per-dataset best (official protocol) |"
        in printed
    )
    report = json.loads((out / "results.json").read_text())
    assert set(report["checkpoints"]) == {"ckpt-a", "ckpt-b"}
    assert set(report["protocol"]["checkpoints"]) == {"ckpt-a", "ckpt-b"}
    same = report["checkpoints"]["ckpt-a"]["datasets"] == report["checkpoints"]["ckpt-b"]["datasets"]
    assert same  # the same weights under two names: the same answers
    assert report["comparison"]["best_single"]["checkpoint"] == "ckpt-a"  # ties go to the first
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert {json.loads(line)["checkpoint"] for line in lines} == {"ckpt-a", "ckpt-b"}


def _official_dataset(shared_unibench_dir, tmp_path, dataset="mer2023"):
    """A local `dataset` test split whose clip names are the official outputs' and whose labels are drawn
    at random (the real labels belong to the dataset's licence): enough to check the scoring path."""
    import random

    from dataset_scripts.card import CardInfo
    from dataset_scripts.schema import make_row
    from dataset_scripts.writer import write_dataset
    from metrics.official_outputs import official_checkpoints, read_official_outputs

    folder = shared_unibench_dir / "official_outputs" / dataset
    names = sorted(read_official_outputs(official_checkpoints(folder)[0]).reasons)
    rng = random.Random(0)
    labels = {n: rng.choice(["worried", "happy", "neutral", "angry", "surprise", "sad"]) for n in names}
    rows = [make_row(n, source=dataset, split="test", label=labels[n]) for n in names]
    out = tmp_path / "unibench"
    write_dataset(
        out, {dataset: {"test": rows}}, CardInfo(title="t", license="other", summary="s"), progress=False
    )
    return out, labels


def test_score_only_rescores_the_official_outputs(shared_unibench_dir, wheel_dir, tmp_path, capsys):
    from affectgpt.bench.official import checkpoint_label
    from metrics.mer_unibench import hit_rate, parse_labels
    from metrics.official_outputs import official_checkpoints, read_official_outputs

    data, labels = _official_dataset(shared_unibench_dir, tmp_path)
    official = shared_unibench_dir / "official_outputs"
    out = tmp_path / "out"
    argv = ["bench", "--data", str(data), "--datasets", "mer2023", "--score-only", str(official)]
    assert main([*argv, "--extractor", "official", "--out", str(out), "--wheel-dir", str(wheel_dir)]) == 0
    report = json.loads((out / "results.json").read_text())
    expected = {}
    for file in official_checkpoints(official / "mer2023"):
        found = read_official_outputs(file)
        names = sorted(labels)
        words = [parse_labels(found.openset[n]) for n in names]
        expected[checkpoint_label(file.stem)] = hit_rate(
            words, [labels[n] for n in names], wheel_dir=wheel_dir
        )
    assert set(report["checkpoints"]) == set(expected)
    for name, want in expected.items():
        (got,) = report["checkpoints"][name]["datasets"]
        assert got["primary"] == pytest.approx(want["hit_rate"], abs=1e-12)
    best = max(expected, key=lambda k: expected[k]["hit_rate"])
    top = report["comparison"]["per_dataset_best"]["datasets"]["mer2023"]
    assert top["checkpoint"] == best and top["primary"] == pytest.approx(expected[best]["hit_rate"])
    assert "per-dataset best (official protocol)" in capsys.readouterr().out
    # Our own extractor on the official answers works the same way, no model loaded.
    assert main([*argv, "--out", str(tmp_path / "lexicon"), "--wheel-dir", str(wheel_dir)]) == 0


def test_official_extractor_needs_official_files(synth_data, tmp_path, capsys):
    argv = ["bench", "--data", str(synth_data), "--extractor", "official"]
    assert main(argv) == 2 and "give --score-only DIR" in capsys.readouterr().err
    peer = tmp_path / "peer.jsonl"
    peer.write_text('{"name": "a", "output": "happy"}\n')
    assert main([*argv, "--score-only", str(peer), "--datasets", "synth-mer"]) == 2
    assert "holds no official" in capsys.readouterr().err
