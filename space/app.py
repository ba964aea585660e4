"""AffectGPT Gradio Space: upload or record a short clip, get a streamed description of the person's emotional
state, the emotion words as chips and a chart of their emotion-wheel sectors.

Run locally with `affectgpt space` (or `python space/app.py`). The model comes from `AFFECTGPT_MODEL` (a folder
or a Hub repo id, loaded with trust_remote_code) and defaults to the embedded `affectgpt-tiny-synth`.
`build_app(pipeline)` is the factory the tests use with a pipeline of their own.
"""

from __future__ import annotations

import html
import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

try:  # `python space/app.py` from a source checkout that was never pip-installed
    import affectgpt  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from affectgpt import space_support as support

try:  # ZeroGPU Spaces provide `spaces`; elsewhere the decorator is not needed, so a no-op stands in
    import spaces

    gpu = spaces.GPU(duration=120)
except ImportError:

    def gpu(fn):
        return fn


__all__ = ["LIMITS", "build_app", "launch_kwargs", "load_pipeline", "main"]

log = logging.getLogger("affectgpt.space")


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


# Limits keep one request from holding the (single) model for long; all overridable for a private deployment.
LIMITS = {
    "max_mb": _env_number("AFFECTGPT_SPACE_MAX_MB", 50),
    "max_seconds": _env_number("AFFECTGPT_SPACE_MAX_SECONDS", 60),
    "timeout_s": _env_number("AFFECTGPT_SPACE_TIMEOUT", 180),  # no new token for this long -> give up
    "concurrency": int(_env_number("AFFECTGPT_SPACE_CONCURRENCY", 1)),  # one generation at a time per model
    "queue_size": int(_env_number("AFFECTGPT_SPACE_QUEUE", 16)),
}

TASKS = [("Describe the emotional state", "description"), ("List emotion words", "ovlabel")]
DECODINGS = [("Greedy (deterministic)", "greedy"), ("Official sampling (T=1.0, top-p 0.9)", "official")]

# Chips are coloured by the polarity of their level-1 sector (wheel 1), as the lexicon extractor scores them.
POLARITY_COLORS = {"positive": "#22c55e", "negative": "#ef4444", "other": "#a3a3a3"}


class _LazyPipeline:
    """Loads the model on first use, once, so building the app never touches the disk or the network."""

    def __init__(self, pipeline=None):
        self._pipeline = pipeline
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._pipeline is None:
                self._pipeline = load_pipeline()
            return self._pipeline

    @property
    def loaded(self):
        return self._pipeline


def _user_error(message: str, title: str = "Cannot use this clip") -> gr.Error:
    """An error shown to the visitor; the log gets one line, not a traceback (it is the input, not the app)."""
    log.warning("refused a request: %s", message)
    return gr.Error(message, title=title, print_exception=False)


def _chips(words: list[str], rows: list[dict]) -> list[tuple[str, str | None]]:
    """HighlightedText value: each word labelled with its polarity, separated by plain spaces."""
    first = {}
    for row in rows:  # rows come sorted by wheel, so the first hit is wheel 1's sector when it has one
        first.setdefault(row["word"], row["sector"])
    chips: list[tuple[str, str | None]] = []
    for word in words:
        if chips:
            chips.append(("  ", None))
        sector = first.get(word)
        # "worried · scared": the word and, when it differs, the wheel-1 sector it counts as.
        label = f"{word} · {sector}" if sector and sector != word else word
        chips.append((label, support.sector_polarity(sector)))
    return chips


def _wheel_table(words: list[str], rows: list[dict]) -> str:
    """word x wheel -> level-1 sector as an HTML table: readable as text (screen readers, narrow screens),
    one cell per word and wheel, so one word is one row however many wheels it lies on."""
    wheels = range(1, support.wheel_count() + 1)
    sector = {(r["word"], r["wheel"]): r["sector"] for r in rows}
    head = "".join(f'<th scope="col">wheel {k}</th>' for k in wheels)
    body = []
    for word in dict.fromkeys(words):
        cells = []
        for k in wheels:
            hit = sector.get((word, f"wheel {k}"))
            polarity = support.sector_polarity(hit) if hit else "none"
            cells.append(f'<td class="{polarity}">{html.escape(hit) if hit else "—"}</td>')
        body.append(f'<tr><th scope="row">{html.escape(word)}</th>{"".join(cells)}</tr>')
    return (
        '<table class="wheel-table"><caption>Level-1 sector of each emotion word on the five MER-UniBench '
        "emotion wheels (— = not on that wheel)</caption>"
        f'<thead><tr><th scope="col">word</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _example_label(clip: support.ExampleClip) -> str:
    # Gradio cuts example labels after 60 characters: "synth_00118: happy (face happy, voice neutral, ...)".
    return f"{clip.video.stem}: {clip.truth.replace(': ', ' ')}"


def _modalities_line(used: list[str]) -> str:
    return f"**Modalities used:** {', '.join(used) or 'none'}"


def _join(*notes: str | None) -> str:
    return " ".join(n for n in notes if n)


def _check_upload(video: str | None) -> support.VideoInfo:
    if not video:
        raise _user_error("Upload a video or record one with the webcam first.", title="No clip")
    try:
        return support.probe_video(video, int(LIMITS["max_mb"] * 2**20), LIMITS["max_seconds"])
    except support.MediaError as err:
        raise _user_error(str(err)) from err


def build_app(pipeline=None) -> gr.Blocks:
    """The Blocks app. `pipeline` follows the AffectGPTPipeline contract (`stream(clip, task=..., decoding=...,
    max_new_tokens=..., timeout=...)`); None loads the model from AFFECTGPT_MODEL on the first request."""
    from affectgpt.clip_inputs import clip_modalities, modality_notes

    model = _LazyPipeline(pipeline)

    @gpu
    def _generate(clip: dict, task: str, decoding: str, max_new_tokens: int) -> Iterator[str]:
        # The only function that needs the accelerator: ZeroGPU attaches one for its duration.
        yield from model.get().stream(
            clip,
            task=task,
            decoding=decoding,
            max_new_tokens=int(max_new_tokens),
            timeout=LIMITS["timeout_s"],
        )

    def analyze(video, subtitle, task="description", max_new_tokens=256, decoding="greedy"):
        _check_upload(video)
        clip = {"video": video, "audio": None, "subtitle": (subtitle or "").strip() or None, "name": None}
        visual_input = getattr(getattr(model.get(), "processor", None), "visual_input", "frame")
        used = clip_modalities(clip, visual_input)
        modalities = _modalities_line(used)
        missing = modality_notes(clip, used, visual_input)
        note = f"This clip has {', '.join(missing)}: the answer cannot be about it." if missing else ""
        if "audio" not in used:
            gr.Warning("This clip has no audio track: the answer uses the frames and the subtitle only.")
        text = ""
        try:
            for text in _generate(clip, task, decoding, max_new_tokens):
                yield text, None, None, modalities, note
        except (queue.Empty, TimeoutError) as err:
            raise _user_error(
                "The model took too long to answer; try again with fewer new tokens.", "Timeout"
            ) from err
        except ValueError as err:  # PipelineError and processor errors on odd media: say what went wrong
            raise _user_error(f"Could not analyse this clip: {err}") from err
        pipe = model.get()
        words = pipe.extract([text])[0][0]
        if words is None:  # no extractor (wheel files missing): show the text, say why there are no chips
            yield text, None, None, modalities, _join(note, f"No emotion words: {pipe.extractor_note}")
            return
        rows, wheel_note = support.word_sectors(words, getattr(pipe.extractor, "wheel_dir", None))
        note = _join(note, wheel_note, "" if words else "No emotion word found in the answer.")
        yield text, _chips(words, rows), _wheel_table(words, rows) if rows else "", modalities, note

    with gr.Blocks(title="AffectGPT", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(HEADER)
        gr.Markdown(
            support.model_summary(model.loaded, os.environ.get("AFFECTGPT_MODEL")), elem_id="model-info"
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                video = gr.Video(
                    sources=["upload", "webcam"],
                    include_audio=True,
                    label=f"Clip (≤ {LIMITS['max_seconds']:.0f} s)",
                    height=320,
                )
                subtitle = gr.Textbox(
                    label="Subtitle (optional)", placeholder="What the person says, if you know it", lines=2
                )
                task = gr.Radio(TASKS, value="description", label="Task")
                with gr.Accordion("Advanced settings", open=False):
                    max_new_tokens = gr.Slider(16, 1200, value=256, step=16, label="Max new tokens")
                    decoding = gr.Radio(DECODINGS, value="greedy", label="Decoding")
                with gr.Row():
                    clear = gr.ClearButton(value="Clear")
                    submit = gr.Button("Analyze", variant="primary", elem_id="analyze")
                examples_slot = gr.Column(elem_id="examples")
            with gr.Column(scale=1, min_width=300):
                answer = gr.Textbox(
                    label="AffectGPT", lines=8, max_lines=20, elem_id="answer", autoscroll=True
                )
                modalities = gr.Markdown(elem_id="modalities")
                chips = gr.HighlightedText(
                    label="Emotion words", color_map=POLARITY_COLORS, show_legend=True, elem_id="chips"
                )
                sectors = gr.HTML(label="Emotion-wheel sectors", elem_id="sectors")
                note = gr.Markdown(elem_id="note")
        outputs = [answer, chips, sectors, modalities, note]
        clear.add([video, subtitle, *outputs])
        submit.click(
            analyze, [video, subtitle, task, max_new_tokens, decoding], outputs, api_name="analyze"
        )  # fmt: skip
        clips = support.example_clips()
        if clips:
            with examples_slot:
                gr.Examples(
                    [[str(c.video), c.subtitle, "description"] for c in clips],
                    inputs=[video, subtitle, task],
                    outputs=outputs,
                    fn=analyze,
                    cache_examples=True,
                    cache_mode="lazy",  # cached after first use: the Space starts without running the model
                    example_labels=[_example_label(c) for c in clips],
                    label="Synthetic example clips (generated, not real people; truth = how they were made)",
                )
        with gr.Accordion("How it works", open=False):
            gr.Markdown(HOW_IT_WORKS)
        with gr.Accordion("Limits and usage policy", open=False):
            gr.Markdown(POLICY)
    demo.queue(default_concurrency_limit=LIMITS["concurrency"], max_size=LIMITS["queue_size"])
    return demo


def launch_kwargs() -> dict:
    """What `launch()` needs beside host and port: in Gradio 6 theme and css belong here, not to Blocks."""
    clip_dirs = sorted({str(Path(c.video).parent) for c in support.example_clips()})
    return {
        "theme": _theme(),
        "css": CSS,
        "max_file_size": f"{int(LIMITS['max_mb'])}mb",  # refused by the server before it reaches `analyze`
        "allowed_paths": clip_dirs,
        "show_error": True,
    }


def load_pipeline(model: str | None = None):
    """The model from `model`, else AFFECTGPT_MODEL, else the embedded default (GPU + bf16 when present)."""
    from affectgpt.inference import AffectGPTPipeline

    return AffectGPTPipeline.from_pretrained(model or os.environ.get("AFFECTGPT_MODEL") or None)


def _stop_on_sigterm() -> None:
    """SIGTERM (what `docker stop`, systemd and Spaces send) ends the app as Ctrl-C does: Gradio's launch loop
    then closes the server, whose shutdown purges the uploads. Python's default would die without cleaning up."""

    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def main(model: str | None = None, host: str | None = None, port: int | None = None, share: bool = False):
    # Load before launching: a bad model path fails at start-up, and the first visitor does not wait for it.
    demo = build_app(load_pipeline(model))
    _stop_on_sigterm()
    demo.launch(server_name=host, server_port=port, share=share, **launch_kwargs())


# Colours meet WCAG AA (4.5:1) on the Soft theme's light and dark backgrounds: the theme's subdued grey is
# 2.4:1 for small text, and its block labels 3.6:1.
CSS = """
#chips .textspan { font-size: 1.05rem; padding: 4px 10px; border-radius: 999px; }
#note, #note p, #modalities p { color: var(--body-text-color); }
.wheel-table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
.wheel-table caption { text-align: left; padding-bottom: 4px; color: var(--body-text-color); }
.wheel-table th, .wheel-table td { border: 1px solid var(--border-color-primary); padding: 3px 4px;
  text-align: left; color: var(--body-text-color); }
@media (max-width: 480px) { .wheel-table { font-size: 0.72rem; } .wheel-table th, .wheel-table td { padding: 2px; } }
.wheel-table td.positive { background: rgba(34, 197, 94, 0.15); }
.wheel-table td.negative { background: rgba(239, 68, 68, 0.15); }
#examples .gallery-item { max-width: 100%; text-align: left; }
footer { display: none !important; }
"""


def _theme():
    theme = gr.themes.Soft(primary_hue="indigo", secondary_hue="slate")
    return theme.set(
        block_label_text_color="*primary_700",
        block_label_text_color_dark="*neutral_200",
        block_title_text_color="*primary_700",
        block_title_text_color_dark="*neutral_100",
        body_text_color_subdued="*neutral_600",
        body_text_color_subdued_dark="*neutral_300",
        block_info_text_color="*neutral_600",
        block_info_text_color_dark="*neutral_300",
        # White text on the primary colour: indigo 500 gives 4.5:1 only on its flat part, the gradient 3.4:1.
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_dark="*primary_700",
        button_primary_background_fill_hover_dark="*primary_800",
        checkbox_label_background_fill_selected="*primary_700",
        checkbox_label_background_fill_selected_dark="*primary_700",
    )


HEADER = """
# AffectGPT — emotion understanding from video, audio and text
Upload a short clip of one person speaking (or record one), optionally add what they say, and AffectGPT
describes their emotional state and the cues behind it. Based on
[AffectGPT (Lian et al., ICML 2025)](https://arxiv.org/abs/2501.16566).
"""

HOW_IT_WORKS = """
The model named at the top answers; the paper's model uses CLIP ViT-L/14, HuBERT-large and Qwen2.5-7B, the
embedded demo model tiny versions of the same three towers, trained on synthetic clips only.
1. **Frames**: 8 frames are sampled uniformly from the clip and encoded by the vision tower.
2. **Audio**: the sound track is cut into 8 clips of 2 s and encoded by the audio tower (a clip without audio
   gets the official no-audio prompt; nothing is faked).
3. **Pre-fusion**: an attention layer merges audio and video into one token; each modality also gets a token.
4. **Language model**: reads these tokens and the subtitle and writes the answer (greedy by default; the
   paper's sampling is under *Advanced settings*). *Modalities used* says what it was given.
5. **Emotion words**: an offline lexicon extractor pulls the emotion words from the answer; the table maps
   each to its level-1 sector on each of the five emotion wheels of MER-UniBench, and the chips are coloured
   by polarity.
"""

POLICY = """
- **Research demo.** Emotion recognition from faces and voices is uncertain, culturally dependent and often
  wrong. Treat every output as a hypothesis about how someone *appears*, never as what they feel.
- **Do not use it to make decisions about people**: no surveillance or monitoring, no hiring or workplace
  assessment, no education or exam decisions, no law enforcement, credit, insurance or medical use.
- Only upload clips of people who agreed to it. Uploads are processed in memory and temporary files are
  deleted within an hour; nothing is stored or used for training.
- Clips up to 60 s and 50 MB; one request runs at a time and others wait in a queue. The official weights
  are the authors' (research preview, non-commercial use only).
"""

if __name__ == "__main__":
    main()
