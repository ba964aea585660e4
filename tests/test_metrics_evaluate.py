"""The evaluate module, loaded offline from the repository path (evaluate copies it and its siblings)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO_ROOT

MODULE = str(REPO_ROOT / "metrics" / "mer_unibench")


@pytest.fixture(scope="module")
def evaluate_with_wheels(wheel_dir):
    import os

    os.environ["MER_UNIBENCH_WHEEL_DIR"] = str(wheel_dir)
    import evaluate

    yield evaluate
    os.environ.pop("MER_UNIBENCH_WHEEL_DIR", None)


def test_load_offline_and_golden_cases(evaluate_with_wheels, shared_unibench_dir):
    evaluate = evaluate_with_wheels
    cases = json.loads((shared_unibench_dir / "golden_scores.json").read_text())["cases"]
    modules = {task: evaluate.load(MODULE, task) for task in ("fine_grained", "basic", "sentiment")}
    # the module was imported from evaluate's copy, not from this repository's package
    assert type(modules["basic"]).__module__.startswith("evaluate_modules.")
    for case in cases[::6]:  # a spread of every task, mixed input types and NaN results
        got = modules[case["task"]].compute(predictions=case["predictions"], references=case["references"])
        for key, value in case["expected"].items():
            value = float(value)
            assert (math.isnan(value) and math.isnan(got[key])) or abs(got[key] - value) <= 1e-9


@pytest.mark.parametrize("config", ["ovmerdplus", "mer2024", "iemocap", "meld", "cmumosei", "sims", "simsv2"])
def test_dataset_configs(evaluate_with_wheels, config):
    m = evaluate_with_wheels.load(MODULE, config)
    if config == "ovmerdplus":
        out = m.compute(predictions=[["happy"], "[sad]"], references=["[joyful]", ["sad"]], level="level2")
        assert set(out) == {"fscore", "precision", "recall"}
    elif config in {"mer2024", "iemocap", "meld"}:
        assert m.compute(predictions=[["joyful"], "[sad]"], references=["happy", "sad"]) == {"hit_rate": 1.0}
    else:
        assert m.compute(predictions=["positive", "negative"], references=[2.0, -1.0]) == {
            "weighted_f1": 1.0,
            "accuracy": 1.0,
        }


def test_add_batch_and_errors(evaluate_with_wheels):
    m = evaluate_with_wheels.load(MODULE, "mer2023")
    m.add_batch(predictions=[["joyful"]], references=["happy"])
    m.add_batch(predictions=["[angry]"], references=["sad"])
    assert m.compute() == {"hit_rate": 0.5}
    with pytest.raises(ValueError, match="differ in length"):
        m.compute(predictions=[["a"]], references=["happy", "sad"])
    with pytest.raises(ValueError, match="needs a config"):
        evaluate_with_wheels.load(MODULE)
    with pytest.raises(ValueError, match="unknown MER-UniBench config"):
        evaluate_with_wheels.load(MODULE, "mer2022")


def test_list_and_string_inputs_score_like_the_core(evaluate_with_wheels, wheel_dir):
    """Lists travel through Arrow packed in one string each; the result equals the core's on the raw inputs."""
    from metrics.mer_unibench import score_dataset

    preds = [
        ["Happy ", "a, sad"],
        "[happy, sad]",
        ("[angry",),
        np.array(["worried"]),
        [],
        "",
        ["joy"],
        "['fear']",
    ]
    refs = [
        "[joyful]",
        ["sad", "angry"],
        ["angry]"],
        "worried, sad",
        "[sad]",
        ["happy"],
        ["happy", ""],
        "fear",
    ]
    m = evaluate_with_wheels.load(MODULE, "fine_grained")
    m.add_batch(predictions=preds[:3], references=refs[:3])
    m.add_batch(predictions=preds[3:], references=refs[3:])
    assert m.compute() == score_dataset("fine_grained", preds, refs, wheel_dir)
    basic_refs = ["happy", ["sad"], "[angry]", "worried", "sad", ["happy"], "happy", "fear"]
    got = evaluate_with_wheels.load(MODULE, "basic").compute(predictions=preds, references=basic_refs)
    assert got == score_dataset("basic", preds, basic_refs, wheel_dir)
    with pytest.raises(ValueError, match=r"references\[1\] holds 2 labels"):
        evaluate_with_wheels.load(MODULE, "basic").compute(
            predictions=preds[:2], references=["a", ["b", "c"]]
        )


def test_reserved_characters_and_bad_samples_are_named(evaluate_with_wheels):
    m = evaluate_with_wheels.load(MODULE, "fine_grained")
    with pytest.raises(ValueError, match=r"predictions\[1\] starts with the reserved control character"):
        m.compute(predictions=["a", "\x1ea"], references=["a", "b"])
    with pytest.raises(ValueError, match=r"references\[0\] holds the reserved control character U\+001F"):
        m.compute(predictions=["a"], references=[["a\x1fb"]])
    with pytest.raises(TypeError, match=r"predictions\[0\]\[1\] must be a string"):
        m.compute(predictions=[["a", 3]], references=["a"])
    with pytest.raises(ValueError, match=r"predictions\[0\] is missing"):
        m.compute(predictions=[None], references=["a"])
    s = evaluate_with_wheels.load(MODULE, "sentiment")
    with pytest.raises(ValueError, match=r"references\[1\] is NaN"):
        s.compute(predictions=["positive", "negative"], references=[1.0, float("nan")])
    with pytest.raises(TypeError, match=r"references\[0\] must be a valence number"):
        s.compute(predictions=["positive"], references=[True])


_WORKER = """
import sys, evaluate
module, cache, rank = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = evaluate.load(module, "mer2023", num_process=2, process_id=rank, experiment_id="t", cache_dir=cache)
batches = [([["joyful"], "[angry]"], ["happy", "sad"]), (["[sad]"], [["sad"]])]
m.add_batch(predictions=batches[rank][0], references=batches[rank][1])
print(repr(m.compute()))
"""


@pytest.mark.slow
def test_distributed_processes_are_gathered(evaluate_with_wheels, tmp_path):
    """Two processes (evaluate's num_process/process_id): process 0 scores both shards, process 1 gets None."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-c", _WORKER, MODULE, str(tmp_path)]
    workers = [subprocess.Popen([*cmd, str(r)], env=env, stdout=subprocess.PIPE, text=True) for r in (1, 0)]
    outs = [w.communicate(timeout=120)[0].strip().splitlines()[-1] for w in workers]
    assert outs == ["None", repr({"hit_rate": 2 / 3})]


def test_paths_work_from_any_working_directory(tmp_path, monkeypatch):
    """affectgpt.METRIC_DIR / EMBEDDED_MODEL_DIR are absolute: the README snippets work outside the repo root,
    and evaluate's copy of the module carries the bundled table (no wheel files, no env var)."""
    import affectgpt

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MER_UNIBENCH_WHEEL_DIR", raising=False)
    import evaluate

    m = evaluate.load(affectgpt.METRIC_DIR, "mer2023")
    assert m.compute(predictions=[["joyful"]], references=["happy"]) == {"hit_rate": 1.0}
    assert (Path(affectgpt.EMBEDDED_MODEL_DIR) / "config.json").is_file()


def test_compute_on_new_samples_skips_the_arrow_round_trip(evaluate_with_wheels, monkeypatch):
    """One process, nothing added: compute scores the converted samples directly (no cache file is written)."""
    m = evaluate_with_wheels.load(MODULE, "mer2023")
    monkeypatch.setattr(m, "_init_writer", lambda *a, **k: pytest.fail("compute wrote an Arrow file"))
    assert m.compute(predictions=[["joyful"], "[angry]"], references=["happy", "sad"]) == {"hit_rate": 0.5}
    with pytest.raises(ValueError, match=r"predictions\[1\] starts with the reserved control character"):
        evaluate_with_wheels.load(MODULE, "fine_grained").compute(
            predictions=["a", "\x1ea"], references=["a", "b"]
        )


def test_compute_after_add_batch_scores_both(evaluate_with_wheels):
    """Samples passed to compute join the batches added before (evaluate's path, which the shortcut leaves)."""
    m = evaluate_with_wheels.load(MODULE, "mer2023")
    m.add_batch(predictions=[["joyful"]], references=["happy"])
    assert m.compute(predictions=["[angry]"], references=["sad"]) == {"hit_rate": 0.5}
    assert m.compute(predictions=["[sad]"], references=["sad"]) == {"hit_rate": 1.0}
