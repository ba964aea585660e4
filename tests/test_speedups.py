"""affectgpt.speedups: the opt-in packed CPU LM head and de-duplicated, chunked audio tower give the plain
model's results, stay inside their `with` block, and fall back to the stock modules where they do not apply."""

from __future__ import annotations

import pytest
import torch

import affectgpt.speedups as speedups
from affectgpt.presets import build_model
from affectgpt.speedups import generation_speedups, packable
from tests.conftest import TINY_TEST_MODEL, tiny_test_media


@pytest.fixture(scope="module")
def model():
    return build_model("tiny", seed=0, **TINY_TEST_MODEL).eval()


@pytest.fixture
def onednn_calls(monkeypatch):
    """Counts of oneDNN's reorder (packing) and packed-linear calls."""
    counts = {"_reorder_linear_weight": 0, "_linear_pointwise": 0}
    for name in counts:
        op = getattr(torch.ops.mkldnn, name)

        def spy(*args, _op=op, _name=name):
            counts[_name] += 1
            return _op(*args)

        monkeypatch.setattr(torch.ops.mkldnn, name, spy)
    return counts


def _ids(rows: int) -> torch.Tensor:
    return torch.tensor([[151644, 11, 101 + i, 102, 103] for i in range(rows)])


needs_onednn = pytest.mark.skipif(
    not speedups._onednn_linear_available(), reason="this PyTorch build has no oneDNN linear"
)


@needs_onednn
@pytest.mark.parametrize("rows, keep", [(1, 1), (1, 2), (3, 2)])
def test_packed_head_logits_match_the_stock_head(model, onednn_calls, rows, keep):
    assert packable(model.lm_head)
    with torch.no_grad():
        want = model(input_ids=_ids(rows), logits_to_keep=keep).logits
        with generation_speedups(model):
            got = model(input_ids=_ids(rows), logits_to_keep=keep).logits
    assert onednn_calls == {"_reorder_linear_weight": 1, "_linear_pointwise": 1}
    assert got.shape == want.shape == (rows, keep, model.config.text_config.vocab_size)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert torch.equal(got.argmax(-1), want.argmax(-1))


@needs_onednn
def test_packed_head_is_made_on_entry_and_falls_back_where_it_does_not_apply(model, onednn_calls):
    """One packing per `with`, shared by its calls; training-style calls and a weight written in place inside
    take the stock linear; on exit the model is its plain self again (nothing saved, nothing left behind)."""
    ids = _ids(2)
    keys = list(model.state_dict())
    weight = model.lm_head.weight
    saved = weight.detach().clone()

    def logits():
        with torch.no_grad():
            return model(input_ids=ids, logits_to_keep=1).logits

    try:
        with generation_speedups(model):
            first, second = logits(), logits()
            assert onednn_calls == {"_reorder_linear_weight": 1, "_linear_pointwise": 2}
            assert torch.equal(first, second)
            # Grad mode (training, scoring with gradients): the stock head, gradients reach its weight.
            assert model(input_ids=ids, labels=ids).loss.requires_grad
            assert onednn_calls["_linear_pointwise"] == 2
            with torch.no_grad():
                weight.mul_(
                    torch.linspace(0.5, 2.0, weight.shape[0]).unsqueeze(1)
                )  # the version counter moves
            changed = logits()
            assert onednn_calls["_linear_pointwise"] == 2  # stale packed copy not used
        assert "forward" not in vars(model.lm_head) and "forward" not in vars(model.model.audio_tower)
        assert list(model.state_dict()) == keys
        torch.testing.assert_close(changed, logits())  # the plain model under the changed weight
        assert not torch.allclose(changed, first)
        # A change through `.data` (invisible to the version counter) between two runs is seen: packed on entry.
        weight.data.copy_(saved)
        with generation_speedups(model):
            torch.testing.assert_close(logits(), first, rtol=1e-5, atol=1e-5)
        assert onednn_calls["_reorder_linear_weight"] == 2
    finally:
        with torch.no_grad():
            weight.copy_(saved)


def test_other_heads_are_left_alone(model, monkeypatch):
    bf16 = torch.nn.Linear(4, 8, bias=False).to(torch.bfloat16)
    biased = torch.nn.Linear(4, 8)
    assert not packable(bf16) and not packable(biased)
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)  # the user's switch for oneDNN
    assert not packable(model.lm_head)
    with generation_speedups(model):
        assert "forward" not in vars(model.lm_head)


def test_audio_tower_encodes_each_distinct_clip_once_in_bounded_chunks(model, monkeypatch):
    """Audio no longer than one clip repeats one clip C times (and a sample without audio is zeros): each
    distinct clip goes through the tower once, at most AUDIO_CLIPS_PER_CALL per call; the features equal the
    plain model's."""
    inner = model.model
    feats = tiny_test_media(3, seed=5)["input_features"]  # (3, 4, S)
    feats[0] = feats[0, :1]  # sample 0: one clip repeated 4 times
    feats[2] = 0.0  # sample 2: no audio
    with torch.no_grad():
        want = inner.get_audio_features(feats)  # (3, 4, d_a)
        seen = []
        stock = type(inner.audio_tower).forward

        def spy(self, input_values, *args, **kwargs):
            seen.append(input_values.shape[0])
            return stock(self, input_values, *args, **kwargs)

        monkeypatch.setattr(type(inner.audio_tower), "forward", spy)
        monkeypatch.setattr(speedups, "AUDIO_CLIPS_PER_CALL", 4)
        with generation_speedups(model, packed_head=False):
            got = inner.get_audio_features(feats)
    assert seen == [4, 2]  # 1 + 4 + 1 distinct clips
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_overlapping_blocks_leave_the_patch_to_the_one_that_made_it(model):
    """Two blocks open at once (the Space streams from several threads): the second leaves the modules alone,
    closing either one in any order raises nothing, and the model is plain after both."""
    outer, inner = generation_speedups(model), generation_speedups(model)
    outer.__enter__()
    inner.__enter__()
    assert "forward" in vars(model.model.audio_tower)
    outer.__exit__(None, None, None)  # the block that patched closes first
    assert "forward" not in vars(model.model.audio_tower)
    inner.__exit__(None, None, None)
    assert "forward" not in vars(model.model.audio_tower) and "forward" not in vars(model.lm_head)
