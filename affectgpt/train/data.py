"""The training split a recipe names: generated when asked and missing, cut to `max_samples`, indexed for the
collator's target draw."""

from __future__ import annotations

import logging
from pathlib import Path

from affectgpt.data import load_split
from processing.collator import INDEX_COLUMN

from .recipe import RecipeError

__all__ = ["build_train_dataset", "data_root"]

logger = logging.getLogger(__name__)


def _build_if_missing(data_cfg: dict) -> None:
    path = Path(data_cfg["path"])
    corpus = data_cfg["build_if_missing"]
    if not corpus or path.exists():
        return
    if corpus != "synth-mer":
        raise RecipeError(f"data.build_if_missing: only 'synth-mer' can be generated, got {corpus!r}")
    from dataset_scripts.synth_mer import build_synth_mer  # what `affectgpt build-dataset synth-mer` runs

    logger.warning("dataset %s missing: generating synth-mer (%d clips)", path, data_cfg["build_num_clips"])
    build_synth_mer(path, num_clips=int(data_cfg["build_num_clips"]), progress=False)


def build_train_dataset(data_cfg: dict, seed: int):
    """The training split with the row index the collator keys its target draw on."""
    _build_if_missing(data_cfg)
    try:
        dataset = load_split(data_cfg["path"], data_cfg["config"], data_cfg["split"], data_cfg["streaming"])
    except (FileNotFoundError, ValueError) as err:
        raise RecipeError(f"cannot load the training data: {err}") from err
    limit = data_cfg["max_samples"]
    if data_cfg["streaming"]:
        if limit:
            dataset = dataset.take(int(limit))
        dataset = dataset.map(lambda _, i: {INDEX_COLUMN: i}, with_indices=True)
        # An IterableDataset is not shuffled by the Trainer's sampler; a buffered shuffle replaces it.
        if data_cfg["shuffle_buffer"]:
            dataset = dataset.shuffle(seed=seed, buffer_size=int(data_cfg["shuffle_buffer"]))
        return dataset
    if limit:
        dataset = dataset.select(range(min(int(limit), len(dataset))))
    # add_column, not map: no rewrite of the (possibly media-embedding) table
    return dataset.add_column(INDEX_COLUMN, list(range(len(dataset))))


def data_root(data_cfg: dict) -> str | None:
    """The folder the rows' media paths are relative to, when it exists (a Hub id has none)."""
    root = data_cfg["data_root"] or data_cfg["path"]
    return str(root) if Path(root).exists() else None
