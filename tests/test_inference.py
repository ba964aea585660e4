"""AffectGPTPipeline: batching, decoding, stop string, streaming, extraction and its errors."""

from __future__ import annotations

import pytest
import torch

from affectgpt.inference import (
    DEFAULT_MODEL_DIR,
    AffectGPTPipeline,
    PipelineError,
    load_extractor,
    normalize_clip,
)
from affectgpt.speedups import packable

MAX_NEW = 12


@pytest.fixture(scope="module")
def pipe(tiny_model_dir):
    return AffectGPTPipeline.from_pretrained(tiny_model_dir, device="cpu", extractor=False)


@pytest.fixture(scope="module")
def clips(clips_dir):
    # Mixed modalities and lengths, so the batch really is left padded.
    return [
        {"video": str(clips_dir["with_audio"]), "subtitle": "I am so happy for you, this is wonderful news."},
        {"video": str(clips_dir["no_audio"])},
        {"video": str(clips_dir["no_audio"]), "audio": str(clips_dir["wav"]), "subtitle": "Leave me alone."},
        {"audio": str(clips_dir["wav"]), "subtitle": "ok"},
    ]


def test_normalize_clip_names_missing_file(tmp_path):
    with pytest.raises(PipelineError, match="video file not found: .*nope.mp4"):
        normalize_clip(str(tmp_path / "nope.mp4"))
    with pytest.raises(PipelineError, match="at least one"):
        normalize_clip({"subtitle": None})
    with pytest.raises(PipelineError, match="unknown clip keys"):
        normalize_clip({"video": None, "subtitle": "x", "vid": 1})
    assert normalize_clip({"subtitle": "hi"})["name"] is None


def test_batched_equals_one_by_one_under_greedy(pipe, clips):
    batched = pipe(clips, batch_size=4, max_new_tokens=MAX_NEW)
    single = [pipe([clip], batch_size=1, max_new_tokens=MAX_NEW)[0] for clip in clips]
    assert [r.text for r in batched] == [r.text for r in single]
    # The fixture model is opinionated: answers are non-empty and differ between clips.
    texts = [r.text for r in batched]
    assert all(texts) and len(set(texts)) == len(texts)
    assert [r.name for r in batched] == ["talk", "silent", "silent", "voice"]


def test_a_pipeline_call_packs_the_cpu_head_once_with_the_plain_models_texts(pipe, clips, monkeypatch):
    """`__call__` runs all its batches inside one `fixed_weights()`: the packed lm_head is made once, and the
    texts equal the plain model's (speed-ups off)."""
    if not packable(pipe.model.lm_head):
        pytest.skip("this PyTorch build has no oneDNN linear")
    reorder = torch.ops.mkldnn._reorder_linear_weight
    made = []
    monkeypatch.setattr(torch.ops.mkldnn, "_reorder_linear_weight", lambda w: made.append(1) or reorder(w))
    fast = pipe(clips, batch_size=2, max_new_tokens=MAX_NEW)  # two batches
    assert len(made) == 1
    monkeypatch.setattr(pipe, "speedups", False)
    plain = pipe(clips, batch_size=2, max_new_tokens=MAX_NEW)
    assert len(made) == 1
    assert [r.text for r in fast] == [r.text for r in plain]


def test_official_decoding_is_seeded(pipe, clips):
    first = pipe(clips[:2], decoding="official", max_new_tokens=8, seed=7)
    again = pipe(clips[:2], decoding="official", max_new_tokens=8, seed=7)
    other = pipe(clips[:2], decoding="official", max_new_tokens=8, seed=8)
    assert [r.text for r in first] == [r.text for r in again]
    assert [r.text for r in first] != [r.text for r in other]


def test_generation_settings(pipe):
    official = pipe.generation_kwargs("official")
    assert (official["do_sample"], official["temperature"], official["top_p"]) == (True, 1.0, 0.9)
    assert official["max_new_tokens"] == 1200 and official["num_beams"] == 1
    greedy = pipe.generation_kwargs("greedy", max_new_tokens=5)
    assert greedy["do_sample"] is False and greedy["max_new_tokens"] == 5
    with pytest.raises(PipelineError, match="unknown decoding"):
        pipe.generation_kwargs("beam")
    with pytest.raises(PipelineError, match="unknown task"):
        pipe([{"subtitle": "x"}], task="caption")


@pytest.mark.parametrize(
    ("script", "kept"),
    [
        ([100, 151645, 100], 2),  # eos <|im_end|>
        ([100, 14374, 100], 2),  # "###"
        ([100, 565, 2, 100], 3),  # "##" "#"
        ([100, 2, 565, 100], 3),  # "#" "##"
        ([100, 16600, 100], 6),  # " ###" is not an official stop word: runs to max_new_tokens
    ],
)
def test_generation_stops_on_the_official_stop_words(pipe, clips, script, kept):
    from tests.conftest import scripted_logits

    _, inputs = pipe.encoder()(clips[:1])
    length = inputs["input_ids"].shape[1]
    kwargs = pipe.generation_kwargs("greedy", max_new_tokens=6, prompt_length=length)
    out = pipe.model.generate(**inputs, **kwargs, logits_processor=[scripted_logits(script, length)])
    assert out[0, length:].tolist() == (script + [script[-1]] * 6)[:kept]


def test_stream_is_cumulative_and_matches_batch(pipe, clips):
    pieces = list(pipe.stream(clips[0], max_new_tokens=MAX_NEW, timeout=60))
    assert pieces, "stream yielded nothing"
    assert all(later.startswith(earlier) for earlier, later in zip(pieces, pieces[1:]))
    assert pieces[-1] == pipe([clips[0]], max_new_tokens=MAX_NEW)[0].text


def test_stream_reraises_generation_errors(pipe, clips, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(pipe.model, "generate", broken)
    with pytest.raises(RuntimeError, match="boom"):
        list(pipe.stream(clips[1], max_new_tokens=4, timeout=30))


def test_extraction_with_wheel_files(pipe, clips, wheel_dir):
    extractor, note = load_extractor(wheel_dir)
    assert extractor is not None and note is None
    with_words = AffectGPTPipeline(pipe.model, pipe.processor, extractor=extractor)
    texts = ["She is not happy, rather angry and sad.", "The character's emotional state is joy."]
    words, sentiments = with_words.extract(texts)
    assert words == [["angry", "sad"], ["joy"]]
    assert sentiments == ["negative", "positive"]
    result = with_words(clips[:1], max_new_tokens=4)[0]
    assert isinstance(result.emotions, list) and result.sentiment in {"positive", "negative", "neutral"}
    assert result.note is None


def test_missing_wheel_files_explained(pipe, clips, tmp_path, monkeypatch):
    monkeypatch.setenv("MER_UNIBENCH_WHEEL_DIR", str(tmp_path))  # an empty folder beats every other source
    extractor, note = load_extractor()
    assert extractor is None and "format.csv" in note and "MER_UNIBENCH_WHEEL_DIR" in note
    without = AffectGPTPipeline(pipe.model, pipe.processor, extractor=None, extractor_note=note)
    result = without(clips[:1], max_new_tokens=4)[0]
    assert result.text and result.emotions is None and result.sentiment is None
    assert result.note == note


def test_model_errors(tmp_path, monkeypatch):
    with pytest.raises(PipelineError, match="not a model folder"):
        AffectGPTPipeline.from_pretrained(tmp_path)
    with pytest.raises(PipelineError, match="model folder not found"):
        AffectGPTPipeline.from_pretrained(tmp_path / "missing")
    monkeypatch.setattr("affectgpt.inference.DEFAULT_MODEL_DIR", tmp_path / "embedded")
    with pytest.raises(PipelineError, match="no default model yet"):
        AffectGPTPipeline.from_pretrained(None)
    assert DEFAULT_MODEL_DIR.name == "affectgpt-tiny-synth"


def test_hub_code_needs_an_opt_in_and_a_mistyped_folder_is_not_a_hub_id(tmp_path, monkeypatch, capsys):
    from affectgpt.inference import _resolve_model
    from affectgpt.remote_code import TRUST_REMOTE_CODE_ENV

    monkeypatch.delenv(TRUST_REMOTE_CODE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    # `runs/final` does not exist here: it reads like a Hub id, whose code would be downloaded and run.
    with pytest.raises(PipelineError, match="model folder not found: runs/final.*--trust-remote-code"):
        AffectGPTPipeline.from_pretrained("runs/final")
    # With the opt-in (flag or environment) it is a Hub id, and the user is told whose code runs.
    assert _resolve_model("runs/final", trust_remote_code=True) == (
        "runs/final",
        "downloading and running the model code of the Hub repo runs/final (remote code allowed)",
    )
    monkeypatch.setenv(TRUST_REMOTE_CODE_ENV, "1")
    with pytest.raises(PipelineError, match="cannot load model runs/final"):  # offline: nothing downloaded
        AffectGPTPipeline.from_pretrained("runs/final")
    assert "Hub repo runs/final" in capsys.readouterr().err
    monkeypatch.delenv(TRUST_REMOTE_CODE_ENV)

    # The embedded default runs our own copy (no note); a folder the user names runs its code, and says so.
    assert _resolve_model(None) == (str(DEFAULT_MODEL_DIR), None)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_text('{"auto_map": {"AutoModel": "modeling_x.Model"}}')
    assert _resolve_model(folder) == (str(folder), f"running the model code in {folder.resolve()}")
    # ... but a local config whose auto_map points at another repo's code pulls that code from the Hub.
    (folder / "config.json").write_text('{"auto_map": {"AutoModel": ["evil/repo--modeling_x.Model", null]}}')
    with pytest.raises(PipelineError, match="Hub repo\\(s\\) evil/repo; pass --trust-remote-code"):
        _resolve_model(folder)
    assert "evil/repo" in _resolve_model(folder, trust_remote_code=True)[1]


def test_an_unusable_device_is_a_one_line_error(monkeypatch):
    import torch

    from affectgpt.inference import _pick_device_dtype

    with pytest.raises(PipelineError, match="unknown device 'gpu0'"):
        _pick_device_dtype("gpu0", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(PipelineError, match="device cuda:7: this PyTorch build has no usable CUDA device"):
        _pick_device_dtype("cuda:7", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(PipelineError, match="only 2 CUDA device\\(s\\) here"):
        _pick_device_dtype("cuda:7", None)
    assert _pick_device_dtype("cpu", None) == (torch.device("cpu"), torch.float32)


def test_a_weight_file_cut_short_is_a_one_line_error(tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(PipelineError, match="cannot load model .*incomplete metadata"):
        AffectGPTPipeline.from_pretrained(folder, extractor=False)
