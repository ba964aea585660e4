"""The label list with the highest expected EW F-score against a list the official LLM would write.

The keep rule gives, per answer word j, the probability p_j that the official LLM keeps it. Keeping exactly the
words with p_j >= 1/2 is not what scores best: the fine-grained metric compares *sector sets* per wheel, so a
word whose sectors an earlier word already covers costs nothing, and a word with a sector of its own trades
precision (if the LLM drops it) against recall (if it keeps it). With the official list Y drawn word by word
(independent Bernoulli(p_j)), this picks the subset S of the answer words that maximises

    E_Y[ sum_w 1{Y_w != {}} * (|Y_w ∩ S_w| / |S_w| + |Y_w ∩ S_w| / |Y_w|) ]          (w: the five wheels)

where Y_w, S_w are the sector sets on wheel w (|S_w| = 0 scores precision 0, as officially; samples whose
reference maps to nothing are skipped, as officially). The F-score is the harmonic mean of the mean precision and
the mean recall; both are close to 1, where it moves with their sum, so precision and recall weigh the same.
Both terms are sums over the sectors b of S_w, which makes the expectation exact in O(2^k * k) per wheel rather
than O(4^k): E[precision] = sum_b P(b in Y_w) / |S_w| and E[recall] = sum_b E[1{b in Y_w} / |Y_w|] (0 when
Y_w is empty), and neither probability depends on S. The 2^k candidate subsets (and official ones) are
enumerated for k <= MAX_WORDS; longer lists (4 of the 32,872 official answers) keep the caller's threshold rule."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..mer_unibench.scores import popcount

__all__ = ["MAX_WORDS", "best_subset", "expected_scores"]

# 2^12 subsets x 12 sectors x 5 wheels is ~0.25M entries; the longest official answer list has 16 words.
MAX_WORDS = 12


def _subset_or(bits: np.ndarray) -> np.ndarray:
    """bits (k, W) -> (2^k, W): the OR of the rows of every subset (bit j of the subset index = row j)."""
    k, wheels = bits.shape
    out = np.zeros((1 << k, wheels), dtype=bits.dtype)
    for j in range(k):
        out[1 << j : 1 << (j + 1)] = out[: 1 << j] | bits[j]
    return out


def _subset_prob(p: np.ndarray) -> np.ndarray:
    """p (k,) -> (2^k,): P(the kept words are exactly the subset), words independent."""
    out = np.ones(1)
    for pj in p:
        out = np.concatenate([out * (1 - pj), out * pj])
    return out


def expected_scores(bits: np.ndarray, p: Sequence[float]) -> np.ndarray:
    """bits (k, W) uint64 sector bits per word and wheel (0: no sector), p (k,) keep probabilities ->
    (2^k,) the expectation above for every candidate subset S (indexed like `_subset_or`)."""
    bits = np.asarray(bits, dtype=np.uint64)
    p = np.asarray(p, dtype=np.float64)
    if bits.ndim != 2 or bits.shape[0] != p.shape[0]:
        raise ValueError(f"bits must be (k, wheels) with k = len(p) = {p.shape[0]}, got {bits.shape}")
    masks = _subset_or(bits)  # (2^k, W): the same table serves Y (official) and S (ours)
    prob = _subset_prob(p)  # (2^k,)
    n = popcount(masks).astype(np.float64)  # (2^k, W) sectors per subset and wheel
    # Each sector once: word j stands for its sector on wheel w unless an earlier word has the same one.
    k = bits.shape[0]
    earlier = np.tril(np.ones((k, k), dtype=bool), -1)  # [j, i]: i < j
    repeated = ((bits.T[:, :, None] == bits.T[:, None, :]) & earlier).any(axis=2)  # (W, k)
    owner = (bits.T != 0) & ~repeated  # (W, k)
    member = ((masks[:, :, None] & bits.T[None, :, :]) != 0) & owner  # (2^k, W, k): sector in subset
    with np.errstate(divide="ignore", invalid="ignore"):
        per_size = np.where(n > 0, prob[:, None] / n, 0.0)  # P(Y) / |Y_w|, 0 for an empty Y_w
        present = np.einsum("s,swk->wk", prob, member)  # P(sector in Y_w)
        share = np.einsum("sw,swk->wk", per_size, member)  # E[1{sector in Y_w} / |Y_w|]
        precision = np.where(n > 0, np.einsum("swk,wk->sw", member, present) / n, 0.0)
    recall = np.einsum("swk,wk->sw", member, share)
    return (precision + recall).sum(axis=1)


def best_subset(bits: np.ndarray, p: Sequence[float], prefer: int) -> int:
    """The subset (as a bit mask over the words) with the highest `expected_scores`; `prefer` (the caller's
    threshold choice) wins ties, so words that change no sector set are decided by the caller's rule."""
    scores = expected_scores(bits, p)
    best = scores.max()
    return prefer if scores[prefer] >= best - 1e-12 else int(np.argmax(scores))
