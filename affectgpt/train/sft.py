"""`method: sft` (the default): a loaded recipe -> AffectGPTSFTTrainer -> checkpoints + the exported folder."""

from __future__ import annotations

import functools

from affectgpt.data import resolve_media
from affectgpt.grpo.data import reasoning_target
from processing import AffectGPTTrainingCollator

from .data import build_train_dataset, data_root
from .model import build_model_and_processor, configure_trainable, start_fusion_from_data
from .run import TrainResult, check_output_dirs, resume_checkpoint, train_and_export
from .trainer import AffectGPTSFTTrainer, CollatorEpochCallback
from .training_args import build_sft_config

__all__ = ["train_sft"]


def train_sft(
    recipe: dict,
    resume: str | bool | None = None,
    output_dir: str | None = None,
    callbacks: list | None = None,
) -> TrainResult:
    """Run a loaded `method: sft` recipe (affectgpt.train.train dispatches here)."""
    args = build_sft_config(recipe["training"], output_dir)
    check_output_dirs(args.output_dir, recipe)
    resume_from = resume_checkpoint(resume, args.output_dir)

    model, processor = build_model_and_processor(recipe["model"])
    peft_config = configure_trainable(model, recipe["model"])
    dataset = build_train_dataset(recipe["data"], args.seed)
    make_collator = functools.partial(
        AffectGPTTrainingCollator,
        processor,
        max_length=recipe["collator"]["max_length"],
        ovlabel_ratio=recipe["collator"]["ovlabel_ratio"],
        subtitle_dropout=recipe["collator"]["subtitle_dropout"],
        seed=args.seed,
        tasks=tuple(recipe["collator"]["tasks"]),
        resolve_media=functools.partial(resolve_media, data_root=data_root(recipe["data"])),
        target_fn=reasoning_target if recipe["collator"]["target_format"] == "think_answer" else None,
    )
    collator = make_collator(return_drop_count=True)
    if resume_from is None and recipe["model"]["init_fusion_from_data"]:
        start_fusion_from_data(model, dataset, make_collator(), recipe["model"])
    trainer = AffectGPTSFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=collator,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=[CollatorEpochCallback(collator), *(callbacks or [])],
    )
    output, export_dir = train_and_export(trainer, processor, recipe, resume_from)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return TrainResult(
        global_step=trainer.state.global_step,
        final_loss=losses[-1] if losses else float(output.training_loss),
        output_dir=str(args.output_dir),
        export_dir=export_dir,
        dropped_samples=getattr(trainer, "_dropped_samples", 0),
        log_history=list(trainer.state.log_history),
    )
