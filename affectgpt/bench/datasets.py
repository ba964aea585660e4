"""Which MER-UniBench datasets a bench run scores, how each is scored, and their test rows."""

from __future__ import annotations

import os
from pathlib import Path

from affectgpt.errors import CLIError
from metrics.mer_unibench.tasks import DATASET_TASKS, TABLE2_ORDER

__all__ = [
    "BASIC",
    "DATASETS",
    "FINE_GRAINED",
    "SENTIMENT",
    "SPLIT",
    "SYNTH",
    "TASK",
    "TASKS",
    "available_datasets",
    "load_rows",
    "select_datasets",
]

BASIC = tuple(d for d, t in DATASET_TASKS.items() if t == "basic")
SENTIMENT = tuple(d for d, t in DATASET_TASKS.items() if t == "sentiment")
FINE_GRAINED = tuple(d for d, t in DATASET_TASKS.items() if t == "fine_grained")
SYNTH = "synth-mer"
DATASETS = (*TABLE2_ORDER, SYNTH)  # paper Table 2 column order, then our synthetic corpus
# Metric families per dataset; the first gives the dataset's primary column in the table. The synthetic corpus
# has all three kinds of reference (label, valence, emotions), so it is scored all three ways.
TASKS: dict[str, tuple[str, ...]] = {
    **{d: (t,) for d, t in DATASET_TASKS.items()},
    SYNTH: ("basic", "sentiment", "fine_grained"),
}
SPLIT = "test"
TASK = "ovlabel"


def available_datasets(data_dir: str | os.PathLike) -> list[str]:
    """Known configs present in a `build-dataset` output folder (`DIR/<config>/*.parquet`)."""
    root = Path(data_dir)
    return [name for name in DATASETS if any((root / name).glob(f"{SPLIT}-*.parquet"))]


def select_datasets(spec: str, data_dir: str | os.PathLike) -> list[str]:
    """`all` or a comma list -> validated config names, in table order."""
    root = Path(data_dir)
    if not root.is_dir():
        raise CLIError(f"data folder not found: {root} (make one with `affectgpt build-dataset`)")
    present = available_datasets(root)
    if spec.strip() == "all":
        if not present:
            raise CLIError(
                f"no UniBench or synth-mer test split under {root} (expected {root}/<config>/test-*.parquet)"
            )
        return present
    names = [n.strip().lower() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        import difflib

        hints = [f"{n} -> {m[0]}?" for n in unknown if (m := difflib.get_close_matches(n, DATASETS, 1, 0.6))]
        hint = f" (did you mean: {', '.join(hints)})" if hints else ""
        raise CLIError(
            f"unknown dataset(s) {', '.join(unknown) or repr(spec)}{hint}; choose from: all, {', '.join(DATASETS)}"
        )
    missing = [n for n in names if n not in present]
    if missing:
        raise CLIError(f"dataset(s) {', '.join(missing)} not found under {root} (no {SPLIT}-*.parquet)")
    return [n for n in DATASETS if n in names]


def load_rows(data_dir: str | os.PathLike, dataset: str, limit: int | None = None) -> list[dict]:
    """The test split's rows as clip dicts + references, media resolved against the dataset folder."""
    from affectgpt.data import load_split, row_to_clip

    try:
        table = load_split(data_dir, dataset, SPLIT)
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(str(err)) from err
    if limit is not None:
        table = table.select(range(min(limit, len(table))))
    rows = []
    for row in table:
        clip = row_to_clip(row, data_root=data_dir)
        rows.append(
            {
                "clip": clip,
                "name": str(row["name"]),
                "label": row.get("label"),
                "valence": row.get("valence"),
                "emotions": row.get("emotions"),
            }
        )
    return rows
