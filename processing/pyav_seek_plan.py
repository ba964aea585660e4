"""When and how the PyAV decoder seeks: a demux-only index of the video packets, the cost of jumping to the
keyframe before each sampled frame, and the seeking decode itself (short GOPs: far fewer frames decoded than one
sequential pass up to the last sampled frame)."""

from __future__ import annotations

import bisect

__all__ = ["video_index", "seek_plan_cost", "seeking_pays", "decode_seeking"]

# A seek flushes the decoder and re-reads from a keyframe, so only a clear saving is taken: the plan must decode
# under this share of the frames the sequential pass would.
_SEEK_GAIN = 0.7


def video_index(container, stream) -> tuple[list[int], list[int]] | None:
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


def seek_plan_cost(targets: list[int], keys: list[int]) -> int:
    """Frames decoded when jumping to the keyframe before each target whenever that skips frames."""
    position, cost = -1, 0
    for target in targets:
        k = bisect.bisect_right(keys, target) - 1
        start = keys[k] if k >= 0 and keys[k] > position + 1 else position + 1
        cost += target - start + 1
        position = target
    return cost


def seeking_pays(targets: list[int], keys: list[int]) -> bool:
    """Whether seeking to the sorted `targets` decodes clearly fewer frames than one pass up to the last one."""
    return seek_plan_cost(targets, keys) < _SEEK_GAIN * (targets[-1] + 1)


def decode_seeking(container, stream, pts, keys, wanted, convert, found) -> int:
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
