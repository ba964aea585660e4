"""Inference pipeline: clips -> processor -> batched generation -> text -> emotion words.

One object shared by `affectgpt describe`, `affectgpt bench` and the Space (contract: docs/ARCHITECTURE.md,
"Inference pipeline"). Generation is batched with left padding, greedy by default; `decoding="official"` is the
official sampling (T=1.0, top-p 0.9, <=1200 new tokens), seeded here (the official code is not). Stopping and
answer cleaning are the official ones: the model's generation config stops on the single-token stop words
(eos `<|im_end|>`, "###"), `_StopOnIdSequences` on the two-token ones, and the processor's `batch_decode` cuts the
answer as the official post-processing does."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from affectgpt import EMBEDDED_MODEL_DIR
from affectgpt.errors import CLIError
from affectgpt.remote_code import TRUST_REMOTE_CODE_ENV, hub_code_refs, trust_remote_code_from_env
from modeling_affectgpt import OFFICIAL_GENERATION_KWARGS
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
TASKS = ("description", "ovlabel")

# Generation settings per decoding name. "official" = the official inference code's sampling settings.
DECODING: dict[str, dict[str, Any]] = {
    "greedy": {"do_sample": False, "max_new_tokens": OFFICIAL_GENERATION_KWARGS["max_new_tokens"]},
    "official": dict(OFFICIAL_GENERATION_KWARGS),
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class PipelineError(CLIError, ValueError):
    """A user-facing pipeline error: the CLI prints it as one line; Python callers may catch ValueError."""


@dataclass
class ClipResult:
    """One clip's answer. `emotions`/`sentiment` are None when no extractor is available (see `note`)."""

    name: str | None
    text: str
    emotions: list[str] | None = None
    sentiment: str | None = None
    task: str = "description"
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize_clip(clip: str | os.PathLike | dict) -> dict[str, Any]:
    """A clip dict with all contract keys; a bare path means a video. Missing files fail here, naming the file."""
    if isinstance(clip, (str, os.PathLike)):
        clip = {"video": clip}
    if not isinstance(clip, dict):
        raise PipelineError(f"a clip must be a path or a dict, got {type(clip).__name__}")
    unknown = set(clip) - {"video", "audio", "face", "subtitle", "name"}
    if unknown:
        raise PipelineError(f"unknown clip keys: {sorted(unknown)}")
    out: dict[str, Any] = {}
    for key in ("video", "audio", "face"):
        value = clip.get(key)
        if value is not None and not isinstance(value, (str, os.PathLike)):
            out[key] = value  # already-decoded arrays go to the processor as they are
            continue
        if value is not None:
            path = Path(value).expanduser()
            if not path.is_file():
                raise PipelineError(f"{key} file not found: {path}")
            value = str(path)
        out[key] = value
    if all(out[k] is None for k in ("video", "audio", "face")) and not clip.get("subtitle"):
        raise PipelineError("a clip needs at least one of video, audio, face or subtitle")
    subtitle = clip.get("subtitle")
    if subtitle is not None and not isinstance(subtitle, str):
        raise PipelineError(f"subtitle must be text, got {type(subtitle).__name__}")
    out["subtitle"] = subtitle
    name = clip.get("name")
    if name is None:
        first = next((out[k] for k in ("video", "face", "audio") if isinstance(out[k], str)), None)
        name = Path(first).stem if first else None
    out["name"] = name
    return out


class ClipEncoder:
    """clips -> BatchFeature (left padded). A picklable callable, so a DataLoader can run it as `collate_fn`
    in worker processes: decoding the media is the slow part, and it happens there."""

    def __init__(self, processor, task: str = "description"):
        if task not in TASKS:
            raise PipelineError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
        self.processor = processor
        self.task = task

    def __call__(self, clips: Sequence[dict]) -> tuple[list[str | None], Any]:
        clips = [normalize_clip(c) for c in clips]
        inputs = self.processor(
            videos=[c["video"] for c in clips],
            audios=[c["audio"] for c in clips],
            faces=[c["face"] for c in clips],
            subtitles=[c["subtitle"] for c in clips],
            task=self.task,
            padding_side="left",
            return_tensors="pt",
        )
        return [c["name"] for c in clips], inputs


class _StopOnIdSequences(StoppingCriteria):
    """Per row: stop once the generated ids end with one of `sequences` (the official two-token stop words;
    the single-token ones are eos ids in the generation config). Written here because transformers'
    `StopStringCriteria` matches every spelling of "###" (also " ###", on which the official code goes on) and
    takes ~1.5 s to build for the 151k-token vocabulary at every `generate` call."""

    def __init__(self, sequences: Sequence[Sequence[int]], prompt_length: int):
        self.sequences = [torch.tensor(seq, dtype=torch.long) for seq in sequences]
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for seq in self.sequences:
            if input_ids.shape[1] - self.prompt_length >= len(seq):
                done |= (input_ids[:, -len(seq) :] == seq.to(input_ids.device)).all(dim=1)
        return done


def find_wheel_dir(wheel_dir: str | os.PathLike | None = None) -> tuple[Path | None, str | None]:
    """The wheel source to score with: `wheel_dir`, else env MER_UNIBENCH_WHEEL_DIR (a folder with the official
    files or a table .json; checked by the metric) -> (path, None); neither -> (None, None), the metric's bundled
    table; an unusable source -> (None, why-not): a message for the user, not a crash."""
    try:
        from metrics.mer_unibench import ENV_VAR, load_wheels
    except ImportError as err:
        return None, f"the MER-UniBench metric package is not importable ({err})"
    explicit = wheel_dir or os.environ.get(ENV_VAR, "").strip() or None
    if explicit is None:
        return None, None
    try:
        load_wheels(explicit)
    except (OSError, ValueError) as err:
        return None, f"emotion words need a usable emotion-wheel source: {err}"
    return Path(explicit).expanduser().resolve(), None


def load_extractor(wheel_dir: str | os.PathLike | None = None):
    """(LexiconExtractor, None) or (None, why-not); never raises for an unusable wheel source."""
    found, why = find_wheel_dir(wheel_dir)
    if why is not None:
        return None, why
    try:
        from metrics.extraction.lexicon import LexiconExtractor
    except ImportError as err:
        return None, f"the lexicon extractor is not importable ({err})"
    return LexiconExtractor(wheel_dir=found), None


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
        kwargs["stopping_criteria"] = StoppingCriteriaList([_StopOnIdSequences(pairs, prompt_length)])
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
