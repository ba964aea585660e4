"""`affectgpt convert`: turn a released AffectGPT `.pth` into a `from_pretrained` folder (model + processor + card)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Convert an official AffectGPT checkpoint (.pth) into a from_pretrained folder with processor and model card."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint", required=True, help="official checkpoint, e.g. checkpoint_000030_loss_0.6.pth"
    )
    parser.add_argument(
        "--out",
        required=True,
        help="output folder (written whole or not at all; must be empty unless --overwrite, which replaces it)",
    )
    parser.add_argument(
        "--preset",
        choices=("official", "tiny"),
        default="official",
        help="architecture preset; 'official' defaults the base models to the released ones (default)",
    )
    parser.add_argument(
        "--vision", metavar="ID_OR_DIR", help="CLIP model (default: openai/clip-vit-large-patch14)"
    )
    parser.add_argument(
        "--audio",
        metavar="ID_OR_DIR",
        help="HuBERT-family model (default: TencentGameMate/chinese-hubert-large)",
    )
    parser.add_argument("--llm", metavar="ID_OR_DIR", help="causal LM (default: Qwen/Qwen2.5-7B-Instruct)")
    lora = parser.add_mutually_exclusive_group()
    lora.add_argument(
        "--merge-lora",
        dest="merge_lora",
        action="store_true",
        default=True,
        help="merge the LoRA into the LLM weights: W += B·A·α/r (default)",
    )
    lora.add_argument(
        "--keep-adapter",
        dest="merge_lora",
        action="store_false",
        help="keep the LLM as released and save the LoRA as a PEFT adapter in OUT/lora_adapter",
    )
    parser.add_argument(
        "--lora-alpha", type=float, help="LoRA α (default: from the checkpoint config, else 32)"
    )
    parser.add_argument(
        "--dtype", choices=("bf16", "fp16", "fp32"), default="bf16", help="saved dtype (default bf16)"
    )
    parser.add_argument(
        "--visual-input",
        choices=("frame", "face"),
        help="which checkpoint family (default: from the checkpoint config, else frame)",
    )
    parser.add_argument(
        "--fusion",
        choices=("attention", "qformer"),
        help="audio-video pre-fusion of the checkpoint (default: detected from its keys)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a non-empty --out folder (as a whole)"
    )


def run(args: argparse.Namespace) -> int:
    from affectgpt.convert import convert

    convert(
        args.checkpoint,
        args.out,
        preset=args.preset,
        vision=args.vision,
        audio=args.audio,
        llm=args.llm,
        merge_lora_weights=args.merge_lora,
        dtype=args.dtype,
        visual_input=args.visual_input,
        fusion=args.fusion,
        lora_alpha=args.lora_alpha,
        overwrite=args.overwrite,
        log=lambda message: print(message, file=sys.stderr),
    )
    print(args.out)
    return 0
