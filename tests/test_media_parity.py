"""Parity with the official AffectGPT media preprocessing, against the outputs of the authors' own code.

The expected values are the official fixtures (`official_media/`, reached only through conftest's
`shared_unibench_dir`; its README says how each was computed). Tolerances are the README's unless a comment says
why they differ."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from processing.media import (
    audio_clip_bounds,
    decode_media,
    load_audio,
    load_faces,
    resize_linear_cv2,
    sample_frame_indices,
    split_audio_clips,
)

AUDIO_CASES = [
    "synth_16k_mono_0p5s",
    "synth_16k_mono_1p3s",
    "synth_16k_mono_2p0s",
    "synth_16k_mono_2p5s",
    "synth_16k_mono_5p3s",
    "synth_16k_mono_21p3s",
    "synth_44k1_stereo_5p3s",
    "synth_48k_mono_3p7s",
    "synth_8k_mono_3p0s",
    "sample_00000000",
]


@pytest.fixture(scope="module")
def official(shared_unibench_dir) -> Path:
    """The fixture folder, every file checked against the sha256 list at the end of its README."""
    folder = shared_unibench_dir / "official_media"
    listed = re.findall(r"^([0-9a-f]{64})  (\S+)$", (folder / "README.md").read_text(), flags=re.M)
    assert listed, "official_media/README.md lists no sha256 values"
    for digest, name in listed:
        path = folder / name
        if path.exists():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, (
                f"{path} differs from its README sha256"
            )
    return folder


@pytest.fixture(scope="module")
def processor():
    from processing import build_processor

    return build_processor()


@pytest.fixture(scope="module")
def face_processor():
    from processing import build_processor

    return build_processor(visual_input="face")


def _audio(official: Path, case: str):
    npz = official / (f"{case}_audio.npz" if case == "sample_00000000" else f"{case}.npz")
    return official / f"{case}.wav", np.load(npz)


# --------------------------------------------------------------------------- audio


@pytest.mark.parametrize("case", AUDIO_CASES)
def test_audio_clip_starts_identical(official, case):
    wav, ref = _audio(official, case)
    waveform = load_audio(wav)
    bounds = audio_clip_bounds(len(waveform))
    assert [start for start, _ in bounds] == ref["starts"].tolist()
    assert [end for _, end in bounds] == ref["ends"].tolist()


@pytest.mark.parametrize("case", AUDIO_CASES)
def test_raw_clips(official, case):
    wav, ref = _audio(official, case)
    waveform = load_audio(wav)
    clips = split_audio_clips(waveform)
    if int(ref["sample_rate"]) == 16000:
        # plain slices of int16 / 32768: bit-exact
        np.testing.assert_array_equal(clips, ref["clips"])
    else:
        assert len(waveform) == int(ref["resampled_length"])  # torchaudio's output length
        np.testing.assert_allclose(clips, ref["clips"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("case", AUDIO_CASES)
def test_hubert_inputs(official, processor, case):
    """Per-clip mean removal, then ONE normalisation over the (8, 32000) array. The synthetic WAVs change their DC
    offset half-way, so in every file longer than 2 s the 8 clip means differ and dropping the mean removal moves
    these values by > 1e-5 (in files up to 2 s the 8 clips are one padded clip, so there it cannot show)."""
    wav, ref = _audio(official, case)
    features = processor(audio=str(wav), task="ovlabel", return_tensors="np")["input_features"][0]
    np.testing.assert_allclose(features, ref["input_values"], rtol=0, atol=1e-5)


# The official demo mp4's own AAC track against the official input computed from the demo WAV. Measured:
# max 0.238, mean 0.0045 (correlation 0.99994); the difference is AAC coding loss (the WAV is the same audio
# before AAC, 55,357 samples at 16 kHz = the track's 152,576 at 44.1 kHz resampled). Bound stated with margin.
MP4_AUDIO_MAX, MP4_AUDIO_MEAN = 0.3, 0.01


def test_demo_mp4_audio_track_against_the_official_wav_input(official, processor):
    ref = np.load(official / "sample_00000000_audio.npz")
    mp4 = str(official / "sample_00000000.mp4")
    assert len(decode_media(mp4, want_video=False).audio) == int(ref["num_samples"])
    features = processor(videos=mp4, task="ovlabel", return_tensors="np")["input_features"][0]
    difference = np.abs(features - ref["input_values"])
    assert difference.max() <= MP4_AUDIO_MAX and difference.mean() <= MP4_AUDIO_MEAN, (
        difference.max(),
        difference.mean(),
    )


# --------------------------------------------------------------------------- frames


@pytest.mark.parametrize("seek", ["never", "auto", "always"])
def test_frames_identical_to_decord(official, seek):
    ref = np.load(official / "sample_00000000_video.npz")
    media = decode_media(official / "sample_00000000.mp4", seek=seek)
    assert media.total_frames == int(ref["num_frames"])
    assert sample_frame_indices(media.total_frames).tolist() == ref["indices"].tolist()
    np.testing.assert_array_equal(media.frames, ref["frames"])


def test_frame_pixel_values(official, processor):
    ref = np.load(official / "sample_00000000_video.npz")
    out = processor(videos=str(official / "sample_00000000.mp4"), task="ovlabel", return_tensors="np")
    np.testing.assert_allclose(out["pixel_values_videos"][0], ref["pixel_values"], rtol=0, atol=1e-6)


@pytest.mark.parametrize(("height", "width"), [(48, 64), (226, 222), (406, 722)])
def test_frames_identical_to_decord_on_other_sizes(tmp_path, height, width):
    """decord (the official reader) itself, where installed, on up- and down-scaled clips of odd aspect."""
    decord = pytest.importorskip("decord")
    from dataset_scripts.media_writer import write_mp4
    from tests.conftest import make_frames

    noise = np.random.default_rng(height).integers(0, 96, size=(12, height, width, 3), dtype=np.uint8)
    path = write_mp4(tmp_path / "clip.mp4", make_frames(12, height, width) // 2 + noise, fps=25)
    reader = decord.VideoReader(str(path), width=224, height=224)
    expected = reader.get_batch(sample_frame_indices(len(reader)).tolist()).asnumpy()
    np.testing.assert_array_equal(decode_media(path, want_audio=False).frames, expected)


# --------------------------------------------------------------------------- faces


def test_face_crops_identical(official, face_processor):
    ref = np.load(official / "faces_official.npz")
    np.testing.assert_array_equal(load_faces(official / "faces.npy", size=(224, 224)), ref["frames"])
    out = face_processor(faces=str(official / "faces.npy"), task="ovlabel", return_tensors="np")
    np.testing.assert_allclose(out["pixel_values_videos"][0], ref["pixel_values"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (37, 113), (112, 112), (224, 224), (300, 448), (448, 448)])
def test_resize_linear_matches_opencv(size):
    cv2 = pytest.importorskip("cv2")
    image = np.random.default_rng(size[0] * 1000 + size[1]).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_linear_cv2(image, 224, 224), cv2.resize(image, (224, 224)))
