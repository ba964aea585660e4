"""The generation cache: one JSONL file per model files and dataset, read back only where the run's settings
and the sample's content still match, appended crash-safely (fsync per batch, a torn last line cut off), so
a crashed run resumes where it stopped and a finished one is never repeated."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from affectgpt.bench.protocol import Protocol
from affectgpt.errors import CLIError

__all__ = ["CacheLookup", "GenerationCache", "read_jsonl"]


def _slug(source: str) -> str:
    text = Path(source).name if Path(source).exists() else source.replace("/", "--")
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "model"


@dataclass
class CacheLookup:
    """What a cache holds for one dataset: usable outputs, and why other cached lines were not used."""

    outputs: dict[str, str]
    notes: list[str]


class GenerationCache:
    """`OUT/generations/<model>-<hash>/<dataset>[.rank<k>].jsonl`, one line `{name, output, protocol, input}` per
    sample: `protocol` hashes the run's settings (`Protocol.key`), `input` the sample's content (`input_key`).
    A line is reused only when both match. Appends are flushed and fsync'ed per batch; a torn last line left by
    a crash is ignored on reading and cut off before the next append."""

    def __init__(self, out_dir: str | os.PathLike, protocol: Protocol, rank: int = 0):
        self.protocol_hash = protocol.key()
        self.slug = _slug(protocol.model)
        self.dir = Path(out_dir) / "generations" / f"{self.slug}-{protocol.model_hash[:8]}"
        self.rank = rank

    def _files(self, dataset: str, folder: Path | None = None) -> list[Path]:
        folder = self.dir if folder is None else folder
        return sorted(folder.glob(f"{dataset}.jsonl")) + sorted(folder.glob(f"{dataset}.rank*.jsonl"))

    def load(self, dataset: str, keys: dict[str, str] | None = None) -> CacheLookup:
        """Cached outputs of this protocol for the samples in `keys` (name -> `input_key`) whose content is
        unchanged; without `keys`, every output of this protocol. `notes` say which cached lines were ignored."""
        done: dict[str, str] = {}
        other_protocol, changed, unkeyed = set(), set(), set()
        for file in self._files(dataset):
            for rec in read_jsonl(file):
                name = str(rec.get("name"))
                if "name" not in rec or (keys is not None and name not in keys):
                    continue
                if rec.get("protocol") != self.protocol_hash:
                    other_protocol.add(name)
                elif keys is not None and "input" not in rec:
                    unkeyed.add(name)
                elif keys is not None and rec["input"] != keys[name]:
                    changed.add(name)
                else:
                    done[name] = str(rec.get("output", ""))
        notes = []
        stale = [
            folder
            for folder in sorted(self.dir.parent.glob(f"{self.slug}-*"))
            # `<slug>-<8 chars>` exactly: not another model whose name merely starts with this one's
            if folder != self.dir and len(folder.name) == len(self.dir.name) and self._files(dataset, folder)
        ]
        if stale and not done:
            notes.append(
                f"not using the cache in {', '.join(map(str, stale))}: made with other model files "
                f"(weights, config, tokenizer, processor or code)"
            )
        reasons = (
            (
                other_protocol - set(done),
                "made with other settings (decoding, seed, dtype, task or max tokens)",
            ),
            (changed - set(done), "the clip's media or subtitle changed since"),
            (unkeyed - set(done), "written before the cache was keyed on clip content"),
        )
        for names, why in reasons:
            if names:
                example = sorted(names)[0]
                notes.append(f"{len(names)} cached generation(s) not used (e.g. {example}): {why}")
        return CacheLookup(done, notes)

    def append(self, dataset: str, records: Iterable[tuple[str, str, str]]) -> None:
        """Append `(name, output, input_key)` lines to this process's file, after cutting off a torn tail."""
        self.dir.mkdir(parents=True, exist_ok=True)
        suffix = f".rank{self.rank}" if self.rank else ""
        path = self.dir / f"{dataset}{suffix}.jsonl"
        _drop_torn_tail(path)
        with path.open("a", encoding="utf-8") as fh:
            for name, output, key in records:
                line = {"name": name, "output": output, "protocol": self.protocol_hash, "input": key}
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _drop_torn_tail(path: Path) -> None:
    """Truncate `path` after its last newline: a line a crash left half-written must not be appended onto
    (the next line would glue onto it and the file would stop parsing)."""
    try:
        fh = path.open("r+b")
    except FileNotFoundError:
        return
    with fh:
        size = fh.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            start = max(0, end - (64 << 10))
            fh.seek(start)
            block = fh.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                end = start + cut + 1
                break
            end = start
        if end == size:
            return
        fh.seek(end)
        tail = fh.read()
        try:
            json.loads(tail.decode("utf-8"))
            complete = True
        except (UnicodeDecodeError, json.JSONDecodeError):
            complete = False
        if complete:  # a whole line that only lacks its newline (an edited file): keep it
            fh.write(b"\n")
        else:
            fh.truncate(end)
            print(
                f"bench: {path}: removed a torn last line ({size - end} bytes) left by an interrupted run",
                file=sys.stderr,
            )
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a JSONL file. A last line without its newline is a write a crash cut short and is
    skipped; any other bad line is an error naming the file and line."""
    records = []
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CLIError(f"{path}: cannot read: {err.strerror or err}") from None
    lines = data.split(b"\n")
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        torn = lineno == len(lines)  # no newline after it
        try:
            rec = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            if torn:
                continue
            raise CLIError(f"{path}:{lineno}: not UTF-8 text (is this a JSONL file?)") from None
        except json.JSONDecodeError:
            if torn:
                continue
            raise CLIError(f"{path}:{lineno}: not valid JSON (delete the line to go on)") from None
        if not isinstance(rec, dict):
            raise CLIError(f"{path}:{lineno}: expected a JSON object, got {type(rec).__name__}")
        records.append(rec)
    return records
