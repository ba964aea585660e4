"""TRL's GRPOTrainer fed with AffectGPT's media, and the callback that writes the reward curves.

Imports TRL (seconds): only `train_grpo` imports this module, so `affectgpt.grpo` stays light."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import TrainerCallback
from trl import GRPOTrainer

from affectgpt.train.fused_head import add_compact_fused_head, fused_head_target

from .curves import LOG_FILE, REWARD_CURVES_FILE, plot_reward_curves
from .data import MEDIA_KEYS

__all__ = ["AffectGPTGRPOTrainer", "RewardCurveCallback"]


class AffectGPTGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose prompts carry video frames, audio clips and per-sample modality flags.

    TRL 1.16 knows text prompts and image VLMs only: it tokenizes the `prompt` column (or image chat messages)
    and forwards image tensors. Our prompts are built by the processor from the row's media (the placeholder
    count depends on which modalities a clip has), and the model needs `pixel_values_videos`,
    `input_features` and the flags at generation and at every log-prob forward. So, and only so:
      * `_tokenize_prompts` encodes the rows of the generation batch with `encode_prompts` (the inference
        encoder); the media go to `generate` as TRL's "multimodal fields";
      * `_generate_and_score_completions` keeps those media in the batch it returns (TRL shuffles and splits
        them with the rest), and `_compute_loss` hands a batch's media to the forward;
      * `_get_per_token_logps_and_entropies` forwards the media, chunked like the ids, instead of image fields.
    Sampling, rewards, advantages, clipping and the loss are TRL's."""

    def __init__(self, *args, encode_prompts, **kwargs):
        self._encode_prompts = encode_prompts
        self._rollout_rows = None
        self._forward_media = None
        self._rollout_media = None
        super().__init__(*args, **kwargs)
        # On CPU the log-prob forwards score only the completion positions (affectgpt.train.fused_head), with the
        # arguments GRPOTrainer gives its own fused heads.
        head_args = {
            "temperature": self.args.temperature,
            "cast_lm_head_to_fp32": self.args.cast_lm_head_to_fp32,
        }
        add_compact_fused_head(fused_head_target(self.model), outputs=("log_probs", "entropy"), **head_args)
        if self.ref_model is not None:
            add_compact_fused_head(self.ref_model, **head_args)

    def _tokenize_prompts(self, prompts: list):
        if self._rollout_rows is None or len(self._rollout_rows) != len(prompts):
            raise RuntimeError(
                "AffectGPT prompts are encoded from their rows; none were given for this batch"
            )
        prompt_ids, media = self._encode_prompts(self._rollout_rows)
        media = {key: value.to(self.accelerator.device) for key, value in media.items()}
        self._rollout_media = self._forward_media = media
        return prompt_ids, None, media

    def _generate_and_score_completions(self, inputs):
        self._rollout_rows = inputs
        try:
            output = super()._generate_and_score_completions(inputs)
            output.update(self._rollout_media)
        finally:
            self._rollout_rows = self._forward_media = self._rollout_media = None
        return output

    def _compute_loss(self, model, inputs):
        self._forward_media = {key: inputs[key] for key in MEDIA_KEYS if key in inputs}
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self._forward_media = None

    def _get_per_token_logps_and_entropies(
        self,
        model,
        input_ids,
        attention_mask,
        logits_to_keep,
        batch_size=None,
        compute_entropy=False,
        compute_aux_loss=False,
        **image_inputs,
    ):
        given = sorted(k for k, v in image_inputs.items() if v is not None)
        if given:
            raise ValueError(f"AffectGPT takes video and audio, not image inputs; got {given}")
        media = self._forward_media
        if media is None:
            raise RuntimeError("no media for this log-prob forward (called outside a GRPO step)")
        batch_size = batch_size or input_ids.size(0)
        logps, entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            ids = input_ids[start : start + batch_size]
            mask = attention_mask[start : start + batch_size]
            labels = ids.masked_fill(mask == 0, -100)
            labels[:, :-logits_to_keep] = -100  # only the completion tokens are scored (as TRL)
            chunk = {key: value[start : start + batch_size] for key, value in media.items()}
            with self.accelerator.autocast():
                out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True, **chunk)
            logps.append(out.log_probs[:, -logits_to_keep:])
            if compute_entropy:
                entropies.append(out.entropy[:, -logits_to_keep:])
        # AffectGPT's LLMs are dense: no MoE load-balancing loss (aux_loss None).
        return torch.cat(logps), torch.cat(entropies) if compute_entropy else None, None


class RewardCurveCallback(TrainerCallback):
    """Writes the log history and the reward-curve figure into the output folder at the end of training."""

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            out = Path(args.output_dir)
            (out / LOG_FILE).write_text(json.dumps(state.log_history, indent=1) + "\n")
            plot_reward_curves(state.log_history, out / REWARD_CURVES_FILE)
