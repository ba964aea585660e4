"""Recipes, overrides, SFTConfig settings, accelerate configs and `affectgpt train` argument parsing (no training)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from affectgpt.train import RecipeError, apply_overrides, build_sft_config, load_recipe

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL = ROOT / "recipes" / "official-mer-caption-plus.yaml"
TINY = ROOT / "recipes" / "tiny-synth.yaml"


def test_official_recipe_has_the_paper_settings():
    recipe = load_recipe(OFFICIAL)
    t = recipe["training"]
    assert t["per_device_train_batch_size"] == 3 and t["max_steps"] == 300_000 == 60 * 5000
    assert t["learning_rate"] == 1e-5 and t["lr_scheduler_type"] == "constant" and t["warmup_steps"] == 0
    assert t["weight_decay"] == 0.05 and t["max_grad_norm"] == 0.0 and t["seed"] == 42
    assert t["bf16"] is True and t["save_steps"] == 5000
    assert recipe["collator"] == {
        "max_length": 1024,
        "ovlabel_ratio": 0.5,
        "tasks": ["description", "ovlabel"],
        "subtitle_dropout": 0.0,  # the paper never leaves the subtitle out
        "target_format": "official",  # the paper's targets, no <think>/<answer>
    }
    m = recipe["model"]
    assert (m["preset"], m["lora"], m["lora_r"], m["lora_alpha"], m["lora_dropout"]) == (
        "official",
        True,
        16,
        32,
        0.05,
    )
    assert m["train_towers"] is False


def test_tiny_recipe_loads_and_documents_its_deviations():
    recipe = load_recipe(TINY)
    assert recipe["model"]["preset"] == "tiny" and recipe["data"]["config"] == "synth-mer"
    text = TINY.read_text()
    for word in ("train_towers", "lora: false", "learning_rate", "deviation"):
        assert word in text


def test_overrides_parse_yaml_values():
    recipe = apply_overrides(
        {"training": {"a": 1}},
        ["training.learning_rate=1e-4", "data.streaming=true", "collator.tasks=[ovlabel]", "training.a=null"],
    )
    assert recipe == {
        "training": {"a": None, "learning_rate": 1e-4},
        "data": {"streaming": True},
        "collator": {"tasks": ["ovlabel"]},
    }


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.lorra=true"], "unknown key"),
        (["trainer.x=1"], "unknown recipe section"),
        (["learning_rate=1"], "needs a section"),
        (["training.lr"], "KEY=VALUE"),
        (["export.mode=zip"], "export.mode"),
        (["model.train_towers=false", "model.init_fusion_from_data=1"], "init_fusion_from_data must be"),
        (["model.train_towers=false", "model.init_fusion_from_data=many"], "init_fusion_from_data must be"),
        (["model.train_towers=true", "model.init_fusion_from_data=64"], "frozen towers"),
    ],
)
def test_bad_recipes_are_rejected(overrides, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(TINY, overrides)


def test_missing_recipe_and_data_path(tmp_path):
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "nope.yaml")
    with pytest.raises(RecipeError, match="data.path"):
        load_recipe({"model": {"preset": "tiny"}})


def test_sft_config_forces_custom_collator_settings_and_cpu(tmp_path):
    recipe = load_recipe(OFFICIAL, ["training.remove_unused_columns=true"])
    args = build_sft_config(recipe["training"], str(tmp_path))
    assert args.dataset_kwargs == {"skip_prepare_dataset": True}
    assert args.remove_unused_columns is False and args.max_length is None
    assert args.dataloader_persistent_workers is False
    assert args.output_dir == str(tmp_path)
    assert args.max_grad_norm == 0.0 and args.weight_decay == 0.05 and args.learning_rate == 1e-5
    import torch

    if not torch.cuda.is_available():
        assert args.use_cpu and not args.bf16 and not args.fp16
    with pytest.raises(RecipeError, match="bad training settings"):
        build_sft_config({"output_dir": str(tmp_path), "no_such_field": 1})


@pytest.mark.parametrize(
    "name, kind",
    [
        ("ddp", "MULTI_GPU"),
        ("deepspeed_zero2", "DEEPSPEED"),
        ("deepspeed_zero3", "DEEPSPEED"),
        ("fsdp2", "FSDP"),
    ],
)
def test_accelerate_configs(name, kind):
    from accelerate.commands.config.config_args import ClusterConfig

    path = ROOT / "accelerate" / f"{name}.yaml"
    config = ClusterConfig.from_yaml_file(str(path))
    assert config.distributed_type.value == kind
    raw = yaml.safe_load(path.read_text())
    if name.startswith("deepspeed"):
        assert raw["deepspeed_config"]["zero_stage"] == int(name[-1])
    if name == "fsdp2":
        assert raw["fsdp_config"]["fsdp_version"] == 2
    assert name in (ROOT / "docs" / "TRAINING.md").read_text()


def _parse(argv):
    from affectgpt.commands import train as command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_arguments():
    args = _parse(["--config", "r.yaml", "--override", "a.b=1", "--override", "c.d=x", "--resume"])
    assert (args.config, args.override, args.resume, args.output_dir) == (
        "r.yaml",
        ["a.b=1", "c.d=x"],
        "latest",
        None,
    )
    args = _parse(["--config", "r.yaml", "--resume", "runs/x/checkpoint-5", "--output-dir", "o"])
    assert (args.resume, args.output_dir) == ("runs/x/checkpoint-5", "o")
    assert _parse(["--config", "r.yaml"]).resume is None


def test_cli_reports_recipe_errors(tmp_path, capsys):
    from affectgpt.cli import main

    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "recipe not found" in capsys.readouterr().err
