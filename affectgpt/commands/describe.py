"""`affectgpt describe`: describe the emotional state in one or more clips.

Clips come from VIDEO arguments (one `--subtitle`/`--audio` for all of them) and/or a `--manifest` (CSV or
JSONL, one clip per row with its own audio, face and subtitle). A clip that fails (corrupt media) is recorded
with its error and the others go on; the exit status is then 1, so scripts notice, while every other answer is
still written. Exit 2 is kept for errors found before any work (bad arguments, missing files, no model)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from affectgpt.clip_inputs import (
    MAX_SUBTITLE_BYTES,
    clip_modalities,
    modality_notes,
    read_manifest,
    read_text_file,
)
from affectgpt.errors import CLIError

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Describe the emotional state of the person in video clips (text + extracted emotion words)."
SUMMARY_NAMES = 5
# What a failing clip may raise from decoding or generation; anything else is a bug and stops the run.
CLIP_ERRORS = (OSError, ValueError, RuntimeError, EOFError)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="*", metavar="VIDEO", help="video files (mp4, ...)")
    parser.add_argument(
        "--manifest",
        type=Path,
        help="CSV or JSONL with one clip per row: video, audio, face, subtitle (and optional name); "
        "paths relative to the manifest",
    )
    sub = parser.add_mutually_exclusive_group()
    sub.add_argument("--subtitle", help="subtitle text, used for every VIDEO argument")
    sub.add_argument(
        "--subtitle-file", type=Path, help="UTF-8 text file with the subtitle, used for every VIDEO argument"
    )
    parser.add_argument(
        "--audio", type=Path, help="separate audio file for the VIDEO arguments (default: their own track)"
    )
    parser.add_argument("--task", choices=("description", "ovlabel"), default="description")
    parser.add_argument("--model", help="model folder or Hub id (default: the embedded affectgpt-tiny-synth)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON list instead of text")
    out.add_argument("--jsonl", action="store_true", help="print one JSON object per clip, as each finishes")
    parser.add_argument("--decoding", choices=("greedy", "official"), default="greedy")
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="seed for --decoding official")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: GPU when present)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _subtitle(args) -> str | None:
    if args.subtitle_file is None:
        return args.subtitle
    return read_text_file(args.subtitle_file, MAX_SUBTITLE_BYTES, "subtitle file").strip()


def _clips(args) -> list[dict]:
    """Every clip to describe, checked before the model loads (seconds saved on every typo)."""
    if not args.videos and args.manifest is None:
        raise CLIError("give VIDEO files and/or --manifest FILE")
    if not args.videos and (args.subtitle is not None or args.subtitle_file or args.audio):
        raise CLIError(
            "--subtitle, --subtitle-file and --audio apply to VIDEO arguments; a manifest row has its own"
        )
    for video in args.videos:
        if not Path(video).is_file():
            raise CLIError(f"video file not found: {video}")
    if args.audio is not None and not args.audio.is_file():
        raise CLIError(f"audio file not found: {args.audio}")
    subtitle = _subtitle(args)
    audio = str(args.audio) if args.audio else None
    clips = [
        {"video": v, "audio": audio, "face": None, "subtitle": subtitle, "name": Path(v).name}
        for v in args.videos
    ]
    if args.manifest is not None:
        clips += read_manifest(args.manifest)
    return clips


def _summary(names: list[str]) -> str:
    more = f", ... ({len(names) - SUMMARY_NAMES} more)" if len(names) > SUMMARY_NAMES else ""
    return ", ".join(names[:SUMMARY_NAMES]) + more


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


class _Describer:
    """Runs the pipeline batch by batch; a failing batch is retried clip by clip so one bad clip costs only
    its own answer."""

    def __init__(self, pipe, args):
        self.pipe, self.args = pipe, args

    def _run(self, clips: list[dict], seed: int):
        args = self.args
        return self.pipe(
            clips,
            task=args.task,
            batch_size=len(clips),
            decoding=args.decoding,
            max_new_tokens=args.max_new_tokens,
            seed=seed,
        )

    def batch(self, clips: list[dict], start: int) -> list[tuple[object | None, str | None]]:
        """(ClipResult, None) or (None, error) per clip. Seeds follow the clip's position, as one whole call."""
        try:
            return [(r, None) for r in self._run(clips, self.args.seed + start)]
        except CLIP_ERRORS as err:
            if len(clips) == 1:
                return [(None, _one_line(err))]
        return [self.batch([clip], start + i)[0] for i, clip in enumerate(clips)]


def _record(clip: dict, result, error: str | None, task: str, visual_input: str, extractor_note) -> dict:
    used = clip_modalities(clip, visual_input)
    # A failed clip's error says what is wrong; notes about its missing modalities would only add noise.
    notes = modality_notes(clip, used, visual_input) if error is None else []
    if result is None:
        record = {"name": clip["name"], "text": None, "emotions": None, "sentiment": None, "task": task}
    else:
        record = result.to_dict()
        if record["emotions"] is None and extractor_note:
            notes.append(f"no emotion words: {extractor_note}")
    record["name"] = clip["name"]  # the name the user gave (file name or manifest `name`)
    record["modalities"] = used
    record["note"] = "; ".join(notes) or None
    record["error"] = error
    return record


def _print_text(record: dict, first: bool) -> None:
    if not first:
        print()
    print(f"== {record['name']}")
    print(f"modalities: {', '.join(record['modalities']) or '(none)'}")
    if record["error"]:
        print(f"error: {record['error']}")
        return
    print(record["text"] or "(empty answer)")
    if record["emotions"] is not None:
        print(f"emotions: {', '.join(record['emotions']) or '(none found)'}")
        print(f"sentiment: {record['sentiment']}")


def _notes_to_stderr(records: list[dict]) -> None:
    for label, key in (
        ("without audio (the no-audio prompt was used)", "audio"),
        ("without a subtitle", "subtitle"),
    ):
        names = [r["name"] for r in records if key not in r["modalities"] and not r["error"]]
        if names:
            print(f"note: {len(names)} clip(s) {label}: {_summary(names)}", file=sys.stderr)
    failed = [f"{r['name']} ({r['error']})" for r in records if r["error"]]
    if failed:
        print(f"error: {len(failed)} of {len(records)} clip(s) failed: {_summary(failed)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise CLIError("--max-new-tokens must be >= 1")
    if args.batch_size < 1:
        raise CLIError("--batch-size must be >= 1")
    clips = _clips(args)

    from tqdm import tqdm

    from affectgpt.inference import AffectGPTPipeline

    pipe = AffectGPTPipeline.from_pretrained(args.model, device=args.device)
    visual_input = getattr(pipe.processor, "visual_input", "frame")
    describer = _Describer(pipe, args)
    records: list[dict] = []
    bar = tqdm(
        total=len(clips), desc="describe", unit="clip", file=sys.stderr, disable=args.no_progress or None
    )
    # One packed CPU head for the whole run, not one per batch (the pipeline is called batch by batch).
    with bar, pipe.fixed_weights():
        for start in range(0, len(clips), args.batch_size):
            batch = clips[start : start + args.batch_size]
            for clip, (result, error) in zip(batch, describer.batch(batch, start)):
                record = _record(clip, result, error, args.task, visual_input, pipe.extractor_note)
                if args.jsonl:  # written as it comes: a later crash loses nothing already done
                    bar.write(json.dumps(record, ensure_ascii=False), file=sys.stdout)
                    sys.stdout.flush()
                elif not args.json:
                    with bar.external_write_mode(file=sys.stdout):
                        _print_text(record, first=not records)
                records.append(record)
            bar.update(len(batch))
    if args.json:
        json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
        print()
    if pipe.extractor is None:
        print(f"note: no emotion words extracted: {pipe.extractor_note}", file=sys.stderr)
    _notes_to_stderr(records)
    return 1 if any(r["error"] for r in records) else 0
