"""AffectGPT as a transformers model: `AffectGPTConfig`, `AffectGPTModel`, `AffectGPTForConditionalGeneration`.

Importing this package registers the classes with the Auto API (`AutoConfig`, `AutoModel`,
`AutoModelForImageTextToText`, `AutoModelForMultimodalLM`) and marks them for `register_for_auto_class`, so
`save_pretrained` writes the code files flat next to the weights with a complete `auto_map`.
"""

from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoModelForMultimodalLM

from .configuration_affectgpt import AffectGPTConfig
from .modeling_affectgpt import (
    AUTO_MAP,
    OFFICIAL_GENERATION_KWARGS,
    AffectGPTForConditionalGeneration,
    AffectGPTModel,
    AffectGPTPreTrainedModel,
    official_generation_config,
)
from .official_names import FUSION_MODULES, OFFICIAL_KEY_MAP

__all__ = [
    "AUTO_MAP",
    "FUSION_MODULES",
    "OFFICIAL_GENERATION_KWARGS",
    "OFFICIAL_KEY_MAP",
    "AffectGPTConfig",
    "AffectGPTForConditionalGeneration",
    "AffectGPTModel",
    "AffectGPTPreTrainedModel",
    "official_generation_config",
]

AutoConfig.register(AffectGPTConfig.model_type, AffectGPTConfig, exist_ok=True)
AutoModel.register(AffectGPTConfig, AffectGPTModel, exist_ok=True)
AutoModelForImageTextToText.register(AffectGPTConfig, AffectGPTForConditionalGeneration, exist_ok=True)
AutoModelForMultimodalLM.register(AffectGPTConfig, AffectGPTForConditionalGeneration, exist_ok=True)

AffectGPTConfig.register_for_auto_class()
AffectGPTModel.register_for_auto_class("AutoModel")
AffectGPTForConditionalGeneration.register_for_auto_class("AutoModelForImageTextToText")
