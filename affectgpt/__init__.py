"""AffectGPT on the Hugging Face stack: orchestration layer (CLI, presets, training, benchmark)."""

from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

try:
    __version__ = version("affectgpt")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# Absolute paths, so README snippets work from any working directory after `pip install -e .` (or a wheel):
# evaluate.load(affectgpt.METRIC_DIR, "ovmerdplus"); AutoModel*.from_pretrained(affectgpt.EMBEDDED_MODEL_DIR, ...).
EMBEDDED_MODEL_DIR = str(Path(__file__).resolve().parent / "embedded" / "affectgpt-tiny-synth")
# find_spec locates the top-level `metrics` package without importing it (nothing heavy at `import affectgpt`).
_METRICS = find_spec("metrics")
METRIC_DIR = str(Path(_METRICS.origin).parent / "mer_unibench") if _METRICS and _METRICS.origin else None

__all__ = ["EMBEDDED_MODEL_DIR", "METRIC_DIR", "__version__"]
