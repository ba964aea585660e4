"""`make sync-embedded`: bring the embedded default model folder in line with the code, without retraining.

`describe`, `bench`, `demo` and the Space run the folder's own copy of the Hub code (`trust_remote_code`), so an
edit to `processing/` or `modeling_affectgpt/` shows there only after this. It

* replaces every `*.py` in the folder with the current Hub code (the modeling and processing modules and the
  siblings they import, as `save_pretrained` collects them; copies of removed modules disappear);
* rewrites what derives from code: the tokenizer and processor files (rebuilt by `presets.processor_for`), the
  config's token ids and auto map, the generation config (`presets.generation_defaults`);
* leaves `model.safetensors` and `README.md` alone (the weights are unchanged; the card is written by hand).

Usage: `python -m affectgpt.sync_embedded [FOLDER]` (default: the embedded model).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

__all__ = ["sync_embedded"]


def sync_embedded(folder: str | Path) -> list[str]:
    """Re-save `folder`'s code, tokenizer, processor, config and generation config; returns the files written."""
    from transformers import GenerationConfig
    from transformers.dynamic_module_utils import custom_object_save

    from affectgpt.presets import TOKEN_IDS, add_auto_map, generation_defaults, processor_for
    from modeling_affectgpt import AffectGPTConfig, AffectGPTForConditionalGeneration

    folder = Path(folder)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise SystemExit(f"{folder} is not a saved model folder (config.json and model.safetensors needed)")
    config = AffectGPTConfig.from_pretrained(folder)
    for key, value in TOKEN_IDS.items():
        setattr(config, key, value)
    processor = processor_for(config)
    tokenizer = processor.tokenizer
    text = config.text_config
    text.bos_token_id, text.eos_token_id, text.pad_token_id = (
        tokenizer.bos_token_id,
        tokenizer.eos_token_id,
        tokenizer.pad_token_id,
    )
    add_auto_map(config)
    generation = generation_defaults(tokenizer, GenerationConfig.from_pretrained(folder))

    # Written to a fresh folder first, so that a failure leaves the embedded model as it was.
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        staged = Path(tmp)
        config.save_pretrained(staged)
        custom_object_save(AffectGPTForConditionalGeneration, staged, config=config)
        generation.save_pretrained(staged)
        processor.save_pretrained(staged)
        for stale in folder.glob("*.py"):
            stale.unlink()
        written = []
        for path in sorted(staged.iterdir()):
            if path.is_file():
                path.replace(folder / path.name)
                written.append(path.name)
    return written


def main(argv: list[str] | None = None) -> int:
    from affectgpt.inference import DEFAULT_MODEL_DIR

    parser = argparse.ArgumentParser(
        prog="python -m affectgpt.sync_embedded", description=__doc__.split("\n")[0]
    )
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_MODEL_DIR), help="model folder to re-sync")
    args = parser.parse_args(argv)
    written = sync_embedded(args.folder)
    print(f"synced {args.folder}: {', '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
