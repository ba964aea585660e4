"""The pipeline's decoding settings and its stopping rule. The model's generation config stops on the official
single-token stop words (eos `<|im_end|>`, "###"); `StopOnIdSequences` stops on the two-token ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import StoppingCriteria

from modeling_affectgpt import OFFICIAL_GENERATION_KWARGS

__all__ = ["DECODING", "StopOnIdSequences"]

# Generation settings per decoding name. "official" = the official inference code's sampling settings.
DECODING: dict[str, dict[str, Any]] = {
    "greedy": {"do_sample": False, "max_new_tokens": OFFICIAL_GENERATION_KWARGS["max_new_tokens"]},
    "official": dict(OFFICIAL_GENERATION_KWARGS),
}


class StopOnIdSequences(StoppingCriteria):
    """Per row: stop once the generated ids end with one of `sequences` (the official two-token stop words;
    the single-token ones are eos ids in the generation config). Written here because transformers'
    `StopStringCriteria` matches every spelling of "###" (also " ###", on which the official code goes on) and
    takes ~1.5 s to build for the 151k-token vocabulary at every `generate` call."""

    def __init__(self, sequences: Sequence[Sequence[int]], prompt_length: int):
        self.sequences = [torch.tensor(seq, dtype=torch.long) for seq in sequences]
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for seq in self.sequences:
            if input_ids.shape[1] - self.prompt_length >= len(seq):
                done |= (input_ids[:, -len(seq) :] == seq.to(input_ids.device)).all(dim=1)
        return done
