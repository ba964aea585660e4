"""A oneDNN-prepacked copy of the LM head's weight, for the logits of CPU decoding.

Why it exists: with Qwen2.5's 151,670-token vocabulary the logits projection is most of a small model's decoding
step on CPU, and PyTorch's stock kernels for it are slow at a few rows. For the tiny preset's (151,670 x 64)
fp32 head on 2 cores: `F.linear` (MKL sgemv / sgemm) takes 3.7 ms at 1 row and 5.2 ms at 8; oneDNN with the
weight reordered once into its blocked layout takes 1.1 ms and 1.8 ms, with the same results to float rounding.

The reorder costs ~14-16 ms for that head, so it is made at the start of each generation (the prefill) and reused
for that generation's decoding steps. A fresh copy per generation means that weight changes between calls are
always seen, whichever way they were made (`param.data.copy_` does not bump the version counter); a change in
the middle of a generation that does bump it (or moves the weight) is caught too and triggers a re-pack.
A caller that runs many generations on fixed weights (`bench`, the pipeline over its batches) can keep one
copy for all of them with `reused()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["PackedLMHead"]

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


class PackedLMHead:
    """Holds the packed weight of one generation. Not a buffer: the packed tensor is opaque (no storage), so it
    is never saved, deep-copied or pickled; a copy of the model starts empty and packs on its next prefill."""

    def __init__(self):
        self._packed: torch.Tensor | None = None
        self._key: tuple | None = None
        self._reusers = 0  # open `reused()` blocks

    @contextlib.contextmanager
    def reused(self) -> Iterator[None]:
        """Inside, generations keep one packed copy instead of re-making it at each prefill: it is made at the
        first prefill inside, and again only when the weight moves or its version counter changes. Only for
        weights that stay fixed inside."""
        if not self._reusers:
            self.clear()  # the weights may have changed since an earlier copy was made
        self._reusers += 1
        try:
            yield
        finally:
            self._reusers -= 1

    @staticmethod
    def supports(weight: torch.Tensor, rows: torch.Tensor) -> bool:
        """A float32 CPU weight of a supported size, float32 rows, and oneDNN's linear in this PyTorch build."""
        return (
            weight.device.type == "cpu"
            and weight.dtype == torch.float32
            and rows.dtype == torch.float32
            and weight.ndim == 2
            and weight.numel() <= MAX_PACKED_WEIGHTS
            and _onednn_linear_available()
        )

    @staticmethod
    def _key_of(weight: torch.Tensor) -> tuple:
        return (weight.data_ptr(), weight._version, tuple(weight.shape))

    def logits(self, weight: torch.Tensor, rows: torch.Tensor, repack: bool) -> torch.Tensor:
        """rows (N, H) -> logits (N, V), contiguous. `repack`: the start of a generation."""
        if (repack and not self._reusers) or self._key != self._key_of(weight):
            self._packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach())
            self._key = self._key_of(weight)
        return torch.ops.mkldnn._linear_pointwise(rows.contiguous(), self._packed, None, "none", [], "")

    def clear(self) -> None:
        self._packed = None
        self._key = None

    def __deepcopy__(self, memo) -> PackedLMHead:
        return PackedLMHead()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
