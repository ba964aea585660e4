"""The released-size AffectGPT end to end on a CPU, with random bf16 weights: memory, time and file sizes.

Steps (each in its own process, so each peak resident memory is its own; run one after the other):

  build    `presets.build_model(preset, dtype=bfloat16)` -> `save_pretrained` (5 GB safetensors shards) + processor;
           also the three base parts as their own folders (CLIP vision, HuBERT, Qwen2 causal LM), for `convert`
  load     `AutoModelForImageTextToText.from_pretrained(..., trust_remote_code=True, dtype=bfloat16)`, the
           processor on the clip, `generate` 8 new tokens (greedy)
  ckpt     a synthetic official checkpoint: the official key names and shapes of the fusion/projector weights
           and of the LLM's LoRA (r=16, random A and B), saved the way the official runner does
  merged   `affectgpt convert` of it (LoRA merged) into a model folder
  adapter  `affectgpt convert --keep-adapter` (base LLM + PEFT adapter folder)
  logits_merged / logits_adapter   logits of the converted folders on the clip (the adapter through PEFT, and
           with the adapter disabled, to show that the LoRA changes them); compared at the end

    .venv/bin/python benchmarks/full_size_cpu.py --preset tiny --work /tmp/fs-tiny            # seconds
    .venv/bin/python benchmarks/full_size_cpu.py --work /work/tmp-fullsize --out fullsize.json  # ~17 GB RAM

    .venv/bin/python benchmarks/full_size_cpu.py --dtype fp32 --llm-layers 2 --work /tmp/fs32   # fp32, ~9 GB RAM

Peak RSS is `ru_maxrss` of each step's process (`os.wait4`). Weight size = sum of parameter + buffer bytes.
One file (over 400 lines) on purpose: the heavy run is one command, with the step code next to its driver.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_CLIP = REPO.parent / "shared" / "mer_unibench" / "official_media" / "sample_00000000.mp4"
STEPS = ("build", "load", "ckpt", "merged", "adapter", "logits_merged", "logits_adapter")
SUBTITLE = "I told you it would work!"
NEW_TOKENS = 8
LORA_R = 16
LORA_PROJS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj")
LORA_PROJS += ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
GiB = 2**30


def _rss_gib() -> float:
    """Current resident memory of this process (VmRSS), GiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / GiB
    return float("nan")


def _folder_bytes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


class Timer:
    """Named wall-clock steps and the resident memory after each."""

    def __init__(self):
        self.steps: dict[str, dict[str, float]] = {}

    def __call__(self, name: str):
        timer = self

        class _Step:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                seconds, rss = time.perf_counter() - self.start, _rss_gib()
                timer.steps[name] = {"seconds": seconds, "rss_after_gib": rss}
                # Printed as it happens: a step killed for memory still shows how far it got.
                print(f"  {name}: {seconds:.1f} s, RSS after {rss:.2f} GiB", flush=True)

        return _Step()


def encode_clip(processor, clip: Path):
    from affectgpt.inference import ClipEncoder

    _, inputs = ClipEncoder(processor, "description")([{"video": str(clip), "subtitle": SUBTITLE}])
    return inputs


def to_model(inputs, dtype):
    import torch

    return {
        k: (v.to(dtype) if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in inputs.items()
    }


def dtype_of(args):
    import torch

    return {"bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]


def overrides_of(args) -> dict:
    """--llm-layers: the official shapes with fewer LLM layers (an fp32 check of the convert that fits in RAM)."""
    return {"text_config": {"num_hidden_layers": args.llm_layers}} if args.llm_layers else {}


def weight_bytes(model) -> int:
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])


# ---------------------------------------------------------------------------------------------------- steps
def step_build(args, timer: Timer) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from affectgpt.presets import add_auto_map, build_model, processor_for
    from processing import build_qwen_tokenizer

    tokenizer = build_qwen_tokenizer()
    with timer("build_model"):
        model = build_model(args.preset, dtype=dtype_of(args), tokenizer=tokenizer, **overrides_of(args))
    model_dir, base = args.work / "model", args.work / "base"
    with timer("save_pretrained"):
        add_auto_map(model.config)
        model.save_pretrained(model_dir, max_shard_size="5GB")
        processor_for(model.config, tokenizer).save_pretrained(model_dir)
    # The base parts `convert` loads with --vision/--audio/--llm. The causal LM shares the built tensors (made on
    # the meta device, then the real modules put in), so nothing is copied.
    with timer("save_base_parts"):
        model.model.vision_tower.save_pretrained(base / "vision", max_shard_size="5GB")
        model.model.audio_tower.save_pretrained(base / "audio", max_shard_size="5GB")
        with torch.device("meta"):
            causal = AutoModelForCausalLM.from_config(model.config.text_config)
        causal.model = model.model.language_model
        causal.lm_head = model.lm_head
        causal.save_pretrained(base / "llm", max_shard_size="5GB")
    files = _folder_bytes(model_dir)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "weight_bytes": weight_bytes(model),
        "llm_weight_bytes": weight_bytes(model.model.language_model) + weight_bytes(model.lm_head),
        "files": files,
        "safetensors_bytes": sum(v for k, v in files.items() if k.endswith(".safetensors")),
        "shards": sum(k.endswith(".safetensors") for k in files),
    }


def step_load(args, timer: Timer) -> dict:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    folder = args.work / "model"
    with timer("from_pretrained"):
        model = AutoModelForImageTextToText.from_pretrained(
            folder, trust_remote_code=True, dtype=dtype_of(args)
        )
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    with timer("processor"):
        inputs = encode_clip(processor, args.clip)
    with timer("generate"), torch.inference_mode():
        out = model.generate(
            **to_model(inputs, dtype_of(args)),
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,
            do_sample=False,
        )
    new = out.shape[1] - inputs["input_ids"].shape[1]
    if new != NEW_TOKENS:
        raise SystemExit(f"generate made {new} new tokens, expected {NEW_TOKENS}")
    return {
        "model_class": type(model).__name__,
        "weight_bytes": weight_bytes(model),
        "dtype": str(next(model.parameters()).dtype),
        "prompt_tokens": int(inputs["input_ids"].shape[1]),
        "new_tokens": new,
    }


def _official_key(ours: str) -> str:
    from modeling_affectgpt import OFFICIAL_KEY_MAP

    prefix = max((p for p in OFFICIAL_KEY_MAP if ours.startswith(p)), key=len)
    return OFFICIAL_KEY_MAP[prefix] + ours[len(prefix) :]


def step_ckpt(args, timer: Timer) -> dict:
    """The official `.pth` layout (tests/test_convert_official.py builds the same from the official module names):
    fusion/projector weights under their official names, the LLM's LoRA under the PEFT-wrapped names, the
    unused image projector, and the runner's config dict."""
    import torch

    from affectgpt.presets import build_config
    from modeling_affectgpt import AffectGPTForConditionalGeneration

    config = build_config(
        args.preset, **overrides_of(args)
    )  # what `build` built (its model folder may be deleted by now)
    with torch.device("meta"):
        skeleton = AffectGPTForConditionalGeneration(config)
    gen = torch.Generator().manual_seed(0)
    state = {}
    with timer("make_checkpoint"):
        for key, meta in skeleton.state_dict().items():
            if key.startswith(
                ("model.vision_tower.", "model.audio_tower.", "model.language_model.", "lm_head.")
            ):
                continue
            state[_official_key(key)] = torch.randn(meta.shape, generator=gen) * 0.02
        proj = state["affectgpt_proj.weight"]
        state["image_llama_proj.weight"] = torch.randn(proj.shape, generator=gen) * 0.02
        state["image_llama_proj.bias"] = torch.zeros(proj.shape[0])
        lm = skeleton.model.language_model
        for i in range(config.text_config.num_hidden_layers):
            for proj_name in LORA_PROJS:
                linear = lm.get_submodule(f"layers.{i}.{proj_name}")
                stem = f"llama_model.base_model.model.model.layers.{i}.{proj_name}"
                bound = linear.in_features**-0.5  # PEFT's kaiming-uniform A
                a = (torch.rand(LORA_R, linear.in_features, generator=gen) * 2 - 1) * bound
                state[f"{stem}.lora_A.default.weight"] = a
                # Trained B is nonzero; this size makes the LoRA move the logits visibly.
                state[f"{stem}.lora_B.default.weight"] = (
                    torch.randn(linear.out_features, LORA_R, generator=gen) * 0.02
                )
        path = args.work / "official_checkpoint.pth"
        config_dict = {"model": {"arch": "affectgpt", "lora_r": LORA_R, "llama_model": "Qwen25"}, "run": {}}
        torch.save({"model": state, "config": config_dict, "epoch": 30}, path)
    return {"tensors": len(state), "bytes": path.stat().st_size}


def _convert(args, timer: Timer, name: str, *extra: str) -> dict:
    out = args.work / name
    base = args.work / "base"
    command = [
        sys.executable,
        "-m",
        "affectgpt",
        "convert",
        "--checkpoint",
        str(args.work / "official_checkpoint.pth"),
    ]
    command += ["--out", str(out), "--preset", args.preset, "--dtype", args.dtype, "--overwrite", *extra]
    command += ["--vision", str(base / "vision"), "--audio", str(base / "audio"), "--llm", str(base / "llm")]
    with timer(f"convert_{name}"):
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    files = _folder_bytes(out)
    return {"command": " ".join(command[1:]), "files": files, "bytes": sum(files.values())}


def _logits(args, timer: Timer, folder: Path, adapter: bool) -> dict:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    with timer("from_pretrained"):
        model = AutoModelForImageTextToText.from_pretrained(
            folder, trust_remote_code=True, dtype=dtype_of(args)
        )
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
        if adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, folder / "lora_adapter")
    inputs = to_model(encode_clip(processor, args.clip), dtype_of(args))
    results = {}
    with timer("forward"), torch.inference_mode():
        results["logits"] = model(**inputs).logits[0].float()
    if adapter:
        with timer("forward_without_lora"), torch.inference_mode(), model.disable_adapter():
            results["logits_without_lora"] = model(**inputs).logits[0].float()
    torch.save(results, args.work / f"logits_{'adapter' if adapter else 'merged'}.pt")
    return {"positions": int(results["logits"].shape[0])}


def run_step(args, timer: Timer) -> dict:
    if args.step == "merged":
        return _convert(args, timer, "merged")
    if args.step == "adapter":
        return _convert(args, timer, "adapter", "--keep-adapter")
    if args.step.startswith("logits_"):
        kind = args.step.removeprefix("logits_")
        return _logits(args, timer, args.work / kind, adapter=kind == "adapter")
    return {"build": step_build, "load": step_load, "ckpt": step_ckpt}[args.step](args, timer)


# ---------------------------------------------------------------------------------------------------- driver
def compare_logits(work: Path) -> dict:
    import torch

    merged = torch.load(work / "logits_merged.pt")["logits"]
    adapter = torch.load(work / "logits_adapter.pt")
    lora, base = adapter["logits"], adapter["logits_without_lora"]
    return {
        "max_abs_diff_merged_vs_adapter": float((merged - lora).abs().max()),
        "max_abs_diff_adapter_vs_no_lora": float((lora - base).abs().max()),
        "logits_std": float(lora.std()),
        # How much of what the LoRA changes the two folders disagree on (0 = identical).
        "diff_over_lora_effect": float((merged - lora).norm() / (lora - base).norm()),
        "argmax_agreement_merged_vs_adapter": float((merged.argmax(-1) == lora.argmax(-1)).float().mean()),
        "argmax_agreement_adapter_vs_no_lora": float((lora.argmax(-1) == base.argmax(-1)).float().mean()),
    }


def _available_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024 / GiB
    return float("nan")


def wait_for_memory(need_gib: float, step: str, poll_s: float = 120, patience_s: float = 1500) -> None:
    """On a shared machine: start a step only when `need_gib` are available, re-checking every 2 minutes for up
    to 25 minutes, then start anyway (the report shows what was available)."""
    waited = 0.0
    while (available := _available_gib()) < need_gib and waited < patience_s:
        print(f"{step}: {available:.1f} GiB available, waiting for {need_gib:g}", flush=True)
        time.sleep(poll_s)
        waited += poll_s


def drive(args) -> int:
    args.work.mkdir(parents=True, exist_ok=True)
    steps = STEPS if args.steps == "all" else tuple(args.steps.split(","))
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise SystemExit(f"--steps: unknown {unknown}; choose from {', '.join(STEPS)} or all")
    if not args.clip.is_file():
        raise SystemExit(f"--clip: no file at {args.clip}")
    report = json.loads(args.out.read_text()) if args.out and args.out.is_file() else {}
    report.update(preset=args.preset, clip=str(args.clip), threads=os.cpu_count(), dtype=args.dtype)
    report.update(llm_layers=args.llm_layers or None)
    report.setdefault("steps", {})
    for step in steps:
        result_file = args.work / f"step_{step}.json"
        command = [
            sys.executable,
            __file__,
            "--step",
            step,
            "--preset",
            args.preset,
            "--work",
            str(args.work),
        ]
        command += [
            "--dtype",
            args.dtype,
            "--llm-layers",
            str(args.llm_layers),
            "--rss-every",
            str(args.rss_every),
        ]
        wait_for_memory(args.min_available_gib, step)
        available = _available_gib()
        start = time.perf_counter()
        process = subprocess.Popen(
            [*command, "--clip", str(args.clip)], env={**os.environ, "PYTHONPATH": str(REPO)}
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            print(
                f"step {step} failed (exit {code}; a negative exit is a signal, -9 = killed, e.g. out of memory)"
            )
            return 1
        result = json.loads(result_file.read_text())
        # ru_maxrss is in KiB on Linux; wait4 reports it for this child (and its own children, e.g. convert's).
        result.update(
            wall_seconds=wall, peak_rss_gib=usage.ru_maxrss * 1024 / GiB, available_gib_at_start=available
        )
        report["steps"][step] = result
        print(f"{step:15s} {wall:8.1f} s   peak RSS {result['peak_rss_gib']:6.2f} GiB", flush=True)
    if {"logits_merged", "logits_adapter"} <= set(report["steps"]):
        report["logits"] = compare_logits(args.work)
    if "build" in report["steps"]:
        weights = report["steps"]["build"]["weight_bytes"] / GiB
        report["weights_gib"] = weights
        report["peak_over_weights"] = {s: r["peak_rss_gib"] / weights for s, r in report["steps"].items()}
    print(json.dumps({k: v for k, v in report.items() if k != "steps"}, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.clean:
        for name in (
            "model",
            "base",
            "merged",
            "adapter",
            "official_checkpoint.pth",
            "logits_merged.pt",
            "logits_adapter.pt",
        ):
            target = args.work / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="official", choices=("tiny", "official"))
    parser.add_argument(
        "--clip", type=Path, default=DEFAULT_CLIP, help="the demo clip (default: ../shared/...)"
    )
    parser.add_argument(
        "--work", type=Path, required=True, help="folder for the model folders (~66 GB at full size)"
    )
    parser.add_argument("--steps", default="all", help=f"comma list of {', '.join(STEPS)}, or all")
    parser.add_argument(
        "--out", type=Path, help="JSON report (merged into an existing one: steps can be rerun)"
    )
    parser.add_argument(
        "--clean", action="store_true", help="delete the model folders and checkpoint at the end"
    )
    parser.add_argument(
        "--min-available-gib",
        type=float,
        default=0,
        help="wait (up to 25 min) until this much memory is free",
    )
    parser.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16", help="weights and compute dtype")
    parser.add_argument(
        "--llm-layers", type=int, default=0, help="fewer LLM layers than the preset (0 = as is)"
    )
    parser.add_argument("--rss-every", type=float, default=0, help="print each step's RSS every N seconds")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # one step, in this process
    args = parser.parse_args()
    if args.step is None:
        return drive(args)
    timer = Timer()
    if args.rss_every:
        import threading

        def sample() -> None:
            while True:
                time.sleep(args.rss_every)
                print(f"  [{args.step}] RSS {_rss_gib():.2f} GiB", flush=True)

        threading.Thread(target=sample, daemon=True).start()
    result = run_step(args, timer)
    result["timings"] = timer.steps
    (args.work / f"step_{args.step}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
