"""CTC decoding with confidences and frame spans: greedy (best path, SPAN's) and prefix beam search
with an optional character language model and word lexicon. numpy only.

Confidences are probabilities of the chosen alignment: a character's is the mean of its frames'
probabilities for that character, the line's is the mean over all frames (blanks included), so a
line full of hesitant blanks scores low even when every letter is sure. For the greedy path these
are the frames' winning probabilities.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sparkhtr.text.beam_settings import BEAM_DEFAULTS
from sparkhtr.text.lm import LINE_END

if TYPE_CHECKING:
    from sparkhtr.text.lexicon import Lexicon
    from sparkhtr.text.lm import CharNgramLM

__all__ = ["DecodedChar", "DecodedLine", "greedy_decode", "beam_decode", "forced_alignment"]


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
    means = np.add.reduceat(best_prob, starts) / (ends - starts + 1)  # each run's mean, in one pass
    chars = [
        DecodedChar(int(best[s]), float(m), int(s), int(e))
        for s, e, m in zip(starts.tolist(), ends.tolist(), means.tolist())
        if best[s] != blank
    ]
    return DecodedLine(chars, float(best_prob.mean()))


_NEG = -math.inf


def forced_alignment(log_probs: np.ndarray, labels: Sequence[int], blank: int) -> list[tuple[int, int]] | None:
    """The most probable CTC path of one line's (T, C) log-probabilities that reads exactly
    ``labels``: each label's (first, last) frame, inclusive; None when the line has too few
    frames for them (a label repeated without a blank between needs one frame more)."""
    frames, count = log_probs.shape[0], len(labels)
    if count == 0:
        return []
    if frames == 0:
        return None
    if blank in labels:
        raise ValueError("the labels to align must not hold the blank")
    # States: blank, label 0, blank, label 1, ..., blank (2 * count + 1 of them).
    states = np.full(2 * count + 1, blank)
    states[1::2] = labels
    emit = log_probs[:, states]  # frames x states
    # A label state may be entered from two states back (skipping the blank) unless it repeats the label.
    skip = np.zeros(len(states), dtype=bool)
    skip[3::2] = np.asarray(labels[1:]) != np.asarray(labels[:-1])
    score = np.full(len(states), _NEG)
    score[:2] = emit[0, :2]
    back = np.zeros((frames, len(states)), dtype=np.int8)  # 0 stay, 1 from previous, 2 from two back
    for t in range(1, frames):
        stay, prev = score, np.concatenate(([_NEG], score[:-1]))
        two = np.where(skip, np.concatenate(([_NEG, _NEG], score[:-2])), _NEG)
        options = np.stack((stay, prev, two))
        back[t] = options.argmax(axis=0)
        score = options.max(axis=0) + emit[t]
    end = len(states) - 1 if score[-1] >= score[-2] else len(states) - 2
    if score[end] == _NEG:
        return None
    path = np.empty(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = end
        end -= int(back[t, end])
    spans: list[tuple[int, int]] = []
    for index in range(count):
        at = np.flatnonzero(path == 2 * index + 1)
        spans.append((int(at[0]), int(at[-1])))
    return spans


def _logadd(a: float, b: float) -> float:
    if a == _NEG:
        return b
    if b == _NEG:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + math.log1p(math.exp(low - high))


# A hypothesis's frame spans as a linked list, newest first: (older spans, label, first, last frame).
# Extending a hypothesis is then O(1); a tuple of all spans would be copied for every new character.
_Spans = tuple | None


class _Prefix:
    """One hypothesis: log-probs of ending in blank / in its last label, its text, last label and frame spans."""

    __slots__ = ("blank", "label", "text", "last", "spans", "spans_score")

    def __init__(self, text: str, last: int | None) -> None:
        self.blank = _NEG
        self.label = _NEG
        self.text = text
        self.last = last  # the last character's class, None for the empty text
        self.spans: _Spans = None
        self.spans_score = _NEG  # the log-prob of the contribution the spans come from

    def add(self, to_blank: bool, score: float, spans: _Spans) -> None:
        if to_blank:
            self.blank = _logadd(self.blank, score)
        else:
            self.label = _logadd(self.label, score)
        if score > self.spans_score:  # frame spans follow the strongest contribution
            self.spans, self.spans_score = spans, score

    def total(self) -> float:
        return _logadd(self.blank, self.label)


def _entry(beams: dict[str, _Prefix], text: str, last: int | None) -> _Prefix:
    # Texts are keys: charset entries are single characters, so a text names one label sequence.
    entry = beams.get(text)
    if entry is None:
        entry = beams[text] = _Prefix(text, last)
    return entry


def _unroll(spans: _Spans) -> list[tuple[int, int, int]]:
    found = []
    while spans is not None:
        spans, label, first, last = spans
        found.append((label, first, last))
    return found[::-1]


def beam_decode(
    log_probs: np.ndarray,
    blank: int,
    charset: Sequence[str],
    lm: CharNgramLM | None = None,
    lm_weight: float = BEAM_DEFAULTS.lm_weight,
    length_bonus: float = BEAM_DEFAULTS.length_bonus,
    beam_width: int = BEAM_DEFAULTS.beam_width,
    prune: float = BEAM_DEFAULTS.prune,
    lexicon: Lexicon | None = None,
    word_bonus: float = BEAM_DEFAULTS.word_bonus,
    oov_penalty: float = BEAM_DEFAULTS.oov_penalty,
    margin: float | None = BEAM_DEFAULTS.margin,
) -> DecodedLine:
    """CTC prefix beam search over one line's (T, C) log-probabilities.

    Args:
        blank: the blank's class index; ``charset[i]`` is class i's character.
        lm: a character language model; each new character's path log-prob gains
            ``lm_weight * log P_lm(char | text so far)``, and the line end's at the last frame.
        length_bonus: added per character to the ranking score (offsets the LM's pull to short texts).
        beam_width: hypotheses kept after each frame.
        prune: a class whose log-prob in a frame is below this is not tried there (the frame's
            best class always is).
        lexicon: known words; a character (or the line end) that closes a word adds
            ``word_bonus`` to the path's log-prob if the word is in it, ``-oov_penalty`` if not.
        margin: of the ``beam_width`` best hypotheses, those ranked more than this below the best
            are dropped too (None: keep all).

    Every default is ``sparkhtr.text.beam_settings.BEAM_DEFAULTS``'s (where the prune and margin
    defaults say how they were chosen).

    Unlike greedy decoding, a text's probability is summed over all its alignments: two frames of
    p(blank) 0.6, p("a") 0.4 read "a" (0.64), where the best single path reads "" (0.36).
    """
    frames = log_probs.shape[0]
    if frames == 0:
        return DecodedLine([], 0.0)
    start = _Prefix("", None)
    start.add(True, 0.0, None)
    beams: dict[str, _Prefix] = {"": start}

    def gain(text: str, char: str) -> float:
        """What the language side adds when ``char`` follows ``text``."""
        score = lm_weight * lm.log_prob(text, char) if lm is not None else 0.0
        if lexicon is not None:
            score += lexicon.closing_score(text, char, word_bonus, oov_penalty)
        return score

    def rank(item: tuple[str, _Prefix]) -> float:
        return item[1].total() + length_bonus * len(item[0])

    tried = log_probs >= prune
    tried[np.arange(frames), log_probs.argmax(axis=1)] = True
    for t in range(frames):
        row = log_probs[t]
        candidates = np.flatnonzero(tried[t]).tolist()
        if candidates == [blank]:
            # Only the blank: every text stays as it is and all scores shift alike, so the ranking
            # holds; a third of the frames on Copiste lines, updated in place.
            p = float(row[blank])
            for prefix in beams.values():
                prefix.blank = prefix.spans_score = prefix.total() + p
                prefix.label = _NEG
            continue
        following: dict[str, _Prefix] = {}
        for text, prefix in beams.items():
            total = prefix.total()
            last = prefix.last
            for c in candidates:
                p = float(row[c])
                if c == blank:
                    _entry(following, text, last).add(True, total + p, prefix.spans)
                    continue
                if c == last:  # the same character continues to this frame: no new character
                    older, label, first, _ = prefix.spans
                    if prefix.label != _NEG:
                        _entry(following, text, last).add(False, prefix.label + p, (older, label, first, t))
                    source = prefix.blank  # a repeat only after a blank is a new character
                else:
                    source = total
                if source == _NEG:
                    continue
                char = charset[c]
                entry = _entry(following, text + char, c)
                entry.add(False, source + p + gain(text, char), (prefix.spans, c, t, t))
        if len(following) > beam_width:
            # Each rank computed once: (rank, -arrival) orders as nlargest's key= does, earlier first on ties.
            ranked = heapq.nlargest(beam_width, ((rank(item), -i, item) for i, item in enumerate(following.items())))
            floor = ranked[0][0] - margin if margin is not None else _NEG
            following = dict(item for score, _, item in ranked if score >= floor)
        beams = following

    def final(item: tuple[str, _Prefix]) -> float:
        text, prefix = item
        return prefix.total() + gain(text, LINE_END) + length_bonus * len(text)

    _, best = max(beams.items(), key=final)
    return _alignment_confidences(log_probs, blank, _unroll(best.spans))


def _alignment_confidences(log_probs: np.ndarray, blank: int, spans) -> DecodedLine:
    probs = np.exp(log_probs)
    aligned = np.full(len(probs), blank)
    chars = []
    for label, first, last in spans:
        aligned[first : last + 1] = label
        chars.append(DecodedChar(int(label), float(probs[first : last + 1, label].mean()), first, last))
    line = float(probs[np.arange(len(probs)), aligned].mean())
    return DecodedLine(chars, line)
