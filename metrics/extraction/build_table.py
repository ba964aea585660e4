"""Build the fitted extraction table (fitted_table.py) from the official AffectGPT outputs.

    python -m metrics.extraction.build_table ../shared/mer_unibench/official_outputs

The official LLM stage (metrics/mer_unibench/README.md, "Label extraction") drops some words from the model's
answers and maps each list to a polarity; both are close to deterministic functions of their input, but not ones
the emotion wheels spell out. This fits two small logistic regressions to what the official stage did on the
released model's answers and writes their weights:
- keep: per answer word, P(the official list keeps it) from the word itself and its place (list length, index);
  fitted on every dataset folder's answers against the official lists;
- sentiment: per list, positive / negative / neutral from the wheel-only rule's score (the position-weighted sum
  of wheel valences) and a correction per word and per pair of words named; fitted on the official lists and
  polarities of the sentiment datasets.
Features seen fewer than *_MIN_COUNT times get no weight of their own (such words count through the place terms
or the wheel score alone), so the table does not memorise single samples. The fit is plain full-batch gradient descent with
a fixed number of steps (no library here fits a logistic regression without a new dependency), so the table is a
deterministic function of the files; weights are rounded to 3 decimals.

The outputs are read only through metrics.official_outputs (restricted unpickling) and sha256-checked against
the folder's SHA256SUMS; the table records each file's sha256, the upstream commit and the licence."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..mer_unibench.build_table import table_module, write_atomically
from ..mer_unibench.parse import parse_labels
from ..mer_unibench.sources import UPSTREAM_COMMIT
from ..official_outputs import official_checkpoints, read_official_outputs
from .lexicon import LexiconExtractor, keep_features, sentiment_features

__all__ = [
    "DEFAULT_OUT",
    "SENTIMENT_CLASSES",
    "build_table",
    "fit_keep",
    "fit_sentiment",
    "main",
    "read_folder",
    "render_module",
    "sample_names",
]

DEFAULT_OUT = Path(__file__).resolve().with_name("fitted_table.py")
TABLE_FORMAT = 2
UPSTREAM = "https://github.com/zeroQiaoba/AffectGPT"
UPSTREAM_PATH = "AffectGPT/output/results-<dataset>/<run>/"
LICENSE = "Apache-2.0"
LICENSE_NOTE = "research preview, non-commercial use only"
SENTIMENT_CLASSES = ("positive", "negative", "neutral")
# A feature must occur this often in the fit to get its own weight.
KEEP_MIN_COUNT = 20
SENTIMENT_MIN_COUNT = 5
L2 = 1e-4
STEPS = 500


def _fit_softmax(
    rows: list[list[int]], extra: np.ndarray | None, y: np.ndarray, n_features: int, n_classes: int
):
    """Softmax regression by full-batch Adam (fixed steps, so deterministic): one-hot features per row (`rows`,
    feature ids) plus optional dense columns (`extra`); returns (one-hot weights, dense weights, bias)."""
    n = len(rows)
    ri = np.repeat(np.arange(n), [len(r) for r in rows])
    fi = np.fromiter((f for r in rows for f in r), dtype=np.int64, count=len(ri))
    extra = np.zeros((n, 0)) if extra is None else extra
    params = [np.zeros((n_features, n_classes)), np.zeros((extra.shape[1], n_classes)), np.zeros(n_classes)]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    target = np.eye(n_classes)[y]
    for step in range(1, STEPS + 1):
        w, v, b = params
        z = np.stack([np.bincount(ri, weights=w[fi, c], minlength=n) for c in range(n_classes)], axis=1)
        z = z + extra @ v + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        r = (p - target) / n
        grads = [
            np.stack(
                [np.bincount(fi, weights=r[ri, c], minlength=n_features) for c in range(n_classes)], axis=1
            )
            + L2 * w,
            extra.T @ r + L2 * v,
            r.sum(axis=0),
        ]
        for param, grad, (m, s) in zip(params, grads, moments):
            m *= 0.9
            m += 0.1 * grad
            s *= 0.999
            s += 0.001 * grad * grad
            param -= 0.1 * (m / (1 - 0.9**step)) / (np.sqrt(s / (1 - 0.999**step)) + 1e-8)
    return params


def _vocabulary(samples: list[list[str]], min_count: int) -> dict[str, int]:
    counts = Counter(f for feats in samples for f in feats)
    return {f: i for i, f in enumerate(sorted(f for f, c in counts.items() if c >= min_count))}


def fit_keep(answers: Sequence[Sequence[str]], official: Sequence[Sequence[str]]) -> dict:
    """Logit of "the official list keeps this answer word": bias + weight of the word + weight of its place."""
    samples, kept = [], []
    for words, theirs in zip(answers, official):
        theirs = set(theirs)
        for i, word in enumerate(words):
            samples.append(list(keep_features(words, i)))
            kept.append(int(word in theirs))
    if not samples:
        raise ValueError("no answer words to fit the keep rule on")
    vocab = _vocabulary(samples, KEEP_MIN_COUNT)
    rows = [[vocab[f] for f in feats if f in vocab] for feats in samples]
    w, _, b = _fit_softmax(rows, None, np.array(kept), len(vocab), 2)
    weights = w[:, 1] - w[:, 0]
    return {
        "bias": round(float(b[1] - b[0]), 3),
        "features": {f: round(float(weights[i]), 3) for f, i in vocab.items()},
    }


def fit_sentiment(
    lists: Sequence[Sequence[str]], labels: Sequence[str], wheel_score: Callable[[Sequence[str]], float]
) -> dict:
    """Per-class scores: bias + a weight times `wheel_score(list)` (the wheel-only rule's score) + the weights
    of the distinct words named + the weights of the pairs of distinct words named (the LLM weighs combinations:
    "excited, nervous" is neutral to it, "excited, tense" negative). Samples whose label is not one of
    SENTIMENT_CLASSES (the LLM's rare "mixed") and empty lists (always neutral, a rule of its own) are left out
    of the fit."""
    labelled = [(list(w), y) for w, y in zip(lists, labels) if w and y in SENTIMENT_CLASSES]
    if not labelled:
        raise ValueError("no labelled lists to fit the sentiment rule on")
    samples = [sentiment_features(words) for words, _ in labelled]
    vocab = _vocabulary(samples, SENTIMENT_MIN_COUNT)
    rows = [[vocab[f] for f in feats if f in vocab] for feats in samples]
    score = np.array([[wheel_score(words)] for words, _ in labelled])
    y = np.array([SENTIMENT_CLASSES.index(label) for _, label in labelled])
    w, v, b = _fit_softmax(rows, score, y, len(vocab), len(SENTIMENT_CLASSES))
    weights = {f: [round(float(x), 3) for x in w[i]] for f, i in vocab.items()}
    return {
        "classes": list(SENTIMENT_CLASSES),
        "bias": [round(float(x), 3) for x in b],
        "wheel_score": [round(float(x), 3) for x in v[0]],
        "words": {f[0]: row for f, row in weights.items() if len(f) == 1},
        "pairs": [[*f, row] for f, row in weights.items() if len(f) == 2],
    }


def _samples(folder: Path):
    """(sample name, the model's answer, the official list, the official polarity or None), checkpoint by
    checkpoint, names sorted."""
    for checkpoint in official_checkpoints(folder):
        out = read_official_outputs(checkpoint)
        if out.openset is None:
            raise ValueError(f"{checkpoint}: no -openset.npz beside it (the official lists are needed)")
        for name in sorted(out.reasons):
            sentiment = None if out.sentiment is None else out.sentiment[name]
            yield name, out.reasons[name], parse_labels(out.openset[name]), sentiment


def read_folder(folder: Path) -> list[tuple[str, list[str], str | None]]:
    """(the model's answer, the official list, the official polarity or None) for every checkpoint's sample."""
    return [row[1:] for row in _samples(folder)]


def sample_names(folder: Path) -> list[str]:
    """The sample name of each row of `read_folder(folder)`, in its order."""
    return [row[0] for row in _samples(folder)]


def _checked_sums(root: Path) -> dict[str, str]:
    """sha256 of every .npz under root, checked against root/SHA256SUMS."""
    sums_file = root / "SHA256SUMS"
    if not sums_file.is_file():
        raise FileNotFoundError(
            f"no SHA256SUMS in {root} (the official outputs folder lists its files there)"
        )
    listed = {}
    for line in sums_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            sha, name = line.split(maxsplit=1)
            listed[name.strip().lstrip("*")] = sha
    sums = {}
    for path in sorted(root.glob("*/*.npz")):
        name = path.relative_to(root).as_posix()
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if listed.get(name) != sha:
            raise ValueError(f"{path}: sha256 {sha} is not the one SHA256SUMS lists ({listed.get(name)})")
        sums[name] = sha
    if not sums:
        raise ValueError(f"{root}: no official output files (<dataset>/<ckpt>.npz)")
    return sums


def inputs_digest(files: dict[str, str]) -> str:
    """sha256 of the "sha256  path" listing of the input files (one line each, sorted by path)."""
    listing = "".join(f"{sha}  {name}\n" for name, sha in sorted(files.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def build_table(root: str | os.PathLike, wheel_score: Callable[[Sequence[str]], float], answer_words) -> dict:
    """The fitted table from the official outputs folder. `answer_words(text)` is the extractor's word list
    before the keep rule, `wheel_score(words)` its wheel-only sentiment score (LexiconExtractor(fitted=None))."""
    root = Path(root)
    files = _checked_sums(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    answers, official, lists, labels = [], [], [], []
    for folder in folders:
        for answer, theirs, sentiment in read_folder(folder):
            answers.append(answer_words(answer))
            official.append(theirs)
            if sentiment is not None:
                lists.append(theirs)
                labels.append(sentiment)
    return {
        "format": TABLE_FORMAT,
        "provenance": {
            "upstream": UPSTREAM,
            "commit": UPSTREAM_COMMIT,
            "path": UPSTREAM_PATH,
            "datasets": [p.name for p in folders],
            "inputs_sha256": inputs_digest(files),
            "files": files,
            "license": LICENSE,
            "license_note": LICENSE_NOTE,
            "copyright": "the AffectGPT authors (Zheng Lian et al.)",
        },
        "keep": fit_keep(answers, official),
        "sentiment": fit_sentiment(lists, labels, wheel_score),
    }


def render_module(table: dict) -> str:
    """The table as a Python module (deterministic JSON, one weight per line, for reviewable diffs)."""
    dumps = json.dumps
    keep, sentiment, prov = table["keep"], table["sentiment"], table["provenance"]
    body = ",\n".join(
        [
            f'"format": {dumps(table["format"])}',
            '"provenance": {\n'
            + ",\n".join(f"{dumps(k)}: {dumps(v)}" for k, v in sorted(prov.items()) if k != "files")
            + ',\n"files": {\n'
            + ",\n".join(f"{dumps(k)}: {dumps(v)}" for k, v in sorted(prov["files"].items()))
            + "\n}\n}",
            '"keep": {\n'
            f'"bias": {dumps(keep["bias"])},\n"features": {{\n'
            + ",\n".join(f"{dumps(k)}: {dumps(v)}" for k, v in keep["features"].items())
            + "\n}\n}",
            '"sentiment": {\n'
            + ",\n".join(f"{dumps(k)}: {dumps(sentiment[k])}" for k in ("classes", "bias", "wheel_score"))
            + ',\n"words": {\n'
            + ",\n".join(f"{dumps(k)}: {dumps(v)}" for k, v in sentiment["words"].items())
            + '\n},\n"pairs": [\n'
            + ",\n".join(dumps(row) for row in sentiment["pairs"])
            + "\n]\n}",
        ]
    )
    return table_module(
        "Fitted label-extraction table, GENERATED by build_table.py from the official outputs; do not edit.\n\n"
        f"Source: {prov['upstream']} at commit {prov['commit']}, {prov['path']}\n"
        f"(datasets {', '.join(prov['datasets'])}); sha256 of the inputs' listing {prov['inputs_sha256']}\n"
        "(each file's sha256 is in the provenance below).\n"
        f"Licence: {prov['license']} ({prov['license_note']}); copyright {prov['copyright']}. See NOTICE.\n"
        "Fitted weights only; the official output files are not redistributed.",
        "{\n" + body + "\n}\n",
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "outputs", type=Path, help="the official outputs folder (<dataset>/<ckpt>.npz, SHA256SUMS)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="fitted_table.py (default)")
    args = parser.parse_args(argv)
    lexicon = LexiconExtractor(fitted=None)
    try:
        table = build_table(args.outputs, lexicon.wheel_score, lexicon.extract_one)
    except (OSError, ValueError) as err:
        print(f"build_table: {err}", file=sys.stderr)
        return 2
    write_atomically(args.out, render_module(table))
    print(
        f"wrote {args.out} ({len(table['keep']['features'])} keep features, "
        f"{len(table['sentiment']['words'])} sentiment words, {len(table['sentiment']['pairs'])} word pairs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
