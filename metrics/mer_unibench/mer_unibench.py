"""MER-UniBench (AffectGPT, arXiv 2501.16566) as an `evaluate` metric.

This wrapper only converts inputs; the numbers come from the plain functions of the sibling files. evaluate copies
every sibling imported below with a single-dot import next to this one; its line-based scanner reads only this file,
so every sibling the core needs is imported here (each on its own `from .x import` line), and the siblings import
each other only with single-dot imports. `wheel_table` (the bundled wheel table) is imported here for that reason
only: wheel.py reads it when no wheel folder is given."""

from __future__ import annotations

import datasets
import evaluate

from .parse import parse_labels
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
_LABELS = datasets.Sequence(datasets.Value("string"))


def _features(task: str) -> datasets.Features:
    if task == "fine_grained":
        return datasets.Features({"predictions": _LABELS, "references": _LABELS})
    if task == "basic":
        return datasets.Features({"predictions": _LABELS, "references": datasets.Value("string")})
    return datasets.Features(
        {"predictions": datasets.Value("string"), "references": datasets.Value("float64")}
    )


def _single_label(value, index: int) -> str:
    labels = parse_labels(value, index=index, what="references")
    if len(labels) > 1:
        raise ValueError(
            f"references[{index}] holds {len(labels)} labels ({labels}); basic tasks take one each"
        )
    return labels[0] if labels else ""


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
        """Validate, then give Arrow one fixed type per column (the official inputs mix lists and strings).

        Parsing strings into lists here is lossless: the official parser yields the same lowercased items."""
        if self._task == "sentiment":
            return check_sentiment_inputs(predictions, references)
        predictions, references = check_pair(predictions, references)
        predictions = [parse_labels(p, index=i, what="predictions") for i, p in enumerate(predictions)]
        if self._task == "fine_grained":
            references = [parse_labels(r, index=i, what="references") for i, r in enumerate(references)]
        else:
            references = [_single_label(r, i) for i, r in enumerate(references)]
        return predictions, references

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of samples (converted and checked like `compute`)."""
        predictions, references = self._convert(predictions, references)
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Score the given samples (or those added with `add_batch`)."""
        if predictions is not None or references is not None:
            predictions, references = self._convert(predictions, references)
        return super().compute(predictions=predictions, references=references, **kwargs)

    def _compute(self, predictions, references, wheel_dir=None, level="level1"):
        result = score_dataset(self._task, predictions, references, wheel_dir, level=level)
        assert set(result) == set(TASK_KEYS[self._task])  # the documented return keys, nothing else
        return result
