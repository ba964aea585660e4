"""Parity with the official MER-UniBench scorer: its golden mapping and golden scores, and the data's known facts,
each with the bundled table and with the official files."""

from __future__ import annotations

import json
import math

import pytest

from metrics.mer_unibench import load_wheels, score_dataset

SOURCES = ["bundled", "official"]


@pytest.fixture(scope="module", params=SOURCES)
def source(request):
    """None (the bundled table) or the folder with the official files (skips without them)."""
    return None if request.param == "bundled" else request.getfixturevalue("official_wheel_dir")


@pytest.fixture(scope="module")
def tables(source):
    return load_wheels(source)


@pytest.fixture(scope="module")
def golden_mapping(shared_unibench_dir):
    return json.loads((shared_unibench_dir / "golden_mapping.json").read_text())["mapping"]


@pytest.fixture(scope="module")
def golden_cases(shared_unibench_dir):
    return json.loads((shared_unibench_dir / "golden_scores.json").read_text())["cases"]


def test_data_sizes(tables):
    assert len(tables.wheel_words) == 253
    assert len(tables.synonym_map) == 1255
    assert len(tables.variant_map) == 7386
    assert [len(m) for m in tables.sector_maps["level1"]] == [114, 126, 78, 102, 77]


@pytest.mark.parametrize("level", ["level1", "level2"])
def test_every_golden_word_maps_to_the_official_sector(tables, golden_mapping, level):
    assert len(golden_mapping) == 7389
    wrong = [
        (word, wheel + 1, tables.map_word(word, wheel + 1, level), sectors[level][wheel])
        for word, sectors in golden_mapping.items()
        for wheel in range(5)
        if tables.map_word(word, wheel + 1, level) != sectors[level][wheel]
    ]
    assert wrong == []


def test_known_quirks(tables):
    assert [tables.map_word("neutral", w) for w in range(1, 6)] == [""] * 5
    assert [tables.map_word("fear", w) for w in range(1, 6)] == [
        "scared",
        "happy",
        "joyful",
        "genius",
        "joyful",
    ]
    assert tables.map_word("disgust", 3) == tables.map_word("disgust", 5) == ""
    assert tables.map_word("disgust", 1) == "disgusted"


def _same(got: float, expected: float) -> bool:
    return (math.isnan(got) and math.isnan(expected)) or abs(got - expected) <= 1e-9


def test_every_golden_case(golden_cases, source):
    assert len(golden_cases) == 123
    nan_cases = 0
    for i, case in enumerate(golden_cases):
        got = score_dataset(case["task"], case["predictions"], case["references"], source)
        expected = {k: float(v) for k, v in case["expected"].items()}
        assert set(got) == set(expected), i
        assert all(_same(got[k], expected[k]) for k in expected), (i, case["task"], got, expected)
        nan_cases += any(math.isnan(v) for v in expected.values())
    assert nan_cases > 0  # the NaN path is exercised, not just tolerated
