"""benchmarks/gpu_check.py runs end to end with the tiny preset on a CPU and writes a complete report."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

UNIBENCH_CLIPS = 12_799  # the nine MER-UniBench test sets (DESIGN.md), counted independently of the script


def test_gpu_check_tiny_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    command = [
        sys.executable,
        str(REPO_ROOT / "benchmarks" / "gpu_check.py"),
        "--preset",
        "tiny",
        "--device",
        "cpu",
    ]
    command += ["--out", str(out), "--batch-sizes", "1,2", "--batches", "1", "--new-tokens", "3"]
    command += ["--max-length", "128", "--workers", "1", "--processor-clips", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())

    generation = [row for row in report["generation"] if "error" not in row]
    assert [(r["attention"], r["batch_size"], r["clips"]) for r in generation] == [
        ("sdpa", 1, 1),
        ("sdpa", 2, 2),
    ]
    for row in generation:
        assert row["clips_per_s"] > 0
        assert math.isclose(row["unibench_minutes"], UNIBENCH_CLIPS / row["clips_per_s"] / 60)
    sft = report["sft"]
    assert (sft["batch_size"], sft["max_length"], sft["activation_checkpointing"]) == (3, 128, True)
    assert math.isfinite(sft["loss"]) and sft["loss"] > 0 and sft["step_seconds"] > 0
    assert 0 < sft["trainable_parameters"] < report["parameters"]
    assert [r["workers"] for r in report["processor"]] == [0, 1]
    assert all(r["clips_per_s"] > 0 for r in report["processor"])
    assert "SFT step (LoRA, batch 3 x 128 tokens" in done.stdout
