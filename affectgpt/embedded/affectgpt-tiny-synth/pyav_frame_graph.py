"""Decoded PyAV frame -> upright RGB24 array, through the same FFmpeg filter graph as decord's
`VideoReader(path, width=224, height=224)`, so the frames are decord's bit for bit."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["FrameConverter"]


class FrameConverter:
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
