"""processing.media: the official sampling rules, PyAV decoding of frames + audio track, and clear errors."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processing.media import (
    MediaError,
    audio_clip_bounds,
    decode_media,
    load_audio,
    load_faces,
    sample_frame_indices,
    split_audio_clips,
    to_mono_16k,
)
from tests.conftest import make_frames, make_tone

# --------------------------------------------------------------------------- frame indices


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        # Worked by hand from the official rule arange(0, n, n / min(8, n)), last index repeated up to 8.
        (1, [0, 0, 0, 0, 0, 0, 0, 0]),
        (7, [0, 1, 2, 3, 4, 5, 6, 6]),
        (8, [0, 1, 2, 3, 4, 5, 6, 7]),
        (9, [0, 1, 2, 3, 4, 5, 6, 7]),  # step 1.125 -> floors 0..7
        (250, [0, 31, 62, 93, 125, 156, 187, 218]),  # step 31.25
    ],
)
def test_frame_indices_official_rule(n, expected):
    assert sample_frame_indices(n).tolist() == expected


@given(st.integers(min_value=1, max_value=5000))
def test_frame_indices_property(n):
    indices = sample_frame_indices(n)
    official = np.arange(0, n, n / min(8, n)).astype(int)
    assert len(indices) == 8
    assert indices[: len(official)].tolist() == official.tolist()
    assert np.all(np.diff(indices) >= 0) and indices[0] == 0 and indices[-1] < n


def test_frame_indices_reject_empty():
    with pytest.raises(ValueError):
        sample_frame_indices(0)


# --------------------------------------------------------------------------- audio clips


@pytest.mark.parametrize("seconds", [0.5, 2.0])
def test_short_audio_gives_eight_copies_of_the_padded_clip(seconds):
    wave = make_tone(seconds)
    assert audio_clip_bounds(len(wave)) == [(0, 32000)] * 8
    clips = split_audio_clips(wave)
    assert clips.shape == (8, 32000) and clips.dtype == np.float32
    np.testing.assert_array_equal(clips[:, : len(wave)], np.broadcast_to(wave, (8, len(wave))))
    assert not clips[:, len(wave) :].any()  # zero padding, never noise


def test_thirty_second_audio_clip_boundaries():
    wave = np.arange(30 * 16000, dtype=np.float32)
    # D = 30 s -> s_k = k * 28 / 8 = 3.5k seconds (official: divided by the clip count, not count - 1)
    assert audio_clip_bounds(len(wave)) == [(56000 * k, 56000 * k + 32000) for k in range(8)]
    clips = split_audio_clips(wave)
    assert clips[:, 0].tolist() == [56000.0 * k for k in range(8)]
    np.testing.assert_array_equal(clips[7], wave[392000:424000])


@settings(max_examples=40, deadline=None)
@given(
    seconds=st.floats(min_value=0.0, max_value=6.0),
    rate=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000, 96000]),
    channels=st.integers(min_value=1, max_value=3),
)
def test_any_length_rate_and_channels_give_eight_clips(seconds, rate, channels):
    wave = np.random.default_rng(0).uniform(-1, 1, size=(channels, int(seconds * rate))).astype(np.float32)
    mono = to_mono_16k(wave if channels > 1 else wave[0], rate)
    assert abs(len(mono) - int(seconds * 16000)) <= 2
    assert split_audio_clips(mono).shape == (8, 32000)


def test_stereo_is_averaged():
    left, right = make_tone(1.0), make_tone(1.0, freq=440.0)
    np.testing.assert_allclose(to_mono_16k(np.stack([left, right]), 16000), (left + right) / 2, atol=1e-7)
    np.testing.assert_allclose(to_mono_16k(np.stack([left, right], 1), 16000), (left + right) / 2, atol=1e-7)


@pytest.mark.parametrize("rate", [0, -16000, 44100.5, 10**7, "16k", None])
def test_unsupported_sampling_rate(rate):
    with pytest.raises(MediaError, match="sampling rate"):
        load_audio((make_tone(1.0), rate))


def test_bare_array_without_rate_is_rejected():
    with pytest.raises(MediaError, match="sampling_rate"):
        load_audio(make_tone(1.0))


# --------------------------------------------------------------------------- PyAV decoding


def test_decode_frames_and_audio_in_one_open(mp4_with_audio):
    media = decode_media(mp4_with_audio, frame_size=None)
    assert media.total_frames == 75
    assert media.frames.shape == (8, 48, 64, 3) and media.frames.dtype == np.uint8
    # make_frames writes ramp[i] = i*255//74 into the top half; the sampled indices for 75 frames are these:
    indices = sample_frame_indices(75)
    assert indices.tolist() == [0, 9, 18, 28, 37, 46, 56, 65]
    expected = indices * 255 // 74
    observed = media.frames[:, 4:20, 8:56].astype(float).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(observed, expected, atol=6)  # H.264 is lossy
    assert media.audio.dtype == np.float32 and abs(len(media.audio) - 48000) < 2048


def test_decode_squashes_to_224(mp4_with_audio):
    media = decode_media(mp4_with_audio)
    assert media.frames.shape == (8, 224, 224, 3)


def test_mp4_audio_track_matches_the_same_audio_as_wav(mp4_with_audio, wav_file):
    """AAC is lossy, so samples are not equal. Every decoded sample is kept, the encoder's padding of the last
    AAC frame included (as the ffmpeg CLI extracts audio, and as the official demo WAV was made): 48,000 samples
    become 47 frames of 1024 = 48,128."""
    from_mp4 = decode_media(mp4_with_audio, want_video=False).audio
    from_wav = load_audio(wav_file)
    assert len(from_wav) == 48000 and len(from_mp4) == -(-48000 // 1024) * 1024
    n = len(from_wav)
    assert np.corrcoef(from_mp4[:n], from_wav)[0, 1] > 0.999
    assert np.abs(from_mp4[:n] - from_wav).max() < 0.05
    assert np.abs(from_mp4[n:]).max() < 0.05  # the padding is near-silence


def test_video_without_audio_track_marks_audio_missing(mp4_no_audio):
    media = decode_media(mp4_no_audio)
    assert media.audio is None and media.frames.shape == (8, 224, 224, 3)


@pytest.mark.parametrize("wrap", ["bytes", "filelike", "dict_bytes", "dict_path", "str"])
def test_source_forms(mp4_with_audio, wrap):
    data = mp4_with_audio.read_bytes()
    source = {
        "bytes": data,
        "filelike": io.BytesIO(data),
        "dict_bytes": {"path": None, "bytes": data},
        "dict_path": {"path": str(mp4_with_audio), "bytes": None},
        "str": str(mp4_with_audio),
    }[wrap]
    media = decode_media(source)
    assert media.frames.shape == (8, 224, 224, 3) and media.audio is not None


def test_resampled_stereo_wav(tmp_path):
    import soundfile as sf

    stereo = np.stack([make_tone(2.0, 44100), make_tone(2.0, 44100, 440.0)], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 44100)
    audio = load_audio(tmp_path / "s.wav")
    assert audio.shape == (32000,) and audio.dtype == np.float32


# --------------------------------------------------------------------------- errors name the file


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        decode_media(tmp_path / "nope.mp4")


def test_corrupt_file(corrupt_mp4):
    with pytest.raises(MediaError, match="corrupt.mp4"):
        decode_media(corrupt_mp4)


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.mp4"
    path.write_bytes(b"not a video at all" * 100)
    with pytest.raises(MediaError, match="garbage.mp4"):
        decode_media(path)


def test_no_video_stream_when_video_required(wav_file):
    with pytest.raises(MediaError, match=r"tone\.wav.*no video stream"):
        decode_media(wav_file)
    assert decode_media(wav_file, want_video=False).audio is not None  # fine as an audio source


def test_zero_length_frames():
    with pytest.raises(MediaError, match="zero-length"):
        load_faces(np.zeros((0, 16, 16, 3), np.uint8))


def test_unknown_backend(mp4_with_audio):
    with pytest.raises(ValueError, match="backend"):
        decode_media(mp4_with_audio, backend="opencv")


def test_torchcodec_missing_is_a_clear_import_error(mp4_with_audio):
    try:
        import torchcodec  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="torchcodec"):
            decode_media(mp4_with_audio, backend="torchcodec")
    else:
        assert decode_media(mp4_with_audio, backend="torchcodec").frames.shape == (8, 224, 224, 3)


# --------------------------------------------------------------------------- faces


def test_faces_from_npy_and_array(tmp_path):
    crops = make_frames(20, 112, 112)
    np.save(tmp_path / "face.npy", crops)
    from_path = load_faces(tmp_path / "face.npy")
    np.testing.assert_array_equal(from_path, crops[sample_frame_indices(20)])
    np.testing.assert_array_equal(load_faces(crops), from_path)


def test_faces_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        load_faces(tmp_path / "missing.npy")
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(MediaError, match="flat.npy"):
        load_faces(tmp_path / "flat.npy")
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    with pytest.raises(MediaError, match="bad.npy"):
        load_faces(tmp_path / "bad.npy")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=1, max_value=40),
    height=st.integers(min_value=1, max_value=64),
    width=st.integers(min_value=1, max_value=64),
    as_float=st.booleans(),
)
def test_faces_any_shape_never_crash(n, height, width, as_float):
    crops = make_frames(n, height, width)
    out = load_faces(crops.astype(np.float32) / 255.0 if as_float else crops)
    assert out.shape == (8, height, width, 3) and out.dtype == np.uint8


@pytest.mark.parametrize("seek", ["always", "auto"])
def test_seeking_gives_the_same_frames_as_one_sequential_pass(mp4_with_audio, seek):
    sequential = decode_media(mp4_with_audio, seek="never")
    other = decode_media(mp4_with_audio, seek=seek)
    assert other.total_frames == sequential.total_frames == 75
    np.testing.assert_array_equal(other.frames, sequential.frames)
    np.testing.assert_array_equal(other.audio, sequential.audio)


# --------------------------------------------------------------------------- PCM scaling, rotation, cut-short files


def test_pcm16_is_scaled_by_32768():
    """As soundfile (the official torchaudio backend) reads it: int16 / 32768, so -32768 -> -1 exactly."""
    pcm = np.array([-32768, -16384, 0, 16384, 32767], dtype=np.int16)
    np.testing.assert_array_equal(to_mono_16k(pcm, 16000), pcm.astype(np.float64) / 32768)


def test_all_channels_are_averaged():
    """Better than official (which averages only 2-channel audio): any channel count becomes mono."""
    wave = np.random.default_rng(3).uniform(-1, 1, size=(6, 16000)).astype(np.float32)
    np.testing.assert_allclose(to_mono_16k(wave, 16000), wave.astype(np.float64).mean(axis=0), atol=1e-6)


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_rotated_video_is_read_upright(tmp_path, degrees):
    """The display matrix says how to turn the coded picture for display (counter-clockwise degrees, as the
    ffmpeg CLI reads it); frames come back turned, as decord and ffmpeg show them."""
    import av

    rows, cols = np.mgrid[0:48, 0:64]
    source = np.zeros((10, 48, 64, 3), dtype=np.uint8)
    source[..., 1], source[..., 2] = rows * 5, cols * 3  # smooth: H.264 keeps it within a few levels
    source[:, :, :16] = (255, 0, 0)  # a red band on the left edge makes the orientation visible
    path = tmp_path / f"rot{degrees}.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(degrees)
        for frame in source:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    upright = np.rot90(source[0], k=degrees // 90)  # np.rot90 turns counter-clockwise
    frames = decode_media(path, frame_size=None, want_audio=False).frames
    assert frames.shape[1:] == upright.shape
    assert np.abs(frames[0].astype(int) - upright).mean() < 6  # H.264 is lossy
    assert decode_media(path, want_audio=False).frames.shape == (8, 224, 224, 3)


def test_mp4_cut_short_with_index_at_the_front_warns(tmp_path):
    """With `faststart` the index (moov) is written first, so a file cut short still declares every frame; the
    frames are sampled from what is readable, and the user is told."""
    import av

    frames = make_frames(100, 96, 128)
    frames = frames // 2 + np.random.default_rng(0).integers(0, 128, size=frames.shape, dtype=np.uint8)
    path = tmp_path / "faststart.mp4"
    with av.open(str(path), mode="w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # the index really is at the front
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.warns(RuntimeWarning, match=r"cut\.mp4.*declares 100 video frames but only \d+"):
        media = decode_media(cut, want_audio=False)
    assert 0 < media.total_frames < 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decode_media(path, want_audio=False)  # the whole file: no warning


@pytest.mark.parametrize("rate", [1009, 22050, 44100, 48000])
def test_resampling_phase_by_phase_equals_the_full_kernel(rate, monkeypatch):
    """The path taken when the full kernel would not fit (co-prime rates) against the torchaudio-exact one."""
    from processing import audio_convert

    wave = np.random.default_rng(rate).standard_normal((2, rate // 2 + 17)).astype(np.float32)
    dense = audio_convert.resample_sinc_hann(wave, rate)
    monkeypatch.setattr(audio_convert, "_KERNEL_BUDGET", 64)
    sparse = audio_convert.resample_sinc_hann(wave, rate)
    assert sparse.shape == dense.shape
    np.testing.assert_allclose(sparse, dense, rtol=0, atol=2e-6)


def test_a_co_prime_sampling_rate_resamples_in_bounded_memory(tmp_path):
    """95,003 Hz -> 16 kHz: the full kernel would be 16,000 x 95,017 floats (6 GB per temporary, >20 GB at peak);
    run with 2 GB of address space beyond what the imports took, so that a regression fails here instead of
    exhausting the machine (and a CUDA build of torch, whose import maps more, does not fail it spuriously)."""
    import subprocess
    import sys

    script = (
        "import resource, torch\n"
        "import numpy as np\n"
        "from processing.audio_convert import resample_sinc_hann\n"
        "mapped = int(open('/proc/self/status').read().split('VmSize:')[1].split()[0]) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (mapped + (2 << 30), mapped + (2 << 30)))\n"
        "out = resample_sinc_hann(np.sin(np.arange(95003 // 4) / 7.0).astype(np.float32), 95003)\n"
        "assert out.shape == (4000,) and np.isfinite(out).all(), out.shape\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": root},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
