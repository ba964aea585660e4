"""Write rows of the common schema as parquet shards plus a dataset card, atomically.

Layout (docs/ARCHITECTURE.md): `OUT/README.md`, `OUT/<config>/<split>-0000i-of-0000n.parquet`, and
`OUT/media/...` for media we generate. Everything is written into a temporary folder beside OUT and renamed
into place at the end, so a failed or interrupted build never leaves a half-written dataset."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .card import CardInfo, card_configs, dataset_card, is_fingerprinted
from .schema import COLUMNS, features

__all__ = [
    "BuildReport",
    "DatasetBuildError",
    "MediaProblem",
    "check_media",
    "content_fingerprint",
    "local_load_kwargs",
    "push_to_hub",
    "staging",
    "write_configs",
    "write_dataset",
]

MEDIA_COLUMNS = ("video", "audio")
# For a local folder whose card has no content fingerprint (hand-written, or built before fingerprints): datasets
# would key its cache on the folder name and card alone and load a stale copy, so the files are re-read.
_REREAD_LOCAL = {"download_mode": "force_redownload", "verification_mode": "no_checks"}
MAX_SHARD_BYTES = 512 * 1024 * 1024  # only reached with embedded media
SUMMARY_NAMES = 5


class DatasetBuildError(RuntimeError):
    """The build cannot produce a complete dataset (missing media without --skip-missing, bad layout)."""


@dataclass
class MediaProblem:
    config: str
    name: str
    column: str
    path: str
    reason: str


@dataclass
class BuildReport:
    out: Path
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[MediaProblem] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"wrote {self.out}"]
        for config, splits in self.counts.items():
            lines.append(f"  {config}: " + ", ".join(f"{s}={n}" for s, n in splits.items()))
        if self.skipped:
            lines.append(describe_problems(self.skipped, verb="skipped"))
        return "\n".join(lines)


def describe_problems(problems: list[MediaProblem], verb: str = "found") -> str:
    first = ", ".join(f"{p.name} ({p.column}: {p.reason})" for p in problems[:SUMMARY_NAMES])
    more = f", ... ({len(problems) - SUMMARY_NAMES} more)" if len(problems) > SUMMARY_NAMES else ""
    return f"{verb} {len(problems)} row(s) with missing or unreadable media: {first}{more}"


def _fsync_dir(path: Path) -> None:
    # Directories cannot be opened for fsync on every platform (Windows); there it is a no-op.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(Path(folder))


@contextlib.contextmanager
def staging(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temp folder beside `out` (same filesystem, so the final rename is atomic); on success
    its files are fsync'ed and it replaces `out` as a whole (nothing of an old `out` survives), on any exception
    it is removed and `out` is left untouched. Used by `build-dataset` and `convert`."""
    out = Path(out).resolve()
    if out.exists() and not overwrite:
        raise DatasetBuildError(f"{out} already exists (pass overwrite=True / --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        _fsync_tree(tmp)  # the data is on disk before the rename makes it visible
        if out.exists():
            # Move the old copy aside first so that a crash between the two renames loses nothing.
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "data")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
        _fsync_dir(out.parent)  # ... and so is the rename
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _resolve(path: str, root: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def _unreadable(path: Path) -> str | None:
    """Cheap check (no decoding, so 30k clips stay fast): exists, is a non-empty readable file."""
    try:
        if not path.is_file():
            return "missing"
        if path.stat().st_size == 0:
            return "empty file"
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as err:
        return f"unreadable ({err.strerror or err})"
    return None


def check_media(config: str, rows: list[dict], root: Path) -> list[MediaProblem]:
    problems = []
    for row in rows:
        for column in MEDIA_COLUMNS:
            media = row.get(column)
            if media and media.get("path") and media.get("bytes") is None:
                reason = _unreadable(_resolve(media["path"], root))
                if reason:
                    problems.append(MediaProblem(config, row["name"], column, media["path"], reason))
                    break
        else:
            if row.get("face"):
                reason = _unreadable(_resolve(row["face"], root))
                if reason:
                    problems.append(MediaProblem(config, row["name"], "face", row["face"], reason))
    return problems


def _embed(row: dict, root: Path) -> dict:
    row = dict(row)
    for column in MEDIA_COLUMNS:
        media = row.get(column)
        if media and media.get("path") and media.get("bytes") is None:
            path = _resolve(media["path"], root)
            # Keep only the file name: the bytes travel, the local folder layout does not.
            row[column] = {"path": path.name, "bytes": path.read_bytes()}
    return row


def _row_bytes(row: dict, root: Path, embed: bool) -> int:
    if not embed:
        return 1024
    total = 1024
    for column in MEDIA_COLUMNS:
        media = row.get(column)
        if media and media.get("path"):
            with contextlib.suppress(OSError):
                total += _resolve(media["path"], root).stat().st_size
    return total


def _shards(rows: list[dict], root: Path, embed: bool) -> list[list[dict]]:
    shards: list[list[dict]] = [[]]
    size = 0
    for row in rows:
        weight = _row_bytes(row, root, embed)
        if shards[-1] and size + weight > MAX_SHARD_BYTES:
            shards.append([])
            size = 0
        shards[-1].append(row)
        size += weight
    return shards


def content_fingerprint(config_dir: Path) -> str:
    """sha256 over the names and bytes of a config's parquet shards: what the card records so that datasets'
    cache (keyed on the card, see `dataset_card`) changes whenever the rows do."""
    digest = hashlib.sha256()
    for path in sorted(config_dir.glob("*.parquet")):
        with path.open("rb") as fh:
            file_digest = hashlib.file_digest(fh, "sha256").digest()
        digest.update(path.name.encode() + b"\0" + file_digest)
    return digest.hexdigest()


def local_load_kwargs(folder: str | Path) -> dict:
    """`load_dataset` kwargs that make a local dataset folder load its current rows: none for a card written
    here (its fingerprints key the cache), a forced re-read for any other card."""
    card = Path(folder) / "README.md"
    try:
        text = card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return dict(_REREAD_LOCAL)
    return {} if is_fingerprinted(text) else dict(_REREAD_LOCAL)


def write_configs(
    root: str | Path,
    configs: dict[str, dict[str, list[dict]]],
    card: CardInfo,
    *,
    embed_media: bool = False,
    skip_missing: bool = False,
    progress: bool = True,
) -> BuildReport:
    """Write `configs` ({config: {split: rows}}) and the card into `root` (normally a `staging()` folder).
    Relative media paths are resolved against `root`, the dataset's data_root."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    root = Path(root)
    report = BuildReport(out=root)
    for config, splits in configs.items():
        for split, rows in splits.items():
            seen: dict[str, int] = {}
            for row in rows:
                seen[row["name"]] = seen.get(row["name"], 0) + 1
            duplicates = [name for name, count in seen.items() if count > 1]
            if duplicates:  # the bench cache and the scores key on the name: a twin would be lost or mixed up
                raise DatasetBuildError(
                    f"config {config!r} split {split!r}: {len(duplicates)} duplicate clip name(s): "
                    f"{', '.join(duplicates[:10])}{' ...' if len(duplicates) > 10 else ''}"
                )
    problems = [
        p
        for config, splits in configs.items()
        for rows in splits.values()
        for p in check_media(config, rows, root)
    ]
    if problems and not skip_missing:
        raise DatasetBuildError(describe_problems(problems) + " (pass --skip-missing to drop them)")
    if problems:
        warnings.warn(describe_problems(problems, verb="skipping"), stacklevel=2)
        report.skipped = problems
    bad = {(p.config, p.name) for p in problems}
    schema = features().arrow_schema
    total = sum(len(rows) for splits in configs.values() for rows in splits.values())
    with tqdm(total=total, desc="writing parquet", unit="row", disable=not progress) as bar:
        for config, splits in configs.items():
            (root / config).mkdir(parents=True, exist_ok=True)
            report.counts[config] = {}
            for split, rows in splits.items():
                kept = [r for r in rows if (config, r["name"]) not in bad]
                if not kept:
                    raise DatasetBuildError(f"config {config!r} split {split!r} has no rows left")
                shards = _shards(kept, root, embed_media)
                for i, shard in enumerate(shards):
                    path = root / config / f"{split}-{i:05d}-of-{len(shards):05d}.parquet"
                    with pq.ParquetWriter(path, schema) as writer:
                        for start in range(0, len(shard), 64):  # bounded memory with embedded bytes
                            batch = shard[start : start + 64]
                            if embed_media:
                                batch = [_embed(r, root) for r in batch]
                            batch = [{c: r.get(c) for c in COLUMNS} for r in batch]
                            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                            bar.update(len(batch))
                report.counts[config][split] = len(kept)
                bar.update(len(rows) - len(kept))
    fingerprints = {config: content_fingerprint(root / config) for config in report.counts}
    dataset_card(card, report.counts, embedded=embed_media, fingerprints=fingerprints).save(
        root / "README.md"
    )
    return report


def write_dataset(
    out: str | Path,
    configs: dict[str, dict[str, list[dict]]],
    card: CardInfo,
    *,
    embed_media: bool = False,
    skip_missing: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> BuildReport:
    """`staging()` + `write_configs()` for converters whose media already live elsewhere (absolute paths)."""
    with staging(out, overwrite=overwrite) as tmp:
        report = write_configs(
            tmp, configs, card, embed_media=embed_media, skip_missing=skip_missing, progress=progress
        )
    report.out = Path(out).resolve()
    return report


def push_to_hub(
    out: str | Path,
    repo_id: str,
    configs: list[str] | None = None,
    private: bool = True,
    token: str | None = None,
) -> None:
    """Upload a built dataset config by config (`DatasetDict.push_to_hub(config_name=...)`), private by
    default, under this folder's card. Media must be embedded (`embed_media=True`): plain path strings would
    upload as dangling text. Every config is loaded and checked before anything is uploaded.

    The card goes up first: datasets' push_to_hub edits the repo's README in place (it updates the YAML
    `configs` / `dataset_info` and keeps the body), and writes a metadata-only README where there is none, which
    would lose the card's description, schema and licence."""
    from datasets import load_dataset
    from huggingface_hub import DatasetCard, HfApi

    out = Path(out)
    text = (out / "README.md").read_text(encoding="utf-8")
    names = configs or [c["config_name"] for c in card_configs(text) if c.get("config_name")]
    loaded = {}
    for name in names:
        dd = loaded[name] = load_dataset(str(out), name, **local_load_kwargs(out))
        for split, ds in dd.items():
            for column in MEDIA_COLUMNS:
                values = ds.data.column(column).to_pylist()
                if any(v and v.get("bytes") is None and v.get("path") for v in values):
                    raise DatasetBuildError(
                        f"{name}/{split}: column {column!r} holds paths without bytes; rebuild with --embed-media"
                    )
    HfApi(token=token).create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    DatasetCard(text).push_to_hub(repo_id, repo_type="dataset", token=token)
    for name, dd in loaded.items():
        dd.push_to_hub(repo_id, config_name=name, private=private, token=token)
