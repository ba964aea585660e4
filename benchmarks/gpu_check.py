"""One-shot GPU check of the released-size AffectGPT (random bf16 weights): generation, one SFT step, processor.

Made to finish in under 10 minutes on one H100/H200-class GPU, so that a borrowed GPU gives every number at once:

  generation   clips/s at batch 1, 8 and 32 (left padded, greedy, the OV-label question `bench` asks), with SDPA
               and with flash-attention 2 when `flash_attn` is installed; peak GPU memory; the implied time for
               the 12,799 MER-UniBench clips (goal < 15 min, stretch 5 min). Every row generates exactly
               --new-tokens tokens (random weights do not stop on their own): 32 by default, about the longest
               official OV-label answer in a batch (the released model's answers on MER2023, MELD, MOSI and SIMS
               are 12-13 tokens in the median, 28 at most). Media decoding is excluded, as in
               bench_generation.py (in `bench` it runs in DataLoader workers, measured below).
  sft          one LoRA step of the official recipe (recipes/official-mer-caption-plus.yaml: r=16/α=32 on the
               LLM, fusion + projectors trained, towers frozen, batch 3, sequences of --max-length=1024 tokens,
               activation checkpointing, bf16 autocast, AdamW): step time (after one warm-up step), peak memory
  processor    clips/s of AffectGPTProcessor on 3-s 640x480 H.264+AAC clips through a DataLoader with 0, 4 and
               --workers worker processes (bench_processor.throughput)

    python benchmarks/gpu_check.py --out gpu_check.json                       # one GPU, official preset
    python benchmarks/gpu_check.py --preset tiny --device cpu --out t.json    # the same code on a CPU, < 1 min

Prints a compact table and writes every number to --out (JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from bench_generation import UNIBENCH_CLIPS, make_clips  # noqa: E402
from bench_processor import make_clip, throughput  # noqa: E402

SFT_BATCH = 3
WORD = " calm"  # one Qwen2.5 token, so a description of N words is N target tokens


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None


def to_device(inputs, device: torch.device, dtype: torch.dtype) -> dict:
    return {
        k: (v.to(device, dtype) if v.is_floating_point() else v.to(device)) if torch.is_tensor(v) else v
        for k, v in inputs.items()
    }


def attention_backends(device: torch.device) -> list[str]:
    backends = ["sdpa"]
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        backends.append("flash_attention_2")
    return backends


# ---------------------------------------------------------------------------------------------- generation
def time_generation(model, batches, new_tokens: int, device) -> tuple[float, float | None]:
    """Seconds for `generate` over `batches` (after one warm-up call of the same shape) and the peak memory."""
    kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False}
    with torch.inference_mode():
        model.generate(**batches[0], **kwargs)  # warm-up: kernels, allocator, caches of this shape
        reset_peak(device)
        sync(device)
        start = time.perf_counter()
        for inputs in batches:
            model.generate(**inputs, **kwargs)
        sync(device)
    return time.perf_counter() - start, peak_gib(device)


def check_generation(model, processor, clips, args, device, dtype) -> list[dict]:
    from affectgpt.inference import ClipEncoder

    encode = ClipEncoder(processor, "ovlabel")
    rows = []
    for backend in attention_backends(device):
        for batch_size in args.batch_sizes:
            n = batch_size * args.batches
            pool = [clips[i % len(clips)] for i in range(n)]
            batches = [
                to_device(encode(pool[i : i + batch_size])[1], device, dtype) for i in range(0, n, batch_size)
            ]
            row = {"attention": backend, "batch_size": batch_size, "clips": n, "new_tokens": args.new_tokens}
            try:
                # The LLM only: it is the decoding cost, and the towers need not support every kernel.
                model.set_attn_implementation({"text_config": backend})
                seconds, peak = time_generation(model, batches, args.new_tokens, device)
            except (RuntimeError, ValueError, ImportError) as err:
                if backend == "sdpa" and not isinstance(err, torch.OutOfMemoryError):
                    raise
                # An optional kernel that fails, or a batch that does not fit, must not lose the other numbers.
                rows.append({**row, "error": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"})
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            rate = n / seconds
            row.update(clips_per_s=rate, unibench_minutes=UNIBENCH_CLIPS / rate / 60, peak_gib=peak)
            rows.append(row)
            print(f"  generation {backend} batch {batch_size}: {rate:.2f} clips/s", flush=True)
    model.set_attn_implementation({"text_config": "sdpa"})
    return rows


# ---------------------------------------------------------------------------------------------- SFT step
def sft_batch(processor, video: str, max_length: int) -> dict:
    """The training collator on SFT_BATCH description rows whose answers fill `max_length` tokens exactly."""
    from processing.collator import AffectGPTTrainingCollator

    row = {"video": video, "subtitle": "I really did not expect to see you here today.", "name": "clip"}
    unlimited = AffectGPTTrainingCollator(processor, max_length=None, tasks=("description",))
    short = unlimited([{**row, "description": WORD.strip()}])["input_ids"].shape[1]
    collator = AffectGPTTrainingCollator(processor, max_length=max_length, tasks=("description",))
    words = max_length - short + 1
    if words < 1:
        raise SystemExit(f"--max-length {max_length} is shorter than the prompt ({short} tokens)")
    batch = collator(
        [{**row, "description": (WORD * words).strip(), "name": f"c{i}"} for i in range(SFT_BATCH)]
    )
    if batch["input_ids"].shape != (SFT_BATCH, max_length):
        raise SystemExit(
            f"SFT batch has shape {tuple(batch['input_ids'].shape)}, expected ({SFT_BATCH}, {max_length})"
        )
    return batch


def check_sft(model, processor, video: str, args, device, dtype) -> dict:
    from peft import get_peft_model

    from affectgpt.presets import lora_config

    model.config.use_cache = False
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    peft_model = get_peft_model(model, lora_config())
    peft_model.train()
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5, weight_decay=0.05)
    batch = to_device(sft_batch(processor, video, args.max_length), device, dtype)
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )

    def step() -> float:
        with autocast:
            loss = peft_model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss)

    step()  # warm-up: optimizer state, kernels
    reset_peak(device)
    sync(device)
    start = time.perf_counter()
    loss = step()
    sync(device)
    seconds = time.perf_counter() - start
    result = {
        "batch_size": SFT_BATCH,
        "max_length": args.max_length,
        "activation_checkpointing": True,
        "trainable_parameters": sum(p.numel() for p in trainable),
        "step_seconds": seconds,
        "peak_gib": peak_gib(device),
        "loss": loss,
    }
    print(f"  sft step: {seconds:.2f} s", flush=True)
    return result


# ---------------------------------------------------------------------------------------------- processor
def check_processor(processor, root: Path, args) -> list[dict]:
    path = make_clip(root, 3)
    rows = []
    for workers in sorted({0, min(4, args.workers), args.workers}):
        rate = throughput([path] * args.processor_clips, processor, workers)
        rows.append({"workers": workers, "clips": args.processor_clips, "clips_per_s": rate})
        print(f"  processor {workers} workers: {rate:.2f} clips/s", flush=True)
    return rows


# ---------------------------------------------------------------------------------------------- report
def table(report: dict) -> str:
    lines = [
        f"{report['device_name']} | preset {report['preset']} | {report['dtype']} | build {report['build_seconds']:.1f} s"
    ]
    lines.append(f"{'generation':24s} {'clips/s':>9s} {'UniBench min':>13s} {'peak GiB':>9s}")
    for row in report["generation"]:
        if "error" in row:
            lines.append(f"  {row['attention']} batch {row['batch_size']}: not run: {row['error']}")
            continue
        peak = "-" if row["peak_gib"] is None else f"{row['peak_gib']:.1f}"
        label = f"{row['attention']} batch {row['batch_size']}"
        lines.append(f"  {label:22s} {row['clips_per_s']:9.2f} {row['unibench_minutes']:13.1f} {peak:>9s}")
    sft = report["sft"]
    if "error" in sft:
        lines.append(f"SFT step: not run: {sft['error']}")
    else:
        peak = "-" if sft["peak_gib"] is None else f"{sft['peak_gib']:.1f} GiB"
        lines.append(
            f"SFT step (LoRA, batch {sft['batch_size']} x {sft['max_length']} tokens, activation checkpointing): "
            f"{sft['step_seconds']:.2f} s, peak {peak}"
        )
    lines.append(
        "processor (DataLoader, 3-s clips): "
        + ", ".join(f"{r['workers']} workers {r['clips_per_s']:.1f} clips/s" for r in report["processor"])
    )
    lines.append(f"total {report['total_seconds']:.0f} s")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="official", choices=("tiny", "official"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, required=True, help="JSON report")
    parser.add_argument("--batch-sizes", type=lambda s: [int(b) for b in s.split(",")], default=[1, 8, 32])
    parser.add_argument("--batches", type=int, default=3, help="timed generate calls per batch size")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=1024, help="SFT sequence length (official 1024)")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    parser.add_argument("--processor-clips", type=int, default=64)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    from affectgpt.presets import build_model, processor_for
    from processing import build_qwen_tokenizer

    started = time.perf_counter()
    tokenizer = build_qwen_tokenizer()
    # Initialised on the device itself: a random 8 B model takes minutes to initialise on a CPU, seconds on a GPU.
    with torch.device(device):
        model = build_model(args.preset, dtype=dtype, tokenizer=tokenizer)
    sync(device)
    processor = processor_for(model.config, tokenizer)
    report = {
        "preset": args.preset,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "dtype": str(dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "build_seconds": time.perf_counter() - started,
    }
    print(f"built {report['parameters']:,} parameters in {report['build_seconds']:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clips = make_clips(root, 16)
        report["generation"] = check_generation(model.eval(), processor, clips, args, device, dtype)
        try:
            report["sft"] = check_sft(model, processor, clips[1]["video"], args, device, dtype)
        except torch.OutOfMemoryError as err:
            report["sft"] = {"error": f"OutOfMemoryError: {str(err).splitlines()[0][:200]}"}
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
        report["processor"] = check_processor(processor, root, args)
    report["total_seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
