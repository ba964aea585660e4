"""`affectgpt convert` refuses bad checkpoints with one clear message, before loading any base model weights."""

from __future__ import annotations

import pytest
import torch

from affectgpt.convert import ConversionError, convert, load_official_checkpoint
from tests.test_convert_official import OfficialAffectGPT, Variant, official_checkpoint, shared_base_models

_CODE_RAN = []


def _record_execution():
    _CODE_RAN.append(True)
    return "payload"


class Payload:
    """An object whose unpickling would call a function: full pickle runs it, weights_only must refuse."""

    def __reduce__(self):
        return (_record_execution, ())


@pytest.fixture(scope="module")
def base_paths(tmp_path_factory):
    return shared_base_models(tmp_path_factory)


@pytest.fixture(scope="module")
def good_checkpoint(base_paths, tmp_path_factory):
    official = OfficialAffectGPT(base_paths, Variant())
    return official_checkpoint(official, tmp_path_factory.mktemp("ckpt") / "checkpoint_000030.pth")


def _edited(good_checkpoint, tmp_path, edit):
    ckpt = torch.load(good_checkpoint, weights_only=True)
    edit(ckpt["model"])
    path = tmp_path / "edited.pth"
    torch.save(ckpt, path)
    return path


def _convert(path, base_paths, tmp_path, **kwargs):
    return convert(
        path,
        tmp_path / "out",
        preset="tiny",
        dtype="fp32",
        log=lambda _: None,
        vision=base_paths["vision"],
        audio=base_paths["audio"],
        llm=base_paths["llm"],
        **kwargs,
    )


def test_truncated_file(good_checkpoint, tmp_path):
    path = tmp_path / "truncated.pth"
    data = good_checkpoint.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConversionError, match=r"truncated\.pth: not a readable torch checkpoint \(truncated"):
        load_official_checkpoint(path)


def test_pickle_with_objects_is_refused_without_running_code(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"model": {"fc_att.weight": torch.zeros(2, 4)}, "config": Payload(), "epoch": 1}, path)
    assert torch.load(path, weights_only=False)["config"] == "payload" and _CODE_RAN  # full pickle runs it
    _CODE_RAN.clear()
    with pytest.raises(ConversionError, match="refused to unpickle non-tensor Python objects") as err:
        load_official_checkpoint(path)
    assert "weights_only=True" in str(err.value)
    assert not _CODE_RAN


def test_not_the_official_layout(tmp_path):
    path = tmp_path / "plain.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, path)
    with pytest.raises(ConversionError, match=r"expected the official layout .* found \['state_dict'\]"):
        load_official_checkpoint(path)
    with pytest.raises(ConversionError, match="checkpoint not found"):
        load_official_checkpoint(tmp_path / "nope.pth")


def test_missing_key(good_checkpoint, base_paths, tmp_path):
    path = _edited(good_checkpoint, tmp_path, lambda sd: sd.pop("fc_att.weight"))
    with pytest.raises(
        ConversionError, match=r"missing from the checkpoint .*\(1\):\n  - model\.fc_att\.weight"
    ):
        _convert(path, base_paths, tmp_path)
    assert not (tmp_path / "out").exists()  # nothing written


def test_extra_key(good_checkpoint, base_paths, tmp_path):
    path = _edited(
        good_checkpoint, tmp_path, lambda sd: sd.update({"emotion_head.weight": torch.zeros(3, 3)})
    )
    with pytest.raises(
        ConversionError, match=r"unknown keys \(no place in our model\) \(1\):\n  - emotion_head\.weight"
    ):
        _convert(path, base_paths, tmp_path)


def test_shape_mismatch(good_checkpoint, base_paths, tmp_path):
    path = _edited(
        good_checkpoint, tmp_path, lambda sd: sd.update({"affectgpt_proj.weight": torch.zeros(32, 23)})
    )
    with pytest.raises(ConversionError) as err:
        _convert(path, base_paths, tmp_path)
    assert (
        "wrong shapes (1):\n  - affectgpt_proj.weight -> model.affectgpt_proj.weight: checkpoint (32, 23), model (32, 24)"
        in str(err.value)
    )


def test_all_problems_in_one_message(good_checkpoint, base_paths, tmp_path):
    def edit(sd):
        sd.pop("multi_llama_proj.bias")
        sd["mystery"] = torch.zeros(1)
        sd["fc_att.weight"] = torch.zeros(3, 40)
        sd.pop("llama_model.base_model.model.model.layers.0.mlp.up_proj.lora_B.default.weight")
        sd["llama_model.base_model.model.model.layers.1.self_attn.q_proj.lora_A.default.weight"] = (
            torch.zeros(4, 31)
        )

    with pytest.raises(ConversionError) as err:
        _convert(_edited(good_checkpoint, tmp_path, edit), base_paths, tmp_path)
    message = str(err.value)
    for needle in (
        "model.multi_llama_proj.bias",
        "  - mystery",
        "fc_att.weight -> model.fc_att.weight: checkpoint (3, 40)",
        "layers.0.mlp.up_proj.lora_A.default.weight: lora_B is missing",
        "layers.1.self_attn.q_proj.lora_A",
    ):
        assert needle in message, needle


def test_wrong_fusion_choice_lists_the_keys(good_checkpoint, base_paths, tmp_path):
    with pytest.raises(ConversionError) as err:
        _convert(good_checkpoint, base_paths, tmp_path, fusion="qformer")
    message = str(err.value)
    assert "multi_fusion=qformer" in message and "  - attention_mlp.weight" in message
    assert "model.multi_qformer.position_embedding.weight" in message
    assert message.count("model.multi_llama_proj.weight") == 1  # under wrong shapes only


def test_cli_prints_one_line_error_and_exits_2(good_checkpoint, base_paths, tmp_path, capsys):
    from affectgpt.cli import main

    path = tmp_path / "truncated.pth"
    path.write_bytes(good_checkpoint.read_bytes()[:1000])
    code = main(["convert", "--checkpoint", str(path), "--out", str(tmp_path / "o"), "--preset", "tiny"])
    assert code == 2
    assert (
        "affectgpt convert: error: truncated.pth: not a readable torch checkpoint" in capsys.readouterr().err
    )


def test_offline_hub_id_is_a_clear_error(good_checkpoint, tmp_path):
    with pytest.raises(
        ConversionError, match=r"cannot load the vision tower config from 'openai/clip-vit-large-patch14'"
    ):
        convert(good_checkpoint, tmp_path / "out", preset="official", log=lambda _: None)


def test_existing_output_folder_needs_overwrite(good_checkpoint, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(ConversionError, match="not empty"):
        convert(good_checkpoint, tmp_path / "out", log=lambda _: None)


def test_incomplete_base_model_folder_is_refused(good_checkpoint, base_paths, tmp_path):
    """from_pretrained only warns about missing tower weights (and initialises them randomly); convert refuses."""
    import shutil

    from safetensors.torch import load_file, save_file

    vision = tmp_path / "vision"
    shutil.copytree(base_paths["vision"], vision)
    weights = load_file(vision / "model.safetensors")
    del weights["visual_projection.weight"]
    save_file(weights, vision / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(
        ConversionError, match=r"does not fully fill CLIPVisionModelWithProjection: missing visual_projection"
    ):
        _convert(good_checkpoint, {**base_paths, "vision": str(vision)}, tmp_path)


def test_nan_or_inf_weights_are_refused(good_checkpoint, base_paths, tmp_path):
    def edit(sd):
        name = next(k for k, v in sd.items() if v.is_floating_point() and v.numel() > 1)
        sd[name].view(-1)[0] = float("nan")
        edit.name = name

    path = _edited(good_checkpoint, tmp_path, edit)
    with pytest.raises(ConversionError, match=f"(?s)tensors with NaN or Inf values.*{edit.name} \\(1 of"):
        _convert(path, base_paths, tmp_path)
    assert not (tmp_path / "out").exists()


def _contents(folder):
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.*")
    }


def test_output_is_written_whole_or_not_at_all(good_checkpoint, base_paths, tmp_path, monkeypatch):
    from affectgpt.convert import ADAPTER_DIR

    out = tmp_path / "out"
    _convert(good_checkpoint, base_paths, tmp_path, merge_lora_weights=False)
    assert (out / ADAPTER_DIR).is_dir()
    before = _contents(out)

    # Killed in the middle of the save: the earlier folder is left exactly as it was, and no temp folder stays.
    import transformers

    def killed(self, *args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(transformers.ProcessorMixin, "save_pretrained", killed)
        with pytest.raises(KeyboardInterrupt):
            _convert(good_checkpoint, base_paths, tmp_path, overwrite=True)
    assert _contents(out) == before  # in place, the merged weights would already have replaced these
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    # --overwrite replaces the whole folder: no adapter of the --keep-adapter run beside the merged weights.
    _convert(good_checkpoint, base_paths, tmp_path, overwrite=True)
    assert not (out / ADAPTER_DIR).exists() and (out / "model.safetensors").is_file()

    taken = tmp_path / "file"
    taken.write_text("x")
    with pytest.raises(ConversionError, match="is a file; give a folder"):
        convert(good_checkpoint, taken, log=lambda _: None)


def test_missing_peft_is_refused_before_the_base_models_load(
    good_checkpoint, base_paths, tmp_path, monkeypatch
):
    import sys

    import transformers

    def never(*args, **kwargs):
        raise AssertionError("a base model was loaded")

    monkeypatch.setitem(sys.modules, "peft", None)  # `import peft` raises ImportError
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", never)
    with pytest.raises(ConversionError, match=r"LoRA needs peft: pip install 'affectgpt\[train\]'"):
        _convert(good_checkpoint, base_paths, tmp_path)
    assert not (tmp_path / "out").exists()
