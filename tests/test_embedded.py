"""The embedded default model (issue 11): a real trained folder inside the package, small enough to commit,
loadable with no project code, and good enough on held-out synthetic clips that `make demo` shows real work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from affectgpt.commands.demo import CLIPS_DIR
from affectgpt.inference import DEFAULT_MODEL_DIR

MB = 1 << 20


def test_folder_is_a_complete_small_save_pretrained_folder():
    files = {p.name: p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir() if p.is_file()}
    for name in ("config.json", "model.safetensors", "tokenizer.json", "processor_config.json", "README.md"):
        assert name in files, name
    assert any(name.startswith("modeling_affectgpt") for name in files)  # flat custom code
    assert sum(files.values()) <= 40 * MB, files
    assert max(files.values()) <= 30 * MB, files
    config = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())
    assert {"AutoConfig", "AutoModelForImageTextToText", "AutoProcessor"} <= set(config["auto_map"])
    card = (DEFAULT_MODEL_DIR / "README.md").read_text()
    assert "affectgpt train --config recipes/tiny-synth.yaml" in card and "synthetic" in card.lower()


def test_bundled_clips_describe_with_the_default_model(wheel_dir, monkeypatch):
    from affectgpt.inference import AffectGPTPipeline

    monkeypatch.setenv("MER_UNIBENCH_WHEEL_DIR", str(wheel_dir))
    clips = json.loads((CLIPS_DIR / "clips.json").read_text())
    pipe = AffectGPTPipeline.from_pretrained()  # None = the embedded default
    inputs = [
        {"name": c["name"], "video": str(CLIPS_DIR / c["video"]), "subtitle": c["subtitle"]} for c in clips
    ]
    described = pipe(inputs, task="description")
    labelled = pipe(inputs, task="ovlabel")
    assert all(r.text for r in described)
    assert all(r.text.startswith("The character's emotional state is") for r in labelled)
    # Words, not fake output: the extractor finds wheel words in what the model wrote.
    assert sum(bool(r.emotions) for r in described + labelled) >= len(clips)


@pytest.mark.slow
def test_demo_runs_end_to_end(wheel_dir, tmp_path, monkeypatch):
    """`affectgpt demo` = describe the bundled clips + bench the held-out synthetic test split."""
    monkeypatch.setenv("MER_UNIBENCH_WHEEL_DIR", str(wheel_dir))
    monkeypatch.setenv("AFFECTGPT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "affectgpt", "demo", "--out", str(out), "--limit", "36"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "synth_00048" in done.stdout and "description:" in done.stdout
    results = json.loads((out / "results.json").read_text())
    assert (out / "results.md").exists() and (out / "results.png").exists()
    row = next(r for r in results["datasets"] if r["dataset"] == "synth-mer")
    # The model card measures HIT 87.1 / sentiment weighted-F1 90.9 on all 300 test clips; 36 are noisier.
    assert row["metrics"]["hit_rate"] >= 0.75 and row["metrics"]["weighted_f1"] >= 0.75, row


def test_custom_code_copies_match_the_source():
    """The folder runs its own copy of our code (trust_remote_code): a change to modeling_affectgpt/ or
    processing/ must be re-saved into it with `make sync-embedded`, or the default model drifts."""
    from tests.conftest import REPO_ROOT

    copies = sorted(DEFAULT_MODEL_DIR.glob("*.py"))
    assert copies
    for copy in copies:
        sources = [REPO_ROOT / pkg / copy.name for pkg in ("modeling_affectgpt", "processing")]
        source = next(p for p in sources if p.exists())
        assert copy.read_text() == source.read_text(), (
            f"{copy} differs from {source}: run `make sync-embedded` to re-save the embedded model"
        )


def test_folder_holds_every_sibling_the_hub_code_imports():
    """The media code is split into flat siblings (`.media` -> `.decode_pyav` -> ...): each one the processor or
    the model reaches must travel into the folder, or loading it with trust_remote_code fails on a user's machine."""
    from transformers.dynamic_module_utils import get_relative_import_files

    from tests.conftest import REPO_ROOT

    needed = set()
    for entry in (
        REPO_ROOT / "processing" / "processing_affectgpt.py",
        REPO_ROOT / "modeling_affectgpt" / "modeling_affectgpt.py",
    ):
        needed |= {entry.name} | {Path(p).name for p in get_relative_import_files(str(entry))}
    assert {"media.py", "decode_pyav.py", "pyav_seek_plan.py", "decode_torchcodec.py"} <= needed
    missing = sorted(needed - {p.name for p in DEFAULT_MODEL_DIR.glob("*.py")})
    assert not missing, f"{missing} missing from {DEFAULT_MODEL_DIR}: run `make sync-embedded`"


def test_derived_files_match_the_code():
    """Tokenizer, token ids and stop settings of the folder are what the code builds (`make sync-embedded`)."""
    from transformers import AutoTokenizer

    from affectgpt.presets import TOKEN_IDS, generation_defaults
    from processing import build_qwen_tokenizer

    hint = "run `make sync-embedded` to re-save the embedded model"
    built, saved = build_qwen_tokenizer(), AutoTokenizer.from_pretrained(DEFAULT_MODEL_DIR)
    assert saved.get_vocab() == built.get_vocab(), hint
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        assert getattr(saved, name) == getattr(built, name), f"tokenizer {name}: {hint}"
    config = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())
    assert {k: config[k] for k in TOKEN_IDS} == TOKEN_IDS, hint
    generation = json.loads((DEFAULT_MODEL_DIR / "generation_config.json").read_text())
    expected = generation_defaults(built)
    assert generation["eos_token_id"] == expected.eos_token_id == [151645, 14374], hint
    assert generation["pad_token_id"] == expected.pad_token_id == 151645, hint


def test_loading_the_processor_prints_no_deprecation_warning():
    """transformers 5 warns on every load when a processor names its sub-processor classes by attribute."""
    code = (
        "from transformers import AutoProcessor; import sys; "
        f"p = AutoProcessor.from_pretrained({str(DEFAULT_MODEL_DIR)!r}, trust_remote_code=True); "
        "print(type(p.image_processor).__name__, type(p.feature_extractor).__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "deprecated" not in done.stderr, done.stderr
    assert done.stdout.split() == ["CLIPImageProcessorPil", "Wav2Vec2FeatureExtractor"]
