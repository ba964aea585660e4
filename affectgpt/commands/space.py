"""`affectgpt space`: run the Gradio Space (space/app.py) locally."""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path

from affectgpt.errors import CLIError
from affectgpt.remote_code import TRUST_REMOTE_CODE_ENV, TRUST_REMOTE_CODE_HELP

__all__ = ["APP_PATH", "HELP", "add_arguments", "load_app_module", "run"]

HELP = "Launch the Gradio demo (space/app.py) locally."

# The Space is not an importable package (a Space repo holds app.py at its root), so it is loaded by path.
APP_PATH = Path(__file__).resolve().parents[2] / "space" / "app.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", help="model folder or Hub id (default: $AFFECTGPT_MODEL, else the embedded model)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 to serve the network)")
    parser.add_argument("--port", type=int, default=None, help="port (default: first free from 7860)")
    parser.add_argument(
        "--share", action="store_true", help="also create a temporary public gradio.live link"
    )
    parser.add_argument("--trust-remote-code", action="store_true", help=TRUST_REMOTE_CODE_HELP)


def load_app_module(path: Path = APP_PATH):
    if not path.is_file():
        raise CLIError(f"{path} not found: `affectgpt space` runs from a source checkout (git clone)")
    spec = importlib.util.spec_from_file_location("affectgpt_space_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args: argparse.Namespace) -> int:
    if args.port is not None and not 0 < args.port < 65536:
        raise CLIError(f"--port must be in 1..65535, got {args.port}")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if args.trust_remote_code:
        os.environ[TRUST_REMOTE_CODE_ENV] = "1"  # read where the app loads its model
    try:
        import gradio  # noqa: F401
    except ImportError as err:
        raise CLIError("gradio is not installed: pip install 'affectgpt[demo]'") from err
    app = load_app_module()
    app.main(model=args.model, host=args.host, port=args.port, share=args.share)
    return 0
