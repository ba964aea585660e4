"""Helpers for the Gradio Space that need the project's lower packages (the Space imports only `affectgpt`).

- `probe_video`: checks an upload (size, duration, decodable, audio track) before any GPU time is spent.
- `word_sectors`: emotion words -> level-1 sectors of the official emotion wheels, via `metrics`.
- `example_clips`: the bundled synthetic clips with their truth labels, or a few generated on the fly.
- `model_summary`: the loaded model's name, size and parts, for the page header.

Everything here degrades instead of failing: a Space without the wheel files still describes clips.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "ExampleClip",
    "MediaError",
    "VideoInfo",
    "example_clips",
    "model_summary",
    "probe_video",
    "sector_polarity",
    "wheel_count",
    "word_sectors",
]

_EMBEDDED_CLIPS = Path(__file__).resolve().parent / "embedded" / "clips"


class MediaError(ValueError):
    """An upload the app refuses; the message is shown to the user as is."""


@dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds; 0.0 when the container does not say and no frame carries a timestamp
    has_audio: bool
    width: int
    height: int
    size_bytes: int


def _duration(container, vstream) -> float:
    # Container duration is in microseconds; webcam WebM recordings often lack it, so fall back to the stream.
    if container.duration:
        return container.duration / 1_000_000
    if vstream.duration and vstream.time_base:
        return float(vstream.duration * vstream.time_base)
    return 0.0


def probe_video(path: str | Path, max_bytes: int, max_seconds: float) -> VideoInfo:
    """Open `path` with PyAV and decode one frame; raise `MediaError` with a user-facing message when the file
    is too large, too long, unreadable, or has no video stream."""
    import av

    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise MediaError(
            f"This file is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB. "
            "Trim the clip to the part you want analysed."
        )
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError("This file has no video track. Upload a video of a person (mp4, webm, mov).")
            vstream = container.streams.video[0]
            duration = _duration(container, vstream)
            if duration > max_seconds:
                raise MediaError(
                    f"This clip lasts {duration:.0f} s; the limit is {max_seconds:.0f} s. "
                    "AffectGPT samples 8 frames per clip, so a short clip around one utterance works best."
                )
            # A readable header is not enough: the corrupt uploads we see have a valid header and garbage after.
            frame = next(container.decode(video=0), None)
            if frame is None:
                raise MediaError("No frame of this video could be decoded. The file may be truncated.")
            return VideoInfo(
                duration=duration,
                has_audio=bool(container.streams.audio),
                width=frame.width,
                height=frame.height,
                size_bytes=size,
            )
    except MediaError:
        raise
    except (av.error.FFmpegError, StopIteration, UnicodeDecodeError, ValueError) as err:
        raise MediaError(
            "This file could not be read as a video (it may be corrupt or in an unsupported format). "
            "Try re-exporting it as mp4 (H.264 + AAC)."
        ) from err


# --- emotion words and wheel sectors ---------------------------------------------------------------------


# Polarity of the wheels' level-1 sectors, as the lexicon extractor's sentiment uses it (DESIGN §5).
_POSITIVE = {"happy", "joyful", "peaceful", "powerful", "joy", "genius"}
_NEGATIVE = {"mad", "angry", "sad", "scared", "fearful", "disgusted", "disgust", "anger", "fear", "bad"}


def sector_polarity(sector: str | None) -> str:
    """ "positive", "negative" or "other" (surprise, unmapped words) for colouring chips."""
    if sector in _POSITIVE:
        return "positive"
    if sector in _NEGATIVE:
        return "negative"
    return "other"


def wheel_count() -> int:
    """How many emotion wheels the metric has (5)."""
    from metrics.mer_unibench.wheel import NUM_WHEELS

    return NUM_WHEELS


def _sectors_of(words: list[str], wheel_dir) -> dict[str, dict[int, str | None]]:
    """word -> {wheel: level-1 sector or None}; the mapping itself is the metric's (DESIGN §5, G_w)."""
    from metrics.mer_unibench import load_wheels
    from metrics.mer_unibench.wheel import NUM_WHEELS

    if wheel_dir is None:  # same choice as the pipeline's extractor: env var, else the bundled table
        from affectgpt.wheel_source import find_wheel_dir

        wheel_dir, why = find_wheel_dir()
        if why is not None:
            raise FileNotFoundError(why)
    tables = load_wheels(wheel_dir)
    return {w: {k: tables.map_word(w, k) or None for k in range(1, NUM_WHEELS + 1)} for w in words}


def word_sectors(words: list[str], wheel_dir=None) -> tuple[list[dict], str | None]:
    """Rows `{"word", "wheel", "sector"}` (level-1 sector of each of the 5 official emotion wheels, sorted by
    wheel) and a note when no chart can be drawn (rows are then empty)."""
    if not words:
        return [], None
    try:
        mapping = _sectors_of(list(words), wheel_dir)
    except ImportError as err:  # metrics not installed: the words still show, only the chart is missing
        return [], f"No sector chart: the wheel mapping is unavailable ({err})."
    except (OSError, RuntimeError, ValueError) as err:  # no wheel files and no network to fetch them
        return [], f"No sector chart: the emotion-wheel files are unavailable ({err})."
    rows = [
        {"word": word, "wheel": f"wheel {wheel}", "sector": sector}
        for word in words
        for wheel, sector in sorted(mapping.get(word, {}).items())
        if sector
    ]
    return rows, None if rows else "None of these words lies on an emotion wheel."


# --- example clips ---------------------------------------------------------------------------------------

_EXAMPLE_SEED = 20250126
_TMP_LOCK = threading.Lock()
_GENERATED: list[ExampleClip] | None = None


class ExampleClip(NamedTuple):
    video: Path
    subtitle: str
    truth: str  # the emotion the synthetic clip was generated with, per cue when known


def _generate_clips(n: int) -> list[ExampleClip]:
    """A few synthetic clips in a private temp dir removed at exit, when none are bundled. A seed of their own
    keeps them out of any corpus the default model was trained on."""
    from dataset_scripts.synth_mer import plan_clips, synth_clip, write_clip_media

    out = Path(tempfile.mkdtemp(prefix="affectgpt-space-examples-"))
    atexit.register(shutil.rmtree, out, True)
    wanted = ("happy", "sad", "surprise", "angry", "worried")[:n]
    specs = {spec.emotion: spec for spec in reversed(plan_clips(24, seed=_EXAMPLE_SEED))}
    clips = []
    for emotion in wanted:
        clip = synth_clip(specs[emotion], seed=_EXAMPLE_SEED)
        path = out / f"synthetic_{emotion}.mp4"
        write_clip_media(clip, video_path=path)
        clips.append(ExampleClip(path, clip.subtitle, emotion))
    return clips


def example_clips(limit: int | None = None) -> list[ExampleClip]:
    """The bundled clips (`affectgpt/embedded/clips/clips.json`, all of them unless `limit`), else up to
    `limit` (default 4) generated ones, else none."""
    index = _EMBEDDED_CLIPS / "clips.json"
    if index.is_file():
        bundled = json.loads(index.read_text(encoding="utf-8"))
        return [
            ExampleClip(_EMBEDDED_CLIPS / c["video"], c.get("subtitle") or "", c.get("truth") or "unknown")
            for c in bundled[:limit]
        ]
    global _GENERATED
    with _TMP_LOCK:
        if _GENERATED is None:
            try:
                _GENERATED = _generate_clips(limit or 4)
            except (ImportError, AttributeError, KeyError, OSError, ValueError):
                _GENERATED = []  # the generator is optional for the Space: no examples rather than no app
        return list(_GENERATED[:limit])


# --- the loaded model -------------------------------------------------------------------------------------


def _size(count: int) -> str:
    if count >= 10**9:
        return f"{count / 1e9:.2f} B"
    return f"{count / 1e6:.1f} M"


def _part(config, layers_key: str = "num_hidden_layers") -> str | None:
    if config is None:
        return None
    kind = getattr(config, "model_type", None) or type(config).__name__
    hidden, layers = getattr(config, "hidden_size", None), getattr(config, layers_key, None)
    return f"{kind} (hidden {hidden}, {layers} layers)" if hidden and layers else kind


def model_summary(pipeline=None, source: str | None = None) -> str:
    """One Markdown line: which model answers, its parameter count and its three towers. Without a loaded
    model (it loads on the first request) only the name is known."""
    from affectgpt.inference import DEFAULT_MODEL_DIR

    source = str(getattr(pipeline, "source", None) or source or DEFAULT_MODEL_DIR)
    name = Path(source).name if Path(source).exists() else source
    if Path(source).resolve() == DEFAULT_MODEL_DIR.resolve():
        name = f"{name} (the embedded demo model, trained on synthetic clips only)"
    model = getattr(pipeline, "model", None)
    if model is None or not hasattr(model, "parameters"):
        return f"**Model:** {name}, loaded on the first request."
    params = sum(p.numel() for p in model.parameters())
    config = getattr(model, "config", None)
    parts = [
        f"{label}: {text}"
        for label, sub in (("vision", "vision_config"), ("audio", "audio_config"), ("LLM", "text_config"))
        if (text := _part(getattr(config, sub, None)))
    ]
    return f"**Model:** {name} · {_size(params)} parameters" + "".join(f" · {p}" for p in parts)
