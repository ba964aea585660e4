"""The Space with a real AffectGPT model: a tiny random one loaded from AFFECTGPT_MODEL (the path a Space
deployment takes), and the embedded default `affectgpt-tiny-synth` when it is in the package."""

from __future__ import annotations

import pytest

from tests.test_space_support import load_app, serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A tiny random AffectGPT folder, made the way `affectgpt init DIR --preset tiny` makes it."""
    from affectgpt.cli import COMMANDS, main

    out = tmp_path_factory.mktemp("tiny-model") / "affectgpt-tiny"
    if "init" in COMMANDS:
        assert main(["init", str(out), "--preset", "tiny"]) == 0
    else:  # before `affectgpt init` exists: the same presets and processor API it uses
        from affectgpt.presets import build_model
        from processing import build_processor

        processor = build_processor()
        build_model("tiny", tokenizer=processor.tokenizer).save_pretrained(out)
        processor.save_pretrained(out)
    return out


def _call(url, clip, task="description", subtitle="", max_new_tokens=24):
    from gradio_client import Client, handle_file

    job = Client(url, verbose=False).submit(
        handle_file(str(clip)), subtitle, task, max_new_tokens, "greedy", api_name="/analyze"
    )
    return job.result(timeout=300), job.outputs()


def test_model_from_env_is_loaded_lazily_and_streams(
    tiny_model_dir, mp4_with_audio, mp4_no_audio, monkeypatch
):
    monkeypatch.setenv("AFFECTGPT_MODEL", str(tiny_model_dir))
    app = load_app()
    demo = app.build_app()  # nothing loaded yet: the first request loads AFFECTGPT_MODEL
    with serve(demo, app) as url:
        (text, _chips, _table, modalities, note), outputs = _call(url, mp4_with_audio)
        assert isinstance(text, str) and outputs  # random weights: any text, but through the real pipeline
        assert modalities == "**Modalities used:** audio, frames"
        (text, _chips, _table, modalities, note), _ = _call(url, mp4_no_audio, task="ovlabel")
        assert "no audio" in note and modalities == "**Modalities used:** frames"


def test_embedded_default_model_describes_a_clip():
    """The default model on a bundled held-out synthetic clip (a happy face, voice and subtitle)."""
    from affectgpt.commands.demo import CLIPS_DIR

    app = load_app()
    pipeline = app.load_pipeline()
    demo = app.build_app(pipeline)
    header = next(
        c for c in demo.get_config_file()["components"] if c["props"].get("elem_id") == "model-info"
    )
    params = sum(p.numel() for p in pipeline.model.parameters())
    assert (
        "affectgpt-tiny-synth" in header["props"]["value"]
        and f"{params / 1e6:.1f} M" in header["props"]["value"]
    )
    with serve(demo, app) as url:
        (text, chips, _table, _modalities, _note), _ = _call(
            url,
            CLIPS_DIR / "synth_00048.mp4",
            subtitle="Everything went perfectly today!",
            max_new_tokens=200,
        )
    assert text.strip()
    assert [c for c in chips or [] if c["class_or_confidence"]], f"no emotion word in {text!r}"
