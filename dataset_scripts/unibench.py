"""MER-UniBench test sets from the official processed-benchmark layout (one folder per set, e.g.
`mer2023-dataset-process/`), one converter per set, into configs
`mer2023 mer2024 iemocap meld cmumosi cmumosei sims simsv2 ovmerdplus`.

Label files are pickled numpy dicts, read with `safe_pickle.load_npz_dict` (never `allow_pickle=True`).
Test selection follows the official readers: `test1_corpus` for MER2023/MER2024, Session 5 of
`whole_corpus` for IEMOCAP (4-way), `test_corpus` for MELD and the valence sets, `ovlabel.csv` for
OV-MERD+. Subtitles: English everywhere except MER2024 (Chinese); the other language goes to
`subtitle_en`/`subtitle_zh`. Media are referenced in place (absolute paths), never copied."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from .card import CardInfo
from .layout import AUDIO_EXTS, VIDEO_EXTS, MediaDir, face_npy
from .safe_pickle import load_npz_dict
from .schema import BASIC_LABELS, csv_header, make_row, parse_openset, read_csv_columns

__all__ = [
    "OFFICIAL_TEST_SIZES",
    "UNIBENCH",
    "UniBenchSpec",
    "build_unibench",
    "find_set_root",
    "unibench_rows",
]


@dataclass(frozen=True)
class UniBenchSpec:
    config: str
    folder: str  # official processed-folder name under the user's --root
    kind: str  # "basic" | "sentiment" | "ov"
    label_file: str
    corpus_key: str | None
    transcript: str
    language: str  # column fed as `subtitle`: "english" or "chinese"
    video_dir: str
    audio_dir: str
    size: int  # official test size
    source: str


UNIBENCH = {
    s.config: s
    for s in [
        UniBenchSpec("mer2023", "mer2023-dataset-process", "basic", "label-6way.npz", "test1_corpus", "transcription-engchi-polish.csv", "english", "video", "audio", 411, "MER2023"),
        UniBenchSpec("mer2024", "mer2024-dataset-process", "basic", "label-6way.npz", "test1_corpus", "transcription_merge.csv", "chinese", "video", "audio", 1169, "MER2024"),
        UniBenchSpec("iemocap", "iemocap-process", "basic", "label_4way.npz", "whole_corpus", "transcription-engchi-polish.csv", "english", "subvideo-tgt", "subaudio", 1241, "IEMOCAP"),
        UniBenchSpec("meld", "meld-process", "basic", "label.npz", "test_corpus", "transcription-engchi-polish.csv", "english", "subvideo", "subaudio", 2610, "MELD"),
        UniBenchSpec("cmumosi", "cmumosi-process", "sentiment", "label.npz", "test_corpus", "transcription-engchi-polish.csv", "english", "subvideo", "subaudio", 686, "CMU-MOSI"),
        UniBenchSpec("cmumosei", "cmumosei-process", "sentiment", "label.npz", "test_corpus", "transcription-engchi-polish.csv", "english", "subvideo_new", "subaudio", 4659, "CMU-MOSEI"),
        UniBenchSpec("sims", "sims-process", "sentiment", "label.npz", "test_corpus", "transcription-engchi-polish.csv", "english", "video", "audio", 457, "CH-SIMS"),
        UniBenchSpec("simsv2", "simsv2-process", "sentiment", "label.npz", "test_corpus", "transcription-engchi-polish.csv", "english", "video_new", "audio", 1034, "CH-SIMS v2"),
        UniBenchSpec("ovmerdplus", "ovmerdplus-process", "ov", "ovlabel.csv", None, "subtitle_eng.csv", "english", "video", "audio", 532, "OV-MERD+"),
    ]
}  # fmt: skip
OFFICIAL_TEST_SIZES = {c: s.size for c, s in UNIBENCH.items()}

# Integer labels in the official files index these lists (the official readers' order).
INDEX_LABELS = {"iemocap": ("happy", "sad", "neutral", "anger"), "meld": BASIC_LABELS["meld"]}
# Spellings seen in raw label files -> the reference strings of DESIGN.md §5.
ALIASES = {
    "iemocap": {"ang": "anger", "angry": "anger", "hap": "happy", "exc": "happy", "neu": "neutral"},
    "meld": {"angry": "anger", "happy": "joy", "sad": "sadness"},
}


def find_set_root(root: str | Path, spec: UniBenchSpec, allow_self: bool = False) -> Path | None:
    """`root/<official folder>` or `root/<config>`; with `allow_self` (one set requested) also `root` itself.
    Several sets share a label-file name (label.npz), so `root` itself is ambiguous for a multi-set build."""
    root = Path(root)
    for candidate in (root / spec.folder, root / spec.config, *([root] if allow_self else [])):
        if (candidate / spec.label_file).is_file():
            return candidate
    return None


def _label(spec: UniBenchSpec, emo) -> str:
    if isinstance(emo, str):
        emo = emo.strip().lower()
        emo = ALIASES.get(spec.config, {}).get(emo, emo)
    else:  # numpy or python integer index
        emo = INDEX_LABELS[spec.config][int(emo)]
    if emo not in BASIC_LABELS[spec.config]:
        raise ValueError(
            f"{spec.config}: unexpected label {emo!r}; expected one of {BASIC_LABELS[spec.config]}"
        )
    return emo


def _valence(value) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def _test_entries(spec: UniBenchSpec, folder: Path) -> list[tuple[str, dict]]:
    if spec.kind == "ov":
        table = read_csv_columns(folder / spec.label_file, "name", ["openset"])
        return [(name, {"openset": cols["openset"]}) for name, cols in table.items()]
    arrays = load_npz_dict(folder / spec.label_file)
    if spec.corpus_key not in arrays:
        raise KeyError(f"{folder / spec.label_file}: no {spec.corpus_key!r} (has {sorted(arrays)})")
    corpus = arrays[spec.corpus_key]
    entries = [(str(name), dict(value)) for name, value in corpus.items()]
    if spec.config == "iemocap":  # the official test set is Session 5: names like Ses05F_impro01_F000
        entries = [(n, v) for n, v in entries if len(n) > 4 and n[4] == "5"]
    return entries


def _subtitles(spec: UniBenchSpec, folder: Path) -> dict[str, dict[str, str | None]]:
    path = folder / spec.transcript
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    header = csv_header(path)
    # OV-MERD+'s subtitle_eng.csv names its English column `sentence` in the official reader.
    columns = [c for c in ("english", "chinese", "sentence") if c in header]
    usable = {spec.language} | ({"sentence"} if spec.language == "english" else set())
    if not usable & set(columns):
        # Without it every subtitle would be empty, and the build would still "succeed".
        raise KeyError(
            f"{path}: no {' or '.join(sorted(usable))} column (the {spec.config} subtitles); found {header}"
        )
    table = read_csv_columns(path, "name", columns)
    for cols in table.values():
        if "sentence" in cols and not cols.get("english"):
            cols["english"] = cols["sentence"]
    return table


def unibench_rows(root: str | Path, config: str, allow_self: bool = True) -> list[dict]:
    spec = UNIBENCH[config]
    folder = find_set_root(root, spec, allow_self)
    if folder is None:
        raise FileNotFoundError(
            f"{config}: {spec.label_file} not found under {root} (expected {Path(root) / spec.folder})"
        )
    folder = folder.resolve()
    entries = _test_entries(spec, folder)
    if len(entries) != spec.size:
        warnings.warn(
            f"{config}: {len(entries)} test samples in {folder}, the official test set has {spec.size}",
            stacklevel=2,
        )
    subtitles = _subtitles(spec, folder)
    videos = MediaDir(folder / spec.video_dir, VIDEO_EXTS)
    audios = MediaDir(folder / spec.audio_dir, AUDIO_EXTS)
    if not videos.exists:
        raise FileNotFoundError(f"{config}: video folder {folder / spec.video_dir} not found")
    other = "chinese" if spec.language == "english" else "english"
    rows = []
    for name, value in entries:
        sub = subtitles.get(name, {})
        label, valence, emotions = "", None, []
        if spec.kind == "basic":
            label, valence = _label(spec, value["emo"]), _valence(value.get("val"))
        elif spec.kind == "sentiment":
            valence = _valence(value.get("val"))
        else:
            emotions = parse_openset(value["openset"])
        langs = {spec.language: sub.get(spec.language), other: sub.get(other)}
        rows.append(
            make_row(
                name,
                source=spec.source,
                split="test",
                video=videos.lookup(name),
                audio=audios.lookup(name),
                face=face_npy(folder, name),
                subtitle=langs[spec.language] or "",
                subtitle_en=langs["english"],
                subtitle_zh=langs["chinese"],
                emotions=emotions,
                label=label,
                valence=valence,
            )
        )
    return rows


def unibench_card(configs: list[str]) -> CardInfo:
    notes = {
        c: f"{UNIBENCH[c].source} ({UNIBENCH[c].kind}; official test size {UNIBENCH[c].size})"
        for c in configs
    }
    return CardInfo(
        title="MER-UniBench test sets (local conversion)",
        license="other",
        summary=(
            "The nine MER-UniBench test sets converted from a local copy of the official processed benchmark. "
            "Basic-emotion sets fill `label` (their own label strings), sentiment sets fill `valence`, OV-MERD+ "
            "fills `emotions`. Score with the `mer_unibench` metric."
        ),
        config_notes=notes,
        license_note=(
            "Each corpus keeps its own license (MER2023/2024, IEMOCAP, MELD, CMU-MOSI, CMU-MOSEI, CH-SIMS, "
            "CH-SIMS v2, OV-MERD+). Do not re-host the media; push only to private repos you are entitled to."
        ),
    )


def build_unibench(
    root: str | Path,
    out: str | Path,
    configs: list[str] | None = None,
    embed_media: bool = False,
    skip_missing: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    require_all: bool = False,
):
    """Convert the sets found under `root` (all nine by default; with `require_all` every requested set
    must be present, otherwise absent ones are skipped with a warning)."""
    from .writer import DatasetBuildError, write_dataset

    configs = configs or list(UNIBENCH)
    allow_self = len(configs) == 1
    out_configs = {}
    for config in configs:
        if config not in UNIBENCH:
            raise ValueError(f"unknown UniBench config {config!r}; choose from {list(UNIBENCH)}")
        if find_set_root(root, UNIBENCH[config], allow_self) is None and not require_all:
            warnings.warn(f"{config}: not found under {root}, skipped", stacklevel=2)
            continue
        out_configs[config] = {"test": unibench_rows(root, config, allow_self)}
    if not out_configs:
        raise DatasetBuildError(f"no MER-UniBench test set found under {root}")
    return write_dataset(
        out,
        out_configs,
        unibench_card(list(out_configs)),
        embed_media=embed_media,
        skip_missing=skip_missing,
        overwrite=overwrite,
        progress=progress,
    )
