"""The one model assembly (`affectgpt.assembly`): pretrained parts are put in once (no random copy built and
overwritten), the remaining layers are initialised as `post_init` does, and the plain presets keep their seeds."""

from __future__ import annotations

import pytest
import torch

from affectgpt.presets import build_config, build_model
from modeling_affectgpt import AffectGPTForConditionalGeneration
from tests.conftest import save_tiny_parts

# Small fusion sizes: the official defaults (1024-wide pre-fusion, BERT-base Q-Formers) would dwarf the tiny parts.
SMALL = {"fusion_hidden_size": 64, "qformer_hidden_size": 32, "qformer_num_heads": 2, "qformer_num_layers": 2}
QFORMERS = {"video_fusion": "qformer", "audio_fusion": "qformer", "multi_fusion": "qformer"}
_BASE = ("vision_tower.", "audio_tower.", "language_model.", "lm_head.")


@pytest.fixture(scope="module")
def part_folders(tmp_path_factory):
    return save_tiny_parts(tmp_path_factory.mktemp("parts"))


def _fusion(model) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if not k.removeprefix("model.").startswith(_BASE)}


def test_pretrained_parts_are_built_once(part_folders, monkeypatch):
    """build_model(llm=...) used to build a random LLM (and towers) and copy the loaded ones into it: two
    materialised copies of each. Now every instance but the loaded one stays on the meta device."""
    from transformers import CLIPVisionModelWithProjection, HubertModel, Qwen2Model

    made: dict[type, list] = {}
    for cls in (Qwen2Model, CLIPVisionModelWithProjection, HubertModel):
        init = cls.__init__

        def spy(self, *args, _init=init, _cls=cls, **kwargs):
            made.setdefault(_cls, []).append(self)
            _init(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", spy)
    model = build_model("official", **part_folders, **SMALL)
    held = {
        Qwen2Model: model.model.language_model,
        CLIPVisionModelWithProjection: model.model.vision_tower,
        HubertModel: model.model.audio_tower,
    }
    for cls, instances in made.items():
        # HuBERT's masked_spec_embed (hidden_size floats) is made by the legacy torch.Tensor(), which ignores the
        # meta device context; a copy counts as materialised once most of its weights are real.
        materialised = [m for m in instances if _real_fraction(m) > 0.5]
        assert len(materialised) == 1 and materialised[0] is held[cls], (cls.__name__, len(materialised))
    assert model.lm_head.weight is model.model.language_model.embed_tokens.weight  # the tiny LLM is tied


def _real_fraction(module) -> float:
    sizes = [(p.numel(), not p.is_meta) for p in module.parameters()]
    return sum(n for n, real in sizes if real) / sum(n for n, _ in sizes)


def test_fusion_layers_are_initialised_as_post_init_does(part_folders):
    """Same init as constructing the whole model: constant tensors (biases, norms) equal, random ones at the
    same scale, for attention and Q-Former (Blip2QFormerModel's own _init_weights) fusion."""
    for overrides in ({}, QFORMERS):
        assembled = _fusion(build_model("official", **part_folders, seed=1, **SMALL, **overrides))
        torch.manual_seed(1)
        plain = _fusion(AffectGPTForConditionalGeneration(_config(part_folders, **SMALL, **overrides)))
        assert assembled.keys() == plain.keys() and assembled
        for name, reference in plain.items():
            got = assembled[name]
            assert got.shape == reference.shape and got.dtype == reference.dtype, name
            if bool((reference == reference.flatten()[0]).all()):
                assert torch.equal(got, reference), name
            elif reference.numel() >= 512:
                ratio = got.std().item() / reference.std().item()
                assert 0.8 < ratio < 1.25, (name, ratio)
                assert abs(got.mean().item()) < 3 * reference.std().item() / reference.numel() ** 0.5 + 1e-3


def test_assembly_is_seeded(part_folders):
    first = _fusion(build_model("official", **part_folders, seed=2, **SMALL))
    again = _fusion(build_model("official", **part_folders, seed=2, **SMALL))
    other = _fusion(build_model("official", **part_folders, seed=3, **SMALL))
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_plain_preset_keeps_its_random_init():
    """No sources: the model is constructed as a whole, so a seed gives the weights it always gave."""
    torch.manual_seed(0)
    expected = AffectGPTForConditionalGeneration(build_config("tiny")).state_dict()
    got = build_model("tiny", seed=0).state_dict()
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[k], expected[k]) for k in expected)


def test_assembly_casts_and_checks_the_parts(part_folders):
    import copy

    from transformers import LlamaConfig

    from affectgpt.assembly import AssemblyError, assemble_model

    config = _config(part_folders, **SMALL)
    model = assemble_model(config, part_folders, dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16} and not model.training
    # A causal LM of another family than the config's text model is refused, naming both classes.
    wrong = copy.deepcopy(config)
    sizes = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
    wrong.text_config = LlamaConfig(
        **{k: getattr(config.text_config, k) for k in sizes}, num_key_value_heads=2
    )
    with pytest.raises(
        AssemblyError, match="language_model: got Qwen2Model, the configuration builds LlamaModel"
    ):
        assemble_model(wrong, part_folders)


def _config(folders, **overrides):
    from affectgpt.assembly import source_configs

    return build_config("official", **overrides, **source_configs(folders))
