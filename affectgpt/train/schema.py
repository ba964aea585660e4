"""The recipe's sections: every key with its default, type and range (docs/TRAINING.md, "Recipes").

The model, data, collator, grpo and export sections are `huggingface_hub` strict dataclasses (default, type
and range per field: the one home of a recipe key); the training section is checked against `trl.SFTConfig`'s
own field annotations (`trl.GRPOConfig`'s for `method: grpo`). So a YAML slip (`lora: maybe`, a batch size of
"8", `max_samples: 0`) is one line naming the field, not a traceback after the model has loaded, nor a silently
different run.

Why not `trl.TrlParser` (YAML + CLI into dataclasses, TRL 1.16): it reads one flat namespace of `--field value`
arguments, and a recipe is sections whose keys repeat across them (`collator.max_length` and
`SFTConfig.max_length`) or are reserved by it (`data.config`: "reserved for the config file path"); a nested
section in its YAML is an unknown argument. Its YAML values become argparse defaults, so a non-string one is
never checked (`max_samples: 0` passes, no ranges at all) and a bad string ends in argparse's usage dump and
exit 2, not one line. And `method:` chooses SFTConfig or GRPOConfig, which the parser must know before it reads
the file. The CLI keeps `--override section.key=VALUE`."""

# No `from __future__ import annotations`: the strict dataclasses validate against the real annotations.

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from huggingface_hub.dataclasses import strict, type_validator, validated_field
from huggingface_hub.errors import StrictDataclassClassValidationError, StrictDataclassError

__all__ = ["GRPO_DEFAULTS", "SECTIONS", "RecipeSchemaError", "check_recipe", "section_defaults"]


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


def _fusion_clips(value):
    if value < 0 or value == 1:
        raise ValueError(f"must be 0 (off) or a number of clips >= 2, got {value!r}")


def _given(value):
    if not value:
        raise ValueError("is required (a dataset folder or Hub id)")


def _weights(value):
    bad = {k: v for k, v in value.items() if isinstance(v, bool) or not isinstance(v, (int, float))}
    if not value or bad:
        raise ValueError(f"must map reward names to numbers, got {value!r}")


def _checked(*validators, default=dataclasses.MISSING, default_factory=dataclasses.MISSING):
    return validated_field(list(validators), default=default, default_factory=default_factory)


@strict
@dataclass
class ModelSection:
    preset: str = "tiny"  # affectgpt.presets name, used when `pretrained` is not set
    pretrained: str | None = None  # a model folder (from `affectgpt init`, `convert` or an earlier run)
    vision: str | None = None  # official preset: pretrained CLIP (Hub id / folder)
    audio: str | None = None  # official preset: pretrained HuBERT-family encoder
    llm: str | None = None  # official preset: pretrained causal LM
    config_overrides: dict[str, Any] | None = dataclasses.field(default_factory=dict)  # AffectGPTConfig
    # seed of the random init of a preset's untrained parts
    init_seed: int = _checked(_at_least(0), default=0)
    lora: bool = True  # LoRA on the LLM (official); false trains the whole LLM
    lora_r: int = _checked(_at_least(1), default=16)
    lora_alpha: int | float = _checked(_positive, default=32)
    lora_dropout: float = _checked(_dropout, default=0.05)
    train_towers: bool = False  # deviation for random tiny towers; the paper freezes them
    # >0: start pooling/projectors standardising this many clips' features (affectgpt.fusion_init)
    init_fusion_from_data: int = _checked(_fusion_clips, default=0)

    def validate_fusion_start_with_frozen_towers(self):
        if self.init_fusion_from_data and self.train_towers:
            raise ValueError(
                "init_fusion_from_data standardises the towers' features; with train_towers the towers change "
                "during training and the statistics go stale. Use it with frozen towers."
            )


@strict
@dataclass
class DataSection:
    path: str | None = _checked(_given, default=None)  # dataset folder (`affectgpt build-dataset`) or Hub id
    config: str | None = None
    split: str = "train"
    streaming: bool = False
    data_root: str | None = None  # media paths are relative to it; default: `path`
    max_samples: int | None = _checked(_at_least(1), default=None)  # None = every row; 0 is not "everything"
    shuffle_buffer: int = _checked(_at_least(0), default=1000)  # streaming only: approximate shuffle's buffer
    # "synth-mer": generate the synthetic corpus when `path` does not exist
    build_if_missing: Literal["synth-mer"] | None = None
    build_num_clips: int = _checked(_at_least(2), default=300)  # size of that generated corpus (train + test)


@strict
@dataclass
class CollatorSection:
    max_length: int = _checked(_at_least(1), default=1024)
    ovlabel_ratio: float = _checked(_in_unit_interval, default=0.5)
    tasks: list[str] = _checked(_tasks, default_factory=lambda: ["description", "ovlabel"])
    subtitle_dropout: float = _checked(_in_unit_interval, default=0.0)  # official: never; see the collator
    # or "think_answer": the GRPO cold start's <think>/<answer> targets
    target_format: Literal["official", "think_answer"] = "official"


@strict
@dataclass
class GRPOSection:  # read only with `method: grpo` (affectgpt.grpo); reward names are checked there
    # Question of the rollouts: the OV-label one, the question `affectgpt bench` asks, so the reward optimises
    # what the benchmark scores. The prompt is the inference prompt (affectgpt.clips.ClipEncoder).
    task: Literal["ovlabel", "description"] = "ovlabel"
    # Weighted sum of the metrics.rewards functions (AffectGPT-R1 re-implementations: accuracy 1.0, dual 0.6,
    # alignment 0.4, format 0.2). The length penalty lies in [-1, 0]. A reward left out is not computed.
    reward_weights: dict[str, Any] = _checked(
        _weights,
        default_factory=lambda: dict(accuracy=1.0, dual=0.6, alignment=0.4, format=0.2, length=1.0),
    )
    max_words: int = _checked(_at_least(1), default=120)  # the length penalty starts above this many words
    level: Literal["level1", "level2"] = "level1"  # emotion-wheel level of the rewards' label mapping
    extractor: str = "lexicon"  # label extraction in the rewards: lexicon (offline) | llm:MODEL
    wheel_dir: str | None = None  # official emotion-wheel files; default: MER_UNIBENCH_WHEEL_DIR / HF cache
    label_column: str = "emotions"  # dataset column with the ground-truth labels


@strict
@dataclass
class ExportSection:
    mode: Literal["merged", "adapter", "none"] = "merged"
    dir: str | None = None  # default <output_dir>/final


SECTIONS = {
    "model": ModelSection,
    "data": DataSection,
    "collator": CollatorSection,
    "grpo": GRPOSection,
    "export": ExportSection,
}


def section_defaults(cls) -> dict[str, Any]:
    """A section's keys with their defaults, in field order (read without building the class: the data
    section's `path` has no valid default)."""
    return {
        f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        for f in dataclasses.fields(cls)
    }


GRPO_DEFAULTS = section_defaults(GRPOSection)

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
    return f"{section}.{name}: {_last_line(err)}"


def _last_line(err: Exception) -> str:
    last = [line.strip() for line in str(err).splitlines() if line.strip()][-1]
    return re.sub(r"^ValueError: ", "", last)


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
        except StrictDataclassClassValidationError as err:
            raise RecipeSchemaError(f"{section}: {_last_line(err)}") from None
        except StrictDataclassError as err:
            name = next((n for n in values if f"field '{n}'" in str(err)), "?")
            annotation = cls.__annotations__.get(name, Any)
            raise RecipeSchemaError(_one_line(section, name, err, annotation, values.get(name))) from None
        out[section] = values
    return out
