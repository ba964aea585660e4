"""The one table between our parameter names and the official AffectGPT checkpoint's (zeroQiaoba/AffectGPT).

Keys are prefixes of our `AffectGPTForConditionalGeneration.state_dict()` names, values the matching prefixes in
the official checkpoint. A converter renames a key by replacing the longest matching prefix. The fusion
modules carry the official attribute names, so their rows are identities up to the `model.` prefix; the
official checkpoint stores the LLM under a PEFT wrapper (LoRA weights as `lora_A.weight`/`lora_B.weight` of the
wrapped linears) and keeps no tower weights (CLIP and HuBERT are loaded from their own releases).
The Q-Former variants' internals (LAVIS BertModel vs transformers' Blip2QFormerModel) do not map 1:1; only
their surrounding names are listed. Hub-facing file: no imports.
"""

__all__ = ["FUSION_MODULES", "OFFICIAL_KEY_MAP"]

# The pooling, projector and pre-fusion modules: attributes of `AffectGPTModel` (which of them exist depends on
# the config's fusion kinds), the parts that train in full next to the LoRA. Attention variants, then Q-Formers.
FUSION_MODULES: tuple[str, ...] = (
    "video_attention_mlp",
    "affectgpt_proj",
    "audio_attention_mlp",
    "audio_llama_proj",
    "multi_video_embs",
    "multi_audio_embs",
    "attention_mlp",
    "fc_att",
    "multi_llama_proj",
    "video_qformer",
    "audio_qformer",
    "multi_qformer",
)

OFFICIAL_KEY_MAP: dict[str, str] = {
    # per-modality pooling + projection to the LLM (video / faces)
    "model.video_attention_mlp.": "video_attention_mlp.",  # Linear(d_v→1), raw attention scores
    "model.affectgpt_proj.": "affectgpt_proj.",  # Linear(d_v→LLM)
    "model.video_qformer.position_embedding.": "video_frame_position_embedding.",
    "model.video_qformer.query_tokens": "video_query_tokens",
    "model.video_qformer.qformer.": "video_Qformer.",
    # per-modality pooling + projection to the LLM (audio)
    "model.audio_attention_mlp.": "audio_attention_mlp.",  # Linear(d_a→1)
    "model.audio_llama_proj.": "audio_llama_proj.",  # Linear(d_a→LLM)
    "model.audio_qformer.position_embedding.": "audio_position_embedding.",
    "model.audio_qformer.query_tokens": "audio_query_tokens",
    "model.audio_qformer.qformer.": "audio_Qformer.",
    # audio-video pre-fusion
    "model.multi_video_embs.": "multi_video_embs.",  # Linear(d_v→F)
    "model.multi_audio_embs.": "multi_audio_embs.",  # Linear(d_a→F)
    "model.attention_mlp.": "attention_mlp.",  # Linear(2F→F)
    "model.fc_att.": "fc_att.",  # Linear(F→2)
    "model.multi_llama_proj.": "multi_llama_proj.",  # Linear(F or Q-Former width→LLM)
    "model.multi_qformer.position_embedding.": "multi_position_embedding.",
    "model.multi_qformer.query_tokens": "multi_query_tokens",
    "model.multi_qformer.qformer.": "multi_Qformer.",
    # language model (official: PEFT-wrapped Qwen2ForCausalLM)
    "model.language_model.": "llama_model.base_model.model.model.",
    "lm_head.": "llama_model.base_model.model.lm_head.",
    # frozen towers: not in the official checkpoint, loaded from their own releases
    "model.vision_tower.": "visual_encoder.",
    "model.audio_tower.": "acoustic_encoder.",
}
