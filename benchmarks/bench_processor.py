"""Benchmark: AffectGPTProcessor (PyAV, one open) vs an official-style pipeline (decord), file -> model inputs.

Usage: .venv/bin/python benchmarks/bench_processor.py [--repeats 5] [--clips 12]

Prints ms per stage, per-clip latency and DataLoader throughput with 1 and 2 workers for 3-s and 30-s 25-fps
640x480 H.264+AAC clips, and peak memory. All numbers come from one run on the same machine, so ratios are fair.
The official-style pipeline follows the official code: decord `VideoReader(width=224, height=224).get_batch` of
the 8 indices, CLIP normalisation, decord audio at 16 kHz mono cut into 8 clips, each clip's mean removed, Wav2Vec2 feature extraction.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataset_scripts.media_writer import write_mp4  # noqa: E402
from processing import build_processor  # noqa: E402
from processing.media import decode_media, sample_frame_indices, split_audio_clips  # noqa: E402
from processing.prompts import OVLABEL_QUESTION, build_prompt  # noqa: E402

SUBTITLE = "I really did not expect to see you here today."


def moving_frames(n: int, height: int = 480, width: int = 640, seed: int = 0) -> np.ndarray:
    """(n, H, W, 3) uint8 view of a slowly scrolling textured image: realistic motion for the encoder, but only
    a few MB of memory (a plain 750x480x640x3 array would be 690 MB)."""
    rng = np.random.default_rng(seed)
    step = 2
    tall = rng.integers(0, 256, size=(height + n * step, width // 8, 3), dtype=np.uint8)
    tall = np.repeat(tall, 8, axis=1)  # 8-pixel-wide bars: compressible like real video, not like noise
    tall = np.ascontiguousarray(tall)
    s0, s1, s2 = tall.strides
    return np.lib.stride_tricks.as_strided(tall, shape=(n, height, width, 3), strides=(step * s0, s0, s1, s2))


def make_clip(directory: Path, seconds: int) -> Path:
    fps, rate = 25, 16000
    t = np.arange(seconds * rate, dtype=np.float32) / rate
    audio = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)
    return write_mp4(directory / f"clip_{seconds}s.mp4", moving_frames(seconds * fps), fps=fps, audio=audio)


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time in ms over `repeats` runs (after one warm-up) and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def cpu_ms(fn, repeats: int = 3) -> float:
    """Median process CPU time (user + sys, all threads) in ms: wall time is unreliable on shared cores."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


# --------------------------------------------------------------------------- official-style pipeline


def official_style(path: Path, processor) -> dict:
    import decord

    reader = decord.VideoReader(str(path), width=224, height=224, num_threads=0)
    frames = reader.get_batch(sample_frame_indices(len(reader)).tolist()).asnumpy()
    pixel_values = processor._pixel_values(frames)
    audio = decord.AudioReader(str(path), sample_rate=16000, mono=True)[:].asnumpy().reshape(-1)
    clips = split_audio_clips(audio)
    clips -= clips.mean(axis=1, keepdims=True)  # the official transform_audio's per-clip mean removal
    features = processor.feature_extractor(
        [clips.reshape(-1)], sampling_rate=16000, return_tensors="np"
    ).input_values.reshape(clips.shape)
    prompt = build_prompt(OVLABEL_QUESTION, has_video=True, has_audio=True, subtitle=SUBTITLE)
    ids = processor.tokenizer(prompt)["input_ids"]
    return {"pixel_values": pixel_values, "features": features, "ids": ids}


# --------------------------------------------------------------------------- DataLoader throughput


class ClipDataset:
    """Each item: one clip file -> BatchFeature (what a training/eval DataLoader worker does)."""

    def __init__(self, paths, processor):
        self.paths, self.processor = paths, processor

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return dict(self.processor(videos=[str(self.paths[index])], subtitles=[SUBTITLE], task="ovlabel"))


def _one_thread_per_worker(_):
    import torch

    torch.set_num_threads(1)


def throughput(paths, processor, workers: int) -> float:
    import torch

    loader = torch.utils.data.DataLoader(
        ClipDataset(paths, processor),
        batch_size=None,
        num_workers=workers,
        worker_init_fn=_one_thread_per_worker if workers else None,
        prefetch_factor=2 if workers else None,
        persistent_workers=bool(workers),
    )
    # Steady state: a first pass starts the worker processes (a one-off cost of a DataLoader, not per clip).
    sum(1 for _ in loader)
    start = time.perf_counter()
    count = sum(1 for _ in loader)
    return count / (time.perf_counter() - start)


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--clips", type=int, default=12, help="items per DataLoader throughput run (3-s clips)"
    )
    args = parser.parse_args()

    processor = build_processor()
    with tempfile.TemporaryDirectory(prefix="bench-processor-") as tmp:
        tmp = Path(tmp)
        clips = {seconds: make_clip(tmp, seconds) for seconds in (3, 30)}
        rows, cpu_rows = [], []
        for seconds, path in clips.items():
            frames_ms, media = timed(lambda p=path: decode_media(p, want_audio=False), args.repeats)
            audio_ms, audio = timed(lambda p=path: decode_media(p, want_video=False).audio, args.repeats)
            both_ms, _ = timed(lambda p=path: decode_media(p), args.repeats)
            image_ms, _ = timed(lambda f=media.frames: processor._pixel_values(f), args.repeats)
            feat_ms, _ = timed(lambda a=audio: processor._audio_features(a), args.repeats)
            prompt = build_prompt(OVLABEL_QUESTION, has_video=True, has_audio=True, subtitle=SUBTITLE)
            tok_ms, _ = timed(lambda q=prompt: processor.tokenizer([q], padding=True), args.repeats)
            ours_ms, _ = timed(
                lambda p=path: processor(videos=[str(p)], subtitles=[SUBTITLE], task="ovlabel"), args.repeats
            )
            official_ms, _ = timed(lambda p=path: official_style(p, processor), args.repeats)
            ours_cpu = cpu_ms(lambda p=path: processor(videos=[str(p)], subtitles=[SUBTITLE], task="ovlabel"))
            official_cpu = cpu_ms(lambda p=path: official_style(p, processor))
            cpu_rows.append((seconds, ours_cpu, official_cpu))
            rows.append(
                (seconds, frames_ms, audio_ms, both_ms, image_ms, feat_ms, tok_ms, ours_ms, official_ms)
            )

        print("\nms per stage (median of", args.repeats, "runs; 640x480 25 fps H.264 + AAC)")
        header = (
            "clip",
            "frames",
            "audio",
            "frames+audio 1 open",
            "image proc",
            "audio feats",
            "tokenise",
            "ours file->BatchFeature",
            "official-style",
            "ours/official",
        )
        print(" | ".join(f"{h:>10}" for h in header))
        for seconds, *values in rows:
            cells = (
                [f"{seconds:>8}s"] + [f"{v:10.1f}" for v in values] + [f"{values[-2] / values[-1]:10.2f}x"]
            )
            print(" | ".join(cells))
        print("(ours/official < 1 means ours is faster)")
        print("CPU time per clip (all threads; insensitive to other load on the machine):")
        for seconds, ours_cpu, official_cpu in cpu_rows:
            print(f"  {seconds:>2}s: ours {ours_cpu:.0f} ms, official-style {official_cpu:.0f} ms")

        paths = [clips[3]] * args.clips
        tput1 = throughput(paths, processor, workers=1)
        tput2 = throughput(paths, processor, workers=2)
        print(
            f"\nDataLoader throughput, 3-s clips: 1 worker {tput1:.2f} clips/s, 2 workers {tput2:.2f} clips/s"
        )
        print(f"speed-up 2 vs 1 worker: {tput2 / tput1:.2f}x (target >= 1.7x on 2 free cores)")
        long_paths = [clips[30]] * max(2, args.clips // 4)
        l1 = throughput(long_paths, processor, workers=1)
        l2 = throughput(long_paths, processor, workers=2)
        print(
            f"DataLoader throughput, 30-s clips: 1 worker {l1:.2f}, 2 workers {l2:.2f} clips/s ({l2 / l1:.2f}x)"
        )

    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak RSS: main process {self_peak:.0f} MB, largest DataLoader worker {child_peak:.0f} MB")


if __name__ == "__main__":
    main()
