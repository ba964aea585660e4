"""The offline lexicon extractor on official-style outputs, and the official prompts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from metrics.extraction import (
    LexiconExtractor,
    openset_prompt,
    parse_ov_sentence,
    postprocess_response,
    sentiment_prompt,
)
from metrics.extraction.expected_f import best_subset, expected_scores


@pytest.fixture(scope="module")
def lexicon():
    return LexiconExtractor()  # the bundled tables: no files needed


@pytest.fixture(scope="module")
def wheel_only(lexicon):
    """The rules without the fitted table (the fallback the fitted sentiment builds on)."""
    return LexiconExtractor(tables=lexicon.tables, fitted=None)


def test_ov_sentence_is_parsed_exactly(lexicon, wheel_only):
    text = "The character's emotional state is Happy, excited, zzzword."
    # no lexicon filter; words the fit never saw are kept
    assert lexicon.extract_one(text) == ["happy", "excited", "zzzword"]
    assert wheel_only.extract_one(text) == ["happy", "excited", "zzzword"]
    assert parse_ov_sentence("The character’s emotional state is neutral.") == ["neutral"]
    assert parse_ov_sentence("He smiles.") is None


def test_negation_is_dropped(lexicon):
    assert lexicon.extract_one("He is not happy.") == []
    assert lexicon.extract_one("She isn't angry; she is anxious.") == ["anxious"]
    assert lexicon.extract_one("He never looked afraid but seemed upset.") == ["upset"]
    assert lexicon.extract_one("not angry, just sad") == ["sad"]


def test_multiword_phrases_longest_first(lexicon):
    assert lexicon.extract_one("She was at a loss for words and worn out.") == [
        "at a loss for words",
        "worn out",
    ]
    assert lexicon.extract_one("He felt at ease, calm.") == ["at ease", "calm"]
    assert lexicon.extract_one("Happy, happy and HAPPY!") == ["happy"]  # deduplicated, lowercased


def test_neutral_is_a_label_that_scores_as_nothing(lexicon, wheel_only):
    assert lexicon.extract_one("He seems neutral, just listening.") == ["neutral"]
    assert lexicon.extract_one("She is not neutral at all, rather angry.") == ["angry"]
    lexicon = wheel_only
    lists = [
        ["neutral"],
        ["neutral", "calm"],
        ["happy", "joyful", "calm", "neutral"],
        ["neutral", "happy", "joyful", "calm"],
    ]
    # happy, joyful and calm have valence 1 (all five wheels positive); the margin is 1 per word
    assert lexicon.to_sentiment(lists) == [
        "neutral",
        "neutral",  # 1.25 <= 2
        "neutral",  # 1 + 1.25 + 1.5 = 3.75 <= 4
        "positive",  # the same words later weigh 1.25 + 1.5 + 1.75 = 4.5 > 4
    ]
    assert [lexicon.tables.map_word("neutral", w) for w in range(1, 6)] == [""] * 5


def test_sentiment_weighs_words_by_how_many_wheels_agree(wheel_only):
    """A word every wheel calls negative outweighs a later word only three of five wheels call positive."""
    lexicon = wheel_only
    sectors = [lexicon.tables.map_word("relaxed", w) for w in range(1, 6)]
    assert sectors == ["", "", "peaceful", "joy", "peaceful"]  # valence 3/5
    assert lexicon.word_valence("sad") == -1
    assert lexicon.to_sentiment([["sad", "relaxed"], ["relaxed", "sad"]]) == [
        "negative",  # -1 + 1.25 * 0.6 = -0.25 (a majority sign, +1, would give +0.25)
        "negative",
    ]


def test_sentiment_rule(wheel_only):
    lexicon = wheel_only
    assert lexicon.to_sentiment(
        [["happy", "relaxed"], ["sad", "angry"], ["happy", "sad"], ["sad", "happy"], [], ["surprise"]]
    ) == [
        "positive",
        "negative",
        "negative",  # +1 - 1.25: the later word weighs more
        "positive",
        "neutral",
        "neutral",  # surprised has no polarity; the other wheels tie
    ]
    # a list that names its valence takes it; naming both falls back to the word polarities
    assert lexicon.to_sentiment(
        [["sad", "angry", "positive"], ["happy", "Negative"], ["sad", "positive", "negative"]]
    ) == [
        "positive",
        "negative",
        "negative",  # -1 + 1.25 * v(positive) + 1.5 * v(negative) = -1 + 1.25 * 0.8 - 1.5 * 0.2 = -0.3
    ]
    # the data quirk: "fear" reaches positive sectors on 4 of 5 wheels, so its majority polarity is positive
    assert lexicon.word_polarity("fear") == 1 and lexicon.word_polarity("scared") == -1
    assert lexicon.word_valence("fear") == pytest.approx(3 / 5) and lexicon.word_valence("scared") == -1
    with pytest.raises(TypeError):
        lexicon.sentiment_one("happy")


OV = "The character's emotional state is {}."


def test_fitted_keep_rule_drops_what_the_official_llm_drops(lexicon, wheel_only):
    """Words the official LLM mostly leaves out of its list (non-emotion words, the tail of long lists) are
    dropped; "neutral" and unseen words stay, and a list is never emptied."""
    features = lexicon.fitted["keep"]["features"]
    assert features["w=evaluation"] < 0 < features["w=disappointed"]
    # the fifth word of five is dropped more often than not
    assert features["pos=5,4"] < 0 < features["pos=5,0"]
    # the same place, another word: the word's own keep rate decides
    assert lexicon.extract_one(OV.format("happy, sad, angry, evaluation")) == ["happy", "sad", "angry"]
    assert lexicon.extract_one(OV.format("happy, sad, angry, frustration")) == [
        "happy",
        "sad",
        "angry",
        "frustration",
    ]
    assert lexicon.extract_one(OV.format("happy, sad, angry, worried, evaluation")) == [
        "happy",
        "sad",
        "angry",
        "worried",
    ]
    assert wheel_only.extract_one(OV.format("happy, sad, angry, evaluation")) == [
        "happy",
        "sad",
        "angry",
        "evaluation",
    ]
    assert lexicon.extract_one(OV.format("evaluation")) == ["evaluation"]  # a list is never emptied
    assert features["w=neutral"] < 0 and features["pos=1,0"] < 0  # the LLM often drops it; we keep it
    assert lexicon.extract_one(OV.format("neutral")) == ["neutral"]
    assert lexicon.extract_one(OV.format("sad, angry, worried, disappointed, neutral"))[-1] == "neutral"
    long = "happy, sad, angry, worried, surprised, excited"
    # "surprised" is kept a little less often than dropped (p 0.497), but on two wheels it brings a sector no
    # other word has: keeping it is the better bet for the EW F-score
    assert lexicon.keep_logits(long.split(", "))[4] < 0
    assert lexicon.extract_one(OV.format(long)) == long.split(", ")
    assert len(wheel_only.extract_one(OV.format(long))) == 6
    # free text is not in the format the rule was fitted on: scanned as before
    assert lexicon.extract_one("He feels evaluation and disappointed.") == wheel_only.extract_one(
        "He feels evaluation and disappointed."
    )


def test_fitted_sentiment_rule(lexicon):
    assert lexicon.to_sentiment([[], ["neutral"], ["happy"], ["sad", "angry"]]) == [
        "neutral",  # the official LLM calls every empty list neutral
        "neutral",
        "positive",
        "negative",
    ]
    # a list that names its valence takes it (the official LLM: 1,559 of 1,568 such lists of cmumosi and sims),
    # however its other words score; naming both leaves it to the fitted scores
    assert lexicon.to_sentiment([["excited", "enthusiastic", "negative"], ["sad", "positive"]]) == [
        "negative",
        "positive",
    ]
    assert lexicon.sentiment_one(["positive", "negative"]) == lexicon._fitted_sentiment(
        ["positive", "negative"]
    )


def test_keep_choice_maximises_the_expected_ew_fscore(lexicon):
    """Two words of one sector, each kept by the LLM with p = 0.4: the threshold rule drops both, but the LLM's
    list holds that sector with p = 1 - 0.6^2 = 0.64, so reporting one of them scores better in expectation."""
    table = {"keep": {"bias": 0.0, "features": {"w=happy": 10.0, "w=sad": -0.405, "w=sadness": -0.405}}}
    ex = LexiconExtractor(tables=lexicon.tables, fitted={**table, "sentiment": None})
    assert [
        lexicon.tables.map_word("sad", w) == lexicon.tables.map_word("sadness", w) for w in range(1, 6)
    ] == [True] * 5
    assert all(z < 0 for z in ex.keep_logits(["happy", "sad", "sadness"])[1:])
    assert ex.extract_one(OV.format("happy, sad, sadness")) == ["happy", "sad"]
    assert ex.extract_one(OV.format("happy, sad")) == ["happy"]  # alone, p = 0.4 is not worth it
    first = ex.extract_one(OV.format("happy, sad, sadness"))
    first.append("mutated")  # a returned list is the caller's: the cached choice stays as it was
    assert ex.extract_one(OV.format("happy, sad, sadness")) == ["happy", "sad"]


def test_expected_scores_by_hand_and_against_enumeration():
    """One wheel: word 0 (sector A, p = 1), words 1 and 2 (sector B, p = 0.4 each): P(B in Y) = 0.64.
    S = {0}: 0.64 * (1 + 1/2) + 0.36 * 2 = 1.68; S = {0, 1}: 0.64 * 2 + 0.36 * (1/2 + 1) = 1.82."""
    bits = np.array([[1], [2], [2]], dtype=np.uint64)
    scores = expected_scores(bits, [1.0, 0.4, 0.4])
    assert scores[0b001] == pytest.approx(1.68) and scores[0b011] == pytest.approx(1.82)
    assert scores[0b011] == pytest.approx(scores[0b111]) == pytest.approx(scores[0b101])
    assert best_subset(bits, [1.0, 0.4, 0.4], prefer=0b001) == 0b011
    assert best_subset(bits, [1.0, 0.4, 0.4], prefer=0b111) == 0b111  # the caller's choice wins ties

    rng = np.random.default_rng(0)
    for _ in range(30):  # independent check: every official list Y enumerated with its probability
        k = int(rng.integers(1, 6))
        bits = rng.choice(np.array([0, 1, 2, 4, 8], dtype=np.uint64), size=(k, 3))
        p = rng.random(k)
        expected = np.zeros(1 << k)
        for y in itertools.product((0, 1), repeat=k):
            prob = np.prod([pj if yj else 1 - pj for pj, yj in zip(p, y)])
            for s_mask in range(1 << k):
                for w in range(3):
                    ref = {int(bits[j, w]) for j in range(k) if y[j]} - {0}
                    ours = {int(bits[j, w]) for j in range(k) if s_mask >> j & 1} - {0}
                    if ref:
                        hit = len(ref & ours)
                        expected[s_mask] += prob * ((hit / len(ours) if ours else 0.0) + hit / len(ref))
        np.testing.assert_allclose(expected_scores(bits, p), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="k = len"):
        expected_scores(np.zeros((2, 5), dtype=np.uint64), [0.5])


def test_fitted_sentiment_arithmetic(lexicon):
    """bias + wheel score * its weight + the weights of the distinct words (words without one: wheel score only)."""
    table = {
        "keep": {"bias": 1.0, "features": {"w=meh": -3.0, "pos=2,1": 0.5}},
        "sentiment": {
            "classes": ["positive", "negative", "neutral"],
            "bias": [0.0, 0.0, 0.5],
            "wheel_score": [1.0, -1.0, 0.0],
            "words": {"calm": [0.0, 0.0, 2.0]},
        },
    }
    ex = LexiconExtractor(tables=lexicon.tables, fitted=table)
    assert ex.keep_logits(["happy", "meh"]) == [1.0, 1.0 - 3.0 + 0.5]
    assert ex.extract_one(OV.format("happy, meh")) == ["happy"]
    assert ex.wheel_score(["happy", "sad"]) == 1 - 1.25  # happy, calm: valence 1; sad: -1
    assert ex.to_sentiment([["happy"], ["sad"], ["zzz"], ["happy", "calm"], ["happy", "happy", "calm"]]) == [
        "positive",  # 1 > 0.5
        "negative",
        "neutral",  # bias only
        "neutral",  # positive 1 + 1.25 = 2.25 against neutral 0.5 + 2
        "positive",  # 1 + 1.25 + 1.5 = 3.75 against 2.5: calm's weight counts once
    ]
    table["sentiment"]["pairs"] = [["calm", "happy", [0.0, 0.0, 1.5]]]
    ex = LexiconExtractor(tables=lexicon.tables, fitted=table)
    # a pair weight counts once per list: 3.75 against 2.5 + 1.5 = 4.0
    assert ex.to_sentiment([["happy", "happy", "calm"], ["happy"]]) == ["neutral", "positive"]
    with pytest.raises(ValueError, match="fitted must be"):
        LexiconExtractor(tables=lexicon.tables, fitted="other")


def test_official_prompts_and_postprocess():
    prompt = openset_prompt("He smiles.")
    assert prompt.startswith("Please assume the role of an expert in the field of emotions. We provide clues")
    assert prompt.endswith("Output: [happy, sad, angry] Input: He smiles.; Output: ")
    s = sentiment_prompt("[joyful]")
    assert "emotions. " + " " * 12 + "We provide a few words" in s
    assert s.endswith(" " * 12 + "Input: [joyful]; Output: ")
    assert postprocess_response("  Output: [happy,\n sad] ") == "[happy, sad]"
    assert postprocess_response("输出：positive") == "positive"
