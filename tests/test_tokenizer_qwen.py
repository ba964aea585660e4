"""The offline Qwen2.5 tokenizer: vocabulary layout, specials, placeholders and known encodings."""

from __future__ import annotations

import pytest

from processing.tokenizer_qwen import PLACEHOLDER_TOKENS, QWEN_SPECIAL_TOKENS, build_qwen_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return build_qwen_tokenizer()


def test_size_and_special_ids(tokenizer):
    assert len(tokenizer) == 151670
    # Official load_tokenizer_from_LLM: pad = eos = <|im_end|>, bos = <|im_start|> (official_media/README.md).
    assert tokenizer.eos_token == tokenizer.pad_token == "<|im_end|>"
    assert tokenizer.eos_token_id == tokenizer.pad_token_id == 151645
    assert (tokenizer.bos_token, tokenizer.bos_token_id) == ("<|im_start|>", 151644)
    ids = tokenizer.convert_tokens_to_ids([token for token, _ in QWEN_SPECIAL_TOKENS])
    assert ids == list(range(151643, 151665))
    assert tokenizer.convert_tokens_to_ids(list(PLACEHOLDER_TOKENS)) == list(range(151665, 151670))


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        # Reference ids of the released Qwen2.5 tokenizer.
        ("Hello world", [9707, 1879]),
        ("Hello, world!", [9707, 11, 1879, 0]),
        ("你好", [108386]),
        ("12345", [16, 17, 18, 19, 20]),  # Qwen splits digits one by one
        ("<|im_start|>user\nhi<|im_end|>", [151644, 872, 198, 6023, 151645]),
    ],
)
def test_known_encodings(tokenizer, text, ids):
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == ids


def test_placeholders_are_atomic_and_no_bos(tokenizer):
    ids = tokenizer("x<FrameHere><AudioHere><MultiHere><FaceHere><ImageHere>y")["input_ids"]
    assert ids[1:6] == [151667, 151666, 151669, 151668, 151665]
    assert len(ids) == 7 and ids[0] != 151644 and ids[-1] != 151645  # neither bos nor eos added


def test_decode_round_trip_and_skip_special(tokenizer):
    text = "The character's emotional state is happy, sad.###"
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert tokenizer.decode(ids + [151645, 151666], skip_special_tokens=True) == text


def test_save_load_round_trip(tokenizer, tmp_path):
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = "###Human: <Audio><AudioHere></Audio> 你好 ###Assistant: "
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert len(loaded) == 151670 and loaded.pad_token_id == loaded.eos_token_id == 151645
    assert loaded.bos_token_id == 151644 and loaded("x")["input_ids"] == tokenizer("x")["input_ids"] == [87]
