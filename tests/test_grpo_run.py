"""A real 2-step GRPO run (TRL GRPOTrainer + our media hooks + the emotion-wheel rewards) of the tiny model on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from affectgpt.train import load_recipe, train
from metrics.rewards import REWARD_NAMES
from tests.conftest import TINY_TEST_MODEL

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "grpo-tiny-synth.yaml"
# The test-only frame and audio-clip counts (tests/conftest.py): half the decoding and tower work per rollout.
CLIP_COUNTS = {key: TINY_TEST_MODEL[key] for key in ("num_frames", "num_audio_clips")}


class _Spy(TrainerCallback):
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.after = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def test_two_grpo_steps_with_media_lora_and_every_reward_logged(synth_data, tmp_path, wheel_dir):
    out = tmp_path / "run"
    recipe = load_recipe(
        RECIPE,
        [
            "model.pretrained=null",
            "model.preset=tiny",
            "model.lora=true",  # the official recipe's PEFT path
            f"model.config_overrides={json.dumps(CLIP_COUNTS)}",  # a JSON object is a YAML value
            f"data.path={synth_data}",  # the session's shared 20-clip corpus
            f"grpo.wheel_dir={wheel_dir}",
            "grpo.max_words=3",  # random completions differ in length: a non-zero advantage in every group
            "training.max_steps=2",
            "training.num_generations=2",
            "training.per_device_train_batch_size=4",
            "training.max_completion_length=8",
            "training.learning_rate=1e-2",
            f"training.output_dir={out}",
            "export.mode=none",
        ],
    )
    spy = _Spy()
    result = train(recipe, callbacks=[spy])

    assert result.global_step == 2 and result.export_dir is None
    steps = [entry for entry in result.log_history if "reward" in entry]
    assert len(steps) == 2
    for entry in steps:
        for name in REWARD_NAMES:
            assert f"rewards/{name}/mean" in entry and f"rewards/{name}/std" in entry
        assert entry["completions/max_length"] <= 8
    assert any(entry["rewards/length/std"] > 0 for entry in steps)
    # a non-zero advantage reached the policy through the media-carrying log-prob forward
    changed = [n for n in spy.before if not torch.equal(spy.before[n], spy.after[n])]
    assert any("lora_" in n for n in changed)
    assert (out / "reward_curves.png").stat().st_size > 0
    assert json.loads((out / "log_history.json").read_text())[-1]["step"] == 2
    assert result.final_reward == steps[-1]["reward"]
