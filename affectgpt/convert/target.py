"""The model a checkpoint converts into: its base-model sources and our AffectGPTConfig (the preset, the base
models' own configs, then what the checkpoint's keys determine)."""

from __future__ import annotations

from affectgpt.convert.architecture import infer_architecture
from affectgpt.convert.checkpoint import OfficialCheckpoint
from affectgpt.convert.errors import ConversionError, guarded_load

__all__ = ["OFFICIAL_SOURCES", "build_target_config", "resolve_sources"]

# Base weights of the released model (DESIGN.md §3); any id or local folder can replace them.
OFFICIAL_SOURCES = {
    "vision": "openai/clip-vit-large-patch14",
    "audio": "TencentGameMate/chinese-hubert-large",
    "llm": "Qwen/Qwen2.5-7B-Instruct",
}


def resolve_sources(
    preset: str, vision: str | None, audio: str | None, llm: str | None
) -> dict[str, str | None]:
    """The official preset defaults to the released base models; `tiny` has none (random, seeded towers)."""
    given = {"vision": vision, "audio": audio, "llm": llm}
    if preset == "official":
        return {kind: given[kind] or OFFICIAL_SOURCES[kind] for kind in given}
    return given


def build_target_config(
    ckpt: OfficialCheckpoint,
    preset: str,
    sources: dict[str, str | None],
    visual_input: str | None = None,
    fusion: str | None = None,
):
    """Our AffectGPTConfig: the preset, the base models' own configs, then what the checkpoint determines."""
    from affectgpt.assembly import source_configs
    from affectgpt.presets import build_config

    arch, notes = infer_architecture(ckpt)
    if visual_input is not None:
        if arch.get("visual_input", visual_input) != visual_input:
            notes.append(f"--visual-input {visual_input} overrides the checkpoint's {arch['visual_input']!r}")
        arch["visual_input"] = visual_input
    if fusion is not None:
        # A wrong choice shows up as missing/unknown keys in plan_conversion, together with every other problem.
        arch["multi_fusion"] = fusion
    subconfigs = source_configs(sources, guard=guarded_load)
    try:
        config = build_config(preset, **subconfigs, **arch)
    except ValueError as err:
        raise ConversionError(f"invalid configuration for preset {preset!r}: {err}") from None
    for kind, pooling in (
        ("video", config.video_fusion),
        ("audio", config.audio_fusion),
        ("multi", config.multi_fusion),
    ):
        tokens = getattr(config, f"num_{kind}_query_tokens")
        if pooling != "qformer" and tokens != 1:
            # The official code repeats the single pooled vector K times; our model emits it once.
            raise ConversionError(
                f"num_{kind}_query_token={tokens} with {pooling} pooling is not supported (the released models use 1)"
            )
    highest = max(
        config.image_token_id,
        config.frame_token_id,
        config.face_token_id,
        config.audio_token_id,
        config.multi_token_id,
    )
    if config.text_config.vocab_size <= highest:
        raise ConversionError(
            f"the LLM's vocabulary ({config.text_config.vocab_size}) does not cover the placeholder ids (up to "
            f"{highest}); the official model uses Qwen2.5 (vocab 152,064)"
        )
    return config, notes
