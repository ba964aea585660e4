"""MER-UniBench metrics: pure-Python core (no `evaluate` import here; the evaluate wrapper is mer_unibench.py)."""

from .parse import parse_labels
from .scores import fine_grained_scores, hit_rate, sentiment_scores, sentiment_to_value
from .sources import (
    ENV_VAR,
    UPSTREAM_COMMIT,
    WHEEL_FILES,
    ChecksumError,
    WheelFilesNotFoundError,
    download_wheel_files,
    resolve_wheel_dir,
)
from .tasks import (
    DATASET_TASKS,
    PAPER_TABLE2,
    PRIMARY_METRIC,
    TABLE2_ORDER,
    TASK_KEYS,
    TASKS,
    primary_metric,
    resolve_task,
    score_dataset,
)
from .wheel import BUNDLED, LEVELS, WheelTables, load_wheels

__all__ = [
    "BUNDLED",
    "DATASET_TASKS",
    "ENV_VAR",
    "LEVELS",
    "PAPER_TABLE2",
    "PRIMARY_METRIC",
    "TABLE2_ORDER",
    "TASKS",
    "TASK_KEYS",
    "UPSTREAM_COMMIT",
    "WHEEL_FILES",
    "ChecksumError",
    "WheelFilesNotFoundError",
    "WheelTables",
    "download_wheel_files",
    "fine_grained_scores",
    "hit_rate",
    "load_wheels",
    "parse_labels",
    "primary_metric",
    "resolve_task",
    "resolve_wheel_dir",
    "score_dataset",
    "sentiment_scores",
    "sentiment_to_value",
]
