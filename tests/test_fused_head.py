"""The CPU fused head (affectgpt.train.fused_head) against the full-logit loss and TRL's own fused head."""

from __future__ import annotations

import functools
import inspect

import pytest
import torch
from trl.trainer import add_fused_lm_head

from affectgpt.presets import build_model
from affectgpt.train import fused_head
from affectgpt.train.fused_head import add_compact_fused_head
from tests.conftest import TINY_TEST_MODEL, tiny_test_media

FRAME, AUDIO, MULTI, IM_START, EOS = 151667, 151666, 151669, 151644, 151645
OUTPUTS = ("log_probs", "entropy", "is_top1")


def _batch():
    """Two right-padded rows with media, prompts of different lengths, answers supervised at different positions."""
    head = [IM_START, 11, 12, MULTI, 13, 14, AUDIO, 15, 16, FRAME, 17]
    rows = [head + [101, 102, 103, 104, 105, 106, EOS], head + [201, 202, 203, 204, EOS]]
    answers = [(14, 18), (12, 16)]  # [start, end) of each row's supervised labels
    width = max(map(len, rows))
    ids = torch.full((2, width), EOS)
    mask = torch.zeros((2, width), dtype=torch.long)
    labels = torch.full((2, width), -100)
    for i, (row, (start, end)) in enumerate(zip(rows, answers)):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
        labels[i, start:end] = ids[i, start:end]
    return {"input_ids": ids, "attention_mask": mask, **tiny_test_media(2, seed=3)}, labels


@functools.cache
def _models(temperature=1.0, outputs=OUTPUTS):
    """(TRL's fused head, the same weights with the CPU head on top); built once per test process."""
    # Two builds, not a deep copy: the copy's fused head would still call the original's forward.
    trl_model, ours = (
        build_model("tiny", seed=0, dtype=torch.float32, **TINY_TEST_MODEL).eval() for _ in "ab"
    )
    for model in (trl_model, ours):
        add_fused_lm_head(model, temperature=temperature, outputs=outputs)
    add_compact_fused_head(ours, temperature=temperature, outputs=outputs)
    return trl_model, ours


def _zero_grads(*models):
    for model in models:
        model.zero_grad(set_to_none=True)


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_loss_and_gradients_equal_the_full_logit_loss():
    trl_model, ours = _models()
    _zero_grads(trl_model, ours)
    inputs, labels = _batch()
    # The model's own forward: every position's logits, its own loss.
    full = trl_model(**inputs, labels=labels)
    assert full.logits.shape[1] == labels.shape[1]
    full.loss.backward()
    out = ours(**inputs, labels=labels, fused_lm_head=True)
    out.loss.backward()
    torch.testing.assert_close(out.loss, full.loss, rtol=1e-5, atol=1e-6)
    expected, got = _grads(trl_model), _grads(ours)
    # lm_head is tied to the input embedding: its gradient is that one's.
    assert expected.keys() == got.keys() and "model.language_model.embed_tokens.weight" in got
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6, msg=name)

    # The per-token fields from the full logits: zero where the label is -100.
    shifted = labels[:, 1:]
    supervised = shifted != -100
    log_softmax = full.logits[:, :-1].detach().log_softmax(-1)
    log_probs = log_softmax.gather(-1, shifted.clamp(min=0).unsqueeze(-1)).squeeze(-1) * supervised
    entropy = -(log_softmax.exp() * log_softmax).sum(-1) * supervised
    top1 = (full.logits[:, :-1].argmax(-1) == shifted) & supervised
    assert torch.equal(out.label_mask, supervised)
    torch.testing.assert_close(out.log_probs.detach(), log_probs, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.entropy.detach(), entropy, rtol=1e-5, atol=1e-6)
    assert torch.equal(out.is_top1, top1)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_fields_equal_trls_fused_head(temperature):
    trl_model, ours = _models(temperature)
    inputs, labels = _batch()
    expected = trl_model(**inputs, labels=labels, fused_lm_head=True)
    got = ours(**inputs, labels=labels, fused_lm_head=True)
    for name in ("loss", "log_probs", "entropy"):
        torch.testing.assert_close(
            getattr(got, name), getattr(expected, name), rtol=1e-5, atol=1e-5, msg=name
        )
    assert torch.equal(got.is_top1, expected.is_top1.bool())
    assert torch.equal(got.label_mask, expected.label_mask)
    assert got.log_sum_sq_probs is None and got.mean_logits is None  # not asked for, as in TRL's head
    # `num_items_in_batch` divides the summed loss, as in TRL's head.
    with_count = ours(**inputs, labels=labels, fused_lm_head=True, num_items_in_batch=torch.tensor(20))
    torch.testing.assert_close(with_count.loss, -got.log_probs.sum() / 20)


def test_only_the_supervised_positions_reach_the_head(monkeypatch):
    """The point of the CPU head: the 151,670-word projection runs on the answer tokens, not on every position."""
    _, ours = _models()
    inputs, labels = _batch()
    kernel, rows = fused_head.ChunkedLogProbFunction, []

    class _Counting:
        @staticmethod
        def apply(hidden, *rest):
            rows.append(hidden.shape[0])
            return kernel.apply(hidden, *rest)

    monkeypatch.setattr(fused_head, "ChunkedLogProbFunction", _Counting)
    ours(**inputs, labels=labels, fused_lm_head=True)
    assert rows == [int((labels[:, 1:] != -100).sum())] == [8]


def test_a_batch_without_supervised_labels_is_a_differentiable_zero():
    _, ours = _models()
    _zero_grads(ours)
    inputs, labels = _batch()
    out = ours(**inputs, labels=torch.full_like(labels, -100), fused_lm_head=True)
    assert out.loss.item() == 0.0 and not out.label_mask.any()
    out.loss.backward()
    grads = _grads(ours)
    assert grads and not any(grad.any() for grad in grads.values())


def test_without_the_flag_the_forward_is_the_models_own():
    trl_model, ours = _models()
    inputs, labels = _batch()
    torch.testing.assert_close(ours(**inputs).logits, trl_model(**inputs).logits)
    # `generate` validates its kwargs against this signature: it must stay the model's.
    assert "pixel_values_videos" in inspect.signature(ours.forward).parameters


def test_only_the_fields_it_computes_are_accepted():
    model = build_model("tiny", seed=0, **TINY_TEST_MODEL)
    with pytest.raises(ValueError, match="logits"):
        add_compact_fused_head(model, outputs=("log_probs", "logits"))
