"""Modality ablation for a model on a synth-mer style test split: score it with all inputs, then with the video
frames, the audio or the subtitle removed (the processor then uses the official prompt variant without it).

    python benchmarks/ablate_modalities.py --model DIR --data TEST_SPLIT_DIR --out DIR

"No audio" needs a video without an audio track: the mp4s are remuxed (stream copy, no re-encode) with their
video stream only, since the processor otherwise reads the audio track of the mp4 itself."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import av
import pyarrow as pa
import pyarrow.parquet as pq

from affectgpt.cli import main as cli_main
from dataset_scripts.card import render_card
from dataset_scripts.synth_mer import synth_card
from dataset_scripts.writer import content_fingerprint

CONFIG = "synth-mer"


def video_only_copy(src: Path, dst: Path) -> None:
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = stream
            out.mux(packet)


def make_variant(data: Path, out: Path, drop: str) -> Path:
    """A copy of the dataset's test split with one modality (or, for "none", nothing) removed; media paths
    made absolute."""
    shard = next((data / CONFIG).glob("test-*.parquet"))
    table = pq.read_table(shard)
    rows = table.to_pylist()
    media = out / "media"
    media.mkdir(parents=True, exist_ok=True)
    for row in rows:
        video = str((data / row["video"]["path"]).resolve())
        audio = str((data / row["audio"]["path"]).resolve()) if row.get("audio") else None
        if drop == "video":
            video = None
        elif drop == "audio":
            silent = media / Path(video).name
            video_only_copy(Path(video), silent)
            video, audio = str(silent), None
        elif drop == "subtitle":
            row["subtitle"] = ""
        row["video"] = {"path": video, "bytes": None} if video else None
        row["audio"] = {"path": audio, "bytes": None} if audio else None
    (out / CONFIG).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), out / CONFIG / shard.name)
    # A card of its own: the source's card may also declare a train split, which this copy does not have.
    fingerprints = {CONFIG: content_fingerprint(out / CONFIG)}  # each variant is its own cache entry
    (out / "README.md").write_text(
        render_card(synth_card(), {CONFIG: {"test": len(rows)}}, fingerprints=fingerprints)
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument(
        "--data", required=True, type=Path, help="a synth-mer dataset folder with a test split"
    )
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    table = {}
    for drop in ("none", "video", "audio", "subtitle"):
        data = make_variant(args.data, args.out / f"data-no-{drop}", drop)
        res_dir = args.out / f"results-no-{drop}"
        code = cli_main(
            [
                "bench",
                "--model",
                args.model,
                "--data",
                str(data),
                "--datasets",
                CONFIG,
                "--out",
                str(res_dir),
                "--batch-size",
                "16",
                "--no-progress",
            ]
        )
        if code:
            raise SystemExit(code)
        row = next(r for r in json.loads((res_dir / "results.json").read_text())["datasets"])
        table[drop] = row
    print("\n| removed | HIT | sentiment weighted-F1 | sentiment acc | EW F-score |")
    print("|---|---:|---:|---:|---:|")
    for drop, row in table.items():
        m = row.get("metrics", row)
        cells = [m.get(key) for key in ("hit_rate", "weighted_f1", "accuracy", "fscore")]
        # The EW F-score is undefined (None) when no prediction has a word on the wheel.
        print(f"| {drop} | " + " | ".join("n/a" if v is None else f"{100 * v:.2f}" for v in cells) + " |")


if __name__ == "__main__":
    main()
