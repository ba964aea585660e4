"""MER-UniBench runner: generation (batched, cached, resumable, data-parallel) -> extraction -> metrics -> report.

The official benchmark asks the OV-label question on every dataset, extracts emotion words from the answers
and scores them per dataset (DESIGN.md §5). Generations are cached as JSONL per model files and dataset, keyed
by sample name + a hash of the sample's content + a hash of the run's settings, so a crashed run resumes where
it stopped, a finished run is never repeated and a changed clip, subtitle or model file is generated anew.
A sample that cannot be decoded or generated is recorded and reported; the run goes on. The report (Markdown,
CSV, JSON, figures, per-sample predictions) is affectgpt/bench_report.py."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affectgpt.errors import CLIError
from metrics.mer_unibench.tasks import DATASET_TASKS, PAPER_TABLE2, PRIMARY_METRIC, TABLE2_ORDER

__all__ = [
    "BASIC",
    "DATASETS",
    "FINE_GRAINED",
    "PAPER_TABLE2",
    "SENTIMENT",
    "SYNTH",
    "TABLE2_ORDER",
    "GenerationCache",
    "Protocol",
    "Extractor",
    "available_datasets",
    "build_extractor",
    "generate_dataset",
    "model_fingerprint",
    "read_outputs",
    "score_outputs",
    "select_datasets",
]

BASIC = tuple(d for d, t in DATASET_TASKS.items() if t == "basic")
SENTIMENT = tuple(d for d, t in DATASET_TASKS.items() if t == "sentiment")
FINE_GRAINED = tuple(d for d, t in DATASET_TASKS.items() if t == "fine_grained")
SYNTH = "synth-mer"
DATASETS = (*TABLE2_ORDER, SYNTH)  # paper Table 2 column order, then our synthetic corpus
# Metric families per dataset; the first gives the dataset's primary column in the table. The synthetic corpus
# has all three kinds of reference (label, valence, emotions), so it is scored all three ways.
TASKS: dict[str, tuple[str, ...]] = {
    **{d: (t,) for d, t in DATASET_TASKS.items()},
    SYNTH: ("basic", "sentiment", "fine_grained"),
}
SPLIT = "test"
TASK = "ovlabel"


def available_datasets(data_dir: str | os.PathLike) -> list[str]:
    """Known configs present in a `build-dataset` output folder (`DIR/<config>/*.parquet`)."""
    root = Path(data_dir)
    return [name for name in DATASETS if any((root / name).glob(f"{SPLIT}-*.parquet"))]


def select_datasets(spec: str, data_dir: str | os.PathLike) -> list[str]:
    """`all` or a comma list -> validated config names, in table order."""
    root = Path(data_dir)
    if not root.is_dir():
        raise CLIError(f"data folder not found: {root} (make one with `affectgpt build-dataset`)")
    present = available_datasets(root)
    if spec.strip() == "all":
        if not present:
            raise CLIError(
                f"no UniBench or synth-mer test split under {root} (expected {root}/<config>/test-*.parquet)"
            )
        return present
    names = [n.strip().lower() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        import difflib

        hints = [f"{n} -> {m[0]}?" for n in unknown if (m := difflib.get_close_matches(n, DATASETS, 1, 0.6))]
        hint = f" (did you mean: {', '.join(hints)})" if hints else ""
        raise CLIError(
            f"unknown dataset(s) {', '.join(unknown) or repr(spec)}{hint}; choose from: all, {', '.join(DATASETS)}"
        )
    missing = [n for n in names if n not in present]
    if missing:
        raise CLIError(f"dataset(s) {', '.join(missing)} not found under {root} (no {SPLIT}-*.parquet)")
    return [n for n in DATASETS if n in names]


def _sha256_file(path: Path, whole_limit: int = 64 << 20) -> str:
    """Full sha256 for files up to 64 MiB; for larger weight shards, size + first and last 4 MiB (hashing 15 GB
    of weights on every run would cost minutes and the shard boundaries change whenever the weights do)."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size <= whole_limit:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        else:
            digest.update(str(size).encode())
            digest.update(fh.read(4 << 20))
            fh.seek(-(4 << 20), os.SEEK_END)
            digest.update(fh.read())
    return digest.hexdigest()


# Files of a model folder that cannot change a generation (the model card, git metadata).
_NOT_MODEL_FILES = {"README.md", ".gitattributes"}


def model_fingerprint(source: str, config=None) -> str:
    """A short identity for everything in the model that shapes an answer: a content hash of every file of a
    local folder (weights, configs, tokenizer, chat template, and the processor and modeling code it runs),
    else the Hub commit hash (which covers the same files)."""
    path = Path(source)
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(path.rglob("*")):
            rel = file.relative_to(path)
            if (
                not file.is_file()
                or file.name in _NOT_MODEL_FILES
                or any(p.startswith(".") for p in rel.parts)
            ):
                continue
            if file.suffix == ".pyc" or "__pycache__" in rel.parts:
                continue
            digest.update(f"{rel.as_posix()}:{_sha256_file(file)}\n".encode())
        return digest.hexdigest()[:16]
    commit = getattr(config, "_commit_hash", None)
    return commit or "unknown-revision"


def input_key(clip: dict) -> str:
    """A hash of what the model reads for one sample: its name, subtitle and the bytes of each media file.

    Together with the protocol hash it keys the cache, so a clip or subtitle replaced under the same name is
    generated again. File bytes are hashed (not size + mtime, which a copy or a same-sized re-encode keeps)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([clip.get("name"), clip.get("subtitle")], default=str).encode())
    for key in ("video", "audio", "face"):
        value = clip.get(key)
        digest.update(f"|{key}:".encode())
        if value is None:
            continue
        path = Path(value)
        # A missing file is left to the decoder to report (per sample); its key only has to differ.
        digest.update(_sha256_file(path).encode() if path.is_file() else f"missing:{path}".encode())
    return digest.hexdigest()[:16]


@dataclass
class Protocol:
    """Everything needed to reproduce a number. `key()` covers what changes the generated text."""

    model: str
    model_hash: str
    decoding: str = "greedy"
    generation: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    task: str = TASK
    dtype: str = "float32"
    extractor: str = "lexicon"
    batch_size: int = 8
    versions: dict[str, str] = field(default_factory=dict)

    def key(self) -> str:
        # Batch size changes sampled outputs (one RNG stream per batch), not greedy ones.
        parts = [self.model_hash, self.decoding, self.generation, self.seed, self.task, self.dtype]
        if self.generation.get("do_sample"):
            parts.append(self.batch_size)
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {**asdict(self), "protocol_hash": self.key()}


def library_versions() -> dict[str, str]:
    import torch
    import transformers

    from affectgpt import __version__

    return {
        "affectgpt": __version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _slug(source: str) -> str:
    text = Path(source).name if Path(source).exists() else source.replace("/", "--")
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "model"


@dataclass
class CacheLookup:
    """What a cache holds for one dataset: usable outputs, and why other cached lines were not used."""

    outputs: dict[str, str]
    notes: list[str]


class GenerationCache:
    """`OUT/generations/<model>-<hash>/<dataset>[.rank<k>].jsonl`, one line `{name, output, protocol, input}` per
    sample: `protocol` hashes the run's settings (`Protocol.key`), `input` the sample's content (`input_key`).
    A line is reused only when both match. Appends are flushed and fsync'ed per batch; a torn last line left by
    a crash is ignored on reading and cut off before the next append."""

    def __init__(self, out_dir: str | os.PathLike, protocol: Protocol, rank: int = 0):
        self.protocol_hash = protocol.key()
        self.slug = _slug(protocol.model)
        self.dir = Path(out_dir) / "generations" / f"{self.slug}-{protocol.model_hash[:8]}"
        self.rank = rank

    def _files(self, dataset: str, folder: Path | None = None) -> list[Path]:
        folder = self.dir if folder is None else folder
        return sorted(folder.glob(f"{dataset}.jsonl")) + sorted(folder.glob(f"{dataset}.rank*.jsonl"))

    def load(self, dataset: str, keys: dict[str, str] | None = None) -> CacheLookup:
        """Cached outputs of this protocol for the samples in `keys` (name -> `input_key`) whose content is
        unchanged; without `keys`, every output of this protocol. `notes` say which cached lines were ignored."""
        done: dict[str, str] = {}
        other_protocol, changed, unkeyed = set(), set(), set()
        for file in self._files(dataset):
            for rec in _read_jsonl(file):
                name = str(rec.get("name"))
                if "name" not in rec or (keys is not None and name not in keys):
                    continue
                if rec.get("protocol") != self.protocol_hash:
                    other_protocol.add(name)
                elif keys is not None and "input" not in rec:
                    unkeyed.add(name)
                elif keys is not None and rec["input"] != keys[name]:
                    changed.add(name)
                else:
                    done[name] = str(rec.get("output", ""))
        notes = []
        stale = [
            folder
            for folder in sorted(self.dir.parent.glob(f"{self.slug}-*"))
            # `<slug>-<8 chars>` exactly: not another model whose name merely starts with this one's
            if folder != self.dir and len(folder.name) == len(self.dir.name) and self._files(dataset, folder)
        ]
        if stale and not done:
            notes.append(
                f"not using the cache in {', '.join(map(str, stale))}: made with other model files "
                f"(weights, config, tokenizer, processor or code)"
            )
        reasons = (
            (
                other_protocol - set(done),
                "made with other settings (decoding, seed, dtype, task or max tokens)",
            ),
            (changed - set(done), "the clip's media or subtitle changed since"),
            (unkeyed - set(done), "written before the cache was keyed on clip content"),
        )
        for names, why in reasons:
            if names:
                example = sorted(names)[0]
                notes.append(f"{len(names)} cached generation(s) not used (e.g. {example}): {why}")
        return CacheLookup(done, notes)

    def append(self, dataset: str, records: Iterable[tuple[str, str, str]]) -> None:
        """Append `(name, output, input_key)` lines to this process's file, after cutting off a torn tail."""
        self.dir.mkdir(parents=True, exist_ok=True)
        suffix = f".rank{self.rank}" if self.rank else ""
        path = self.dir / f"{dataset}{suffix}.jsonl"
        _drop_torn_tail(path)
        with path.open("a", encoding="utf-8") as fh:
            for name, output, key in records:
                line = {"name": name, "output": output, "protocol": self.protocol_hash, "input": key}
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _drop_torn_tail(path: Path) -> None:
    """Truncate `path` after its last newline: a line a crash left half-written must not be appended onto
    (the next line would glue onto it and the file would stop parsing)."""
    try:
        fh = path.open("r+b")
    except FileNotFoundError:
        return
    with fh:
        size = fh.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            start = max(0, end - (64 << 10))
            fh.seek(start)
            block = fh.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                end = start + cut + 1
                break
            end = start
        if end == size:
            return
        fh.seek(end)
        tail = fh.read()
        try:
            json.loads(tail.decode("utf-8"))
            complete = True
        except (UnicodeDecodeError, json.JSONDecodeError):
            complete = False
        if complete:  # a whole line that only lacks its newline (an edited file): keep it
            fh.write(b"\n")
        else:
            fh.truncate(end)
            print(
                f"bench: {path}: removed a torn last line ({size - end} bytes) left by an interrupted run",
                file=sys.stderr,
            )
        fh.flush()
        os.fsync(fh.fileno())


def _read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a JSONL file. A last line without its newline is a write a crash cut short and is
    skipped; any other bad line is an error naming the file and line."""
    records = []
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CLIError(f"{path}: cannot read: {err.strerror or err}") from None
    lines = data.split(b"\n")
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        torn = lineno == len(lines)  # no newline after it
        try:
            rec = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            if torn:
                continue
            raise CLIError(f"{path}:{lineno}: not UTF-8 text (is this a JSONL file?)") from None
        except json.JSONDecodeError:
            if torn:
                continue
            raise CLIError(f"{path}:{lineno}: not valid JSON (delete the line to go on)") from None
        if not isinstance(rec, dict):
            raise CLIError(f"{path}:{lineno}: expected a JSON object, got {type(rec).__name__}")
        records.append(rec)
    return records


def load_rows(data_dir: str | os.PathLike, dataset: str, limit: int | None = None) -> list[dict]:
    """The test split's rows as clip dicts + references, media resolved against the dataset folder."""
    from affectgpt.data import load_split, row_to_clip

    try:
        table = load_split(data_dir, dataset, SPLIT)
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(str(err)) from err
    if limit is not None:
        table = table.select(range(min(limit, len(table))))
    rows = []
    for row in table:
        clip = row_to_clip(row, data_root=data_dir)
        rows.append(
            {
                "clip": clip,
                "name": str(row["name"]),
                "label": row.get("label"),
                "valence": row.get("valence"),
                "emotions": row.get("emotions"),
            }
        )
    return rows


def _one_line(err: BaseException) -> str:
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(err).__name__


class _TolerantEncoder:
    """The DataLoader's `collate_fn`: encodes a batch, and when that fails, each clip alone, so that one
    unreadable clip fails by itself. Returns `(names, inputs or None, failures [(name, error)], clips)`."""

    def __init__(self, encode, fail_fast: bool = False):
        self.encode, self.fail_fast = encode, fail_fast

    def __call__(self, clips):
        try:
            names, inputs = self.encode(clips)
            return names, inputs, [], clips
        except Exception as err:  # noqa: BLE001 - any decoder/processor error is this batch's failure
            if self.fail_fast:
                raise
            if len(clips) == 1:
                return [], None, [(clips[0].get("name"), _one_line(err))], []
        good, failures = [], []
        for clip in clips:
            try:
                self.encode([clip])
                good.append(clip)
            except Exception as err:  # noqa: BLE001 - recorded per sample, reported in the results
                failures.append((clip.get("name"), _one_line(err)))
        if not good:
            return [], None, failures, []
        names, inputs = self.encode(good)
        return names, inputs, failures, good


def generate_dataset(
    pipe,
    rows: list[dict],
    cache: GenerationCache,
    dataset: str,
    protocol: Protocol,
    num_workers: int = 0,
    state=None,
    progress: bool = True,
    fail_fast: bool = False,
) -> tuple[dict[str, str], dict[str, str]]:
    """Generate what the cache lacks (this process's shard of it), append as we go; returns
    `(outputs, failures)` for the whole dataset, `failures` mapping a sample name to its one-line error.

    A sample that cannot be decoded or generated is recorded as a failure and the run goes on (not cached, so
    the next run tries it again); `fail_fast` stops at the first one instead. `state` is an accelerate
    `PartialState` (or None for one process): each process generates its contiguous share of the missing
    samples, and the new outputs are gathered so every process returns the full set."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    multi = state is not None and state.num_processes > 1
    is_main = state is None or state.is_main_process
    keys = {r["name"]: input_key(r["clip"]) for r in rows}
    lookup = cache.load(dataset, keys)
    if is_main:
        for note in lookup.notes:
            print(f"bench: {dataset}: {note}", file=sys.stderr)
    done = lookup.outputs
    if multi:
        from accelerate.utils import gather_object

        # Every process must shard the same to-do list. Each may see a different cache (its own rank file on
        # a node-local disk, or a peer still writing), so they agree on the union; gathering is also the
        # barrier that keeps anyone from writing this dataset's cache before all have read it.
        for part in gather_object([done]):
            done.update(part)
    todo = [r["clip"] for r in rows if r["name"] not in done]
    shard = todo
    if multi:
        with state.split_between_processes(todo) as part:
            shard = list(part)
    new: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []

    def run(names, inputs, seed):
        texts = pipe.generate(inputs, protocol.decoding, protocol.generation.get("max_new_tokens"), seed=seed)
        cache.append(dataset, [(n, t, keys[n]) for n, t in zip(names, texts)])
        new.extend(zip(names, texts))

    if shard:
        encode = pipe.encoder(protocol.task)
        loader = DataLoader(
            shard,
            batch_size=protocol.batch_size,
            shuffle=False,
            num_workers=num_workers,
            collate_fn=_TolerantEncoder(encode, fail_fast),  # decodes media inside the workers
            persistent_workers=False,
        )
        bar = tqdm(total=len(todo), desc=dataset, unit="clip", disable=not (progress and is_main))
        try:
            with pipe.fixed_weights():
                for index, (names, inputs, failures, clips) in enumerate(loader):
                    failed.extend(failures)
                    if names:
                        try:
                            run(names, inputs, protocol.seed + index)
                        except Exception as err:  # noqa: BLE001 - isolate the sample that breaks generation
                            if fail_fast:
                                raise CLIError(
                                    f"{dataset}: generation failed for {', '.join(map(str, names))}: "
                                    f"{_one_line(err)}"
                                ) from err
                            for clip in clips:  # one by one, so only the culprit fails
                                try:
                                    run(*encode([clip]), protocol.seed + index)
                                except Exception as one:  # noqa: BLE001 - recorded, reported in the results
                                    failed.append((clip.get("name"), _one_line(one)))
                    bar.update(
                        (len(names) + len(failures)) * (state.num_processes if state is not None else 1)
                    )
        except (FileNotFoundError, ValueError, TypeError) as err:
            # --fail-fast: unreadable media (the processor names the file); what is finished stays cached.
            raise CLIError(f"{dataset}: {_one_line(err)}") from err
        finally:
            bar.close()
    if multi:
        new = gather_object(new)
        failed = gather_object(failed)
    done.update(dict(new))
    failures = {str(name): error for name, error in failed}
    if failures and not done:
        # Nothing at all worked: a broken model or setup, not a few bad clips; a table of zeros would hide it.
        name, error = next(iter(failures.items()))
        raise CLIError(f"{dataset}: all {len(failures)} samples failed, e.g. {name}: {error}")
    return done, failures


def read_outputs(path: str | os.PathLike, datasets: list[str]) -> dict[str, dict[str, str]]:
    """Existing generations for `--score-only`: a bench output folder, a generations folder, or one JSONL of
    `{"name", "output"[, "dataset"]}` lines (lines without `dataset` are offered to every dataset by name)."""
    path = Path(path)
    if not path.exists():
        raise CLIError(f"--score-only: not found: {path}")
    files: list[tuple[str | None, Path]] = []
    if path.is_file():
        files.append((None, path))
    else:
        for file in sorted(path.rglob("*.jsonl")):
            if file.name == "predictions.jsonl" and file.parent == path:
                continue  # the report's per-sample file beside results.json, not generations
            stem = file.name.split(".")[0]
            files.append((stem if stem in DATASETS else None, file))
    if not files:
        raise CLIError(f"--score-only: no .jsonl files under {path}")
    outputs: dict[str, dict[str, str]] = {d: {} for d in datasets}
    protocols: dict[str, set] = {d: set() for d in datasets}
    for file_dataset, file in files:
        for rec in _read_jsonl(file):
            if "name" not in rec or not any(k in rec for k in ("output", "text", "prediction")):
                raise CLIError(f"{file}: every line needs 'name' and 'output'")
            text = rec.get("output", rec.get("text", rec.get("prediction")))
            target = rec.get("dataset") or file_dataset
            for dataset in [target] if target else datasets:
                if dataset in outputs:
                    outputs[dataset][str(rec["name"])] = "" if text is None else str(text)
                    protocols[dataset].add(rec.get("protocol"))
    # A bench cache may hold generations of several protocols (greedy and official, say); mixing them would
    # score neither. Rerunning `bench` with the wanted protocol scores its cached generations instead.
    mixed = {d: sorted(map(str, p)) for d, p in protocols.items() if len(p) > 1}
    if mixed:
        name, hashes = next(iter(mixed.items()))
        raise CLIError(
            f"--score-only: {path} holds {name} generations of several protocols ({', '.join(hashes)}); "
            "point at one file, or rerun `affectgpt bench` with the protocol you want (it scores the cache)"
        )
    return outputs


class Extractor:
    """texts -> (emotion word lists, sentiments), with the settings recorded in the protocol.

    `lexicon` is the offline default (deterministic). `llm:MODEL` runs the official extraction prompts on a
    transformers chat model: greedy under the deterministic protocol, the official sampling under `official`."""

    def __init__(self, spec: str, wheel_dir, protocol: str = "deterministic", device=None, seed: int = 0):
        from metrics.extraction.lexicon import LexiconExtractor

        self.spec = spec
        self.lexicon = LexiconExtractor(wheel_dir=wheel_dir)
        self.llm = None
        self.settings: dict[str, Any] = {"name": "lexicon"}
        if spec.startswith("llm:"):
            self.llm, self.settings = _llm_extractor(spec[4:], protocol, device, seed)

    def __call__(self, texts: list[str]) -> tuple[list[list[str]], list[str]]:
        if self.llm is None:
            words = self.lexicon.extract(texts)
            return words, self.lexicon.to_sentiment(words)
        words = self.llm.extract(texts)
        return words, self.llm.to_sentiment(words)


def _llm_extractor(model: str, protocol: str, device, seed: int):
    try:
        from metrics.extraction import LLMExtractor
    except ImportError as err:
        raise CLIError(f"the LLM extractor is not available ({err}); use --extractor lexicon") from err
    decoding = "official" if protocol == "official" else "greedy"
    try:
        llm = LLMExtractor(model, decoding=decoding, device=device, seed=seed)
    except (OSError, ValueError) as err:
        raise CLIError(f"cannot load extractor model {model}: {err}") from err
    from dataclasses import asdict

    from metrics.extraction import DECODING as EXTRACTION_DECODING

    settings = asdict(EXTRACTION_DECODING[decoding])
    settings.update(name=f"llm:{model}", decoding=decoding, seed=seed, max_new_tokens=llm.max_new_tokens)
    return llm, settings


def build_extractor(
    spec: str, wheel_dir, protocol: str = "deterministic", device=None, seed: int = 0
) -> Extractor:
    return Extractor(spec, wheel_dir, protocol, device, seed)


def score_outputs(
    dataset: str,
    rows: list[dict],
    outputs: dict[str, str],
    extractor,
    wheel_dir: str | os.PathLike,
    failures: dict[str, str] | None = None,
    extracted: tuple[list[list[str]], list[str]] | None = None,
    tables=None,
) -> dict[str, Any]:
    """Extract labels from the outputs and score them with the dataset's metric families.

    Samples without an output count as empty answers (nothing predicted, so the score keeps every sample in
    its denominator): those that failed (`failures`, name -> error) are reported as `failed` with their
    errors, the others as `missing`. `extracted` = (words, sentiments) per row replaces the extractor (the
    official output files' own extraction); with the wheel `tables`, the result also holds `samples`, one
    record per row for the report (`bench_report.sample_records`)."""
    from metrics.mer_unibench.tasks import score_dataset

    failures = {n: e for n, e in (failures or {}).items() if n not in outputs}
    missing = [r["name"] for r in rows if r["name"] not in outputs and r["name"] not in failures]
    texts = [outputs.get(r["name"], "") for r in rows]
    words, sentiments = extracted if extracted is not None else extractor(texts)
    metrics: dict[str, float] = {}
    for family in TASKS[dataset]:
        if family == "basic":
            refs, preds = [r["label"] for r in rows], words
        elif family == "sentiment":
            refs, preds = [r["valence"] for r in rows], sentiments
        else:
            refs, preds = [r["emotions"] for r in rows], words
        metrics.update(score_dataset(family, preds, refs, wheel_dir=wheel_dir))
    primary = PRIMARY_METRIC[TASKS[dataset][0]]
    result = {
        "dataset": dataset,
        "primary_metric": primary,
        "primary": metrics[primary],
        "metrics": metrics,
        "n": len(rows),
        "missing": len(missing),
        "failed": len(failures),
        "failures": [{"name": n, "error": e} for n, e in sorted(failures.items())],
    }
    if tables is not None:
        from affectgpt.bench_report import sample_records

        family = TASKS[dataset][0]
        result["samples"] = sample_records(
            dataset, family, rows, outputs, words, sentiments, failures, tables
        )
    return result
