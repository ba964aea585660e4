"""synth-mer: plan properties, determinism, decodable clips, loadable output, CLI."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dataset_scripts.synth_draw import VOICE_PARAMS, render_voice
from dataset_scripts.synth_mer import EMOTIONS, VALENCE, build_synth_mer, plan_clips, synth_clip
from dataset_scripts.synth_text import describe

N_CLIPS = 6


@pytest.fixture(scope="module")
def synth_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "ds"
    build_synth_mer(out, num_clips=N_CLIPS, seed=3, test_fraction=0.34, num_workers=1, progress=False)
    return out


def test_plan_is_balanced_and_mixes_modalities():
    specs = plan_clips(300, seed=0, test_fraction=0.2)
    assert sum(s.split == "test" for s in specs) == 60
    counts = {e: sum(s.emotion == e for s in specs) for e in EMOTIONS}
    assert set(counts.values()) == {50}
    carriers = []
    for s in specs:
        shown = [s.face, s.voice, s.text]
        assert set(shown) <= {s.emotion, "neutral"}
        if s.emotion == "neutral":
            assert shown == ["neutral"] * 3
        else:
            carriers.append(sum(m == s.emotion for m in shown))
    assert min(carriers) >= 1
    # A real share of clips carries the emotion in exactly one modality (no single modality suffices).
    assert sum(c == 1 for c in carriers) > 0.15 * len(carriers)
    for modality in ("face", "voice", "text"):
        assert any(
            getattr(s, modality) == s.emotion != "neutral"
            and sum(m == s.emotion for m in (s.face, s.voice, s.text)) == 1
            for s in specs
        )


def test_clip_content_follows_the_spec():
    for spec in plan_clips(12, seed=1):
        clip = synth_clip(spec, seed=1)
        assert clip.frames.shape == (32, 128, 128, 3) and clip.frames.dtype == np.uint8
        assert clip.audio.shape == (32000,) and np.abs(clip.audio).max() <= 1
        if spec.emotion == "neutral":
            assert clip.emotions == [] and clip.valence == 0.0
        else:
            assert clip.emotions and all(w in clip.description for w in clip.emotions)
            assert np.sign(clip.valence) == {"happy": 1, "surprise": 0}.get(spec.emotion, -1)


def test_voice_pitch_ranges_are_distinct():
    def peak(emotion):
        audio = render_voice(emotion, np.random.default_rng(0), 2.0)
        spectrum = np.abs(np.fft.rfft(audio))
        return np.fft.rfftfreq(len(audio), 1 / 16000)[np.argmax(spectrum[20:]) + 20]

    for emotion, params in VOICE_PARAMS.items():
        assert abs(peak(emotion) - params["f0"]) < 0.35 * params["f0"], emotion


def test_same_seed_same_bytes(synth_out, tmp_path):
    again = tmp_path / "again"
    build_synth_mer(again, num_clips=N_CLIPS, seed=3, test_fraction=0.34, num_workers=1, progress=False)
    for path in sorted((synth_out / "media").rglob("*.*")):
        assert path.read_bytes() == (again / path.relative_to(synth_out)).read_bytes(), path.name
    for path in sorted(synth_out.glob("synth-mer/*.parquet")):
        assert path.read_bytes() == (again / path.relative_to(synth_out)).read_bytes()
    other = synth_clip(plan_clips(N_CLIPS, seed=4)[0], seed=4)
    assert not np.array_equal(other.frames, synth_clip(plan_clips(N_CLIPS, seed=3)[0], seed=3).frames)


def test_test_split_alone_equals_the_full_builds_test_split(synth_out, tmp_path):
    import pyarrow.parquet as pq

    only = tmp_path / "only-test"
    build_synth_mer(
        only, num_clips=N_CLIPS, seed=3, test_fraction=0.34, num_workers=1, progress=False, splits=("test",)
    )
    assert not list(only.glob("synth-mer/train-*.parquet"))
    full = pq.read_table(next(synth_out.glob("synth-mer/test-*.parquet"))).to_pylist()
    alone = pq.read_table(next(only.glob("synth-mer/test-*.parquet"))).to_pylist()
    assert alone == full and len(alone) == 2
    for row in alone:
        rel = row["video"]["path"]
        assert (only / rel).read_bytes() == (synth_out / rel).read_bytes()


def test_clips_decode_with_pyav(synth_out):
    import av

    for path in sorted((synth_out / "media/synth-mer/video").glob("*.mp4")):
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        with av.open(str(path)) as container:
            audio = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
            rate = container.streams.audio[0].sample_rate
        assert len(frames) == 32 and frames[0].shape == (128, 128, 3)
        assert rate == 16000 and len(audio) >= 30000


def test_load_dataset_offline(synth_out):
    from datasets import Audio, Video, load_dataset

    dd = load_dataset(str(synth_out), "synth-mer")
    assert set(dd) == {"train", "test"} and len(dd["train"]) + len(dd["test"]) == N_CLIPS
    feats = dd["train"].features
    assert isinstance(feats["video"], Video) and feats["video"].decode is False
    assert isinstance(feats["audio"], Audio) and feats["audio"].decode is False
    row = dd["test"][0]
    assert (synth_out / row["video"]["path"]).is_file() and row["audio"]["path"].endswith(".wav")
    assert row["label"] in EMOTIONS and row["source"] == "synth-mer" and row["split"] == "test"


def test_card_is_a_dataset_card_with_both_splits(synth_out):
    from huggingface_hub import DatasetCard

    data = DatasetCard.load(synth_out / "README.md").data
    assert data.license == "cc0-1.0" and data.task_categories == ["video-text-to-text"]
    (config,) = data.configs
    assert config["config_name"] == "synth-mer"
    assert [f["split"] for f in config["data_files"]] == ["train", "test"]


def test_descriptions_use_only_their_own_wheel_words(wheel_dir):
    """Physical cue phrases avoid every emotion-wheel variant, so a lexicon extractor finds only the labels."""
    from metrics.mer_unibench import load_wheels

    variants = {w.strip().lower() for w in load_wheels(wheel_dir).variant_map}
    rng = np.random.default_rng(5)
    for spec in plan_clips(300, seed=5):  # text only: no need to render the clips
        description, emotions = describe(spec.face, spec.voice, spec.text, spec.emotion, rng)
        tokens = re.findall(r"[a-z'-]+", description.lower())
        found = {t for t in tokens if t in variants} - {"neutral"}
        assert found == set(emotions), (description, found)


def test_valence_sign_agrees_with_the_scorers_reading_of_the_true_labels(wheel_dir):
    """The true emotion words, scored by the lexicon extractor's sentiment, give the sign of the valence: a
    perfect model can reach 100 % sentiment on synth-mer (a corpus that disagreed would cap every model)."""
    from metrics.extraction.lexicon import LexiconExtractor
    from metrics.mer_unibench.scores import sentiment_to_value

    lexicon = LexiconExtractor(wheel_dir, fitted=None)  # the wheel reading VALENCE is signed by
    fitted = LexiconExtractor(wheel_dir)  # the default: also fitted to the official LLM stage
    rng = np.random.default_rng(7)
    seen = set()
    for spec in plan_clips(120, seed=7):
        _, emotions = describe(spec.face, spec.voice, spec.text, spec.emotion, rng)
        polarity = sentiment_to_value(lexicon.sentiment_one(emotions))
        assert polarity == int(np.sign(VALENCE[spec.emotion])), (spec.emotion, emotions)
        if VALENCE[spec.emotion] != 0:  # valence-0 clips are left out of the binary sentiment score
            assert sentiment_to_value(fitted.sentiment_one(emotions)) == polarity, (spec.emotion, emotions)
        seen.add(spec.emotion)
    assert seen == set(EMOTIONS)


def test_cli_builds_and_refuses_to_clobber(tmp_path, capsys):
    from affectgpt.cli import main

    out = tmp_path / "cli"
    args = [
        "build-dataset",
        "synth-mer",
        "--out",
        str(out),
        "--num-clips",
        "3",
        "--num-workers",
        "1",
        "--no-progress",
    ]
    assert main(args) == 0
    before = sorted(p.name for p in out.rglob("*"))
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == before
    assert main([*args, "--overwrite", "--seed", "1"]) == 0
