"""AffectGPT's official prompt template, its modality variants, the two questions and the OV-label answer.

Wording follows the official code (DESIGN.md §3): no Qwen chat template, no system prompt, a
`###Human: ... ###Assistant: ` frame. Which sentences appear depends only on which modalities a sample has:
nothing is faked for a missing one. Placeholders are repeated `num_*_query_tokens` times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = [
    "DESCRIPTION_QUESTION",
    "OVLABEL_QUESTION",
    "TASK_QUESTIONS",
    "HUMAN_PREFIX",
    "ASSISTANT_PREFIX",
    "STOP_STRING",
    "PLACEHOLDERS",
    "PLACEHOLDER_FOR_VISUAL",
    "build_media_block",
    "build_prompt",
    "fit_subtitle",
    "format_ovlabel_answer",
    "neutralise_placeholders",
    "question_for",
    "stop_words_ids",
]

DESCRIPTION_QUESTION = "Please infer the person's emotional state and provide your reasoning process."
OVLABEL_QUESTION = "Please recognize all possible emotional states of the character."
TASK_QUESTIONS = {"description": DESCRIPTION_QUESTION, "ovlabel": OVLABEL_QUESTION}

HUMAN_PREFIX = "###Human: "
ASSISTANT_PREFIX = " ###Assistant: "
# Training targets end with "###" + eos; generation stops on it and the answer is cut before it.
STOP_STRING = "###"

# The placeholder tokens in the official tokenizer add order (ids 151665..151669 in Qwen2.5).
PLACEHOLDERS = ("<ImageHere>", "<AudioHere>", "<FrameHere>", "<FaceHere>", "<MultiHere>")
PLACEHOLDER_FOR_VISUAL = {"frame": "<FrameHere>", "face": "<FaceHere>"}
_ANSWER_INSTRUCTION = "Now, please answer my question based on all the provided information."


def stop_words_ids(tokenizer) -> list[list[int]]:
    """The official stop words (conversation_video.py:117-124): generation stops when the output ends with
    eos, with "###", or with the two-token spellings "##" "#" and "#" "##". For Qwen2.5:
    [[151645], [14374], [565, 2], [2, 565]]."""
    hashes = tokenizer.encode(STOP_STRING, add_special_tokens=False)
    two = tokenizer.encode("##", add_special_tokens=False)
    one = tokenizer.encode("#", add_special_tokens=False)
    return [[tokenizer.eos_token_id], hashes, two + one, one + two]


def neutralise_placeholders(text: str) -> str:
    """User text (subtitle, question) with each placeholder string broken up ("<AudioHere>" -> "<Audio Here>"),
    so that it is read as words: as a token it would add a placeholder the features do not fill, and the model
    would refuse the sample."""
    for placeholder in PLACEHOLDERS:
        if placeholder in text:
            text = text.replace(placeholder, placeholder[:-5] + " Here>")
    return text


# Characters of a subtitle kept before it is tokenized for the cap (bounds the tokenizer's work on a huge one).
_CHARS_PER_TOKEN_BOUND = 16


def fit_subtitle(build: Callable[[str], str], subtitle: str, tokenizer, limit: int) -> tuple[str, str | None]:
    """(prompt, subtitle kept): `build(subtitle)` if it has at most `limit` tokens, else `build` of the longest
    start of the subtitle that fits; (build(""), None) when not even an empty subtitle fits.

    The official inference drops the FIRST tokens of a prompt that leaves no room for the answer, which cuts the
    "###Human:" frame and the placeholders (the model would then refuse the sample); the subtitle is the only part
    of a prompt that grows, so its end is cut instead and the frame, the media tokens and the question stay."""

    def length(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    head = subtitle[: limit * _CHARS_PER_TOKEN_BOUND]
    prompt = build(subtitle)
    if head == subtitle and length(prompt) <= limit:
        return prompt, subtitle
    room = limit - length(build(""))
    if room < 0:
        return build(""), None
    ids = tokenizer.encode(head, add_special_tokens=False)
    keep = min(room, len(ids))
    while True:  # token boundaries may shift at the cut: shorten until the re-tokenized prompt fits
        kept = tokenizer.decode(ids[:keep])
        prompt = build(kept)
        if keep == 0 or length(prompt) <= limit:
            return prompt, kept
        keep -= 1


def question_for(task: str) -> str:
    """The official question for `task` ("description" or "ovlabel")."""
    try:
        return TASK_QUESTIONS[task]
    except KeyError:
        raise ValueError(f"Unknown task {task!r}; expected one of {sorted(TASK_QUESTIONS)}") from None


def _visual_sentence(visual_input: str, placeholders: str, after_audio: bool) -> str:
    # The official text says "Meanwhile, we ..." when it follows the audio sentence, "We ..." when it opens.
    opener = "Meanwhile, we" if after_audio else "We"
    if visual_input == "face":
        return (
            f"{opener} uniformly sample raw frames from the video and extract faces from these frames: "
            f"<Video>{placeholders}</Video>. "
        )
    return f"{opener} uniformly sample raw frames from the video: <Video>{placeholders}</Video>. "


def build_media_block(
    *,
    has_video: bool,
    has_audio: bool,
    subtitle: str | None,
    visual_input: str = "frame",
    num_video_query_tokens: int = 1,
    num_audio_query_tokens: int = 1,
    num_multi_query_tokens: int = 1,
    multi_fusion: bool = True,
) -> str:
    """Everything between "###Human: " and the question: modality sentences + the answer instruction.

    The fused `<Multi>` sentence appears only when the sample has both audio and video and the model fuses them.
    `subtitle=None` drops the subtitle sentence; an empty string keeps it (the official code feeds "" for NaN).
    """
    if visual_input not in PLACEHOLDER_FOR_VISUAL:
        raise ValueError(f"visual_input must be 'frame' or 'face', got {visual_input!r}")
    parts = []
    if has_video and has_audio and multi_fusion:
        parts.append(
            f"The audio and video merged info is: <Multi>{'<MultiHere>' * num_multi_query_tokens}</Multi>. "
        )
    if has_audio:
        parts.append(
            f"The audio content is as follows: <Audio>{'<AudioHere>' * num_audio_query_tokens}</Audio>. "
        )
    if has_video:
        placeholders = PLACEHOLDER_FOR_VISUAL[visual_input] * num_video_query_tokens
        parts.append(_visual_sentence(visual_input, placeholders, after_audio=has_audio))
    if subtitle is not None:
        parts.append(f"The subtitle of this video is: <Subtitle>{subtitle}</Subtitle>. ")
    parts.append(_ANSWER_INSTRUCTION + " ")
    return "".join(parts)


def build_prompt(question: str, **media_kwargs) -> str:
    """The full official inference prompt (no bos): "###Human: <media block><question> ###Assistant: ".

    `media_kwargs` are those of `build_media_block`. Training text is `"<|im_start|>" + prompt + answer + "###"
    + eos` and is assembled by the collator."""
    return f"{HUMAN_PREFIX}{build_media_block(**media_kwargs)}{question}{ASSISTANT_PREFIX}"


def format_ovlabel_answer(labels: Sequence[str]) -> str:
    """ "The character's emotional state is a, b, c." — labels joined by ", ", an empty list means neutral."""
    words = [str(label).strip() for label in labels if str(label).strip()]
    return f"The character's emotional state is {', '.join(words) if words else 'neutral'}."
