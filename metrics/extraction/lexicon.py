"""Offline label extraction: emotion words of the MER-UniBench variant map found in free text.

Deterministic and model-free, so it is the default wherever no LLM is at hand (tests, the Space, quick benches).
Matches are whole words, longest phrase first ("at a loss for words" before "loss"); a match preceded in its clause
by a negator ("not happy", "isn't angry", "never afraid") is dropped. Besides the variant-map keys, "neutral" is a
label: it lies outside the variant map (so it scores as nothing, as officially: skipped as a basic reference, no
sector as a prediction) but the official LLM lists it and its sentiment stage reads it. The answer format the model
is trained on, "The character's emotional state is a, b, c.", is parsed instead.

By default two rules fitted to the official LLM stage's real outputs (fitted_table.py, built by build_table.py)
imitate it. Lists: each answer word of that format gets a fitted probability that the LLM keeps it, and the
subset with the highest expected EW F-score against the LLM's list is reported (expected_f.py; never without
"neutral", never empty). Polarity: a list naming exactly one of "positive" / "negative" takes it (as the LLM does
for 99% of such lists); otherwise the wheel-only score with fitted corrections per word and per pair of words
(words and pairs the fit never saw count through the wheel score alone).
`fitted=None` gives the wheel-only rules (all words kept; position-weighted sum of wheel valences).

How far this is from the official LLM stage, per dataset: metrics/mer_unibench/README.md ("Label extraction");
`benchmarks/bench_extraction.py` measures it."""

from __future__ import annotations

import copy
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from itertools import combinations

import numpy as np

from ..mer_unibench.wheel import NUM_WHEELS, WheelTables, load_wheels
from .expected_f import MAX_WORDS, best_subset

__all__ = [
    "BUNDLED_FIT",
    "EXTRA_LABELS",
    "NEGATIVE_SECTORS",
    "POSITIVE_SECTORS",
    "LexiconExtractor",
    "keep_features",
    "load_fitted_table",
    "parse_ov_sentence",
    "sentiment_features",
]

POSITIVE_SECTORS = frozenset({"happy", "joyful", "peaceful", "powerful", "joy", "genius"})
NEGATIVE_SECTORS = frozenset(
    {"mad", "angry", "sad", "scared", "fearful", "disgusted", "disgust", "anger", "fear", "bad"}
)

# Labels outside the variant map that the official extraction still reports (see the module docstring).
EXTRA_LABELS = ("neutral",)
# The wheel-only rule (fitted=None). Sentiment: the i-th word weighs 1 + i * RECENCY (the official LLM leans towards the later words of a list), and a
# list naming "neutral" stays neutral unless its weighted valence exceeds NEUTRAL_MARGIN per word. Both were chosen
# on cmumosi's official outputs and checked on sims (metrics/mer_unibench/README.md, "Label extraction").
RECENCY = 0.25
NEUTRAL_MARGIN = 1.0

_OV_SENTENCE = re.compile(r"the character['’]s emotional state is\s+([^.\n]*)", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*|[.,;:!?()\"]")
_NEGATORS = frozenset(
    {"not", "no", "never", "nor", "without", "hardly", "barely", "cannot", "neither", "none", "lack", "lacks"}
)
# A negation stops at the end of its clause or at a contrast: "not angry but happy" keeps "happy".
_SCOPE_BREAKS = frozenset(
    {"but", "yet", "though", "although", "however", "instead", "rather", "while", "whereas"}
)


BUNDLED_FIT = "bundled"
_FIT_FORMAT = 2
# Distinct answer lists whose choice an extractor remembers; cleared when full, so memory stays bounded.
_KEEP_CACHE = 1 << 16


def load_fitted_table() -> dict:
    """The fitted keep / sentiment weights shipped in fitted_table.py."""
    from .fitted_table import TABLE_JSON

    table = json.loads(TABLE_JSON)
    if table.get("format") != _FIT_FORMAT or not {"keep", "sentiment"} <= table.keys():
        raise ValueError(
            f"fitted_table.py: format {table.get('format')!r} is not {_FIT_FORMAT} with keep, sentiment "
            "(rebuild it: python -m metrics.extraction.build_table <official outputs>)"
        )
    return table


# Lists longer than this share the place features of the last index (long lists are rare).
MAX_PLACE = 8


def keep_features(words: Sequence[str], index: int) -> tuple[str, str]:
    """The keep rule's features of words[index]: "w=<word>" and its place "pos=<length>,<index>" (capped)."""
    length = min(len(words), MAX_PLACE)
    return f"w={words[index]}", f"pos={length},{min(index, length - 1)}"


def sentiment_features(words: Sequence[str]) -> list[tuple[str, ...]]:
    """The sentiment rule's features of a list: (word,) per distinct word, (a, b) per pair of them (a < b)."""
    distinct = sorted(set(words))
    return [(w,) for w in distinct] + list(combinations(distinct, 2))


def parse_ov_sentence(text: str) -> list[str] | None:
    """Labels of "The character's emotional state is a, b, c." (lowercased, in order), or None if absent."""
    match = _OV_SENTENCE.search(text)
    if match is None:
        return None
    return [item.strip().lower() for item in match.group(1).split(",") if item.strip()]


def _norm(word: str) -> str:
    return word.replace("’", "'")


def _is_negator(token: str) -> bool:
    return token in _NEGATORS or token.endswith("n't")


def _checked_fit(table) -> dict:
    """The table, if it has the layout build_table writes (sentiment may be None: lists only)."""
    if not isinstance(table, dict):
        raise ValueError(f"fitted must be {BUNDLED_FIT!r}, a table dict or None, got {type(table).__name__}")
    keep, sentiment = table.get("keep"), table.get("sentiment", None)
    if not isinstance(keep, dict) or not {"bias", "features"} <= keep.keys():
        raise ValueError("fitted table: 'keep' must be a dict with 'bias' and 'features'")
    if sentiment is not None:
        if (
            not isinstance(sentiment, dict)
            or not {"classes", "bias", "wheel_score", "words"} <= sentiment.keys()
        ):
            raise ValueError(
                "fitted table: 'sentiment' must be None or a dict with classes, bias, wheel_score, words"
            )
        n = len(sentiment["classes"])
        rows = [sentiment["bias"], sentiment["wheel_score"], *sentiment["words"].values()]
        rows += [row for *_, row in sentiment.get("pairs", ())]
        if any(len(row) != n for row in rows):
            raise ValueError(f"fitted table: every sentiment weight row must have one value per class ({n})")
    return table


def _sentiment_weights(fit: dict | None) -> dict[tuple[str, ...], list[float]]:
    """The sentiment table's word and pair weights keyed like `sentiment_features`."""
    if fit is None:
        return {}
    weights = {(word,): row for word, row in fit["words"].items()}
    weights.update({(a, b): row for a, b, row in fit.get("pairs", ())})
    return weights


class LexiconExtractor:
    """Free text -> emotion words (`extract`) and label lists -> positive/negative/neutral (`to_sentiment`).

    `fitted`: BUNDLED_FIT (the shipped fitted_table.py), a table dict of that layout (copied), or None (wheel-only
    rules)."""

    def __init__(
        self,
        wheel_dir: str | os.PathLike | None = None,
        *,
        tables: WheelTables | None = None,
        negation_window: int = 3,
        fitted: dict | str | None = BUNDLED_FIT,
    ) -> None:
        self.tables = tables if tables is not None else load_wheels(wheel_dir)
        self.negation_window = negation_window
        if isinstance(fitted, str):
            if fitted != BUNDLED_FIT:
                raise ValueError(f"fitted must be {BUNDLED_FIT!r}, a table dict or None, got {fitted!r}")
            fitted = load_fitted_table()  # a fresh dict, nobody else holds it
        elif fitted is not None:
            # A copy: the remembered choices below stay those of the table the extractor was built with.
            fitted = copy.deepcopy(fitted)
        self._fitted = None if fitted is None else _checked_fit(fitted)
        self._sentiment_weights = {} if fitted is None else _sentiment_weights(fitted.get("sentiment"))
        self._valences: dict[str, float] = {}
        # Answer lists repeat (a third of the official answers); the choice is a pure function of the list.
        self._kept: dict[tuple[str, ...], list[str]] = {}
        # Phrases as token tuples (curly apostrophes folded) -> the variant-map key to report.
        self._phrases: dict[tuple[str, ...], str] = {}
        for key in (*self.tables.variant_map, *EXTRA_LABELS):
            tokens = tuple(t for t in _TOKEN.findall(_norm(key.lower())))
            if tokens:
                self._phrases.setdefault(tokens, key)
        self._longest = max(len(t) for t in self._phrases)

    @property
    def fitted(self) -> dict | None:
        """The fitted table in use (a copy of the one given; None for the wheel-only rules)."""
        return self._fitted

    def extract_one(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        labels = parse_ov_sentence(text)
        if labels is not None:
            return self._keep(labels) if self.fitted is not None else labels
        tokens = _TOKEN.findall(_norm(text.lower()))
        found: list[str] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self._longest, len(tokens) - i), 0, -1):
                key = self._phrases.get(tuple(tokens[i : i + n]))
                if key is not None:
                    if not self._negated(tokens, i) and key not in found:
                        found.append(key)
                    i += n
                    break
            else:
                i += 1
        return found

    def keep_logits(self, words: Sequence[str]) -> list[float]:
        """Per word, the fitted logit of "the official LLM keeps it in its list" (word and place terms)."""
        keep = self.fitted["keep"]
        features = keep["features"]
        return [
            keep["bias"] + sum(features.get(f, 0.0) for f in keep_features(words, i))
            for i in range(len(words))
        ]

    def _keep(self, words: list[str]) -> list[str]:
        """The words to report of an answer-format list. Each word's keep probability (the fitted logit) goes
        into the expected-F choice (expected_f.py): the subset of the words that carry a sector with the highest
        expected EW F-score against the list the official LLM would write. Words without a sector change no
        score and are kept when the LLM more likely keeps them; "neutral" always (the sentiment rule reads it).
        Lists longer than MAX_WORDS keep that threshold rule for every word. A list is never emptied (an empty
        prediction scores precision 0): the best-kept word is then the better bet."""
        if not words:
            return words
        key = tuple(words)
        cached = self._kept.get(key)
        if cached is None:
            if len(self._kept) >= _KEEP_CACHE:
                self._kept.clear()
            cached = self._kept[key] = self._choose(words)
        return list(cached)

    def _choose(self, words: list[str]) -> list[str]:
        logits = self.keep_logits(words)
        kept = [z >= 0 or w in EXTRA_LABELS for w, z in zip(words, logits)]
        if len(words) <= MAX_WORDS:
            bits = np.stack([self._sector_bits(w) for w in words])
            prefer = sum(1 << j for j, keep in enumerate(kept) if keep)
            chosen = best_subset(bits, [1 / (1 + math.exp(-z)) for z in logits], prefer)
            kept = [bool(chosen >> j & 1) if bits[j].any() else keep for j, keep in enumerate(kept)]
        out = [w for w, keep in zip(words, kept) if keep]
        return out or [words[max(range(len(words)), key=logits.__getitem__)]]

    def _sector_bits(self, word: str) -> np.ndarray:
        """(5,) uint64: the word's level-1 sector bit per wheel (0: no sector), as the fine-grained metric sees it."""
        row = self.tables.vocab.get(word)
        if row is None:
            return np.zeros(NUM_WHEELS, dtype=np.uint64)
        return self.tables.sector_bits["level1"][row]

    def _negated(self, tokens: Sequence[str], start: int) -> bool:
        for token in reversed(tokens[max(0, start - self.negation_window) : start]):
            if token in _SCOPE_BREAKS or not token[0].isalnum():
                return False
            if _is_negator(token):
                return True
        return False

    def extract(self, texts: Iterable[str]) -> list[list[str]]:
        """One label list per text."""
        return [self.extract_one(text) for text in texts]

    def word_valence(self, word: str) -> float:
        """In [-1, 1]: the share of the five wheels whose level-1 sector for the word is positive minus the share
        whose sector is negative (surprised: neither). A word all wheels agree on outweighs a split one; the
        official LLM weighs such words the same way more often than a majority sign does."""
        valence = self._valences.get(word)
        if valence is None:
            votes = 0
            for wheel in range(1, NUM_WHEELS + 1):
                sector = self.tables.map_word(word, wheel, "level1")
                votes += (sector in POSITIVE_SECTORS) - (sector in NEGATIVE_SECTORS)
            valence = self._valences[word] = votes / NUM_WHEELS
        return valence

    def word_polarity(self, word: str) -> int:
        """+1/-1/0: the sign of `word_valence` (the majority over the wheels)."""
        valence = self.word_valence(word)
        return (valence > 0) - (valence < 0)

    def sentiment_one(self, labels: Sequence[str]) -> str:
        if isinstance(labels, str):
            raise TypeError("labels must be a list of words, not a string; use extract() first")
        words = [word.lower().strip() for word in labels]
        named = {"positive", "negative"}.intersection(words)
        if len(named) == 1:  # the list names its valence outright ("excited, nervous, positive")
            return named.pop()
        if self.fitted is not None:
            return self._fitted_sentiment(words)
        score = self.wheel_score(words)
        if "neutral" in words and abs(score) <= NEUTRAL_MARGIN * len(words):
            return "neutral"
        return "positive" if score > 0 else "negative" if score < 0 else "neutral"

    def wheel_score(self, words: Sequence[str]) -> float:
        """The wheel-only rule's score: the sum of word valences, word i weighted 1 + RECENCY * i."""
        return sum(self.word_valence(w) * (1 + RECENCY * i) for i, w in enumerate(words))

    def _fitted_sentiment(self, words: list[str]) -> str:
        if not words:  # the official LLM calls every empty list neutral (as its prompt's example does)
            return "neutral"
        fit = self.fitted["sentiment"]
        if fit is None:
            raise ValueError("this extractor's fitted table has no sentiment rule ('sentiment': None)")
        score = self.wheel_score(words)
        scores = [b + score * v for b, v in zip(fit["bias"], fit["wheel_score"])]
        for feature in sentiment_features(words):
            row = self._sentiment_weights.get(feature)
            if row is not None:
                scores = [s + w for s, w in zip(scores, row)]
        return fit["classes"][max(range(len(scores)), key=scores.__getitem__)]

    def to_sentiment(self, label_lists: Iterable[Sequence[str]]) -> list[str]:
        """positive/negative/neutral per label list. A list naming exactly one of "positive"/"negative" takes it.
        Otherwise, fitted (the default): an empty list is neutral, any other the class with the highest score,
        bias + a fitted weight times the wheel-only score (`wheel_score`) + the fitted weights of its distinct
        words and of their pairs (`sentiment_features`; those without a weight count through the wheel score
        only). Wheel-only (fitted=None): the sign of the position-weighted sum of word valences (word i weighs
        1 + RECENCY * i; 0 -> neutral), where a list naming "neutral" needs a clear margin to be polar."""
        return [self.sentiment_one(labels) for labels in label_lists]
