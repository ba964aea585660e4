"""Training collator for TRL's SFTTrainer: dataset rows -> right-padded AffectGPT inputs with labels.

Per sample (DESIGN.md §3, §7; official AffectGPT dataset code):
  * the target is the description or the OV-label sentence, drawn as a deterministic function of
    (seed, epoch, index), so DataLoader workers, ranks and resumed runs draw the same targets;
  * text = "<|im_start|>" + official prompt + answer + "###" + eos. Prompt and "answer###" are tokenized
    separately, as the official code does, so the answer's first token never merges with the prompt's
    trailing space;
  * labels are -100 on "<|im_start|>", the prompt (hence every placeholder) and the padding; the answer,
    "###" and eos are supervised;
  * media are decoded by the processor, which also picks the prompt variant for the modalities present;
  * a sample longer than `max_length` is dropped and counted, never truncated (truncation could cut
    placeholders or leave a target without its end); so is a sample whose media cannot be decoded
    (a `MediaError`), with a warning naming the file, so one corrupt clip does not stop a training run;
  * the attention mask is 1 on every real token. The official collater computes it as `input_ids != eos`, which
    also zeroes the final eos; that position only predicts padding (label -100) and, under causal attention, no
    earlier position sees it, so the loss is the same either way and we keep the plain mask.

Hub-facing file: imports only numpy, torch and single-dot siblings.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .media import MediaError, source_name
from .prompts import (
    ASSISTANT_PREFIX,
    HUMAN_PREFIX,
    PLACEHOLDERS,
    STOP_STRING,
    format_ovlabel_answer,
    question_for,
)

__all__ = ["AffectGPTTrainingCollator", "INDEX_COLUMN", "draw_task", "IGNORE_INDEX"]

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
# Column the trainer adds with each row's position in the dataset (the "index" of the target draw).
INDEX_COLUMN = "_affectgpt_index"
_MEDIA_MARKER = (
    "<|affectgpt_media|>"  # processing_affectgpt.MEDIA_MARKER: the processor writes the media block
)
_MEDIA_KEYS = ("pixel_values_videos", "input_features", "video_flags", "audio_flags")


def _uniform(seed: int, epoch: int, index: int | str, salt: str = "") -> float:
    """Uniform in [0, 1), a pure function of its arguments: a keyed hash instead of an RNG, so there is no
    state to carry between workers, ranks or a resumed run."""
    digest = hashlib.blake2b(f"{seed}:{epoch}:{index}{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def draw_task(seed: int, epoch: int, index: int | str, ovlabel_ratio: float = 0.5) -> str:
    """ "ovlabel" with probability `ovlabel_ratio`, else "description"."""
    return "ovlabel" if _uniform(seed, epoch, index) < ovlabel_ratio else "description"


def _target(row: dict, task: str) -> str | None:
    if task == "ovlabel":
        emotions = row.get("emotions")
        return None if emotions is None else format_ovlabel_answer(list(emotions))
    description = row.get("description")
    return description.strip() if isinstance(description, str) and description.strip() else None


class AffectGPTTrainingCollator:
    """`collator(rows) -> dict of tensors` for `SFTTrainer(data_collator=..., dataset_kwargs={"skip_prepare_dataset":
    True}, remove_unused_columns=False)`.

    Rows follow the dataset schema of docs/ARCHITECTURE.md (`video`, `audio`, `face`, `subtitle`, `description`,
    `emotions`, `name`, optionally `INDEX_COLUMN`). Media cells are given to `resolve_media` (e.g. a
    `functools.partial(affectgpt.data.resolve_media, data_root=...)`) before decoding.

    Args:
        processor: an `AffectGPTProcessor`.
        max_length: longest kept sequence (tokens, "<|im_start|>" and eos included); longer samples are dropped.
        ovlabel_ratio: share of samples trained on the OV-label question (official 0.5).
        seed: key of the target draw.
        tasks: restrict the targets, e.g. ("ovlabel",); default both.
        resolve_media: maps a media cell to something the processor opens (path / `{"path", "bytes"}`).
        return_drop_count: add `num_dropped` (samples of this batch dropped) for a trainer that pops it before
            the forward; DataLoader workers cannot report their counts any other way.
        subtitle_dropout: probability of leaving the subtitle out of an OV-label sample (drawn like the task),
            so that a model cannot get by on the subtitle alone. 0 = official. Descriptions keep their subtitle,
            since they describe it.
        target_fn: `(row, task) -> target text or None` replacing the official targets (the description or the
            OV-label sentence), e.g. a reasoning cold start's `<think>…</think><answer>…</answer>`; None when the
            row cannot give one (the task then falls back, or the sample is dropped, as for official targets).
    """

    def __init__(
        self,
        processor,
        max_length: int | None = 1024,
        ovlabel_ratio: float = 0.5,
        seed: int = 42,
        tasks: Sequence[str] = ("description", "ovlabel"),
        resolve_media: Callable[[Any], Any] | None = None,
        return_drop_count: bool = False,
        subtitle_dropout: float = 0.0,
        target_fn: Callable[[dict, str], str | None] | None = None,
    ):
        for name, value in (("ovlabel_ratio", ovlabel_ratio), ("subtitle_dropout", subtitle_dropout)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        unknown = set(tasks) - {"description", "ovlabel"}
        if unknown or not tasks:
            raise ValueError(f"tasks must be a non-empty subset of ('description', 'ovlabel'), got {tasks!r}")
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.max_length = max_length
        self.ovlabel_ratio = float(ovlabel_ratio)
        self.subtitle_dropout = float(subtitle_dropout)
        self.seed = int(seed)
        self.tasks = tuple(tasks)
        self.resolve_media = resolve_media
        self.return_drop_count = return_drop_count
        self.target_fn = target_fn if target_fn is not None else _target
        self.epoch = 0
        self.num_seen = 0
        self.num_dropped = 0
        self.pad_token_id = self.tokenizer.pad_token_id
        self.eos_token_id = self.tokenizer.eos_token_id
        if self.eos_token_id is None:
            raise ValueError("the tokenizer has no eos token; the training text ends with eos")
        if self.pad_token_id is None:
            self.pad_token_id = self.eos_token_id  # official: pad = eos
        # Official training text: bos <|im_start|> + prompt + answer + "###" + eos <|im_end|>.
        self.bos_token_id = self.tokenizer.bos_token_id
        if self.bos_token_id is None:
            raise ValueError(
                "the tokenizer has no bos token; the official training text starts with <|im_start|>"
            )
        self.num_media_errors = 0
        # Placeholders are masked by position (they sit in the prompt) and, defensively, by id.
        self.placeholder_ids = {self.tokenizer.convert_tokens_to_ids(t) for t in PLACEHOLDERS} - {
            None,
            self.tokenizer.unk_token_id,
        }

    # ---------------------------------------------------------------- target draw

    def set_epoch(self, epoch: int) -> None:
        """Called at the start of every epoch (a TrainerCallback does it), before the DataLoader forks workers."""
        self.epoch = int(epoch)

    def _key(self, row: dict, position: int):
        key = row.get(INDEX_COLUMN)
        return row.get("name", position) if key is None else key  # names are unique clip ids

    def subtitle_for(self, row: dict, task: str, position: int = 0) -> str | None:
        """The row's subtitle, or None when subtitle dropout leaves it out of this OV-label sample."""
        if task == "ovlabel" and self.subtitle_dropout > 0:
            if _uniform(self.seed, self.epoch, self._key(row, position), ":subtitle") < self.subtitle_dropout:
                return None
        return row.get("subtitle")

    def task_for(self, row: dict, position: int = 0) -> str:
        """The task drawn for `row` in the current epoch; falls back to the other task when the row lacks the
        drawn target (e.g. a corpus with labels only)."""
        key = self._key(row, position)
        if self.tasks == ("ovlabel",):
            task = "ovlabel"
        elif self.tasks == ("description",):
            task = "description"
        else:
            task = draw_task(self.seed, self.epoch, key, self.ovlabel_ratio)
        if self.target_fn(row, task) is None:
            other = "description" if task == "ovlabel" else "ovlabel"
            if self.target_fn(row, other) is not None:
                return other
        return task

    # ---------------------------------------------------------------- collation

    def _media(self, row: dict, key: str):
        value = row.get(key)
        if value is None or self.resolve_media is None:
            return value
        return self.resolve_media(value)

    def _drop(self, row: dict, length: int, reason: str) -> None:
        self.num_dropped += 1
        # Every drop is counted; the log is rate-limited so a badly set max_length does not flood it.
        if self.num_dropped <= 10 or self.num_dropped % 100 == 0:
            logger.warning(
                "dropped sample %r (%s tokens > max_length=%s, %s); %d of %d samples dropped so far",
                row.get("name"),
                length,
                self.max_length,
                reason,
                self.num_dropped,
                self.num_seen,
            )

    def _encode(self, rows: list[dict], tasks: list[str]) -> tuple[dict, list[bool]]:
        """The processor's output for `rows` and, per row, whether its media decoded. One call for the batch;
        only when it raises a MediaError are the rows redone one by one to find the bad ones."""
        subtitles = [self.subtitle_for(row, task, i) for i, (row, task) in enumerate(zip(rows, tasks))]
        columns = {
            "text": [f"{HUMAN_PREFIX}{_MEDIA_MARKER}{question_for(t)}{ASSISTANT_PREFIX}" for t in tasks],
            "videos": [self._media(row, "video") for row in rows],
            "audio": [self._media(row, "audio") for row in rows],
            "faces": [self._media(row, "face") for row in rows],
            "subtitles": subtitles,
        }
        call = dict(padding=False, return_tensors=None, truncate_subtitles=False)
        try:
            return self.processor(**columns, **call), [True] * len(rows)
        except MediaError:
            pass
        encoded: dict[str, list] = {"input_ids": []}
        ok = []
        for i, row in enumerate(rows):
            one = {k: [v[i]] for k, v in columns.items()}
            try:
                part = self.processor(**one, **call)
                ok.append(True)
            except MediaError as err:
                self._media_error(row, err)
                # Text only: a prompt the trainer can use as a zero-loss sample if no row of the batch decodes.
                one.update(videos=[None], audio=[None], faces=[None], subtitles=[None])
                part = self.processor(**one, **call)
                ok.append(False)
            encoded["input_ids"].append(list(part["input_ids"][0]))
            for key in _MEDIA_KEYS:
                encoded.setdefault(key, []).append(np.asarray(part[key])[0])
        return {k: (v if k == "input_ids" else np.stack(v)) for k, v in encoded.items()}, ok

    def _media_error(self, row: dict, err: Exception) -> None:
        self.num_media_errors += 1
        media = next((row.get(k) for k in ("video", "audio", "face") if row.get(k) is not None), None)
        where = source_name(media) if media is not None else row.get("name")
        logger.warning(
            "dropped sample %r: cannot decode %s (%s); %d samples dropped for media errors so far",
            row.get("name"),
            where,
            err,
            self.num_media_errors,
        )

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        rows = list(rows)
        if not rows:
            raise ValueError("empty batch")
        tasks = [self.task_for(row, i) for i, row in enumerate(rows)]
        answers = [self.target_fn(row, task) for row, task in zip(rows, tasks)]
        encoded, decoded = self._encode(rows, tasks)
        sequences: list[tuple[int, list[int], list[int]]] = []  # (row, ids, labels)
        fallback = None
        for i, (row, answer) in enumerate(zip(rows, answers)):
            self.num_seen += 1
            if not decoded[i]:
                self.num_dropped += 1
                if fallback is None:
                    fallback = (i, [self.bos_token_id, *encoded["input_ids"][i]])
                continue
            if answer is None:
                self._drop(row, 0, "no description and no emotions")
                continue
            prompt_ids = [self.bos_token_id, *encoded["input_ids"][i]]
            target_ids = self.tokenizer.encode(answer + STOP_STRING, add_special_tokens=False)
            ids = prompt_ids + target_ids + [self.eos_token_id]
            labels = [IGNORE_INDEX] * len(prompt_ids) + target_ids + [self.eos_token_id]
            labels = [IGNORE_INDEX if t in self.placeholder_ids else t for t in labels]
            if self.max_length is not None and len(ids) > self.max_length:
                self._drop(row, len(ids), "prompt + answer")
                if fallback is None or len(prompt_ids) < len(fallback[1]):
                    fallback = (i, prompt_ids)
                continue
            sequences.append((i, ids, labels))
        dropped = len(rows) - len(sequences)
        if not sequences:
            sequences = [self._zero_loss_sample(rows, fallback)]
        batch = self._pad(sequences, encoded)
        if self.return_drop_count:
            batch["num_dropped"] = torch.tensor(dropped, dtype=torch.long)
        return batch

    def _zero_loss_sample(self, rows, fallback) -> tuple[int, list[int], list[int]]:
        """Every sample of the batch was dropped. The Trainer cannot skip a batch, so it gets the shortest prompt,
        cut after its placeholders, with no supervised token: a zero loss, no update from these rows."""
        if fallback is None:
            raise ValueError(
                f"no trainable sample in batch {[r.get('name') for r in rows]}: no targets or no decodable media"
            )
        i, prompt_ids = fallback
        ids = prompt_ids[: self.max_length]
        if sum(t in self.placeholder_ids for t in ids) != sum(t in self.placeholder_ids for t in prompt_ids):
            raise ValueError(
                f"max_length={self.max_length} cuts the media placeholders of {rows[i].get('name')!r}; raise it"
            )
        return i, ids, [IGNORE_INDEX] * len(ids)

    def _pad(self, sequences, encoded) -> dict[str, torch.Tensor]:
        width = max(len(ids) for _, ids, _ in sequences)
        n = len(sequences)
        input_ids = torch.full((n, width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((n, width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((n, width), dtype=torch.long)
        for slot, (_, ids, labs) in enumerate(sequences):  # right padding for training
            input_ids[slot, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            labels[slot, : len(labs)] = torch.tensor(labs, dtype=torch.long)
            attention_mask[slot, : len(ids)] = 1
        keep = [i for i, _, _ in sequences]
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        for key in _MEDIA_KEYS:
            if key in encoded and encoded[key] is not None:
                batch[key] = torch.from_numpy(np.asarray(encoded[key])[keep])
        return batch
