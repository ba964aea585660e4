"""Emotion-wheel rewards for reinforcement fine-tuning (GRPO) on `<think>…</think><answer>…</answer>` completions.

Plain callables in TRL's reward-function form, `reward(completions, emotions=..., **kwargs) -> list[float]`, named
after what they score (TRL logs each one under `rewards/<name>/mean`):

  * format    - 1 when the completion is a non-empty `<think>` block followed by a non-empty `<answer>` block;
  * accuracy  - emotion-wheel F-score of the answer's labels against the ground-truth labels;
  * dual      - the same F-score for the labels found in the think block;
  * alignment - emotion-wheel Jaccard between the think labels and the answer labels;
  * length    - 0 up to `max_words` words, then down linearly to -1 at twice that.

Labels are mapped with the scorer's own tables (`WheelTables`, official `func_backward_case3`) at level 1 or 2,
per wheel, and the per-wheel values averaged over the five wheels. Per sample (a reward is per completion):
P = |Y∩Ŷ|/|Ŷ| (0 when Ŷ is empty), R = |Y∩Ŷ|/|Y|, F = 2PR/(P+R), 0 when P = R = 0 where the scorer has NaN. A
reference that maps to nothing on a wheel (e.g. "neutral") is skipped by the scorer; a reward must still say
something there, so that wheel scores 1 when the prediction maps to nothing too (e.g. "neutral") and 0 when it
names a wheel emotion. A completion without the tags, or with an empty block, scores 0 on every reward that
reads that block. Label extraction is the offline lexicon extractor unless another extractor is given (anything
with `extract(texts) -> label lists`, e.g. `LLMExtractor`)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .extraction.lexicon import LexiconExtractor
from .mer_unibench.parse import parse_labels
from .mer_unibench.wheel import LEVELS, NUM_WHEELS, WheelTables, load_wheels

__all__ = [
    "ANSWER_TAGS",
    "REWARD_NAMES",
    "THINK_TAGS",
    "EmotionWheelRewards",
    "ReasoningParts",
    "format_reasoning",
    "split_reasoning",
]

THINK_TAGS = ("<think>", "</think>")
ANSWER_TAGS = ("<answer>", "</answer>")
REWARD_NAMES = ("accuracy", "dual", "alignment", "format", "length")

# Whole-completion form: optional whitespace, one think block, optional whitespace, one answer block, and at most
# the generation's stop string after it (TRL decodes the "###" stop token with the completion).
_REASONING = re.compile(
    r"\s*<think>(?P<think>.*?)</think>\s*<answer>(?P<answer>.*?)</answer>\s*(?:###\s*)?",
    re.DOTALL,
)

# Word counting treats the tags and the stop string as separators, not as words.
_TAGS = re.compile(r"</?think>|</?answer>|###")


@dataclass(frozen=True)
class ReasoningParts:
    think: str
    answer: str


def split_reasoning(text: str) -> ReasoningParts | None:
    """The think and answer blocks of a completion (stripped), or None when it is not exactly
    `<think>…</think><answer>…</answer>` (a trailing "###" allowed)."""
    if not isinstance(text, str):
        raise TypeError(f"a completion must be text, got {type(text).__name__}")
    match = _REASONING.fullmatch(text)
    if match is None or any(tag in match["answer"] + match["think"] for tag in (*THINK_TAGS, *ANSWER_TAGS)):
        return None
    return ReasoningParts(match["think"].strip(), match["answer"].strip())


def format_reasoning(think: str, answer: str) -> str:
    """The target text a cold start teaches: `<think> think </think> <answer> answer </answer>`.

    Spaces around the tags keep each tag its own tokens: glued to the text, Qwen's BPE merges them with their
    neighbours (">In", ".</", "><", ">The"), and the tiny model, trained on that, wrote "<th><><" for "<think>"."""
    think_open, think_close = THINK_TAGS
    answer_open, answer_close = ANSWER_TAGS
    return f"{think_open} {think.strip()} {think_close} {answer_open} {answer.strip()} {answer_close}"


def _completion_text(completion) -> str:
    """TRL passes strings for plain prompts and [{"role": "assistant", "content": ...}] for conversational ones."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], Mapping):
        return str(completion[-1].get("content", ""))
    raise TypeError(f"a completion must be text or a message list, got {type(completion).__name__}")


class EmotionWheelRewards:
    """The five rewards over one set of wheel tables and one extractor.

    `rewards.functions()` gives the callables in `REWARD_NAMES` order for `GRPOTrainer(reward_funcs=...)`; the
    references come from the dataset column `label_column` (a label list, or a string `parse_labels` reads)."""

    def __init__(
        self,
        wheel_dir: str | os.PathLike | None = None,
        *,
        tables: WheelTables | None = None,
        extractor=None,
        level: str = "level1",
        max_words: int = 120,
        label_column: str = "emotions",
        cache_size: int = 4096,
    ) -> None:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
            raise ValueError(f"max_words must be a positive integer, got {max_words!r}")
        self.tables = tables if tables is not None else load_wheels(wheel_dir)
        self.extractor = extractor if extractor is not None else LexiconExtractor(tables=self.tables)
        self.level = level
        self.max_words = max_words
        self.label_column = label_column
        self._cache: dict[str, tuple[str, ...]] = {}
        self._cache_size = cache_size

    # ------------------------------------------------------------------ label sets

    def labels(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """Extracted labels per text; each distinct text is extracted once (an LLM extractor is slow and the
        five rewards read the same blocks)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            if len(self._cache) + len(missing) > self._cache_size:
                self._cache.clear()
            extracted = self.extractor.extract(missing)
            if len(extracted) != len(missing):
                raise ValueError(f"extractor returned {len(extracted)} label lists for {len(missing)} texts")
            for text, found in zip(missing, extracted):
                self._cache[text] = tuple(str(w).strip().lower() for w in found if str(w).strip())
        return [self._cache[t] for t in texts]

    def _sectors(self, words: Sequence[str]) -> list[set[str]]:
        return [self.tables.map_labels(words, w, self.level) for w in range(1, NUM_WHEELS + 1)]

    def fscore(self, predicted: Sequence[str], reference: Sequence[str]) -> float:
        """Per-sample wheel F-score, mean over the five wheels (see the module docstring for empty sets)."""
        total = 0.0
        for pred, gold in zip(self._sectors(predicted), self._sectors(reference)):
            if not gold:
                total += 0.0 if pred else 1.0
                continue
            both = len(pred & gold)
            precision = both / len(pred) if pred else 0.0
            recall = both / len(gold)
            total += 2 * precision * recall / (precision + recall) if both else 0.0
        return total / NUM_WHEELS

    def jaccard(self, first: Sequence[str], second: Sequence[str]) -> float:
        """Wheel Jaccard, mean over the five wheels; a wheel on which neither maps to a sector counts as agreement."""
        total = 0.0
        for a, b in zip(self._sectors(first), self._sectors(second)):
            total += len(a & b) / len(a | b) if a | b else 1.0
        return total / NUM_WHEELS

    def _references(self, kwargs: dict, count: int) -> list[list[str]]:
        values = kwargs.get(self.label_column)
        if values is None:
            raise ValueError(
                f"the reward needs the ground-truth labels in the dataset column {self.label_column!r}; "
                f"columns given: {sorted(k for k in kwargs if not k.startswith('_'))}"
            )
        if len(values) != count:
            raise ValueError(f"{len(values)} {self.label_column!r} values for {count} completions")
        return [
            [w.lower() for w in parse_labels(v, index=i, what=self.label_column)]
            for i, v in enumerate(values)
        ]

    # ------------------------------------------------------------------ the rewards

    def _parts(self, completions) -> list[ReasoningParts | None]:
        return [split_reasoning(_completion_text(c)) for c in completions]

    def format(self, completions, **kwargs) -> list[float]:
        return [float(p is not None and bool(p.think) and bool(p.answer)) for p in self._parts(completions)]

    def _block_fscore(self, completions, block: str, kwargs: dict) -> list[float]:
        parts = self._parts(completions)
        references = self._references(kwargs, len(parts))
        texts = [getattr(p, block) if p is not None else "" for p in parts]
        found = self.labels([t for t in texts if t])
        labels = iter(found)
        return [self.fscore(next(labels), ref) if text else 0.0 for text, ref in zip(texts, references)]

    def accuracy(self, completions, **kwargs) -> list[float]:
        return self._block_fscore(completions, "answer", kwargs)

    def dual(self, completions, **kwargs) -> list[float]:
        return self._block_fscore(completions, "think", kwargs)

    def alignment(self, completions, **kwargs) -> list[float]:
        parts = self._parts(completions)
        whole = [p for p in parts if p is not None and p.think and p.answer]
        think = iter(self.labels([p.think for p in whole]))
        answer = iter(self.labels([p.answer for p in whole]))
        return [
            self.jaccard(next(think), next(answer)) if p is not None and p.think and p.answer else 0.0
            for p in parts
        ]

    def length(self, completions, **kwargs) -> list[float]:
        words = [len(_TAGS.sub(" ", _completion_text(c)).split()) for c in completions]
        return [
            -min(1.0, (n - self.max_words) / self.max_words) if n > self.max_words else 0.0 for n in words
        ]

    def functions(self, names: Sequence[str] = REWARD_NAMES) -> list[Callable[..., list[float]]]:
        """Bound reward methods by name; TRL logs each under its `__name__`."""
        unknown = [n for n in names if n not in REWARD_NAMES]
        if unknown:
            raise ValueError(f"unknown reward(s) {unknown}; known: {list(REWARD_NAMES)}")
        return [getattr(self, name) for name in names]
