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
