"""Reading the official `.pth` safely: `torch.load(weights_only=True)`, its layout, sha256, and no NaN/Inf."""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from affectgpt.convert.errors import ConversionError, listing

__all__ = ["OfficialCheckpoint", "load_official_checkpoint", "refuse_non_finite", "sha256_of"]


@dataclass
class OfficialCheckpoint:
    path: Path
    sha256: str
    state_dict: dict[str, Any]  # name -> torch.Tensor (the official "model" entry)
    config: dict | None  # the runner's config dict (model/datasets/run), when present
    epoch: int | None

    @property
    def model_config(self) -> dict:
        model = (self.config or {}).get("model")
        return model if isinstance(model, dict) else {}


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else ""


def load_official_checkpoint(path: str | Path) -> OfficialCheckpoint:
    """Read an official `.pth` with `torch.load(weights_only=True)`; every failure is a `ConversionError`."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # weights_only refuses any global outside torch's allow-list; we never fall back to full pickle, which
        # would run arbitrary code from the file.
        first = _first_line(err) or type(err).__name__
        raise ConversionError(
            f"{path.name}: refused to unpickle non-tensor Python objects (torch.load weights_only=True: {first}). "
            "Only tensors, numbers, strings and plain containers are read. If you trust the file, re-save its "
            "'model' entry on its own: torch.save({'model': ckpt['model']}, 'clean.pth')"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as err:
        raise ConversionError(
            f"{path.name}: not a readable torch checkpoint (truncated or corrupt download?): "
            f"{type(err).__name__}: {_first_line(err)}"
        ) from None
    if not isinstance(obj, dict) or "model" not in obj:
        found = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise ConversionError(
            f"{path.name}: expected the official layout {{'model': state_dict, 'optimizer', 'config', 'scaler', "
            f"'epoch'}}, found {found}"
        )
    state = obj["model"]
    if not isinstance(state, dict):
        raise ConversionError(
            f"{path.name}: ckpt['model'] must be a state dict, found {type(state).__name__}"
        )
    bad = [repr(k) for k, v in state.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))]
    if bad:
        raise ConversionError(listing(f"{path.name}: ckpt['model'] entries that are not named tensors", bad))
    refuse_non_finite(state, f"{path.name}: ckpt['model']")
    config = obj.get("config") if isinstance(obj.get("config"), dict) else None
    epoch = obj.get("epoch") if isinstance(obj.get("epoch"), int) else None
    return OfficialCheckpoint(
        path=path, sha256=sha256_of(path), state_dict=dict(state), config=config, epoch=epoch
    )


def refuse_non_finite(tensors: dict, where: str) -> None:
    """A NaN or Inf weight gives NaN logits (empty or garbage answers) with no error anywhere later: refuse it."""
    import torch

    bad = [
        f"{name} ({int((~torch.isfinite(t)).sum())} of {t.numel()})"
        for name, t in tensors.items()
        if t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]
    if bad:
        raise ConversionError(listing(f"{where}: tensors with NaN or Inf values", bad))
