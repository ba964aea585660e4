"""The official AffectGPT output files as `affectgpt bench --score-only` input: re-score the released answers
against your own local labels.

Accepted layouts (any depth): the official repository's `output/results-<dataset>/<run>/<ckpt>.npz` and the
flat `<dataset>/<ckpt>.npz`. Each `<ckpt>.npz` holds the answers (`name2reason`); beside it,
`<ckpt>-openset.npz` (and `-openset-sentiment.npz` for sentiment sets) hold the official LLM extraction. The
files are read by `metrics.official_outputs` (restricted unpickling: plain dicts and strings only). The
checkpoints of one training run share their file name across datasets (`checkpoint_000030_loss_0.602`), so
each becomes one checkpoint of the report, labelled by its epoch."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from affectgpt.errors import CLIError

__all__ = ["OfficialCheckpoint", "checkpoint_label", "find_official_outputs", "has_official_outputs"]

_EPOCH = re.compile(r"checkpoint_0*(\d+)_")
_EXTRACTION_SUFFIXES = ("-openset.npz", "-openset-sentiment.npz")


@dataclass
class OfficialCheckpoint:
    """One checkpoint over every dataset found: answers, and the official extraction where present."""

    name: str
    files: dict[str, Path] = field(default_factory=dict)  # dataset -> <ckpt>.npz
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # dataset -> name -> answer
    words: dict[str, dict[str, str]] = field(default_factory=dict)  # dataset -> name -> "[a, b]" (official)
    sentiments: dict[str, dict[str, str]] = field(default_factory=dict)  # dataset -> name -> polarity


def checkpoint_label(stem: str) -> str:
    """`checkpoint_000030_loss_0.602` -> `epoch30`; any other name stays as it is."""
    match = _EPOCH.match(stem)
    return f"epoch{int(match.group(1))}" if match else stem


def _answer_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root] if root.suffix == ".npz" and not root.name.endswith(_EXTRACTION_SUFFIXES) else []
    return sorted(p for p in root.rglob("*.npz") if not p.name.endswith(_EXTRACTION_SUFFIXES))


def has_official_outputs(path: str | Path) -> bool:
    return Path(path).exists() and bool(_answer_files(Path(path)))


def _dataset_of(file: Path, root: Path, known: tuple[str, ...], wanted: list[str]) -> str | None:
    """The dataset a file belongs to: a folder named after it (`mer2023`, `results-mer2023`) on its path under
    `root`; with a single wanted dataset and no such folder, that one."""
    parts = file.relative_to(root).parts[:-1] if root.is_dir() else ()
    for part in reversed(parts):
        name = part.lower().removeprefix("results-")
        if name in known:
            return name
    return wanted[0] if len(wanted) == 1 else None


def find_official_outputs(
    path: str | Path, datasets: list[str], known: tuple[str, ...]
) -> list[OfficialCheckpoint]:
    """Every checkpoint under `path` with its answers (and official extraction) for the selected `datasets`,
    in epoch order. Files of datasets not selected are left out; a file whose dataset cannot be told is an
    error naming it."""
    from metrics.official_outputs import read_official_outputs

    root = Path(path)
    files = _answer_files(root)
    if not files:
        raise CLIError(f"--score-only: no official <checkpoint>.npz files under {root}")
    checkpoints: dict[str, OfficialCheckpoint] = {}
    for file in files:
        dataset = _dataset_of(file, root, known, datasets)
        if dataset is None:
            raise CLIError(
                f"--score-only: cannot tell the dataset of {file}: put it in a folder named after the dataset "
                "(e.g. mer2023/ or results-mer2023/) or select one dataset with --datasets"
            )
        if dataset not in datasets:
            continue
        label = checkpoint_label(file.stem)
        ckpt = checkpoints.setdefault(label, OfficialCheckpoint(label))
        if dataset in ckpt.files:
            raise CLIError(
                f"--score-only: two {label} answer files for {dataset}: {ckpt.files[dataset]} and {file}"
            )
        try:
            found = read_official_outputs(file)
        except (OSError, ValueError) as err:
            raise CLIError(f"--score-only: {err}") from err
        ckpt.files[dataset] = file
        ckpt.outputs[dataset] = found.reasons
        if found.openset is not None:
            ckpt.words[dataset] = found.openset
        if found.sentiment is not None:
            ckpt.sentiments[dataset] = found.sentiment
    if not checkpoints:
        raise CLIError(
            f"--score-only: none of the official outputs under {root} is for {', '.join(datasets)}"
        )

    def order(label: str) -> tuple[int, str]:
        match = re.fullmatch(r"epoch(\d+)", label)
        return (int(match.group(1)), label) if match else (10**9, label)

    return [checkpoints[label] for label in sorted(checkpoints, key=order)]
