"""One model assembly from pretrained parts, shared by `presets.build_model` (the start of training) and
`affectgpt convert` (the same parts under an official checkpoint's fusion weights).

The model is built on the meta device, so nothing is allocated for the parts a source fills. Each pretrained
part (CLIP vision, HuBERT-family audio, causal LM) is loaded once, in the target dtype, and put in as it is: no
random copy is built to be overwritten, so a 7B LLM is held in memory once. Parts without a source are built from
their config (seeded). The pooling, projector and pre-fusion layers come from `weights` when given, otherwise they
are initialised as the model's own `post_init` does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "AssemblyError",
    "BASE_PREFIXES",
    "assemble_model",
    "clip_vision_config",
    "default_dtype",
    "load_pretrained_part",
    "source_configs",
]

# State-dict prefixes of the parts a source fills; everything else is fusion (pooling/projectors/pre-fusion).
BASE_PREFIXES = ("model.vision_tower.", "model.audio_tower.", "model.language_model.", "lm_head.")
_BASE_CHILDREN = ("vision_tower", "audio_tower", "language_model")

# `guard(what, source, loader)` runs `loader(source)`; convert passes one that turns a failure into a one-line
# error naming the option, presets let the loader's own error through.
Guard = Callable[[str, str, Callable[[str], Any]], Any]


def _unguarded(what: str, source: str, loader: Callable[[str], Any]) -> Any:
    return loader(source)


class AssemblyError(ValueError):
    """A pretrained part does not fit the configuration, or a weight was left unset."""


@contextlib.contextmanager
def default_dtype(dtype) -> Iterator[None]:
    """Construct modules in `dtype` directly (the official preset is 33 GB in float32, 16.5 GB in bf16)."""
    import torch

    previous = torch.get_default_dtype()
    if dtype is not None and dtype.is_floating_point:
        torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def clip_vision_config(source: str):
    """CLIPVisionConfig of a CLIP vision folder or of a full CLIPModel folder (openai/clip-vit-large-patch14).

    A CLIPModel keeps `projection_dim` at its top level; CLIPVisionConfig.from_pretrained does not carry it over
    to the vision sub-config (which then says 512), and from_pretrained would re-initialise the projection."""
    from transformers import AutoConfig, CLIPVisionConfig

    config = AutoConfig.from_pretrained(source)
    if isinstance(config, CLIPVisionConfig):
        return config
    vision = getattr(config, "vision_config", None)
    if not isinstance(vision, CLIPVisionConfig):
        raise ValueError(f"{source!r} is not a CLIP model (model_type {config.model_type!r})")
    vision.projection_dim = config.projection_dim
    return vision


def source_configs(sources: dict[str, str | None], guard: Guard = _unguarded) -> dict[str, Any]:
    """The sub-configs (`vision_config`, `audio_config`, `text_config`) of the given sources, as config overrides."""
    from transformers import AutoConfig

    configs = {}
    if sources.get("vision"):
        configs["vision_config"] = guard("vision tower config", sources["vision"], clip_vision_config)
    if sources.get("audio"):
        configs["audio_config"] = guard("audio tower config", sources["audio"], AutoConfig.from_pretrained)
    if sources.get("llm"):
        text = guard("llm config", sources["llm"], AutoConfig.from_pretrained)
        configs["text_config"] = getattr(text, "text_config", text)
    return configs


def load_pretrained_part(cls, source: str, config, dtype=None):
    """`cls.from_pretrained(source, config=config)`, refusing a checkpoint that leaves weights missing or
    mis-shaped (from_pretrained only warns about those and fills them randomly)."""
    model, info = cls.from_pretrained(source, config=config, dtype=dtype, output_loading_info=True)
    bad = [f"missing {k}" for k in info.get("missing_keys", [])]
    bad += [f"shape mismatch {m[0] if isinstance(m, tuple) else m}" for m in info.get("mismatched_keys", [])]
    if bad:
        shown = ", ".join(sorted(bad)[:10]) + (f" (+{len(bad) - 10} more)" if len(bad) > 10 else "")
        raise ValueError(f"{source} does not fully fill {cls.__name__}: {shown}")
    return model


def assemble_model(
    config,
    sources: dict[str, str | None],
    *,
    dtype=None,
    seed: int | None = 0,
    weights: dict | None = None,
    guard: Guard = _unguarded,
):
    """`AffectGPTForConditionalGeneration(config)` with the parts of `sources` ("vision", "audio", "llm": Hub ids
    or local folders; None = random from the config, seeded) and `weights` (our state-dict names; when given they
    must hold every fusion weight, and may override LLM weights). Returns the model in eval mode, in `dtype`
    (default: torch's default dtype)."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, CLIPVisionModelWithProjection

    from modeling_affectgpt import AffectGPTForConditionalGeneration

    dtype = dtype if dtype is not None else torch.get_default_dtype()
    with torch.device("meta"):
        model = AffectGPTForConditionalGeneration(config)
    if seed is not None:
        torch.manual_seed(seed)

    def part(kind: str, cls, sub_config, random: Callable[[], Any]):
        if sources.get(kind):
            return guard(
                f"{kind} weights",
                sources[kind],
                lambda src: load_pretrained_part(cls, src, sub_config, dtype),
            )
        with default_dtype(dtype):
            return random()

    vision = part(
        "vision",
        CLIPVisionModelWithProjection,
        config.vision_config,
        lambda: CLIPVisionModelWithProjection(config.vision_config),
    )
    audio = part("audio", AutoModel, config.audio_config, lambda: AutoModel.from_config(config.audio_config))
    # None: the LLM folder's own config (its text config is already ours, see `source_configs`).
    causal = part(
        "llm", AutoModelForCausalLM, None, lambda: AutoModelForCausalLM.from_config(config.text_config)
    )
    for name, module in zip(_BASE_CHILDREN, (vision, audio, causal.base_model), strict=True):
        expected = type(getattr(model.model, name))
        if type(module) is not expected:
            raise AssemblyError(
                f"{name}: got {type(module).__name__}, the configuration builds {expected.__name__}"
            )
        setattr(model.model, name, module)
    # The causal LM's own head: for a tied LLM it shares the embedding matrix, as our tied config expects.
    model.lm_head = causal.get_output_embeddings()
    for tower in (model.model.vision_tower, model.model.audio_tower):
        tower.requires_grad_(False)

    fusion = {name: child for name, child in model.model.named_children() if name not in _BASE_CHILDREN}
    for name, child in fusion.items():
        if next(child.buffers(), None) is not None:
            # to_empty leaves buffers uninitialised and neither path below fills a non-persistent one.
            raise AssemblyError(f"internal: fusion module {name} has buffers, which the assembly cannot set")
        child.to_empty(device="cpu")
        if weights is None:
            _init_like_post_init(model, child)
    if weights is not None:
        _put_weights(model, weights)
    still_meta = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if still_meta:
        shown = ", ".join(still_meta[:10]) + (
            f" (+{len(still_meta) - 10} more)" if len(still_meta) > 10 else ""
        )
        raise AssemblyError(f"internal: weights left unset ({len(still_meta)}): {shown}")
    model.to(dtype)
    model.config.dtype = dtype
    return model.eval()


def _init_like_post_init(owner, module) -> None:
    """Random-initialise freshly materialised `module` the way `post_init` does: children first, each with the
    `_init_weights` of the nearest PreTrainedModel (a Q-Former's own, otherwise AffectGPT's). transformers'
    `initialize_weights` cannot be used here: it skips modules that the meta-device `post_init` marked as done."""
    from transformers import PreTrainedModel

    for child in module.children():
        _init_like_post_init(child if isinstance(child, PreTrainedModel) else owner, child)
    owner._init_weights(module)


def _put_weights(model, weights: dict) -> None:
    """Fusion tensors are assigned as they are (they replace empty storage); LLM overrides are copied in."""
    import torch

    fusion = {k: v for k, v in weights.items() if not k.startswith(BASE_PREFIXES)}
    result = model.load_state_dict(fusion, strict=False, assign=True)
    missing = [k for k in result.missing_keys if not k.startswith(BASE_PREFIXES)]
    if result.unexpected_keys or missing:
        raise AssemblyError(
            f"internal: weights do not fit: unexpected {result.unexpected_keys}, missing {missing}"
        )
    with torch.no_grad():
        for key, tensor in weights.items():
            if key.startswith(BASE_PREFIXES):
                model.get_parameter(key).copy_(tensor)
