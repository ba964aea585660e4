"""Read the official label files (`.npz` whose arrays are pickled Python dicts) without `allow_pickle=True`.

`np.load(..., allow_pickle=True)` runs arbitrary code from the file. Here every object array goes through a
restricted unpickler that admits only:
- plain containers and scalars, which pickle builds with opcodes and no imports: dict, list, tuple, str,
  bytes, int, float, bool, None; plus `builtins.set`/`frozenset` and `collections.OrderedDict`;
- the minimal numpy reconstruction of an array or scalar: `numpy.ndarray`, `numpy.dtype`,
  `numpy.core.multiarray._reconstruct` / `numpy._core.multiarray._reconstruct` and `...multiarray.scalar`
  (numpy 1.x and 2.x module names), and `_codecs.encode`, which numpy's pickles use to store raw bytes.
Each allowed callable accepts only the arguments numpy's own pickles pass (so none can be used as a gadget:
no other codec, no `ndarray(shape)` allocation, no dtype built from objects). Anything else (os.system,
builtins.eval, any other class) raises `pickle.UnpicklingError`; `load_npz_dict` reports every failure as a
`ValueError` naming the file and array."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ALLOWED_GLOBALS", "LabelFileError", "RestrictedUnpickler", "load_npz_dict", "restricted_loads"]


class LabelFileError(pickle.UnpicklingError, ValueError):
    """A label file that cannot be read safely; the message names the file and the array."""


ALLOWED_GLOBALS = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
}


class _ArrayClass:
    """Stands in for `numpy.ndarray` in a pickle: `_reconstruct` needs the class as an argument, but calling
    the class itself (`ndarray(shape)`) would let a file allocate any amount of memory."""

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError("refusing to call numpy.ndarray from a label file")


_ARRAY_CLASS = _ArrayClass()


def _refuse(what: str, args) -> pickle.UnpicklingError:
    shown = repr(args)
    return pickle.UnpicklingError(f"refusing {what}{shown[:80]}: not how numpy pickles its arrays")


def _guarded(module: str, name: str, real):
    """The allowed numpy / codecs callables, each taking only the arguments numpy's own pickles pass, so an
    allowed name cannot be used as a gadget (odd arguments, huge allocations, other codecs)."""
    if (module, name) == ("_codecs", "encode"):

        def encode(*args):
            if len(args) != 2 or not isinstance(args[0], str) or args[1] not in ("latin1", "latin-1"):
                raise _refuse("_codecs.encode", args)
            return real(*args)

        return encode
    if name == "_reconstruct":

        def reconstruct(*args):
            if len(args) != 3 or args[0] is not _ARRAY_CLASS or args[1] != (0,) or args[2] != b"b":
                raise _refuse("_reconstruct", args)
            return real(np.ndarray, (0,), b"b")

        return reconstruct
    if name == "scalar":

        def scalar(*args):
            dtype = args[0] if args else None
            ok = isinstance(dtype, np.dtype) and len(args) <= 2
            if ok and not dtype.hasobject:
                ok = len(args) == 2 and isinstance(args[1], bytes) and len(args[1]) == dtype.itemsize
            if not ok:
                raise _refuse("numpy scalar", args)
            return real(*args)

        return scalar
    if (module, name) == ("numpy", "dtype"):

        def dtype(*args):
            if not (1 <= len(args) <= 3 and isinstance(args[0], str)) or not all(
                isinstance(a, bool) for a in args[1:]
            ):
                raise _refuse("numpy.dtype", args)
            return real(*args)

        return dtype
    return real


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a label file (not a plain container)"
            )
        if (module, name) == ("numpy", "ndarray"):
            return _ARRAY_CLASS
        return _guarded(module, name, super().find_class(module, name))


def restricted_loads(data: bytes) -> Any:
    return RestrictedUnpickler(io.BytesIO(data)).load()


def _read_npy(fh) -> Any:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    if dtype.hasobject:
        array = RestrictedUnpickler(fh).load()
    else:
        count = int(np.prod(shape)) if shape else 1
        array = np.frombuffer(fh.read(count * dtype.itemsize), dtype=dtype, count=count)
        array = array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
    return array


def load_npz_dict(path: str | Path) -> dict[str, Any]:
    """`{key: value}` for every array in an `.npz`; 0-d object arrays are unwrapped (`.item()`, like the
    official `.tolist()`), so `load_npz_dict(p)["test1_corpus"]` is the plain `{name: {...}}` dict."""
    out: dict[str, Any] = {}
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise LabelFileError(f"{path}: not a readable .npz file ({err})") from None
    with zf:
        for member in zf.namelist():
            if not member.endswith(".npy"):
                continue
            try:
                with zf.open(member) as fh:
                    array = _read_npy(io.BufferedReader(fh))
            except Exception as err:  # noqa: BLE001 - an untrusted file: any failure is this file's fault
                raise LabelFileError(
                    f"{path}: {member}: not a valid label array ({type(err).__name__}: {err})"
                ) from None
            if isinstance(array, np.ndarray) and array.dtype.hasobject and array.ndim == 0:
                array = array.item()
            out[member[: -len(".npy")]] = array
    return out
