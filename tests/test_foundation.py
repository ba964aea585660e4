"""The package installs, the CLI answers, the core packages keep their import rules, the Hub code is plain."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_cli_help_and_version():
    out = subprocess.run([sys.executable, "-m", "affectgpt", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "usage: affectgpt" in out.stdout
    out = subprocess.run([sys.executable, "-m", "affectgpt", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("affectgpt ")


def test_console_script_installed():
    script = REPO_ROOT / ".venv" / "bin" / "affectgpt"
    exe = script if script.exists() else "affectgpt"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_core_packages_do_not_import_each_other():
    core = ["modeling_affectgpt", "processing", "metrics", "dataset_scripts"]
    for pkg in core:
        for path in (REPO_ROOT / pkg).rglob("*.py"):
            text = path.read_text()
            for other in core + ["affectgpt"]:
                if other == pkg:
                    continue
                assert f"import {other}" not in text and f"from {other}" not in text, (path, other)


def test_hub_modeling_code_uses_no_private_torch_ops():
    """Users download modeling_affectgpt/ and processing/ with a model: public PyTorch only (speed tricks that
    need private ops live in affectgpt/speedups.py, opt-in)."""
    for pkg in ("modeling_affectgpt", "processing"):
        for path in (REPO_ROOT / pkg).rglob("*.py"):
            text = path.read_text()
            assert "torch.ops." not in text and "torch._C" not in text, path
