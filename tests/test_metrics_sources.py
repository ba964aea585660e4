"""The official wheel files: folder checks (argument, env var), checksum errors, the explicit download."""

from __future__ import annotations

import shutil

import pytest

from metrics.mer_unibench import (
    ENV_VAR,
    WHEEL_FILES,
    ChecksumError,
    WheelFilesNotFoundError,
    download_wheel_files,
    load_wheels,
    resolve_wheel_dir,
    sources,
)


@pytest.fixture
def no_wheels(monkeypatch, tmp_path):
    """Offline, no env var, an empty HF cache."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(sources, "default_cache_dir", lambda: tmp_path / "hf-cache" / "mer_unibench")
    return tmp_path


def test_argument_and_env_var(official_wheel_dir, monkeypatch):
    assert resolve_wheel_dir(official_wheel_dir) == official_wheel_dir.resolve()
    assert load_wheels(official_wheel_dir).source == str(official_wheel_dir.resolve())
    monkeypatch.setenv(ENV_VAR, str(official_wheel_dir))
    assert load_wheels().source == str(official_wheel_dir.resolve())


def test_offline_download_without_files_says_how_to_provide_them(no_wheels):
    with pytest.raises(WheelFilesNotFoundError) as info:
        download_wheel_files()
    message = str(info.value)
    assert ENV_VAR in message and "wheel_dir=" in message and "HF_HUB_OFFLINE" in message
    assert "raw.githubusercontent.com/zeroQiaoba/AffectGPT" in message and "bundled table" in message


def test_missing_file_is_named(no_wheels):
    (no_wheels / "partial").mkdir()
    with pytest.raises(WheelFilesNotFoundError, match="synonym.xlsx"):
        resolve_wheel_dir(no_wheels / "partial")


def test_checksum_mismatch_names_the_file(official_wheel_dir, tmp_path):
    copy = tmp_path / "wheels"
    shutil.copytree(official_wheel_dir, copy)
    (copy / "wheel3.xlsx").write_bytes((copy / "wheel3.xlsx").read_bytes() + b"\0")
    with pytest.raises(ChecksumError, match=r"wheel3\.xlsx"):
        resolve_wheel_dir(copy)
    assert resolve_wheel_dir(copy, verify=False) == copy.resolve()  # explicit opt-out for edited wheels


def test_cached_copy_is_used_offline(no_wheels, official_wheel_dir):
    cache = sources.default_cache_dir()
    cache.mkdir(parents=True)
    for name in WHEEL_FILES:
        shutil.copy(official_wheel_dir / name, cache / name)
    assert download_wheel_files() == cache.resolve()


def test_download_verifies_checksum(no_wheels, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_EVALUATE_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)

    class _Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b"not the official file"

    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda url, timeout: _Response())
    with pytest.raises(ChecksumError, match="format.csv"):
        download_wheel_files()
    assert not any(sources.default_cache_dir().glob("*.xlsx"))  # nothing half-written left behind
