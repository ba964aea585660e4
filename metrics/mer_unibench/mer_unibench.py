"""MER-UniBench (AffectGPT, arXiv 2501.16566) as an `evaluate` metric.

This wrapper only converts inputs; the numbers come from the plain functions of the sibling files. evaluate copies
every sibling imported below with a single-dot import next to this one; its line-based scanner reads only this file,
so every sibling the core needs is imported here (each on its own `from .x import` line), and the siblings import
each other only with single-dot imports. `wheel_table` (the bundled wheel table) is imported here for that reason
only: wheel.py reads it when no wheel folder is given."""

from __future__ import annotations

import datasets
import evaluate

from .parse import pack_samples, parse_labels, unpack_samples
from .scores import check_pair, check_sentiment_inputs
from .sources import ENV_VAR
from .tasks import DATASET_TASKS, TASK_KEYS, TASKS, resolve_task, score_dataset
from .wheel import LEVELS
from .wheel_table import TABLE_JSON

__all__ = ["MerUnibench"]

_CITATION = """\
@inproceedings{lian2025affectgpt,
  title={AffectGPT: A New Dataset, Model, and Benchmark for Emotion Understanding with Multimodal Large Language Models},
  author={Lian, Zheng and Chen, Haoyu and Chen, Lan and Sun, Haiyang and Sun, Licai and Ren, Yong and Cheng, Zebang
          and Liu, Bin and Liu, Rui and Peng, Xiaojiang and Yi, Jiangyan and Tao, Jianhua},
  booktitle={Proceedings of the 42nd International Conference on Machine Learning (ICML)},
  year={2025}
}
"""

_DESCRIPTION = """\
MER-UniBench scores free-form emotion predictions against nine datasets, bit-exact with the official AffectGPT
scorer: emotion-wheel (EW) fine-grained F-score/precision/recall (OV-MERD+), basic-emotion HIT rate (MER2023,
MER2024, IEMOCAP, MELD) and binary sentiment weighted F1/accuracy (CMU-MOSI, CMU-MOSEI, SIMS, SIMS v2).
Config = dataset name or task alias: """ + ", ".join([*DATASET_TASKS, *TASKS])

_KWARGS_DESCRIPTION = f"""
Args:
    predictions: fine_grained/basic: one label list per sample, as a list of strings or an "[a, b]" string;
        sentiment: one string per sample ("positive" -> 1, "negative" -> -1, anything else -> 0).
    references: fine_grained: label lists like predictions; basic: one label string per sample;
        sentiment: one valence number per sample (samples with valence 0 are dropped).
    wheel_dir: folder with the official emotion-wheel files, or a table .json from build_table.py (default:
        ${ENV_VAR} if set, else the bundled table built from the official files).
    level: fine_grained only, one of {LEVELS} (default "level1").
Returns:
    fine_grained: {{"fscore", "precision", "recall"}}; basic: {{"hit_rate"}}; sentiment: {{"weighted_f1", "accuracy"}}.
    Fractions in [0, 1]; NaN exactly where the official scorer divides 0 by 0 (see the metric card).
Examples:
    >>> m = evaluate.load("metrics/mer_unibench", "mer2023")
    >>> m.compute(predictions=[["joyful"], "[angry, sad]"], references=["happy", "sad"])
    {{'hit_rate': 1.0}}
"""

assert TABLE_JSON  # the bundled table ships with this module (see the module docstring)
# One Arrow value per sample (label lists packed into one string, see parse.pack_samples): list columns cost a
# Python call per item in evaluate's encode/decode round trip, which dominated scoring time.
_LABELS = datasets.Value("string")


class _PlainFeatures(datasets.Features):
    """Features made only of plain Values, with datasets' per-sample encode loop skipped.

    `Value("string"/"float64").encode_example` is `str(x)` / `float(x)`, the identity on what `_convert` returns
    (it checks every sample's type), so `encode_batch` can hand the columns to the Arrow writer unchanged; that
    loop cost more than the scoring itself. Everything else (writer, distributed files, reading) is evaluate's."""

    def encode_batch(self, batch):
        if set(batch) != set(self):
            raise ValueError(f"Column mismatch between batch {set(batch)} and features {set(self)}")
        return dict(batch)


def _features(task: str) -> datasets.Features:
    references = datasets.Value("float64") if task == "sentiment" else _LABELS
    return _PlainFeatures({"predictions": datasets.Value("string"), "references": references})


def _check_single_labels(references: list[str]) -> None:
    """Basic references hold one label each; each distinct value is parsed once (there are a handful)."""
    for value in dict.fromkeys(references):
        i = references.index(value)
        labels = parse_labels(unpack_samples([value])[0], index=i, what="references")
        if len(labels) > 1:
            raise ValueError(
                f"references[{i}] holds {len(labels)} labels ({labels}); basic tasks take one each"
            )


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MerUnibench(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        if self.config_name == "default":
            raise ValueError(
                "MER-UniBench needs a config: evaluate.load(path, CONFIG) with CONFIG one of "
                f"{[*DATASET_TASKS, *TASKS]}"
            )
        self._task = resolve_task(self.config_name)
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_features(self._task),
            reference_urls=["https://arxiv.org/abs/2501.16566", "https://github.com/zeroQiaoba/AffectGPT"],
        )

    def _convert(self, predictions, references) -> tuple[list, list]:
        """Validate, then give Arrow one string per sample (the official inputs mix lists and strings).

        Strings are stored unparsed and lists packed losslessly (parse.pack_samples), so the scorer applies the
        official parser to exactly what the caller passed."""
        if self._task == "sentiment":
            return check_sentiment_inputs(predictions, references)
        predictions, references = check_pair(predictions, references)
        predictions = pack_samples(predictions, "predictions")
        references = pack_samples(references, "references")
        if self._task == "basic":
            _check_single_labels(references)
        return predictions, references

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of samples, checked and converted (evaluate's `compute(predictions=..., references=...)`
        passes its inputs through here too, so they are converted exactly once)."""
        predictions, references = self._convert(predictions, references)
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Score the added batches and/or these samples (evaluate's `compute`).

        With one process and nothing added yet, evaluate would write the samples to an Arrow file and read them
        straight back; they are converted and scored directly instead (the same checks and numbers, without the
        round trip, which cost a third of the scoring time). Batches already added, or several processes, take
        evaluate's own path."""
        if (
            self.num_process == 1
            and self.writer is None
            and predictions is not None
            and references is not None
        ):
            predictions, references = self._convert(predictions, references)
            return self._compute(predictions, references, **kwargs)
        return super().compute(predictions=predictions, references=references, **kwargs)

    def _compute(self, predictions, references, wheel_dir=None, level="level1"):
        if self._task != "sentiment":
            predictions, references = unpack_samples(predictions), unpack_samples(references)
        result = score_dataset(self._task, predictions, references, wheel_dir, level=level)
        assert set(result) == set(TASK_KEYS[self._task])  # the documented return keys, nothing else
        return result
