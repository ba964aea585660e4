"""Converters on generated mocks of the official layouts: MER2025 (MER-Caption+) and the nine UniBench sets."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from dataset_scripts.mer_caption import build_mer_caption
from dataset_scripts.mock_layouts import make_mer2025_mock, make_unibench_mock
from dataset_scripts.safe_pickle import load_npz_dict, restricted_loads
from dataset_scripts.schema import parse_openset
from dataset_scripts.unibench import UNIBENCH, build_unibench
from dataset_scripts.writer import DatasetBuildError


@pytest.fixture(scope="module")
def mer_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mer2025")
    return root, make_mer2025_mock(root)


@pytest.fixture(scope="module")
def unibench_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("unibench")
    return root, {config: make_unibench_mock(root, config) for config in UNIBENCH}


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("['happy', 'joyful']", ["happy", "joyful"]),
        ('["Sad", "disappointed"]', ["sad", "disappointed"]),
        ("worried, anxious", ["worried", "anxious"]),
        ("[]", []),
        ("", []),
        (None, []),
        (float("nan"), []),
        ("[happy]", ["happy"]),
        (["Happy ", ""], ["happy"]),
    ],
)
def test_parse_openset_official_rules(cell, expected):
    assert parse_openset(cell) == expected


def test_restricted_unpickler_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(pickle.UnpicklingError, match="system"):
        restricted_loads(pickle.dumps({"a": Evil()}))
    np.savez(tmp_path / "evil.npz", test_corpus=np.array({"x": Evil()}, dtype=object))
    with pytest.raises(pickle.UnpicklingError):
        load_npz_dict(tmp_path / "evil.npz")
    np.savez(
        tmp_path / "ok.npz", test_corpus=np.array({"x": {"val": np.float64(0.5), "emo": 2}}, dtype=object)
    )
    assert load_npz_dict(tmp_path / "ok.npz")["test_corpus"] == {"x": {"val": 0.5, "emo": 2}}


def test_mer_caption_plus(mer_root, tmp_path):
    from datasets import load_dataset

    root, mock = mer_root
    with pytest.raises(DatasetBuildError, match=mock["missing_video"]):
        build_mer_caption(root, tmp_path / "strict", progress=False)
    assert not (tmp_path / "strict").exists() and os.listdir(tmp_path) == []
    with pytest.warns(UserWarning, match="skipping 1 row"):
        report = build_mer_caption(root, tmp_path / "out", skip_missing=True, progress=False)
    assert report.counts == {"mer-caption-plus": {"train": 4}}
    ds = load_dataset(str(tmp_path / "out"), "mer-caption-plus")["train"]
    rows = {r["name"]: r for r in ds}
    assert mock["missing_video"] not in rows
    for name, row in rows.items():
        assert row["emotions"] == mock["emotions"][name]
        assert row["subtitle"] == mock["subtitle"][name] and row["subtitle_zh"].startswith("中文")
        assert os.path.isabs(row["video"]["path"]) and row["audio"]["path"].endswith(".wav")
        assert (row["face"] is not None) == (name == mock["with_face"])
        assert row["source"] == "mer-caption-plus" and row["split"] == "train" and row["valence"] is None


def test_converter_cards_load_as_dataset_cards(mer_root, unibench_root, tmp_path):
    from huggingface_hub import DatasetCard

    with pytest.warns(UserWarning, match="skipping 1 row"):
        build_mer_caption(mer_root[0], tmp_path / "mer", skip_missing=True, progress=False)
    with pytest.warns(UserWarning, match="official test set has"):
        build_unibench(unibench_root[0], tmp_path / "uni", skip_missing=True, progress=False)
    mer = DatasetCard.load(tmp_path / "mer" / "README.md").data
    assert mer.license == "cc-by-nc-4.0"
    assert [c["config_name"] for c in mer.configs] == ["mer-caption-plus"]
    uni = DatasetCard.load(tmp_path / "uni" / "README.md").data
    assert uni.license == "other" and uni.task_categories == ["video-text-to-text"]
    assert {c["config_name"] for c in uni.configs} == set(UNIBENCH)
    assert all([f["split"] for f in c["data_files"]] == ["test"] for c in uni.configs)


def test_mer_caption_second_config(mer_root, tmp_path):
    from datasets import load_dataset

    root, mock = mer_root
    annotations = tmp_path / "mer_caption.csv"
    annotations.write_text(
        "name,reason\nsample_00000001,A broad smile.\nsample_00000002,\n", encoding="utf-8"
    )
    build_mer_caption(root, tmp_path / "out", mer_caption_csv=annotations, skip_missing=True, progress=False)
    ds = load_dataset(str(tmp_path / "out"), "mer-caption")["train"]
    assert ds["name"] == ["sample_00000001", "sample_00000002"] and ds["description"] == [
        "A broad smile.",
        "",
    ]


def test_unibench_all_sets(unibench_root, tmp_path):
    from datasets import load_dataset

    root, mocks = unibench_root
    with pytest.warns(UserWarning, match="official test set has"):
        report = build_unibench(root, tmp_path / "out", skip_missing=True, progress=False)
    assert set(report.counts) == set(UNIBENCH)
    for config, mock in mocks.items():
        ds = load_dataset(str(tmp_path / "out"), config)["test"]
        assert ds["name"] == mock["names"][:2], config  # the clip without video was skipped
        kind = UNIBENCH[config].kind
        for row in ds:
            expected = mock["expected"][row["name"]]
            if kind == "basic":
                assert row["label"] == expected
            elif kind == "sentiment":
                assert row["valence"] == pytest.approx(expected) and row["label"] == ""
            else:
                assert row["emotions"] == expected
            english = mock["english"][row["name"]]
            if config == "mer2024":
                assert row["subtitle"] == row["subtitle_zh"] and row["subtitle_en"] == (english or None)
            else:
                assert row["subtitle"] == english and row["subtitle_en"] == (english or None)
            assert row["split"] == "test" and os.path.isfile(row["video"]["path"])


def test_unibench_single_set_is_strict(unibench_root, tmp_path):
    root, mocks = unibench_root
    with pytest.raises(DatasetBuildError, match="1 row"):
        build_unibench(root, tmp_path / "out", configs=["iemocap"], require_all=True, progress=False)
    assert not (tmp_path / "out").exists()
    with pytest.raises(FileNotFoundError):
        build_unibench(
            tmp_path / "nothing", tmp_path / "out", configs=["meld"], require_all=True, progress=False
        )


def test_cli_unibench_config(unibench_root, tmp_path, capsys):
    from affectgpt.cli import main

    root, _ = unibench_root
    out = tmp_path / "cli"
    assert (
        main(
            [
                "build-dataset",
                "meld",
                "--root",
                str(root),
                "--out",
                str(out),
                "--skip-missing",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "meld: test=2" in capsys.readouterr().out
    assert (
        main(["build-dataset", "sims", "--root", str(root), "--out", str(tmp_path / "x"), "--no-progress"])
        == 2
    )
    assert "missing or unreadable media" in capsys.readouterr().err and not (tmp_path / "x").exists()


def _mer_copy(tmp_path, seed: int = 0):
    root = tmp_path / "mer2025"
    return root, make_mer2025_mock(root, seed)


def _cli_error(argv, capsys) -> str:
    from affectgpt.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_clip_name_leading_outside_the_root_is_refused(tmp_path, capsys):
    root, _ = _mer_copy(tmp_path)
    secret = tmp_path / "outside" / "secret.mp4"
    secret.parent.mkdir()
    secret.write_bytes(b"private bytes")
    for csv_name in ("track2_train_mercaptionplus.csv", "track3_train_mercaptionplus.csv"):
        with (root / csv_name).open("a", encoding="utf-8") as fh:
            fh.write("../../outside/secret,worried\n")
    out = tmp_path / "out"
    argv = ["build-dataset", "mer-caption-plus", "--root", str(root), "--out", str(out), "--no-progress"]
    err = _cli_error([*argv, "--embed-media", "--skip-missing"], capsys)
    assert "'../../outside/secret' points outside" in err
    assert not out.exists()


def test_duplicate_clip_names_are_an_error_naming_them(tmp_path, capsys):
    root, mock = _mer_copy(tmp_path)
    with (root / "track2_train_mercaptionplus.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"{mock['names'][1]},angry\n")  # the second clip again, with another label
    argv = ["build-dataset", "mer-caption-plus", "--root", str(root), "--out", str(tmp_path / "o")]
    err = _cli_error([*argv, "--skip-missing", "--no-progress"], capsys)
    assert "track2_train_mercaptionplus.csv: 1 duplicate name(s)" in err
    assert f"{mock['names'][1]} (lines 3, 7)" in err


def test_a_latin1_csv_is_an_error_naming_the_file(tmp_path, capsys):
    root, _ = _mer_copy(tmp_path)
    (root / "subtitle_chieng.csv").write_bytes(
        "name,chinese,english\nsample_00000001,x,Caf\xe9\n".encode("latin-1")
    )
    argv = ["build-dataset", "mer-caption-plus", "--root", str(root), "--out", str(tmp_path / "o")]
    err = _cli_error([*argv, "--skip-missing", "--no-progress"], capsys)
    assert "subtitle_chieng.csv: not UTF-8 text (byte 0xe9" in err


def test_a_transcript_without_its_text_column_is_an_error(tmp_path, capsys):
    root = tmp_path / "unibench"
    make_unibench_mock(root, "meld")
    transcript = root / UNIBENCH["meld"].folder / UNIBENCH["meld"].transcript
    transcript.write_text("name,text\ndia1_utt0,Hello there.\n", encoding="utf-8")
    argv = ["build-dataset", "meld", "--root", str(root), "--out", str(tmp_path / "o"), "--skip-missing"]
    err = _cli_error([*argv, "--no-progress"], capsys)
    assert f"{transcript}: no english or sentence column" in err and "found ['name', 'text']" in err
    assert not (tmp_path / "o").exists()


def test_duplicate_rows_never_reach_the_parquet(tmp_path):
    from dataset_scripts.writer import write_configs

    with pytest.raises(DatasetBuildError, match="split 'test': 1 duplicate clip name\\(s\\): a"):
        write_configs(tmp_path, {"x": {"test": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}}, card=None)


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        (b"c_codecs\nencode\n(Vx\nVrot13\ntR.", "_codecs.encode"),  # another codec than numpy's latin1
        (b"cnumpy\nndarray\n(I1000000000000\ntR.", "numpy.ndarray"),  # a 1 TB allocation
        (b"cnumpy\ndtype\n(cnumpy\nndarray\ntR.", "numpy.dtype"),  # a dtype built from an object
        (b"cnumpy._core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I999999999\ntVb\ntR.", "_reconstruct"),
        (b"cnumpy._core.multiarray\nscalar\n(cnumpy\ndtype\n(Vf8\ntRC\x01\x02tR.", "numpy scalar"),
    ],
)
def test_allowed_names_cannot_be_used_as_gadgets(tmp_path, payload, refused, capsys):
    with pytest.raises(pickle.UnpicklingError, match=f"refusing (to call )?{refused}"):
        restricted_loads(payload)
    # In a label file it is one line naming the file (it used to escape as a TypeError/MemoryError traceback).
    import zipfile

    path = tmp_path / "label.npz"
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (), }"
    header += b" " * (118 - len(header)) + b"\n"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "test_corpus.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload
        )
    with pytest.raises(ValueError, match=f"{path}: test_corpus.npy: not a valid label array"):
        load_npz_dict(path)
