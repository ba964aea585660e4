"""`train(recipe)`: load and check the recipe, then run it with its method's trainer (SFT or GRPO); and the
parts every method shares: the checkpoint to resume from, the output folders, `train_and_export`, the result."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .recipe import RecipeError, load_recipe

__all__ = ["TrainResult", "check_output_dirs", "resume_checkpoint", "train", "train_and_export"]

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    global_step: int
    final_loss: float
    output_dir: str
    export_dir: str | None
    dropped_samples: int = 0
    log_history: list[dict] = field(default_factory=list)
    final_reward: float | None = None  # GRPO: the last logged mean total reward


def train_and_export(trainer, processor, recipe: dict, resume_from: str | None):
    """The end every training method shares: the recipe saved beside the run, `trainer.train` (resumed when
    asked), the export. Returns (the Trainer's output, the export folder or None)."""
    from .export import export_model

    output_dir = Path(trainer.args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    output = trainer.train(resume_from_checkpoint=resume_from)
    export_dir = export_model(trainer, processor, recipe, recipe["export"]["dir"] or output_dir / "final")
    return output, (str(export_dir) if export_dir else None)


def resume_checkpoint(resume: str | bool | None, output_dir: str) -> str | None:
    """The checkpoint to resume from: `True` = the newest complete one in `output_dir` (newer ones that a kill
    during saving left unfinished are skipped, with a warning); a path must itself be complete."""
    from affectgpt.checkpoints import checkpoint_problem, latest_complete_checkpoint

    if not resume:
        return None
    if resume is True:
        last, skipped = latest_complete_checkpoint(output_dir)
        for reason in skipped:
            logger.warning("--resume: skipping %s", reason)
        if last is None:
            why = f" ({'; '.join(skipped)})" if skipped else ""
            raise RecipeError(f"--resume: no complete checkpoint-* folder in {output_dir}{why}")
        return last
    problem = checkpoint_problem(resume)
    if problem is not None:
        raise RecipeError(f"--resume {resume}: {problem}")
    return str(resume)


def check_output_dirs(output_dir: str, recipe: dict) -> None:
    for what, path in (("training.output_dir", output_dir), ("export.dir", recipe["export"]["dir"])):
        if path and Path(path).exists() and not Path(path).is_dir():
            raise RecipeError(f"{what} {path} is a file; give a folder")


def train(
    recipe: str | os.PathLike | dict,
    overrides: list[str] | tuple[str, ...] = (),
    resume: str | bool | None = None,
    output_dir: str | None = None,
    callbacks: list | None = None,
) -> TrainResult:
    """Run a recipe. `resume=True` continues from the latest checkpoint in the output dir, a path from that one."""
    recipe = load_recipe(recipe, overrides)
    # The trainers import TRL, torch and the model code: only once the recipe is known to be good.
    if recipe["method"] == "grpo":
        from affectgpt.grpo import train_grpo as run_method
    else:
        from .sft import train_sft as run_method
    return run_method(recipe, resume=resume, output_dir=output_dir, callbacks=callbacks)
