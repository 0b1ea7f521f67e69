"""CER and WER as SPAN computes them: edit distances summed over lines / summed reference lengths."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

__all__ = ["ErrorCounts", "char_errors", "word_errors", "punctuation_tokens", "corpus_scores"]

# VAN's token rule: punctuation and symbols become tokens of their own.
_PUNCTUATION = re.compile(r"([\[\]{}/\\()\"'&+*=<>?.;:,!\-—_€#%°])")


@dataclass
class ErrorCounts:
    edits: int = 0
    reference_length: int = 0

    def add(self, edits: int, length: int) -> None:
        self.edits += edits
        self.reference_length += length

    @property
    def rate(self) -> float:
        return self.edits / self.reference_length if self.reference_length else 0.0


def char_errors(reference: str, prediction: str) -> int:
    return Levenshtein.distance(reference, prediction)


def word_errors(reference: str, prediction: str) -> tuple[int, int]:
    """(edits, reference words) over space-separated tokens, punctuation glued on (SPAN's WER)."""
    ref, pred = reference.split(), prediction.split()
    return Levenshtein.distance(ref, pred), len(ref)


def punctuation_tokens(text: str) -> list[str]:
    return _PUNCTUATION.sub(r" \1 ", text).split()


def corpus_scores(pairs: Iterable[tuple[str, str]]) -> dict[str, float]:
    """CER, WER and punctuation-split WER (fractions) over (reference, prediction) pairs."""
    cer, wer, pwer = ErrorCounts(), ErrorCounts(), ErrorCounts()
    for reference, prediction in pairs:
        cer.add(char_errors(reference, prediction), len(reference))
        wer.add(*word_errors(reference, prediction))
        ref_tokens = punctuation_tokens(reference)
        pwer.add(Levenshtein.distance(ref_tokens, punctuation_tokens(prediction)), len(ref_tokens))
    return {
        "cer": cer.rate,
        "wer": wer.rate,
        "wer_punctuation_split": pwer.rate,
        "characters": cer.reference_length,
        "words": wer.reference_length,
    }
