"""affectgpt.data: media cells of dataset rows resolve to local files (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from affectgpt.data import load_split, resolve_media, row_to_clip


@pytest.fixture()
def root(tmp_path) -> Path:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.mp4").write_bytes(b"video-a")
    (tmp_path / "media" / "a.npy").write_bytes(b"face-a")
    return tmp_path


def test_none_and_empty_mean_missing(root):
    assert resolve_media(None, root) is None
    assert resolve_media("", root) is None
    assert resolve_media({"path": None, "bytes": None}, root) is None


def test_relative_paths_join_data_root(root):
    assert resolve_media("media/a.mp4", root) == str(root / "media" / "a.mp4")
    assert resolve_media({"path": "media/a.mp4", "bytes": None}, root) == str(root / "media" / "a.mp4")


def test_absolute_paths_kept(root, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere") / "b.wav"
    other.write_bytes(b"x")
    assert resolve_media(str(other), root) == str(other)
    assert resolve_media({"path": str(other), "bytes": None}, root) == str(other)


def test_existing_file_wins_over_bytes(root):
    got = resolve_media({"path": "media/a.mp4", "bytes": b"other"}, root)
    assert got == str(root / "media" / "a.mp4")


def test_embedded_bytes_written_once_with_suffix(root):
    cell = {"path": "clip_7.mp4", "bytes": b"embedded-bytes"}
    first = resolve_media(cell, root)
    second = resolve_media(dict(cell), None)
    assert first == second and first.endswith(".mp4")
    assert Path(first).read_bytes() == b"embedded-bytes"
    assert not first.startswith(str(root))


def test_missing_file_keeps_its_name(root):
    # A missing file must fail in the decoder under its real name, never drop the modality silently.
    assert resolve_media({"path": "media/gone.mp4", "bytes": None}, root) == str(root / "media" / "gone.mp4")


def test_bad_type_raises(root):
    with pytest.raises(TypeError):
        resolve_media(3, root)


def test_row_to_clip(root):
    row = {
        "name": "a",
        "video": {"path": "media/a.mp4", "bytes": None},
        "audio": None,
        "face": "media/a.npy",
        "subtitle": "hello",
        "description": "ignored",
    }
    clip = row_to_clip(row, root)
    assert clip == {
        "video": str(root / "media" / "a.mp4"),
        "audio": None,
        "face": str(root / "media" / "a.npy"),
        "subtitle": "hello",
        "name": "a",
    }


@pytest.mark.parametrize("streaming", [False, True])
def test_load_split_parquet_layout(root, streaming, monkeypatch):
    from datasets import Audio, Dataset, Features, Value, Video

    features = Features(
        {
            "name": Value("string"),
            "video": Video(decode=False),
            "audio": Audio(decode=False),
            "subtitle": Value("string"),
        }
    )
    monkeypatch.chdir(root)  # datasets sizes relative paths from the cwd while writing
    (root / "synth-mer").mkdir()
    Dataset.from_dict(
        {
            "name": ["a", "b"],
            "video": [{"path": "media/a.mp4", "bytes": None}, {"path": "b.mp4", "bytes": b"B"}],
            "audio": [None, None],
            "subtitle": ["s1", "s2"],
        },
        features=features,
    ).to_parquet(root / "synth-mer" / "train-00000-of-00001.parquet")
    (root / "README.md").write_text(
        "---\nconfigs:\n- config_name: synth-mer\n  data_files:\n  - split: train\n"
        "    path: synth-mer/train-*.parquet\n---\n"
    )
    monkeypatch.chdir(os.sep)
    rows = list(load_split(root, "synth-mer", "train", streaming=streaming))
    clips = [row_to_clip(r, root) for r in rows]
    assert clips[0]["video"] == str(root / "media" / "a.mp4")
    assert Path(clips[1]["video"]).read_bytes() == b"B"
    assert [c["subtitle"] for c in clips] == ["s1", "s2"]


def test_load_split_missing_dir(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_split(tmp_path / "nope", "synth-mer", "train")


def _write_corpus(folder: Path, names: list[str]) -> None:
    from datasets import Dataset

    (folder / "cfg").mkdir(parents=True, exist_ok=True)
    Dataset.from_dict({"name": names, "subtitle": [f"s-{n}" for n in names]}).to_parquet(
        folder / "cfg" / "test-00000-of-00001.parquet"
    )
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: cfg\n  data_files:\n  - split: test\n    path: cfg/test-*.parquet\n---\n"
    )


def test_load_split_reads_the_current_files_not_a_cache_of_a_same_named_folder(tmp_path):
    """datasets keys its cache of a local folder on the folder's name and card: a rebuilt folder, or another
    folder of the same name, must still load its own rows (this once scored the wrong test split)."""
    first, second = tmp_path / "a" / "corpus", tmp_path / "b" / "corpus"
    _write_corpus(first, ["x", "y", "z"])
    _write_corpus(second, ["p", "q"])
    assert [r["name"] for r in load_split(first, "cfg", "test")] == ["x", "y", "z"]
    assert [r["name"] for r in load_split(second, "cfg", "test")] == ["p", "q"]
    _write_corpus(first, ["w"])  # rebuilt in place
    assert [r["name"] for r in load_split(first, "cfg", "test")] == ["w"]


def test_load_split_prepares_only_the_wanted_split(tmp_path):
    """`load_dataset(DIR, CONFIG, split="test")` alone reads and caches every split of the config; scoring a
    test split must not read a (possibly huge) train split."""
    import datasets
    from datasets import Dataset

    folder = tmp_path / "two-splits-probe"
    (folder / "cfg").mkdir(parents=True)
    for split, names in (("train", ["t0", "t1", "t2"]), ("test", ["x0"])):
        Dataset.from_dict({"name": names}).to_parquet(folder / "cfg" / f"{split}-00000-of-00001.parquet")
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: cfg\n  data_files:\n  - split: train\n    path: cfg/train-*.parquet\n"
        "  - split: test\n    path: cfg/test-*.parquet\n---\n"
    )
    assert [r["name"] for r in load_split(folder, "cfg", "test")] == ["x0"]
    cached = [
        p.name
        for p in Path(datasets.config.HF_DATASETS_CACHE).rglob("*.arrow")
        if "two-splits-probe" in p.name
    ]
    assert cached and not [name for name in cached if "train" in name], cached


def test_load_split_of_a_same_named_folder_shows_its_own_split_sizes(tmp_path, capfd):
    """datasets' "Generating test split" bar took its total from the cached record of a same-named folder loaded
    before ("4/10", and the bench showed 16/240); the totals it prints must be this folder's own."""
    import re

    from datasets.utils.logging import enable_progress_bar

    from dataset_scripts.card import CardInfo
    from dataset_scripts.schema import make_row
    from dataset_scripts.writer import write_dataset

    enable_progress_bar()
    card = CardInfo(title="t", license="other", summary="s")
    sizes = {"a": (30, 10), "b": (12, 4)}
    for parent, (train, test) in sizes.items():
        rows = {
            split: [make_row(f"{parent}{split}{i}", source="t", split=split) for i in range(n)]
            for split, n in (("train", train), ("test", test))
        }
        write_dataset(tmp_path / parent / "same-name", {"cfg": rows}, card, progress=False)
    for parent, (_, test) in sizes.items():
        capfd.readouterr()
        ds = load_split(tmp_path / parent / "same-name", "cfg", "test")
        assert len(ds) == test and ds.info.splits["test"].num_examples == test
        shown = capfd.readouterr().err.replace("\r", "\n")
        totals = {(int(a), int(b)) for a, b in re.findall(r"Generating \w+ split:.*?(\d+)/(\d+)", shown)}
        assert all(total in sizes[parent] for _, total in totals), (parent, totals)
