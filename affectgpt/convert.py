"""Convert a released AffectGPT checkpoint (the official LAVIS-style `.pth`) into a `from_pretrained` folder.

The official runner saves `{"model": trainable_state_dict, "optimizer", "config", "scaler", "epoch"}`: only the
pooling/projector/fusion weights and the PEFT LoRA adapters of the LLM; the towers and the LLM come from their
own releases. So a conversion = read the file safely (`weights_only=True`, never full pickle), rename every key
through `modeling_affectgpt.OFFICIAL_KEY_MAP` (the one table) plus the Q-Former internals below, check the whole
key set against our model before loading anything big (one error listing every problem), load the towers and
the LLM, merge the LoRA delta (or keep it as a PEFT adapter) and save model + processor + model card.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affectgpt.errors import CLIError

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

# The official code hard-codes `LoraConfig(lora_alpha=32)`; alpha is in neither the state dict nor the config.
OFFICIAL_LORA_ALPHA = 32.0
# Where `--keep-adapter` writes the PEFT adapter (a subfolder, so transformers does not mistake the model folder
# itself for an adapter folder).
ADAPTER_DIR = "lora_adapter"
# Base weights of the released model (DESIGN.md §3); any id or local folder can replace them.
OFFICIAL_SOURCES = {
    "vision": "openai/clip-vit-large-patch14",
    "audio": "TencentGameMate/chinese-hubert-large",
    "llm": "Qwen/Qwen2.5-7B-Instruct",
}

_LLM_OFFICIAL_PREFIX = "llama_model.base_model.model."
_LORA_KEY = re.compile(
    r"^llama_model\.base_model\.model\.(?P<base>.+)\.lora_(?P<ab>[AB])\.(?P<adapter>[^.]+)\.weight$"
)
# Our parts that are not in the official file: loaded from --vision/--audio/--llm.
_BASE_PREFIXES = ("model.vision_tower.", "model.audio_tower.", "model.language_model.", "lm_head.")
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
_SKIPPED = (
    (re.compile(r"^image_llama_proj\.(weight|bias)$"), "image branch (<ImageHere>), unused for video"),
    (
        re.compile(r"^(video|audio|multi)_Qformer\.bert\.embeddings\.position_ids$"),
        "LAVIS BERT position-id buffer (constant arange; the Q-Former reads query embeddings only)",
    ),
)
_MAX_LISTED = 25


class ConversionError(CLIError):
    """The checkpoint cannot be converted; the message says why (all problems at once)."""


@dataclass
class OfficialCheckpoint:
    path: Path
    sha256: str
    state_dict: dict[str, Any]  # name -> torch.Tensor (the official "model" entry)
    config: dict | None  # the runner's config dict (model/datasets/run), when present
    epoch: int | None

    @property
    def model_config(self) -> dict:
        model = (self.config or {}).get("model")
        return model if isinstance(model, dict) else {}


@dataclass
class ConversionPlan:
    """Everything decided before the heavy loading: our config, the renamed weights, the LoRA pairs."""

    config: Any  # AffectGPTConfig
    weights: dict[str, Any] = field(
        default_factory=dict
    )  # our key -> tensor (fusion, projectors, LLM overrides)
    lora: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # our LLM weight key -> (A, B)
    lora_r: int | None = None
    lora_alpha: float = OFFICIAL_LORA_ALPHA
    lora_alpha_source: str = "official default (not stored in the checkpoint)"
    skipped: dict[str, str] = field(default_factory=dict)  # official key -> why
    notes: list[str] = field(default_factory=list)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def load_official_checkpoint(path: str | Path) -> OfficialCheckpoint:
    """Read an official `.pth` with `torch.load(weights_only=True)`; every failure is a `ConversionError`."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # weights_only refuses any global outside torch's allow-list; we never fall back to full pickle, which
        # would run arbitrary code from the file.
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConversionError(
            f"{path.name}: refused to unpickle non-tensor Python objects (torch.load weights_only=True: {first}). "
            "Only tensors, numbers, strings and plain containers are read. If you trust the file, re-save its "
            "'model' entry on its own: torch.save({'model': ckpt['model']}, 'clean.pth')"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as err:
        raise ConversionError(
            f"{path.name}: not a readable torch checkpoint (truncated or corrupt download?): "
            f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
        ) from None
    if not isinstance(obj, dict) or "model" not in obj:
        found = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise ConversionError(
            f"{path.name}: expected the official layout {{'model': state_dict, 'optimizer', 'config', 'scaler', "
            f"'epoch'}}, found {found}"
        )
    state = obj["model"]
    if not isinstance(state, dict):
        raise ConversionError(
            f"{path.name}: ckpt['model'] must be a state dict, found {type(state).__name__}"
        )
    bad = [repr(k) for k, v in state.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))]
    if bad:
        raise ConversionError(_listing(f"{path.name}: ckpt['model'] entries that are not named tensors", bad))
    refuse_non_finite(state, f"{path.name}: ckpt['model']")
    config = obj.get("config") if isinstance(obj.get("config"), dict) else None
    epoch = obj.get("epoch") if isinstance(obj.get("epoch"), int) else None
    return OfficialCheckpoint(
        path=path, sha256=sha256_of(path), state_dict=dict(state), config=config, epoch=epoch
    )


def refuse_non_finite(tensors: dict, where: str) -> None:
    """A NaN or Inf weight gives NaN logits (empty or garbage answers) with no error anywhere later: refuse it."""
    import torch

    bad = [
        f"{name} ({int((~torch.isfinite(t)).sum())} of {t.numel()})"
        for name, t in tensors.items()
        if t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]
    if bad:
        raise ConversionError(_listing(f"{where}: tensors with NaN or Inf values", bad))


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


def _official_to_ours(official_key: str, reverse_map: list[tuple[str, str]]) -> str | None:
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


def _reverse_key_map() -> list[tuple[str, str]]:
    from modeling_affectgpt import OFFICIAL_KEY_MAP

    return sorted(((off, ours) for ours, off in OFFICIAL_KEY_MAP.items()), key=lambda kv: -len(kv[0]))


def _steps_for(our_key: str, config) -> int | None:
    """How many position rows a Q-Former's position embedding actually reads (frames, clips, or both)."""
    if our_key.startswith("model.video_qformer."):
        return config.num_frames
    if our_key.startswith("model.audio_qformer."):
        return config.num_audio_clips
    if our_key.startswith("model.multi_qformer."):
        return config.num_frames + config.num_audio_clips
    return None


def _fit_position_rows(tensor, want_shape, our_key, config):
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


def _listing(title: str, items: list[str]) -> str:
    shown = "\n".join(f"  - {item}" for item in items[:_MAX_LISTED])
    more = f"\n  ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return f"{title} ({len(items)}):\n{shown}{more}"


def plan_conversion(ckpt: OfficialCheckpoint, config, lora_alpha: float | None = None) -> ConversionPlan:
    """Map every official key to our model (built on the meta device from `config`, so nothing big is loaded).

    Raises one `ConversionError` listing every unknown, missing and wrongly shaped key.
    """
    import torch

    from modeling_affectgpt import AffectGPTForConditionalGeneration

    with torch.device("meta"):
        skeleton = AffectGPTForConditionalGeneration(config)
    ours = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    expected = {k for k in ours if not k.startswith(_BASE_PREFIXES)}
    reverse_map = _reverse_key_map()
    plan = ConversionPlan(config=config)
    unknown, shapes, lora_parts, mismatched = [], [], {}, set()

    for key, tensor in sorted(ckpt.state_dict.items()):
        reason = next((why for pattern, why in _SKIPPED if pattern.match(key)), None)
        if reason is not None:
            plan.skipped[key] = reason
            continue
        if (match := _LORA_KEY.match(key)) is not None:
            if match["adapter"] != "default":
                unknown.append(
                    f"{key}: LoRA adapter {match['adapter']!r} (the official model has only 'default')"
                )
                continue
            base = _official_to_ours(f"{_LLM_OFFICIAL_PREFIX}{match['base']}.weight", reverse_map)
            if base is None or base not in ours or not base.startswith("model.language_model."):
                unknown.append(
                    f"{key}: LoRA on a module our language model does not have ({base or match['base']})"
                )
                continue
            lora_parts.setdefault(base, {})[match["ab"]] = (key, tensor)
            continue
        target = _official_to_ours(key, reverse_map)
        if target is None or target not in ours:
            hint = f" (would be {target}; not in this configuration)" if target else ""
            unknown.append(f"{key}{hint}")
            continue
        if target.startswith(("model.vision_tower.", "model.audio_tower.")):
            unknown.append(f"{key}: tower weights come from --vision/--audio, not from the checkpoint")
            continue
        if tuple(tensor.shape) != ours[target]:
            fitted = _fit_position_rows(tensor, ours[target], target, config)
            if fitted is None:
                shapes.append(f"{key} -> {target}: checkpoint {tuple(tensor.shape)}, model {ours[target]}")
                mismatched.add(target)  # listed once, under wrong shapes, not again as missing
                continue
            plan.notes.append(
                f"{key}: {tensor.shape[0]} position rows -> {ours[target][0]} (only the first rows are read)"
            )
            tensor = fitted
        plan.weights[target] = tensor

    for base, parts in sorted(lora_parts.items()):
        if set(parts) != {"A", "B"}:
            unknown.append(f"{next(iter(parts.values()))[0]}: lora_{'B' if 'A' in parts else 'A'} is missing")
            continue
        (key_a, a), (key_b, b) = parts["A"], parts["B"]
        out_features, in_features = ours[base]
        if (
            a.dim() != 2
            or b.dim() != 2
            or a.shape[1] != in_features
            or b.shape[0] != out_features
            or a.shape[0] != b.shape[1]
        ):
            shapes.append(
                f"{key_a} / {key_b}: A {tuple(a.shape)}, B {tuple(b.shape)} do not fit {base} {ours[base]}"
            )
            continue
        plan.lora[base] = (a, b)
    ranks = {a.shape[0] for a, _ in plan.lora.values()}
    if len(ranks) > 1:
        shapes.append(f"LoRA ranks differ between modules: {sorted(ranks)} (expected one r)")
    plan.lora_r = ranks.pop() if len(ranks) == 1 else None

    missing = sorted(expected - set(plan.weights) - mismatched)
    problems = []
    if missing:
        problems.append(_listing("missing from the checkpoint (our model needs them)", missing))
    if unknown:
        problems.append(_listing("unknown keys (no place in our model)", unknown))
    if shapes:
        problems.append(_listing("wrong shapes", shapes))
    if problems:
        variant = (
            f"visual_input={config.visual_input}, video_fusion={config.video_fusion}, "
            f"audio_fusion={config.audio_fusion}, multi_fusion={config.multi_fusion}"
        )
        raise ConversionError(
            f"{ckpt.path.name} does not match the model ({variant}):\n" + "\n".join(problems)
        )

    if lora_alpha is not None:
        plan.lora_alpha, plan.lora_alpha_source = float(lora_alpha), "given with --lora-alpha"
    elif "lora_alpha" in ckpt.model_config:
        plan.lora_alpha, plan.lora_alpha_source = (
            float(ckpt.model_config["lora_alpha"]),
            "ckpt['config']['model']",
        )
    if plan.lora_r and "lora_r" in ckpt.model_config and int(ckpt.model_config["lora_r"]) != plan.lora_r:
        plan.notes.append(
            f"ckpt config lora_r={ckpt.model_config['lora_r']} but the adapters have r={plan.lora_r}"
        )
    return plan


# ----------------------------------------------------------------------------------------------------------------
# Building the converted model
# ----------------------------------------------------------------------------------------------------------------
_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def _torch_dtype(name: str):
    import torch

    if name not in _DTYPES:
        raise ConversionError(f"--dtype must be one of {sorted(_DTYPES)}, got {name!r}")
    return getattr(torch, _DTYPES[name])


def _load(what: str, source: str, loader):
    """Run a from_pretrained-style loader; a missing folder or an unreachable Hub id becomes one clear line."""
    try:
        return loader(source)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConversionError(
            f"cannot load the {what} from {source!r}: {first}. Pass a local folder (offline, the Hub is not used) "
            f"with --{what.split()[0]}"
        ) from None


def _vision_config(source: str):
    from affectgpt.presets import clip_vision_config

    return _load("vision tower config", source, clip_vision_config)


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
    from transformers import AutoConfig

    from affectgpt.presets import build_config

    arch, notes = infer_architecture(ckpt)
    if visual_input is not None:
        if arch.get("visual_input", visual_input) != visual_input:
            notes.append(f"--visual-input {visual_input} overrides the checkpoint's {arch['visual_input']!r}")
        arch["visual_input"] = visual_input
    if fusion is not None:
        # A wrong choice shows up as missing/unknown keys in plan_conversion, together with every other problem.
        arch["multi_fusion"] = fusion
    subconfigs = {}
    if sources.get("vision"):
        subconfigs["vision_config"] = _vision_config(sources["vision"])
    if sources.get("audio"):
        subconfigs["audio_config"] = _load("audio tower config", sources["audio"], AutoConfig.from_pretrained)
    if sources.get("llm"):
        text = _load("llm config", sources["llm"], AutoConfig.from_pretrained)
        subconfigs["text_config"] = getattr(text, "text_config", text)
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


def assemble_model(plan: ConversionPlan, sources: dict[str, str | None], dtype, seed: int = 0):
    """Our model with the base parts from `sources` (random, seeded, where a source is None) and the planned
    weights. Built on the meta device first so a 7B LLM is held in memory once."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, CLIPVisionModelWithProjection

    from affectgpt.presets import load_pretrained_part
    from modeling_affectgpt import AffectGPTForConditionalGeneration

    config = plan.config
    with torch.device("meta"):
        model = AffectGPTForConditionalGeneration(config)
    torch.manual_seed(seed)

    def pretrained(kind, cls, sub_config):
        return _load(
            f"{kind} weights", sources[kind], lambda src: load_pretrained_part(cls, src, sub_config, dtype)
        )

    vision = (
        pretrained("vision", CLIPVisionModelWithProjection, config.vision_config)
        if sources.get("vision")
        else CLIPVisionModelWithProjection(config.vision_config)
    )
    audio = (
        pretrained("audio", AutoModel, config.audio_config)
        if sources.get("audio")
        else AutoModel.from_config(config.audio_config)
    )
    causal = (
        pretrained("llm", AutoModelForCausalLM, None)
        if sources.get("llm")
        else AutoModelForCausalLM.from_config(config.text_config)
    )
    for name, module in (("vision_tower", vision), ("audio_tower", audio), ("language_model", causal.model)):
        expected = type(getattr(model.model, name))
        if type(module) is not expected:
            raise ConversionError(
                f"{name}: got {type(module).__name__}, the configuration builds {expected.__name__}"
            )
        setattr(model.model, name, module)
    model.lm_head = causal.get_output_embeddings()
    for tower in (model.model.vision_tower, model.model.audio_tower):
        tower.requires_grad_(False)
        tower.eval()

    # Fusion/projector modules: materialise, then take the checkpoint's tensors as they are.
    base_children = {"vision_tower", "audio_tower", "language_model"}
    for name, child in model.model.named_children():
        if name not in base_children:
            child.to_empty(device="cpu")
    fusion = {k: v for k, v in plan.weights.items() if not k.startswith(_BASE_PREFIXES)}
    result = model.load_state_dict(fusion, strict=False, assign=True)
    if result.unexpected_keys:
        raise ConversionError(f"internal: unexpected keys after planning: {result.unexpected_keys}")
    with (
        torch.no_grad()
    ):  # LLM weights the checkpoint itself overrides (not in the released files, but honoured)
        for key, tensor in plan.weights.items():
            if key.startswith(_BASE_PREFIXES):
                model.get_parameter(key).copy_(tensor)
    still_meta = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if still_meta:
        raise ConversionError(_listing("internal: weights left unset", still_meta))
    model.to(dtype)
    model.config.dtype = dtype
    return model.eval()


def merge_lora(model, plan: ConversionPlan) -> None:
    """W += (B @ A) · α/r on each targeted LLM linear, computed in fp32 and cast back."""
    import torch

    if not plan.lora:
        return
    scale = plan.lora_alpha / plan.lora_r
    with torch.no_grad():
        for key, (a, b) in plan.lora.items():
            weight = model.get_parameter(key)
            delta = b.to(torch.float32) @ a.to(torch.float32)  # (out, r) @ (r, in) -> (out, in)
            weight.copy_((weight.to(torch.float32) + scale * delta).to(weight.dtype))


def save_adapter(plan: ConversionPlan, directory: Path) -> Path:
    """The LoRA as a PEFT adapter folder for our model (names as `get_peft_model(AffectGPTFor...)` gives them)."""
    import torch
    from safetensors.torch import save_file

    from affectgpt.presets import lora_config

    try:
        config = lora_config(r=plan.lora_r, lora_alpha=plan.lora_alpha, modules_to_save=None)
    except ImportError as err:
        raise ConversionError(f"--keep-adapter needs peft (pip install 'affectgpt[train]'): {err}") from None
    directory.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(str(directory))
    tensors = {}
    for key, (a, b) in plan.lora.items():
        stem = f"base_model.model.{key.removesuffix('.weight')}"
        tensors[f"{stem}.lora_A.weight"] = a.to(torch.float32).contiguous()
        tensors[f"{stem}.lora_B.weight"] = b.to(torch.float32).contiguous()
    save_file(tensors, str(directory / "adapter_model.safetensors"), metadata={"format": "pt"})
    return directory


# ----------------------------------------------------------------------------------------------------------------
# Model card and the whole conversion
# ----------------------------------------------------------------------------------------------------------------
def model_card(ckpt: OfficialCheckpoint, plan: ConversionPlan, sources: dict, options: dict) -> str:
    """README.md of the converted folder: provenance (file + sha256), license terms, intended use."""
    config = plan.config
    base = [src for src in sources.values() if src and not Path(src).exists()]
    front = [
        "---",
        "license: other",
        "license_name: affectgpt-research-preview",
        "library_name: transformers",
    ]
    front += [
        "pipeline_tag: video-text-to-text",
        "tags:",
        "  - affectgpt",
        "  - emotion-recognition",
        "  - multimodal",
    ]
    if base:
        front += ["base_model:", *(f"  - {src}" for src in base)]
    front.append("---")
    if plan.lora:
        lora = (
            f"LoRA r={plan.lora_r}, α={plan.lora_alpha:g} (α: {plan.lora_alpha_source}) on {len(plan.lora)} LLM "
            + (
                "linears, merged into the weights."
                if options["merge_lora"]
                else f"linears, kept as a PEFT adapter in `{ADAPTER_DIR}/`."
            )
        )
    else:
        lora = "No LoRA adapters in the checkpoint (the LLM is used as released)."
    skipped = "\n".join(f"- `{k}`: {why}" for k, why in sorted(plan.skipped.items())) or "- none"
    notes = "\n".join(f"- {n}" for n in plan.notes) or "- none"
    sources_md = "\n".join(
        f"- {kind}: `{src}`"
        if src
        else f"- {kind}: random initialisation (preset `{options['preset']}`, seeded)"
        for kind, src in sources.items()
    )
    usage = (
        "```python\nfrom transformers import AutoModelForImageTextToText, AutoProcessor\n\n"
        'model = AutoModelForImageTextToText.from_pretrained("PATH", trust_remote_code=True)\n'
        'processor = AutoProcessor.from_pretrained("PATH", trust_remote_code=True)\n```\n'
    )
    if not options["merge_lora"] and plan.lora:
        usage += f'\nThe LoRA is not merged: `PeftModel.from_pretrained(model, "PATH/{ADAPTER_DIR}")` (peft) applies it.\n'
    return f"""{chr(10).join(front)}

# AffectGPT ({config.visual_input} variant), converted from the official checkpoint

AffectGPT (Lian et al., *AffectGPT: A New Dataset, Model, and Benchmark for Emotion Understanding with Multimodal
Large Language Models*, ICML 2025, arXiv 2501.16566) describes a person's emotional state from a short video:
{config.visual_input}s + audio + subtitle. This folder was produced by `affectgpt convert` from the authors' released
weights; the computation is the official one (raw attention pooling, attention pre-fusion, placeholder scatter).

## Source

- checkpoint file: `{ckpt.path.name}`
- sha256: `{ckpt.sha256}`
- epoch: {ckpt.epoch if ckpt.epoch is not None else "not recorded"}
- official code: github.com/zeroQiaoba/AffectGPT (weights: HF `MERChallenge/AffectGPT`)

Base models (not part of the checkpoint, loaded when converting):
{sources_md}

## Conversion

- architecture: video pooling `{config.video_fusion}`, audio pooling `{config.audio_fusion}`, pre-fusion
  `{config.multi_fusion}`, visual input `{config.visual_input}`, dtype `{options["dtype"]}`
- {lora}
- official keys skipped on purpose:
{skipped}
- notes:
{notes}

## Usage

{usage}
## License

The authors release AffectGPT under **Apache-2.0** terms as a **research preview for non-commercial use only**;
these converted weights carry the same terms. The training data (MER-Caption+, `MERChallenge/MER2025`) is
CC BY-NC 4.0 for academic use. The base models keep their own licenses (see their model cards). Check the terms
of the original release before any use; nothing here grants more than the authors did.

## Intended use

Research on multimodal emotion understanding: describing emotional cues and open-vocabulary emotion labels of
people in short clips, and benchmarking (MER-UniBench). Out of scope: commercial use, surveillance or
profiling of people, and decisions about individuals (hiring, health, law enforcement, education). Emotion
inferred from faces and voices is uncertain and culturally dependent, and the model can be wrong or biased.
"""


def convert(
    checkpoint: str | Path,
    out: str | Path,
    *,
    preset: str = "official",
    vision: str | None = None,
    audio: str | None = None,
    llm: str | None = None,
    merge_lora_weights: bool = True,
    dtype: str = "bf16",
    visual_input: str | None = None,
    fusion: str | None = None,
    lora_alpha: float | None = None,
    overwrite: bool = False,
    log=print,
) -> Path:
    """Convert `checkpoint` into the model folder `out` (model + processor + README.md); returns `out`."""
    from affectgpt.presets import add_auto_map, processor_for, set_generation_defaults
    from dataset_scripts.writer import staging

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConversionError(f"--out {out} is a file; give a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConversionError(f"{out} exists and is not empty (pass --overwrite to replace it)")
    torch_dtype = _torch_dtype(dtype)
    ckpt = load_official_checkpoint(checkpoint)
    log(f"read {ckpt.path.name}: {len(ckpt.state_dict)} tensors, sha256 {ckpt.sha256[:16]}...")
    sources = resolve_sources(preset, vision, audio, llm)
    config, notes = build_target_config(ckpt, preset, sources, visual_input=visual_input, fusion=fusion)
    plan = plan_conversion(ckpt, config, lora_alpha=lora_alpha)
    plan.notes[:0] = notes
    if plan.lora and plan.lora_alpha_source.startswith("official"):
        plan.notes.append(
            f"lora_alpha is not stored in the checkpoint: using the official value {OFFICIAL_LORA_ALPHA:g}"
        )
    for key, why in plan.skipped.items():
        log(f"skipped {key}: {why}")
    for note in plan.notes:
        log(f"note: {note}")

    model = assemble_model(plan, sources, torch_dtype)
    if merge_lora_weights:
        merge_lora(model, plan)
    refuse_non_finite(model.state_dict(), "the converted model")  # base weights, or a merge that overflowed
    processor = processor_for(config)
    set_generation_defaults(model, processor.tokenizer)
    add_auto_map(model.config)
    options = {"preset": preset, "merge_lora": merge_lora_weights, "dtype": dtype}
    # Written into a temp folder beside `out` and renamed into place: a kill mid-save leaves `out` as it was,
    # and --overwrite replaces the whole folder (no adapter of an earlier --keep-adapter run stays behind).
    try:
        with staging(out, overwrite=True) as tmp:
            _write_folder(tmp, model, processor, ckpt, plan, sources, options, merge_lora_weights)
    except OSError as err:
        raise ConversionError(f"cannot write {out}: {err.strerror or err}") from None
    log(f"saved {out}")
    return out


def _write_folder(out: Path, model, processor, ckpt, plan, sources, options, merge_lora_weights) -> None:
    import json

    model.save_pretrained(out)
    processor.save_pretrained(out)
    if plan.lora and not merge_lora_weights:
        save_adapter(plan, out / ADAPTER_DIR)
    (out / "README.md").write_text(model_card(ckpt, plan, sources, options), encoding="utf-8")
    provenance = {
        "checkpoint": ckpt.path.name,
        "sha256": ckpt.sha256,
        "epoch": ckpt.epoch,
        "sources": sources,
        "lora": {
            "r": plan.lora_r,
            "alpha": plan.lora_alpha,
            "alpha_source": plan.lora_alpha_source,
            "modules": len(plan.lora),
            "merged": merge_lora_weights,
        },
        "skipped": plan.skipped,
        "notes": plan.notes,
        **options,
    }
    (out / "conversion.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
