"""Greedy (best-path) CTC decoding with confidences and frame spans. numpy only.

Confidences are probabilities of the best path: a character's is the mean of its frames'
winning probabilities, the line's is the mean over all its frames (blanks included), so a
line full of hesitant blanks scores low even when every letter is sure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DecodedChar", "DecodedLine", "greedy_decode"]


@dataclass(frozen=True)
class DecodedChar:
    label: int
    confidence: float
    first_frame: int
    last_frame: int  # inclusive


@dataclass(frozen=True)
class DecodedLine:
    chars: list[DecodedChar]
    confidence: float


def greedy_decode(log_probs: np.ndarray, blank: int) -> DecodedLine:
    """Best path of one line's (T, C) log-probabilities: argmax per frame, merge repeats, drop blanks."""
    if log_probs.shape[0] == 0:
        return DecodedLine([], 0.0)
    best = log_probs.argmax(axis=1)
    best_prob = np.exp(log_probs[np.arange(len(best)), best])
    # A new run starts wherever the label changes.
    starts = np.flatnonzero(np.concatenate(([True], best[1:] != best[:-1])))
    ends = np.concatenate((starts[1:], [len(best)])) - 1
    chars = [
        DecodedChar(int(best[s]), float(best_prob[s : e + 1].mean()), int(s), int(e))
        for s, e in zip(starts, ends)
        if best[s] != blank
    ]
    return DecodedLine(chars, float(best_prob.mean()))
