"""`affectgpt bench`: the MER-UniBench benchmark (generation -> extraction -> metrics -> Table-2 report)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from affectgpt.errors import CLIError
from affectgpt.remote_code import TRUST_REMOTE_CODE_HELP

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Run and score MER-UniBench (or the synthetic test split); writes results.{md,csv,json,png}."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model folder or Hub id (default: the embedded affectgpt-tiny-synth)")
    parser.add_argument(
        "--data", required=True, type=Path, help="folder written by `affectgpt build-dataset`"
    )
    parser.add_argument(
        "--datasets",
        default="all",
        help="comma list of mer2023 mer2024 iemocap meld cmumosi cmumosei sims simsv2 ovmerdplus synth-mer, "
        "or all (= every one present under --data)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--extractor",
        default="lexicon",
        help="lexicon (offline, default) or llm:MODEL (any transformers chat model)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="output folder (and cache)")
    parser.add_argument(
        "--protocol",
        choices=("deterministic", "official"),
        default="deterministic",
        help="deterministic: greedy generation + greedy extraction; official: the official sampling settings",
    )
    parser.add_argument(
        "--score-only",
        type=Path,
        metavar="FILE_OR_DIR",
        help="score existing generations (JSONL lines {name, output[, dataset]}, or a bench output folder)",
    )
    parser.add_argument("--num-workers", type=int, default=2, help="DataLoader worker processes for decoding")
    parser.add_argument("--limit", type=int, default=None, help="first N samples per dataset (smoke runs)")
    parser.add_argument(
        "--max-new-tokens", type=int, default=None, help="override the protocol's limit (1200)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="default: this process's accelerator, else CPU")
    parser.add_argument("--trust-remote-code", action="store_true", help=TRUST_REMOTE_CODE_HELP)
    parser.add_argument(
        "--wheel-dir",
        type=Path,
        default=None,
        help="folder with the official emotion-wheel files or a table .json (default: the bundled table)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop at the first clip that cannot be decoded or generated (default: record it, score it as "
        "an empty answer, report it in the results and go on)",
    )


def _check(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise CLIError("--batch-size must be >= 1")
    if args.num_workers < 0:
        raise CLIError("--num-workers must be >= 0")
    if args.limit is not None and args.limit < 1:
        raise CLIError("--limit must be >= 1")
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise CLIError("--max-new-tokens must be >= 1")
    if args.out.exists() and not args.out.is_dir():
        raise CLIError(f"--out {args.out} is a file; give a folder (it holds the results and the cache)")
    if args.extractor != "lexicon" and not (args.extractor.startswith("llm:") and len(args.extractor) > 4):
        raise CLIError(f"--extractor must be 'lexicon' or 'llm:MODEL', got {args.extractor!r}")


def _accelerate_state(device: str | None):
    """accelerate's PartialState under `accelerate launch`/torchrun (several processes); None for a plain run."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    try:
        import torch
        from accelerate import PartialState
    except ImportError as err:
        raise CLIError("multi-process bench needs accelerate (pip install 'affectgpt[train]')") from err
    # Without cpu=True accelerate never sets up gloo on a CPU-only machine, and every process would run
    # the whole benchmark.
    cpu = not torch.cuda.is_available() or (device or "").startswith("cpu")
    state = PartialState(cpu=cpu)
    if state.num_processes != world:
        raise CLIError(f"launched as {world} processes, but accelerate set up {state.num_processes}")
    return state


def _generate(args, datasets, rows):
    from affectgpt import bench
    from affectgpt.inference import DECODING, AffectGPTPipeline

    state = _accelerate_state(args.device)
    device = args.device or (state.device if state is not None else None)
    pipe = AffectGPTPipeline.from_pretrained(
        args.model, device=device, extractor=False, trust_remote_code=args.trust_remote_code or None
    )
    decoding = "official" if args.protocol == "official" else "greedy"
    generation = dict(DECODING[decoding])
    if args.max_new_tokens is not None:
        generation["max_new_tokens"] = args.max_new_tokens
    protocol = bench.Protocol(
        model=pipe.source,
        model_hash=bench.model_fingerprint(pipe.source, pipe.model.config),
        decoding=decoding,
        generation=generation,
        seed=args.seed,
        dtype=str(pipe.dtype).removeprefix("torch."),
        extractor=args.extractor,
        batch_size=args.batch_size,
        versions=bench.library_versions(),
    )
    cache = bench.GenerationCache(args.out, protocol, rank=state.process_index if state is not None else 0)
    outputs, failures = {}, {}
    for name in datasets:
        outputs[name], failures[name] = bench.generate_dataset(
            pipe,
            rows[name],
            cache,
            name,
            protocol,
            args.num_workers,
            state,
            progress=not args.no_progress,
            fail_fast=args.fail_fast,
        )
    is_main = state is None or state.is_main_process
    info = {**protocol.to_dict(), "device": str(pipe.device), "cache": str(cache.dir)}
    return outputs, failures, info, is_main


def run(args: argparse.Namespace) -> int:
    _check(args)
    from affectgpt import bench
    from affectgpt.inference import find_wheel_dir

    datasets = bench.select_datasets(args.datasets, args.data)
    rows = {name: bench.load_rows(args.data, name, args.limit) for name in datasets}

    if args.score_only is not None:
        outputs = bench.read_outputs(args.score_only, datasets)
        protocol = {"score_only": str(args.score_only), "extractor": args.extractor, "seed": args.seed}
        failures = {}
    else:
        outputs, failures, protocol, is_main = _generate(args, datasets, rows)
        if not is_main:
            return 0  # the main process scores and writes the report
    protocol["data"] = str(args.data)
    protocol["limit"] = args.limit

    wheel_dir, why = find_wheel_dir(args.wheel_dir)
    if why is not None:
        where = f" Generations are saved in {protocol['cache']}." if "cache" in protocol else ""
        raise CLIError(f"cannot score: {why}{where}")
    extractor = bench.build_extractor(args.extractor, wheel_dir, args.protocol, args.device, args.seed)
    protocol["extractor_settings"] = getattr(extractor, "settings", {})

    results = []
    for name in datasets:
        if not outputs.get(name):
            print(f"bench: no outputs for {name}; skipped", file=sys.stderr)
            continue
        result = bench.score_outputs(
            name, rows[name], outputs[name], extractor, wheel_dir, failures.get(name)
        )
        if result["missing"]:
            print(
                f"bench: {name}: {result['missing']} samples without output, scored as empty", file=sys.stderr
            )
        if result["failed"]:
            first = result["failures"][0]
            print(
                f"bench: {name}: {result['failed']} samples failed (e.g. {first['name']}: {first['error']}), "
                "scored as empty answers and listed in results.json; the next run retries them",
                file=sys.stderr,
            )
        results.append(result)
    if not results:
        raise CLIError("nothing to score: no outputs matched the selected datasets")
    paths = bench.write_report(args.out, results, protocol)
    print(bench.table_text(results))
    print("\nwrote " + ", ".join(str(p) for p in paths))
    return 0
