"""The fitted extraction table: rebuilt from the official outputs it equals the shipped one, its provenance is
recorded, and the fit itself behaves (minimum counts, determinism, checked inputs)."""

from __future__ import annotations

import hashlib
import json

import pytest

from metrics.extraction.build_table import (
    DEFAULT_OUT,
    KEEP_MIN_COUNT,
    SENTIMENT_MIN_COUNT,
    build_table,
    fit_keep,
    fit_sentiment,
    inputs_digest,
    main,
    render_module,
)
from metrics.extraction.lexicon import LexiconExtractor, load_fitted_table
from metrics.mer_unibench import UPSTREAM_COMMIT
from tests.conftest import REPO_ROOT, _need


@pytest.fixture(scope="module")
def official_outputs(shared_unibench_dir):
    return _need(shared_unibench_dir / "official_outputs", "official AffectGPT outputs")


@pytest.mark.slow
def test_rebuilding_from_the_official_outputs_gives_the_shipped_table(official_outputs):
    wheel_only = LexiconExtractor(fitted=None)
    table = build_table(official_outputs, wheel_only.wheel_score, wheel_only.extract_one)
    assert render_module(table) == DEFAULT_OUT.read_text(encoding="utf-8")


def test_provenance_and_attribution():
    table = load_fitted_table()
    prov = table["provenance"]
    assert prov["commit"] == UPSTREAM_COMMIT and prov["upstream"] == "https://github.com/zeroQiaoba/AffectGPT"
    assert prov["license"] == "Apache-2.0" and "non-commercial" in prov["license_note"]
    assert prov["inputs_sha256"] == inputs_digest(prov["files"])
    assert {name.split("/")[0] for name in prov["files"]} == set(prov["datasets"])
    notice = (REPO_ROOT / "NOTICE").read_text()
    card = (REPO_ROOT / "metrics" / "mer_unibench" / "README.md").read_text()
    for text in (notice, card, DEFAULT_OUT.read_text()):
        assert prov["inputs_sha256"] in text and UPSTREAM_COMMIT in text and "Apache-2.0" in text
    assert "fitted_table.py" in notice


def test_shipped_table_is_small_and_has_no_rare_features():
    table = load_fitted_table()
    assert 0 < len(table["keep"]["features"]) < 1000 and 0 < len(table["sentiment"]["words"]) < 1000
    assert 0 < len(table["sentiment"]["pairs"]) < 2000
    assert all(a < b for a, b, _ in table["sentiment"]["pairs"])  # keyed as sentiment_features makes them
    assert table["sentiment"]["classes"] == ["positive", "negative", "neutral"]


def test_fit_keep_learns_word_and_place_and_skips_rare_words():
    answers = [["happy", "meh"]] * 40 + [["sad", "rare"]] * (KEEP_MIN_COUNT - 1)
    official = [["happy"]] * 40 + [["sad", "rare"]] * (KEEP_MIN_COUNT - 1)
    fit = fit_keep(answers, official)
    assert fit == fit_keep(answers, official)  # deterministic
    features = fit["features"]
    assert "w=rare" not in features and "w=meh" in features and "pos=2,1" in features
    assert features["w=meh"] < 0 < features["w=happy"]
    ex = LexiconExtractor(fitted={"keep": fit, "sentiment": None})
    assert ex.extract_one("The character's emotional state is happy, meh.") == ["happy"]
    with pytest.raises(ValueError, match="no answer words"):
        fit_keep([[]], [[]])


def test_fit_sentiment_corrects_the_wheel_score_per_word():
    ex = LexiconExtractor(fitted=None)
    n = SENTIMENT_MIN_COUNT
    lists = [["happy"]] * 30 + [["sad"]] * 30 + [["calm", "objective"]] * 30 + [["rare"]] * (n - 1)
    labels = ["positive"] * 30 + ["negative"] * 30 + ["neutral"] * 30 + ["positive"] * (n - 1)
    lists, labels = lists + [["happy"], []], labels + ["mixed", "neutral"]  # both left out of the fit
    fit = fit_sentiment(lists, labels, ex.wheel_score)
    assert fit == fit_sentiment(lists, labels, ex.wheel_score)
    assert "rare" not in fit["words"] and "objective" in fit["words"]
    assert fit["wheel_score"][0] > fit["wheel_score"][1]  # a positive wheel score speaks for positive
    fitted = LexiconExtractor(
        tables=ex.tables, fitted={"keep": {"bias": 1.0, "features": {}}, "sentiment": fit}
    )
    assert fitted.to_sentiment([["happy"], ["sad"], ["calm", "objective"], []]) == [
        "positive",
        "negative",
        "neutral",  # the wheel-only rule calls calm positive
        "neutral",
    ]
    assert ex.to_sentiment([["calm", "objective"]]) == ["positive"]
    assert fit["pairs"] == [["calm", "objective", fit["pairs"][0][2]]]


def test_fit_sentiment_learns_what_only_a_pair_of_words_says():
    """Each word alone is positive, the two together negative: no per-word weights can say that (adding the
    words' margins over negative keeps the sum positive), a pair weight can."""
    ex = LexiconExtractor(fitted=None)
    lists = [["zzfoo"]] * 20 + [["zzbar"]] * 20 + [["zzfoo", "zzbar"]] * 20
    labels = ["positive"] * 40 + ["negative"] * 20
    fit = fit_sentiment(lists, labels, ex.wheel_score)
    assert [pair[:2] for pair in fit["pairs"]] == [["zzbar", "zzfoo"]]
    fitted = LexiconExtractor(
        tables=ex.tables, fitted={"keep": {"bias": 1.0, "features": {}}, "sentiment": fit}
    )
    assert fitted.to_sentiment([["zzfoo"], ["zzbar"], ["zzbar", "zzfoo"]]) == [
        "positive",
        "positive",
        "negative",
    ]
    with pytest.raises(ValueError, match="no labelled lists"):
        fit_sentiment([["happy"]], ["mixed"], ex.wheel_score)


def test_inputs_are_checked_against_their_sums(tmp_path, capsys):
    root = tmp_path / "outputs"
    (root / "cmumosi").mkdir(parents=True)
    npz = root / "cmumosi" / "checkpoint_000001_loss_0.5.npz"
    npz.write_bytes(b"not the official file")
    out = tmp_path / "table.py"
    assert main([str(root), "--out", str(out)]) == 2
    assert "no SHA256SUMS" in capsys.readouterr().err
    (root / "SHA256SUMS").write_text(f"{'0' * 64}  cmumosi/{npz.name}\n")
    assert main([str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert npz.name in err and "is not the one SHA256SUMS lists" in err
    (root / "SHA256SUMS").write_text(f"{hashlib.sha256(npz.read_bytes()).hexdigest()}  cmumosi/{npz.name}\n")
    assert main([str(root), "--out", str(out)]) == 2
    assert "not an npz file" in capsys.readouterr().err
    assert not out.exists()  # nothing written on failure


def test_bad_fitted_argument_is_named():
    with pytest.raises(ValueError, match="fitted must be"):
        LexiconExtractor(fitted="mine.json")
    with pytest.raises(ValueError, match="fitted must be"):
        LexiconExtractor(fitted=["keep"])
    with pytest.raises(ValueError, match="'keep' must be a dict with 'bias' and 'features'"):
        LexiconExtractor(fitted={"keep": {"bias": 0.0}, "sentiment": None})
    good = load_fitted_table()
    bad = {**good, "sentiment": {**good["sentiment"], "pairs": [["a", "b", [1.0, 2.0]]]}}
    with pytest.raises(ValueError, match="one value per class"):
        LexiconExtractor(fitted=bad)
    lists_only = LexiconExtractor(fitted={"keep": good["keep"], "sentiment": None})
    assert lists_only.extract_one("He is happy.") == ["happy"]
    with pytest.raises(ValueError, match="no sentiment rule"):
        lists_only.to_sentiment([["happy"]])
    mine = json.loads(json.dumps(good))
    ex = LexiconExtractor(fitted=mine)
    text = "The character's emotional state is happy, sad, angry, evaluation."
    assert ex.extract_one(text) == ["happy", "sad", "angry"]
    mine["keep"]["features"]["w=evaluation"] = 50.0  # the extractor holds its own copy
    assert ex.extract_one(text) == ["happy", "sad", "angry"]
    assert LexiconExtractor(fitted=mine).extract_one(text) == ["happy", "sad", "angry", "evaluation"]
    table = json.loads(json.dumps(load_fitted_table()))
    assert LexiconExtractor(fitted=table).extract_one("He is happy.") == ["happy"]
