"""`affectgpt bench`: the MER-UniBench benchmark (generation -> extraction -> metrics -> Table-2 report), for one
checkpoint or several side by side (each, the best single one, the per-dataset best = the official protocol)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from affectgpt.errors import CLIError
from affectgpt.remote_code import TRUST_REMOTE_CODE_HELP

__all__ = ["HELP", "add_arguments", "run"]

HELP = (
    "Run and score MER-UniBench (or the synthetic test split) for one or several checkpoints; writes "
    "results.{md,csv,json,png}, predictions.jsonl and confusion.png."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        nargs="+",
        metavar="MODEL",
        help="model folder(s) or Hub id(s), e.g. the checkpoints of one run (default: the embedded "
        "affectgpt-tiny-synth); several are reported side by side",
    )
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
        help="lexicon (offline, default), llm:MODEL (any transformers chat model), or official (with "
        "--score-only on the official output files: their own LLM extraction)",
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
        nargs="+",
        metavar="FILE_OR_DIR",
        help="score existing generations, no model: JSONL lines {name, output[, dataset]}, a bench output "
        "folder, or the official output files (<ckpt>.npz under <dataset>/ or results-<dataset>/<run>/, one "
        "checkpoint per epoch); several are reported side by side",
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
    if args.extractor not in {"lexicon", "official"} and not (
        args.extractor.startswith("llm:") and len(args.extractor) > 4
    ):
        raise CLIError(f"--extractor must be 'lexicon', 'llm:MODEL' or 'official', got {args.extractor!r}")
    if args.extractor == "official" and args.score_only is None:
        raise CLIError(
            "--extractor official uses the official output files' extraction: give --score-only DIR"
        )
    if args.score_only is not None and args.model:
        raise CLIError("--score-only scores existing generations without a model: drop --model")


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


def _generate(args, model, datasets, rows):
    from affectgpt import bench
    from affectgpt.inference import DECODING, AffectGPTPipeline

    state = _accelerate_state(args.device)
    device = args.device or (state.device if state is not None else None)
    pipe = AffectGPTPipeline.from_pretrained(
        model, device=device, extractor=False, trust_remote_code=args.trust_remote_code or None
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


def _run_names(sources: list[str]) -> list[str]:
    """Short, unique labels for the report's columns: a folder's name, a file's stem, a Hub id."""
    names = []
    for source in sources:
        path = Path(source)
        name = (path.stem if path.is_file() else path.name) if path.exists() else source
        base, k = name or source, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


class _Input:
    """One checkpoint to score: outputs per dataset, failures, its protocol, and (official files only) the
    official extraction per dataset."""

    def __init__(self, name, outputs, failures, protocol, official=None):
        self.name, self.outputs, self.failures, self.protocol = name, outputs, failures, protocol
        self.official = official


def _score_only_inputs(args, datasets) -> list[_Input]:
    from affectgpt import bench
    from affectgpt.bench.official import find_official_outputs, has_official_outputs

    inputs = []
    for path, name in zip(args.score_only, _run_names([str(p) for p in args.score_only])):
        protocol = {"score_only": str(path), "extractor": args.extractor, "seed": args.seed}
        if has_official_outputs(path):
            for ckpt in find_official_outputs(path, datasets, bench.DATASETS):
                files = {d: str(f) for d, f in ckpt.files.items()}
                label = ckpt.name if len(args.score_only) == 1 else f"{name}/{ckpt.name}"
                inputs.append(_Input(label, ckpt.outputs, {}, {**protocol, "files": files}, ckpt))
        else:
            if args.extractor == "official":
                raise CLIError(f"--extractor official: {path} holds no official <checkpoint>.npz files")
            inputs.append(_Input(name, bench.read_outputs(path, datasets), {}, protocol))
    return inputs


def _official_extraction(ckpt, dataset: str, rows: list[dict]):
    """The official LLM's words and polarity for each row (empty where the files lack the sample)."""
    from metrics.mer_unibench import parse_labels

    if dataset not in ckpt.words:
        raise CLIError(f"--extractor official: no {ckpt.name} openset file beside {ckpt.files[dataset]}")
    words = [parse_labels(ckpt.words[dataset].get(r["name"], "")) for r in rows]
    polarity = ckpt.sentiments.get(dataset, {})
    return words, [polarity.get(r["name"], "neutral") for r in rows]


def _score(args, item: _Input, datasets, rows, extractor, wheel_dir, tables):
    from affectgpt import bench
    from affectgpt.bench.report import CheckpointRun

    run = CheckpointRun(item.name, [])
    for name in datasets:
        if not item.outputs.get(name):
            print(f"bench: {item.name}: no outputs for {name}; skipped", file=sys.stderr)
            continue
        extracted = (
            _official_extraction(item.official, name, rows[name]) if args.extractor == "official" else None
        )
        result = bench.score_outputs(
            name, rows[name], item.outputs[name], extractor, wheel_dir, item.failures.get(name),
            extracted=extracted, tables=tables,
        )  # fmt: skip
        run.samples.extend(result.pop("samples"))
        if result["missing"]:
            print(
                f"bench: {item.name}: {name}: {result['missing']} samples without output, scored as empty",
                file=sys.stderr,
            )
        if result["failed"]:
            first = result["failures"][0]
            print(
                f"bench: {item.name}: {name}: {result['failed']} samples failed (e.g. {first['name']}: "
                f"{first['error']}), scored as empty answers and listed in results.json; the next run retries "
                "them",
                file=sys.stderr,
            )
        run.results.append(result)
    return run


def run(args: argparse.Namespace) -> int:
    _check(args)
    from affectgpt import bench
    from affectgpt.bench import report
    from affectgpt.wheel_source import find_wheel_dir

    datasets = bench.select_datasets(args.datasets, args.data)
    rows = {name: bench.load_rows(args.data, name, args.limit) for name in datasets}

    if args.score_only is not None:
        inputs = _score_only_inputs(args, datasets)
    else:
        inputs = []
        models = args.model or [None]
        for model, name in zip(models, _run_names([m or "affectgpt-tiny-synth" for m in models])):
            outputs, failures, protocol, is_main = _generate(args, model, datasets, rows)
            inputs.append(_Input(name, outputs, failures, protocol))
        if not is_main:
            return 0  # the main process scores and writes the report
    common = {"data": str(args.data), "limit": args.limit}

    wheel_dir, why = find_wheel_dir(args.wheel_dir)
    if why is not None:
        caches = [i.protocol["cache"] for i in inputs if "cache" in i.protocol]
        where = f" Generations are saved in {', '.join(caches)}." if caches else ""
        raise CLIError(f"cannot score: {why}{where}")
    spec = "lexicon" if args.extractor == "official" else args.extractor
    extractor = bench.build_extractor(spec, wheel_dir, args.protocol, args.device, args.seed)
    settings = (
        {"name": "official (the output files' own LLM extraction)"} if args.extractor == "official" else None
    )
    common["extractor_settings"] = settings or getattr(extractor, "settings", {})
    from metrics.mer_unibench import load_wheels

    tables = load_wheels(wheel_dir)
    runs = [_score(args, item, datasets, rows, extractor, wheel_dir, tables) for item in inputs]
    runs = [run for run in runs if run.results]
    if not runs:
        raise CLIError("nothing to score: no outputs matched the selected datasets")
    if len(inputs) == 1:
        protocol = {**inputs[0].protocol, **common}
    else:
        protocol = {**common, "checkpoints": {i.name: i.protocol for i in inputs}}
    paths = report.write_report(args.out, runs, protocol, tables)
    print(report.table_text(runs))
    print("\nwrote " + ", ".join(str(p) for p in paths))
    return 0
