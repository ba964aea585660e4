"""Official key names -> ours: the table `modeling_affectgpt.OFFICIAL_KEY_MAP` (the one home of the renames),
the LAVIS-to-`Blip2QFormerModel` renames of the Q-Former internals, the LoRA key pattern, and the keys skipped
on purpose."""

from __future__ import annotations

import re

__all__ = [
    "LLM_OFFICIAL_PREFIX",
    "LORA_KEY",
    "SKIPPED",
    "fit_position_rows",
    "official_to_ours",
    "reverse_key_map",
]

LLM_OFFICIAL_PREFIX = "llama_model.base_model.model."
LORA_KEY = re.compile(
    r"^llama_model\.base_model\.model\.(?P<base>.+)\.lora_(?P<ab>[AB])\.(?P<adapter>[^.]+)\.weight$"
)
# LAVIS BertModel (official Q-Former) -> transformers Blip2QFormerModel (ours), below the table's Q-Former prefix.
# The official code deletes the word/position embeddings and the text-only FFN, so only query-path names remain.
_QFORMER_INTERNALS = (
    (re.compile(r"^bert\.embeddings\.LayerNorm\."), "layernorm."),
    (
        re.compile(r"^bert\.encoder\.layer\.(\d+)\.(attention|crossattention)\.self\."),
        r"encoder.layer.\1.\2.attention.",
    ),
    (
        re.compile(r"^bert\.encoder\.layer\.(\d+)\.(attention\.output|crossattention\.output)\."),
        r"encoder.layer.\1.\2.",
    ),
    (
        re.compile(r"^bert\.encoder\.layer\.(\d+)\.(intermediate_query|output_query)\."),
        r"encoder.layer.\1.\2.",
    ),
)
# Keys the official file holds but our model has no use for; each is skipped by name and reported, never silently.
SKIPPED = (
    (re.compile(r"^image_llama_proj\.(weight|bias)$"), "image branch (<ImageHere>), unused for video"),
    (
        re.compile(r"^(video|audio|multi)_Qformer\.bert\.embeddings\.position_ids$"),
        "LAVIS BERT position-id buffer (constant arange; the Q-Former reads query embeddings only)",
    ),
)


def reverse_key_map() -> list[tuple[str, str]]:
    """(official prefix, our prefix) pairs, longest official prefix first."""
    from modeling_affectgpt import OFFICIAL_KEY_MAP

    return sorted(((off, ours) for ours, off in OFFICIAL_KEY_MAP.items()), key=lambda kv: -len(kv[0]))


def official_to_ours(official_key: str, reverse_map: list[tuple[str, str]]) -> str | None:
    """Rename through the table (longest official prefix wins), then the Q-Former internals."""
    for official_prefix, our_prefix in reverse_map:
        if official_key.startswith(official_prefix):
            rest = official_key[len(official_prefix) :]
            if our_prefix.endswith("qformer.qformer."):
                for pattern, replacement in _QFORMER_INTERNALS:
                    if pattern.match(rest):
                        return our_prefix + pattern.sub(replacement, rest, count=1)
                return None
            return our_prefix + rest
    return None


def _steps_for(our_key: str, config) -> int | None:
    """How many position rows a Q-Former's position embedding actually reads (frames, clips, or both)."""
    if our_key.startswith("model.video_qformer."):
        return config.num_frames
    if our_key.startswith("model.audio_qformer."):
        return config.num_audio_clips
    if our_key.startswith("model.multi_qformer."):
        return config.num_frames + config.num_audio_clips
    return None


def fit_position_rows(tensor, want_shape, our_key, config):
    """The official per-modality position tables have 32 (video) / 8 (audio) rows, ours `qformer_max_positions`.
    Only the first `steps` rows are ever read, so a table with at least that many rows converts exactly: copy the
    shared rows, zero the rest. Returns None when that is not possible."""
    import torch

    steps = _steps_for(our_key, config)
    if not our_key.endswith("position_embedding.weight") or steps is None or tensor.dim() != 2:
        return None
    if tensor.shape[1] != want_shape[1] or min(tensor.shape[0], want_shape[0]) < steps:
        return None
    fitted = torch.zeros(want_shape, dtype=tensor.dtype)
    rows = min(tensor.shape[0], want_shape[0])
    fitted[:rows] = tensor[:rows]
    return fitted
