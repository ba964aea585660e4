"""Read the official AffectGPT output files safely: the model's answers and the official LLM extraction.

Layout (official `AffectGPT/output/results-<dataset>/<run>/`): `<ckpt>.npz` holds `name2reason`, a pickled dict
sample name -> the model's raw answer, inside a 0-d object array; `<ckpt>-openset.npz` and
`<ckpt>-openset-sentiment.npz` hold `filenames` / `fileitems` string arrays (the official emotion list "[a, b]"
and polarity per sample). `np.load(allow_pickle=True)` would run whatever the pickle asks for, so the pickle goes
through `_PlainUnpickler`: it admits plain dicts and strings (which pickle builds with opcodes, no imports) and
the names numpy's pickle of the 0-d wrapper and of string scalars (np.str_ keys) refers to, mapped to inert
stand-ins that only record the wrapped object or decode the string (no numpy code runs on the file's bytes). Anything else is refused, naming the file.
Not imported by the metric; `affectgpt bench --score-only` reads official outputs through `read_official_outputs`."""

from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["OfficialOutputs", "official_checkpoints", "read_official_outputs"]

_SUFFIXES = ("-openset.npz", "-openset-sentiment.npz")


class _Stub:
    """Stand-in for numpy's array / dtype during unpickling: keeps the pickled state, runs nothing."""

    def __init__(self, *args):
        self.args, self.state = args, None

    def __setstate__(self, state):
        self.state = state


def _reconstruct(*args) -> _Stub:
    return _Stub(*args)


def _scalar(dtype, data=None) -> str:
    """numpy's pickle of a string scalar (np.str_ keys): UCS-4 bytes with the dtype's byte order -> str."""
    args = getattr(dtype, "args", ())
    order = dtype.state[1] if isinstance(getattr(dtype, "state", None), tuple) else None
    if not (args and isinstance(args[0], str) and args[0][:1] == "U" and isinstance(data, bytes)):
        raise pickle.UnpicklingError("refusing a numpy scalar that is not a string")
    if order not in ("<", ">", "|", "="):
        raise pickle.UnpicklingError(f"refusing a string scalar with byte order {order!r}")
    return data.decode("utf-32-be" if order == ">" else "utf-32-le").rstrip("\x00")


_STAND_INS = {
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _Stub,
    ("numpy", "dtype"): _Stub,
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _STAND_INS:
            return _STAND_INS[(module, name)]
        raise pickle.UnpicklingError(f"refusing {module}.{name} (only plain dicts and strings are admitted)")


def _plain_dict(value, path: Path, key: str) -> dict[str, str]:
    """The dict inside a 0-d object array's pickled state (version, shape, dtype, fortran, [objects])."""
    if isinstance(value, _Stub):
        state = value.state
        if not (
            isinstance(state, tuple) and len(state) == 5 and state[1] == () and isinstance(state[4], list)
        ):
            raise ValueError(f"{path}: {key} is not a 0-d object array holding a dict")
        (value,) = state[4]
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {key} holds {type(value).__name__}, expected a dict name -> answer")
    bad = next(((k, v) for k, v in value.items() if not (isinstance(k, str) and isinstance(v, str))), None)
    if bad is not None:
        raise ValueError(f"{path}: {key} entry {bad[0]!r} is not a string -> string pair")
    return value


def _read_member(zf: zipfile.ZipFile, member: str, path: Path):
    with zf.open(member) as fh:
        fh = io.BufferedReader(fh)
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else None
        shape, fortran, dtype = (read_header or np.lib.format.read_array_header_2_0)(fh)
        if dtype.hasobject:
            try:
                return _PlainUnpickler(fh).load()
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
                raise ValueError(f"{path}: {member}: {err}") from None
        if dtype.kind != "U":
            raise ValueError(f"{path}: {member} has dtype {dtype}, expected strings")
        count = int(np.prod(shape))
        array = np.frombuffer(fh.read(count * dtype.itemsize), dtype=dtype, count=count)
        return [str(x) for x in array.reshape(shape, order="F" if fortran else "C").ravel()]


def _read_npz(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"official output file not found: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            return {m[: -len(".npy")]: _read_member(zf, m, path) for m in zf.namelist() if m.endswith(".npy")}
    except zipfile.BadZipFile as err:
        raise ValueError(f"{path}: not an npz file ({err})") from None


def _name_items(path: Path) -> dict[str, str]:
    arrays = _read_npz(path)
    if set(arrays) != {"filenames", "fileitems"}:
        raise ValueError(f"{path}: holds {sorted(arrays)}, expected filenames and fileitems")
    names, items = arrays["filenames"], arrays["fileitems"]
    if len(names) != len(items):
        raise ValueError(f"{path}: {len(names)} filenames but {len(items)} fileitems")
    return dict(zip(names, items))


@dataclass(frozen=True)
class OfficialOutputs:
    """One checkpoint's outputs: `reasons` name -> the model's answer; `openset` name -> the official LLM's
    "[a, b]" list and `sentiment` name -> its polarity, or None where that file is absent."""

    checkpoint: Path
    reasons: dict[str, str]
    openset: dict[str, str] | None
    sentiment: dict[str, str] | None


def read_official_outputs(checkpoint: str | Path) -> OfficialOutputs:
    """Read `<ckpt>.npz` (name2reason, restricted unpickling) and its `-openset` / `-openset-sentiment` siblings
    when present. Raises FileNotFoundError / ValueError naming the file for anything missing or malformed."""
    path = Path(checkpoint)
    if path.name.endswith(_SUFFIXES):
        raise ValueError(f"{path}: pass the answers file <ckpt>.npz, not its {path.name.split('-', 1)[1]}")
    arrays = _read_npz(path)
    if "name2reason" not in arrays:
        raise ValueError(f"{path}: no name2reason array (holds {sorted(arrays)})")
    reasons = _plain_dict(arrays["name2reason"], path, "name2reason")
    stem = path.with_suffix("")
    extras = [Path(f"{stem}{suffix}") for suffix in _SUFFIXES]
    openset, sentiment = (_name_items(p) if p.is_file() else None for p in extras)
    for extra, table in zip(extras, (openset, sentiment)):
        if table is not None and table.keys() != reasons.keys():
            raise ValueError(
                f"{extra}: its {len(table)} sample names differ from the {len(reasons)} of {path}"
            )
    return OfficialOutputs(path, reasons, openset, sentiment)


def official_checkpoints(folder: str | Path) -> list[Path]:
    """The `<ckpt>.npz` answer files of one results folder, sorted by name (the extraction files excluded)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"official results folder not found: {folder}")
    return sorted(p for p in folder.glob("*.npz") if not p.name.endswith(_SUFFIXES))
