"""AffectGPTProcessor: every input form, mixed batches, prompts/placeholders, padding, errors, save/load."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processing import AffectGPTProcessor, build_processor
from processing.media import MediaError, split_audio_clips
from processing.prompts import DESCRIPTION_QUESTION, OVLABEL_QUESTION
from tests.conftest import make_frames, make_tone

FRAME, FACE, AUDIO, MULTI = 151667, 151668, 151666, 151669


@pytest.fixture(scope="module")
def processor():
    return build_processor()


@pytest.fixture(scope="module")
def face_processor(processor):
    return build_processor(tokenizer=processor.tokenizer, visual_input="face")


def _counts(ids_row, mask_row):
    ids = ids_row[mask_row.bool()].tolist()
    return {
        name: ids.count(tid)
        for name, tid in (("frame", FRAME), ("face", FACE), ("audio", AUDIO), ("multi", MULTI))
    }


def _check_shapes(out, batch):
    assert out["pixel_values_videos"].shape == (batch, 8, 3, 224, 224)
    assert out["pixel_values_videos"].dtype == torch.float32
    assert out["input_features"].shape == (batch, 8, 32000) and out["input_features"].dtype == torch.float32
    assert out["video_flags"].dtype == torch.bool and out["audio_flags"].dtype == torch.bool
    assert out["input_ids"].dtype == torch.long and out["attention_mask"].shape == out["input_ids"].shape


def test_video_path_gives_frames_audio_and_full_prompt(processor, mp4_with_audio):
    out = processor(videos=str(mp4_with_audio), subtitles="I am fine.", task="ovlabel")
    _check_shapes(out, 1)
    assert out["video_flags"].tolist() == [True] and out["audio_flags"].tolist() == [True]
    assert _counts(out["input_ids"][0], out["attention_mask"][0]) == {
        "frame": 1,
        "face": 0,
        "audio": 1,
        "multi": 1,
    }
    text = processor.tokenizer.decode(out["input_ids"][0])
    assert text == (
        "###Human: The audio and video merged info is: <Multi><MultiHere></Multi>. The audio content is as "
        "follows: <Audio><AudioHere></Audio>. Meanwhile, we uniformly sample raw frames from the video: "
        "<Video><FrameHere></Video>. The subtitle of this video is: <Subtitle>I am fine.</Subtitle>. Now, please "
        f"answer my question based on all the provided information. {OVLABEL_QUESTION} ###Assistant: "
    )
    assert out["input_features"][0].abs().sum() > 0 and out["pixel_values_videos"][0].abs().sum() > 0


def test_all_input_forms_agree(processor, mp4_with_audio, wav_file):
    from processing.media import decode_media

    data = mp4_with_audio.read_bytes()
    decoded = decode_media(mp4_with_audio)
    reference = processor(videos=[str(mp4_with_audio)], audio=[str(wav_file)])
    for videos, audio in [
        (io.BytesIO(data), str(wav_file)),
        ({"path": None, "bytes": data}, str(wav_file)),
        (decoded.frames, (np.asarray(make_tone(3.0)), 16000)),
    ]:
        out = processor(videos=[videos], audio=[audio])
        _check_shapes(out, 1)
        torch.testing.assert_close(out["pixel_values_videos"], reference["pixel_values_videos"])
        torch.testing.assert_close(out["input_features"], reference["input_features"], atol=1e-3, rtol=0)
        assert out["input_ids"].tolist() == reference["input_ids"].tolist()


def test_pixel_values_are_squashed_clip_normalised(processor):
    frames = make_frames(8, 48, 64)
    out = processor(videos=[frames])
    from PIL import Image

    mean = np.array([0.48145466, 0.4578275, 0.40821073])[:, None, None]
    std = np.array([0.26862954, 0.26130258, 0.27577711])[:, None, None]
    # squash (no crop) to 224x224 with bicubic, then (x/255 - mean)/std
    squashed = np.asarray(Image.fromarray(frames[3]).resize((224, 224), Image.Resampling.BICUBIC))
    expected = (squashed.transpose(2, 0, 1) / 255.0 - mean) / std
    np.testing.assert_allclose(out["pixel_values_videos"][0, 3].numpy(), expected, atol=1e-4)


def test_audio_normalisation_is_joint_over_the_eight_clips(processor):
    wave = np.concatenate([0.01 * make_tone(10.0), 0.5 * make_tone(20.0)])  # loud second half
    out = processor(audio=[(wave, 16000)])
    clips = split_audio_clips(wave)
    expected = (clips - clips.mean()) / np.sqrt(clips.var() + 1e-7)
    np.testing.assert_allclose(out["input_features"][0].numpy(), expected, atol=1e-4)
    per_clip_std = out["input_features"][0].std(dim=1)
    assert per_clip_std[0] < 0.2 < per_clip_std[-1]  # not normalised clip by clip


def test_video_without_audio_track(processor, mp4_no_audio):
    out = processor(videos=[str(mp4_no_audio)], subtitles=["hi"])
    assert out["audio_flags"].tolist() == [False] and out["video_flags"].tolist() == [True]
    assert not out["input_features"].any()
    assert _counts(out["input_ids"][0], out["attention_mask"][0]) == {
        "frame": 1,
        "face": 0,
        "audio": 0,
        "multi": 0,
    }
    text = processor.tokenizer.decode(out["input_ids"][0])
    assert "###Human: We uniformly sample raw frames from the video: <Video><FrameHere></Video>." in text
    assert DESCRIPTION_QUESTION in text  # default task


def test_mixed_batch_flags_placeholders_and_left_padding(processor, mp4_with_audio, mp4_no_audio, wav_file):
    out = processor(
        videos=[str(mp4_with_audio), str(mp4_no_audio), None, None],
        audio=[None, None, str(wav_file), None],
        subtitles=["a", None, "c", "only text here"],
        questions=[DESCRIPTION_QUESTION, OVLABEL_QUESTION, "Q?", "Q?"],
    )
    _check_shapes(out, 4)
    assert out["video_flags"].tolist() == [True, True, False, False]
    assert out["audio_flags"].tolist() == [True, False, True, False]
    counts = [_counts(out["input_ids"][i], out["attention_mask"][i]) for i in range(4)]
    assert counts[0] == {"frame": 1, "face": 0, "audio": 1, "multi": 1}
    assert counts[1] == {"frame": 1, "face": 0, "audio": 0, "multi": 0}
    assert counts[2] == {"frame": 0, "face": 0, "audio": 1, "multi": 0}
    assert counts[3] == {"frame": 0, "face": 0, "audio": 0, "multi": 0}
    assert not out["pixel_values_videos"][2:].any() and not out["input_features"][[1, 3]].any()
    mask = out["attention_mask"]
    assert mask[:, -1].all() and not mask.all()  # left padded: every row ends with a real token
    pad_rows = ~mask.bool()
    assert (out["input_ids"][pad_rows] == 151645).all()  # official pad = eos = <|im_end|>
    assert processor.tokenizer.decode(out["input_ids"][2][mask[2].bool()]).startswith(
        "###Human: The audio content is as follows: <Audio><AudioHere></Audio>. The subtitle"
    )
    assert processor.tokenizer.decode(out["input_ids"][3][mask[3].bool()]).startswith(
        "###Human: The subtitle of this video is: <Subtitle>only text here</Subtitle>. Now, please"
    )


def test_right_padding_for_training(processor):
    out = processor(subtitles=["short", "a much longer subtitle than the first one"], padding_side="right")
    assert out["attention_mask"][:, 0].all() and not out["attention_mask"][0, -1]


def test_face_variant(face_processor, mp4_with_audio, tmp_path):
    np.save(tmp_path / "face.npy", make_frames(30, 112, 96))
    out = face_processor(videos=[str(mp4_with_audio)], faces=[str(tmp_path / "face.npy")])
    assert out["video_flags"].tolist() == [True] and out["audio_flags"].tolist() == [True]
    assert _counts(out["input_ids"][0], out["attention_mask"][0]) == {
        "frame": 0,
        "face": 1,
        "audio": 1,
        "multi": 1,
    }
    assert "extract faces from these frames: <Video><FaceHere></Video>" in face_processor.tokenizer.decode(
        out["input_ids"][0]
    )
    only_faces = face_processor(faces=[make_frames(5, 64, 64)])
    assert only_faces["audio_flags"].tolist() == [False]
    text = face_processor.tokenizer.decode(only_faces["input_ids"][0])
    assert text.startswith("###Human: We uniformly sample raw frames from the video and extract faces")


@pytest.mark.parametrize(
    ("video_q", "audio_q", "multi_q", "fusion"), [(1, 1, 1, True), (3, 2, 4, True), (2, 2, 2, False)]
)
def test_placeholder_counts_follow_query_tokens(processor, mp4_with_audio, video_q, audio_q, multi_q, fusion):
    custom = build_processor(
        tokenizer=processor.tokenizer,
        num_video_query_tokens=video_q,
        num_audio_query_tokens=audio_q,
        num_multi_query_tokens=multi_q,
        multi_fusion=fusion,
    )
    out = custom(videos=[str(mp4_with_audio)])
    assert _counts(out["input_ids"][0], out["attention_mask"][0]) == {
        "frame": video_q,
        "face": 0,
        "audio": audio_q,
        "multi": multi_q if fusion else 0,
    }


def test_chat_template_decodes_video_and_its_audio(processor, mp4_with_audio, mp4_no_audio):
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "video", "path": str(mp4_with_audio)},
                {"type": "subtitle", "text": "Oh no."},
                {"type": "text", "text": OVLABEL_QUESTION},
            ],
        }
    ]
    out = processor.apply_chat_template(messages, tokenize=True, return_dict=True)
    direct = processor(videos=[str(mp4_with_audio)], subtitles=["Oh no."], task="ovlabel")
    assert out["input_ids"].tolist() == direct["input_ids"].tolist()
    torch.testing.assert_close(out["pixel_values_videos"], direct["pixel_values_videos"])
    torch.testing.assert_close(out["input_features"], direct["input_features"])
    batch = processor.apply_chat_template(
        [
            messages,
            [
                {
                    "role": "user",
                    "content": [{"type": "video", "path": str(mp4_no_audio)}, {"type": "text", "text": "Q?"}],
                }
            ],
        ],
        tokenize=True,
        return_dict=True,
    )
    assert batch["audio_flags"].tolist() == [True, False] and batch["video_flags"].tolist() == [True, True]


def test_chat_template_training_text_with_answer(processor):
    text = processor.apply_chat_template(
        [
            {"role": "user", "content": [{"type": "text", "text": "Q?"}]},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "The character's emotional state is happy."}],
            },
        ],
        tokenize=False,
    )
    assert (
        text == "###Human: <|affectgpt_media|>Q? ###Assistant: The character's emotional state is happy.###"
    )


def test_decode_follows_the_official_post_processing(processor):
    """decode, keep what precedes eos, cut before the LAST "###", keep what follows "Assistant:", strip
    (conversation_video.py:275-281). Padding after eos (pad = eos) and anything after it is dropped."""
    tok = processor.tokenizer
    ids = (
        tok("The person is calm.### extra ###")["input_ids"] + [151645, 151645] + tok("junk###")["input_ids"]
    )
    assert processor.batch_decode([ids]) == ["The person is calm.### extra"]
    ids = tok(" ###Assistant: The person is calm.###")["input_ids"] + [151645]
    assert processor.decode(ids) == "The person is calm."
    assert processor.post_process_image_text_to_text([ids]) == ["The person is calm."]


def test_errors_name_the_file(processor, tmp_path, corrupt_mp4, wav_file, mp4_with_audio):
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        processor(videos=[str(tmp_path / "missing.mp4")])
    with pytest.raises(MediaError, match="corrupt.mp4"):
        processor(videos=[str(corrupt_mp4)])
    with pytest.raises(MediaError, match=r"tone\.wav.*no video stream"):
        processor(videos=[str(wav_file)])
    with pytest.raises(MediaError, match="sampling rate"):
        processor(audio=[(make_tone(1.0), 0)])
    with pytest.raises(TypeError, match=r"with_audio\.mp4.*subtitle must be text"):
        processor(videos=[str(mp4_with_audio)], subtitles=[123])
    with pytest.raises(ValueError, match="2 items but the batch has 1"):
        processor(videos=[str(mp4_with_audio)], subtitles=["a", "b"])
    with pytest.raises(ValueError, match="Unknown task"):
        processor(subtitles=["a"], task="sentiment")


def test_save_load_round_trip(processor, tmp_path, mp4_with_audio):
    from transformers import AutoProcessor

    custom = build_processor(tokenizer=processor.tokenizer, num_audio_query_tokens=2, multi_fusion=False)
    custom.save_pretrained(tmp_path)
    loaded = AutoProcessor.from_pretrained(tmp_path, trust_remote_code=True)
    assert type(loaded).__name__ == "AffectGPTProcessor"
    assert type(loaded.image_processor).__name__ == "CLIPImageProcessorPil"
    assert (loaded.num_audio_query_tokens, loaded.multi_fusion, loaded.visual_input) == (2, False, "frame")
    kwargs = {"videos": [str(mp4_with_audio), None], "subtitles": ["x", "y"]}
    a, b = custom(**kwargs), loaded(**kwargs)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_saved_folder_loads_without_the_project(processor, tmp_path, mp4_with_audio):
    """The Hub folder is flat custom code: it must work where `processing` cannot be imported."""
    import json
    import subprocess
    import sys

    processor.save_pretrained(tmp_path / "hub")
    expected = processor(videos=[str(mp4_with_audio)])["input_ids"].tolist()
    script = f"""
import sys, json
sys.path = [p for p in sys.path if p not in ('', {str(tmp_path.parents[0])!r})]
sys.meta_path.insert(0, type('Block', (), {{'find_spec': staticmethod(
    lambda name, *a: (_ for _ in ()).throw(ImportError(name)) if name.split('.')[0] in
    ('processing', 'modeling_affectgpt', 'affectgpt') else None)}})())
from transformers import AutoProcessor
p = AutoProcessor.from_pretrained({str(tmp_path / "hub")!r}, trust_remote_code=True)
print(json.dumps(p(videos=[{str(mp4_with_audio)!r}])["input_ids"].tolist()))
"""
    import os

    env = {**os.environ, "PYTHONPATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_images_are_rejected(processor):
    with pytest.raises(ValueError, match="videos"):
        processor(images=[make_frames(1)[0]], subtitles=["x"])


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    n=st.integers(min_value=1, max_value=30),
    height=st.integers(min_value=2, max_value=80),
    width=st.integers(min_value=2, max_value=80),
    seconds=st.floats(min_value=0.0, max_value=4.0),
    rate=st.integers(min_value=1000, max_value=96000),
)
def test_random_frames_sizes_and_rates_never_crash(processor, n, height, width, seconds, rate):
    frames = make_frames(n, height, width)
    wave = np.sin(np.arange(int(seconds * rate)) / 7.0).astype(np.float32)
    out = processor(videos=[frames], audio=[(wave, rate)], subtitles=["s"])
    _check_shapes(out, 1)
    assert torch.isfinite(out["pixel_values_videos"]).all() and torch.isfinite(out["input_features"]).all()


def test_processor_class_is_registered_for_auto():
    assert AffectGPTProcessor._auto_class == "AutoProcessor"


def test_placeholder_strings_in_user_text_are_read_as_words(processor):
    """A subtitle or question quoting a placeholder must not add a placeholder token (the model would refuse the
    clip because its features fill only the real ones)."""
    quoted = "say <AudioHere><FrameHere> <MultiHere> <FaceHere> <ImageHere> now"
    out = processor(
        videos=[make_frames(8)],
        audio=[(make_tone(1.0), 16000)],
        subtitles=[quoted],
        questions=["What is <AudioHere>?"],
    )
    assert _counts(out["input_ids"][0], out["attention_mask"][0]) == {
        "frame": 1,
        "face": 0,
        "audio": 1,
        "multi": 1,
    }
    assert (out["input_ids"][0] == 151665).sum() == 0  # <ImageHere>
    text = processor.tokenizer.decode(out["input_ids"][0])
    assert "say <Audio Here><Frame Here> <Multi Here> <Face Here> <Image Here> now" in text
    assert "What is <Audio Here>? ###Assistant: " in text


_INSTRUCTION = "Now, please answer my question based on all the provided information."  # official wording


def test_over_long_subtitle_is_cut_to_fit_with_a_warning(processor, caplog):
    from processing.processing_affectgpt import MAX_PROMPT_TOKENS

    assert MAX_PROMPT_TOKENS == 2000 - 1200  # official: prompt + 1200 new tokens within 2000
    subtitle = "word " * 20000  # 100k characters, ~20k tokens
    with caplog.at_level("WARNING"):
        out = processor(videos=[make_frames(8)], audio=[(make_tone(1.0), 16000)], subtitles=[subtitle])
    ids = out["input_ids"][0].tolist()
    assert len(ids) <= MAX_PROMPT_TOKENS and len(ids) > MAX_PROMPT_TOKENS - 10
    assert _counts(out["input_ids"][0], out["attention_mask"][0]) == {
        "frame": 1,
        "face": 0,
        "audio": 1,
        "multi": 1,
    }
    text = processor.tokenizer.decode(ids)
    assert text.startswith("###Human: ") and text.endswith(
        f"</Subtitle>. {_INSTRUCTION} {DESCRIPTION_QUESTION} ###Assistant: "
    )
    assert (
        "<ndarray>: subtitle of 100000 characters cut" in caplog.text
        and "max_prompt_tokens=800" in caplog.text
    )
    # A prompt that fits is left alone, and training (truncate_subtitles=False) never cuts.
    short = processor(subtitles=["word " * 50])
    assert processor.tokenizer.decode(short["input_ids"][0]).count("word") == 50
    whole = processor(subtitles=[subtitle], truncate_subtitles=False, return_tensors=None)
    assert len(whole["input_ids"][0]) > 20000
