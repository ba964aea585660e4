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
Sentiment datasets are also scored in two folds by sample name (all checkpoints of a sample in one fold): each
half with the fit on the other folders and the dataset's other half, which tells whether a dataset's gap comes
from the fit not having seen its kind of answers. Numbers are pooled over all checkpoints of a dataset."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from metrics.extraction import LexiconExtractor
from metrics.extraction.build_table import fit_keep, fit_sentiment, read_folder, sample_names
from metrics.mer_unibench import fine_grained_scores

__all__ = ["agreement", "fold_extractors", "lodo_extractors", "main"]

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


def _extractor_fitted_on(rows: list, base: LexiconExtractor) -> LexiconExtractor:
    """An extractor whose table was fitted on these rows only (build_table's fit functions)."""
    keep = fit_keep(
        [base.extract_one(answer) for answer, _, _ in rows], [official for _, official, _ in rows]
    )
    labelled = [(official, s) for _, official, s in rows if s is not None]
    sentiment = fit_sentiment([o for o, _ in labelled], [s for _, s in labelled], base.wheel_score)
    return LexiconExtractor(tables=base.tables, fitted={"keep": keep, "sentiment": sentiment})


def lodo_extractors(data: dict[str, list], base: LexiconExtractor) -> dict[str, LexiconExtractor]:
    """Per dataset, an extractor whose table was fitted without that dataset's outputs."""
    return {
        held_out: _extractor_fitted_on([r for name in data if name != held_out for r in data[name]], base)
        for held_out in data
    }


def fold_extractors(data: dict[str, list], names: list[str], held: str, base: LexiconExtractor):
    """For the two folds of `held` by sample name: (the fold's rows, an extractor fitted on the other
    datasets and the other fold)."""
    fold = [int(hashlib.sha256(n.encode()).hexdigest(), 16) % 2 for n in names]
    others = [r for name in data if name != held for r in data[name]]
    out = []
    for f in (0, 1):
        train = [r for r, g in zip(data[held], fold) if g != f]
        test = [r for r, g in zip(data[held], fold) if g == f]
        out.append((test, _extractor_fitted_on(others + train, base)))
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
        if any(s is not None for _, _, s in rows):
            names = sample_names(args.outputs / name)
            for f, (test, extractor) in enumerate(fold_extractors(data, names, name, wheel_only)):
                results[name][f"fold {f}"] = agreement(test, extractor)
        for mode, row in results[name].items():
            print(_line(name, mode, row))
    return results


if __name__ == "__main__":
    main()
