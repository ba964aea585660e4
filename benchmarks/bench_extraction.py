"""Offline lexicon extraction vs the official LLM extraction, on the released model's real answers.

Usage: python benchmarks/bench_extraction.py [--outputs ../shared/mer_unibench/official_outputs] [--wheel-dir DIR]
For every dataset folder and checkpoint there (see its README), the model's answers go through
`LexiconExtractor.extract` / `.to_sentiment` and are compared with the official LLM's lists and polarities:
- sentiment agreement: our positive/negative/neutral equals the official label (sentiment datasets only), and
  the same on positive vs the rest (the only split the official sentiment score uses);
- the same agreement when our polarity rule reads the official lists instead of ours ("rule alone"): what the
  polarity rule gets wrong by itself, with the list differences taken out;
- EW F-score / precision / recall of our lists against the official lists as references (the MER-UniBench
  fine-grained metric, level 1), and the share of identical lists (as parsed label lists).
Numbers are pooled over all checkpoints of a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from metrics.extraction import LexiconExtractor
from metrics.mer_unibench import fine_grained_scores, parse_labels
from metrics.official_outputs import official_checkpoints, read_official_outputs

__all__ = ["agreement", "main"]

DEFAULT_OUTPUTS = Path(__file__).resolve().parents[2] / "shared" / "mer_unibench" / "official_outputs"


def agreement(folder: Path, extractor: LexiconExtractor) -> dict[str, float]:
    ours, theirs, sent_ours, sent_rule, sent_theirs = [], [], [], [], []
    for checkpoint in official_checkpoints(folder):
        out = read_official_outputs(checkpoint)
        names = sorted(out.reasons)
        lists = extractor.extract([out.reasons[n] for n in names])
        ours += lists
        official_lists = [parse_labels(out.openset[n]) for n in names]
        theirs += official_lists
        if out.sentiment is not None:
            sent_ours += extractor.to_sentiment(lists)
            sent_rule += extractor.to_sentiment(official_lists)
            sent_theirs += [out.sentiment[n] for n in names]
    row = {"answers": len(ours)}
    row.update(fine_grained_scores(ours, theirs, tables=extractor.tables))
    row["identical"] = sum(a == b for a, b in zip(ours, theirs)) / len(ours)
    if sent_theirs:
        row["sentiment"] = sum(a == b for a, b in zip(sent_ours, sent_theirs)) / len(sent_ours)
        row["positive_vs_rest"] = sum(
            (a == "positive") == (b == "positive") for a, b in zip(sent_ours, sent_theirs)
        ) / len(sent_ours)
        row["rule_alone"] = sum(a == b for a, b in zip(sent_rule, sent_theirs)) / len(sent_rule)
    return row


def main(argv=None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS)
    parser.add_argument("--wheel-dir", default=None)
    args = parser.parse_args(argv)
    extractor = LexiconExtractor(args.wheel_dir)
    rows = {}
    for folder in sorted(p for p in args.outputs.iterdir() if p.is_dir()):
        rows[folder.name] = row = agreement(folder, extractor)
        sentiment = (
            f"sentiment {row['sentiment']:.3f} (positive vs rest {row['positive_vs_rest']:.3f}; rule alone "
            f"{row['rule_alone']:.3f})"
            if "sentiment" in row
            else "sentiment -"
        )
        print(
            f"{folder.name:11s} {row['answers']:6d} answers | EW F {row['fscore']:.4f} P {row['precision']:.4f} "
            f"R {row['recall']:.4f} | identical {row['identical']:.3f} | {sentiment}"
        )
    return rows


if __name__ == "__main__":
    main()
