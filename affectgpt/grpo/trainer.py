"""`method: grpo` recipes: TRL's GRPOTrainer on AffectGPT's video + audio prompts with emotion-wheel rewards.

    affectgpt train --config recipes/grpo-tiny-synth.yaml

Model, trainable parts (LoRA or full), data loading and export are those of SFT (the affectgpt.train package).
What is GRPO's: the GRPOConfig (group size `num_generations`, `beta` = KL weight, default 0, `epsilon` = clip range, temperature,
`max_completion_length`), the reward functions (metrics.rewards, weights from the `grpo:` section) and a subclass
of GRPOTrainer that feeds our media to generation and to the log-prob forwards (see its docstring).

vLLM generation (`use_vllm`) is refused: TRL's vLLM path serves a model through vLLM's own model implementation,
and vLLM has none for AffectGPT (custom towers, pooling, pre-fusion and placeholder scattering), so the policy
would have to be re-implemented inside vLLM first. Generation uses `model.generate`."""

from __future__ import annotations

import functools
import json
import logging
import math
from pathlib import Path

__all__ = ["REWARD_CURVES_FILE", "build_grpo_config", "build_rewards", "plot_reward_curves", "train_grpo"]

logger = logging.getLogger(__name__)

REWARD_CURVES_FILE = "reward_curves.png"
_LOG_FILE = "log_history.json"


def build_rewards(grpo_cfg: dict):
    """(reward functions, their weights) from the `grpo:` section, in `metrics.rewards.REWARD_NAMES` order."""
    from affectgpt.train import RecipeError
    from metrics.mer_unibench.sources import WheelFilesNotFoundError
    from metrics.rewards import REWARD_NAMES, EmotionWheelRewards

    weights = grpo_cfg["reward_weights"] or {}
    unknown = sorted(set(weights) - set(REWARD_NAMES))
    if unknown:
        raise RecipeError(f"grpo.reward_weights: unknown reward(s) {unknown}; known: {list(REWARD_NAMES)}")
    names = [name for name in REWARD_NAMES if name in weights]
    extractor = None
    spec = grpo_cfg["extractor"]
    if spec != "lexicon":
        if not (isinstance(spec, str) and spec.startswith("llm:") and len(spec) > 4):
            raise RecipeError(f"grpo.extractor must be 'lexicon' or 'llm:MODEL', got {spec!r}")
        from metrics.extraction import LLMExtractor

        extractor = LLMExtractor(spec[4:])
    try:
        rewards = EmotionWheelRewards(
            grpo_cfg["wheel_dir"],
            extractor=extractor,
            level=grpo_cfg["level"],
            max_words=grpo_cfg["max_words"],
            label_column=grpo_cfg["label_column"],
        )
    except (WheelFilesNotFoundError, ValueError) as err:
        raise RecipeError(f"grpo: {err}") from err
    return rewards.functions(names), [float(weights[name]) for name in names]


def build_grpo_config(training: dict, weights: list[float], output_dir: str | None = None):
    """GRPOConfig from the `training:` section; the reward weights come from the `grpo:` section."""
    from trl import GRPOConfig

    from affectgpt.train import RecipeError
    from affectgpt.train.training_args import cpu_fallback

    kwargs = dict(training)
    if output_dir:
        kwargs["output_dir"] = output_dir
    if kwargs.get("use_vllm"):
        raise RecipeError(
            "training.use_vllm: vLLM has no implementation of the AffectGPT model (video/audio towers, pre-fusion, "
            "placeholder scattering), so TRL cannot serve it there; leave use_vllm off (generation uses "
            "model.generate)"
        )
    if "reward_weights" in kwargs:
        raise RecipeError("set the reward weights in grpo.reward_weights, not training.reward_weights")
    # The media columns must reach the prompt encoder and the labels the rewards.
    kwargs.update(reward_weights=weights, remove_unused_columns=False)
    kwargs.setdefault("beta", 0.0)
    cpu_fallback(kwargs)
    try:
        return GRPOConfig(**kwargs)
    except (TypeError, ValueError) as err:
        raise RecipeError(f"bad training settings: {err}") from err


@functools.cache
def _trainer_class():
    """Defined lazily: importing TRL costs seconds."""
    import torch
    from transformers import TrainerCallback
    from trl import GRPOTrainer

    from affectgpt.grpo.data import MEDIA_KEYS
    from affectgpt.train.fused_head import compact_fused_head

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
                with self.accelerator.autocast(), compact_fused_head(ids.device):
                    out = model(
                        input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True, **chunk
                    )
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
                (out / _LOG_FILE).write_text(json.dumps(state.log_history, indent=1) + "\n")
                plot_reward_curves(state.log_history, out / REWARD_CURVES_FILE)

    return AffectGPTGRPOTrainer, RewardCurveCallback


def plot_reward_curves(log_history: list[dict], path: str | Path) -> Path | None:
    """One PNG: the weighted total reward and each reward component's mean against the step."""
    steps = [e for e in log_history if "reward" in e and "step" in e]
    if not steps:
        logger.warning("no reward was logged; %s not written", path)
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({k for e in steps for k in e if k.startswith("rewards/") and k.endswith("/mean")})
    fig, (total, parts) = plt.subplots(1, 2, figsize=(11, 4))
    x = [e["step"] for e in steps]
    total.plot(x, [e["reward"] for e in steps], marker=".")
    total.set(title="total reward (weighted)", xlabel="step")
    for name in names:
        parts.plot(x, [e.get(name, math.nan) for e in steps], marker=".", label=name.split("/")[1])
    parts.set(title="reward components (mean per step)", xlabel="step")
    parts.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def train_grpo(recipe: dict, resume=None, output_dir: str | None = None, callbacks: list | None = None):
    """Run a loaded `method: grpo` recipe (affectgpt.train.train dispatches here). Returns a TrainResult."""
    from affectgpt.grpo.data import PromptEncoder
    from affectgpt.train import RecipeError
    from affectgpt.train.data import build_train_dataset, data_root
    from affectgpt.train.model import build_model_and_processor, configure_trainable
    from affectgpt.train.run import TrainResult, check_output_dirs, resume_checkpoint, train_and_export

    grpo_cfg = recipe["grpo"]
    if recipe["model"]["init_fusion_from_data"]:
        raise RecipeError(
            "model.init_fusion_from_data is an SFT start; GRPO starts from a trained model (pretrained)"
        )
    reward_funcs, weights = build_rewards(grpo_cfg)
    args = build_grpo_config(recipe["training"], weights, output_dir)
    check_output_dirs(args.output_dir, recipe)
    resume_from = resume_checkpoint(resume, args.output_dir)

    model, processor = build_model_and_processor(recipe["model"])
    peft_config = configure_trainable(model, recipe["model"])
    dataset = build_train_dataset(recipe["data"], args.seed)
    if recipe["data"]["streaming"]:
        raise RecipeError(
            "data.streaming: GRPO needs a map-style dataset (each prompt is sampled in a group)"
        )
    if grpo_cfg["label_column"] not in dataset.column_names:
        raise RecipeError(
            f"grpo.label_column {grpo_cfg['label_column']!r} is not a column of the training data "
            f"({dataset.column_names})"
        )
    from processing.prompts import question_for

    # TRL requires a `prompt` column; it is logged as is. The real prompt is built from the row's media.
    dataset = dataset.add_column("prompt", [question_for(grpo_cfg["task"])] * len(dataset))
    trainer_cls, curve_callback = _trainer_class()
    trainer = trainer_cls(
        model=model,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=[curve_callback(), *(callbacks or [])],
        encode_prompts=PromptEncoder(processor, grpo_cfg["task"], data_root(recipe["data"])),
    )
    output, export_dir = train_and_export(trainer, processor, recipe, resume_from)
    rewards = [entry["reward"] for entry in trainer.state.log_history if "reward" in entry]
    return TrainResult(
        global_step=trainer.state.global_step,
        final_loss=float(output.training_loss),
        output_dir=str(args.output_dir),
        export_dir=export_dir,
        log_history=list(trainer.state.log_history),
        final_reward=rewards[-1] if rewards else None,
    )
