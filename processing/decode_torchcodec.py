"""The optional decoder: torchcodec, used only when installed and asked for (`backend="torchcodec"`). It decodes
at full size and resizes with PIL bicubic, so its frames are close to the official ones, not equal (the PyAV
decoder is the one with pixel parity). torchcodec and PIL are imported inside the function (Hub custom code)."""

from __future__ import annotations

import numpy as np

from .audio_convert import to_mono_16k
from .media_sampling import sample_frame_indices
from .media_source import DecodedMedia, MediaError, open_source, source_name

__all__ = ["decode_torchcodec"]


def decode_torchcodec(
    source, num_frames: int, want_video: bool, want_audio: bool, frame_size
) -> DecodedMedia:
    try:
        from torchcodec.decoders import AudioDecoder, VideoDecoder
    except ImportError as error:
        raise ImportError("backend='torchcodec' needs the torchcodec package; use backend='pyav'") from error
    name = source_name(source)
    opened = open_source(source)
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
