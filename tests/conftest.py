"""Offline environment and generated media for every test.

The environment variables are set at import time, before any Hugging Face library reads them."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

_CACHE = Path(tempfile.mkdtemp(prefix="affectgpt-test-hf-"))
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ.update(
    HF_HUB_OFFLINE="1",
    HF_EVALUATE_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    HF_HUB_DISABLE_TELEMETRY="1",
    GRADIO_ANALYTICS_ENABLED="False",
    HF_HOME=str(_CACHE / "home"),
    HF_DATASETS_CACHE=str(_CACHE / "datasets"),
    HF_EVALUATE_CACHE=str(_CACHE / "evaluate"),
    HF_MODULES_CACHE=str(_CACHE / "modules"),
    TOKENIZERS_PARALLELISM="false",
    WANDB_DISABLED="true",
)
# Under pytest-xdist (`make test`: one worker per core) each worker, and every subprocess it starts, computes on
# one thread: torch's default of one thread per core per worker oversubscribes the cores (measured on 2 cores:
# 259 s with the default, 230 s with one thread each, 359 s without workers).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _shared_unibench_dir() -> Path:
    env = os.environ.get("MER_UNIBENCH_SHARED_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "mer_unibench"


def _need(path: Path, what: str) -> Path:
    """Fail under CI (the files must be there), skip elsewhere, always saying why."""
    if path.exists():
        return path
    message = f"{what} not found at {path} (set MER_UNIBENCH_SHARED_DIR / MER_UNIBENCH_WHEEL_DIR)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_unibench_dir() -> Path:
    """../shared/mer_unibench: the official wheel files and the official scorer's golden outputs."""
    return _need(_shared_unibench_dir(), "official MER-UniBench test data")


def _official_wheel_dir() -> Path:
    env = os.environ.get("MER_UNIBENCH_WHEEL_DIR")
    return Path(env) if env else _shared_unibench_dir() / "emotion_wheel"


@pytest.fixture(scope="session")
def official_wheel_dir() -> Path:
    """The official emotion-wheel files themselves (for tests about reading or checking those files)."""
    return _need(_official_wheel_dir(), "official emotion-wheel files")


@pytest.fixture(scope="session")
def wheel_dir(tmp_path_factory) -> Path:
    """A wheel source for `wheel_dir=` / --wheel-dir / MER_UNIBENCH_WHEEL_DIR: the official files when present,
    else the bundled table written out as a table .json (equal to the official files: test_wheel_table.py)."""
    official = _official_wheel_dir()
    if official.exists():
        return official
    from metrics.mer_unibench.build_table import render_table
    from metrics.mer_unibench.wheel import bundled_table

    path = tmp_path_factory.mktemp("wheel-table") / "wheel_table.json"
    path.write_text(render_table(bundled_table()), encoding="utf-8")
    return path


# The tiny preset at test-only input sizes, for tests of the model where the real sizes are not the point:
# 32x32 frames (4 CLIP patches instead of 49), 4 frames and 4 audio clips of 0.1 s (1,600 samples instead of
# 32,000) per sample. Pass to `build_model("tiny", **TINY_TEST_MODEL)`; `tiny_test_media` makes matching inputs.
TINY_TEST_MODEL = {
    "vision_config": {"image_size": 32, "patch_size": 16},
    "num_frames": 4,
    "num_audio_clips": 4,
}
TINY_TEST_AUDIO_SAMPLES = 1600


def tiny_test_media(batch: int, seed: int = 0, audio_scale: float = 1.0) -> dict:
    """Random `pixel_values_videos` (B, 4, 3, 32, 32) and `input_features` (B, 4, 1600) for TINY_TEST_MODEL."""
    import torch

    g = torch.Generator().manual_seed(seed)
    side = TINY_TEST_MODEL["vision_config"]["image_size"]
    frames, clips = TINY_TEST_MODEL["num_frames"], TINY_TEST_MODEL["num_audio_clips"]
    return {
        "pixel_values_videos": torch.randn(batch, frames, 3, side, side, generator=g),
        "input_features": torch.randn(batch, clips, TINY_TEST_AUDIO_SAMPLES, generator=g) * audio_scale,
    }


def make_frames(n: int, height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """(n, H, W, 3) uint8 frames whose content changes with the frame index (so sampled frames differ)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    ramp = (np.arange(n, dtype=np.int64) * 255 // max(n - 1, 1)).astype(np.uint8)
    frames = np.repeat(base[None], n, axis=0)
    frames[:, : height // 2] = ramp[:, None, None, None]  # top half encodes the frame index
    return frames


def scripted_logits(tokens: list[int], prompt_length: int):
    """A LogitsProcessor that makes `generate` emit `tokens` (the last one repeated): stop rules become testable
    on any model, whatever its weights would say."""
    import torch
    from transformers import LogitsProcessor

    class _Scripted(LogitsProcessor):
        def __call__(self, input_ids, scores):
            step = min(input_ids.shape[1] - prompt_length, len(tokens) - 1)
            forced = torch.full_like(scores, float("-inf"))
            forced[:, tokens[step]] = 0.0
            return forced

    return _Scripted()


def save_tiny_parts(root: Path) -> dict[str, str]:
    """Random pretrained-style folders of the tiny preset's CLIP vision tower, audio tower and causal LM (seed 5),
    as `--vision/--audio/--llm` take them: {"vision": path, "audio": path, "llm": path}."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, CLIPVisionModelWithProjection

    from affectgpt.presets import build_config

    tiny = build_config("tiny")
    torch.manual_seed(5)
    parts = {
        "vision": CLIPVisionModelWithProjection(tiny.vision_config),
        "audio": AutoModel.from_config(tiny.audio_config),
        "llm": AutoModelForCausalLM.from_config(tiny.text_config),
    }
    for name, part in parts.items():
        part.save_pretrained(root / name)
    return {name: str(root / name) for name in parts}


def make_tone(seconds: float, sample_rate: int = 16000, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate)), dtype=np.float32) / sample_rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def mp4_with_audio(media_dir) -> Path:
    """3 s, 25 fps, 64x48 H.264 with a mono 16 kHz AAC tone."""
    from dataset_scripts.media_writer import write_mp4

    return write_mp4(media_dir / "with_audio.mp4", make_frames(75), fps=25, audio=make_tone(3.0))


@pytest.fixture(scope="session")
def mp4_no_audio(media_dir) -> Path:
    from dataset_scripts.media_writer import write_mp4

    return write_mp4(media_dir / "no_audio.mp4", make_frames(50, seed=1), fps=25)


@pytest.fixture(scope="session")
def wav_file(media_dir) -> Path:
    from dataset_scripts.media_writer import write_wav

    return write_wav(media_dir / "tone.wav", make_tone(3.0))


@pytest.fixture(scope="session")
def corrupt_mp4(media_dir, mp4_with_audio) -> Path:
    """An mp4 whose header survives but whose payload is garbage."""
    data = bytearray(mp4_with_audio.read_bytes())
    path = media_dir / "corrupt.mp4"
    path.write_bytes(bytes(data[:64]) + os.urandom(2048))
    return path


# Shared by the inference, describe and bench tests (session-scoped: built once per test process).


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A float32 tiny AffectGPT folder (model + processor) that gives different answers for different clips.

    At its random initialisation the tiny preset answers every prompt with the same token (its residual stream
    is dominated by the last input embedding, tied to the output head), which would make "batched ==
    one-by-one" trivially true; the language-model weights are redrawn with a larger spread, so answers differ
    from clip to clip and position/padding bugs change them."""
    import torch

    from affectgpt.presets import build_model
    from processing import build_processor

    out = tmp_path_factory.mktemp("affectgpt-tiny") / "tiny"
    # 4 frames and 4 audio clips per sample (half the tower work); the processor's 224x224 frames are fixed.
    counts = {key: TINY_TEST_MODEL[key] for key in ("num_frames", "num_audio_clips")}
    model = build_model("tiny", dtype=torch.float32, **counts)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim == 2 and "language_model" in name:
                std = 1.0 if "embed" in name else 0.5
                param.copy_(torch.randn(param.shape, generator=generator) * std)
    model.save_pretrained(out)
    build_processor(**counts).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    """A small synth-mer dataset (20 clips, test split = 4) written by the project's own build command."""
    from affectgpt.cli import main

    out = tmp_path_factory.mktemp("affectgpt-synth") / "synth"
    argv = ["build-dataset", "synth-mer", "--out", str(out), "--num-clips", "20"]
    assert main([*argv, "--num-workers", "1", "--no-progress", "--seed", "3"]) == 0
    return out


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory) -> dict[str, Path]:
    """Two mp4 clips (with / without an audio track), a wav and a subtitle file."""
    from dataset_scripts.media_writer import write_mp4, write_wav

    root = tmp_path_factory.mktemp("affectgpt-clips")
    subtitle = root / "subtitle.txt"
    subtitle.write_text("I can't believe you did this for me!\n", encoding="utf-8")
    return {
        "with_audio": write_mp4(
            root / "talk.mp4", make_frames(60, seed=2), fps=25, audio=make_tone(2.4, freq=330)
        ),
        "no_audio": write_mp4(root / "silent.mp4", make_frames(40, seed=3), fps=25),
        "wav": write_wav(root / "voice.wav", make_tone(3.0, freq=180)),
        "subtitle": subtitle,
    }
