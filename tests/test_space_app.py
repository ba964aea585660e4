"""The Gradio Space (space/app.py) served for real and called with gradio_client, with a contract-following
pipeline (no model weights needed): building offline, streaming, chips, errors, limits, temp files."""

from __future__ import annotations

import pytest

from tests.test_space_support import ANSWER, FakePipeline, load_app, serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_module():
    return load_app()


@pytest.fixture(scope="module")
def served(app_module, tmp_path_factory):
    """One app + client for the module (launching costs ~1 s); uploads land in a tmp dir we can inspect."""
    from gradio_client import Client

    tmp = tmp_path_factory.mktemp("space")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_TEMP_DIR", str(tmp / "uploads"))
        mp.setenv("GRADIO_EXAMPLES_CACHE", str(tmp / "examples"))
        pipeline = FakePipeline()
        demo = app_module.build_app(pipeline)
        with serve(demo, app_module) as url:
            yield {"client": Client(url, verbose=False), "pipeline": pipeline, "demo": demo, "tmp": tmp}


def _analyze(served, path, subtitle="", task="description", max_new_tokens=64, decoding="greedy"):
    from gradio_client import handle_file

    job = served["client"].submit(
        handle_file(str(path)), subtitle, task, max_new_tokens, decoding, api_name="/analyze"
    )
    return job.result(timeout=60), job.outputs()


def _table(html: str) -> dict[str, list[str]]:
    """The wheel table as {word: [sector on wheel 1..5]}, read back from its HTML."""
    import re

    rows = re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', html or "")
    return {word: re.findall(r"<td[^>]*>(.*?)</td>", cells) for word, cells in rows}


def _words(chips) -> list[str]:
    return [c["token"].split(" · ")[0] for c in chips or [] if c["class_or_confidence"] is not None]


def test_app_builds_without_network_or_model(app_module, monkeypatch):
    # Building must not load a model: a failing loader would raise here if it were called.
    monkeypatch.setattr(
        app_module, "load_pipeline", lambda *a, **k: pytest.fail("model loaded at build time")
    )
    demo = app_module.build_app()
    config = demo.get_config_file()
    video = next(c for c in config["components"] if c["type"] == "video")
    assert video["props"]["sources"] == ["upload", "webcam"]
    assert video["props"]["include_audio"] is True
    assert demo._queue.default_concurrency_limit == app_module.LIMITS["concurrency"] == 1
    assert demo.delete_cache is not None  # uploads are purged while running and at shutdown
    assert {"analyze"} <= {d.get("api_name") for d in config["dependencies"]}


def test_synthetic_examples_are_offered_with_their_truth_and_cached_lazily(app_module, tmp_path, monkeypatch):
    import json

    from affectgpt.commands.demo import CLIPS_DIR

    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path / "examples-cache"))
    demo = app_module.build_app(FakePipeline())
    config = demo.get_config_file()
    dataset = next(c for c in config["components"] if c["type"] == "dataset")
    bundled = json.loads((CLIPS_DIR / "clips.json").read_text())
    samples = dataset["props"]["samples"]
    assert len(samples) == len(bundled) == 4 and all(
        s[1] for s in samples
    )  # all bundled, each with its subtitle
    labels = dataset["props"]["sample_labels"]
    for clip, label in zip(bundled, labels):
        assert label.startswith(clip["name"]) and clip["truth"].split()[0] in label
        assert len(label) <= 60  # Gradio cuts longer labels with "..."
    assert not (tmp_path / "examples-cache").exists()  # lazy: nothing is run at start-up
    assert not [c for c in config["components"] if c["type"] in {"plot", "barplot"}]  # froze lazy examples


def test_describe_streams_text_and_returns_emotion_words(served, mp4_with_audio):
    (text, chips, _table_html, modalities, note), outputs = _analyze(
        served, mp4_with_audio, subtitle="  I did it!  "
    )
    assert text == ANSWER["description"]
    assert _words(chips) == ["happy", "surprised"]
    # Streamed: several growing partial answers before the final one.
    texts = [o[0] for o in outputs]
    assert len(texts) > 3 and all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    call = served["pipeline"].calls[-1]
    assert call["subtitle"] == "I did it!" and call["task"] == "description" and call["audio"] is None
    assert "no audio" not in note and not note
    assert modalities == "**Modalities used:** audio, frames, subtitle"


def test_wheel_table_has_one_row_per_word_and_one_cell_per_wheel(
    served, mp4_with_audio, wheel_dir, monkeypatch
):
    from affectgpt import space_support

    monkeypatch.setenv("MER_UNIBENCH_WHEEL_DIR", str(wheel_dir))
    (_text, chips, table, _modalities, _note), _ = _analyze(served, mp4_with_audio)
    expected, _ = space_support.word_sectors(["happy", "surprised"], wheel_dir)  # the metric's own mapping
    rows = _table(table)
    assert list(rows) == ["happy", "surprised"]
    for word, cells in rows.items():
        want = {r["wheel"]: r["sector"] for r in expected if r["word"] == word}
        assert cells == [want.get(f"wheel {k}", "—") for k in range(1, 6)]
    assert "<caption>" in table  # the table says what it shows
    assert [c["class_or_confidence"] for c in chips if c["class_or_confidence"]] == ["positive", "other"]


def test_emotion_word_task_and_advanced_settings_reach_the_pipeline(served, mp4_with_audio):
    (text, chips, _table_html, modalities, _note), _ = _analyze(
        served, mp4_with_audio, task="ovlabel", max_new_tokens=32, decoding="official"
    )
    assert modalities == "**Modalities used:** audio, frames"
    assert text == ANSWER["ovlabel"]
    call = served["pipeline"].calls[-1]
    assert (call["task"], call["decoding"], call["max_new_tokens"], call["subtitle"]) == (
        "ovlabel",
        "official",
        32,
        None,
    )
    assert _words(chips)


def test_corrupt_upload_gives_a_friendly_error_and_the_app_keeps_serving(
    served, corrupt_mp4, mp4_with_audio, capfd
):
    from gradio_client.exceptions import AppError

    calls = len(served["pipeline"].calls)
    capfd.readouterr()
    with pytest.raises(AppError, match="could not be read as a video"):
        _analyze(served, corrupt_mp4)
    assert len(served["pipeline"].calls) == calls  # refused before any model time was spent
    logs = capfd.readouterr()
    assert "Traceback" not in logs.out + logs.err  # the visitor's input, not an app failure
    (text, *_), _ = _analyze(served, mp4_with_audio)
    assert text == ANSWER["description"]


def test_clip_without_audio_runs_in_audio_missing_mode(served, mp4_no_audio):
    (text, _chips, _table_html, modalities, note), _ = _analyze(served, mp4_no_audio)
    assert text and modalities == "**Modalities used:** frames"
    assert (
        note
        == "This clip has no audio (the no-audio prompt was used), no subtitle: the answer cannot be about it."
    )


def test_duration_limit_is_enforced_with_a_message(served, app_module, mp4_with_audio, monkeypatch):
    from gradio_client.exceptions import AppError

    monkeypatch.setitem(app_module.LIMITS, "max_seconds", 1)
    with pytest.raises(AppError, match="limit is 1 s"):
        _analyze(served, mp4_with_audio)


def test_generation_timeout_becomes_a_friendly_error(served, mp4_with_audio, monkeypatch):
    from gradio_client.exceptions import AppError

    def stuck(*args, **kwargs):
        raise TimeoutError("no new text within 0.1 s")
        yield  # pragma: no cover - makes this a generator like the real stream

    monkeypatch.setattr(served["pipeline"], "stream", stuck)
    with pytest.raises(AppError, match="took too long"):
        _analyze(served, mp4_with_audio)


def test_missing_extractor_shows_text_and_says_why(served, mp4_with_audio, monkeypatch):
    monkeypatch.setattr(served["pipeline"], "extract", lambda texts: ([None], [None]))
    monkeypatch.setattr(served["pipeline"], "extractor_note", "wheel files not found", raising=False)
    (text, chips, _table_html, _modalities, note), _ = _analyze(served, mp4_with_audio)
    assert text and not _words(chips) and "wheel files not found" in note


def test_uploads_are_deleted_when_the_server_stops(app_module, mp4_with_audio, tmp_path, monkeypatch):
    from gradio_client import Client, handle_file

    uploads = tmp_path / "uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    demo = app_module.build_app(FakePipeline())
    with serve(demo, app_module) as url:
        client = Client(url, verbose=False)
        client.predict(handle_file(str(mp4_with_audio)), "", "description", 16, "greedy", api_name="/analyze")
        assert list(uploads.rglob(mp4_with_audio.name)), "the upload should be cached while serving"
    # The user's upload is gone; only Gradio's copies of the example clips stay cached (they are the app's).
    examples = {clip.video.name for clip in app_module.support.example_clips()}
    left = [p for p in uploads.rglob("*") if p.is_file() and p.name not in examples]
    assert not left


def test_space_command_parses_and_hands_its_options_to_the_app(monkeypatch):
    from affectgpt import cli
    from affectgpt.commands import space

    seen = {}

    class FakeApp:
        @staticmethod
        def main(**kwargs):
            seen.update(kwargs)

    monkeypatch.setattr(space, "load_app_module", lambda: FakeApp)
    assert cli.main(["space", "--model", "some/dir", "--host", "0.0.0.0", "--port", "7861"]) == 0
    assert seen == {"model": "some/dir", "host": "0.0.0.0", "port": 7861, "share": False}
    assert cli.main(["space", "--port", "70000"]) == 2  # a one-line error, not a traceback
    assert space.APP_PATH.is_file()


def test_uploads_are_deleted_when_the_app_gets_sigterm(mp4_with_audio, tmp_path):
    """`docker stop`, systemd and Spaces stop the app with SIGTERM; it must purge uploads as Ctrl-C does."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from gradio_client import Client, handle_file

    from affectgpt import space_support
    from tests.conftest import REPO_ROOT
    from tests.test_space_support import free_port

    uploads, port = tmp_path / "uploads", free_port()
    env = dict(os.environ, GRADIO_TEMP_DIR=str(uploads), GRADIO_EXAMPLES_CACHE=str(tmp_path / "examples"))
    env.pop("AFFECTGPT_MODEL", None)  # the embedded default: small, offline
    argv = [sys.executable, "-m", "affectgpt", "space", "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the app did not start"
                time.sleep(0.5)
        client = Client(url, verbose=False)
        client.predict(handle_file(str(mp4_with_audio)), "", "description", 16, "greedy", api_name="/analyze")
        assert list(uploads.rglob(mp4_with_audio.name)), "the upload should be cached while serving"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    examples = {clip.video.name for clip in space_support.example_clips()}
    left = [p for p in uploads.rglob("*") if p.is_file() and p.name not in examples]
    assert not left, left
