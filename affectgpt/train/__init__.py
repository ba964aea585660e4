"""Training entry point: a YAML recipe -> TRL `SFTTrainer` run -> checkpoints + an exported model folder.

    from affectgpt.train import train
    result = train("recipes/tiny-synth.yaml", overrides=["training.max_steps=50"])

TRL 1.16 only prepares image datasets, so AffectGPT brings its own collator (processing.collator) and tells TRL to
leave the rows alone (`skip_prepare_dataset`, `remove_unused_columns=False`, `max_length=None`). TRL >=1.7 runs
only the base model (`AffectGPTModel`, which owns towers + fusion + LM) and computes the loss from `lm_head`
itself; logging of loss and `mean_token_accuracy` comes from it. Distributed launch (DDP, DeepSpeed, FSDP2) is
accelerate's job: nothing here changes with it. `method: grpo` recipes run in affectgpt.grpo on the same parts.

One job per module: `schema` (each section's keys, defaults, types, ranges), `recipe` (YAML + overrides ->
checked recipe), `model` (build, trainable parts, fusion start), `data` (the training split), `training_args`
(SFTConfig), `trainer` (the SFTTrainer subclass; the only module that imports TRL's trainers), `fused_head`,
`export` (the model folder), `sft` (an SFT run), `run` (`train` and what SFT and GRPO share).
Importing this package loads no model code and no TRL trainer."""

from .recipe import DEFAULT_RECIPE, RecipeError, apply_overrides, load_recipe
from .run import TrainResult, train
from .training_args import build_sft_config

__all__ = [
    "DEFAULT_RECIPE",
    "RecipeError",
    "TrainResult",
    "apply_overrides",
    "build_sft_config",
    "load_recipe",
    "train",
]
