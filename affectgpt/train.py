"""Training entry point: a YAML recipe -> TRL `SFTTrainer` run -> checkpoints + an exported model folder.

    from affectgpt.train import train
    result = train("recipes/tiny-synth.yaml", overrides=["training.max_steps=50"])

TRL 1.16 only prepares image datasets, so AffectGPT brings its own collator (processing.collator) and tells TRL to
leave the rows alone (`skip_prepare_dataset`, `remove_unused_columns=False`, `max_length=None`). TRL ≥1.7 runs
only the base model (`AffectGPTModel`, which owns towers + fusion + LM) and computes the loss from `lm_head`
itself; logging of loss and `mean_token_accuracy` comes from it. Distributed launch (DDP, DeepSpeed, FSDP2) is
accelerate's job: nothing here changes with it.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from affectgpt.grpo.recipe import GRPO_DEFAULTS

__all__ = [
    "DEFAULT_RECIPE",
    "RecipeError",
    "TrainResult",
    "apply_overrides",
    "build_sft_config",
    "load_recipe",
    "train",
]

logger = logging.getLogger(__name__)


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


# ------------------------------------------------------------------------------------------------ recipe


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


def load_recipe(recipe: str | os.PathLike | dict, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The full recipe: defaults <- YAML file (or dict) <- overrides, with unknown keys rejected."""
    if isinstance(recipe, dict):
        raw = copy.deepcopy(recipe)
    else:
        path = Path(recipe)
        if not path.is_file():
            raise RecipeError(f"recipe not found: {path}")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise RecipeError(f"{path}: not valid YAML ({_yaml_problem(err)})") from None
        except (OSError, UnicodeDecodeError) as err:
            raise RecipeError(f"{path}: cannot read the recipe ({err})") from None
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
    from affectgpt.recipe_schema import RecipeSchemaError, check_recipe

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


# ------------------------------------------------------------------------------------------------ model


def build_model_and_processor(model_cfg: dict):
    """(model, processor) from a pretrained folder or a preset; towers frozen, the rest per `model_cfg`."""
    from modeling_affectgpt import AffectGPTForConditionalGeneration
    from processing import AffectGPTProcessor, build_processor

    if model_cfg["pretrained"]:
        folder = model_cfg["pretrained"]
        if not Path(folder, "config.json").is_file():
            raise RecipeError(f"model.pretrained: no model folder at {folder}")
        # The project's own classes (not the folder's copied code): training must use this checkout's code.
        model = AffectGPTForConditionalGeneration.from_pretrained(folder)
        processor = AffectGPTProcessor.from_pretrained(folder)
        from affectgpt.presets import set_generation_defaults

        # The export's stop/pad settings follow the tokenizer it trains with (a folder saved by older code may
        # carry other ones).
        set_generation_defaults(model, processor.tokenizer)
        return model, processor

    from affectgpt.presets import PRESETS, build_model, processor_for

    if model_cfg["preset"] not in PRESETS:
        raise RecipeError(f"model.preset {model_cfg['preset']!r} unknown; choose one of {sorted(PRESETS)}")
    processor = build_processor()
    model = build_model(
        model_cfg["preset"],
        vision=model_cfg["vision"],
        audio=model_cfg["audio"],
        llm=model_cfg["llm"],
        seed=model_cfg["init_seed"],
        tokenizer=processor.tokenizer,
        **(model_cfg["config_overrides"] or {}),
    )
    config = model.config
    processor = processor_for(config, processor.tokenizer)
    return model, processor


_TOWERS = ("vision_tower", "audio_tower")


def configure_trainable(model, model_cfg: dict):
    """LoRA: returns the peft config (TRL applies it; it freezes all but LoRA + `modules_to_save`).
    Full: the LLM, fusion and projectors train, the towers only with `train_towers`; returns None."""
    from affectgpt.presets import TRAINABLE_MODULES, lora_config

    if model_cfg["lora"]:
        # anchored like presets.TRAINABLE_MODULES ("model.<name>"): PEFT matches modules_to_save by suffix
        towers = [f"model.{name}" for name in _TOWERS] if model_cfg["train_towers"] else []
        modules = list(TRAINABLE_MODULES) + towers
        peft_config = lora_config(
            r=model_cfg["lora_r"],
            lora_alpha=model_cfg["lora_alpha"],
            lora_dropout=model_cfg["lora_dropout"],
            modules_to_save=modules,
        )
    else:
        peft_config = None
        model.requires_grad_(True)
        for name in _TOWERS:
            getattr(model.model, name).requires_grad_(bool(model_cfg["train_towers"]))
    if model_cfg["train_towers"]:
        # The audio tower's convolutional waveform encoder stays frozen, as in every wav2vec2/HuBERT fine-tune:
        # its backward over 32,000-sample clips costs more than the rest of the tiny model.
        encoder = getattr(model.model.audio_tower, "feature_extractor", None)
        if encoder is not None:
            encoder.requires_grad_(False)
    return peft_config


# ------------------------------------------------------------------------------------------------ data


def _init_fusion_from_data(model, dataset, collator, model_cfg: dict) -> None:
    """Data-dependent start of the pooling / projectors (affectgpt.fusion_init) from the first training clips."""
    from affectgpt.fusion_init import FusionInitError, init_fusion_from_data

    rows = list(itertools.islice(iter(dataset), model_cfg["init_fusion_from_data"]))
    batches = [collator(rows[i : i + 16]) for i in range(0, len(rows), 16)]
    was_training = model.training
    model.eval()
    try:
        similarity = init_fusion_from_data(model, batches, seed=model_cfg["init_seed"])
    except FusionInitError as err:
        raise RecipeError(str(err)) from err
    finally:
        model.train(was_training)
    logger.warning(
        "init_fusion_from_data: standardised the media features of %d clips; token cosine similarity %s",
        len(rows),
        {name: round(value, 4) for name, value in similarity.items()},
    )


def _build_if_missing(data_cfg: dict) -> None:
    path = Path(data_cfg["path"])
    corpus = data_cfg["build_if_missing"]
    if not corpus or path.exists():
        return
    if corpus != "synth-mer":
        raise RecipeError(f"data.build_if_missing: only 'synth-mer' can be generated, got {corpus!r}")
    from dataset_scripts.synth_mer import build_synth_mer  # what `affectgpt build-dataset synth-mer` runs

    logger.warning("dataset %s missing: generating synth-mer (%d clips)", path, data_cfg["build_num_clips"])
    build_synth_mer(path, num_clips=int(data_cfg["build_num_clips"]), progress=False)


def build_train_dataset(data_cfg: dict, seed: int):
    """The training split with the row index the collator keys its target draw on."""
    from affectgpt.data import load_split
    from processing.collator import INDEX_COLUMN

    _build_if_missing(data_cfg)
    try:
        dataset = load_split(data_cfg["path"], data_cfg["config"], data_cfg["split"], data_cfg["streaming"])
    except (FileNotFoundError, ValueError) as err:
        raise RecipeError(f"cannot load the training data: {err}") from err
    limit = data_cfg["max_samples"]
    if data_cfg["streaming"]:
        if limit:
            dataset = dataset.take(int(limit))
        dataset = dataset.map(lambda _, i: {INDEX_COLUMN: i}, with_indices=True)
        # An IterableDataset is not shuffled by the Trainer's sampler; a buffered shuffle replaces it.
        if data_cfg["shuffle_buffer"]:
            dataset = dataset.shuffle(seed=seed, buffer_size=int(data_cfg["shuffle_buffer"]))
        return dataset
    if limit:
        dataset = dataset.select(range(min(int(limit), len(dataset))))
    # add_column, not map: no rewrite of the (possibly media-embedding) table
    return dataset.add_column(INDEX_COLUMN, list(range(len(dataset))))


def _data_root(data_cfg: dict) -> str | None:
    root = data_cfg["data_root"] or data_cfg["path"]
    return str(root) if Path(root).exists() else None


# ------------------------------------------------------------------------------------------------ trainer


def build_sft_config(training: dict, output_dir: str | None = None):
    """SFTConfig with the settings a custom multimodal collator needs; CPU-only machines get fp32."""
    from trl import SFTConfig

    kwargs = dict(training)
    if output_dir:
        kwargs["output_dir"] = output_dir
    forced = {
        "dataset_kwargs": {"skip_prepare_dataset": True},  # rows stay rows; the collator tokenizes
        "remove_unused_columns": False,  # the collator needs video/audio/subtitle/description/emotions
        "max_length": None,  # no TRL truncation: the collator drops over-long samples instead
        "dataloader_persistent_workers": False,  # workers must be re-forked to see the new epoch's draw
    }
    for key, value in forced.items():
        if key in kwargs and kwargs[key] != value:
            logger.warning("training.%s=%r ignored: AffectGPT training needs %r", key, kwargs[key], value)
        kwargs[key] = value
    cpu_fallback(kwargs)
    try:
        return SFTConfig(**kwargs)
    except (TypeError, ValueError) as err:
        raise RecipeError(f"bad training settings: {err}") from err


def cpu_fallback(kwargs: dict) -> None:
    """No GPU: fp32 on CPU (bf16/fp16 off); `report_to` defaults to none. Edits the trainer-config kwargs."""
    import torch

    kwargs.setdefault("report_to", "none")
    if not torch.cuda.is_available():
        if kwargs.get("bf16") or kwargs.get("fp16"):
            logger.warning("no GPU: training in fp32 on CPU (bf16/fp16 switched off)")
        kwargs.update(use_cpu=True, bf16=False, fp16=False)


def compact_fused_head(device):
    """TRL's fused head scores only the supervised positions on Triton devices and every position elsewhere (to
    keep shapes static for compilers). On CPU, with a 151,670-word vocabulary and answers far shorter than the
    prompts, scoring every position costs most of the step; the compact path is plain torch and gives the same
    loss. A context manager; a no-op off CPU."""
    import contextlib
    from unittest import mock

    import trl.trainer.utils as trl_utils

    if device.type != "cpu" or not hasattr(trl_utils, "_use_triton"):
        return contextlib.nullcontext()
    return mock.patch.object(trl_utils, "_use_triton", lambda device: True)


@functools.cache
def _trainer_classes():
    """Defined lazily: importing TRL costs seconds and `affectgpt --help` must stay fast."""
    from transformers import TrainerCallback
    from trl import SFTTrainer

    class AffectGPTSFTTrainer(SFTTrainer):
        """SFTTrainer + the official weight-decay split + the collator's drop count in the logs."""

        def get_decay_parameter_names(self, model) -> list[str]:
            # Official (LAVIS): no decay on biases and on every parameter with fewer than 2 dims (norms, scales).
            # ZeRO-3 leaves partitioned parameters with an empty 1-D shape; `ds_shape` is the real one.
            return [
                name
                for name, param in model.named_parameters()
                if len(getattr(param, "ds_shape", param.shape)) >= 2 and not name.endswith("bias")
            ]

        def compute_loss(self, model, inputs, *args, **kwargs):
            dropped = inputs.pop("num_dropped", None)
            if dropped is not None:
                self._dropped_samples = getattr(self, "_dropped_samples", 0) + int(
                    self.accelerator.gather_for_metrics(dropped.reshape(1)).sum()
                )
            with compact_fused_head(inputs["input_ids"].device):
                return super().compute_loss(model, inputs, *args, **kwargs)

        def log(self, logs: dict[str, float], *args, **kwargs) -> None:
            if "loss" in logs:
                logs["dropped_samples"] = getattr(self, "_dropped_samples", 0)
            super().log(logs, *args, **kwargs)

    class CollatorEpochCallback(TrainerCallback):
        """Tells the collator the epoch before the DataLoader (re)creates its workers."""

        def __init__(self, collator):
            self.collator = collator

        def on_epoch_begin(self, args, state, control, **kwargs):
            # state.epoch is fractional; resumed mid-epoch it is e.g. 3.4 -> epoch 3.
            self.collator.set_epoch(math.floor((state.epoch or 0.0) + 1e-6))

    return AffectGPTSFTTrainer, CollatorEpochCallback


# ------------------------------------------------------------------------------------------------ export


def _copy_auto_map(folder: Path) -> None:
    """Give the model config an AutoProcessor entry too, so every Auto class resolves from config.json."""
    config_path, processor_path = folder / "config.json", folder / "processor_config.json"
    if not (config_path.is_file() and processor_path.is_file()):
        return
    processor_map = json.loads(processor_path.read_text()).get("auto_map", {})
    config = json.loads(config_path.read_text())
    if "AutoProcessor" in processor_map:
        config.setdefault("auto_map", {})["AutoProcessor"] = processor_map["AutoProcessor"]
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def export_model(trainer, processor, recipe: dict, directory: str | os.PathLike) -> Path | None:
    """Write the trained model as a `from_pretrained` folder (merged) or an adapter folder (+ its base)."""
    from peft import PeftModel

    mode = recipe["export"]["mode"]
    if mode == "none":
        return None
    out = Path(directory)
    model = trainer.accelerator.unwrap_model(trainer.model)
    is_peft = isinstance(model, PeftModel)
    sharded = trainer.is_fsdp_enabled or (
        trainer.is_deepspeed_enabled and trainer.accelerator.state.deepspeed_plugin.zero_stage == 3
    )
    if mode == "adapter" or (is_peft and sharded) or not is_peft:
        # The trainer gathers sharded weights (ZeRO-3 / FSDP) and writes the adapter or the full model.
        trainer.save_model(str(out))
    if not trainer.is_world_process_zero():
        return out
    processor.save_pretrained(out)
    if is_peft and mode == "merged":
        if sharded:  # weights live in shards: merge from the gathered adapter on a fresh CPU copy of the base
            base, _ = build_model_and_processor(recipe["model"])
            merged = PeftModel.from_pretrained(base, str(out)).merge_and_unload()
            for name in ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin"):
                (out / name).unlink(missing_ok=True)
        else:
            merged = model.merge_and_unload()
        merged.save_pretrained(out)
    elif is_peft and mode == "adapter":
        _point_adapter_at_base(out, recipe)
    _copy_auto_map(out)
    return out


def _point_adapter_at_base(out: Path, recipe: dict) -> None:
    """An adapter folder loads with from_pretrained only when `base_model_name_or_path` is a real model: the
    pretrained folder, or (preset) a saved copy of the untrained base."""
    base = recipe["model"]["pretrained"]
    if not base:
        base_dir = out.parent / f"{out.name}-base"
        model, processor = build_model_and_processor(recipe["model"])
        model.save_pretrained(base_dir)
        processor.save_pretrained(base_dir)
        _copy_auto_map(base_dir)
        base = str(base_dir.resolve())
    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = str(Path(base).resolve()) if Path(base).exists() else base
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


# ------------------------------------------------------------------------------------------------ entry point


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
    output_dir = Path(trainer.args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    output = trainer.train(resume_from_checkpoint=resume_from)
    export_dir = export_model(trainer, processor, recipe, recipe["export"]["dir"] or output_dir / "final")
    return output, (str(export_dir) if export_dir else None)


def _resume_arg(resume: str | bool | None, output_dir: str) -> str | None:
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


def _check_output_dirs(output_dir: str, recipe: dict) -> None:
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
    from affectgpt.data import resolve_media
    from affectgpt.grpo.data import reasoning_target
    from processing import AffectGPTTrainingCollator

    recipe = load_recipe(recipe, overrides)
    if recipe["method"] == "grpo":
        from affectgpt.grpo import train_grpo

        return train_grpo(recipe, resume=resume, output_dir=output_dir, callbacks=callbacks)
    args = build_sft_config(recipe["training"], output_dir)
    _check_output_dirs(args.output_dir, recipe)
    resume_from = _resume_arg(resume, args.output_dir)

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
        resolve_media=functools.partial(resolve_media, data_root=_data_root(recipe["data"])),
        target_fn=reasoning_target if recipe["collator"]["target_format"] == "think_answer" else None,
    )
    collator = make_collator(return_drop_count=True)
    if resume_from is None and recipe["model"]["init_fusion_from_data"]:
        _init_fusion_from_data(model, dataset, make_collator(), recipe["model"])
    trainer_cls, epoch_callback = _trainer_classes()
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=collator,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=[epoch_callback(collator), *(callbacks or [])],
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
