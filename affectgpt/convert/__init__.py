"""Convert a released AffectGPT checkpoint (the official LAVIS-style `.pth`) into a `from_pretrained` folder.

The official runner saves `{"model": trainable_state_dict, "optimizer", "config", "scaler", "epoch"}`: only the
pooling/projector/fusion weights and the PEFT LoRA adapters of the LLM; the towers and the LLM come from their
own releases. One module per step:

- `checkpoint`: read the file safely (`weights_only=True`, never full pickle), sha256, refuse NaN/Inf;
- `architecture`: the variant the keys and shapes say (pooling, pre-fusion, query tokens, visual input);
- `target`: the base-model sources and our AffectGPTConfig;
- `keymap`: official names -> ours (`modeling_affectgpt.OFFICIAL_KEY_MAP` plus the Q-Former internals);
- `plan`: every key checked against our model on the meta device (one error listing every problem);
- `lora`: the LoRA through PEFT (merged, or saved as an adapter);
- `card`: the model card (`huggingface_hub.ModelCard` from `card_template.md`);
- `pipeline`: `convert()`, which assembles the model once (`affectgpt.assembly`) and writes the folder atomically.
"""

from affectgpt.convert.architecture import infer_architecture
from affectgpt.convert.card import model_card
from affectgpt.convert.checkpoint import (
    OfficialCheckpoint,
    load_official_checkpoint,
    refuse_non_finite,
    sha256_of,
)
from affectgpt.convert.errors import ConversionError
from affectgpt.convert.lora import ADAPTER_DIR, merge_lora, save_adapter
from affectgpt.convert.pipeline import assemble_model, convert
from affectgpt.convert.plan import OFFICIAL_LORA_ALPHA, ConversionPlan, plan_conversion
from affectgpt.convert.target import OFFICIAL_SOURCES, build_target_config, resolve_sources

__all__ = [
    "ADAPTER_DIR",
    "OFFICIAL_LORA_ALPHA",
    "OFFICIAL_SOURCES",
    "ConversionError",
    "ConversionPlan",
    "OfficialCheckpoint",
    "assemble_model",
    "build_target_config",
    "convert",
    "infer_architecture",
    "load_official_checkpoint",
    "merge_lora",
    "model_card",
    "plan_conversion",
    "refuse_non_finite",
    "resolve_sources",
    "save_adapter",
    "sha256_of",
]
