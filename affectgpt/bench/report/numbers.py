"""How the report writes a score: a percentage with two decimals, and what stands for a NaN (the official
0/0 cases) in each format."""

from __future__ import annotations

from typing import Any

__all__ = ["no_nan", "ok", "pct", "round_pct"]


def ok(value) -> bool:
    return isinstance(value, (int, float)) and value == value


def pct(value) -> str:
    return f"{100 * value:.2f}" if ok(value) else "n/a"


def round_pct(value) -> float | str:
    return round(100 * value, 2) if ok(value) else ""


def no_nan(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [no_nan(v) for v in value]
    return value
