"""The recipe's types and ranges, checked before anything is loaded (docs/TRAINING.md, "Recipes").

The model, data, collator and export sections are `huggingface_hub` strict dataclasses (type and range per
field); the training section is checked against `trl.SFTConfig`'s own field annotations (`trl.GRPOConfig`'s
for `method: grpo`). So a YAML slip
(`lora: maybe`, a batch size of "8", `max_samples: 0`) is one line naming the field, not a traceback after
the model has loaded, nor a silently different run. Defaults stay in `affectgpt.train.recipe.DEFAULT_RECIPE`: these
classes have none, every field comes from the merged recipe."""

# No `from __future__ import annotations`: the strict dataclasses validate against the real annotations.

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from huggingface_hub.dataclasses import strict, type_validator, validated_field
from huggingface_hub.errors import StrictDataclassError

__all__ = ["RecipeSchemaError", "check_recipe"]


class RecipeSchemaError(ValueError):
    """One recipe field with the wrong type or out of range; the message names `section.field`."""


def _at_least(low):
    def check(value):
        if value is not None and value < low:
            raise ValueError(f"must be >= {low}, got {value!r}")

    return check


def _in_unit_interval(value):
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"must be in [0, 1], got {value!r}")


def _dropout(value):
    if not 0.0 <= value < 1.0:
        raise ValueError(f"must be in [0, 1), got {value!r}")


def _positive(value):
    if value <= 0:
        raise ValueError(f"must be > 0, got {value!r}")


def _tasks(value):
    if not value or any(t not in ("description", "ovlabel") for t in value):
        raise ValueError(f"must be a non-empty list of 'description' / 'ovlabel', got {value!r}")


def _checked(*validators):
    return validated_field(list(validators))


@strict
@dataclass
class ModelSection:
    preset: str
    pretrained: str | None
    vision: str | None
    audio: str | None
    llm: str | None
    config_overrides: dict[str, Any] | None
    init_seed: int = _checked(_at_least(0))
    lora: bool
    lora_r: int = _checked(_at_least(1))
    lora_alpha: int | float = _checked(_positive)
    lora_dropout: float = _checked(_dropout)
    train_towers: bool
    init_fusion_from_data: int = _checked(_at_least(0))


@strict
@dataclass
class DataSection:
    path: str
    config: str | None
    split: str
    streaming: bool
    data_root: str | None
    max_samples: int | None = _checked(_at_least(1))  # None = every row; 0 is not "everything"
    shuffle_buffer: int = _checked(_at_least(0))
    build_if_missing: Literal["synth-mer"] | None
    build_num_clips: int = _checked(_at_least(2))


@strict
@dataclass
class CollatorSection:
    max_length: int = _checked(_at_least(1))
    ovlabel_ratio: float = _checked(_in_unit_interval)
    tasks: list[str] = _checked(_tasks)
    subtitle_dropout: float = _checked(_in_unit_interval)
    target_format: Literal["official", "think_answer"]


@strict
@dataclass
class ExportSection:
    mode: Literal["merged", "adapter", "none"]
    dir: str | None


def _weights(value):
    bad = {k: v for k, v in value.items() if isinstance(v, bool) or not isinstance(v, (int, float))}
    if not value or bad:
        raise ValueError(f"must map reward names to numbers, got {value!r}")


@strict
@dataclass
class GRPOSection:  # read only with `method: grpo` (affectgpt.grpo); reward names are checked there
    task: Literal["ovlabel", "description"]
    reward_weights: dict[str, Any] = _checked(_weights)
    max_words: int = _checked(_at_least(1))
    level: Literal["level1", "level2"]
    extractor: str
    wheel_dir: str | None
    label_column: str


SECTIONS = {
    "model": ModelSection,
    "data": DataSection,
    "collator": CollatorSection,
    "grpo": GRPOSection,
    "export": ExportSection,
}

# Ranges of the TrainingArguments fields a recipe usually sets (their types come from SFTConfig itself).
TRAINING_RANGES = {
    "learning_rate": _at_least(0.0),
    "weight_decay": _at_least(0.0),
    "max_grad_norm": _at_least(0.0),
    "warmup_steps": _at_least(0),
    "warmup_ratio": _in_unit_interval,
    "num_train_epochs": _positive,
    "per_device_train_batch_size": _at_least(1),
    "per_device_eval_batch_size": _at_least(1),
    "gradient_accumulation_steps": _at_least(1),
    "logging_steps": _positive,
    "save_steps": _positive,
    "save_total_limit": _at_least(1),
    "dataloader_num_workers": _at_least(0),
    "seed": _at_least(0),
}


def _accepts(annotation, kind: type) -> bool:
    if annotation is kind:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_accepts(arg, kind) for arg in typing.get_args(annotation))
    return False


# YAML 1.1 reads 2e-3 (no dot) and a quoted "1e-5" as text; for a float field the user means the number.
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _coerce(value, annotation):
    """An int or a number written as text where the field takes a float (and not that type) -> the float."""
    if _accepts(annotation, float) and not isinstance(value, bool):
        if isinstance(value, int) and not _accepts(annotation, int):
            return float(value)
        if isinstance(value, str) and not _accepts(annotation, str) and _NUMBER.match(value.strip()):
            return float(value)
    return value


def _type_name(annotation) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, dict):
        return f"a {origin.__name__} of {', '.join(_type_name(a) for a in args)}" if args else origin.__name__
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _one_line(section: str, name: str, err: Exception, annotation, value) -> str:
    """`section.name: why`; a wrong type is said in the recipe's terms, a range error as its check said it."""
    text = str(err)
    if isinstance(err, TypeError) or "TypeError:" in text:
        return f"{section}.{name}: expected {_type_name(annotation)}, got {type(value).__name__} ({value!r})"
    last = [line.strip() for line in text.splitlines() if line.strip()][-1]
    return f"{section}.{name}: {re.sub(r'^ValueError: ', '', last)}"


def _check_training(training: dict, method: str = "sft") -> dict:
    from trl import GRPOConfig, SFTConfig

    config_cls = GRPOConfig if method == "grpo" else SFTConfig
    fields = {f.name: f for f in dataclasses.fields(config_cls) if f.init}
    hints = typing.get_type_hints(config_cls)
    checked = {}
    for name, value in training.items():
        if name not in fields:
            import difflib

            close = difflib.get_close_matches(name, fields, 1, 0.75)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise RecipeSchemaError(
                f"training.{name}: not a {config_cls.__name__} / TrainingArguments field{hint}"
            )
        annotation = hints.get(name, fields[name].type)
        number = _coerce(value, annotation)
        try:
            type_validator(name, number, annotation)
            if name in TRAINING_RANGES and number is not None:
                TRAINING_RANGES[name](number)
        except (TypeError, ValueError) as err:
            raise RecipeSchemaError(_one_line("training", name, err, annotation, value)) from None
        checked[name] = number if isinstance(value, str) else value  # an int stays an int (save_steps: 500)
    return checked


def check_recipe(recipe: dict) -> dict:
    """`recipe` (all sections merged with the defaults) with every field type- and range-checked; ints and
    numbers-as-text in float fields become floats. Raises `RecipeSchemaError` naming the first bad field."""
    out = {
        "training": _check_training(recipe["training"], recipe.get("method", "sft")),
        "method": recipe.get("method", "sft"),
    }
    for section, cls in SECTIONS.items():
        values = dict(recipe[section])
        numbers = {name: _coerce(value, cls.__annotations__.get(name, Any)) for name, value in values.items()}
        values.update({n: v for n, v in numbers.items() if isinstance(values[n], str)})
        try:
            cls(**numbers)
        except StrictDataclassError as err:
            name = next((n for n in values if f"field '{n}'" in str(err)), "?")
            annotation = cls.__annotations__.get(name, Any)
            raise RecipeSchemaError(_one_line(section, name, err, annotation, values.get(name))) from None
        out[section] = values
    return out
