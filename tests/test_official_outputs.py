"""The official output reader: plain dicts and strings only, clear errors, and the real files."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from metrics.official_outputs import official_checkpoints, read_official_outputs


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


def _answers(tmp_path, reasons: dict, name="checkpoint_000001_loss_0.5.npz"):
    return _save(tmp_path / name, name2reason=np.array(reasons, dtype=object))


def test_reads_answers_and_extraction(tmp_path):
    path = _answers(tmp_path, {"a": "The character's emotional state is happy.", "b": "sad"})
    _save(
        tmp_path / "checkpoint_000001_loss_0.5-openset.npz",
        filenames=np.array(["b", "a"]),
        fileitems=np.array(["[sad]", "[happy]"]),
    )
    out = read_official_outputs(path)
    assert out.reasons == {"a": "The character's emotional state is happy.", "b": "sad"}
    assert out.openset == {"a": "[happy]", "b": "[sad]"} and out.sentiment is None
    assert official_checkpoints(tmp_path) == [path]
    # numpy string scalars as keys (the official ovmerdplus files) come back as plain str
    scalars = _answers(tmp_path, {np.str_("clip_1"): "calm"}, name="scalars.npz")
    (key,) = read_official_outputs(scalars).reasons
    assert key == "clip_1" and type(key) is str


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _raw_npz(path, payload: bytes):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": ()})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("name2reason.npy", header.getvalue() + payload)  # the header includes the magic
    return path


def test_code_in_the_pickle_is_refused(tmp_path):
    path = _raw_npz(tmp_path / "evil.npz", pickle.dumps({"a": _Evil()}))
    with pytest.raises(ValueError, match=r"evil\.npz.*refusing posix\.system|evil\.npz.*refusing os\.system"):
        read_official_outputs(path)
    other = _raw_npz(tmp_path / "list.npz", pickle.dumps(["not", "a", "dict"]))
    with pytest.raises(ValueError, match=r"list\.npz: name2reason holds list"):
        read_official_outputs(other)
    ints = _answers(tmp_path, {"a": 3}, name="ints.npz")
    with pytest.raises(ValueError, match=r"ints\.npz: name2reason entry 'a'"):
        read_official_outputs(ints)


def test_missing_and_mismatched_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        read_official_outputs(tmp_path / "nothing.npz")
    path = _answers(tmp_path, {"a": "x", "b": "y"})
    _save(
        tmp_path / "checkpoint_000001_loss_0.5-openset-sentiment.npz",
        filenames=np.array(["a"]),
        fileitems=np.array(["positive"]),
    )
    with pytest.raises(ValueError, match=r"openset-sentiment\.npz: its 1 sample names differ from the 2"):
        read_official_outputs(path)
    with pytest.raises(ValueError, match="pass the answers file"):
        read_official_outputs(tmp_path / "checkpoint_000001_loss_0.5-openset-sentiment.npz")


def test_real_official_outputs(shared_unibench_dir):
    folder = shared_unibench_dir / "official_outputs" / "cmumosi"
    checkpoints = official_checkpoints(folder)
    assert len(checkpoints) == 7
    out = read_official_outputs(checkpoints[0])
    assert len(out.reasons) == len(out.openset) == len(out.sentiment) == 686
    assert out.openset["k5Y_838nuGo_1"] == "[unhappy, dissatisfied, disappointed, annoyed]"
