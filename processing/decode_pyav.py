"""The default decoder: PyAV (FFmpeg bundled in its wheels). Frames and the audio track of a file are read in ONE
open; the video decoder is threaded and stops after the last sampled frame (later video packets are demuxed but
never decoded), or seeks to keyframes when that decodes far fewer frames (`.pyav_seek_plan`). Frames go through
decord's filter graph (`.pyav_frame_graph`), audio through the official conversion (`.audio_convert`).
`av` is imported inside the function, as optional imports are in every file copied next to the model as Hub code."""

from __future__ import annotations

import sys
import warnings

import numpy as np

from .audio_convert import pcm_to_float, to_mono_16k
from .media_sampling import sample_frame_indices
from .media_source import DecodedMedia, MediaError, open_source, source_name
from .pyav_frame_graph import FrameConverter
from .pyav_seek_plan import decode_seeking, seeking_pays, video_index

__all__ = ["decode_pyav"]


def _audio_frame_to_array(frame) -> np.ndarray:
    """A PyAV AudioFrame -> (channels, n) float32."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:  # packed: (1, n*channels), interleaved
        data = data.reshape(-1, channels).T
    if np.issubdtype(data.dtype, np.integer):
        data = pcm_to_float(data)
    return data.astype(np.float32, copy=False)


def _warn_short(name: str, readable: int, declared: int) -> None:
    """A file cut short whose index (moov at the front) still lists every frame: the frames are sampled from what
    is there, which is a different clip than the full file, so say so."""
    warnings.warn(
        f"{name}: the container declares {declared} video frames but only {readable} could be read "
        "(file cut short?); the 8 frames are sampled from the readable part",
        RuntimeWarning,
        stacklevel=4,
    )


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


def decode_pyav(
    source, num_frames: int, want_video: bool, want_audio: bool, frame_size, seek: str = "auto"
) -> DecodedMedia:
    """`decode_media` with backend='pyav' (its docstring says what the arguments mean)."""
    import av

    name = source_name(source)
    opened = open_source(source)
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
            index = video_index(container, vstream) if seek != "never" else None
            total = len(index[0]) if index is not None else _count_video_frames(container, vstream)
            if total == 0:
                raise MediaError(f"{name}: zero-length video (no frames)")
            if index is not None and 0 < total < (vstream.frames or 0):
                _warn_short(name, total, vstream.frames)
            for slot, frame_index in enumerate(sample_frame_indices(total, num_frames)):
                wanted.setdefault(int(frame_index), []).append(slot)
        last_wanted = max(wanted) if wanted else -1
        found: dict[int, np.ndarray] = {}
        convert = FrameConverter(frame_size)
        audio_chunks: list[np.ndarray] = []
        audio_rate = astream.rate if astream is not None else None
        next_index = 0
        use_seek = (
            index is not None
            and seek in ("auto", "always")
            and (seek == "always" or seeking_pays(sorted(wanted), index[1]))
        )
        if use_seek:
            next_index = decode_seeking(container, vstream, index[0], index[1], wanted, convert, found)
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
