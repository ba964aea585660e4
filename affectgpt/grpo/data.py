"""GRPO data glue: the cold start's `<think>/<answer>` targets and the rollout prompts.

The target of the cold start is the clip's description as the reasoning and the official OV-label sentence as the
answer, so the answer stays parseable by the scorer's extractor exactly as before (`parse_ov_sentence`)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from metrics.rewards import format_reasoning
from processing.prompts import format_ovlabel_answer

__all__ = ["MEDIA_KEYS", "PromptEncoder", "reasoning_target"]

MEDIA_KEYS = ("pixel_values_videos", "input_features", "video_flags", "audio_flags")


def reasoning_target(row: dict, task: str) -> str | None:
    """`<think>description</think><answer>The character's emotional state is a, b.</answer>` for either question;
    None when the row lacks the description or the labels (the collator then drops the sample). Module-level so
    that DataLoader workers can pickle the collator."""
    del task  # the reasoning answers both official questions
    description, emotions = row.get("description"), row.get("emotions")
    if not isinstance(description, str) or not description.strip() or emotions is None:
        return None
    return format_reasoning(description, format_ovlabel_answer(list(emotions)))


class PromptEncoder:
    """Dataset rows -> (unpadded prompt ids, media tensors), through the inference encoder that `affectgpt bench`
    uses, so rollouts see the prompt the benchmark asks. Each distinct clip is decoded once per call: GRPO's
    sampler repeats every row `num_generations` times."""

    def __init__(self, processor, task: str = "ovlabel", data_root: str | os.PathLike | None = None):
        from affectgpt.clips import ClipEncoder

        self.encoder = ClipEncoder(processor, task=task)
        self.data_root = data_root

    def __call__(self, rows: Sequence[dict]):
        import torch

        from affectgpt.data import row_to_clip

        first: dict = {}
        slots = [first.setdefault(row.get("name", i), len(first)) for i, row in enumerate(rows)]
        unique = {slot: i for i, slot in reversed(list(enumerate(slots)))}
        clips = [row_to_clip(rows[unique[slot]], self.data_root) for slot in range(len(first))]
        _, batch = self.encoder(clips)
        index = torch.tensor(slots)
        keep = batch["attention_mask"].bool()
        prompt_ids = [batch["input_ids"][s][keep[s]].tolist() for s in slots]
        media = {key: batch[key][index] for key in MEDIA_KEYS if key in batch}
        return prompt_ids, media
