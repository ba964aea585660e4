"""TRL's SFTTrainer as AffectGPT trains with it, and the callback that tells the collator the epoch.

Imports TRL (seconds): only `affectgpt train` imports this module (through `affectgpt.train.sft`), so
`affectgpt --help` and loading a recipe stay fast."""

from __future__ import annotations

import math

from transformers import TrainerCallback
from trl import SFTTrainer

from .fused_head import add_compact_fused_head, fused_head_target

__all__ = ["AffectGPTSFTTrainer", "CollatorEpochCallback"]


class AffectGPTSFTTrainer(SFTTrainer):
    """SFTTrainer + the official weight-decay split + the collator's drop count in the logs + on CPU, the fused
    log-prob head computed at the supervised positions only (affectgpt.train.fused_head)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The outputs SFTTrainer asks of its fused head: `is_top1` feeds `mean_token_accuracy`.
        add_compact_fused_head(fused_head_target(self.model), outputs=("log_probs", "entropy", "is_top1"))

    def get_decay_parameter_names(self, model) -> list[str]:
        # Official (LAVIS): no decay on biases and on every parameter with fewer than 2 dims (norms, scales).
        # ZeRO-3 leaves partitioned parameters with an empty 1-D shape; `ds_shape` is the real one.
        return [
            name
            for name, param in model.named_parameters()
            if len(getattr(param, "ds_shape", param.shape)) >= 2 and not name.endswith("bias")
        ]

    def compute_loss(self, model, inputs, *args, **kwargs):
        dropped = inputs.pop("num_dropped", None)
        if dropped is not None:
            self._dropped_samples = getattr(self, "_dropped_samples", 0) + int(
                self.accelerator.gather_for_metrics(dropped.reshape(1)).sum()
            )
        return super().compute_loss(model, inputs, *args, **kwargs)

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs:
            logs["dropped_samples"] = getattr(self, "_dropped_samples", 0)
        super().log(logs, *args, **kwargs)


class CollatorEpochCallback(TrainerCallback):
    """Tells the collator the epoch before the DataLoader (re)creates its workers."""

    def __init__(self, collator):
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        # state.epoch is fractional; resumed mid-epoch it is e.g. 3.4 -> epoch 3.
        self.collator.set_epoch(math.floor((state.epoch or 0.0) + 1e-6))
