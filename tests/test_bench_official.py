"""`bench --score-only` on the official AffectGPT output files (affectgpt/bench/official.py)."""

from __future__ import annotations

import shutil

import pytest

from affectgpt.bench.official import checkpoint_label, find_official_outputs
from affectgpt.errors import CLIError

KNOWN = ("mer2023", "mer2024", "iemocap", "meld", "cmumosi", "cmumosei", "sims", "simsv2", "ovmerdplus")


def test_checkpoint_labels():
    assert checkpoint_label("checkpoint_000030_loss_0.602") == "epoch30"
    assert checkpoint_label("my-run") == "my-run"


def test_official_folders_become_checkpoints_over_datasets(shared_unibench_dir):
    root = shared_unibench_dir / "official_outputs"
    found = find_official_outputs(root, ["mer2023", "cmumosi"], KNOWN)
    stems = sorted({p.stem for p in (root / "mer2023").glob("checkpoint_*.npz") if "openset" not in p.name})
    assert [c.name for c in found] == [checkpoint_label(s) for s in stems]  # epoch order = name order here
    for ckpt in found:
        assert set(ckpt.outputs) == {"mer2023", "cmumosi"}
        assert ckpt.outputs["mer2023"] and set(ckpt.words["mer2023"]) == set(ckpt.outputs["mer2023"])
        assert "cmumosi" in ckpt.sentiments and "mer2023" not in ckpt.sentiments


def test_official_repository_layout_and_errors(shared_unibench_dir, tmp_path):
    source = shared_unibench_dir / "official_outputs" / "meld"
    run = tmp_path / "output" / "results-meld" / "some_run"
    run.mkdir(parents=True)
    for file in sorted(source.glob("checkpoint_000030_*")):
        shutil.copy(file, run / file.name)
    (found,) = find_official_outputs(tmp_path / "output", ["meld"], KNOWN)
    assert found.name == "epoch30" and found.files["meld"].parent == run
    loose = tmp_path / "loose"
    loose.mkdir()
    shutil.copy(next(run.glob("checkpoint_000030_loss_*[0-9].npz")), loose / "checkpoint_000030_loss_1.npz")
    with pytest.raises(CLIError, match="cannot tell the dataset"):
        find_official_outputs(loose, ["meld", "mer2023"], KNOWN)
    assert find_official_outputs(loose, ["meld"], KNOWN)[0].outputs["meld"]
    with pytest.raises(CLIError, match="no official"):
        find_official_outputs(tmp_path / "output" / "nothing", ["meld"], KNOWN)
