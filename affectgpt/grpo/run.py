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

from affectgpt.train import RecipeError
from affectgpt.train.data import build_train_dataset, data_root
from affectgpt.train.model import build_model_and_processor, configure_trainable
from affectgpt.train.run import TrainResult, check_output_dirs, resume_checkpoint, train_and_export
from processing.prompts import question_for

from .data import PromptEncoder
from .rewards import build_rewards
from .training_args import build_grpo_config

__all__ = ["train_grpo"]


def train_grpo(recipe: dict, resume=None, output_dir: str | None = None, callbacks: list | None = None):
    """Run a loaded `method: grpo` recipe (affectgpt.train.train dispatches here). Returns a TrainResult."""
    from .trainer import AffectGPTGRPOTrainer, RewardCurveCallback  # TRL, only for a GRPO run

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
    # TRL requires a `prompt` column; it is logged as is. The real prompt is built from the row's media.
    dataset = dataset.add_column("prompt", [question_for(grpo_cfg["task"])] * len(dataset))
    trainer = AffectGPTGRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=[RewardCurveCallback(), *(callbacks or [])],
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
