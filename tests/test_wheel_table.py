"""The bundled wheel table: rebuilt from the official files it equals the shipped one, it is the default source,
and table .json files / wheel folders given explicitly are read and checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from metrics.mer_unibench import BUNDLED, ENV_VAR, UPSTREAM_COMMIT, WHEEL_FILES, load_wheels
from metrics.mer_unibench.build_table import DEFAULT_OUT, build_table, main, render_module, render_table
from metrics.mer_unibench.wheel import bundled_table
from tests.conftest import REPO_ROOT


def test_rebuilding_from_the_official_files_gives_the_shipped_table(official_wheel_dir):
    assert render_module(build_table(official_wheel_dir)) == DEFAULT_OUT.read_text(encoding="utf-8")


def _same_tables(a, b):
    assert a.vocab == b.vocab and a.variant_map == b.variant_map and a.synonym_map == b.synonym_map
    assert a.wheels == b.wheels and a.wheel_words == b.wheel_words and a.sector_maps == b.sector_maps
    for level in a.sector_ids:
        assert np.array_equal(a.sector_ids[level], b.sector_ids[level]), level
        assert a.sector_names[level] == b.sector_names[level]


def test_bundled_tables_equal_the_official_ones(official_wheel_dir):
    _same_tables(load_wheels(), load_wheels(official_wheel_dir))


def test_provenance_and_attribution():
    prov = bundled_table()["provenance"]
    assert prov["commit"] == UPSTREAM_COMMIT == "fffca794c6792023234565370e3f69f0488aede9"
    assert prov["files"] == WHEEL_FILES and prov["verified"] is True
    assert prov["license"] == "Apache-2.0" and "non-commercial" in prov["license_note"]
    notice = (REPO_ROOT / "NOTICE").read_text()
    card = (REPO_ROOT / "metrics" / "mer_unibench" / "README.md").read_text()
    for text in (notice, card, DEFAULT_OUT.read_text()):
        assert UPSTREAM_COMMIT in text and "Apache-2.0" in text and "non-commercial use only" in text
    for sha in WHEEL_FILES.values():
        assert sha in notice and sha in card


def test_default_is_the_bundled_table_without_any_files(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    tables = load_wheels()
    assert tables.source == BUNDLED
    assert (
        len(tables.variant_map) == 7386 and len(tables.synonym_map) == 1255 and len(tables.wheel_words) == 253
    )


def test_table_json_and_env_var(tmp_path, monkeypatch):
    path = tmp_path / "table.json"
    path.write_text(render_table(bundled_table()))
    _same_tables(load_wheels(path), load_wheels())
    monkeypatch.setenv(ENV_VAR, str(path))
    assert load_wheels().source == str(path.resolve())


def test_bad_tables_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_wheels(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": 1, "wheels": [')
    with pytest.raises(ValueError, match="broken.json"):
        load_wheels(broken)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": 1, "wheels": []}))
    with pytest.raises(ValueError, match=r"other\.json.*needs wheels, synonyms, variants"):
        load_wheels(other)
    table = bundled_table()
    table["variants"]["zzz"] = ["not-a-base-word"]
    edited = tmp_path / "edited.json"
    edited.write_text(render_table(table))
    with pytest.raises(ValueError, match=r"edited\.json.*not-a-base-word"):
        load_wheels(edited)


def test_build_cli(official_wheel_dir, tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main([str(official_wheel_dir), "--out", str(out)]) == 0
    assert out.read_text() == render_table(bundled_table())
    assert main([str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    assert "lacks" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
