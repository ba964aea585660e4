"""The writer: atomic output, missing-media policy, embedded media, card, push_to_hub wiring (no network)."""

from __future__ import annotations

import os

import pytest

from dataset_scripts.card import CardInfo
from dataset_scripts.media_writer import write_mp4, write_wav
from dataset_scripts.schema import make_row
from dataset_scripts.writer import DatasetBuildError, push_to_hub, staging, write_dataset

from .conftest import make_frames, make_tone

CARD = CardInfo(title="t", license="other", summary="s")


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("writer-media")
    video = write_mp4(folder / "a.mp4", make_frames(8, 32, 32), fps=8, audio=make_tone(1.0))
    audio = write_wav(folder / "a.wav", make_tone(1.0))
    return video, audio


def _rows(video, audio, missing: int = 0):
    rows = [
        make_row(f"clip{i}", source="t", split="test", video=video, audio=audio, emotions=["happy"])
        for i in range(3)
    ]
    rows += [
        make_row(f"gone{i}", source="t", split="test", video=f"/nonexistent/gone{i}.mp4")
        for i in range(missing)
    ]
    return rows


def _leftovers(parent):
    return [p for p in os.listdir(parent) if p.startswith(".")]


def test_missing_media_fails_without_output(media, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(DatasetBuildError, match=r"7 row\(s\).*gone0.*\(2 more\)"):
        write_dataset(out, {"c": {"test": _rows(*media, missing=7)}}, CARD, progress=False)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_exception_inside_staging_leaves_old_output(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError), staging(out, overwrite=True) as tmp:
        (tmp / "half.parquet").write_text("partial")
        raise RuntimeError("crash mid-build")
    assert (out / "keep.txt").read_text() == "old" and _leftovers(tmp_path) == []


def test_skip_missing_and_overwrite(media, tmp_path):
    from datasets import load_dataset

    out = tmp_path / "out"
    write_dataset(out, {"c": {"test": _rows(*media)}}, CARD, progress=False)
    with pytest.warns(UserWarning, match="skipping 2 row"):
        report = write_dataset(
            out,
            {"c": {"test": _rows(*media, missing=2)}},
            CARD,
            skip_missing=True,
            overwrite=True,
            progress=False,
        )
    assert report.counts == {"c": {"test": 3}} and len(report.skipped) == 2
    assert len(load_dataset(str(out), "c")["test"]) == 3 and _leftovers(tmp_path) == []
    card = (out / "README.md").read_text()
    assert "config_name: c" in card and "data_root" in card and "license: other" in card


def test_card_loads_with_huggingface_hub_and_carries_the_metadata(media, tmp_path):
    """The README is a `DatasetCard`: YAML metadata the Hub reads (license, task, tags, one `configs` entry per
    config with its splits' data_files and content hash) and the Markdown body."""
    from huggingface_hub import DatasetCard

    from dataset_scripts.writer import content_fingerprint

    out = tmp_path / "out"
    video, audio = media
    rows = {
        "c": {"train": _rows(video, audio), "test": _rows(video, audio)},
        "d": {"test": _rows(video, audio)},
    }
    write_dataset(
        out, rows, CardInfo(title="My set", license="cc0-1.0", summary="s", tags=["x"]), progress=False
    )
    card = DatasetCard.load(out / "README.md")
    data = card.data
    assert (data.license, data.pretty_name, data.task_categories, data.tags) == (
        "cc0-1.0",
        "My set",
        ["video-text-to-text"],
        ["x"],
    )
    assert data.configs == [
        {
            "config_name": name,
            "data_files": [{"split": split, "path": f"{name}/{split}-*.parquet"} for split in splits],
            "description": f"content sha256 {content_fingerprint(out / name)}",
        }
        for name, splits in (("c", ["train", "test"]), ("d", ["test"]))
    ]
    assert card.text.lstrip().startswith("# My set") and "## Schema" in card.text and "data_root" in card.text


def test_relative_paths_resolve_against_the_dataset_dir(media, tmp_path):
    out = tmp_path / "out"
    with staging(out) as tmp:
        (tmp / "media").mkdir()
        (tmp / "media" / "a.mp4").write_bytes(media[0].read_bytes())
        from dataset_scripts.writer import write_configs

        write_configs(
            tmp,
            {"c": {"train": [make_row("a", source="t", split="train", video="media/a.mp4")]}},
            CARD,
            progress=False,
        )
    assert (out / "media" / "a.mp4").is_file() and (out / "c" / "train-00000-of-00001.parquet").is_file()


def test_embed_media_and_push_wiring(media, tmp_path, monkeypatch):
    from datasets import DatasetDict, load_dataset

    plain, embedded = tmp_path / "plain", tmp_path / "embedded"
    write_dataset(plain, {"c": {"test": _rows(*media)}}, CARD, progress=False)
    write_dataset(
        embedded,
        {"c": {"test": _rows(*media)}, "d": {"train": _rows(*media)}},
        CARD,
        embed_media=True,
        progress=False,
    )
    row = load_dataset(str(embedded), "c")["test"][0]
    assert row["video"] == {"path": "a.mp4", "bytes": media[0].read_bytes()}
    assert row["audio"]["bytes"] == media[1].read_bytes()

    from huggingface_hub import DatasetCard, HfApi

    calls = []
    monkeypatch.setattr(
        HfApi,
        "create_repo",
        lambda self, repo, **kw: calls.append(("repo", repo, kw["repo_type"], kw["private"])),
    )
    monkeypatch.setattr(
        DatasetCard, "push_to_hub", lambda self, repo, **kw: calls.append(("card", repo, str(self)))
    )
    monkeypatch.setattr(
        DatasetDict,
        "push_to_hub",
        lambda self, repo, **kw: calls.append(("data", repo, kw["config_name"], kw["private"])),
    )
    with pytest.raises(DatasetBuildError, match="--embed-media"):
        push_to_hub(plain, "user/repo")
    assert calls == []  # checked before anything is uploaded
    push_to_hub(embedded, "user/repo")
    # our card first (datasets then merges its metadata into it and keeps the body), then each config
    card = (embedded / "README.md").read_text(encoding="utf-8")
    assert calls[:2] == [("repo", "user/repo", "dataset", True), ("card", "user/repo", card)]
    assert calls[2:] == [("data", "user/repo", "c", True), ("data", "user/repo", "d", True)]


def test_plain_load_dataset_returns_the_current_rows(media, tmp_path):
    """The documented `load_dataset(DIR, CONFIG)`, no download_mode: the rows of this build, not those of an
    earlier build in place nor of another folder of the same name (datasets keys its cache on name and card)."""
    from datasets import load_dataset

    def build(out, names, overwrite=False):
        rows = [make_row(n, source="t", split="test", video=media[0], emotions=["happy"]) for n in names]
        write_dataset(out, {"c": {"test": rows}}, CARD, overwrite=overwrite, progress=False)

    def names(out):
        return load_dataset(str(out), "c", split="test")["name"]

    first, second = tmp_path / "a" / "ds", tmp_path / "b" / "ds"
    build(first, ["x0", "x1"])
    assert names(first) == ["x0", "x1"]
    build(second, ["y0", "y1", "y2"])  # same folder name, other rows
    assert names(second) == ["y0", "y1", "y2"]
    build(first, ["z0"], overwrite=True)  # rebuilt in place
    assert names(first) == ["z0"]
    card = (first / "README.md").read_text()
    assert "content sha256 " in card


def test_only_cards_without_fingerprints_need_a_forced_reread(media, tmp_path):
    from dataset_scripts.writer import local_load_kwargs

    out = tmp_path / "ds"
    write_dataset(out, {"c": {"test": _rows(*media)}}, CARD, progress=False)
    assert local_load_kwargs(out) == {}
    (out / "README.md").write_text("---\nconfigs:\n- config_name: c\n  data_files: c/*.parquet\n---\n")
    assert local_load_kwargs(out)["download_mode"] == "force_redownload"
    assert local_load_kwargs(tmp_path / "missing")["download_mode"] == "force_redownload"
