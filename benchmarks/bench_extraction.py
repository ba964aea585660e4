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
Each dataset is scored three ways: with the wheel-only rules (`fitted=None`), with the shipped fitted table
(in-sample: it was fitted on these very outputs), and leave-one-dataset-out (LODO): the keep rule refitted on the
other four folders and the sentiment rule on the other sentiment dataset (build_table's fit functions), so the
left-out folder plays a dataset the fit never saw. LODO is the estimate for datasets outside this folder.
Numbers are pooled over all checkpoints of a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from metrics.extraction import LexiconExtractor
from metrics.extraction.build_table import fit_keep, fit_sentiment, read_folder
from metrics.mer_unibench import fine_grained_scores

__all__ = ["agreement", "lodo_extractors", "main"]

DEFAULT_OUTPUTS = Path(__file__).resolve().parents[2] / "shared" / "mer_unibench" / "official_outputs"


def agreement(rows, extractor: LexiconExtractor) -> dict[str, float]:
    """rows: (answer, official list, official polarity or None) as `read_folder` gives them."""
    ours = extractor.extract([answer for answer, _, _ in rows])
    theirs = [official for _, official, _ in rows]
    row = {"answers": len(ours)}
    row.update(fine_grained_scores(ours, theirs, tables=extractor.tables))
    row["identical"] = sum(a == b for a, b in zip(ours, theirs)) / len(ours)
    labelled = [i for i, (_, _, sentiment) in enumerate(rows) if sentiment is not None]
    if labelled:
        gold = [rows[i][2] for i in labelled]
        sent_ours = extractor.to_sentiment([ours[i] for i in labelled])
        sent_rule = extractor.to_sentiment([theirs[i] for i in labelled])
        row["sentiment"] = sum(a == b for a, b in zip(sent_ours, gold)) / len(gold)
        row["positive_vs_rest"] = sum(
            (a == "positive") == (b == "positive") for a, b in zip(sent_ours, gold)
        ) / len(gold)
        row["rule_alone"] = sum(a == b for a, b in zip(sent_rule, gold)) / len(gold)
    return row


def lodo_extractors(data: dict[str, list], base: LexiconExtractor) -> dict[str, LexiconExtractor]:
    """Per dataset, an extractor whose table was fitted without that dataset's outputs."""
    words = {name: [base.extract_one(answer) for answer, _, _ in rows] for name, rows in data.items()}
    out = {}
    for held_out in data:
        others = [name for name in data if name != held_out]
        keep = fit_keep(
            [w for name in others for w in words[name]],
            [official for name in others for _, official, _ in data[name]],
        )
        labelled = [(official, s) for name in others for _, official, s in data[name] if s is not None]
        sentiment = fit_sentiment([o for o, _ in labelled], [s for _, s in labelled], base.wheel_score)
        out[held_out] = LexiconExtractor(tables=base.tables, fitted={"keep": keep, "sentiment": sentiment})
    return out


def _line(name: str, mode: str, row: dict[str, float]) -> str:
    sentiment = (
        f"sentiment {row['sentiment']:.3f} (positive vs rest {row['positive_vs_rest']:.3f}; rule alone "
        f"{row['rule_alone']:.3f})"
        if "sentiment" in row
        else "sentiment -"
    )
    return (
        f"{name:11s} {mode:10s} {row['answers']:6d} answers | EW F {row['fscore']:.4f} P {row['precision']:.4f} "
        f"R {row['recall']:.4f} | identical {row['identical']:.3f} | {sentiment}"
    )


def main(argv=None) -> dict[str, dict[str, dict[str, float]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS)
    parser.add_argument("--wheel-dir", default=None)
    args = parser.parse_args(argv)
    fitted = LexiconExtractor(args.wheel_dir)
    wheel_only = LexiconExtractor(tables=fitted.tables, fitted=None)
    data = {p.name: read_folder(p) for p in sorted(p for p in args.outputs.iterdir() if p.is_dir())}
    lodo = lodo_extractors(data, wheel_only)
    results = {}
    for name, rows in data.items():
        results[name] = {
            "wheel-only": agreement(rows, wheel_only),
            "in-sample": agreement(rows, fitted),
            "LODO": agreement(rows, lodo[name]),
        }
        for mode, row in results[name].items():
            print(_line(name, mode, row))
    return results


if __name__ == "__main__":
    main()
