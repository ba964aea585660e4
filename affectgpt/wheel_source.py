"""Which emotion wheel the pipeline's lexicon extractor scores with, and the extractor itself. Both answer
(value, why-not) instead of raising: a missing or unusable wheel leaves the pipeline's texts without emotion
words and a note saying why, never a crash."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["find_wheel_dir", "load_extractor"]


def find_wheel_dir(wheel_dir: str | os.PathLike | None = None) -> tuple[Path | None, str | None]:
    """The wheel source to score with: `wheel_dir`, else env MER_UNIBENCH_WHEEL_DIR (a folder with the official
    files or a table .json; checked by the metric) -> (path, None); neither -> (None, None), the metric's bundled
    table; an unusable source -> (None, why-not): a message for the user, not a crash."""
    try:
        from metrics.mer_unibench import ENV_VAR, load_wheels
    except ImportError as err:
        return None, f"the MER-UniBench metric package is not importable ({err})"
    explicit = wheel_dir or os.environ.get(ENV_VAR, "").strip() or None
    if explicit is None:
        return None, None
    try:
        load_wheels(explicit)
    except (OSError, ValueError) as err:
        return None, f"emotion words need a usable emotion-wheel source: {err}"
    return Path(explicit).expanduser().resolve(), None


def load_extractor(wheel_dir: str | os.PathLike | None = None):
    """(LexiconExtractor, None) or (None, why-not); never raises for an unusable wheel source."""
    found, why = find_wheel_dir(wheel_dir)
    if why is not None:
        return None, why
    try:
        from metrics.extraction.lexicon import LexiconExtractor
    except ImportError as err:
        return None, f"the lexicon extractor is not importable ({err})"
    return LexiconExtractor(wheel_dir=found), None
