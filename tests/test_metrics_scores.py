"""Hand-computed scores per task, the official parser, and bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metrics.mer_unibench import (
    fine_grained_scores,
    hit_rate,
    load_wheels,
    parse_labels,
    primary_metric,
    resolve_task,
    score_dataset,
    sentiment_scores,
)
from metrics.mer_unibench.parse import encode_samples


@pytest.fixture(scope="module")
def tables(wheel_dir):
    return load_wheels(wheel_dir)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[a, b]", ["a", "b"]),
        ("['Happy', \"SAD\"]", ["happy", "sad"]),
        ("[[a]]", ["[a]"]),  # only one bracket is stripped on each side
        (" [a]", ["[a"]),  # a leading space keeps the bracket
        ("[]", []),
        ("", []),
        ("[", []),  # the official code would crash here
        ("a,, ,b", ["a", "b"]),
        ("[ worn out , in awe ]", ["worn out", "in awe"]),
        (["  Happy ", "", "a, b"], ["happy", "", "a, b"]),  # lists: no splitting, empties kept
        (("x",), ["x"]),
        (np.array(["Y"]), ["y"]),
    ],
)
def test_official_parser(value, expected):
    assert parse_labels(value) == expected


def test_vectorised_parser_agrees_with_per_sample_parser(tables):
    samples = [
        "[a, happy]",
        "['SAD', 'joy'] ",
        ' "angry" ',
        "[]",
        "",
        "[",
        ["Happy", "x"],
        "[\x00happy]",
        "fear,,",
    ]
    _assert_parsed_as_official(samples, tables)


def test_vectorised_parser_with_separator_items(tables):
    """An item that is the buffer's separator character must not shift the labels of later samples."""
    samples = ["[happy, \x00, sad]", "joy", "\x00", "angry", " \x00 ,fear", "[sad]"]
    _assert_parsed_as_official(samples, tables)


def _assert_parsed_as_official(samples, tables):
    owner, ids = encode_samples(samples, tables.vocab)
    got = sorted(zip(owner.tolist(), ids.tolist()))
    want = sorted(
        (i, tables.vocab[w]) for i, s in enumerate(samples) for w in parse_labels(s) if w in tables.vocab
    )
    assert got == want


def test_vectorised_bracket_rule_at_sample_edges(tables):
    """One leading "[" and one trailing "]" per sample, also for neighbours, empties and doubled brackets."""
    edges = [
        "[happy]",
        "happy]",
        "[happy",
        "]",
        "[",
        "[]",
        "[[happy]]",
        "]happy[",
        "[]happy",
        "happy[]",
        "sad",
    ]
    samples = [a + b for a in ("", "[", "]") for b in edges] + edges[::-1]
    owner, ids = encode_samples(samples, tables.vocab)
    got = sorted(zip(owner.tolist(), ids.tolist()))
    want = sorted(
        (i, tables.vocab[w]) for i, s in enumerate(samples) for w in parse_labels(s) if w in tables.vocab
    )
    assert want and got == want


def test_fine_grained_by_hand(tables):
    # One sample; reference {happy, sad}; prediction {joyful, angry, unknown}. Level 1 on every wheel:
    # happy and joyful share the happy/joyful/joy/powerful sector, sad and angry differ -> |Y∩Ŷ| = 1, |Ŷ| = 2, |Y| = 2.
    preds, refs = [["joyful", "angry", "zzz"]], ["[happy, sad]"]
    per_wheel = []
    for w in range(1, 6):
        y, y_hat = tables.map_labels(["happy", "sad"], w), tables.map_labels(["joyful", "angry", "zzz"], w)
        per_wheel.append((len(y & y_hat) / len(y_hat), len(y & y_hat) / len(y)))
    p = np.mean([a for a, _ in per_wheel])
    r = np.mean([b for _, b in per_wheel])
    f = np.mean([2 * a * b / (a + b) for a, b in per_wheel])
    got = fine_grained_scores(preds, refs, tables=tables)
    assert got == pytest.approx({"fscore": f, "precision": p, "recall": r}, abs=1e-12)
    assert got["precision"] == pytest.approx(0.5) and got["recall"] == pytest.approx(0.5)


def test_fine_grained_empty_prediction_and_skipped_reference(tables):
    got = fine_grained_scores([[], ["happy"], ["sad"]], [["happy"], ["neutral"], ["sad"]], tables=tables)
    # sample 2 is skipped (neutral maps to nothing); sample 1 scores 0/0; sample 3 scores 1/1
    assert got == {"fscore": 0.5, "precision": 0.5, "recall": 0.5}


def test_fine_grained_nan_when_nothing_overlaps(tables):
    got = fine_grained_scores([["sad"]], [["happy"]], tables=tables)
    assert math.isnan(got["fscore"]) and got["precision"] == 0.0 and got["recall"] == 0.0
    all_nan = fine_grained_scores([["happy"]], [["neutral"]], tables=tables)
    assert all(math.isnan(v) for v in all_nan.values())


def test_fine_grained_level2_is_finer(tables):
    # happy and joyful share a level-1 sector but not (on wheel 1) a level-2 one.
    coarse = fine_grained_scores([["joyful"]], [["happy"]], tables=tables)
    fine = fine_grained_scores([["joyful"]], [["happy"]], tables=tables, level="level2")
    assert coarse["recall"] == 1.0 and fine["recall"] < 1.0


def test_hit_rate_by_hand_with_fear_neutral_disgust(tables):
    # fear on wheels 2-5 lands in positive sectors (via "fearless"): "fearless" hits it there, "scared" only on
    # wheel 1, "happy" on wheels 2 (happy) and 3 (joyful).
    assert hit_rate([["fearless"]], ["fear"], tables=tables) == {"hit_rate": 4 / 5}
    assert hit_rate([["happy"]], ["fear"], tables=tables) == {"hit_rate": 2 / 5}
    assert hit_rate([["scared"]], ["fear"], tables=tables) == {"hit_rate": 1 / 5}
    # neutral references are skipped on every wheel.
    assert hit_rate([["happy"], ["sad"]], ["neutral", "sad"], tables=tables) == {"hit_rate": 1.0}
    # disgust maps to nothing on wheels 3 and 5: NaN there, so the mean is NaN (official).
    assert math.isnan(hit_rate([["disgusted"]], ["disgust"], tables=tables)["hit_rate"])
    assert math.isnan(hit_rate([["happy"]], ["neutral"], tables=tables)["hit_rate"])


def test_sentiment_by_hand():
    preds = ["positive", "negative", "neutral", "Positive", "positive", "mixed"]
    refs = [1.0, -2.0, 0.0, 0.5, -0.3, -1.0]
    # valence 0 dropped -> y = [T, F, T, F, F], y_hat = [T, F, F, T, F]
    # class True: tp 1, fp 1, fn 1 -> F1 0.5, support 2; class False: tp 2, fp 1, fn 1 -> F1 2/3, support 3
    got = sentiment_scores(preds, refs)
    assert got["accuracy"] == pytest.approx(3 / 5)
    assert got["weighted_f1"] == pytest.approx((2 * 0.5 + 3 * 2 / 3) / 5)


def test_sentiment_accepts_numpy_scalars_and_rejects_bools():
    """The one-pass type checks (exact str / float / int) hand every other type to the per-sample check."""
    preds = ["positive", "negative", "neutral", "Positive", "positive", "mixed"]
    refs = [1.0, -2.0, 0.0, 0.5, -0.3, -1.0]
    expected = sentiment_scores(preds, refs)
    assert sentiment_scores(list(np.array(preds)), list(np.array(refs))) == expected
    assert sentiment_scores(preds, [1, -2, 0, 0.5, -0.3, -1]) == expected
    with pytest.raises(TypeError, match=r"references\[1\] must be a valence number"):
        sentiment_scores(preds, [1.0, True, 0.0, 0.5, -0.3, -1.0])
    with pytest.raises(TypeError, match=r"predictions\[2\] must be a sentiment string"):
        sentiment_scores(["positive", "negative", 1, "x", "y", "z"], refs)


@pytest.mark.parametrize(
    ("task", "preds", "refs", "error"),
    [
        ("fine_grained", [["a"]], [["a"], ["b"]], "differ in length"),
        ("fine_grained", [], [], "no samples"),
        ("fine_grained", None, [["a"]], "None"),
        ("fine_grained", "[a]", "[a]", "list with one entry"),
        ("fine_grained", [None], [["a"]], r"predictions\[0\] is missing"),
        ("fine_grained", [float("nan")], [["a"]], "missing"),
        ("fine_grained", [[1]], [["a"]], r"predictions\[0\]\[0\] must be a string"),
        ("fine_grained", [3], [["a"]], "label string"),
        ("basic", [["a"]], ["[happy, sad]"], "one each"),
        ("sentiment", ["positive"], [float("nan")], "NaN"),
        ("sentiment", ["positive"], ["1.0"], "valence number"),
        ("sentiment", [None], [1.0], "sentiment string"),
        ("sentiment", ["positive"], [0.0], "every reference valence is 0"),
    ],
)
def test_bad_inputs_raise(task, preds, refs, error, wheel_dir):
    with pytest.raises((ValueError, TypeError), match=error):
        score_dataset(task, preds, refs, wheel_dir)


def test_configs_and_primary_metrics(wheel_dir):
    assert resolve_task("OV-MERD+") == "fine_grained" and resolve_task("MER2024") == "basic"
    assert [primary_metric(c) for c in ("ovmerdplus", "meld", "simsv2")] == [
        "fscore",
        "hit_rate",
        "weighted_f1",
    ]
    with pytest.raises(ValueError, match="unknown MER-UniBench config"):
        resolve_task("mer2022")
    with pytest.raises(ValueError, match="only applies to the fine-grained"):
        score_dataset("mer2023", [["happy"]], ["happy"], wheel_dir, level="level2")
    with pytest.raises(ValueError, match="level must be"):
        score_dataset("ovmerdplus", [["happy"]], [["happy"]], wheel_dir, level="level3")
