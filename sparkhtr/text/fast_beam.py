"""CTC prefix beam search in compiled code (``_beam.c``), with ``ctc.beam_decode`` as reference and fallback.

``beam_decode_fast`` takes the arguments of ``beam_decode`` and returns what it returns: the same
texts, frame spans and confidences (tests/text/test_fast_beam.py), about 10x sooner, and without
the GIL, so threads decode lines in parallel. It decodes in Python when the extension was not built
(no C compiler at install) or when an input is outside what the compiled search handles (NaN
log-probs, charset entries of more than one character, counts beyond 64 bits).

The language model and lexicon are turned into flat tables once per LM (about a second for the
bundled one) and kept while the LM object lives; its counts are not copied back, so an LM edited
later (``prune``) is converted again.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sparkhtr.text.ctc import DecodedLine, _alignment_confidences, beam_decode
from sparkhtr.text.lexicon import HYPHENS
from sparkhtr.text.lm import LINE_END, LINE_START

if TYPE_CHECKING:
    from sparkhtr.text.lexicon import Lexicon
    from sparkhtr.text.lm import CharNgramLM

try:
    from sparkhtr.text import _beam
except ImportError:  # built without a C compiler
    _beam = None

__all__ = ["COMPILED", "beam_decode_fast"]

COMPILED = _beam is not None
_MAX_WORD = 256  # code points; the C side checks words up to this length
_lock = threading.Lock()
_lm_tables: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lexicon_tables: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_class_tables: dict = {}


class _Unsupported(Exception):
    """An input the compiled search does not handle: decode in Python."""


class _LMTable:
    """The LM as _beam_lm.h reads it: its contexts as trie nodes (shortest first) with suffix links."""

    def __init__(self, lm: CharNgramLM) -> None:
        self.counts = lm.counts  # which counts this was built from: prune() replaces them
        chars = set("".join(lm.counts)) | {c for f in lm.counts.values() for c in f} | set(lm.vocab)
        self.ids = {c: i for i, c in enumerate(sorted(chars | {LINE_START, LINE_END}))}
        self.unknown = len(self.ids)  # the id of a character the LM never saw
        nchars = len(self.ids) + 1
        # The contexts lm.py's walk can reach: seen, and every suffix too (it stops at the first unseen one).
        nodes: dict[str, int] = {}
        for context in sorted(lm.counts, key=len):
            if lm._totals[context][0] and (not context or context[1:] in nodes):
                nodes[context] = len(nodes)
        if any(context and context[:-1] not in nodes for context in nodes):
            raise _Unsupported("contexts not closed under prefixes (not a counted or pruned model)")
        link = np.array([nodes[c[1:]] if c else -1 for c in nodes], dtype=np.int32)
        depth = np.array([len(c) for c in nodes], dtype=np.int32)
        totals = np.array([lm._totals[c][0] for c in nodes], dtype=np.int64)
        distinct = np.array([lm._totals[c][1] for c in nodes], dtype=np.int64)
        keys, counts, children = [], [], []
        for context, node in nodes.items():  # each char seen after each context, in node order
            base = node * nchars
            for char, count in lm.counts[context].items():
                keys.append(base + self.ids[char])
                counts.append(count)
                children.append(nodes.get(context + char, -1))
        for context, node in nodes.items():  # a longer context whose last char was never counted here
            if context and context[-1] not in lm.counts[context[:-1]]:
                keys.append(nodes[context[:-1]] * nchars + self.ids[context[-1]])
                counts.append(0)
                children.append(node)
        self.table = _beam.lm_new(lm.order, float(len(lm.vocab)), nchars, self.ids[LINE_START], self.ids[LINE_END],
                                  link, depth, totals, distinct, *_int64(keys, counts), np.asarray(children, np.int64))


def _int64(*lists: list[int]) -> list[np.ndarray]:
    try:
        return [np.asarray(values, dtype=np.int64) for values in lists]
    except OverflowError as exc:
        raise _Unsupported("counts beyond 64 bits") from exc


def _lm_table(lm: CharNgramLM) -> _LMTable:
    with _lock:
        found = _lm_tables.get(lm)
        if found is None or found.counts is not lm.counts:
            if lm.order > 32:
                raise _Unsupported("an order above 32")
            found = _lm_tables[lm] = _LMTable(lm)
        return found


def _lexicon_table(lexicon: Lexicon) -> object:
    with _lock:
        found = _lexicon_tables.get(lexicon)
        if found is None or found[0] is not lexicon.words:
            words = list(lexicon.words)
            if any(len(w) > _MAX_WORD for w in words):
                raise _Unsupported("a lexicon word longer than 256 characters")
            cps = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.int32)
            offsets = np.concatenate(([0], np.cumsum([len(w) for w in words]))).astype(np.int64)
            found = _lexicon_tables[lexicon] = (lexicon.words, _beam.lex_new(cps, offsets))
        return found[1]


def _lowers_as_in_a_word(char: str) -> bool:
    # Lexicon lookups lower-case whole words; per character is the same unless the character's
    # lower case depends on its neighbours (Greek final sigma).
    return all((a + char + b).lower() == a.lower() + char.lower() + b.lower() for a in ("", "a") for b in ("", "a"))


def _class_table(charset: Sequence[str], lm_table: _LMTable | None) -> object:
    key = (tuple(charset), lm_table)
    with _lock:
        found = _class_tables.get(key)
        if found is None:
            if any(len(c) != 1 or not _lowers_as_in_a_word(c) for c in charset):
                raise _Unsupported("charset entries must be single characters")
            ids = [lm_table.ids.get(c, lm_table.unknown) if lm_table is not None else 0 for c in charset]
            lowers = [c.lower() for c in charset]
            cps = np.frombuffer("".join(lowers).encode("utf-32-le"), dtype=np.int32)
            at = np.concatenate(([0], np.cumsum([len(s) for s in lowers]))).astype(np.int64)
            alpha = np.array([c.isalpha() for c in charset], dtype=np.uint8)
            hyphen = np.array([c in HYPHENS for c in charset], dtype=np.uint8)
            if len(_class_tables) > 64:  # charsets come from a few models; bound it anyway
                _class_tables.clear()
            found = _class_tables[key] = _beam.classes_new(np.asarray(ids, dtype=np.int64), alpha, hyphen, cps, at)
        return found


def beam_decode_fast(
    log_probs: np.ndarray,
    blank: int,
    charset: Sequence[str],
    lm: CharNgramLM | None = None,
    lm_weight: float = 0.5,
    length_bonus: float = 0.0,
    beam_width: int = 10,
    prune: float = -6.0,
    lexicon: Lexicon | None = None,
    word_bonus: float = 0.0,
    oov_penalty: float = 0.0,
    margin: float | None = 8.0,
) -> DecodedLine:
    """``ctc.beam_decode`` (same arguments, same result), compiled when the extension is built."""
    settings = (lm, lm_weight, length_bonus, beam_width, prune, lexicon, word_bonus, oov_penalty, margin)
    frames = log_probs.shape[0]
    if _beam is None or frames == 0 or blank != len(charset) or log_probs.shape[1] != len(charset) + 1:
        return beam_decode(log_probs, blank, charset, *settings)
    scores = np.ascontiguousarray(log_probs, dtype=np.float64)
    if np.isnan(scores).any():
        return beam_decode(log_probs, blank, charset, *settings)
    try:
        lm_table = _lm_table(lm) if lm is not None else None
        lexicon_table = _lexicon_table(lexicon) if lexicon is not None else None
        classes = _class_table(charset, lm_table)
    except _Unsupported:
        return beam_decode(log_probs, blank, charset, *settings)
    # Which classes each frame tries, as beam_decode chooses them (numpy's comparison in the input's dtype).
    tried = log_probs >= prune
    tried[np.arange(frames), log_probs.argmax(axis=1)] = True
    spans = _beam.decode(
        scores, np.ascontiguousarray(tried, dtype=np.uint8), frames, scores.shape[1], blank, classes, lm_table.table if lm_table is not None else None,
        lexicon_table, float(lm_weight), float(length_bonus), int(beam_width), float(word_bonus),
        float(oov_penalty), margin is not None, float(margin) if margin is not None else 0.0,
    )
    return _alignment_confidences(log_probs, blank, spans)
