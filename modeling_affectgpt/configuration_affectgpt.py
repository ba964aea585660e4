"""AffectGPT configuration: a composite of a CLIP vision tower, a wav2vec2-family audio tower and a causal LM.

Defaults reproduce the released checkpoint (DESIGN.md §3): CLIP ViT-L/14 (projected 768-d frame embeddings),
chinese-hubert-large (HuBERT large, 1024-d), Qwen2.5-7B-Instruct, attention pooling per modality and the
attention pre-fusion. Hub-facing file: imports only transformers.
"""

from __future__ import annotations

from typing import Literal

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

__all__ = ["AffectGPTConfig"]

# Audio towers the model knows how to read (hidden states of a wav2vec2-style encoder).
SUPPORTED_AUDIO_MODEL_TYPES = ("hubert", "wav2vec2", "wavlm", "data2vec-audio")


class AffectGPTConfig(PreTrainedConfig):
    r"""
    Configuration of [`AffectGPTForConditionalGeneration`] / [`AffectGPTModel`].

    Sub-configs may be given as config objects, dicts (with `model_type`) or left out for the official defaults.
    Pooling variants: `"attention"` (official: raw scores `Linear(d→1)`, no softmax), `"mean"`, `"qformer"`.
    Pre-fusion variants: `"attention"` (official), `"qformer"`, `"none"` (no `<MultiHere>` token).

    Example:

    ```python
    >>> from modeling_affectgpt import AffectGPTConfig, AffectGPTForConditionalGeneration
    >>> config = AffectGPTConfig()  # the released architecture (CLIP ViT-L/14 + HuBERT large + Qwen2.5-7B)
    ```"""

    model_type = "affectgpt"
    sub_configs_defaults = {
        # CLIP ViT-L/14 vision tower with its 1024→768 projection (`CLIPVisionModelWithProjection`).
        "vision_config": SubConfigSpec(
            config_class=AutoConfig,
            model_type="clip_vision_model",
            init_kwargs={
                "hidden_size": 1024,
                "intermediate_size": 4096,
                "num_hidden_layers": 24,
                "num_attention_heads": 16,
                "patch_size": 14,
                "image_size": 224,
                "projection_dim": 768,
                "hidden_act": "quick_gelu",
            },
        ),
        # TencentGameMate/chinese-hubert-large = HuBERT large (stable layer norm, conv bias).
        "audio_config": SubConfigSpec(
            config_class=AutoConfig,
            model_type="hubert",
            init_kwargs={
                "hidden_size": 1024,
                "num_hidden_layers": 24,
                "num_attention_heads": 16,
                "intermediate_size": 4096,
                "feat_extract_norm": "layer",
                "do_stable_layer_norm": True,
                "conv_bias": True,
            },
        ),
        # Qwen/Qwen2.5-7B-Instruct.
        "text_config": SubConfigSpec(
            config_class=AutoConfig,
            model_type="qwen2",
            init_kwargs={
                "vocab_size": 152064,
                "hidden_size": 3584,
                "intermediate_size": 18944,
                "num_hidden_layers": 28,
                "num_attention_heads": 28,
                "num_key_value_heads": 4,
                "max_position_embeddings": 32768,
                "rms_norm_eps": 1e-6,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
                "sliding_window": 131072,
                "max_window_layers": 28,
                "tie_word_embeddings": False,
                "bos_token_id": 151643,
                "eos_token_id": 151645,
            },
        ),
    }

    vision_config: dict | PreTrainedConfig | None = None  # CLIP vision tower (with projection)
    audio_config: dict | PreTrainedConfig | None = (
        None  # wav2vec2-family audio tower (HuBERT, wav2vec2, WavLM)
    )
    text_config: dict | PreTrainedConfig | None = None  # any causal LM (AutoModel builds its base model)
    visual_input: Literal["frame", "face"] = "frame"  # which visual placeholder the prompt uses
    num_frames: int = 8  # frames (or face crops) per video
    num_audio_clips: int = 8  # 2-s audio clips per sample
    video_fusion: Literal["attention", "qformer", "mean"] = "attention"  # pooling of the frame features
    audio_fusion: Literal["attention", "qformer", "mean"] = "attention"  # pooling of the clip features
    multi_fusion: Literal["attention", "qformer", "none"] = "attention"  # audio-video pre-fusion
    num_video_query_tokens: int = 1  # LLM tokens per video (placeholder ids per sample)
    num_audio_query_tokens: int = 1  # LLM tokens per audio track
    num_multi_query_tokens: int = 1  # LLM tokens for the fused audio-video feature
    fusion_hidden_size: int = 1024  # width F of the pre-fusion space
    hubert_layers: int = 4  # audio feature = mean of the last N hidden states of the audio tower
    qformer_hidden_size: int = 768  # Q-Former width (only for the "qformer" variants)
    qformer_num_layers: int = 2  # Q-Former depth
    qformer_num_heads: int = 12  # Q-Former attention heads
    qformer_max_positions: int = 264  # rows of the learned position embedding before a Q-Former
    # Placeholder ids in the official add order (Image, Audio, Frame, Face, Multi; load_tokenizer_from_LLM).
    image_token_id: int = 151665  # <ImageHere> (unused by the released model, kept for id stability)
    audio_token_id: int = 151666  # <AudioHere>
    frame_token_id: int = 151667  # <FrameHere>
    face_token_id: int = 151668  # <FaceHere>
    multi_token_id: int = 151669  # <MultiHere>
    tie_word_embeddings: bool = False  # follows text_config (see __post_init__)

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.audio_config.model_type not in SUPPORTED_AUDIO_MODEL_TYPES:
            raise ValueError(
                f"audio_config.model_type must be one of {SUPPORTED_AUDIO_MODEL_TYPES}, "
                f"got {self.audio_config.model_type!r}"
            )
        if not 1 <= self.hubert_layers <= self.audio_config.num_hidden_layers:
            raise ValueError(
                f"hubert_layers={self.hubert_layers} must be in 1..{self.audio_config.num_hidden_layers} "
                "(the audio tower's layer count)"
            )
        for name in ("video_fusion", "audio_fusion"):
            if getattr(self, name) not in ("attention", "qformer", "mean"):
                raise ValueError(
                    f"{name} must be 'attention', 'qformer' or 'mean', got {getattr(self, name)!r}"
                )
        if self.multi_fusion not in ("attention", "qformer", "none"):
            raise ValueError(
                f"multi_fusion must be 'attention', 'qformer' or 'none', got {self.multi_fusion!r}"
            )
        if self.visual_input not in ("frame", "face"):
            raise ValueError(f"visual_input must be 'frame' or 'face', got {self.visual_input!r}")
        # The composite model ties lm_head to the LM's input embeddings exactly when the LM itself would.
        if not self.tie_word_embeddings and getattr(self.text_config, "tie_word_embeddings", False):
            self.tie_word_embeddings = True

    @property
    def video_token_id(self) -> int:
        """Placeholder id of the visual token the prompt uses (`<FrameHere>` or `<FaceHere>`)."""
        return self.face_token_id if self.visual_input == "face" else self.frame_token_id

    @property
    def vision_feature_size(self) -> int:
        """d_v: width of one frame feature (CLIP's projected embedding)."""
        return self.vision_config.projection_dim

    @property
    def audio_feature_size(self) -> int:
        """d_a: width of one clip feature (the audio tower's hidden size)."""
        return self.audio_config.hidden_size
