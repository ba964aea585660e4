"""What a generated answer depends on: the run's settings (`Protocol`), the model files (`model_fingerprint`)
and the sample's content (`input_key`). The generation cache is keyed on them, and the report records them."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affectgpt.bench.datasets import TASK

__all__ = ["Protocol", "input_key", "library_versions", "model_fingerprint"]


def _sha256_file(path: Path, whole_limit: int = 64 << 20) -> str:
    """Full sha256 for files up to 64 MiB; for larger weight shards, size + first and last 4 MiB (hashing 15 GB
    of weights on every run would cost minutes and the shard boundaries change whenever the weights do)."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size <= whole_limit:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        else:
            digest.update(str(size).encode())
            digest.update(fh.read(4 << 20))
            fh.seek(-(4 << 20), os.SEEK_END)
            digest.update(fh.read())
    return digest.hexdigest()


# Files of a model folder that cannot change a generation (the model card, git metadata).
_NOT_MODEL_FILES = {"README.md", ".gitattributes"}


def model_fingerprint(source: str, config=None) -> str:
    """A short identity for everything in the model that shapes an answer: a content hash of every file of a
    local folder (weights, configs, tokenizer, chat template, and the processor and modeling code it runs),
    else the Hub commit hash (which covers the same files)."""
    path = Path(source)
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(path.rglob("*")):
            rel = file.relative_to(path)
            if (
                not file.is_file()
                or file.name in _NOT_MODEL_FILES
                or any(p.startswith(".") for p in rel.parts)
            ):
                continue
            if file.suffix == ".pyc" or "__pycache__" in rel.parts:
                continue
            digest.update(f"{rel.as_posix()}:{_sha256_file(file)}\n".encode())
        return digest.hexdigest()[:16]
    commit = getattr(config, "_commit_hash", None)
    return commit or "unknown-revision"


def input_key(clip: dict) -> str:
    """A hash of what the model reads for one sample: its name, subtitle and the bytes of each media file.

    Together with the protocol hash it keys the cache, so a clip or subtitle replaced under the same name is
    generated again. File bytes are hashed (not size + mtime, which a copy or a same-sized re-encode keeps)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([clip.get("name"), clip.get("subtitle")], default=str).encode())
    for key in ("video", "audio", "face"):
        value = clip.get(key)
        digest.update(f"|{key}:".encode())
        if value is None:
            continue
        path = Path(value)
        # A missing file is left to the decoder to report (per sample); its key only has to differ.
        digest.update(_sha256_file(path).encode() if path.is_file() else f"missing:{path}".encode())
    return digest.hexdigest()[:16]


@dataclass
class Protocol:
    """Everything needed to reproduce a number. `key()` covers what changes the generated text."""

    model: str
    model_hash: str
    decoding: str = "greedy"
    generation: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    task: str = TASK
    dtype: str = "float32"
    extractor: str = "lexicon"
    batch_size: int = 8
    versions: dict[str, str] = field(default_factory=dict)

    def key(self) -> str:
        # Batch size changes sampled outputs (one RNG stream per batch), not greedy ones.
        parts = [self.model_hash, self.decoding, self.generation, self.seed, self.task, self.dtype]
        if self.generation.get("do_sample"):
            parts.append(self.batch_size)
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {**asdict(self), "protocol_hash": self.key()}


def library_versions() -> dict[str, str]:
    import torch
    import transformers

    from affectgpt import __version__

    return {
        "affectgpt": __version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
