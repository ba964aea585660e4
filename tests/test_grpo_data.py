"""GRPO glue without training: cold-start targets through the collator, rollout prompts, recipe checks."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from affectgpt.grpo.data import PromptEncoder, reasoning_target
from affectgpt.train import RecipeError, load_recipe
from processing import AffectGPTTrainingCollator, build_processor
from processing.collator import IGNORE_INDEX

ROOT = Path(__file__).resolve().parents[1]
GRPO = ROOT / "recipes" / "grpo-tiny-synth.yaml"
COLD = ROOT / "recipes" / "grpo-cold-start-tiny-synth.yaml"


@pytest.fixture(scope="module")
def processor():
    return build_processor()


def _row(
    name, video=None, description="The mouth turns up. Overall, he looks happy.", emotions=("happy", "joyful")
):
    return {
        "name": name,
        "video": video,
        "audio": None,
        "face": None,
        "subtitle": "hello",
        "description": description,
        "emotions": list(emotions) if emotions is not None else None,
    }


def test_reasoning_target_is_description_then_ov_sentence():
    row = _row("a")
    expected = (
        "<think> The mouth turns up. Overall, he looks happy. </think> "
        "<answer> The character's emotional state is happy, joyful. </answer>"
    )
    assert reasoning_target(row, "ovlabel") == reasoning_target(row, "description") == expected
    assert reasoning_target(_row("b", description="  "), "ovlabel") is None
    assert reasoning_target(_row("c", emotions=None), "ovlabel") is None


def test_collator_trains_on_the_target_fn_text(processor):
    collator = AffectGPTTrainingCollator(processor, tasks=("ovlabel",), target_fn=reasoning_target)
    pickle.dumps(collator)  # DataLoader workers get a copy
    batch = collator([_row("a")])
    supervised = batch["labels"][0][batch["labels"][0] != IGNORE_INDEX].tolist()
    text = processor.tokenizer.decode(supervised)
    assert text == reasoning_target(_row("a"), "ovlabel") + "###" + processor.tokenizer.eos_token
    # a row without a reasoning target is dropped, not trained on the official target
    official = AffectGPTTrainingCollator(processor, tasks=("ovlabel",), target_fn=reasoning_target)
    only_other = official([_row("a"), _row("b", description=None)])
    assert only_other["input_ids"].shape[0] == 1


def test_prompt_encoder_decodes_each_clip_once_and_matches_inference(processor, mp4_with_audio, mp4_no_audio):
    from affectgpt.inference import ClipEncoder

    rows = [_row("a", str(mp4_with_audio))] * 2 + [_row("b", str(mp4_no_audio))] * 2
    calls = []
    encoder = PromptEncoder(processor, task="ovlabel")
    real = encoder.encoder
    encoder.encoder = lambda clips: calls.append(len(clips)) or real(clips)
    prompt_ids, media = encoder(rows)
    assert calls == [2]
    assert (
        prompt_ids[0] == prompt_ids[1] and prompt_ids[2] == prompt_ids[3] and prompt_ids[0] != prompt_ids[2]
    )
    assert media["video_flags"].tolist() == [True] * 4 and media["audio_flags"].tolist() == [
        True,
        True,
        False,
        False,
    ]
    for i, row in ((0, rows[0]), (2, rows[2])):
        _, alone = ClipEncoder(processor, task="ovlabel")(
            [{k: row[k] for k in ("name", "video", "subtitle")}]
        )
        assert prompt_ids[i] == alone["input_ids"][0].tolist()
        assert torch.equal(media["pixel_values_videos"][i], alone["pixel_values_videos"][0])


def test_recipes_load_and_bad_grpo_settings_fail_clearly():
    grpo = load_recipe(GRPO)
    assert grpo["method"] == "grpo" and grpo["training"]["beta"] == 0.0 and grpo["training"]["epsilon"] == 0.2
    assert grpo["grpo"]["reward_weights"] == {
        "accuracy": 1.0,
        "dual": 0.6,
        "alignment": 0.4,
        "format": 0.2,
        "length": 1.0,
    }
    cold = load_recipe(COLD)
    assert cold["method"] == "sft" and cold["collator"]["target_format"] == "think_answer"
    with pytest.raises(RecipeError, match="method must be one of"):
        load_recipe({**yaml_of(GRPO), "method": "ppo"})
    with pytest.raises(RecipeError, match="collator.target_format"):
        load_recipe(COLD, ["collator.target_format=xml"])
    with pytest.raises(RecipeError, match="unknown key"):
        load_recipe(GRPO, ["grpo.rewards=1"])


def yaml_of(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def test_grpo_config_refuses_vllm_and_unknown_rewards(wheel_dir):
    from affectgpt.grpo import build_grpo_config, build_rewards

    recipe = load_recipe(GRPO, [f"grpo.wheel_dir={wheel_dir}"])
    funcs, weights = build_rewards(recipe["grpo"])
    assert [f.__name__ for f in funcs] == ["accuracy", "dual", "alignment", "format", "length"]
    assert weights == [1.0, 0.6, 0.4, 0.2, 1.0]
    args = build_grpo_config(recipe["training"], weights, "/tmp/unused-grpo-out")
    assert (args.num_generations, args.beta, args.epsilon, args.reward_weights) == (4, 0.0, 0.2, weights)
    assert args.remove_unused_columns is False
    with pytest.raises(RecipeError, match="vLLM has no implementation"):
        build_grpo_config({**recipe["training"], "use_vllm": True}, weights)
    with pytest.raises(RecipeError, match="unknown reward"):
        build_rewards({**recipe["grpo"], "reward_weights": {"accuracy": 1.0, "fluency": 1.0}})
    only = build_rewards({**recipe["grpo"], "reward_weights": {"accuracy": 1.0}})
    assert [f.__name__ for f in only[0]] == ["accuracy"]


def test_reasoning_tags_are_tokens_of_their_own(processor):
    # Glued to the text, BPE merges the tags with their neighbours (">In", ".</", "><"): a tiny model trained on
    # that wrote "<th><><" instead of "<think>".
    tok = processor.tokenizer
    pieces = [
        tok.decode([i]) for i in tok.encode(reasoning_target(_row("a"), "ovlabel"), add_special_tokens=False)
    ]
    with_brackets = {p for p in pieces if "<" in p or ">" in p}
    assert with_brackets <= {"<th", ">", " </", " <"}, with_brackets
