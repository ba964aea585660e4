"""Throughput of `affectgpt bench` generation: batched + left padded vs one sample at a time (official style).

The official inference calls `generate` once per sample, on stock PyTorch modules. `bench` encodes a batch, left
pads it and calls `generate` once per batch, inside `pipeline.fixed_weights()`: the opt-in speed-ups of
affectgpt/speedups.py (on CPU a prepacked copy of the LM head made once per run; each distinct audio clip encoded
once, in bounded chunks). The loop baseline runs like the official inference: one sample per call, the plain
model. The "batch size 1" row is the bench path one sample at a time, so the table separates what the speed-ups
gain from what batching gains. All modes use the same
weights, the same encoded clips and greedy decoding, in one process, interleaved; the outputs must be identical.
Media decoding is excluded from the timing (it is the same work in both, and the bench overlaps it with
generation in DataLoader workers).

    .venv/bin/python benchmarks/bench_generation.py                      # tiny preset on CPU
    .venv/bin/python benchmarks/bench_generation.py --preset official --device cuda --batch-sizes 1,16
      (random weights at the released sizes: clips/s, peak GPU memory, projected time for all of UniBench)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from affectgpt.inference import AffectGPTPipeline  # noqa: E402
from dataset_scripts.media_writer import write_mp4, write_wav  # noqa: E402

UNIBENCH_CLIPS = 12_799  # the nine UniBench test sets together
SUBTITLES = [
    "I can't believe you did this for me!",
    "Leave me alone.",
    "Well, I suppose that is one way to look at it, but honestly I expected a lot more from all of you today.",
    "",
    "What? No way!",
    "It's fine. Everything is fine.",
]


def make_clips(root: Path, n: int) -> list[dict]:
    """n clips with varied lengths, modalities and subtitles, so batches are really padded."""
    rng = np.random.default_rng(0)
    clips = []
    for i in range(n):
        frames = rng.integers(0, 256, size=(int(rng.integers(20, 90)), 48, 64, 3), dtype=np.uint8)
        seconds = len(frames) / 25
        tone = (0.3 * np.sin(2 * np.pi * (150 + 20 * i) * np.arange(int(seconds * 16000)) / 16000)).astype(
            np.float32
        )
        video = write_mp4(root / f"clip{i:03d}.mp4", frames, fps=25, audio=tone if i % 3 else None)
        clip = {
            "video": str(video),
            "subtitle": SUBTITLES[i % len(SUBTITLES)] or None,
            "name": f"clip{i:03d}",
        }
        if i % 5 == 4:
            clip["audio"] = str(write_wav(root / f"clip{i:03d}.wav", tone))
        clips.append(clip)
    return clips


def build_pipeline(preset: str, device: str, dtype: torch.dtype) -> AffectGPTPipeline:
    from affectgpt.presets import build_model
    from processing import build_processor

    model = build_model(preset, dtype=dtype)
    if preset == "tiny":
        # As in the tests: redraw the LM weights with a larger spread, so answers differ per clip (at its own
        # initialisation the tiny model repeats one token for every input, which would hide padding bugs).
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if param.ndim == 2 and "language_model" in name:
                    param.copy_(torch.randn(param.shape, generator=gen) * (1.0 if "embed" in name else 0.5))
    return AffectGPTPipeline(model.to(device), build_processor(), extractor=None)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny", choices=("tiny", "official"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="default: float32 on CPU, bfloat16 on GPU")
    parser.add_argument("--num-clips", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-sizes", default="1,4,8,16")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-loop", action="store_true", help="no one-by-one baseline (large models)")
    args = parser.parse_args()
    dtype = (
        getattr(torch, args.dtype)
        if args.dtype
        else (torch.float32 if args.device == "cpu" else torch.bfloat16)
    )
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]

    pipe = build_pipeline(args.preset, args.device, dtype)
    with tempfile.TemporaryDirectory() as tmp:
        clips = make_clips(Path(tmp), args.num_clips)
        encode = pipe.encoder("ovlabel")  # the bench asks the OV-label question everywhere
        singles = [encode([clip])[1] for clip in clips]
        batched = {bs: [encode(clips[i : i + bs])[1] for i in range(0, len(clips), bs)] for bs in batch_sizes}

    def run(mode, batches) -> tuple[float, list[str]]:
        official_style = mode == "loop"
        pipe.speedups = not official_style
        sync(args.device)
        start = time.perf_counter()
        # As `bench` does: one `fixed_weights()` for the whole run (the packed head is made on entry, timed here).
        with pipe.fixed_weights():
            texts = [t for inputs in batches for t in pipe.generate(inputs, "greedy", args.max_new_tokens)]
        sync(args.device)
        return time.perf_counter() - start, texts

    for speedups in (False, True):  # warm-up (allocator, kernels, lazy imports), both paths
        pipe.speedups = speedups
        with pipe.fixed_weights():
            pipe.generate(singles[0], "greedy", 4)
    n = len(clips)
    modes = ([("loop", singles)] if not args.skip_loop else []) + [(bs, batched[bs]) for bs in batch_sizes]
    best: dict = {}
    texts: dict = {}
    peaks: dict = {}
    # Interleaved repeats, best time per mode: on a shared machine the load changes during a run, and the
    # fastest repeat is the one least disturbed by it.
    for _ in range(args.repeats):
        for mode, batches in modes:
            if args.device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            seconds, texts[mode] = run(mode, batches)
            best[mode] = min(seconds, best.get(mode, float("inf")))
            if args.device.startswith("cuda"):
                peaks[mode] = torch.cuda.max_memory_allocated() / 2**30

    print(
        f"device={args.device} dtype={str(dtype).removeprefix('torch.')} preset={args.preset} "
        f"threads={torch.get_num_threads()} clips={n} max_new_tokens={args.max_new_tokens} "
        f"(greedy, OV-label question; best of {args.repeats} interleaved repeats)"
    )
    base = n / best["loop"] if "loop" in best else None
    for mode, _ in modes:
        rate = n / best[mode]
        label = "one-by-one loop (official style)" if mode == "loop" else f"bench path, batch size {mode}"
        line = f"{label:33s} {rate:8.2f} samples/s"
        if base is not None:
            line += f" {rate / base:6.2f}x   outputs identical to loop: {texts[mode] == texts['loop']}"
        if mode in peaks:
            hours = UNIBENCH_CLIPS / rate / 3600
            line += f"   peak {peaks[mode]:.1f} GiB   all UniBench ({UNIBENCH_CLIPS} clips) ~{hours:.2f} h"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
