"""MER-UniBench runner: generation (batched, cached, resumable, data-parallel) -> extraction -> metrics -> report.

The official benchmark asks the OV-label question on every dataset, extracts emotion words from the answers
and scores them per dataset (DESIGN.md §5). Generations are cached as JSONL per model and dataset, keyed by
sample name + a hash of everything that changes the generated text, so a crashed run resumes where it stopped
and a finished run is never repeated. The report is Table-2-style: Markdown, CSV,
JSON and a bar chart."""

from __future__ import annotations

import hashlib
import json
import os
import platform
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
    "table_text",
    "write_report",
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
PAPER_TABLE2_MEAN = 74.77
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


def model_fingerprint(source: str, config=None) -> str:
    """A short identity for the weights: content hash of a local folder, else the Hub commit hash."""
    path = Path(source)
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix in {".json", ".safetensors", ".bin"}
        ):
            digest.update(f"{file.relative_to(path)}:{_sha256_file(file)}\n".encode())
        return digest.hexdigest()[:16]
    commit = getattr(config, "_commit_hash", None)
    return commit or "unknown-revision"


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


class GenerationCache:
    """`OUT/generations/<model>-<hash>/<dataset>[.rank<k>].jsonl`, one line `{name, output, protocol}` per
    sample. Appends are flushed per batch; a half-written last line from a crash is ignored on reading."""

    def __init__(self, out_dir: str | os.PathLike, protocol: Protocol, rank: int = 0):
        self.protocol_hash = protocol.key()
        self.dir = Path(out_dir) / "generations" / f"{_slug(protocol.model)}-{protocol.model_hash[:8]}"
        self.rank = rank

    def _files(self, dataset: str) -> list[Path]:
        return sorted(self.dir.glob(f"{dataset}.jsonl")) + sorted(self.dir.glob(f"{dataset}.rank*.jsonl"))

    def load(self, dataset: str) -> dict[str, str]:
        done: dict[str, str] = {}
        for file in self._files(dataset):
            for rec in _read_jsonl(file):
                if rec.get("protocol") == self.protocol_hash and "name" in rec:
                    done[str(rec["name"])] = str(rec.get("output", ""))
        return done

    def append(self, dataset: str, records: Iterable[tuple[str, str]]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        suffix = f".rank{self.rank}" if self.rank else ""
        with (self.dir / f"{dataset}{suffix}.jsonl").open("a", encoding="utf-8") as fh:
            for name, output in records:
                line = {"name": name, "output": output, "protocol": self.protocol_hash}
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _read_jsonl(path: Path) -> list[dict]:
    records = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                # Only a torn last line (crash mid-write) is expected; anything else is a corrupt file.
                if fh.readline():
                    raise CLIError(f"{path}:{lineno}: not valid JSON") from None
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


def generate_dataset(
    pipe,
    rows: list[dict],
    cache: GenerationCache,
    dataset: str,
    protocol: Protocol,
    num_workers: int = 0,
    state=None,
    progress: bool = True,
) -> dict[str, str]:
    """Generate what the cache lacks (this process's shard of it), append as we go, return all outputs.

    `state` is an accelerate `PartialState` (or None for one process): each process generates its contiguous
    share of the missing samples, and the new outputs are gathered so every process returns the full set."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    multi = state is not None and state.num_processes > 1
    done = cache.load(dataset)
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
    if shard:
        loader = DataLoader(
            shard,
            batch_size=protocol.batch_size,
            shuffle=False,
            num_workers=num_workers,
            collate_fn=pipe.encoder(protocol.task),  # decodes media inside the workers
            persistent_workers=False,
        )
        is_main = state is None or state.is_main_process
        bar = tqdm(total=len(todo), desc=dataset, unit="clip", disable=not (progress and is_main))
        try:
            with pipe.fixed_weights():
                for index, (names, inputs) in enumerate(loader):
                    texts = pipe.generate(
                        inputs,
                        protocol.decoding,
                        protocol.generation.get("max_new_tokens"),
                        seed=protocol.seed + index,
                    )
                    batch = list(zip(names, texts))
                    cache.append(dataset, batch)
                    new.extend(batch)
                    bar.update(len(batch) * (state.num_processes if state is not None else 1))
        except (FileNotFoundError, ValueError, TypeError) as err:
            # Unreadable media (the processor names the file); what is finished stays cached for the rerun.
            raise CLIError(f"{dataset}: {str(err).strip().splitlines()[-1]}") from err
        finally:
            bar.close()
    if multi:
        new = gather_object(new)
    done.update(dict(new))
    return done


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
) -> dict[str, Any]:
    """Extract labels from the outputs and score them with the dataset's metric families.

    Samples without an output count as empty answers (nothing predicted) and are reported as `missing`."""
    from metrics.mer_unibench.tasks import score_dataset

    missing = [r["name"] for r in rows if r["name"] not in outputs]
    texts = [outputs.get(r["name"], "") for r in rows]
    words, sentiments = extractor(texts)
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
    return {
        "dataset": dataset,
        "primary_metric": primary,
        "primary": metrics[primary],
        "metrics": metrics,
        "n": len(rows),
        "missing": len(missing),
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.2f}"


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of the primary metrics (NaN-free ones), as in Table 2's last column."""
    values = [r["primary"] for r in results if r["primary"] == r["primary"]]
    unibench = [r for r in results if r["dataset"] in TABLE2_ORDER]
    return {
        "mean": sum(values) / len(values) if values else None,
        "n_datasets": len(values),
        # Only comparable with the paper's mean when all nine UniBench sets were scored.
        "complete_unibench": len(unibench) == len(TABLE2_ORDER),
    }


def write_report(
    out_dir: str | os.PathLike, results: list[dict[str, Any]], protocol: dict[str, Any]
) -> list[Path]:
    """results.json / results.csv / results.md / results.png in `out_dir`; returns the paths written."""
    import csv

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    payload = {"protocol": protocol, "datasets": results, "summary": summary}
    # Strict JSON: a NaN score (the official 0/0 cases) is written as null.
    (out / "results.json").write_text(
        json.dumps(_no_nan(payload), indent=2, default=str, allow_nan=False) + "\n"
    )

    metric_names = sorted({m for r in results for m in r["metrics"]})
    with (out / "results.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["dataset", "primary_metric", "primary", *metric_names, "n", "missing", "paper"])
        for r in results:
            row = [
                r["dataset"],
                r["primary_metric"],
                r["primary"],
                *(r["metrics"].get(m, "") for m in metric_names),
            ]
            writer.writerow([*row, r["n"], r["missing"], PAPER_TABLE2.get(r["dataset"], "")])
        writer.writerow(
            ["mean", "primary", summary["mean"], *[""] * len(metric_names), "", "", PAPER_TABLE2_MEAN]
        )

    (out / "results.md").write_text(_markdown(results, protocol))
    _bar_chart(out / "results.png", results, summary)
    return [out / f"results.{ext}" for ext in ("md", "csv", "json", "png")]


def table_text(results: list[dict[str, Any]]) -> str:
    """The Markdown results table (percent), printed by the CLI and embedded in results.md."""
    summary = summarize(results)
    lines = [
        "| dataset | metric | score | secondary | n | missing | paper |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for r in results:
        secondary = ", ".join(f"{k} {_pct(v)}" for k, v in r["metrics"].items() if k != r["primary_metric"])
        paper = PAPER_TABLE2.get(r["dataset"])
        lines.append(
            f"| {r['dataset']} | {r['primary_metric']} | {_pct(r['primary'])} | {secondary} | {r['n']} "
            f"| {r['missing']} | {'' if paper is None else f'{paper:.2f}'} |"
        )
    paper_mean = f"{PAPER_TABLE2_MEAN:.2f}" if summary["complete_unibench"] else ""
    lines.append(
        f"| **mean** ({summary['n_datasets']} dataset{'s' if summary['n_datasets'] != 1 else ''}) | primary | **{_pct(summary['mean'])}** | | | | {paper_mean} |"
    )
    return "\n".join(lines)


def _markdown(results: list[dict[str, Any]], protocol: dict[str, Any]) -> str:
    lines = [
        "# MER-UniBench results",
        "",
        "Values in percent. Primary metric per dataset: HIT rate (basic emotions), weighted F1 (sentiment), "
        "EW F-score (fine-grained); the mean is over the primary metrics. `paper` = AffectGPT audio+face+text, "
        "paper Table 2 (best checkpoint per dataset, LLM extractor): a different protocol, for orientation only.",
        "",
        table_text(results),
        "",
        "## Protocol",
        "",
        "```json",
        json.dumps(protocol, indent=2, default=str),
        "```",
        "",
    ]
    return "\n".join(lines)


def _bar_chart(path: Path, results: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    labels = [r["dataset"] for r in results] + ["mean"]
    values = [100 * r["primary"] if r["primary"] == r["primary"] else 0.0 for r in results]
    values.append(100 * summary["mean"] if summary["mean"] is not None else 0.0)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.8 * len(labels) + 2), 3.6), dpi=100)
    bars = ax.bar(labels, values, color=["#4C72B0"] * len(results) + ["#DD8452"])
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_ylabel("primary metric (%)")
    ax.set_ylim(0, 105)
    ax.set_title("MER-UniBench")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
