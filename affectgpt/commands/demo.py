"""`affectgpt demo`: the project's main job, offline, on the embedded default model.

1. `describe` the bundled synthetic clips (affectgpt/embedded/clips/);
2. build the held-out test split of the synthetic corpus the embedded model was trained on (same seed and
   plan, test clips only), then run `bench` on it and print the score table.
Scoring uses the metric's bundled wheel table (no files, no network); with an unusable MER_UNIBENCH_WHEEL_DIR the
demo still prints the descriptions and says why it cannot score (it never prints a made-up number)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from affectgpt.errors import CLIError

__all__ = ["CLIPS_DIR", "HELP", "SYNTH_PLAN", "add_arguments", "run"]

HELP = "Describe the bundled clips and benchmark the synthetic test split with the embedded default model."
CLIPS_DIR = Path(__file__).resolve().parents[1] / "embedded" / "clips"
# The plan of the corpus the embedded model was trained on (see its model card); the demo scores its test split.
SYNTH_PLAN = {"num_clips": 1500, "seed": 0, "test_fraction": 0.2}


def _cache_dir() -> Path:
    root = os.environ.get("AFFECTGPT_CACHE") or Path.home() / ".cache" / "affectgpt"
    return Path(root) / "demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model folder or Hub id (default: the embedded affectgpt-tiny-synth)")
    parser.add_argument("--out", type=Path, default=Path("demo-results"), help="bench output folder")
    parser.add_argument("--data", type=Path, default=None, help="where to build the synthetic test split")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test clips")
    parser.add_argument("--skip-bench", action="store_true", help="only describe the bundled clips")


def _bundled_clips() -> list[dict]:
    index = CLIPS_DIR / "clips.json"
    if not index.exists():
        raise CLIError(f"bundled clips not found: {index}")
    clips = json.loads(index.read_text())
    for clip in clips:
        clip["video"] = str(CLIPS_DIR / clip["video"])
    return clips


def run(args: argparse.Namespace) -> int:
    from affectgpt.cli import main as cli_main
    from affectgpt.inference import AffectGPTPipeline

    clips = _bundled_clips()
    pipeline = AffectGPTPipeline.from_pretrained(args.model)
    print(f"model: {pipeline.source}\n")
    inputs = [{k: c.get(k) for k in ("name", "video", "subtitle")} for c in clips]
    for clip, result in zip(clips, pipeline(inputs, task="description")):
        print(f"== {clip['name']}  (truth: {clip.get('truth', '?')})")
        print(f"   subtitle: {clip.get('subtitle') or '-'}")
        print(f"   description: {result.text}")
        if result.emotions is not None:
            print(
                f"   emotion words: {', '.join(result.emotions) or '(none)'}  sentiment: {result.sentiment}"
            )
        else:
            print(f"   emotion words: unavailable ({result.note})")
        print()
    if args.skip_bench:
        return 0
    if pipeline.extractor is None:
        print(f"Skipping the benchmark: {pipeline.extractor_note}")
        return 0
    data = args.data or _cache_dir() / "synth-mer-test"
    if not (data / "README.md").exists():
        from dataset_scripts.synth_mer import build_synth_mer

        print(f"building the synthetic test split into {data} ...")
        build_synth_mer(data, **SYNTH_PLAN, splits=("test",), overwrite=data.exists(), progress=False)
    bench_args = ["bench", "--data", str(data), "--datasets", "synth-mer", "--out", str(args.out)]
    if args.model:
        bench_args += ["--model", args.model]
    if args.limit:
        bench_args += ["--limit", str(args.limit)]
    return cli_main(bench_args)
