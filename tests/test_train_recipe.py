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


def test_loading_a_recipe_imports_neither_the_trainers_nor_the_model_code():
    """`affectgpt train` refuses a bad recipe before it imports TRL's trainers or builds a model, and the package
    import alone costs nothing (`affectgpt --help` stays fast)."""
    import subprocess
    import sys

    heavy = ("trl", "torch", "modeling_affectgpt", "processing")
    late = (
        "affectgpt.train.trainer",
        "trl.trainer.sft_trainer",
        "trl.trainer.grpo_trainer",
        "modeling_affectgpt",
    )
    code = (
        "import sys, affectgpt.train as t\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
        f"t.load_recipe({str(TINY)!r}); t.load_recipe({str(ROOT / 'recipes' / 'grpo-tiny-synth.yaml')!r})\n"
        f"print(sorted(m for m in {late!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[]", "[]"]


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
        "training": {"a": None, "learning_rate": "1e-4"},  # YAML 1.1 text; the schema reads the number
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
        (
            ["model.train_towers=false", "model.init_fusion_from_data=1"],
            "model.init_fusion_from_data: must be 0 \\(off\\) or a number of clips >= 2, got 1",
        ),
        (
            ["model.train_towers=false", "model.init_fusion_from_data=many"],
            "model.init_fusion_from_data: expected int, got str",
        ),
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


def _recipe_file(tmp_path, text: str) -> Path:
    """A recipe YAML with `text` plus a data path (merged into `text`'s own data section, if any)."""
    path = tmp_path / "recipe.yaml"
    if "data:\n" in text:
        text = text.replace("data:\n", "data:\n  path: data/x\n", 1)
    else:
        text = f"data:\n  path: data/x\n{text}"
    path.write_text(text)
    return path


def test_an_unquoted_exponent_is_the_number_it_reads_as(tmp_path):
    # YAML 1.1 reads `2e-3` (no dot) as the text "2e-3"; it used to reach the optimizer as a string.
    recipe = load_recipe(_recipe_file(tmp_path, "training:\n  learning_rate: 2e-3\n  warmup_steps: 5\n"))
    assert recipe["training"]["learning_rate"] == 2e-3 and isinstance(
        recipe["training"]["learning_rate"], float
    )
    assert recipe["training"]["warmup_steps"] == 5 and isinstance(recipe["training"]["warmup_steps"], int)
    assert load_recipe(TINY, ["model.lora_dropout=0"])["model"]["lora_dropout"] == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("model:\n  lora: maybe\n", "model.lora: expected bool, got str"),
        ("data:\n  max_samples: 0\n", "data.max_samples: must be >= 1, got 0"),
        (
            "training:\n  per_device_train_batch_size: '8'\n",
            "per_device_train_batch_size: expected int, got str",
        ),
        ("training:\n  per_device_train_batch_size: 0\n", "per_device_train_batch_size: must be >= 1"),
        ("training:\n  learning_rate: fast\n", "training.learning_rate: expected float, got str"),
        ("training:\n  learning_rate: -0.1\n", "training.learning_rate: must be >= 0.0"),
        ("training:\n  learnin_rate: 0.1\n", "did you mean learning_rate"),
        ("training:\n  bf16: 1\n", "training.bf16: expected bool or null, got int \\(1\\)"),
        ("collator:\n  ovlabel_ratio: 1.5\n", "collator.ovlabel_ratio: must be in \\[0, 1\\]"),
        ("collator:\n  tasks: [describe]\n", "collator.tasks: must be a non-empty list"),
        ("model:\n  lora_r: 8.5\n", "model.lora_r: expected int, got float"),
        ("model:\n  lora: [true\n", "recipe.yaml: not valid YAML \\(line"),
    ],
)
def test_every_recipe_field_is_type_and_range_checked(tmp_path, text, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(_recipe_file(tmp_path, text))


def test_a_bad_recipe_fails_before_anything_is_loaded(tmp_path, monkeypatch, capsys):
    import affectgpt.train.sft as sft_module
    from affectgpt.cli import main

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before the recipe was checked")

    monkeypatch.setattr(sft_module, "build_model_and_processor", no_loading)
    monkeypatch.setattr(sft_module, "build_train_dataset", no_loading)
    for text in ("training:\n  learning_rate: fast\n", "model:\n  lora: [\n"):
        assert main(["train", "--config", str(_recipe_file(tmp_path, text))]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and "recipe" in err, err
    out_file = tmp_path / "taken"
    out_file.write_text("")
    argv = ["train", "--config", str(_recipe_file(tmp_path, "")), "--output-dir", str(out_file)]
    assert main(argv) == 2
    assert "is a file; give a folder" in capsys.readouterr().err


def _checkpoint(root: Path, step: int, *, state: bool = True) -> Path:
    """A checkpoint folder laid out as the Trainer writes it (weights, optimizer, then trainer_state.json)."""
    import json

    import torch
    from safetensors.torch import save_file

    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    save_file({"w": torch.arange(256, dtype=torch.float32)}, folder / "model.safetensors")
    torch.save({"state": {0: {"exp_avg": torch.ones(64)}}}, folder / "optimizer.pt")
    if state:
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def test_resume_picks_the_latest_complete_checkpoint(tmp_path, caplog):
    from affectgpt.checkpoints import checkpoint_problem
    from affectgpt.train.run import resume_checkpoint

    good = _checkpoint(tmp_path, 10)
    _checkpoint(tmp_path, 20, state=False)  # killed while saving: no trainer_state.json yet
    cut = _checkpoint(tmp_path, 30)
    data = (cut / "optimizer.pt").read_bytes()
    (cut / "optimizer.pt").write_bytes(data[: len(data) // 2])
    weights = _checkpoint(tmp_path, 40)
    data = (weights / "model.safetensors").read_bytes()
    (weights / "model.safetensors").write_bytes(data[:-100])
    torn_state = _checkpoint(tmp_path, 50)
    (torn_state / "trainer_state.json").write_text('{"global_step": 5')

    with caplog.at_level("WARNING"):
        assert resume_checkpoint(True, str(tmp_path)) == str(good)
    assert "checkpoint-20: no trainer_state.json" in caplog.text
    assert "checkpoint-30: optimizer.pt is cut short" in caplog.text
    assert "checkpoint-40: model.safetensors is cut short" in caplog.text
    assert "checkpoint-50: trainer_state.json is not valid JSON" in caplog.text
    assert checkpoint_problem(good) is None
    # A checkpoint named by the user must be complete too: one line, not the Trainer's traceback.
    with pytest.raises(RecipeError, match="--resume .*checkpoint-40: model.safetensors is cut short"):
        resume_checkpoint(str(weights), str(tmp_path))
    import shutil

    shutil.rmtree(good)
    with pytest.raises(RecipeError, match="no complete checkpoint-\\* folder .*checkpoint-50"):
        resume_checkpoint(True, str(tmp_path))
