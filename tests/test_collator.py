"""processing.AffectGPTTrainingCollator: target draw, official training text, label mask, drops, padding."""

from __future__ import annotations

import pickle

import pytest
import torch

from processing import AffectGPTTrainingCollator, build_processor
from processing.collator import IGNORE_INDEX, INDEX_COLUMN, draw_task
from processing.prompts import build_prompt, format_ovlabel_answer, question_for

EOS = 151645
PLACEHOLDERS = {151665, 151666, 151667, 151668, 151669}


@pytest.fixture(scope="module")
def processor():
    return build_processor()


def _row(name, video=None, subtitle="hello", description="He looks happy.", emotions=("happy",), **extra):
    return {
        "name": name,
        "video": video,
        "audio": None,
        "face": None,
        "subtitle": subtitle,
        "description": description,
        "emotions": list(emotions) if emotions is not None else None,
        **extra,
    }


def _expected(processor, row, task, has_video, has_audio):
    """Independent reconstruction of the official training text of one row."""
    tok = processor.tokenizer
    prompt = "<|im_start|>" + build_prompt(
        question_for(task), has_video=has_video, has_audio=has_audio, subtitle=row["subtitle"]
    )
    answer = row["description"] if task == "description" else format_ovlabel_answer(row["emotions"])
    prompt_ids = tok.encode(prompt, add_special_tokens=False)
    target_ids = tok.encode(answer + "###", add_special_tokens=False) + [EOS]
    return prompt_ids, target_ids


@pytest.mark.parametrize("task", ["description", "ovlabel"])
def test_labels_mask_exactly_prompt_and_placeholders(processor, mp4_with_audio, task):
    ratio = 1.0 if task == "ovlabel" else 0.0
    collator = AffectGPTTrainingCollator(processor, ovlabel_ratio=ratio)
    rows = [
        _row("a", video=str(mp4_with_audio), emotions=("happy", "excited")),
        _row("b", subtitle="a much longer subtitle " * 5, description="She is sad, she cries."),
    ]
    batch = collator(rows)
    assert batch["video_flags"].tolist() == [True, False] and batch["audio_flags"].tolist() == [True, False]
    for i, (row, has_media) in enumerate(zip(rows, (True, False))):
        prompt_ids, target_ids = _expected(processor, row, task, has_media, has_media)
        n = len(prompt_ids) + len(target_ids)
        ids, labels, mask = batch["input_ids"][i], batch["labels"][i], batch["attention_mask"][i]
        assert ids[:n].tolist() == prompt_ids + target_ids
        assert labels[: len(prompt_ids)].eq(IGNORE_INDEX).all()  # <|im_start|> + prompt, placeholders inside
        assert labels[len(prompt_ids) : n].tolist() == target_ids  # answer + "###" + eos supervised
        assert labels[n:].eq(IGNORE_INDEX).all() and ids[n:].eq(EOS).all()  # right padding, pad = eos
        assert mask.tolist() == [1] * n + [0] * (len(mask) - n)
        placeholder_positions = [p for p, t in enumerate(ids.tolist()) if t in PLACEHOLDERS]
        assert len(placeholder_positions) == (3 if has_media else 0)  # <MultiHere>, <AudioHere>, <FrameHere>
        assert all(labels[p] == IGNORE_INDEX for p in placeholder_positions)
    decoded = processor.tokenizer.decode(batch["labels"][0][batch["labels"][0] != IGNORE_INDEX])
    expected_answer = (
        rows[0]["description"]
        if task == "description"
        else "The character's emotional state is happy, excited."
    )
    assert decoded == expected_answer + "###<|im_end|>"


def test_media_tensors_follow_kept_rows(processor, mp4_with_audio):
    collator = AffectGPTTrainingCollator(processor, max_length=120, ovlabel_ratio=1.0)
    rows = [_row("long", subtitle="word " * 200), _row("clip", video=str(mp4_with_audio))]
    batch = collator(rows)
    assert batch["input_ids"].shape[0] == 1
    assert batch["video_flags"].tolist() == [True] and batch["pixel_values_videos"].shape[0] == 1
    assert batch["pixel_values_videos"].abs().sum() > 0 and batch["input_features"].shape[:2] == (1, 8)


def test_over_long_samples_dropped_and_counted(processor, caplog):
    collator = AffectGPTTrainingCollator(processor, max_length=100, ovlabel_ratio=0.0)
    rows = [_row("short"), _row("long", subtitle="many words here " * 40), _row("short2")]
    with caplog.at_level("WARNING", logger="processing.collator"):
        batch = collator(rows)
    assert batch["input_ids"].shape[0] == 2
    assert batch["attention_mask"].sum(1).le(100).all()
    assert (collator.num_dropped, collator.num_seen) == (1, 3)
    assert "'long'" in caplog.text and "1 of 2" in caplog.text
    collator(rows)
    assert (collator.num_dropped, collator.num_seen) == (2, 6)


def test_undecodable_media_skipped_counted_and_named(processor, mp4_with_audio, corrupt_mp4, caplog):
    """One corrupt clip must not stop training: its row is dropped like an over-long one, with the file named."""
    collator = AffectGPTTrainingCollator(processor, ovlabel_ratio=1.0)
    rows = [_row("good", video=str(mp4_with_audio)), _row("bad", video=str(corrupt_mp4)), _row("text")]
    with caplog.at_level("WARNING", logger="processing.collator"):
        batch = collator(rows)
    alone = [collator(rows[i : i + 1]) for i in (0, 2)]
    assert batch["input_ids"].shape[0] == 2 and batch["video_flags"].tolist() == [True, False]
    for slot, one in enumerate(alone):  # the kept rows are exactly what they are on their own
        n = int(one["attention_mask"].sum())
        assert batch["input_ids"][slot, :n].tolist() == one["input_ids"][0, :n].tolist()
        assert torch.equal(batch["pixel_values_videos"][slot], one["pixel_values_videos"][0])
    assert (collator.num_media_errors, collator.num_dropped) == (1, 1)
    assert "'bad'" in caplog.text and str(corrupt_mp4) in caplog.text
    only_bad = collator([rows[1]])  # a batch of nothing decodable still trains (zero loss), never crashes
    assert only_bad["labels"].eq(IGNORE_INDEX).all() and not only_bad["video_flags"].any()


def test_all_dropped_batch_gives_zero_loss(processor):
    collator = AffectGPTTrainingCollator(processor, max_length=90, ovlabel_ratio=0.0)
    batch = collator([_row("x", subtitle="long " * 100), _row("y", subtitle="longer " * 120)])
    assert batch["input_ids"].shape == (1, 90)
    assert batch["labels"].eq(IGNORE_INDEX).all()
    assert collator.num_dropped == 2


def test_draw_is_deterministic_and_balanced():
    draws = [draw_task(42, 0, i) for i in range(4000)]
    assert draws == [draw_task(42, 0, i) for i in range(4000)]
    share = draws.count("ovlabel") / len(draws)
    assert 0.47 < share < 0.53
    assert draws != [draw_task(42, 1, i) for i in range(4000)]  # a new epoch redraws
    assert draws != [draw_task(7, 0, i) for i in range(4000)]  # the seed matters
    assert {draw_task(42, 0, i, 0.0) for i in range(200)} == {"description"}
    assert {draw_task(42, 0, i, 1.0) for i in range(200)} == {"ovlabel"}
    assert 0.2 < [draw_task(1, 3, i, 0.25) for i in range(4000)].count("ovlabel") / 4000 < 0.3


def test_collator_draw_survives_pickling_and_epochs(processor):
    collator = AffectGPTTrainingCollator(processor, seed=42)
    rows = [_row(f"n{i}", **{INDEX_COLUMN: i}) for i in range(64)]
    first = [collator.task_for(r) for r in rows]
    clone = pickle.loads(pickle.dumps(collator))  # what a DataLoader worker gets
    assert [clone.task_for(r) for r in rows] == first
    assert first == [draw_task(42, 0, i) for i in range(64)]
    collator.set_epoch(1)
    assert [collator.task_for(r) for r in rows] == [draw_task(42, 1, i) for i in range(64)]


def test_dataloader_workers_agree(processor):
    rows = [_row(f"n{i}", description=f"Description number {i}.", **{INDEX_COLUMN: i}) for i in range(12)]

    def labels(num_workers):
        collator = AffectGPTTrainingCollator(processor, seed=3)
        collator.set_epoch(2)
        loader = torch.utils.data.DataLoader(rows, batch_size=3, collate_fn=collator, num_workers=num_workers)
        return [b["labels"] for b in loader]

    for a, b in zip(labels(0), labels(2)):
        assert torch.equal(a, b)


def test_missing_target_falls_back(processor):
    collator = AffectGPTTrainingCollator(processor, ovlabel_ratio=1.0)
    row = _row("d", emotions=None)
    assert collator.task_for(row) == "description"
    collator = AffectGPTTrainingCollator(processor, ovlabel_ratio=0.0)
    assert collator.task_for(_row("e", description="")) == "ovlabel"
    # An empty label list is the OV sentence "neutral", as the official answer.
    batch = collator([_row("f", description=None, emotions=())])
    text = processor.tokenizer.decode(batch["labels"][0][batch["labels"][0] != IGNORE_INDEX])
    assert text == "The character's emotional state is neutral.###<|im_end|>"


def test_bad_arguments(processor):
    with pytest.raises(ValueError):
        AffectGPTTrainingCollator(processor, ovlabel_ratio=1.5)
    with pytest.raises(ValueError):
        AffectGPTTrainingCollator(processor, tasks=("caption",))


def test_drop_count_in_batch_when_asked(processor):
    rows = [_row("short"), _row("long", subtitle="many words here " * 40)]
    batch = AffectGPTTrainingCollator(processor, max_length=100, return_drop_count=True)(rows)
    assert batch["num_dropped"].item() == 1 and batch["input_ids"].shape[0] == 1
    assert "num_dropped" not in AffectGPTTrainingCollator(processor, max_length=100)(rows)


def test_subtitle_dropout_leaves_out_only_ovlabel_subtitles(processor):
    rows = [_row(f"s{i}", subtitle="the unique subtitle words") for i in range(40)]
    official = AffectGPTTrainingCollator(processor, ovlabel_ratio=0.5)
    assert all(official.subtitle_for(row, official.task_for(row)) for row in rows)

    collator = AffectGPTTrainingCollator(processor, ovlabel_ratio=0.5, subtitle_dropout=0.5)
    tasks = [collator.task_for(row) for row in rows]
    kept = [collator.subtitle_for(row, task) is not None for row, task in zip(rows, tasks)]
    assert all(k for k, t in zip(kept, tasks) if t == "description")  # descriptions describe the subtitle
    dropped = [not k for k, t in zip(kept, tasks) if t == "ovlabel"]
    assert 0 < sum(dropped) < len(dropped)
    again = AffectGPTTrainingCollator(processor, ovlabel_ratio=0.5, subtitle_dropout=0.5)
    assert kept == [again.subtitle_for(row, task) is not None for row, task in zip(rows, tasks)]

    batch = collator(rows[:8])
    texts = processor.tokenizer.batch_decode(batch["input_ids"])
    for text, keep in zip(texts, kept[:8]):
        assert ("the unique subtitle words" in text) == keep
    with pytest.raises(ValueError, match="subtitle_dropout"):
        AffectGPTTrainingCollator(processor, subtitle_dropout=2.0)
