"""`affectgpt train`: fine-tune AffectGPT from a YAML recipe (recipes/*.yaml) with TRL's SFTTrainer, or its
GRPOTrainer for `method: grpo` recipes (affectgpt.grpo).

Runs unchanged under `accelerate launch --config_file accelerate/<ddp|deepspeed_zero2|deepspeed_zero3|fsdp2>.yaml
-m affectgpt train ...`."""

from __future__ import annotations

import argparse

from affectgpt.errors import CLIError

__all__ = ["HELP", "add_arguments", "run"]

HELP = (
    "Fine-tune AffectGPT from a recipe (recipes/*.yaml): TRL SFTTrainer, or GRPOTrainer with `method: grpo`."
)

# `--resume` with no value means "the latest checkpoint in the output dir".
_LATEST = "latest"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="RECIPE", help="recipe YAML (see recipes/)")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one recipe field by dotted path, value parsed as YAML "
        "(e.g. training.learning_rate=1e-4, data.streaming=true); repeatable",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const=_LATEST,
        default=None,
        metavar="CKPT",
        help="continue from a checkpoint folder; without a value, from the latest one in the output dir",
    )
    parser.add_argument("--output-dir", default=None, metavar="DIR", help="overrides training.output_dir")


def run(args: argparse.Namespace) -> int:
    from affectgpt.train import RecipeError, train

    resume: str | bool | None = True if args.resume == _LATEST else args.resume
    try:
        result = train(args.config, overrides=args.override, resume=resume, output_dir=args.output_dir)
    except RecipeError as err:
        raise CLIError(str(err)) from err
    print(f"trained {result.global_step} steps, final loss {result.final_loss:.4f}")
    if result.final_reward is not None:
        print(f"final mean reward {result.final_reward:.4f}")
    if result.export_dir:
        print(f"model saved to {result.export_dir}")
    return 0
