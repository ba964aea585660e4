"""A recipe: defaults <- YAML file (or dict) <- `section.key=VALUE` overrides, checked by `schema.check_recipe`.

Imports neither TRL's trainers nor torch: `affectgpt train` rejects a bad recipe in a second, before any model
loads."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from affectgpt.grpo.recipe import GRPO_DEFAULTS

from .schema import RecipeSchemaError, check_recipe

__all__ = ["DEFAULT_RECIPE", "METHODS", "RecipeError", "apply_overrides", "load_recipe"]


class RecipeError(ValueError):
    """A recipe that cannot be run: unknown key, bad value, missing dataset."""


# Every recipe key with its default; unknown keys are errors (a typo must not silently train something else).
# `training` holds SFTConfig/TrainingArguments fields and is checked by SFTConfig itself.
DEFAULT_RECIPE: dict[str, dict[str, Any]] = {
    "model": {
        "preset": "tiny",  # affectgpt.presets name, used when `pretrained` is not set
        "pretrained": None,  # a model folder (from `affectgpt init`, `convert` or an earlier run)
        "vision": None,  # official preset: pretrained CLIP (Hub id / folder)
        "audio": None,  # official preset: pretrained HuBERT-family encoder
        "llm": None,  # official preset: pretrained causal LM
        "config_overrides": {},  # AffectGPTConfig fields (preset only)
        "init_seed": 0,  # seed of the random init of a preset's untrained parts
        "lora": True,  # LoRA on the LLM (official); false trains the whole LLM
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "train_towers": False,  # deviation for random tiny towers; the paper freezes them
        "init_fusion_from_data": 0,  # >0: start pooling/projectors standardising this many clips' features
    },
    "data": {
        "path": None,  # dataset folder (`affectgpt build-dataset`) or Hub id
        "config": None,
        "split": "train",
        "streaming": False,
        "data_root": None,  # media paths are relative to it; default: `path`
        "max_samples": None,
        "shuffle_buffer": 1000,  # streaming only: buffer of the approximate shuffle
        "build_if_missing": None,  # "synth-mer": generate the synthetic corpus when `path` does not exist
        "build_num_clips": 300,  # size of that generated corpus (train + test)
    },
    "collator": {
        "max_length": 1024,
        "ovlabel_ratio": 0.5,
        "tasks": ["description", "ovlabel"],
        "subtitle_dropout": 0.0,  # official: never; see AffectGPTTrainingCollator
        "target_format": "official",  # or "think_answer": the GRPO cold start's <think>/<answer> targets
    },
    "training": {"output_dir": "runs/affectgpt"},
    "grpo": GRPO_DEFAULTS,  # read only with `method: grpo` (affectgpt.grpo)
    "export": {
        "mode": "merged",
        "dir": None,
    },  # mode: merged | adapter | none; dir default <output_dir>/final
}
_EXPORT_MODES = ("merged", "adapter", "none")
# Top-level `method:` (a scalar, not a section): which trainer runs the recipe.
METHODS = ("sft", "grpo")


def _parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"override {item!r} is not KEY=VALUE")
    path = key.strip().split(".")
    if len(path) < 2:
        raise RecipeError(f"override {item!r}: the key needs a section, e.g. training.{key.strip()}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise RecipeError(f"override {item!r}: the value is not valid YAML ({_yaml_problem(err)})") from None
    # "1e-4" (no dot) stays text here, as in a recipe file; the schema reads it as a number for float fields.
    return path, value


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{getattr(err, 'problem', None) or err}"


def apply_overrides(recipe: dict, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """`["training.learning_rate=1e-4", ...]` applied to a copy of `recipe` (values parsed as YAML)."""
    recipe = copy.deepcopy(recipe)
    for item in overrides:
        path, value = _parse_override(item)
        node = recipe
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RecipeError(f"override {item!r}: {part!r} is not a section")
        node[path[-1]] = value
    return recipe


def _read(recipe: str | os.PathLike) -> Any:
    path = Path(recipe)
    if not path.is_file():
        raise RecipeError(f"recipe not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: not valid YAML ({_yaml_problem(err)})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RecipeError(f"{path}: cannot read the recipe ({err})") from None


def load_recipe(recipe: str | os.PathLike | dict, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The full recipe: defaults <- YAML file (or dict) <- overrides, with unknown keys rejected and every field
    type- and range-checked."""
    raw = copy.deepcopy(recipe) if isinstance(recipe, dict) else _read(recipe)
    if not isinstance(raw, dict):
        raise RecipeError("a recipe is a mapping of sections (model, data, collator, training, export)")
    raw = apply_overrides(raw, overrides)
    method = raw.pop("method", "sft")
    if method not in METHODS:
        raise RecipeError(f"method must be one of {METHODS}, got {method!r}")
    unknown = set(raw) - set(DEFAULT_RECIPE)
    if unknown:
        raise RecipeError(f"unknown recipe section(s) {sorted(unknown)}; known: {sorted(DEFAULT_RECIPE)}")
    merged = copy.deepcopy(DEFAULT_RECIPE)
    for section, values in raw.items():
        values = values or {}
        if not isinstance(values, dict):
            raise RecipeError(f"recipe section {section!r} must be a mapping")
        if section != "training":
            bad = set(values) - set(DEFAULT_RECIPE[section])
            if bad:
                raise RecipeError(
                    f"unknown key(s) {sorted(bad)} in {section!r}; known: {sorted(DEFAULT_RECIPE[section])}"
                )
        merged[section].update(values)
    if merged["export"]["mode"] not in _EXPORT_MODES:
        raise RecipeError(f"export.mode must be one of {_EXPORT_MODES}, got {merged['export']['mode']!r}")
    if not merged["data"]["path"]:
        raise RecipeError("data.path is required (a dataset folder or Hub id)")
    _check_init_fusion(merged["model"])
    merged["method"] = method
    try:
        return check_recipe(merged)
    except RecipeSchemaError as err:
        raise RecipeError(f"recipe {err}") from None


def _check_init_fusion(model_cfg: dict) -> None:
    count = model_cfg["init_fusion_from_data"]
    if not isinstance(count, int) or isinstance(count, bool) or count < 0 or count == 1:
        raise RecipeError(
            f"model.init_fusion_from_data must be 0 (off) or a number of clips >= 2, got {count!r}"
        )
    if count and model_cfg["train_towers"]:
        raise RecipeError(
            "model.init_fusion_from_data standardises the towers' features; with model.train_towers the towers "
            "change during training and the statistics go stale. Use it with frozen towers."
        )
