"""Media decoding for AffectGPT: 8 frames, the audio track and face crops, sampled exactly as the official code.

PyAV (FFmpeg bundled in its wheels) is the default: frames and the audio track of a file are read in ONE open, the
video decoder is threaded and stops after the last sampled frame (later video packets are demuxed but never
decoded). torchcodec is used only when installed and asked for. Optional imports live inside functions so this
file can be copied next to the model files as Hub custom code.

Every step reproduces the official readers (decord frames, cv2 face resize, torchaudio load + resample,
pytorchvideo clip windows), measured in docs/ARCHITECTURE.md "Media preprocessing". Longer than our usual
~400 lines: it is all media reading (sampling rules, two FFmpeg backends, two hand-written kernels: torchaudio's
resampler and OpenCV's bilinear resize); a split would add one more Hub-copied module for little gain.
"""

from __future__ import annotations

import bisect
import io
import os
import sys
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "TARGET_SAMPLE_RATE",
    "CLIP_SECONDS",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MediaError",
    "DecodedMedia",
    "sample_frame_indices",
    "audio_clip_bounds",
    "split_audio_clips",
    "resample_sinc_hann",
    "to_mono_16k",
    "decode_media",
    "load_audio",
    "load_faces",
    "resize_linear_cv2",
    "sample_frames",
    "source_name",
]

TARGET_SAMPLE_RATE = 16000  # HuBERT's rate
CLIP_SECONDS = 2.0
# Rates outside this range are not audio we can meaningfully resample (and usually a units mistake).
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384000
_MAX_CHANNELS = 16


class MediaError(ValueError):
    """A media input that cannot be used; the message names the file."""


@dataclass
class DecodedMedia:
    """What one open of a media file gives: sampled frames and/or the 16 kHz mono audio track."""

    frames: np.ndarray | None  # (num_frames, H, W, 3) uint8, or None when no video was read
    audio: np.ndarray | None  # (N,) float32 at 16 kHz, or None when the file has no audio track
    total_frames: int = 0  # frames in the video stream (what the sampling indices were computed from)


def source_name(source: Any) -> str:
    """A human-readable name for error messages."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, dict):
        return str(source.get("path") or "<bytes>")
    return str(getattr(source, "name", None) or f"<{type(source).__name__}>")


# --------------------------------------------------------------------------- sampling rules (official)


def sample_frame_indices(num_total: int, num_frames: int = 8) -> np.ndarray:
    """First frame of each of `min(num_frames, n)` equal segments, last index repeated up to `num_frames`.

    Official: `indices = np.arange(0, n, n / min(num_frames, n)).astype(int)`, then padded with the last index."""
    if num_total <= 0:
        raise ValueError(f"cannot sample frames from a video with {num_total} frames")
    count = min(num_frames, num_total)
    indices = np.arange(0, num_total, num_total / count).astype(int)[:count]
    if len(indices) < num_frames:
        indices = np.concatenate([indices, np.full(num_frames - len(indices), indices[-1])])
    return indices


def audio_clip_bounds(
    num_samples: int,
    num_clips: int = 8,
    sample_rate: int = TARGET_SAMPLE_RATE,
    clip_seconds: float = CLIP_SECONDS,
) -> list[tuple[int, int]]:
    """[start, end) sample bounds of `num_clips` clips after zero-padding to >= one clip.

    Official (pytorchvideo 0.1.5 `ConstantClipsPerVideoSampler` inside the official `load_audio`): with D the padded
    duration in seconds as a Python float, `s_k = Fraction(max(D - clip, 0)) / num_clips * k` (divided by
    num_clips, not num_clips - 1, so the last clip ends before the end), bounds `int(s_k * rate)` and
    `int((s_k + clip) * rate)`. The exact Fraction matters: float arithmetic lands one sample off (5.3 s: clip 1
    starts at 6599, not 6600)."""
    clip_len = int(round(clip_seconds * sample_rate))
    duration = max(num_samples, clip_len) / sample_rate
    step = Fraction(max(duration - clip_seconds, 0)) / num_clips
    clip = Fraction(clip_seconds)
    return [(int(step * k * sample_rate), int((step * k + clip) * sample_rate)) for k in range(num_clips)]


def split_audio_clips(
    waveform: np.ndarray,
    num_clips: int = 8,
    sample_rate: int = TARGET_SAMPLE_RATE,
    clip_seconds: float = CLIP_SECONDS,
) -> np.ndarray:
    """(num_clips, clip_seconds*sample_rate) float32 clips of a 16 kHz mono waveform (zero-padded to >= 1 clip)."""
    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    clip_len = int(round(clip_seconds * sample_rate))
    bounds = audio_clip_bounds(len(waveform), num_clips, sample_rate, clip_seconds)
    padded = np.zeros(max(len(waveform), bounds[-1][1], clip_len), dtype=np.float32)
    padded[: len(waveform)] = waveform
    return np.stack([padded[start : start + clip_len] for start, _ in bounds])


def sample_frames(frames: np.ndarray, num_frames: int = 8, name: str = "frames") -> np.ndarray:
    """Apply the 8-index rule to already-decoded (T, H, W, 3) frames (videos given as arrays, face crops)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise MediaError(f"{name}: expected (T, H, W, 3) frames, got shape {frames.shape}")
    if frames.shape[0] == 0 or frames.shape[1] == 0 or frames.shape[2] == 0:
        raise MediaError(f"{name}: zero-length or empty frames {frames.shape}")
    if frames.dtype != np.uint8:
        if np.issubdtype(frames.dtype, np.floating) and frames.size and float(np.nanmax(frames)) <= 1.0:
            frames = frames * 255.0  # floats in [0, 1]
        frames = np.clip(np.nan_to_num(frames), 0, 255).astype(np.uint8)
    return frames[sample_frame_indices(frames.shape[0], num_frames)]


# --------------------------------------------------------------------------- audio conversion


def _int_to_float(audio: np.ndarray) -> np.ndarray:
    """Integer PCM -> float32 in [-1, 1) as soundfile (the official torchaudio backend) reads it: signed samples
    divided by 2**(bits - 1) (int16 / 32768), unsigned 8-bit centred on 128."""
    if audio.dtype == np.uint8:
        return (audio.astype(np.float32) - 128.0) / 128.0
    return audio.astype(np.float32) / float(-np.iinfo(audio.dtype).min)


def resample_sinc_hann(
    waveform: np.ndarray,
    orig_freq: int,
    new_freq: int = TARGET_SAMPLE_RATE,
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
) -> np.ndarray:
    """`torchaudio.functional.resample(waveform, orig_freq, new_freq)` (default sinc_interp_hann kernel) in plain
    torch, float32, over the last axis.

    Written out because the official loader resamples with torchaudio and torchaudio cannot be a dependency here
    (its wheels pin matching CUDA torch builds). Same kernel, padding, strided convolution and output length as
    torchaudio's `_get_sinc_resample_kernel` / `_apply_sinc_resample_kernel`, so the result agrees to float32
    rounding."""
    import math

    import torch

    if orig_freq == new_freq:
        return np.asarray(waveform, dtype=np.float32)
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    base_freq = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base_freq)
    dtype = torch.float32
    idx = torch.arange(-width, width + orig, dtype=dtype)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=dtype)[:, None, None] / new + idx
    t *= base_freq
    t = t.clamp_(-lowpass_filter_width, lowpass_filter_width)
    window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t *= math.pi
    kernel = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernel *= window * (base_freq / orig)

    tensor = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))
    shape = tensor.shape
    tensor = tensor.reshape(-1, shape[-1])
    length = tensor.shape[-1]
    padded = torch.nn.functional.pad(tensor, (width, width + orig))
    with torch.no_grad():
        out = torch.nn.functional.conv1d(padded[:, None], kernel, stride=orig)
    out = out.transpose(1, 2).reshape(tensor.shape[0], -1)
    target_length = math.ceil(new * length / orig)
    out = out[..., :target_length].reshape(*shape[:-1], -1)
    return out.numpy()


def to_mono_16k(waveform: np.ndarray, sample_rate: int, name: str = "audio") -> np.ndarray:
    """(N,), (channels, N) or (N, channels) audio at `sample_rate` -> (N',) float32 mono at 16 kHz.

    Integer PCM is scaled as the official reader does (int16 / 32768). ALL channels are averaged (the official
    code averages only 2-channel audio and would pass a 6-channel file on unaveraged: a deliberate improvement);
    resampling is the official torchaudio kernel (`resample_sinc_hann`). The official code resamples each channel
    and then averages; resampling is linear, so averaging first gives the same result to float32 rounding and
    resamples once."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        if isinstance(sample_rate, float) and sample_rate.is_integer():
            sample_rate = int(sample_rate)
        else:
            raise MediaError(f"{name}: unsupported sampling rate {sample_rate!r} (need an integer in Hz)")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise MediaError(
            f"{name}: unsupported sampling rate {sample_rate} Hz (supported {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE})"
        )
    audio = np.asarray(waveform)
    if np.issubdtype(audio.dtype, np.integer):
        audio = _int_to_float(audio)
    audio = audio.astype(np.float32, copy=False)
    if audio.ndim == 2:
        # PyAV/torch give (channels, N), soundfile (N, channels): channels are the small axis, first preferred.
        if audio.shape[0] <= _MAX_CHANNELS:
            audio = audio[0] if audio.shape[0] == 1 else audio.mean(axis=0)
        elif audio.shape[1] <= _MAX_CHANNELS:
            audio = audio[:, 0] if audio.shape[1] == 1 else audio.mean(axis=1)
        else:
            raise MediaError(f"{name}: cannot tell the channel axis of audio shaped {audio.shape}")
    elif audio.ndim != 1:
        raise MediaError(f"{name}: audio must be 1-D or 2-D, got shape {audio.shape}")
    audio = np.nan_to_num(audio)
    if sample_rate != TARGET_SAMPLE_RATE and audio.size:
        audio = resample_sinc_hann(audio, sample_rate, TARGET_SAMPLE_RATE)
    return np.ascontiguousarray(audio, dtype=np.float32)


def _audio_frame_to_array(frame) -> np.ndarray:
    """A PyAV AudioFrame -> (channels, n) float32."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:  # packed: (1, n*channels), interleaved
        data = data.reshape(-1, channels).T
    if np.issubdtype(data.dtype, np.integer):
        data = _int_to_float(data)
    return data.astype(np.float32, copy=False)


# --------------------------------------------------------------------------- PyAV decoding


def _warn_short(name: str, readable: int, declared: int) -> None:
    """A file cut short whose index (moov at the front) still lists every frame: the frames are sampled from what
    is there, which is a different clip than the full file, so say so."""
    warnings.warn(
        f"{name}: the container declares {declared} video frames but only {readable} could be read "
        "(file cut short?); the 8 frames are sampled from the readable part",
        RuntimeWarning,
        stacklevel=4,
    )


def _open_source(source: Any):
    """Normalise a path / file-like / bytes / datasets dict into something `av.open` takes, checking paths."""
    if isinstance(source, dict):  # datasets Video/Audio(decode=False) rows
        if source.get("bytes") is not None:
            return io.BytesIO(source["bytes"])
        source = source.get("path")
        if source is None:
            raise MediaError("media dict has neither 'bytes' nor 'path'")
    if isinstance(source, (bytes, bytearray)):
        return io.BytesIO(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"media file not found: {path}")
        return str(path)
    if hasattr(source, "read"):
        return source
    raise MediaError(f"unsupported media source of type {type(source).__name__}")


def _in_dataloader_worker() -> bool:
    """True inside a torch DataLoader worker (checked without importing torch)."""
    data = sys.modules.get("torch.utils.data")
    try:
        return data is not None and data.get_worker_info() is not None
    except Exception:  # an unexpected torch version: fall back to threaded decoding
        return False


def _count_video_frames(container, stream) -> int:
    """Frames in the stream: the container's count when it has one, else count packets (no decoding)."""
    if stream.frames and stream.frames > 0:
        return int(stream.frames)
    count = sum(1 for packet in container.demux(stream) if packet.size)
    container.seek(0)
    return count


class _FrameConverter:
    """Decoded frame -> upright RGB24 array, the way decord's `VideoReader(path, width=224, height=224)` makes it.

    decord pushes each frame through an FFmpeg filter graph `scale=W:H` -> buffersink(rgb24), i.e. ONE swscale
    pass from YUV to RGB with the scale filter's default flags of its FFmpeg 4.1, `bilinear` (later FFmpeg
    defaults to bicubic). Building the same graph in PyAV reproduces its frames bit for bit (checked on the official
    demo clip and on 64x48 .. 1920x1080 clips); `frame.to_ndarray(width=, height=, interpolation="BILINEAR")` does
    not (up to 9 grey levels off: PyAV's reformatter passes other swscale flags). A display-matrix rotation is
    applied first, as decord and the ffmpeg CLI do (`transpose` / `hflip,vflip` before `scale`)."""

    def __init__(self, frame_size: tuple[int, int] | None):
        self.frame_size = frame_size
        self._graph = None
        self._key = None

    def __call__(self, frame) -> np.ndarray:
        quarter_turns = int(round((getattr(frame, "rotation", 0) or 0) / 90)) % 4
        if self.frame_size is None and quarter_turns == 0:
            return frame.to_ndarray(format="rgb24")
        key = (frame.width, frame.height, frame.format.name, quarter_turns)
        if key != self._key:
            self._graph, self._key = self._build(frame, quarter_turns), key
        self._graph.push(frame)
        return self._graph.pull().to_ndarray()

    def _build(self, frame, quarter_turns: int):
        import av

        graph = av.filter.Graph()
        # One thread: scaling to 224x224 is too small to gain from slice threads, and FFmpeg's default (one per
        # core, in every graph) oversubscribes the cores when DataLoader workers decode in parallel.
        graph.threads = 1
        chain = [
            graph.add_buffer(
                width=frame.width,
                height=frame.height,
                format=frame.format,
                time_base=frame.time_base or Fraction(1, 1000),  # a label only: these filters ignore time
            )
        ]
        # `rotation` is counter-clockwise degrees (FFmpeg's av_display_rotation_get), as the ffmpeg CLI reads it.
        rotate = {
            1: [("transpose", "cclock")],
            2: [("hflip", ""), ("vflip", "")],
            3: [("transpose", "clock")],
        }
        for name, args in rotate.get(quarter_turns, []):
            chain.append(graph.add(name, args))
        if self.frame_size is not None:
            height, width = self.frame_size
            chain.append(graph.add("scale", f"{width}:{height}:flags=bilinear"))
        chain.append(graph.add("format", "rgb24"))
        chain.append(graph.add("buffersink"))
        for upstream, downstream in zip(chain, chain[1:]):
            upstream.link_to(downstream)
        graph.configure()
        return graph


def _video_index(container, stream) -> tuple[list[int], list[int]] | None:
    """Presentation-ordered pts of every video packet and the frame indices of keyframes (demux only, no
    decoding). None when timestamps are missing: then only a sequential pass is safe."""
    pts, key_pts = [], []
    for packet in container.demux(stream):
        if not packet.size:
            continue
        if packet.pts is None:
            container.seek(0)
            return None
        pts.append(packet.pts)
        if packet.is_keyframe:
            key_pts.append(packet.pts)
    container.seek(0)
    pts.sort()
    keys = sorted({bisect.bisect_left(pts, p) for p in key_pts})
    return pts, keys


def _seek_plan_cost(targets: list[int], keys: list[int]) -> int:
    """Frames decoded when jumping to the keyframe before each target whenever that skips frames."""
    position, cost = -1, 0
    for target in targets:
        k = bisect.bisect_right(keys, target) - 1
        start = keys[k] if k >= 0 and keys[k] > position + 1 else position + 1
        cost += target - start + 1
        position = target
    return cost


def _decode_seeking(container, stream, pts, keys, wanted, convert, found) -> int:
    """Decode the wanted frames by seeking to the keyframe before each one when that skips frames (short GOPs:
    far fewer frames decoded than one sequential pass). Returns the number of frames decoded."""
    position, decoded = -1, 0
    for target in sorted(wanted):
        if target <= position:
            continue
        k = bisect.bisect_right(keys, target) - 1
        if k >= 0 and keys[k] > position + 1:
            container.seek(pts[keys[k]], stream=stream, backward=True, any_frame=False)
        else:
            container.seek(pts[position + 1] if position >= 0 else pts[0], stream=stream, backward=True)
        done = False
        for packet in container.demux(stream):
            for frame in packet.decode():
                if frame.pts is None:
                    continue
                index = bisect.bisect_left(pts, frame.pts)
                decoded += 1
                if index in wanted and index not in found:
                    found[index] = convert(frame)
                if index >= target:
                    position, done = index, True
                    break
            if done:
                break
        if not done:  # ran out of frames
            break
    return decoded


def _decode_pyav(
    source, num_frames: int, want_video: bool, want_audio: bool, frame_size, seek: str = "auto"
) -> DecodedMedia:
    import av

    name = source_name(source)
    opened = _open_source(source)
    try:
        container = av.open(opened, mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise MediaError(f"{name}: unreadable or corrupt media file ({error})") from error
    try:
        vstream = container.streams.video[0] if (want_video and container.streams.video) else None
        astream = container.streams.audio[0] if (want_audio and container.streams.audio) else None
        if want_video and vstream is None:
            raise MediaError(f"{name}: no video stream in this file (video is required)")
        wanted: dict[int, list[int]] = {}
        total = 0
        index = None
        if vstream is not None:
            vstream.thread_type = "AUTO"  # frame + slice threads
            if _in_dataloader_worker():
                # Parallelism already comes from the worker processes: threads per worker would oversubscribe.
                vstream.codec_context.thread_count = 1
            index = _video_index(container, vstream) if seek != "never" else None
            total = len(index[0]) if index is not None else _count_video_frames(container, vstream)
            if total == 0:
                raise MediaError(f"{name}: zero-length video (no frames)")
            if index is not None and 0 < total < (vstream.frames or 0):
                _warn_short(name, total, vstream.frames)
            for slot, frame_index in enumerate(sample_frame_indices(total, num_frames)):
                wanted.setdefault(int(frame_index), []).append(slot)
        last_wanted = max(wanted) if wanted else -1
        found: dict[int, np.ndarray] = {}
        convert = _FrameConverter(frame_size)
        audio_chunks: list[np.ndarray] = []
        audio_rate = astream.rate if astream is not None else None
        next_index = 0
        use_seek = (
            index is not None
            and seek in ("auto", "always")
            and (seek == "always" or _seek_plan_cost(sorted(wanted), index[1]) < 0.7 * (last_wanted + 1))
        )
        if use_seek:
            next_index = _decode_seeking(container, vstream, index[0], index[1], wanted, convert, found)
            if astream is not None:
                container.seek(0)
        streams = [s for s in ((None if use_seek else vstream), astream) if s is not None]
        for packet in container.demux(*streams) if streams else ():
            if packet.stream is vstream:
                if next_index > last_wanted:
                    if astream is None:
                        break  # nothing else to read
                    continue  # never decode past the last sampled frame
                for frame in packet.decode():
                    if next_index in wanted:
                        found[next_index] = convert(frame)
                    next_index += 1
            else:
                for frame in packet.decode():
                    audio_chunks.append(_audio_frame_to_array(frame))
                    audio_rate = frame.sample_rate or audio_rate
    except av.error.FFmpegError as error:
        raise MediaError(f"{name}: unreadable or corrupt media file ({error})") from error
    finally:
        container.close()

    frames: list[np.ndarray | None] = [None] * num_frames
    for frame_index, slots in wanted.items():
        for slot in slots:
            frames[slot] = found.get(frame_index)

    video = None
    if vstream is not None:
        if next_index == 0:
            raise MediaError(f"{name}: zero-length video (no decodable frames)")
        # Container frame counts can overstate what decodes (truncated files): reuse the last decoded frame.
        last = (
            next(f for f in reversed(frames) if f is not None) if any(f is not None for f in frames) else None
        )
        if last is None:
            raise MediaError(f"{name}: none of the sampled frames could be decoded")
        if any(f is None for f in frames):
            _warn_short(name, next_index, total)
        filled, previous = [], None
        for image in frames:
            previous = image if image is not None else (previous if previous is not None else last)
            filled.append(previous)
        video = np.stack(filled)
    audio = None
    if astream is not None and audio_chunks:
        samples = np.concatenate(audio_chunks, axis=1)
        # Every decoded sample is kept, AAC end padding included, as the ffmpeg CLI extracts audio: the official
        # demo WAV is exactly that (its 55,357 samples are the mp4 track's 152,576 at 16 kHz; trimming to the
        # stream duration shortens the clip, shifts the 8 windows and decorrelates the HuBERT input).
        audio = to_mono_16k(samples, int(audio_rate), name)
    return DecodedMedia(frames=video, audio=audio, total_frames=total)


# --------------------------------------------------------------------------- torchcodec (optional)


def _decode_torchcodec(
    source, num_frames: int, want_video: bool, want_audio: bool, frame_size
) -> DecodedMedia:
    try:
        from torchcodec.decoders import AudioDecoder, VideoDecoder
    except ImportError as error:
        raise ImportError("backend='torchcodec' needs the torchcodec package; use backend='pyav'") from error
    name = source_name(source)
    opened = _open_source(source)
    video = None
    total = 0
    if want_video:
        try:
            decoder = VideoDecoder(opened, dimension_order="NHWC")
        except Exception as error:  # torchcodec raises RuntimeError/ValueError for bad files
            raise MediaError(f"{name}: unreadable media or no video stream ({error})") from error
        total = int(decoder.metadata.num_frames or 0)
        if total == 0:
            raise MediaError(f"{name}: zero-length video (no frames)")
        batch = decoder.get_frames_at(sample_frame_indices(total, num_frames).tolist()).data.numpy()
        video = batch
        if frame_size is not None:
            from PIL import Image

            video = np.stack(
                [
                    np.asarray(Image.fromarray(f).resize(frame_size[::-1], Image.Resampling.BICUBIC))
                    for f in batch
                ]
            )
    audio = None
    if want_audio:
        if hasattr(opened, "seek"):
            opened.seek(0)
        try:
            samples = AudioDecoder(opened).get_all_samples()
            audio = to_mono_16k(samples.data.numpy(), int(samples.sample_rate), name)
        except Exception:  # torchcodec has no cheap "has audio" query: no audio stream = missing audio
            audio = None
    return DecodedMedia(frames=video, audio=audio, total_frames=total)


# --------------------------------------------------------------------------- public entry points


def decode_media(
    source: Any,
    num_frames: int = 8,
    want_video: bool = True,
    want_audio: bool = True,
    frame_size: tuple[int, int] | None = (224, 224),
    backend: str = "pyav",
    seek: str = "auto",
) -> DecodedMedia:
    """Decode `num_frames` sampled frames and/or the 16 kHz mono audio track of one media file in one open.

    `source`: path, file-like, bytes, or a datasets `{"path", "bytes"}` dict. `frame_size` (H, W) squashes frames
    during colour conversion, as the official decord reader does; `None` keeps the native size. A file with no
    audio track gives `audio=None` (missing, never noise). `seek`: "auto" jumps to the keyframe before a sampled
    frame when that decodes far fewer frames than one pass (short GOPs), "never" always decodes sequentially up
    to the last sampled frame (with the audio in the same pass), "always" forces seeking."""
    if backend == "pyav":
        return _decode_pyav(source, num_frames, want_video, want_audio, frame_size, seek)
    if backend == "torchcodec":
        return _decode_torchcodec(source, num_frames, want_video, want_audio, frame_size)
    raise ValueError(f"unknown media backend {backend!r}; expected 'pyav' or 'torchcodec'")


def load_audio(source: Any, backend: str = "pyav") -> np.ndarray | None:
    """An audio source -> (N,) float32 mono 16 kHz. `source` is a file (wav, mp3, an mp4's track, ...) or a
    `(waveform, sampling_rate)` pair. Returns None for a media file without an audio track."""
    if isinstance(source, tuple):
        if len(source) != 2:
            raise MediaError(f"audio tuple must be (waveform, sampling_rate), got {len(source)} items")
        waveform, rate = source
        return to_mono_16k(waveform, rate, "audio array")
    if isinstance(source, np.ndarray):
        raise MediaError("a bare audio array needs its sampling rate: pass (waveform, sampling_rate)")
    return decode_media(source, want_video=False, want_audio=True, backend=backend).audio


def resize_linear_cv2(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """`cv2.resize(image, (width, height))` (default INTER_LINEAR) of a (H, W, C) uint8 image, bit for bit.

    Written out so that face crops get the official resize without making OpenCV a dependency. OpenCV's 8-bit
    path: horizontal pass in int32 with 11-bit weights, then the vertical pass of its SIMD kernel
    (`VResizeLinearVec_32s8u`: rows >> 4, 16-bit high multiply by the weight, sum, round with (+2) >> 2). Its
    scalar tail rounds differently, but a 224-wide 3-channel row (672 values) is a whole number of 16- and 32-lane
    SIMD blocks, so for the 224x224 faces the SIMD formula is the one that applies (tests compare with cv2)."""
    image = np.asarray(image)
    src_h, src_w = image.shape[:2]
    ys0, ys1, yb0, yb1 = _axis_taps(src_h, height, clamp_weights=False)
    xs0, xs1, xa0, xa1 = _axis_taps(src_w, width, clamp_weights=True)
    rows = image.astype(np.int32)
    horizontal = rows[:, xs0] * xa0[None, :, None] + rows[:, xs1] * xa1[None, :, None]  # (H, width, C)
    top, bottom = horizontal[ys0] >> 4, horizontal[ys1] >> 4
    mixed = ((top * yb0[:, None, None]) >> 16) + ((bottom * yb1[:, None, None]) >> 16)
    return np.clip((mixed + 2) >> 2, 0, 255).astype(np.uint8)


def _axis_taps(src: int, dst: int, clamp_weights: bool):
    """Source indices and 11-bit weights of OpenCV's INTER_LINEAR along one axis: `f = (d + 0.5) * src/dst - 0.5`
    in float32, `s = floor(f)`, weights `saturate_cast<short>((1 - frac) * 2048)` and `(frac * 2048)`, each
    rounded on its own. Columns clamp out-of-range taps to the edge with weight (2048, 0); rows keep the weights
    and clamp the row index (both as OpenCV does; the results agree)."""
    f = ((np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5).astype(np.float32)
    start = np.floor(f).astype(np.int64)
    frac = (f - start.astype(np.float32)).astype(np.float32)
    if clamp_weights:
        edge = (start < 0) | (start >= src - 1)
        frac[edge] = 0
        start = np.clip(start, 0, src - 1)
    w0 = np.rint((np.float32(1) - frac) * np.float32(2048)).astype(np.int32)
    w1 = np.rint(frac * np.float32(2048)).astype(np.int32)
    return np.clip(start, 0, src - 1), np.clip(start + 1, 0, src - 1), w0, w1


def load_faces(source: Any, num_frames: int = 8, size: tuple[int, int] | None = None) -> np.ndarray:
    """Face crops as a `.npy` path or array (T, H, W, 3) -> (num_frames, H, W, 3) uint8 by the 8-index rule.

    `size` (H, W) resizes each sampled crop as the official `load_face` does (`cv2.resize`, bilinear; here
    `resize_linear_cv2`, the same pixels without OpenCV)."""
    name = source_name(source) if not isinstance(source, np.ndarray) else "face array"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"face file not found: {path}")
        try:
            source = np.load(path, allow_pickle=False)  # never unpickle user files
        except (ValueError, OSError) as error:
            raise MediaError(f"{name}: unreadable face .npy file ({error})") from error
    crops = sample_frames(np.asarray(source), num_frames, name)
    if size is None or crops.shape[1:3] == tuple(size):
        return crops
    return np.stack([resize_linear_cv2(crop, *size) for crop in crops])
