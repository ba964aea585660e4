"""Which AffectGPT variant a checkpoint is: pooling, pre-fusion, query tokens and visual input, read from its
keys and shapes first and from its saved runner config second."""

from __future__ import annotations

import re
from typing import Any

from affectgpt.convert.checkpoint import OfficialCheckpoint

__all__ = ["infer_architecture"]


def _has_prefix(state: dict, *prefixes: str) -> bool:
    return any(key.startswith(prefixes) for key in state)


def _pooling_kind(state: dict, attention: str, qformer: str) -> str:
    if f"{attention}.weight" in state:
        return "attention"
    return "qformer" if _has_prefix(state, qformer) else "mean"


def infer_architecture(ckpt: OfficialCheckpoint) -> tuple[dict, list[str]]:
    """AffectGPTConfig fields the checkpoint determines (from its keys and shapes, then its saved config)."""
    state, model_cfg, notes = ckpt.state_dict, ckpt.model_config, []
    arch: dict[str, Any] = {
        "video_fusion": _pooling_kind(state, "video_attention_mlp", "video_Qformer."),
        "audio_fusion": _pooling_kind(state, "audio_attention_mlp", "audio_Qformer."),
    }
    if "attention_mlp.weight" in state:
        arch["multi_fusion"] = "attention"
    elif _has_prefix(state, "multi_Qformer.", "multi_query_tokens"):
        arch["multi_fusion"] = "qformer"
    else:
        arch["multi_fusion"] = "none"
    if "multi_video_embs.weight" in state:
        arch["fusion_hidden_size"] = int(state["multi_video_embs.weight"].shape[0])
    for kind in ("video", "audio", "multi"):
        tokens = state.get(f"{kind}_query_tokens")
        if tokens is not None:
            arch[f"num_{kind}_query_tokens"] = int(tokens.shape[1])
            arch["qformer_hidden_size"] = int(tokens.shape[-1])
            layers = {
                int(m.group(1))
                for k in state
                if (m := re.match(rf"{kind}_Qformer\.bert\.encoder\.layer\.(\d+)\.", k))
            }
            if layers:
                arch["qformer_num_layers"] = max(layers) + 1
        elif f"num_{kind}_query_token" in model_cfg:
            # Attention/mean pooling yields one vector; the official code repeats it K times.
            arch[f"num_{kind}_query_tokens"] = int(model_cfg[f"num_{kind}_query_token"])
    for kind in ("video", "audio", "multi"):
        declared = model_cfg.get(f"{kind}_fusion_type")
        if declared and declared != arch[f"{kind}_fusion" if kind != "multi" else "multi_fusion"]:
            notes.append(
                f"ckpt config says {kind}_fusion_type={declared!r}, the weights say otherwise; using the weights"
            )
    face_or_frame = [
        d.get("face_or_frame")
        for d in ((ckpt.config or {}).get("datasets") or {}).values()
        if isinstance(d, dict) and isinstance(d.get("face_or_frame"), str)
    ]
    if face_or_frame:
        # e.g. "multiface_audio_face_text" / "multiframe_audio_frame_text"
        arch["visual_input"] = "face" if "face" in face_or_frame[0] else "frame"
        notes.append(
            f"visual input {arch['visual_input']!r} from ckpt config face_or_frame={face_or_frame[0]!r}"
        )
    return arch, notes
