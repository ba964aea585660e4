"""A recipe: defaults <- YAML file (or dict) <- `section.key=VALUE` overrides, checked by `schema.check_recipe`.

Imports neither TRL's trainers nor torch: `affectgpt train` rejects a bad recipe in a second, before any model
loads."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from .schema import SECTIONS, RecipeSchemaError, check_recipe, section_defaults

__all__ = ["DEFAULT_RECIPE", "METHODS", "RecipeError", "apply_overrides", "load_recipe"]


class RecipeError(ValueError):
    """A recipe that cannot be run: unknown key, bad value, missing dataset."""


# Every recipe key with its default (from the section classes of `schema`); unknown keys are errors (a typo must
# not silently train something else). `training` holds SFTConfig/TrainingArguments fields, checked against
# SFTConfig itself.
DEFAULT_RECIPE: dict[str, dict[str, Any]] = {
    "model": section_defaults(SECTIONS["model"]),
    "data": section_defaults(SECTIONS["data"]),
    "collator": section_defaults(SECTIONS["collator"]),
    "training": {"output_dir": "runs/affectgpt"},
    "grpo": section_defaults(SECTIONS["grpo"]),  # read only with `method: grpo` (affectgpt.grpo)
    "export": section_defaults(SECTIONS["export"]),  # mode: merged | adapter | none
}
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
    merged["method"] = method
    try:
        return check_recipe(merged)
    except RecipeSchemaError as err:
        raise RecipeError(f"recipe {err}") from None
