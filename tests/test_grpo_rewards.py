"""Emotion-wheel rewards (metrics.rewards) on hand-made completions.

Expected values are computed independently here: from the scorer's own per-wheel mapping (`WheelTables.map_word`)
with the set arithmetic written out, or from the official corpus-level scorer on a single sample."""

from __future__ import annotations

import math

import pytest

from metrics.mer_unibench import fine_grained_scores
from metrics.rewards import REWARD_NAMES, EmotionWheelRewards, format_reasoning, split_reasoning

GOLD = [["happy", "joyful"]]
WELL_FORMED = (
    "<think>The corners of the mouth turn up. Overall, the character appears happy and joyful.</think>"
    "<answer>The character's emotional state is happy, joyful.</answer>###"
)


@pytest.fixture(scope="module")
def rewards(wheel_dir) -> EmotionWheelRewards:
    return EmotionWheelRewards(wheel_dir, max_words=20)


def _all(rewards, completion: str, gold=GOLD) -> dict[str, float]:
    return {name: fn([completion], emotions=gold)[0] for name, fn in zip(REWARD_NAMES, rewards.functions())}


def _sectors(tables, words, wheel, level="level1"):
    return {tables.map_word(w, wheel, level) for w in words} - {""}


def test_well_formed_agreeing_completion_scores_full_marks(rewards):
    got = _all(rewards, WELL_FORMED.replace("The corners of the mouth turn up. ", ""))
    assert got == {"accuracy": 1.0, "dual": 1.0, "alignment": 1.0, "format": 1.0, "length": 0.0}


def test_accuracy_equals_the_official_scorer_on_one_sample(rewards, wheel_dir):
    # P and R on one sample are the per-sample values, so the scorer's F equals the reward wherever it is defined.
    for predicted in (["happy"], ["happy", "sad"], ["angry", "joyful", "surprised"], ["worried"]):
        answer = "The character's emotional state is " + ", ".join(predicted) + "."
        got = rewards.accuracy([format_reasoning("x", answer)], emotions=GOLD)[0]
        official = fine_grained_scores([predicted], GOLD, wheel_dir=wheel_dir)["fscore"]
        assert got == pytest.approx(0.0 if math.isnan(official) else official, abs=1e-12), predicted


def test_missing_tags_score_zero_everywhere_but_length(rewards):
    got = _all(rewards, "The character's emotional state is happy, joyful.")
    assert got == {"accuracy": 0.0, "dual": 0.0, "alignment": 0.0, "format": 0.0, "length": 0.0}
    # tags out of order, doubled, or text after the answer are not the format either
    for text in (
        "<answer>The character's emotional state is happy.</answer><think>happy</think>",
        "<think>a</think><think>b</think><answer>happy</answer>",
        "<think>happy</think><answer>happy</answer> and more",
    ):
        assert split_reasoning(text) is None, text
        assert _all(rewards, text)["format"] == 0.0


def test_empty_answer_fails_format_and_accuracy_but_the_think_still_counts(rewards, wheel_dir):
    got = _all(rewards, "<think>The character appears happy.</think><answer>  </answer>")
    assert got["format"] == 0.0 and got["accuracy"] == 0.0 and got["alignment"] == 0.0
    official = fine_grained_scores([["happy"]], GOLD, wheel_dir=wheel_dir)["fscore"]
    assert got["dual"] == pytest.approx(official)
    assert (
        _all(rewards, "<think></think><answer>The character's emotional state is happy.</answer>")["format"]
        == 0
    )


def test_labels_off_the_wheel(rewards):
    tables = rewards.tables
    assert all(not _sectors(tables, ["blorp"], w) for w in range(1, 6))
    got = _all(
        rewards,
        "<think>The character appears happy.</think><answer>The character's emotional state is blorp.</answer>",
    )
    assert got["format"] == 1.0 and got["accuracy"] == 0.0
    assert got["alignment"] == 0.0  # think maps to "happy" on every wheel, the answer to nothing
    # a reference off the wheel ("neutral") is matched by an answer off the wheel, not by a wheel emotion
    neutral = [["neutral"]]
    off = format_reasoning("calm", "The character's emotional state is neutral.")
    on = format_reasoning("calm", "The character's emotional state is happy.")
    assert rewards.accuracy([off, on], emotions=neutral * 2) == [1.0, 0.0]


def test_think_and_answer_disagreeing(rewards):
    tables = rewards.tables
    think, answer = ["sad"], ["happy", "sad"]
    text = format_reasoning(
        "The character appears sad.", "The character's emotional state is " + ", ".join(answer) + "."
    )
    expected = 0.0
    for wheel in range(1, 6):
        a, b = _sectors(tables, think, wheel), _sectors(tables, answer, wheel)
        expected += len(a & b) / len(a | b) / 5
    got = _all(rewards, text)
    assert got["alignment"] == pytest.approx(expected) and 0.0 < expected < 1.0
    assert got["dual"] == 0.0 and got["format"] == 1.0
    assert (
        _all(
            rewards,
            format_reasoning("The character appears sad.", "The character's emotional state is happy."),
        )["alignment"]
        == 0.0
    )


def test_over_long_completion_is_penalised_linearly_to_minus_one(rewards):
    def words(n):
        return format_reasoning(" ".join(["word"] * (n - 1)), "happy.") + "###"  # tags and stop are no words

    # max_words=20: no penalty up to 20 words, -0.5 at 30, -1 from 40 on
    assert rewards.length([words(20), words(30), words(40), words(90)]) == [0.0, -0.5, -1.0, -1.0]


def test_level2_uses_the_level2_sectors(wheel_dir):
    level2 = EmotionWheelRewards(wheel_dir, level="level2")
    tables = level2.tables
    gold, predicted = ["happy", "joyful"], ["happy"]
    expected = 0.0
    for wheel in range(1, 6):
        g, p = _sectors(tables, gold, wheel, "level2"), _sectors(tables, predicted, wheel, "level2")
        precision, recall = len(g & p) / len(p), len(g & p) / len(g)
        expected += (2 * precision * recall / (precision + recall) if g & p else 0.0) / 5
    text = format_reasoning("x", "The character's emotional state is happy.")
    assert level2.accuracy([text], emotions=[gold])[0] == pytest.approx(expected)


def test_conversational_completions_and_bad_inputs(rewards):
    assert rewards.format([[{"role": "assistant", "content": WELL_FORMED}]]) == [1.0]
    with pytest.raises(ValueError, match="'emotions'"):
        rewards.accuracy([WELL_FORMED])
    with pytest.raises(ValueError, match="2 'emotions' values for 1 completions"):
        rewards.accuracy([WELL_FORMED], emotions=GOLD * 2)
    with pytest.raises(ValueError, match="unknown reward"):
        rewards.functions(["accuracy", "fluency"])
    with pytest.raises(ValueError, match="max_words"):
        EmotionWheelRewards(tables=rewards.tables, max_words=0)
    assert [f.__name__ for f in rewards.functions()] == list(REWARD_NAMES)


def test_an_extractor_sees_each_distinct_block_once(rewards):
    calls = []

    class Counting:
        def extract(self, texts):
            calls.append(list(texts))
            return [["happy"] for _ in texts]

    counted = EmotionWheelRewards(tables=rewards.tables, extractor=Counting())
    batch = [WELL_FORMED] * 4
    for fn in counted.functions():
        fn(batch, emotions=GOLD * 4)
    assert sorted(len(c) for c in calls) == [1, 1]  # one answer text, one think text, across all five rewards
