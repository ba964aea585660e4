"""Real (short) SFT runs of the tiny model on a small synthetic corpus, on CPU.

One LoRA step (what trains and what stays frozen, adapter export), and one full-LLM run that is interrupted,
resumed from its checkpoint, lowers the loss and exports a folder that reloads as Hub custom code. The model takes
4 frames and 4 audio clips per sample (the test-only counts of tests/conftest.py; half the decoding and tower
work), which the exported folder's processor must carry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from affectgpt.train import load_recipe, train
from tests.conftest import TINY_TEST_MODEL

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "recipes" / "tiny-synth.yaml"
CLIP_COUNTS = {key: TINY_TEST_MODEL[key] for key in ("num_frames", "num_audio_clips")}


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    from dataset_scripts.synth_mer import build_synth_mer

    out = tmp_path_factory.mktemp("data") / "synth-mer"
    build_synth_mer(out, num_clips=16, num_workers=1, progress=False)
    return out


def _recipe(synth_dir: Path, out: Path, *extra: str) -> dict:
    overrides = [
        f"data.path={synth_dir}",
        "model.train_towers=false",  # frozen towers: the cheap configuration for CPU tests
        f"model.config_overrides={json.dumps(CLIP_COUNTS)}",  # a JSON object is a YAML value
        "training.per_device_train_batch_size=2",
        "training.warmup_steps=0",
        "training.logging_steps=1",
        "training.save_steps=1000",
        f"training.output_dir={out}",
        *extra,
    ]
    return load_recipe(TINY, overrides)


class _Snapshot(TrainerCallback):
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.before = {n: p.detach().clone() for n, p in model.named_parameters()}

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.after = {n: p.detach().clone() for n, p in model.named_parameters()}
        self.trainable = {n for n, p in model.named_parameters() if p.requires_grad}


def test_one_lora_step_trains_fusion_and_lora_not_towers(synth_dir, tmp_path):
    from modeling_affectgpt import FUSION_MODULES

    snap = _Snapshot()
    recipe = _recipe(
        synth_dir,
        tmp_path / "run",
        "model.lora=true",
        # the recipe's data-dependent start zero-inits fc_att, so attention_mlp would get no gradient in step 1
        "model.init_fusion_from_data=0",
        "training.max_steps=1",
        "training.learning_rate=1e-2",
        "export.mode=adapter",
    )
    result = train(recipe, callbacks=[snap])
    assert result.global_step == 1
    changed = {n for n in snap.before if not torch.equal(snap.before[n], snap.after[n])}

    fusion = {n for n in snap.before if "modules_to_save.default" in n}
    present = {m for m in FUSION_MODULES if any(f".{m}.modules_to_save" in n for n in fusion)}
    in_model = {m for m in FUSION_MODULES if any(f".{m}." in n for n in snap.before)}
    assert len(in_model) == 9  # the tiny preset: attention pooling + attention pre-fusion, no Q-Former
    assert present == in_model  # every fusion module the model has trains in full
    assert fusion <= changed, sorted(fusion - changed)
    lora_b = {n for n in snap.before if "lora_B" in n}
    assert lora_b and lora_b <= changed  # B starts at zero, so the first step moves B (A follows)
    assert all("language_model" in n for n in lora_b)  # LoRA on the LLM only, no tower q/k/v
    towers = {n for n in snap.before if "vision_tower" in n or "audio_tower" in n}
    assert towers and not (towers & changed) and not (towers & snap.trainable)
    frozen_llm = {n for n in snap.before if "base_layer" in n or "embed_tokens" in n}
    assert frozen_llm and not (frozen_llm & changed)

    # adapter export: loads with from_pretrained (base folder written next to it) and generates
    from transformers import AutoModelForImageTextToText, AutoProcessor

    export = Path(result.export_dir)
    config = json.loads((export / "adapter_config.json").read_text())
    assert Path(config["base_model_name_or_path"]).is_dir()
    model = AutoModelForImageTextToText.from_pretrained(export)
    processor = AutoProcessor.from_pretrained(export, trust_remote_code=True)
    _generate(model, processor, synth_dir)


def _generate(model, processor, synth_dir: Path) -> str:
    video = next((synth_dir / "media" / "synth-mer" / "video").glob("*.mp4"))
    inputs = processor(videos=[str(video)], subtitles=["I am fine."], task="ovlabel", return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    return processor.batch_decode(out[:, inputs["input_ids"].shape[1] :])[0]


class _Interrupt(Exception):
    pass


class _KillAfter(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise _Interrupt  # like a killed job: no final save, only the periodic checkpoint survives


_RELOAD = r"""
import sys
for name in ("affectgpt", "modeling_affectgpt", "processing", "metrics", "dataset_scripts"):
    sys.modules[name] = None  # the folder must work as Hub custom code, without this project installed
from transformers import AutoModelForImageTextToText, AutoProcessor
folder, video = sys.argv[1], sys.argv[2]
model = AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=True)
processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
inputs = processor(videos=[video], subtitles=["I am fine."], task="ovlabel", return_tensors="pt")
out = model.generate(**inputs, max_new_tokens=6, do_sample=False)
print("GENERATED", out.shape[1] - inputs["input_ids"].shape[1], type(model).__module__)
"""


def test_full_run_interrupt_resume_lowers_loss_and_exports(synth_dir, tmp_path):
    out = tmp_path / "run"
    extra = (
        "model.lora=false",
        "training.max_steps=12",
        "training.save_steps=6",
        "training.learning_rate=1e-2",
        "training.lr_scheduler_type=constant",
        "training.logging_steps=2",
    )
    recipe = _recipe(synth_dir, out, *extra)
    with pytest.raises(_Interrupt):
        train(recipe, callbacks=[_KillAfter(7)])
    assert (out / "checkpoint-6").is_dir() and not (out / "final").exists()
    # A later save that a kill cut short (weights written, no trainer_state.json): resume must pass it over.
    (out / "checkpoint-7").mkdir()
    shutil.copy(out / "checkpoint-6" / "model.safetensors", out / "checkpoint-7")

    result = train(recipe, resume=True)
    assert result.global_step == 12
    steps = [e["step"] for e in result.log_history if "loss" in e]
    # 2-6 come from the checkpoint's state, 8-12 from the resumed run
    assert steps == [2, 4, 6, 8, 10, 12]
    state = json.loads((out / "checkpoint-12" / "trainer_state.json").read_text())
    assert state["global_step"] == 12

    losses = [e["loss"] for e in result.log_history if "loss" in e]
    assert losses[-1] < 0.6 * losses[0], losses
    assert result.dropped_samples == 0

    export = Path(result.export_dir)
    assert (export / "model.safetensors").is_file() and (export / "processor_config.json").is_file()
    config = json.loads((export / "config.json").read_text())
    assert {"AutoModelForImageTextToText", "AutoProcessor"} <= set(config["auto_map"])
    assert {key: config[key] for key in CLIP_COUNTS} == CLIP_COUNTS
    video = next((synth_dir / "media" / "synth-mer" / "video").glob("*.mp4"))
    env = {**os.environ, "PYTHONPATH": ""}
    proc = subprocess.run(
        [sys.executable, "-c", _RELOAD, str(export), str(video)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "GENERATED" in proc.stdout and "transformers_modules" in proc.stdout
