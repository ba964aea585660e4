"""Label extraction for the bench: the answers' emotion words and polarity, by the offline lexicon or an LLM
running the official extraction prompts, with the settings the report records."""

from __future__ import annotations

from typing import Any

from affectgpt.errors import CLIError

__all__ = ["Extractor", "build_extractor"]


class Extractor:
    """texts -> (emotion word lists, sentiments), with the settings recorded in the protocol.

    `lexicon` is the offline default (deterministic). `llm:MODEL` runs the official extraction prompts on a
    transformers chat model: greedy under the deterministic protocol, the official sampling under `official`."""

    def __init__(self, spec: str, wheel_dir, protocol: str = "deterministic", device=None, seed: int = 0):
        from metrics.extraction.lexicon import LexiconExtractor

        self.spec = spec
        self.lexicon = LexiconExtractor(wheel_dir=wheel_dir)
        self.llm = None
        self.settings: dict[str, Any] = {"name": "lexicon"}
        if spec.startswith("llm:"):
            self.llm, self.settings = _llm_extractor(spec[4:], protocol, device, seed)

    def __call__(self, texts: list[str]) -> tuple[list[list[str]], list[str]]:
        if self.llm is None:
            words = self.lexicon.extract(texts)
            return words, self.lexicon.to_sentiment(words)
        words = self.llm.extract(texts)
        return words, self.llm.to_sentiment(words)


def _llm_extractor(model: str, protocol: str, device, seed: int):
    try:
        from metrics.extraction import LLMExtractor
    except ImportError as err:
        raise CLIError(f"the LLM extractor is not available ({err}); use --extractor lexicon") from err
    decoding = "official" if protocol == "official" else "greedy"
    try:
        llm = LLMExtractor(model, decoding=decoding, device=device, seed=seed)
    except (OSError, ValueError) as err:
        raise CLIError(f"cannot load extractor model {model}: {err}") from err
    from dataclasses import asdict

    from metrics.extraction import DECODING as EXTRACTION_DECODING

    settings = asdict(EXTRACTION_DECODING[decoding])
    settings.update(name=f"llm:{model}", decoding=decoding, seed=seed, max_new_tokens=llm.max_new_tokens)
    return llm, settings


def build_extractor(
    spec: str, wheel_dir, protocol: str = "deterministic", device=None, seed: int = 0
) -> Extractor:
    return Extractor(spec, wheel_dir, protocol, device, seed)
