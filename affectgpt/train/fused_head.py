"""TRL's fused log-prob head served on CPU from the logits of the supervised positions only (SFT and GRPO alike).

TRL's trainers call `model(..., labels=labels, fused_lm_head=True)` (the head `trl.trainer.add_fused_lm_head`
adds) and read a `FusedCausalLMOutput`. On Triton devices that head projects only the positions whose label is not
-100; elsewhere it projects every position, to keep shapes static for compilers. On CPU, with a 151,670-word
vocabulary and answers far shorter than the prompts, projecting every position costs most of a step. TRL 1.16 has
no public switch for this, so `add_compact_fused_head` answers the same call on CPU itself, with TRL's public chunked
log-prob kernel (`trl.kernels.ChunkedLogProbFunction`) on the supervised positions only. Same loss, log-probs,
entropy and top-1 flags (tests/test_fused_head.py), and TRL's trainers keep computing the loss and logging
`entropy` / `mean_token_accuracy` from them."""

from __future__ import annotations

import contextlib
import functools
import types

import torch
from accelerate.utils import is_peft_model
from trl.kernels import ChunkedLogProbFunction
from trl.trainer.utils import FusedCausalLMOutput

__all__ = ["VOCAB_CHUNK", "add_compact_fused_head", "fused_head_target"]

# Vocabulary columns per projected tile (TRL's head uses 32,768 too): 151,670 words in 5 tiles.
VOCAB_CHUNK = 32768
# ChunkedLogProbFunction's outputs, in its order.
_FIELDS = ("log_probs", "entropy", "log_sum_sq_probs", "mean_logits", "is_top1")


def fused_head_target(model):
    """The module TRL gives its fused head: the base model under PEFT (PEFT calls its forward), else the model."""
    return model.get_base_model() if is_peft_model(model) else model


def add_compact_fused_head(
    model,
    temperature: float = 1.0,
    cast_lm_head_to_fp32: bool = False,
    outputs: tuple[str, ...] = ("log_probs",),
) -> None:
    """Wrap the fused head TRL added to `model` (a trainer's `__init__` adds it): on CPU, the fused call computes
    logits only at the positions whose next-token label is supervised and returns TRL's `FusedCausalLMOutput`
    (`loss`, `label_mask` and the per-token `outputs`, zero where the label is -100). Off CPU, and for the calls
    it does not cover (`shift_labels`, MoE router logits), TRL's head runs.

    `temperature`, `cast_lm_head_to_fp32` and `outputs` are the arguments the trainer gave `add_fused_lm_head`."""
    unknown = sorted(set(outputs) - set(_FIELDS))
    if unknown:
        raise ValueError(f"fused head outputs are among {list(_FIELDS)}, not {unknown}")
    trl_forward = model.forward

    # Keep the original signature, as TRL does: `generate` validates its model kwargs against it.
    @functools.wraps(type(model).forward)
    def _compact_forward(
        self, *args, fused_lm_head=False, labels=None, shift_labels=None, num_items_in_batch=None, **kwargs
    ):
        head = self.get_output_embeddings()
        if (
            not fused_lm_head
            or head.weight.device.type != "cpu"
            or shift_labels is not None
            or kwargs.get("output_router_logits")
        ):
            return trl_forward(
                *args,
                fused_lm_head=fused_lm_head,
                labels=labels,
                shift_labels=shift_labels,
                num_items_in_batch=num_items_in_batch,
                **kwargs,
            )
        kwargs["use_cache"] = False
        # TRL's compact path: the backbone, then TRL's chunked log-prob kernel on the supervised positions only.
        hidden = self.base_model(*args, **kwargs).last_hidden_state[:, :-1].to(head.weight.device)
        targets = labels[:, 1:].to(head.weight.device)
        mask = targets != -100
        autocast = contextlib.nullcontext()
        if cast_lm_head_to_fp32:
            hidden = hidden.float()
            autocast = torch.autocast(hidden.device.type, enabled=False)
        with autocast:
            # No logit scale, no softcapping: the model's own forward applies neither (its logits are lm_head's).
            per_token = ChunkedLogProbFunction.apply(
                hidden[mask],
                head.weight,
                head.bias,
                targets[mask],
                temperature,
                VOCAB_CHUNK,
                None,  # final_logit_softcapping
                1.0,  # logit_scale
                outputs,
            )
        # `masked_scatter` keeps the outputs connected to the model when no label is supervised, so such a
        # micro-batch contributes a differentiable zero (as TRL's head does).
        full = {
            name: value.new_zeros(mask.shape).masked_scatter(mask, value)
            for name, value in zip(_FIELDS, per_token)
            if value is not None
        }
        count = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(loss=-full["log_probs"].sum() / count, label_mask=mask, **full)

    model.forward = types.MethodType(_compact_forward, model)
