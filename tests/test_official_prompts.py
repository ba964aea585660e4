"""Prompt ids, training sequences, stop words and answer cleaning against the official fixtures
(../shared/mer_unibench/official_media/prompts.json, computed by running the authors' code)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from processing import AffectGPTTrainingCollator, build_processor
from processing.collator import IGNORE_INDEX
from processing.prompts import stop_words_ids


@pytest.fixture(scope="module")
def official(shared_unibench_dir):
    return json.loads((shared_unibench_dir / "official_media" / "prompts.json").read_text())


@pytest.fixture(scope="module")
def processors():
    frame = build_processor(visual_input="frame")
    return {"frame": frame, "face": build_processor(tokenizer=frame.tokenizer, visual_input="face")}


def _media(variant: str) -> dict:
    """Decoded media of one sample (values do not enter the ids): both modalities present, as in the fixtures."""
    visual = np.zeros((8, 224, 224, 3), dtype=np.uint8)
    audio = (np.zeros(32000, dtype=np.float32), 16000)
    return {"faces" if variant == "face" else "videos": [visual], "audio": [audio]}


def test_tokenizer_facts(official, processors):
    facts = official["tokenizer"]
    tok = processors["frame"].tokenizer
    assert (tok.bos_token, tok.bos_token_id) == (facts["bos_token"], facts["bos_token_id"])
    assert (tok.eos_token, tok.eos_token_id) == (facts["eos_token"], facts["eos_token_id"])
    assert (tok.pad_token, tok.pad_token_id) == (facts["pad_token"], facts["pad_token_id"])
    assert len(tok) == facts["vocab_size_after_placeholders"]
    placeholders = facts["placeholders_in_add_order"]
    assert tok.convert_tokens_to_ids([p["token"] for p in placeholders]) == [p["id"] for p in placeholders]
    assert stop_words_ids(tok) == [w["ids"] for w in facts["inference_stop_words_ids"]]


@pytest.mark.parametrize("index", range(8))
def test_inference_prompt_ids_match_the_official_ones(official, processors, index):
    entry = official["inference_prompts"][index]
    processor = processors[entry["variant"]]
    out = processor(
        **_media(entry["variant"]),
        subtitles=[entry["subtitle"]],
        questions=[entry["question"]],
        return_tensors=None,
    )
    assert list(out["input_ids"][0]) == entry["input_ids"]  # no bos, no eos, placeholders included
    assert list(out["attention_mask"][0]) == [1] * entry["num_tokens"]
    assert processor.tokenizer.decode(out["input_ids"][0]) == entry["decoded"]


@pytest.mark.parametrize("index", range(4))
def test_training_sequences_match_the_official_ones(official, processors, index):
    entry = official["training_examples"][index]
    note = entry["annotation"]
    row = {
        "name": note["name"],
        "video": None,
        "audio": (np.zeros(32000, dtype=np.float32), 16000),
        "face": None,
        "subtitle": note["subtitle"],
        "description": note["description"],
        "emotions": note["ovlabel"].split(", "),
    }
    row["face" if entry["variant"] == "face" else "video"] = np.zeros((8, 224, 224, 3), dtype=np.uint8)
    collator = AffectGPTTrainingCollator(processors[entry["variant"]], tasks=(entry["task"],))
    batch = collator([row])
    assert batch["input_ids"][0].tolist() == entry["input_ids"]
    assert batch["labels"][0].tolist() == entry["labels"]
    first = entry["first_supervised_position"]
    assert batch["labels"][0, :first].eq(IGNORE_INDEX).all() and batch["labels"][0, first] != IGNORE_INDEX
    # Official mask = input_ids != eos, which zeroes the final eos too; ours keeps it 1 (same loss, see collator).
    mask = batch["attention_mask"][0].tolist()
    assert mask[:-1] == entry["attention_mask"][:-1] and entry["attention_mask"][-1] == 0 and mask[-1] == 1


def test_answer_cleaning_is_the_official_one(official, processors):
    example = official["tokenizer"]["inference_response_postprocessing_example"]
    processor = processors["frame"]
    assert processor.tokenizer.decode(example["generated_ids"]) == example["generated_text"]
    assert processor.batch_decode([example["generated_ids"]]) == [example["official_response"]]
    assert processor.decode(example["generated_ids"]) == example["official_response"]
    assert processor.post_process_image_text_to_text([example["generated_ids"]]) == [
        example["official_response"]
    ]
