"""The official emotion-wheel files: their pinned sha256, a folder check, and an explicit, verified download.

The files are the official AffectGPT ones (Apache-2.0, "research preview, non-commercial use only"); we never ship
them: the metric ships a table derived from them (wheel_table.py) and reads the files only when given a folder
(wheel_dir= or MER_UNIBENCH_WHEEL_DIR). Every folder is checked against the sha256 pinned here, because a
different version of any file silently changes every score. `download_wheel_files()` fetches them once from the
official repository at the pinned commit, for those who want to check the bundled table against the originals."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

__all__ = [
    "ENV_VAR",
    "UPSTREAM_COMMIT",
    "URL_TEMPLATE",
    "WHEEL_FILES",
    "ChecksumError",
    "WheelFilesNotFoundError",
    "default_cache_dir",
    "download_wheel_files",
    "resolve_wheel_dir",
    "verify_wheel_dir",
]

ENV_VAR = "MER_UNIBENCH_WHEEL_DIR"
UPSTREAM_COMMIT = "fffca794c6792023234565370e3f69f0488aede9"
URL_TEMPLATE = (
    "https://raw.githubusercontent.com/zeroQiaoba/AffectGPT/{commit}/AffectGPT/emotion_wheel/{file}"
)
WHEEL_FILES: dict[str, str] = {
    "format.csv": "ba6de7d61db8e129d1d7ef8a2aae22a9e93a2c2e3e683e6f2735d04455f016f2",
    "synonym.xlsx": "23f81f9ab1d2418aaf96775304fb5dc52c62bb5d5ef652a97471d045fc9d2e29",
    "wheel1.xlsx": "e70485d354b82a7491ff24648273182a5f4f13f92c76e6b3e4f9033f5e6afcc1",
    "wheel2.xlsx": "acc001e076a8e60440361f58dd8c05ed900c4890c84bb7d8d1df93708a7d9c87",
    "wheel3.xlsx": "d62f30bf88c17c55876634cd088eacaef98278fc25457474364439872f9dbf83",
    "wheel4.xlsx": "660260561b7fe15550f3679a01e7c783608ce3403d4c28db0a88520f68d83aea",
    "wheel5.xlsx": "2dd4595b2cf8e7628ca06a416a8e38ac831614b244f23d1ae613dc34007649f1",
}


class WheelFilesNotFoundError(FileNotFoundError):
    """No usable copy of the official emotion-wheel files."""


class ChecksumError(ValueError):
    """A wheel file differs from the pinned official version."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_wheel_dir(directory: str | os.PathLike) -> Path:
    """Check that `directory` holds all seven files with the pinned sha256; return it resolved."""
    directory = _exists(directory)
    for name, expected in WHEEL_FILES.items():
        actual = _sha256(directory / name)
        if actual != expected:
            raise ChecksumError(
                f"checksum mismatch for {directory / name}: sha256 {actual}, expected {expected} "
                f"(the official file at AffectGPT commit {UPSTREAM_COMMIT[:8]}); scores would not match the "
                "official scorer. Replace the file, or pass verify=False to score with modified wheels."
            )
    return directory


def default_cache_dir() -> Path:
    """Inside the Hugging Face cache (HF_HOME), keyed by the upstream commit."""
    try:
        from huggingface_hub import constants

        home = Path(constants.HF_HOME)
    except Exception:  # huggingface_hub absent or broken: follow its documented default
        home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return home / "mer_unibench" / UPSTREAM_COMMIT[:8]


def _offline() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}
        for var in ("HF_HUB_OFFLINE", "HF_EVALUATE_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _how_to() -> str:
    files = ", ".join(WHEEL_FILES)
    return (
        f"A wheel folder must hold the official emotion-wheel files ({files}). Pass wheel_dir=None and unset "
        f"{ENV_VAR} to use the bundled table, or fetch the files with "
        "metrics.mer_unibench.sources.download_wheel_files() (needs network: unset HF_HUB_OFFLINE / "
        f"HF_EVALUATE_OFFLINE) from {URL_TEMPLATE.format(commit=UPSTREAM_COMMIT, file='<file>')}."
    )


def download_wheel_files(cache_dir: str | os.PathLike | None = None) -> Path:
    """Fetch the seven official files at the pinned commit into `cache_dir` (default: `default_cache_dir()`),
    verify every sha256 and return the folder. Files already there with the right sha256 are kept, so a second
    call needs no network. Each file is written to a temporary name and renamed, so a crash never leaves a
    truncated file that looks cached."""
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    todo = [n for n in WHEEL_FILES if not ((cache / n).is_file() and _sha256(cache / n) == WHEEL_FILES[n])]
    if todo and _offline():
        raise WheelFilesNotFoundError(
            f"offline (HF_HUB_OFFLINE/HF_EVALUATE_OFFLINE set) and {cache} lacks {', '.join(todo)}. "
            + _how_to()
        )
    cache.mkdir(parents=True, exist_ok=True)
    for name in todo:
        url = URL_TEMPLATE.format(commit=UPSTREAM_COMMIT, file=name)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - pinned https URL
                data = response.read()
        except OSError as exc:  # network errors of every kind: say what to do instead
            raise WheelFilesNotFoundError(f"download of {url} failed ({exc!r}). " + _how_to()) from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != WHEEL_FILES[name]:
            raise ChecksumError(
                f"checksum mismatch for {name} downloaded from {url}: {actual}, expected {WHEEL_FILES[name]}"
            )
        with tempfile.NamedTemporaryFile(dir=cache, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, cache / name)
    return verify_wheel_dir(cache)


def resolve_wheel_dir(wheel_dir: str | os.PathLike, *, verify: bool = True) -> Path:
    """A folder holding the seven official files (sha256-checked unless `verify=False`, for experiments with
    edited wheels), resolved; `WheelFilesNotFoundError` / `ChecksumError` name the file otherwise."""
    return verify_wheel_dir(wheel_dir) if verify else _exists(wheel_dir)


def _exists(directory: str | os.PathLike) -> Path:
    directory = Path(directory).expanduser().resolve()
    missing = [name for name in WHEEL_FILES if not (directory / name).is_file()]
    if missing:
        raise WheelFilesNotFoundError(f"{directory} lacks {', '.join(missing)}. " + _how_to())
    return directory
