"""The conversion's one error type and the two helpers that shape its messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from affectgpt.errors import CLIError

__all__ = ["ConversionError", "guarded_load", "listing"]

_MAX_LISTED = 25


class ConversionError(CLIError):
    """The checkpoint cannot be converted; the message says why (all problems at once)."""


def listing(title: str, items: list[str]) -> str:
    """`title (n):` and one `  - item` line each, at most 25 shown."""
    shown = "\n".join(f"  - {item}" for item in items[:_MAX_LISTED])
    more = f"\n  ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return f"{title} ({len(items)}):\n{shown}{more}"


def guarded_load(what: str, source: str, loader: Callable[[str], Any]) -> Any:
    """Run a from_pretrained-style loader; a missing folder or an unreachable Hub id becomes one clear line."""
    try:
        return loader(source)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConversionError(
            f"cannot load the {what} from {source!r}: {first}. Pass a local folder (offline, the Hub is not used) "
            f"with --{what.split()[0]}"
        ) from None
