"""Model presets (`tiny`, `official`), the model builder and the LoRA recipe.

`tiny` is a randomly initialised few-MB model with the real Qwen2.5 vocabulary size (151,670 = 151,665 + the
five placeholders), for smoke tests. `official` is the released architecture (CLIP ViT-L/14, chinese-hubert-large,
Qwen2.5-7B-Instruct); with `vision=`/`audio=`/`llm=` (Hub ids or local folders) the towers and the LLM are loaded
pretrained, which is the starting point of training.
"""

from __future__ import annotations

import copy
from typing import Any

from modeling_affectgpt import FUSION_MODULES

__all__ = [
    "BOS_TOKEN_ID",
    "EOS_TOKEN_ID",
    "HASHES_TOKEN_ID",
    "LORA_TARGET_MODULES",
    "PRESETS",
    "TRAINABLE_MODULES",
    "VOCAB_SIZE",
    "build_config",
    "build_model",
    "generation_defaults",
    "lora_config",
    "set_generation_defaults",
]

from processing.tokenizer_qwen import BOS_TOKEN_ID, EOS_TOKEN_ID, NUM_BPE_TOKENS, PLACEHOLDER_TOKENS

# Token ids fixed by docs/ARCHITECTURE.md (real Qwen2.5 tokenizer + five placeholder tokens, official order).
VOCAB_SIZE = 151670
HASHES_TOKEN_ID = 14374  # "###" in the Qwen2.5 BPE (one token): the official turn separator, also a stop id
_FIRST_PLACEHOLDER_ID = NUM_BPE_TOKENS + 22  # after Qwen2.5's 22 special tokens
TOKEN_IDS = {
    f"{token[1:-5].lower()}_token_id": _FIRST_PLACEHOLDER_ID + i for i, token in enumerate(PLACEHOLDER_TOKENS)
}

_TINY: dict[str, Any] = {
    "vision_config": {
        "model_type": "clip_vision_model",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "patch_size": 32,
        "image_size": 224,
        "projection_dim": 32,
    },
    "audio_config": {
        "model_type": "hubert",
        "hidden_size": 32,
        "num_hidden_layers": 4,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "conv_dim": (32, 32, 32, 32, 32, 32, 32),
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 2,
        "feat_extract_norm": "layer",
        "do_stable_layer_norm": True,
        "conv_bias": True,
    },
    "text_config": {
        "model_type": "qwen2",
        "vocab_size": VOCAB_SIZE,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": True,
        "bos_token_id": BOS_TOKEN_ID,
        "eos_token_id": EOS_TOKEN_ID,
        "pad_token_id": EOS_TOKEN_ID,
    },
    "fusion_hidden_size": 64,
    "qformer_hidden_size": 32,
    "qformer_num_heads": 2,
}

# The official sub-configs are AffectGPTConfig's defaults; only the pad id is set (pad = eos = <|im_end|>).
_OFFICIAL: dict[str, Any] = {}

PRESETS: dict[str, dict[str, Any]] = {"tiny": _TINY, "official": _OFFICIAL}

# LoRA on the language model's attention and MLP linears only. PEFT matches `target_modules` by name suffix,
# and CLIP/HuBERT have q_proj/k_proj/v_proj too, so a full-name regex anchored to the LM's layers is used.
# The optional `base_model.model.` prefix covers names seen from inside a PeftModel.
LORA_TARGET_MODULES = (
    r"(?:.*\.)?model\.language_model\.layers\.\d+\.(?:self_attn\.(?:q_proj|k_proj|v_proj|o_proj)"
    r"|mlp\.(?:gate_proj|up_proj|down_proj))"
)
# Pooling, projector and pre-fusion modules (modeling_affectgpt.FUSION_MODULES): trained in full next to the LoRA.
# PEFT matches modules_to_save by plain suffix, so the "model." prefix keeps "attention_mlp" from also naming
# video_attention_mlp.
TRAINABLE_MODULES = tuple(f"model.{name}" for name in FUSION_MODULES)


def build_config(preset: str = "tiny", **overrides: Any):
    """AffectGPTConfig for a preset; keyword overrides replace top-level fields (sub-config dicts are merged)."""
    from modeling_affectgpt import AffectGPTConfig

    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    kwargs = copy.deepcopy(PRESETS[preset])
    for key, value in overrides.items():
        if key.endswith("_config") and isinstance(value, dict) and isinstance(kwargs.get(key), dict):
            kwargs[key] = {**kwargs[key], **value}
        else:
            kwargs[key] = value
    if preset == "official":
        defaults = AffectGPTConfig.sub_configs_defaults["text_config"].init_kwargs
        text = kwargs.get("text_config")
        if text is None or isinstance(text, dict):
            kwargs["text_config"] = {
                "model_type": "qwen2",
                **defaults,
                "pad_token_id": EOS_TOKEN_ID,
                **(text or {}),
            }
    return AffectGPTConfig(**{**TOKEN_IDS, **kwargs})


def generation_defaults(tokenizer=None, config=None):
    """Greedy decoding with the official stop and pad settings: the single-token official stop words
    (`<|im_end|>` 151645 and "###" 14374) are the eos ids, pad = `<|im_end|>`, no bos.

    The official two-token stop words ("##" "#", "#" "##") cannot be eos ids; `stop_strings` could hold them
    but then every `generate` call needs `tokenizer=`, so the inference pipeline adds them as a stopping
    criterion (`processing.prompts.stop_words_ids`). Ids come from `tokenizer` when given, else the Qwen2.5 ids.
    Updates `config` (a GenerationConfig) in place when given, else returns a new one.
    """
    from transformers import GenerationConfig

    from processing.prompts import stop_words_ids

    config = config if config is not None else GenerationConfig()
    if tokenizer is None:
        eos_ids, pad_id = [EOS_TOKEN_ID, HASHES_TOKEN_ID], EOS_TOKEN_ID
    else:
        eos_ids, pad_id = [w[0] for w in stop_words_ids(tokenizer) if len(w) == 1], tokenizer.pad_token_id
    config.eos_token_id = eos_ids
    config.pad_token_id = pad_id
    config.bos_token_id = None  # inference prepends no bos
    config.do_sample = False
    return config


def set_generation_defaults(model, tokenizer=None) -> None:
    """Apply `generation_defaults` to `model.generation_config`."""
    generation_defaults(tokenizer, model.generation_config)


# config.json names the processor too, so every Auto class resolves from the model folder's config alone.
PROCESSOR_AUTO_MAP = {"AutoProcessor": "processing_affectgpt.AffectGPTProcessor"}


def add_auto_map(config) -> None:
    """Every Auto entry (model classes + processor) into `config.auto_map`; save_pretrained writes only its own."""
    from modeling_affectgpt import AUTO_MAP

    config.auto_map = {**(getattr(config, "auto_map", None) or {}), **AUTO_MAP, **PROCESSOR_AUTO_MAP}


def processor_for(config, tokenizer=None):
    """The processor that matches a model config: visual input, frame/clip counts, query tokens, fusion."""
    from processing import build_processor

    return build_processor(
        tokenizer=tokenizer,
        visual_input=config.visual_input,
        num_frames=config.num_frames,
        num_audio_clips=config.num_audio_clips,
        num_video_query_tokens=config.num_video_query_tokens,
        num_audio_query_tokens=config.num_audio_query_tokens,
        num_multi_query_tokens=config.num_multi_query_tokens,
        multi_fusion=config.multi_fusion != "none",
    )


def build_model(
    preset: str = "tiny",
    *,
    vision: str | None = None,
    audio: str | None = None,
    llm: str | None = None,
    seed: int | None = 0,
    dtype=None,
    tokenizer=None,
    **overrides: Any,
):
    """Build an `AffectGPTForConditionalGeneration`.

    `vision`/`audio`/`llm`: Hub ids or local folders of pretrained CLIP, HuBERT-family and causal-LM checkpoints
    (official preset only); their configs replace the preset's sub-configs and their weights are put in as loaded
    (`affectgpt.assembly`: built on the meta device, so the LLM is held once). Without them the whole model is
    randomly initialised from `seed`.
    """
    import torch

    from affectgpt.assembly import assemble_model, default_dtype, source_configs
    from modeling_affectgpt import AffectGPTForConditionalGeneration

    sources = {"vision": vision, "audio": audio, "llm": llm}
    if preset != "official" and any(sources.values()):
        raise ValueError("--vision/--audio/--llm load pretrained weights and need --preset official")
    config = build_config(preset, **{**overrides, **source_configs(sources)})
    if any(sources.values()):
        # Train mode, as a freshly constructed model is (the assembly returns eval mode; the towers stay in eval).
        model = assemble_model(config, sources, dtype=dtype, seed=seed).train()
    else:
        # Constructed as a whole, so a seed gives the weights it has always given (a recipe's `init_seed`
        # reproduces an earlier run).
        if seed is not None:
            torch.manual_seed(seed)
        with default_dtype(dtype):
            model = AffectGPTForConditionalGeneration(config)
        if dtype is not None:
            model = model.to(dtype)
    set_generation_defaults(model, tokenizer)
    return model


def lora_config(r: int = 16, lora_alpha: int = 32, lora_dropout: float = 0.05, **kwargs: Any):
    """The paper's LoRA (r=16, α=32, dropout 0.05 on q,k,v,o,gate,up,down of the LLM only) as a peft.LoraConfig.

    The pooling/projector/fusion modules stay trainable through `modules_to_save` (get_peft_model freezes
    everything else). Names of modules a model does not have are ignored by PEFT.
    """
    from peft import LoraConfig

    return LoraConfig(
        r=r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        target_modules=kwargs.pop("target_modules", LORA_TARGET_MODULES),
        modules_to_save=kwargs.pop("modules_to_save", list(TRAINABLE_MODULES)),
        bias="none",
        task_type=kwargs.pop("task_type", "CAUSAL_LM"),
        **kwargs,
    )
