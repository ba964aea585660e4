"""The dataset card (README.md) written beside the parquet shards, through huggingface_hub's `DatasetCard` /
`DatasetCardData`: YAML `configs:` so that `load_dataset(OUT, config)` finds every split offline, plus the schema
and the `data_root` convention."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from huggingface_hub import DatasetCard, DatasetCardData

__all__ = [
    "FINGERPRINT_PREFIX",
    "CardInfo",
    "card_configs",
    "dataset_card",
    "is_fingerprinted",
    "render_card",
    "split_patterns",
]

FINGERPRINT_PREFIX = "content sha256 "

SCHEMA_DOC = """\
| column | type | meaning |
|---|---|---|
| `name` | string | clip id in the source corpus |
| `video` | `Video(decode=False)` | `{"path", "bytes"}`; path absolute or relative to `data_root` |
| `audio` | `Audio(decode=False)` | optional separate audio track (wav), same path rule; null when absent |
| `face` | string | optional path to the OpenFace face crops `.npy` (T, H, W, 3); never embedded |
| `subtitle` | string | subtitle in the language the official code feeds (English; Chinese for MER2024) |
| `subtitle_en` / `subtitle_zh` | string | both languages where the source has them |
| `description` | string | free-text emotion description (may be empty) |
| `emotions` | list[string] | open-vocabulary emotion labels (may be empty: neutral) |
| `label` | string | single basic emotion, or empty |
| `valence` | float | sentiment/valence score, or null |
| `source` | string | source corpus |
| `split` | string | split name |
"""


@dataclass
class CardInfo:
    title: str
    license: str  # Hub license id, e.g. "cc-by-nc-4.0", "other"
    summary: str
    config_notes: dict[str, str] = field(default_factory=dict)
    license_note: str = ""
    tags: list[str] = field(default_factory=lambda: ["emotion-recognition", "multimodal", "affectgpt"])


def dataset_card(
    card: CardInfo,
    counts: dict[str, dict[str, int]],
    embedded: bool = False,
    fingerprints: dict[str, str] | None = None,
) -> DatasetCard:
    """The card as a `huggingface_hub.DatasetCard`: `DatasetCardData` metadata (license, task, tags, `configs`) and
    the Markdown body. `fingerprints` ({config: content hash}) go into each config's `description`: datasets keys
    its local cache on the folder's name and on the card's configs (hashed with every BuilderConfig field,
    `description` included), never on the parquet bytes, so without a content hash there a rebuilt folder or
    another folder of the same name would load stale rows."""
    fingerprints = fingerprints or {}
    data = DatasetCardData(
        license=card.license,
        pretty_name=card.title,
        tags=card.tags,
        task_categories=["video-text-to-text"],
        configs=[
            {
                "config_name": config,
                "data_files": [{"split": split, "path": f"{config}/{split}-*.parquet"} for split in splits],
                **(
                    {"description": f"{FINGERPRINT_PREFIX}{fingerprints[config]}"}
                    if config in fingerprints
                    else {}
                ),
            }
            for config, splits in counts.items()
        ],
    )
    rows = "\n".join(
        f"| `{config}` | {', '.join(f'{s}: {n}' for s, n in splits.items())} | {card.config_notes.get(config, '')} |"
        for config, splits in counts.items()
    )
    media = (
        "Media bytes are embedded in the parquet files (`bytes` set; `path` keeps only the file name)."
        if embedded
        else "Media are referenced by path, not embedded. **data_root**: a relative `path` is relative to the "
        "folder holding this README (the dataset directory); absolute paths point into the user's own copy of "
        "the source corpus. Resolve with `os.path.join(data_root, path)` before decoding."
    )
    body = f"""# {card.title}

{card.summary}

Load offline with `datasets.load_dataset("<this folder>", "<config>")`.

| config | rows | notes |
|---|---|---|
{rows}

## Schema

{SCHEMA_DOC}
## Media and data_root

{media} Media columns are declared `decode=False`: the AffectGPT processor decodes them with PyAV.

## License

{card.license_note or card.license}

Written by `affectgpt build-dataset`.
"""
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def render_card(
    card: CardInfo,
    counts: dict[str, dict[str, int]],
    embedded: bool = False,
    fingerprints: dict[str, str] | None = None,
) -> str:
    """The README text of `dataset_card`."""
    return str(dataset_card(card, counts, embedded=embedded, fingerprints=fingerprints))


def card_configs(card_text: str) -> list[dict]:
    """The YAML `configs:` entries of a card's front matter ([] when it has none or it does not parse)."""
    if not card_text.lstrip().startswith("---"):
        return []  # no front matter (DatasetCard would log a warning for it)
    try:
        configs = DatasetCard(card_text).data.get("configs")
    except (ValueError, yaml.YAMLError):  # front matter that is not a YAML mapping
        return []
    return [c for c in configs if isinstance(c, dict)] if isinstance(configs, list) else []


def is_fingerprinted(card_text: str) -> bool:
    """Whether every config of a card carries a content fingerprint (a card written by `dataset_card`)."""
    configs = card_configs(card_text)
    return bool(configs) and all(
        str(c.get("description", "")).startswith(FINGERPRINT_PREFIX) for c in configs
    )


def split_patterns(card_text: str, config: str, split: str) -> list[str] | None:
    """The data_files patterns of one split of one config, or None when the card does not list them."""
    for entry in card_configs(card_text):
        if entry.get("config_name") != config:
            continue
        files = entry.get("data_files")
        if isinstance(files, list):
            found = [
                f["path"] for f in files if isinstance(f, dict) and f.get("split") == split and f.get("path")
            ]
            patterns = [p for item in found for p in ([item] if isinstance(item, str) else item)]
            return patterns or None
    return None
