"""Inference pipeline: clips -> processor -> batched generation -> text -> emotion words.

One object shared by `affectgpt describe`, `affectgpt bench` and the Space (contract: docs/ARCHITECTURE.md,
"Inference pipeline"). Generation is batched with left padding, greedy by default; `decoding="official"` is the
official sampling (T=1.0, top-p 0.9, <=1200 new tokens), seeded here (the official code is not). Stopping and
answer cleaning are the official ones: the model's generation config stops on the single-token stop words
(eos `<|im_end|>`, "###"), `StopOnIdSequences` (affectgpt/decoding.py) on the two-token ones, and the
processor's `batch_decode` cuts the answer as the official post-processing does.

Clip checking and encoding live in affectgpt/clips.py, the wheel and extractor lookup in
affectgpt/wheel_source.py; this module re-exports them, so `affectgpt.inference` stays the one import."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import StoppingCriteriaList

from affectgpt import EMBEDDED_MODEL_DIR
from affectgpt.clips import TASKS, ClipEncoder, ClipResult, normalize_clip
from affectgpt.decoding import DECODING, StopOnIdSequences
from affectgpt.errors import PipelineError
from affectgpt.remote_code import TRUST_REMOTE_CODE_ENV, hub_code_refs, trust_remote_code_from_env
from affectgpt.wheel_source import find_wheel_dir, load_extractor
from processing.prompts import STOP_STRING, stop_words_ids

__all__ = [
    "DECODING",
    "DEFAULT_MODEL_DIR",
    "TASKS",
    "AffectGPTPipeline",
    "ClipEncoder",
    "ClipResult",
    "PipelineError",
    "find_wheel_dir",
    "load_extractor",
    "normalize_clip",
]

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL_DIR = Path(EMBEDDED_MODEL_DIR)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _pick_device_dtype(device, dtype) -> tuple[torch.device, torch.dtype]:
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise PipelineError(f"unknown device {device!r} (cpu, cuda, cuda:1, mps, ...): {err}") from None
    # torch only finds out when the weights are moved, deep inside `.to()`; say it here in one line.
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise PipelineError(
                f"device {device}: this PyTorch build has no usable CUDA device; use --device cpu"
            )
        if device.index is not None and device.index >= count:
            raise PipelineError(
                f"device {device}: only {count} CUDA device(s) here (cuda:0..cuda:{count - 1})"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise PipelineError(f"device {device}: MPS is not available here; use --device cpu")
    if dtype is None:
        dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    elif isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    return device, dtype


def _resolve_model(
    model: str | os.PathLike | None, trust_remote_code: bool = False
) -> tuple[str, str | None]:
    """`(source, note)`: the folder or Hub id to load, and which model code that runs (None: our own copy).

    Loading an AffectGPT model runs the Python files saved with it (transformers' `trust_remote_code`). That
    needs no opt-in for the embedded default or a local folder the user names, but does for code that would
    come from the Hub, so a mistyped local path is never taken for a Hub id whose code would run."""
    opt_in = f"pass --trust-remote-code or set {TRUST_REMOTE_CODE_ENV}=1"
    if model is None:
        if not (DEFAULT_MODEL_DIR / "config.json").is_file():
            raise PipelineError(
                f"no default model yet ({DEFAULT_MODEL_DIR} is missing); pass --model DIR_OR_REPO"
            )
        return str(DEFAULT_MODEL_DIR), None
    text = str(model)
    path = Path(text).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise PipelineError(f"{path} is not a model folder (no config.json)")
        repos = hub_code_refs(path)
        if repos and not trust_remote_code:
            raise PipelineError(
                f"{path}: its configs run model code from the Hub repo(s) {', '.join(repos)}; {opt_in} to allow it"
            )
        if path.resolve() == DEFAULT_MODEL_DIR.resolve():
            return str(path), None
        where = f" and from the Hub repo(s) {', '.join(repos)}" if repos else ""
        return str(path), f"running the model code in {path.resolve()}{where}"
    if _HUB_ID.match(text) and not text.startswith("."):
        if not trust_remote_code:
            raise PipelineError(
                f"model folder not found: {path} (if you meant the Hub repo {text!r}: loading it downloads and "
                f"runs its code; {opt_in} to allow it)"
            )
        return text, f"downloading and running the model code of the Hub repo {text} (remote code allowed)"
    raise PipelineError(f"model folder not found: {path}")


class AffectGPTPipeline:
    """Load once, then `pipeline(clips, task=...)` -> list[ClipResult] or `pipeline.stream(clip)`."""

    def __init__(
        self,
        model,
        processor,
        extractor=None,
        extractor_note: str | None = None,
        source=None,
        speedups: bool = True,
    ):
        self.model = model.eval()
        # `fixed_weights()` applies affectgpt.speedups (False: the plain model, as the official inference runs).
        self.speedups = speedups
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.extractor = extractor
        # Why emotions are missing when there is no extractor (shown to the user, never a fake word list).
        self.extractor_note = extractor_note
        self.source = source

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike | None = None,
        device=None,
        dtype=None,
        wheel_dir: str | os.PathLike | None = None,
        extractor: bool = True,
        trust_remote_code: bool | None = None,
    ) -> AffectGPTPipeline:
        """`trust_remote_code`: allow model code from the Hub (None: the AFFECTGPT_TRUST_REMOTE_CODE variable)."""
        import sys

        from safetensors import SafetensorError
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if trust_remote_code is None:
            trust_remote_code = trust_remote_code_from_env()
        source, code_note = _resolve_model(model, trust_remote_code)
        if code_note:
            print(f"affectgpt: {code_note}", file=sys.stderr)
        device, dtype = _pick_device_dtype(device, dtype)
        try:
            processor = AutoProcessor.from_pretrained(source, trust_remote_code=True)
            # SDPA on GPU (flash/memory-efficient kernels under bf16); the library default elsewhere.
            attn = {"attn_implementation": "sdpa"} if device.type == "cuda" else {}
            net = AutoModelForImageTextToText.from_pretrained(
                source, trust_remote_code=True, dtype=dtype, **attn
            )
        except (OSError, ValueError, KeyError, SafetensorError) as err:  # SafetensorError: a file cut short
            line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise PipelineError(f"cannot load model {source}: {line}") from err
        net.to(device)
        found, note = load_extractor(wheel_dir) if extractor else (None, "extraction disabled")
        return cls(net, processor, extractor=found, extractor_note=note, source=source)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def encoder(self, task: str = "description") -> ClipEncoder:
        return ClipEncoder(self.processor, task)

    def generation_kwargs(
        self, decoding: str = "greedy", max_new_tokens: int | None = None, prompt_length: int = 0
    ) -> dict[str, Any]:
        if decoding not in DECODING:
            raise PipelineError(f"unknown decoding {decoding!r}; choose one of {', '.join(DECODING)}")
        kwargs = dict(DECODING[decoding])
        if max_new_tokens is not None:
            if max_new_tokens < 1:
                raise PipelineError("max_new_tokens must be >= 1")
            kwargs["max_new_tokens"] = int(max_new_tokens)
        if not kwargs["do_sample"]:
            # The model's generation_config may carry sampling defaults; greedy must not warn about them.
            kwargs.update(temperature=None, top_p=None, top_k=None)
        # eos/pad come from the model's generation config (the official single-token stop words, pad = eos).
        pairs = [seq for seq in stop_words_ids(self.tokenizer) if len(seq) > 1]
        kwargs["stopping_criteria"] = StoppingCriteriaList([StopOnIdSequences(pairs, prompt_length)])
        return kwargs

    @torch.inference_mode()
    def generate(
        self, inputs, decoding: str = "greedy", max_new_tokens: int | None = None, seed: int = 0
    ) -> list[str]:
        """Generate for one encoded batch; returns the answers, cleaned as the official post-processing."""
        inputs = inputs.to(self.device)
        floats = {
            k: v.to(self.dtype) for k, v in inputs.items() if torch.is_tensor(v) and v.is_floating_point()
        }
        inputs.update(floats)
        prompt_length = inputs["input_ids"].shape[1]
        kwargs = self.generation_kwargs(decoding, max_new_tokens, prompt_length)
        if kwargs["do_sample"]:
            torch.manual_seed(seed)  # the official code is unseeded; we make sampled runs repeatable
        out = self.model.generate(**inputs, **kwargs)
        return self.processor.batch_decode(out[:, prompt_length:])

    def extract(self, texts: Iterable[str]) -> tuple[list[list[str] | None], list[str | None]]:
        texts = list(texts)
        if self.extractor is None:
            return [None] * len(texts), [None] * len(texts)
        emotions = [list(words) for words in self.extractor.extract(texts)]
        return emotions, list(self.extractor.to_sentiment(emotions))

    def __call__(
        self,
        clips: Sequence[str | os.PathLike | dict] | str | os.PathLike | dict,
        task: str = "description",
        batch_size: int = 8,
        decoding: str = "greedy",
        max_new_tokens: int | None = None,
        seed: int = 0,
    ) -> list[ClipResult]:
        if isinstance(clips, (str, os.PathLike, dict)):
            clips = [clips]
        clips = [normalize_clip(c) for c in clips]  # fail on a missing file before any generation
        if batch_size < 1:
            raise PipelineError("batch_size must be >= 1")
        encode = self.encoder(task)
        results: list[ClipResult] = []
        with self.fixed_weights():
            for start in range(0, len(clips), batch_size):
                names, inputs = encode(clips[start : start + batch_size])
                # Seed per batch from its position, so a batch's samples do not depend on earlier batches.
                texts = self.generate(inputs, decoding, max_new_tokens, seed=seed + start)
                emotions, sentiments = self.extract(texts)
                for name, text, emo, sent in zip(names, texts, emotions, sentiments):
                    note = None if self.extractor is not None else self.extractor_note
                    results.append(ClipResult(name, text, emo, sent, task=task, note=note))
        return results

    def fixed_weights(self):
        """Context manager for a run of generations on unchanged weights (`__call__`, `stream` and `bench` use
        it): with `speedups` on, the opt-in speed-ups of `affectgpt.speedups` (a oneDNN-packed CPU lm_head made
        once for the run, each distinct audio clip encoded once, in bounded chunks). Same texts either way."""
        if not self.speedups:
            return contextlib.nullcontext()
        from affectgpt.speedups import generation_speedups

        return generation_speedups(self.model)

    def stream(
        self,
        clip: str | os.PathLike | dict,
        task: str = "description",
        decoding: str = "greedy",
        max_new_tokens: int | None = None,
        timeout: float | None = 120.0,
        seed: int = 0,
    ) -> Iterator[str]:
        """Yield the cumulative answer text as it is generated (stops showing text at "###").

        Generation runs in a thread feeding a `TextIteratorStreamer`; `timeout` bounds the wait for each piece
        (TimeoutError), and an error inside generation is re-raised here."""
        from queue import Empty

        from transformers import TextIteratorStreamer

        _, inputs = self.encoder(task)([clip])
        inputs = inputs.to(self.device)
        inputs.update(
            {k: v.to(self.dtype) for k, v in inputs.items() if torch.is_tensor(v) and v.is_floating_point()}
        )
        prompt_length = inputs["input_ids"].shape[1]
        kwargs = self.generation_kwargs(decoding, max_new_tokens, prompt_length)
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=timeout
        )
        failure: list[BaseException] = []

        def work() -> None:
            try:
                if kwargs["do_sample"]:
                    torch.manual_seed(seed)
                with torch.inference_mode(), self.fixed_weights():
                    self.model.generate(**inputs, **kwargs, streamer=streamer)
            except BaseException as err:  # noqa: BLE001 - handed to the consumer thread below
                failure.append(err)
                streamer.end()  # unblock the consumer

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        text = ""
        try:
            for piece in streamer:
                text += piece
                if STOP_STRING in text:
                    yield self.processor.post_process(text)
                    break
                yield text.lstrip()
        except Empty as err:
            raise TimeoutError(f"no new text within {timeout} s") from err
        finally:
            thread.join(timeout=timeout)
        if failure:
            raise failure[0]
