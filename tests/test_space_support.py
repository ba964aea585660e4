"""The Space's helpers (affectgpt/space_support.py) and the shared scaffolding of the Space tests: a pipeline
that follows the AffectGPTPipeline contract without a model, and a context manager serving an app."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

import pytest

from affectgpt import space_support as support

ANSWER = {
    "description": "The speaker smiles and sounds cheerful, so the person is happy and a little surprised.",
    "ovlabel": "The character's emotional state is happy, surprised.",
}


class FakePipeline:
    """Stands in for AffectGPTPipeline (docs/ARCHITECTURE.md, "Inference pipeline"): streams a fixed answer word
    by word, checks the clip like the real one, and records every call so tests can inspect the clip dicts."""

    def __init__(self, delay: float = 0.0, words=("happy", "surprised")):
        self.delay = delay
        self.words = list(words)
        self.calls: list[dict] = []
        self.extractor = None  # no wheel files involved: word_sectors gets wheel_dir=None
        self.extractor_note = None

    def stream(self, clip, task="description", decoding="greedy", max_new_tokens=None, timeout=120.0, seed=0):
        assert Path(clip["video"]).is_file(), "the app must hand over an existing file"
        self.calls.append(dict(clip, task=task, decoding=decoding, max_new_tokens=max_new_tokens))
        text = ""
        for piece in ANSWER[task].split(" "):
            text = f"{text} {piece}".strip()
            if self.delay:
                time.sleep(self.delay)
            yield text

    def extract(self, texts):
        return [list(self.words) for _ in texts], ["positive" for _ in texts]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_app():
    """space/app.py as a module, loaded by path the way `affectgpt space` does."""
    from affectgpt.commands.space import load_app_module

    return load_app_module()


@contextlib.contextmanager
def serve(demo, app_module):
    """Launch `demo` on 127.0.0.1 in a background thread; yield its URL; always close it."""
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **app_module.launch_kwargs(),
    )
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


# --- probe_video -------------------------------------------------------------------------------------------

MB = 2**20


def test_probe_accepts_a_clip_with_audio(mp4_with_audio):
    info = support.probe_video(mp4_with_audio, max_bytes=50 * MB, max_seconds=60)
    assert info.has_audio and (info.width, info.height) == (64, 48)
    assert 2.5 < info.duration < 3.5


def test_probe_reports_a_missing_audio_track(mp4_no_audio):
    assert support.probe_video(mp4_no_audio, max_bytes=50 * MB, max_seconds=60).has_audio is False


def test_probe_refuses_a_corrupt_file_with_a_friendly_message(corrupt_mp4):
    with pytest.raises(support.MediaError, match="could not be read as a video"):
        support.probe_video(corrupt_mp4, max_bytes=50 * MB, max_seconds=60)


def test_probe_refuses_text_renamed_to_mp4(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video at all\n" * 50)
    with pytest.raises(support.MediaError):
        support.probe_video(fake, max_bytes=50 * MB, max_seconds=60)


def test_probe_enforces_size_and_duration_limits(mp4_with_audio):
    with pytest.raises(support.MediaError, match="limit is"):
        support.probe_video(mp4_with_audio, max_bytes=1000, max_seconds=60)
    with pytest.raises(support.MediaError, match="lasts 3 s; the limit is 2 s"):
        support.probe_video(mp4_with_audio, max_bytes=50 * MB, max_seconds=2)


def test_probe_refuses_an_audio_only_file(wav_file):
    with pytest.raises(support.MediaError, match="no video track"):
        support.probe_video(wav_file, max_bytes=50 * MB, max_seconds=60)


# --- sectors, polarity, examples ------------------------------------------------------------------------------


def test_sector_polarity_follows_the_lexicon_extractor():
    assert support.sector_polarity("joy") == "positive"
    assert support.sector_polarity("fearful") == "negative"
    assert support.sector_polarity("surprised") == "other"
    assert support.sector_polarity(None) == "other"


def test_word_sectors_without_words_is_empty():
    assert support.word_sectors([]) == ([], None)


def test_bundled_example_clips_are_decodable_videos_with_subtitles():
    clips = support.example_clips(limit=2)
    assert len(clips) == 2  # the package bundles clips (affectgpt/embedded/clips)
    for clip, subtitle, truth in clips:
        assert "embedded" in clip.parts and subtitle and truth
        assert support.probe_video(clip, max_bytes=50 * MB, max_seconds=60).duration > 0


def test_generated_examples_live_in_a_private_temp_dir():
    """The fallback when a deployment ships no bundled clips."""
    clips = support._generate_clips(2)
    assert len(clips) == 2
    for clip, subtitle, truth in clips:
        assert Path(clip).parent.name.startswith("affectgpt-space-examples-") and subtitle
        assert truth in {"happy", "sad", "surprise", "angry", "worried"}
        assert os.access(clip, os.R_OK)
        assert support.probe_video(clip, max_bytes=50 * MB, max_seconds=60).duration > 0


def test_word_sectors_use_the_official_wheels(wheel_dir):
    rows, note = support.word_sectors(["happy", "worried", "not-an-emotion"], wheel_dir)
    assert note is None
    by_wheel = {(r["word"], r["wheel"]): r["sector"] for r in rows}
    assert by_wheel[("happy", "wheel 1")] == "happy" and by_wheel[("worried", "wheel 1")] == "scared"
    assert {r["word"] for r in rows} == {"happy", "worried"}  # unknown words map to nothing
    assert [r["wheel"] for r in rows if r["word"] == "happy"] == [f"wheel {i}" for i in range(1, 6)]


def test_word_sectors_without_wheel_files_explains_instead_of_failing(tmp_path):
    rows, note = support.word_sectors(["happy"], tmp_path)
    assert rows == [] and "emotion-wheel files are unavailable" in note


def test_model_summary_names_the_model_and_its_size():
    from affectgpt.presets import build_model

    class Loaded:
        source = "/models/my-affectgpt"
        model = build_model("tiny")

    params = sum(p.numel() for p in Loaded.model.parameters())
    line = support.model_summary(Loaded())
    assert line.startswith("**Model:** /models/my-affectgpt") and f"{params / 1e6:.1f} M parameters" in line
    assert "vision: " in line and "audio: " in line and "LLM: " in line
    assert "embedded demo model" in support.model_summary(None) and "first request" in support.model_summary(
        None
    )
