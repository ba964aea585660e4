"""When model code from the Hub may run: the opt-in shared by every command that loads a model.

Kept free of heavy imports so the CLI's `--help` stays fast (docs/ARCHITECTURE.md, "When remote code runs")."""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["TRUST_REMOTE_CODE_ENV", "TRUST_REMOTE_CODE_HELP", "hub_code_refs", "trust_remote_code_from_env"]

TRUST_REMOTE_CODE_ENV = "AFFECTGPT_TRUST_REMOTE_CODE"
TRUST_REMOTE_CODE_HELP = (
    "allow loading a Hub repo, which downloads and runs its model code on this machine "
    f"(or set {TRUST_REMOTE_CODE_ENV}=1); the embedded model and local folders you name need no opt-in"
)


def trust_remote_code_from_env() -> bool:
    return os.environ.get(TRUST_REMOTE_CODE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def hub_code_refs(folder: str | os.PathLike) -> list[str]:
    """Repos whose code a local folder's configs pull in: transformers reads an `auto_map` entry
    `"owner/repo--module.Class"` as code to download from that repo, even for a local folder."""
    folder = Path(folder)
    repos = set()
    for name in ("config.json", "processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        auto_map = data.get("auto_map") if isinstance(data, dict) else None
        for value in auto_map.values() if isinstance(auto_map, dict) else ():
            for ref in value if isinstance(value, list) else [value]:
                if isinstance(ref, str) and "--" in ref:
                    repos.add(ref.split("--", 1)[0])
    return sorted(repos)
