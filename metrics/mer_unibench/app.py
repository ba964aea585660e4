"""A small Gradio 6 app for the metric (evaluate's built-in widget breaks on Gradio >= 4).

Run `python app.py` in this folder (or as the Space's app file); it loads this folder with evaluate.load."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import evaluate
import gradio as gr

__all__ = ["build_demo", "score"]

HERE = Path(__file__).resolve().parent
CONFIGS = ["ovmerdplus", "mer2023", "mer2024", "iemocap", "meld", "cmumosi", "cmumosei", "sims", "simsv2"]
EXAMPLE = {
    "ovmerdplus": ('[["happy", "excited"], "[sad]"]', '["[joyful, relaxed]", ["sad", "lonely"]]'),
    "mer2023": ('[["joyful"], "[angry, sad]"]', '["happy", "sad"]'),
    "cmumosi": ('["positive", "negative", "neutral"]', "[1.2, -0.4, 0.8]"),
}


@cache
def _metric(config: str):
    return evaluate.load(str(HERE), config)


def score(config: str, predictions_json: str, references_json: str, wheel_dir: str) -> dict:
    """Parse the two JSON lists and score them; errors come back as {"error": ...} for the UI."""
    try:
        predictions, references = json.loads(predictions_json), json.loads(references_json)
        return _metric(config).compute(
            predictions=predictions, references=references, wheel_dir=wheel_dir.strip() or None
        )
    except Exception as exc:  # shown to the user, never a silent number
        return {"error": f"{type(exc).__name__}: {exc}"}


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="MER-UniBench") as demo:
        gr.Markdown((HERE / "README.md").read_text(encoding="utf-8").split("---", 2)[-1])
        config = gr.Dropdown(CONFIGS, value="mer2023", label="dataset (config)")
        predictions = gr.Code(EXAMPLE["mer2023"][0], language="json", label="predictions (JSON list)")
        references = gr.Code(EXAMPLE["mer2023"][1], language="json", label="references (JSON list)")
        wheel_dir = gr.Textbox(
            "", label="wheel_dir (optional; default: MER_UNIBENCH_WHEEL_DIR, else the bundled table)"
        )
        button = gr.Button("Score", variant="primary")
        result = gr.JSON(label="result")

        def _example(name: str):
            if name in {"cmumosi", "cmumosei", "sims", "simsv2"}:
                return EXAMPLE["cmumosi"]
            return EXAMPLE["ovmerdplus" if name == "ovmerdplus" else "mer2023"]

        config.change(_example, config, [predictions, references])
        button.click(score, [config, predictions, references, wheel_dir], result, api_name="score")
    return demo


if __name__ == "__main__":
    build_demo().launch()
