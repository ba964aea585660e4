"""Opt-in speed-ups for runs of generations on fixed weights; the model itself stays plain PyTorch.

`generation_speedups(model)` is a context manager that, while open, patches two of the model's modules on the
instance (their classes, weights and state dict are untouched) and restores them on exit:

- **the LM head on CPU in float32** computes its logits with oneDNN's linear on a copy of `lm_head.weight`
  reordered once, on entry, into oneDNN's blocked layout. Why: with Qwen2.5's 151,670-token vocabulary the
  logits projection is most of a small model's decoding step on CPU, and PyTorch's stock kernels are slow at a
  few rows. For the tiny preset's (151,670 x 64) head on 2 cores: `F.linear` (MKL) takes 3.7 ms at 1 row and
  5.2 ms at 8; the packed weight 1.1 and 1.8 ms, with the same results to float rounding. The reorder costs
  ~14 ms, so it is made once for the whole run. oneDNN's prepacked linear is reachable only through
  `torch.ops.mkldnn._*` (no public API), which is why this lives here and not in the Hub modeling code. Only
  for no-grad calls on the weights as they were on entry: training, grad-mode calls and a weight that moved or
  was re-assigned fall back to the stock linear.
- **the audio tower** encodes each distinct clip once and at most `AUDIO_CLIPS_PER_CALL` clips per call. Why:
  audio no longer than one 2-s clip gives C identical clips (every clip starts at 0 of the padded waveform), so
  up to C times less tower work; and a whole batch's conv front-end activations (32 channels x 6,400 steps per
  clip in the tiny tower) fall out of the CPU caches and cost ~1.5x per clip, while on a GPU the bound caps the
  tower's peak memory. Clips are independent, so the features are the same.

Used by `AffectGPTPipeline.fixed_weights()` (the pipeline's `__call__`, `stream` and `bench`). Models without
these modules (or saved by older code) are left as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["AUDIO_CLIPS_PER_CALL", "MAX_PACKED_WEIGHTS", "generation_speedups", "packable"]

AUDIO_CLIPS_PER_CALL = 16

# Heads above this many weights are not packed: the reorder of a 7B model's head (151,670 x 3,584) takes ~2 s
# and saves ~23 ms per step (66 against 90 ms), a loss for any generation shorter than ~90 tokens.
MAX_PACKED_WEIGHTS = 1 << 26


def _onednn_linear_available() -> bool:
    mkldnn = getattr(torch.ops, "mkldnn", None)
    return (
        torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled  # the user's switch for oneDNN
        and hasattr(mkldnn, "_reorder_linear_weight")
        and hasattr(mkldnn, "_linear_pointwise")
    )


def packable(head: nn.Module) -> bool:
    """A plain bias-free float32 CPU Linear of a supported size, and oneDNN's linear in this PyTorch build."""
    return (
        type(head) is nn.Linear
        and head.bias is None
        and head.weight.device.type == "cpu"
        and head.weight.dtype == torch.float32
        and head.weight.numel() <= MAX_PACKED_WEIGHTS
        and _onednn_linear_available()
    )


@contextlib.contextmanager
def _patched_forward(module: nn.Module, forward) -> Iterator[None]:
    """`module.forward` is `forward` inside (an instance attribute shadows the class's method). A module already
    patched by an enclosing or concurrent block (the Space streams from several threads) is left to that block:
    only the block that patched it restores it, and calls after that run the stock forward, with the same
    results."""
    if "forward" in vars(module):
        yield
        return
    module.forward = forward
    try:
        yield
    finally:
        del module.forward


def _packed_head(head: nn.Linear) -> contextlib.AbstractContextManager:
    weight = head.weight
    packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach())
    key = (weight.data_ptr(), weight._version)

    def forward(hidden: torch.Tensor) -> torch.Tensor:
        if (
            torch.is_grad_enabled()
            or hidden.dtype != torch.float32
            or head.weight is not weight
            or (weight.data_ptr(), weight._version) != key
        ):
            return F.linear(hidden, head.weight)
        rows = hidden.reshape(-1, hidden.shape[-1]).contiguous()  # (..., H) -> (N, H)
        logits = torch.ops.mkldnn._linear_pointwise(rows, packed, None, "none", [], "")  # (N, V)
        return logits.view(*hidden.shape[:-1], -1)  # (N, V) -> (..., V)

    return _patched_forward(head, forward)


def _deduplicated_audio_tower(tower: nn.Module) -> contextlib.AbstractContextManager:
    stock = tower.forward

    def forward(input_values: torch.Tensor, *args, **kwargs):
        if args or input_values.ndim != 2 or kwargs.get("attention_mask") is not None:
            return stock(input_values, *args, **kwargs)
        unique, inverse = torch.unique(input_values, dim=0, return_inverse=True)  # (M, S) -> (U, S), (M,)
        outputs = [stock(chunk, **kwargs) for chunk in unique.split(AUDIO_CLIPS_PER_CALL)]
        expanded = {}
        for name in outputs[0].keys():
            parts = [out[name] for out in outputs]
            if torch.is_tensor(parts[0]):
                expanded[name] = torch.cat(parts).index_select(0, inverse.to(parts[0].device))
            else:  # a tuple of per-layer tensors (hidden states)
                expanded[name] = tuple(
                    torch.cat(layer).index_select(0, inverse.to(layer[0].device)) for layer in zip(*parts)
                )
        return type(outputs[0])(**expanded)

    return _patched_forward(tower, forward)


@contextlib.contextmanager
def generation_speedups(model: nn.Module, packed_head: bool = True, audio: bool = True) -> Iterator[None]:
    """Inside: the packed CPU LM head (where `packable`) and the de-duplicated, chunked audio tower.
    Only for weights that stay fixed inside."""
    with contextlib.ExitStack() as stack:
        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        if packed_head and head is not None and packable(head):
            stack.enter_context(_packed_head(head))
        tower = getattr(getattr(model, "model", None), "audio_tower", None)
        if audio and isinstance(tower, nn.Module):
            stack.enter_context(_deduplicated_audio_tower(tower))
        yield
