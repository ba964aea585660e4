"""`affectgpt describe` end to end on generated clips, through the real CLI entry point (in-process)."""

from __future__ import annotations

import json

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
    for record in records:
        assert set(record) >= {"name", "text", "emotions", "sentiment", "task"}
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
    assert out.startswith("== silent.mp4\n") and len(out.splitlines()) == 2  # header + the answer, no words
    assert "emotions:" not in out
    assert "no emotion words extracted" in err and "MER_UNIBENCH_WHEEL_DIR" in err


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
    assert main(["describe", str(corrupt_mp4), "--model", str(tiny_model_dir), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "corrupt.mp4" in err and "Traceback" not in err
