"""AffectGPTProcessor: raw video / audio / face crops / subtitle / question -> AffectGPT model inputs.

Hub custom code: saved next to the model files and loaded with `trust_remote_code=True`, so this file imports only
transformers, numpy and its single-dot siblings (`.media`, `.prompts`, `.processing_inputs`); media libraries are
imported lazily there. One ProcessorMixin class: its inputs, chat-template support and decoding are methods that
transformers calls by name; the rules they apply live in `.media`, `.prompts` and `.processing_inputs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin
from transformers.utils import logging

from .media import (
    TARGET_SAMPLE_RATE,
    MediaError,
    decode_media,
    load_audio,
    load_faces,
    sample_frames,
    source_name,
    split_audio_clips,
)
from .processing_inputs import conversation_inputs, sample_columns, unwrap_nested
from .prompts import (
    ASSISTANT_PREFIX,
    HUMAN_PREFIX,
    STOP_STRING,
    build_media_block,
    fit_subtitle,
    neutralise_placeholders,
    question_for,
)

__all__ = ["AffectGPTProcessor", "MEDIA_MARKER", "DEFAULT_CHAT_TEMPLATE", "MAX_PROMPT_TOKENS"]

logger = logging.get_logger(__name__)

# Longest inference prompt: the official inference keeps prompt + 1200 new tokens within 2000 positions
# (conversation_video.py:217-222), i.e. 800 prompt tokens (`fit_subtitle` says how a longer one is shortened).
MAX_PROMPT_TOKENS = 2000 - 1200

# The chat template cannot know which modalities a video really has (an mp4 may lack an audio track), so it
# writes this marker and `__call__` replaces it with the matching official prompt variant after decoding.
MEDIA_MARKER = "<|affectgpt_media|>"

# Official frame: "###Human: <media sentences><question> ###Assistant: <answer>###". No system prompt, no bos.
DEFAULT_CHAT_TEMPLATE = (
    "{%- set ns = namespace(media_done=false) -%}"
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}{%- set texts = [message['content']] -%}"
    "{%- else -%}{%- set texts = message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text')"
    " | list -%}{%- endif -%}"
    "{%- if message['role'] == 'system' -%}{{- texts | join(' ') -}}"
    "{%- elif message['role'] == 'user' -%}"
    "{{- '" + HUMAN_PREFIX + "' -}}"
    "{%- if not ns.media_done -%}{{- '" + MEDIA_MARKER + "' -}}{%- set ns.media_done = true -%}{%- endif -%}"
    "{{- texts | join(' ') -}}{{- ' ###Assistant: ' -}}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{% generation %}{{- texts | join(' ') -}}{{- '" + STOP_STRING + "' -}}{% endgeneration %}"
    "{%- endif -%}"
    "{%- endfor -%}"
)

_IMAGE_SIZE = 224


class AffectGPTProcessor(ProcessorMixin):
    """Tokenizer (Qwen2.5 + placeholders) + `CLIPImageProcessorPil` (frames/faces) + `Wav2Vec2FeatureExtractor`.

    `__call__` takes per-sample lists (a single sample may be passed bare) and returns a `BatchFeature` with
    `input_ids`, `attention_mask`, `pixel_values_videos` (B, num_frames, 3, 224, 224), `input_features`
    (B, num_audio_clips, 32000), `video_flags` (B,) and `audio_flags` (B,). Missing modalities are zeros with their
    flag False, and the prompt uses the official variant for the modalities present."""

    # The sub-processor classes come from processor_config.json through the Auto classes (transformers 5: a
    # `*_class` attribute is deprecated and warns on every load); see `_get_arguments_from_pretrained` for CLIP.
    tokenizer_class = "AutoTokenizer"

    def __init__(
        self,
        image_processor=None,
        feature_extractor=None,
        tokenizer=None,
        chat_template=None,
        visual_input: str = "frame",
        num_frames: int = 8,
        num_audio_clips: int = 8,
        num_video_query_tokens: int = 1,
        num_audio_query_tokens: int = 1,
        num_multi_query_tokens: int = 1,
        multi_fusion: bool = True,
        max_prompt_tokens: int | None = MAX_PROMPT_TOKENS,
        **kwargs,
    ):
        if visual_input not in ("frame", "face"):
            raise ValueError(f"visual_input must be 'frame' or 'face', got {visual_input!r}")
        self.visual_input = visual_input
        self.num_frames = int(num_frames)
        self.num_audio_clips = int(num_audio_clips)
        self.num_video_query_tokens = int(num_video_query_tokens)
        self.num_audio_query_tokens = int(num_audio_query_tokens)
        self.num_multi_query_tokens = int(num_multi_query_tokens)
        self.multi_fusion = bool(multi_fusion)
        if max_prompt_tokens is not None and int(max_prompt_tokens) < 1:
            raise ValueError(f"max_prompt_tokens must be >= 1 or None, got {max_prompt_tokens}")
        self.max_prompt_tokens = None if max_prompt_tokens is None else int(max_prompt_tokens)
        if chat_template is None:
            chat_template = DEFAULT_CHAT_TEMPLATE
        super().__init__(image_processor, feature_extractor, tokenizer, chat_template=chat_template, **kwargs)

    @classmethod
    def _get_arguments_from_pretrained(cls, pretrained_model_name_or_path, processor_dict=None, **kwargs):
        """AutoImageProcessor returns the torchvision `CLIPImageProcessor` wherever torchvision is installed;
        the official pixel values are the PIL ones, so the same settings are kept in `CLIPImageProcessorPil`."""
        args = super()._get_arguments_from_pretrained(pretrained_model_name_or_path, processor_dict, **kwargs)
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

        return [
            CLIPImageProcessorPil.from_dict(arg.to_dict())
            if type(arg).__name__ == "CLIPImageProcessor" and not isinstance(arg, CLIPImageProcessorPil)
            else arg
            for arg in args
        ]

    # ------------------------------------------------------------------ inputs -> arrays

    @property
    def model_input_names(self) -> list[str]:
        return [
            "input_ids",
            "attention_mask",
            "pixel_values_videos",
            "input_features",
            "video_flags",
            "audio_flags",
        ]

    def _visual_and_audio(
        self, video, audio, face, backend: str
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """One sample's sampled frames (num_frames, H, W, 3) uint8 and 16 kHz mono waveform (or None each)."""
        frames = waveform = None
        if self.visual_input == "face" and face is not None:
            frames = load_faces(face, self.num_frames, size=(_IMAGE_SIZE, _IMAGE_SIZE))
        if video is not None:
            if isinstance(video, np.ndarray):
                if self.visual_input == "frame":
                    frames = sample_frames(video, self.num_frames, "video array")
            else:
                decode_video = self.visual_input == "frame"
                if decode_video or audio is None:  # in face mode a video file still gives the audio track
                    decoded = decode_media(
                        video,
                        num_frames=self.num_frames,
                        want_video=decode_video,
                        want_audio=audio is None,
                        frame_size=(_IMAGE_SIZE, _IMAGE_SIZE),
                        backend=backend,
                    )
                    frames = decoded.frames if decode_video else frames
                    waveform = decoded.audio
        if audio is not None:
            waveform = load_audio(audio, backend=backend)
        return frames, waveform

    def _audio_features(self, waveform: np.ndarray) -> np.ndarray:
        """(num_audio_clips, 32000) HuBERT input values of one 16 kHz mono waveform, as the official code makes them.

        Two official steps: `transform_audio` subtracts each clip's own mean in place (`waveform -= waveform.mean()`
        on a view of each clip), and the HuBERT encoder then hands the whole (8, 32000) tensor to the feature
        extractor as ONE input, so the zero-mean/unit-variance normalisation uses statistics over all 8 clips
        together; flattening reproduces that."""
        clips = split_audio_clips(waveform, self.num_audio_clips, TARGET_SAMPLE_RATE)
        clips -= clips.mean(axis=1, keepdims=True)
        values = self.feature_extractor(
            [clips.reshape(-1)], sampling_rate=TARGET_SAMPLE_RATE, return_tensors="np"
        ).input_values
        return np.asarray(values, dtype=np.float32).reshape(clips.shape)

    def _pixel_values(self, frames: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) uint8 -> (T, 3, 224, 224) float32: squash resize (no crop) + CLIP normalisation."""
        out = self.image_processor(list(frames), return_tensors="np").pixel_values
        return np.asarray(out, dtype=np.float32)

    # ------------------------------------------------------------------ main entry point

    def __call__(
        self,
        text: str | Sequence[str] | None = None,
        videos: Any = None,
        audio: Any = None,
        faces: Any = None,
        subtitles: str | Sequence[str | None] | None = None,
        questions: str | Sequence[str] | None = None,
        task: str | None = None,
        images: Any = None,
        audios: Any = None,
        padding_side: str | None = None,
        return_tensors: str | None = "pt",
        backend: str = "pyav",
        truncate_subtitles: bool = True,
        **kwargs,
    ) -> BatchFeature:
        """Build model inputs for a batch.

        Args (per-sample lists; `None` entries mean "absent" for that sample):
            text: full prompts. A prompt containing `MEDIA_MARKER` (the chat template writes it) gets the official
                media sentences for that sample's modalities; other prompts are used verbatim.
            videos: path / file-like / bytes / `{"path","bytes"}` dict (frames + audio track decoded in one open),
                or decoded frames (T, H, W, 3) uint8.
            audio / audios: path of an audio (or video) file, or `(waveform, sampling_rate)`; overrides the track.
            faces: `.npy` path or (T, H, W, 3) array of face crops (used when `visual_input == "face"`).
            subtitles: subtitle text per sample; `None` drops the subtitle sentence.
            questions / task: the question, or the official one for task "description" | "ovlabel" (default
                "description") when `text` is not given.
            padding_side: "left" (default, generation) or "right" (training).
            truncate_subtitles: shorten a subtitle (with a warning) so that the prompt fits `max_prompt_tokens`;
                the training collator turns it off and drops over-long samples instead.
        Placeholder strings inside subtitles and questions are broken up (`neutralise_placeholders`).
        """
        if images is not None:
            raise ValueError("AffectGPT takes videos (frames), not images: pass `videos=` or `faces=`")
        if audios is not None:
            if audio is not None:
                raise ValueError("pass either `audio` or `audios`, not both")
            audio = audios
        kwargs.pop("sampling_rate", None)  # apply_chat_template adds it; audio carries its own rate
        for unused in ("add_special_tokens", "do_sample_frames", "sanitize_control_tokens"):
            kwargs.pop(unused, None)

        column, batch_size = sample_columns(
            {
                "text": text,
                "videos": videos,
                "audio": audio,
                "faces": faces,
                "subtitles": subtitles,
                "questions": questions,
            },
            task,
        )

        prompts: list[str] = []
        pixel_values = np.zeros((batch_size, self.num_frames, 3, _IMAGE_SIZE, _IMAGE_SIZE), dtype=np.float32)
        features = np.zeros((batch_size, self.num_audio_clips, int(2 * TARGET_SAMPLE_RATE)), dtype=np.float32)
        video_flags = np.zeros(batch_size, dtype=bool)
        audio_flags = np.zeros(batch_size, dtype=bool)
        visual_batch: list[tuple[int, np.ndarray]] = []
        for i in range(batch_size):
            video = unwrap_nested(column["videos"][i], "video")
            sample_audio = unwrap_nested(column["audio"][i], "audio")
            subtitle = column["subtitles"][i]
            if subtitle is not None and not isinstance(subtitle, str):
                where = source_name(video) if video is not None else f"sample {i}"
                raise TypeError(f"{where}: subtitle must be text (str), got {type(subtitle).__name__}")
            frames, waveform = self._visual_and_audio(video, sample_audio, column["faces"][i], backend)
            if frames is not None:
                video_flags[i] = True
                visual_batch.append((i, frames))
            if waveform is not None:
                audio_flags[i] = True
                features[i] = self._audio_features(waveform)
            has = (bool(video_flags[i]), bool(audio_flags[i]))
            prompt = self._prompt(i, column, subtitle, *has, task)
            text_i = column["text"][i]
            uses_subtitle = text_i is None or MEDIA_MARKER in text_i
            if truncate_subtitles and subtitle and uses_subtitle and self.max_prompt_tokens is not None:
                where = source_name(video) if video is not None else f"sample {i}"
                prompt, kept = fit_subtitle(
                    lambda s, i=i, has=has: self._prompt(i, column, s, *has, task),
                    subtitle,
                    self.tokenizer,
                    self.max_prompt_tokens,
                )
                if kept is None:
                    raise ValueError(
                        f"{where}: the prompt is longer than max_prompt_tokens={self.max_prompt_tokens}"
                    )
                if len(kept) < len(subtitle):
                    logger.warning(
                        f"{where}: subtitle of {len(subtitle)} characters cut to its first {len(kept)} so that the "
                        f"prompt fits max_prompt_tokens={self.max_prompt_tokens} (official: 2000 positions - 1200 "
                        "for the answer)"
                    )
            prompts.append(prompt)

        if visual_batch:
            # One image-processor call for the whole batch (fewer Python round trips than per sample).
            stacked = self._pixel_values(np.concatenate([frames for _, frames in visual_batch]))
            for slot, (i, _) in enumerate(visual_batch):
                pixel_values[i] = stacked[slot * self.num_frames : (slot + 1) * self.num_frames]

        encoded = self.tokenizer(
            prompts,
            padding=kwargs.pop("padding", True),
            padding_side=padding_side or "left",
            add_special_tokens=False,  # Qwen has no bos; the official inference prepends nothing
            return_attention_mask=True,
            **{
                k: v for k, v in kwargs.items() if k in ("truncation", "max_length", "return_offsets_mapping")
            },
        )
        data = {
            "input_ids": encoded["input_ids"],
            "attention_mask": encoded["attention_mask"],
            "pixel_values_videos": pixel_values,
            "input_features": features,
            "video_flags": video_flags,
            "audio_flags": audio_flags,
        }
        if "offset_mapping" in encoded:
            data["offset_mapping"] = encoded["offset_mapping"]
        return BatchFeature(data=data, tensor_type=return_tensors)

    def _media_block(self, subtitle: str | None, has_video: bool, has_audio: bool) -> str:
        if subtitle is not None:
            subtitle = neutralise_placeholders(subtitle)
        return build_media_block(
            has_video=has_video,
            has_audio=has_audio,
            subtitle=subtitle,
            visual_input=self.visual_input,
            num_video_query_tokens=self.num_video_query_tokens,
            num_audio_query_tokens=self.num_audio_query_tokens,
            num_multi_query_tokens=self.num_multi_query_tokens,
            multi_fusion=self.multi_fusion,
        )

    def _prompt(
        self, i: int, column: dict, subtitle, has_video: bool, has_audio: bool, task: str | None
    ) -> str:
        text = column["text"][i]
        if text is not None:
            if MEDIA_MARKER in text:
                head, tail = text.split(MEDIA_MARKER, 1)
                tail = neutralise_placeholders(tail.replace(MEDIA_MARKER, ""))
                return head + self._media_block(subtitle, has_video, has_audio) + tail
            return text
        question = column["questions"][i] or question_for(task or "description")
        return self.build_prompt(question, has_video, has_audio, subtitle)

    def build_prompt(
        self, question: str, has_video: bool, has_audio: bool, subtitle: str | None = None
    ) -> str:
        """The official prompt string for one sample with this processor's settings (used by the collator)."""
        media = self._media_block(subtitle, has_video, has_audio)
        return HUMAN_PREFIX + media + neutralise_placeholders(question) + ASSISTANT_PREFIX

    # ------------------------------------------------------------------ chat template support

    def _multimodal_inputs_from_conversations(
        self, conversations, audio_loading_params, load_audio_from_video=False
    ):
        """Media sources and subtitles per conversation, not decoded (`processing_inputs.conversation_inputs`)."""
        return conversation_inputs(conversations)

    # ------------------------------------------------------------------ decoding generated text

    def post_process(self, text: str) -> str:
        """The official answer cleaning (conversation_video.py:275-281) of decoded generated text: the part after
        bos and before eos, cut before its last "###", the part after "Assistant:", stripped."""
        bos, eos = self.tokenizer.bos_token, self.tokenizer.eos_token
        if bos:
            text = text.split(bos)[-1]
        if eos:
            text = text.split(eos)[0]
        return text.rsplit(STOP_STRING, 1)[0].split("Assistant:")[-1].strip()

    def batch_decode(self, sequences, skip_special_tokens: bool = False, **kwargs) -> list[str]:
        """Generated ids (prompt excluded) -> answers. Decoded with special tokens, as the official code, so that
        `post_process` finds the eos; padding after a finished row is eos too."""
        texts = self.tokenizer.batch_decode(sequences, skip_special_tokens=skip_special_tokens, **kwargs)
        return [self.post_process(t) for t in texts]

    def decode(self, sequence, skip_special_tokens: bool = False, **kwargs) -> str:
        return self.post_process(
            self.tokenizer.decode(sequence, skip_special_tokens=skip_special_tokens, **kwargs)
        )

    def post_process_image_text_to_text(
        self, generated_outputs, skip_special_tokens=False, **kwargs
    ) -> list[str]:
        return self.batch_decode(generated_outputs, skip_special_tokens=skip_special_tokens, **kwargs)


AffectGPTProcessor.register_for_auto_class("AutoProcessor")

# Re-exported so callers can catch decoding problems without importing .media.
AffectGPTProcessor.MediaError = MediaError
