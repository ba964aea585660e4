"""AffectGPT (arXiv 2501.16566): frozen CLIP + HuBERT towers, per-modality pooling, audio-video pre-fusion and a
causal LM that reads one fused, one audio and one visual token scattered into placeholder positions.

Layout follows transformers' multimodal models (LLaVA-NeXT-Video, Qwen2.5-Omni): everything that computes
features lives in `AffectGPTModel` (base_model_prefix "model"), the head class holds only `lm_head` and the
loss. TRL ≥ 1.7 calls only the base model during SFT, so fusion placed in the head would never be trained.
Hub-facing file: imports torch, transformers and its own siblings (single-dot) only.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel, CLIPVisionModelWithProjection, GenerationConfig, GenerationMixin
from transformers import initialization as init
from transformers.cache_utils import Cache
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import PreTrainedModel

from .configuration_affectgpt import AffectGPTConfig
from .fusion_qformer import QFormerPooler
from .official_names import OFFICIAL_KEY_MAP
from .pooling import attention_pool, attention_prefusion, mean_pool

__all__ = [
    "AUTO_MAP",
    "OFFICIAL_KEY_MAP",
    "OFFICIAL_GENERATION_KWARGS",
    "AffectGPTForConditionalGeneration",
    "AffectGPTModel",
    "AffectGPTPreTrainedModel",
    "official_generation_config",
]

# Decoding of the official inference scripts (top-p sampling). Our default is greedy (reproducible); pass
# `generation_config=official_generation_config(model)` (or these kwargs) to `generate` for the official one.
# Values of `Chat.answer_sample` (conversation_video.py:259, inference_sample.py:219-221); the one home of them.
OFFICIAL_GENERATION_KWARGS = {
    "do_sample": True,
    "temperature": 1.0,
    "top_p": 0.9,
    "num_beams": 1,
    "max_new_tokens": 1200,
    "min_length": 1,
    "repetition_penalty": 1.0,
    "length_penalty": 1.0,
}

# Every Auto class a saved folder answers to. `save_pretrained` alone writes only the saved class's entry; TRL,
# given a model string, looks for AutoModelForImageTextToText first.
AUTO_MAP = {
    "AutoConfig": "configuration_affectgpt.AffectGPTConfig",
    "AutoModel": "modeling_affectgpt.AffectGPTModel",
    "AutoModelForImageTextToText": "modeling_affectgpt.AffectGPTForConditionalGeneration",
    "AutoModelForMultimodalLM": "modeling_affectgpt.AffectGPTForConditionalGeneration",
}

# Inputs that exist only for the prefill step; the flags are ours, the tensors are also in transformers' list.
_PREFILL_ONLY_INPUTS = (
    "pixel_values_videos",
    "input_features",
    "input_features_mask",
    "video_flags",
    "audio_flags",
)


def official_generation_config(model: PreTrainedModel) -> GenerationConfig:
    """A copy of the model's generation config (same eos/pad ids) with the official sampling settings."""
    config = GenerationConfig.from_dict(model.generation_config.to_dict())
    config.update(**OFFICIAL_GENERATION_KWARGS)
    return config


class AffectGPTPreTrainedModel(PreTrainedModel):
    config: AffectGPTConfig
    config_class = AffectGPTConfig
    base_model_prefix = "model"
    input_modalities = ("video", "audio", "text")
    supports_gradient_checkpointing = True
    # Decoder/encoder layers of the towers and the LM are collected from the children at post_init; the Q-Former
    # layer is listed because it sits inside a plain nn.Module wrapper.
    _no_split_modules = ["Blip2QFormerLayer"]
    _skip_keys_device_placement = ["past_key_values"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_compile_fullgraph = False  # data-dependent selection of samples per modality

    def save_pretrained(self, save_directory, *args, **kwargs):
        # Complete the auto_map (keeping entries a user added, e.g. AutoProcessor) before transformers writes the
        # code files and the config.
        self.config.auto_map = {**AUTO_MAP, **(getattr(self.config, "auto_map", None) or {})}
        return super().save_pretrained(save_directory, *args, **kwargs)

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, QFormerPooler):
            std = getattr(self.config.get_text_config(), "initializer_range", 0.02)
            init.normal_(module.query_tokens, mean=0.0, std=std)


class AffectGPTModel(AffectGPTPreTrainedModel):
    """Towers + pooling + pre-fusion + projectors + language model (no LM head).

    Attribute names of the fusion modules are the official ones (see `official_names.OFFICIAL_KEY_MAP`).
    """

    def __init__(self, config: AffectGPTConfig):
        super().__init__(config)
        d_v, d_a = config.vision_feature_size, config.audio_feature_size
        fusion, llm = config.fusion_hidden_size, config.text_config.hidden_size
        qformer_kwargs = {
            "hidden_size": config.qformer_hidden_size,
            "num_layers": config.qformer_num_layers,
            "num_heads": config.qformer_num_heads,
            "max_positions": config.qformer_max_positions,
            "initializer_range": getattr(config.text_config, "initializer_range", 0.02),
        }

        # Frozen encoders. CLIPVisionModelWithProjection (not AutoModel) because the official frame feature is the
        # projected embedding (`get_image_features`), which the plain vision model does not compute.
        self.vision_tower = CLIPVisionModelWithProjection(config.vision_config)
        self.audio_tower = AutoModel.from_config(config.audio_config)

        # Video (frames or faces): pooling over the frames, then projection to one LLM token.
        if config.video_fusion == "attention":
            self.video_attention_mlp = nn.Linear(d_v, 1)
        elif config.video_fusion == "qformer":
            self.video_qformer = QFormerPooler(
                d_v, num_query_tokens=config.num_video_query_tokens, **qformer_kwargs
            )
        video_width = config.qformer_hidden_size if config.video_fusion == "qformer" else d_v
        self.affectgpt_proj = nn.Linear(video_width, llm)

        # Audio: pooling over the clips, then projection.
        if config.audio_fusion == "attention":
            self.audio_attention_mlp = nn.Linear(d_a, 1)
        elif config.audio_fusion == "qformer":
            self.audio_qformer = QFormerPooler(
                d_a, num_query_tokens=config.num_audio_query_tokens, **qformer_kwargs
            )
        audio_width = config.qformer_hidden_size if config.audio_fusion == "qformer" else d_a
        self.audio_llama_proj = nn.Linear(audio_width, llm)

        # Audio-video pre-fusion (one or more `<MultiHere>` tokens for samples that have both).
        if config.multi_fusion != "none":
            self.multi_video_embs = nn.Linear(d_v, fusion)
            self.multi_audio_embs = nn.Linear(d_a, fusion)
        if config.multi_fusion == "attention":
            self.attention_mlp = nn.Linear(2 * fusion, fusion)
            self.fc_att = nn.Linear(fusion, 2)
            self.multi_llama_proj = nn.Linear(fusion, llm)
        elif config.multi_fusion == "qformer":
            self.multi_qformer = QFormerPooler(
                fusion, num_query_tokens=config.num_multi_query_tokens, **qformer_kwargs
            )
            self.multi_llama_proj = nn.Linear(config.qformer_hidden_size, llm)

        self.language_model = AutoModel.from_config(config.text_config)

        self.vision_tower.requires_grad_(False)
        self.audio_tower.requires_grad_(False)
        self.post_init()
        self.vision_tower.eval()
        self.audio_tower.eval()

    def train(self, mode: bool = True):
        # The towers stay in eval mode: HuBERT's layerdrop/spec-augment and CLIP dropout must not act on frozen
        # feature extractors (the official code extracts features in eval mode).
        super().train(mode)
        self.vision_tower.eval()
        self.audio_tower.eval()
        return self

    def get_input_embeddings(self):
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.language_model.set_input_embeddings(value)

    # ----------------------------------------------------------------------------------------------------------
    # Features
    # ----------------------------------------------------------------------------------------------------------
    def _fusion_dtype(self) -> torch.dtype:
        return self.affectgpt_proj.weight.dtype

    def get_video_features(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        """Per-frame projected CLIP embeddings. (N, T, 3, H, W) -> (N, T, d_v)"""
        n, t = pixel_values_videos.shape[:2]
        frames = pixel_values_videos.flatten(0, 1)  # (N, T, 3, H, W) -> (N*T, 3, H, W)
        frames = frames.to(device=self.vision_tower.device, dtype=self.vision_tower.dtype)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self._tower_trainable(self.vision_tower)):
            embeds = self.vision_tower(pixel_values=frames).image_embeds  # (N*T, d_v)
        return embeds.reshape(n, t, -1).to(self._fusion_dtype())  # (N*T, d_v) -> (N, T, d_v)

    def get_audio_features(self, input_features: torch.Tensor) -> torch.Tensor:
        """Per-clip audio features: mean of the last `hubert_layers` hidden states, then mean over time.

        (N, C, S) raw 16 kHz clips -> (N, C, d_a)
        """
        n, c = input_features.shape[:2]
        clips = input_features.flatten(0, 1)  # (N, C, S) -> (N*C, S)
        clips = clips.to(device=self.audio_tower.device, dtype=self.audio_tower.dtype)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self._tower_trainable(self.audio_tower)):
            feats = self._encode_audio_clips(clips)  # (N*C, d_a)
        return feats.reshape(n, c, -1).to(self._fusion_dtype())  # (N*C, d_a) -> (N, C, d_a)

    def _encode_audio_clips(self, clips: torch.Tensor) -> torch.Tensor:
        """(M, S) clips -> (M, d_a): mean of the last `hubert_layers` hidden states, then mean over time."""
        hidden = self.audio_tower(clips, output_hidden_states=True).hidden_states
        layers = torch.stack(
            hidden[-self.config.hubert_layers :], dim=0
        )  # L x (M, S', d_a) -> (L, M, S', d_a)
        return layers.mean(dim=0).mean(dim=1)  # (L, M, S', d_a) -> (M, S', d_a) -> (M, d_a)

    @staticmethod
    def _tower_trainable(tower: nn.Module) -> bool:
        return any(p.requires_grad for p in tower.parameters())

    def pool_video(self, video: torch.Tensor) -> torch.Tensor:
        """(N, T, d_v) -> (N, K_v, LLM)"""
        if self.config.video_fusion == "attention":
            pooled = attention_pool(video, self.video_attention_mlp)  # (N, 1, d_v)
        elif self.config.video_fusion == "qformer":
            pooled = self.video_qformer(video)  # (N, K_v, qformer)
        else:
            pooled = mean_pool(video)  # (N, 1, d_v)
        return self.affectgpt_proj(pooled)

    def pool_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """(N, C, d_a) -> (N, K_a, LLM)"""
        if self.config.audio_fusion == "attention":
            pooled = attention_pool(audio, self.audio_attention_mlp)  # (N, 1, d_a)
        elif self.config.audio_fusion == "qformer":
            pooled = self.audio_qformer(audio)  # (N, K_a, qformer)
        else:
            pooled = mean_pool(audio)  # (N, 1, d_a)
        return self.audio_llama_proj(pooled)

    def fuse(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Pre-fusion of the same samples' video and audio steps. (N, T, d_v), (N, C, d_a) -> (N, K_m, LLM)"""
        if self.config.multi_fusion == "attention":
            fused = attention_prefusion(
                video, audio, self.multi_video_embs, self.multi_audio_embs, self.attention_mlp, self.fc_att
            )  # (N, 1, F)
        elif self.config.multi_fusion == "qformer":
            steps = torch.cat(
                [self.multi_video_embs(video), self.multi_audio_embs(audio)], dim=1
            )  # (N, T+C, F)
            fused = self.multi_qformer(steps)  # (N, K_m, qformer)
        else:
            raise ValueError("multi_fusion='none' produces no fused token")
        return self.multi_llama_proj(fused)

    # ----------------------------------------------------------------------------------------------------------
    # Merge
    # ----------------------------------------------------------------------------------------------------------
    @staticmethod
    def _rows(features: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """The rows of the samples that carry the modality; no copy when all do (a batch of frames is large)."""
        if present.all():
            return features
        index = present.nonzero().squeeze(1).to(features.device)  # (N_present,)
        return features.index_select(0, index)  # (B, ...) -> (N_present, ...)

    @staticmethod
    def _resolve_flags(
        flags: torch.Tensor | None, features: torch.Tensor | None, batch_size: int
    ) -> torch.Tensor:
        """Which samples carry this modality: (B,) bool. No tensor -> none; no flags -> all."""
        if features is None:
            return torch.zeros(batch_size, dtype=torch.bool)
        if features.shape[0] != batch_size:
            raise ValueError(
                f"Modality tensor has batch size {features.shape[0]} but input_ids has {batch_size}"
            )
        if flags is None:
            return torch.ones(batch_size, dtype=torch.bool)
        flags = flags.detach().to("cpu", torch.bool).reshape(-1)
        if flags.numel() != batch_size:
            raise ValueError(f"Got {flags.numel()} modality flags for a batch of {batch_size}")
        return flags

    def _check_placeholders(
        self, input_ids: torch.Tensor, token_id: int, name: str, present: torch.Tensor, per_sample: int
    ) -> torch.Tensor:
        """Mask (B, L) of `token_id`; raises ValueError unless each sample has `per_sample` ids iff present."""
        mask = input_ids == token_id  # (B, L)
        found = mask.sum(dim=1).cpu()  # (B,)
        expected = present.long() * per_sample  # (B,)
        if not torch.equal(found, expected):
            raise ValueError(
                f"{name} placeholder count does not match the {name} features: input_ids hold {int(found.sum())} "
                f"{name} placeholder tokens (id {token_id}, per sample {found.tolist()}) but the features fill "
                f"{int(expected.sum())} ({int(present.sum())} samples x {per_sample} tokens, per sample "
                f"{expected.tolist()})"
            )
        return mask

    @staticmethod
    def _scatter(inputs_embeds: torch.Tensor, mask: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Write (N, K, H) features into the (B, L, H) embeddings at the N*K masked positions, in batch order."""
        features = features.reshape(-1, features.shape[-1]).to(
            inputs_embeds.device, inputs_embeds.dtype
        )  # (N*K, H)
        return inputs_embeds.masked_scatter(
            mask.unsqueeze(-1).to(inputs_embeds.device), features
        )  # (B, L, H)

    def merge_multimodal_features(
        self,
        input_ids: torch.Tensor,
        inputs_embeds: torch.Tensor,
        pixel_values_videos: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        video_flags: torch.Tensor | None = None,
        audio_flags: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Encode the present modalities and scatter their tokens into the placeholder positions."""
        config = self.config
        batch_size = input_ids.shape[0]
        has_video = self._resolve_flags(video_flags, pixel_values_videos, batch_size)  # (B,)
        has_audio = self._resolve_flags(audio_flags, input_features, batch_size)  # (B,)
        has_multi = has_video & has_audio if config.multi_fusion != "none" else torch.zeros_like(has_video)

        # Validate every placeholder kind before running any encoder: a bad prompt fails fast.
        video_mask = self._check_placeholders(
            input_ids, config.video_token_id, config.visual_input, has_video, config.num_video_query_tokens
        )
        audio_mask = self._check_placeholders(
            input_ids, config.audio_token_id, "audio", has_audio, config.num_audio_query_tokens
        )
        multi_mask = self._check_placeholders(
            input_ids, config.multi_token_id, "multi", has_multi, config.num_multi_query_tokens
        )
        other_visual = config.frame_token_id if config.visual_input == "face" else config.face_token_id
        if (n_other := int((input_ids == other_visual).sum())) > 0:
            raise ValueError(
                f"input_ids hold {n_other} placeholder tokens of id {other_visual}, but this model was built for "
                f"visual_input={config.visual_input!r} (placeholder id {config.video_token_id})"
            )

        video = audio = None
        if has_video.any():
            video = self.get_video_features(self._rows(pixel_values_videos, has_video))  # (N_v, T, d_v)
            inputs_embeds = self._scatter(inputs_embeds, video_mask, self.pool_video(video))
        if has_audio.any():
            audio = self.get_audio_features(self._rows(input_features, has_audio))  # (N_a, C, d_a)
            inputs_embeds = self._scatter(inputs_embeds, audio_mask, self.pool_audio(audio))
        if has_multi.any():
            # Rows of the per-modality feature tensors that belong to samples having both modalities.
            video_rows = has_audio[has_video].nonzero().squeeze(1).to(video.device)  # (N_m,)
            audio_rows = has_video[has_audio].nonzero().squeeze(1).to(audio.device)  # (N_m,)
            fused = self.fuse(
                video.index_select(0, video_rows), audio.index_select(0, audio_rows)
            )  # (N_m, K, H)
            inputs_embeds = self._scatter(inputs_embeds, multi_mask, fused)
        return inputs_embeds

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        input_features: torch.FloatTensor | None = None,
        input_features_mask: torch.Tensor | None = None,
        video_flags: torch.BoolTensor | None = None,
        audio_flags: torch.BoolTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        r"""
        pixel_values_videos (`torch.FloatTensor` of shape `(batch_size, num_frames, 3, 224, 224)`):
            CLIP-normalised frames (or face crops); rows of samples without video are ignored.
        input_features (`torch.FloatTensor` of shape `(batch_size, num_audio_clips, 32000)`):
            2-s audio clips at 16 kHz after `Wav2Vec2FeatureExtractor`; rows of samples without audio are ignored.
        input_features_mask (`torch.Tensor`, *optional*):
            Accepted for API symmetry with the processor; the clips are fixed length, so it is not used.
        video_flags / audio_flags (`torch.BoolTensor` of shape `(batch_size,)`, *optional*):
            Which samples carry the modality; default: all, when the tensor is given.
        """
        del input_features_mask  # fixed-length clips: every sample is valid audio or flagged absent
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Specify exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)  # (B, L) -> (B, L, H)

        has_media = pixel_values_videos is not None or input_features is not None
        is_prefill = past_key_values is None or past_key_values.get_seq_length() == 0
        if input_ids is not None and (has_media or is_prefill):
            inputs_embeds = self.merge_multimodal_features(
                input_ids, inputs_embeds, pixel_values_videos, input_features, video_flags, audio_flags
            )
        elif has_media:
            raise ValueError("pixel_values_videos/input_features need input_ids to locate their placeholders")

        outputs = self.language_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
            **kwargs,
        )
        return BaseModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class AffectGPTForConditionalGeneration(AffectGPTPreTrainedModel, GenerationMixin):
    """AffectGPT with a language-modelling head. Holds only `lm_head` and the loss; see `AffectGPTModel`."""

    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}

    def __init__(self, config: AffectGPTConfig):
        super().__init__(config)
        self.model = AffectGPTModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()
        # Greedy unless the caller asks otherwise; eos/pad come from the text config (presets set the official
        # stop ids, eos <|im_end|> and "###", here, since the model alone does not know the tokenizer).
        self.generation_config.do_sample = False

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Module):
        self.lm_head = new_embeddings

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        input_features: torch.FloatTensor | None = None,
        input_features_mask: torch.Tensor | None = None,
        video_flags: torch.BoolTensor | None = None,
        audio_flags: torch.BoolTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        r"""
        labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            Next-token targets aligned with `input_ids` (shifted inside the loss); -100 is ignored.
        logits_to_keep (`int` or `torch.Tensor`, *optional*):
            Compute logits only for the last N positions (0 = all), or for the given indices.
        """
        outputs = self.model(
            input_ids=input_ids,
            pixel_values_videos=pixel_values_videos,
            input_features=input_features,
            input_features_mask=input_features_mask,
            video_flags=video_flags,
            audio_flags=audio_flags,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state  # (B, L, H)
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(hidden_states[:, keep, :])  # (B, L', V)

        loss = None
        if labels is not None:
            loss = self.loss_function(
                logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size, **kwargs
            )
        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )

    def prepare_inputs_for_generation(self, *args, is_first_iteration: bool | None = False, **kwargs):
        model_inputs = super().prepare_inputs_for_generation(
            *args, is_first_iteration=is_first_iteration, **kwargs
        )
        # Media (and our per-sample flags) are encoded once at prefill; later steps read them from the KV cache.
        if not is_first_iteration and kwargs.get("use_cache", True):
            for key in _PREFILL_ONLY_INPUTS:
                model_inputs.pop(key, None)
        return model_inputs
