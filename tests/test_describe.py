"""`affectgpt describe` end to end on generated clips, through the real CLI entry point (in-process)."""

from __future__ import annotations

import json
import os
import shutil
import threading

import pytest

from affectgpt.cli import main


def test_json_with_audio_file_and_subtitle_file(tiny_model_dir, clips_dir, wheel_dir, capsys, monkeypatch):
    monkeypatch.setenv("MER_UNIBENCH_WHEEL_DIR", str(wheel_dir))
    argv = [
        "describe",
        str(clips_dir["with_audio"]),
        str(clips_dir["no_audio"]),
        "--model",
        str(tiny_model_dir),
    ]
    argv += ["--audio", str(clips_dir["wav"]), "--subtitle-file", str(clips_dir["subtitle"])]
    assert main([*argv, "--json", "--max-new-tokens", "6", "--device", "cpu"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["talk.mp4", "silent.mp4"]
    # The separate wav is the audio of both clips; the subtitle file is the subtitle of both.
    assert [r["modalities"] for r in records] == [["audio", "frames", "subtitle"]] * 2
    for record in records:
        assert set(record) >= {"name", "text", "emotions", "sentiment", "task", "modalities", "note", "error"}
        assert record["error"] is None and record["note"] is None
        assert record["text"] and isinstance(record["emotions"], list)
        assert record["sentiment"] in {"positive", "negative", "neutral"}
        assert record["task"] == "description"


def test_text_output_without_audio_and_without_wheel_files(
    tiny_model_dir, clips_dir, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("MER_UNIBENCH_WHEEL_DIR", str(tmp_path))  # empty: no emotion words possible
    argv = ["describe", str(clips_dir["no_audio"]), "--model", str(tiny_model_dir), "--task", "ovlabel"]
    assert main([*argv, "--subtitle", "Fine.", "--max-new-tokens", "6", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    # header, modalities, the answer; no emotion words
    assert out.startswith("== silent.mp4\nmodalities: frames, subtitle\n") and len(out.splitlines()) == 3
    assert "emotions:" not in out
    assert "no emotion words extracted" in err and "MER_UNIBENCH_WHEEL_DIR" in err
    assert "note: 1 clip(s) without audio (the no-audio prompt was used): silent.mp4" in err


def test_clear_errors(tiny_model_dir, clips_dir, tmp_path, capsys):
    video = str(clips_dir["no_audio"])
    cases = [
        (["describe", str(tmp_path / "missing.mp4")], "video file not found"),
        (["describe", video, "--audio", str(tmp_path / "x.wav")], "audio file not found"),
        (["describe", video, "--subtitle-file", str(tmp_path / "s.txt")], "subtitle file not found"),
        (["describe", video, "--model", str(tmp_path)], "not a model folder"),
        (["describe", video, "--model", str(tmp_path / "nowhere")], "model folder not found"),
        (["describe", video, "--model", str(tiny_model_dir), "--max-new-tokens", "0"], "--max-new-tokens"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)


def test_corrupt_video_is_a_clear_error(tiny_model_dir, corrupt_mp4, capsys):
    assert main(["describe", str(corrupt_mp4), "--model", str(tiny_model_dir), "--device", "cpu"]) == 1
    out, err = capsys.readouterr()
    assert "error: 1 of 1 clip(s) failed: corrupt.mp4 (" in err and "Traceback" not in err
    assert "== corrupt.mp4" in out and "\nerror: " in out


def _jsonl(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_one_bad_clip_keeps_every_other_answer(tiny_model_dir, clips_dir, corrupt_mp4, capsys):
    """The corrupt clip sits in the middle of one batch: the batch is retried clip by clip."""
    videos = [str(clips_dir["with_audio"]), str(corrupt_mp4), str(clips_dir["no_audio"])]
    argv = ["describe", *videos, "--model", str(tiny_model_dir), "--jsonl", "--max-new-tokens", "4"]
    assert main([*argv, "--device", "cpu", "--batch-size", "3"]) == 1  # finished, but not every clip
    out, err = capsys.readouterr()
    records = _jsonl(out)
    assert [r["name"] for r in records] == ["talk.mp4", "corrupt.mp4", "silent.mp4"]
    assert records[0]["text"] and records[2]["text"] and not records[0]["error"] and not records[2]["error"]
    assert records[1]["text"] is None and "corrupt.mp4" in records[1]["error"]
    assert "1 of 3 clip(s) failed: corrupt.mp4" in err


def _manifest_clips(tmp_path, clips_dir):
    """A manifest folder holding the clips, so the rows can name them relative to the manifest."""
    folder = tmp_path / "set"
    (folder / "media").mkdir(parents=True)
    for key in ("with_audio", "no_audio", "wav"):
        shutil.copy(clips_dir[key], folder / "media" / clips_dir[key].name)
    return folder


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_manifest_rows_carry_their_own_audio_and_subtitle(tiny_model_dir, clips_dir, tmp_path, capsys, kind):
    folder = _manifest_clips(tmp_path, clips_dir)
    rows = [
        {"video": "media/talk.mp4", "subtitle": "So happy for you!", "name": "first"},
        {"video": "media/silent.mp4", "audio": "media/voice.wav"},
        {"video": "media/silent.mp4"},
    ]
    manifest = folder / f"clips.{kind}"
    if kind == "csv":
        lines = ["video,audio,subtitle,name"]
        lines += [",".join(r.get(k, "") for k in ("video", "audio", "subtitle", "name")) for r in rows]
        manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = ["describe", "--manifest", str(manifest), "--model", str(tiny_model_dir), "--jsonl"]
    assert main([*argv, "--max-new-tokens", "4", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    records = _jsonl(out)
    assert [r["name"] for r in records] == ["first", "silent.mp4", "silent.mp4"]
    assert [r["modalities"] for r in records] == [
        ["audio", "frames", "subtitle"],
        ["audio", "frames"],
        ["frames"],
    ]
    assert records[2]["note"] == "no audio (the no-audio prompt was used); no subtitle"
    assert "note: 1 clip(s) without audio" in err and "note: 2 clip(s) without a subtitle" in err


def test_manifest_errors_name_the_line_and_column(tmp_path, capsys):
    (tmp_path / "a.mp4").write_bytes(b"x")
    cases = [
        ("m.csv", "video,subtitel\na.mp4,hi\n", "unknown column(s) ['subtitel']"),
        ("m.csv", "video,subtitle\na.mp4,hi\nb.mp4,ho\n", "m.csv:3: video file not found"),
        ("m.jsonl", '{"video": "a.mp4"}\n[1]\n', "m.jsonl:2: each line must be a JSON object"),
        ("m.jsonl", '{"video": "a.mp4"}\n{"video": 3}\n', "m.jsonl:2: video must be text"),
        ("m.jsonl", '{"subtitle": ""}\n', "m.jsonl:1: the row has no video, audio, face or subtitle"),
        ("m.txt", "a.mp4\n", "a manifest must be .csv or .jsonl"),
    ]
    for name, text, message in cases:
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert main(["describe", "--manifest", str(tmp_path / name)]) == 2, name
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (name, err)
    assert main(["describe", "--manifest", str(tmp_path / "m.jsonl"), "--subtitle", "x"]) == 2
    assert "apply to VIDEO arguments" in capsys.readouterr().err


def test_subtitle_file_must_be_a_small_regular_file(clips_dir, tmp_path, capsys):
    """A FIFO would block for ever, /dev/zero would fill memory, a directory gave a traceback."""
    video = str(clips_dir["no_audio"])
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (64 * 1024 + 1))
    cases = [(tmp_path, "subtitle file is a directory"), (big, "subtitle file is larger than 64 KiB")]
    if os.path.exists("/dev/zero"):
        cases.append(("/dev/zero", "subtitle file is not a regular file"))
    for path, message in cases:
        assert main(["describe", video, "--subtitle-file", str(path)]) == 2, path
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (path, err)

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    status = []
    worker = threading.Thread(
        target=lambda: status.append(main(["describe", video, "--subtitle-file", str(fifo)]))
    )
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # unblock the reader before failing, so the test run itself does not hang
        with open(fifo, "w"):
            pass
        worker.join()
        pytest.fail("--subtitle-file on a FIFO blocked")
    assert status == [2] and "subtitle file is not a regular file" in capsys.readouterr().err


def test_a_hub_model_runs_only_with_the_opt_in(clips_dir, tmp_path, capsys, monkeypatch):
    from affectgpt.remote_code import TRUST_REMOTE_CODE_ENV

    monkeypatch.delenv(TRUST_REMOTE_CODE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    argv = ["describe", str(clips_dir["with_audio"]), "--model", "someone/affect-model", "--device", "cpu"]
    assert main(argv) == 2
    assert "model folder not found: someone/affect-model" in capsys.readouterr().err
    # With the flag it is taken as a Hub repo (offline here, so loading it fails, but not as a missing folder).
    assert main([*argv, "--trust-remote-code"]) == 2
    err = capsys.readouterr().err
    assert "Hub repo someone/affect-model" in err and "model folder not found" not in err
