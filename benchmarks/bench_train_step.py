"""Benchmark: one CPU SFT step (forward + backward) of the tiny model through each way of scoring the answer.

Usage: .venv/bin/python benchmarks/bench_train_step.py [--repeats 6] [--batch 8]

Three copies of the same model (tiny preset, frozen towers, as recipes/tiny-synth.yaml) with TRL's fused head
(`add_fused_lm_head`, as SFTTrainer adds it) train on one collated batch of synthetic clips:
  * compact: `affectgpt.train.fused_head.add_compact_fused_head` (what the trainers use now): the backbone, then
    the output embedding at the supervised positions only, in plain torch;
  * patched: the former way, TRL's head with its private `_use_triton` patched to answer True, so that it scores
    only the supervised positions (kept here to measure against; no shipped code does this any more);
  * full: TRL's head as it runs on CPU, every position through the 151,670-word head.
The paths are timed in turn within each repeat (each goes first in turn), so machine load hits them alike; the
ratios come from one run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from affectgpt.data import load_split, resolve_media  # noqa: E402
from affectgpt.presets import build_model  # noqa: E402
from affectgpt.train.fused_head import add_compact_fused_head  # noqa: E402
from dataset_scripts.synth_mer import build_synth_mer  # noqa: E402
from processing import AffectGPTTrainingCollator, build_processor  # noqa: E402
from processing.collator import INDEX_COLUMN  # noqa: E402

OUTPUTS = ("log_probs", "entropy", "is_top1")  # what SFTTrainer asks of its fused head


def collated_batch(batch: int) -> dict:
    """One training batch as recipes/tiny-synth.yaml collates it, from a small synthetic corpus."""
    folder = Path(tempfile.mkdtemp(prefix="bench-train-step-")) / "synth-mer"
    build_synth_mer(folder, num_clips=2 * batch, num_workers=1, progress=False)
    rows = list(load_split(folder, "synth-mer", "train"))[:batch]
    for index, row in enumerate(rows):
        row[INDEX_COLUMN] = index
    collator = AffectGPTTrainingCollator(
        build_processor(),
        max_length=1024,
        ovlabel_ratio=0.8,
        seed=0,
        resolve_media=functools.partial(resolve_media, data_root=folder),
    )
    return collator(rows)


def make_model(path: str):
    from trl.trainer import add_fused_lm_head

    model = build_model("tiny", seed=0, dtype=torch.float32).train()
    for name in ("vision_tower", "audio_tower"):
        getattr(model.model, name).requires_grad_(False)
    add_fused_lm_head(model, outputs=OUTPUTS)
    if path == "compact":
        add_compact_fused_head(model, outputs=OUTPUTS)
    return model


def step(model, path: str, inputs: dict) -> tuple[float, float]:
    import trl.trainer.utils as trl_utils

    model.zero_grad(set_to_none=True)
    patch = (
        mock.patch.object(trl_utils, "_use_triton", lambda device: True)
        if path == "patched"
        else contextlib.nullcontext()
    )
    start = time.perf_counter()
    with patch:
        out = model(**inputs, use_cache=False, fused_lm_head=True)
    out.loss.backward()
    return time.perf_counter() - start, out.loss.item()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--batch", type=int, default=8, help="clips per step (recipes/tiny-synth.yaml: 8)")
    args = parser.parse_args()
    import trl.trainer.utils as trl_utils

    paths = ["compact", "patched", "full"]
    if not hasattr(trl_utils, "_use_triton"):
        paths.remove("patched")
        print("this TRL has no trl.trainer.utils._use_triton: the former patched path cannot run")
    inputs = collated_batch(args.batch)
    inputs.pop("num_dropped", None)
    labels = inputs["labels"][:, 1:]
    supervised = (labels != -100).sum().item()
    print(
        f"batch {tuple(inputs['input_ids'].shape)}: {supervised} supervised labels of {labels.numel()} positions; "
        f"torch threads {torch.get_num_threads()}"
    )
    models = {path: make_model(path) for path in paths}
    for path in paths:  # warm-up (allocator, first-call costs)
        step(models[path], path, inputs)
    times = {path: [] for path in paths}
    losses = {}
    for repeat in range(args.repeats):
        # Each path in turn goes first: the step after the full path's large frees pays for fresh pages.
        for path in paths[repeat % len(paths) :] + paths[: repeat % len(paths)]:
            seconds, losses[path] = step(models[path], path, inputs)
            times[path].append(seconds)
    median = {path: statistics.median(values) for path, values in times.items()}
    for path in paths:
        runs = " ".join(f"{seconds * 1000:.0f}" for seconds in times[path])
        print(f"{path:>8}: median {median[path] * 1000:7.0f} ms per step ({runs}), loss {losses[path]:.6f}")
    for path in paths[1:]:
        print(f"compact / {path}: {median['compact'] / median[path]:.3f}")
    if "patched" in paths:
        print(f"patched / full: {median['patched'] / median['full']:.3f}")


if __name__ == "__main__":
    main()
