"""TRL's fused log-prob head in its compact form on CPU, for SFT and GRPO alike."""

from __future__ import annotations

import contextlib
from unittest import mock

import trl.trainer.utils as trl_utils

__all__ = ["compact_fused_head"]


def compact_fused_head(device):
    """TRL's fused head scores only the supervised positions on Triton devices and every position elsewhere (to
    keep shapes static for compilers). On CPU, with a 151,670-word vocabulary and answers far shorter than the
    prompts, scoring every position costs most of the step; the compact path is plain torch and gives the same
    loss. A context manager; a no-op off CPU.

    TRL 1.16 has no public switch for this (`add_fused_lm_head` picks the path per call from the private
    `_use_triton`), so its module's binding is patched for the call; without that name the full path runs."""
    if device.type != "cpu" or not hasattr(trl_utils, "_use_triton"):
        return contextlib.nullcontext()
    return mock.patch.object(trl_utils, "_use_triton", lambda device: True)
