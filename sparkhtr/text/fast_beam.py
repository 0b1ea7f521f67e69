"""CTC prefix beam search in compiled code (``_beam.c``), with ``ctc.beam_decode`` as reference and fallback.

``beam_decode_fast`` takes the arguments of ``beam_decode`` and returns what it returns: the same
texts and frame spans, confidences within 1e-6 (summed in double precision), in a tenth of the
time, and without the GIL, so threads decode lines in parallel (tests/text/test_fast_beam.py,
benchmarks/decoding.py). It decodes in Python when the extension was not built (no C compiler at
install) or for inputs the compiled search does not take: NaN log-probs, charset entries of
several characters, LM counts beyond 64 bits or contexts not closed under prefixes (hand-made).

The LM and lexicon are turned into the C tables the first time they decode (from the LM's
CountTable, which a loaded file already holds), kept while the LM object lives, and made again if
its counts are replaced (``prune``).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sparkhtr.text.beam_settings import BEAM_DEFAULTS
from sparkhtr.text.ctc import DecodedChar, DecodedLine, beam_decode
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
_class_tables: dict = {}  # charset -> class table, for decoding without an LM


class _Unsupported(Exception):
    """An input the compiled search does not handle: decode in Python."""


class _LMTable:
    """The LM as _beam_lm.h reads it: its contexts as trie nodes (shortest first) with suffix links,
    and the (context, char) entries: counts, and the edges to longer contexts; all from the LM's
    CountTable, in numpy (a loaded file's table is already in this order)."""

    def __init__(self, lm: CharNgramLM) -> None:
        self.classes: dict[tuple[str, ...], object | None] = {}  # charset -> its class table (_class_table)
        counted = lm.count_table()
        if counted.parents is None:
            raise _Unsupported("contexts not closed under prefixes (not a counted or pruned model)")
        lengths = counted.lengths
        # Character ids: code points in sorted order, so numpy finds them with searchsorted.
        chars = sorted(set(counted.contexts) | set(counted.followers) | set(lm.vocab) | {LINE_START, LINE_END})
        if any(len(c) != 1 for c in chars):
            raise _Unsupported("a vocabulary entry of several characters")
        points = np.array([ord(c) for c in chars], dtype=np.int64)
        self.ids = {c: i for i, c in enumerate(chars)}
        self.unknown = len(chars)  # the id of a character the LM never saw
        nchars = len(chars) + 1
        nodes = len(lengths)
        if nodes * nchars >= 2**32 - 1:  # _beam_lm.h keys (context, char) in 32 bits
            raise _Unsupported("more than 4 billion (context, char) pairs")

        def ids_of(text: str) -> np.ndarray:
            return np.searchsorted(points, np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64))

        if lengths.max(initial=0) >= lm.order:  # (hand-made) _beam_lm.h's walks keep 64 contexts at most
            raise _Unsupported("contexts as long as the order: no history reaches them")
        # Each context's total + distinct, which _beam_lm.h divides by, must fit int64: counts near
        # 2**63 (within 64 bits one by one) would wrap around. Summed in floats: within a few ulps.
        sums = np.add.reduceat(np.abs(counted.counts.astype(np.float64)), counted.starts()) if nodes else np.zeros(0)
        if (sums + counted.sizes >= 2**62).any():
            raise _Unsupported("counts beyond 64 bits")
        count_keys = np.repeat(np.arange(nodes, dtype=np.int64), counted.sizes) * nchars + ids_of(counted.followers)
        last_chars = ids_of(counted.contexts)[np.cumsum(lengths)[1:] - 1]  # each non-empty context's last
        edge_keys = counted.parents[1:].astype(np.int64) * nchars + last_chars
        self.table = _beam.lm_new(
            lm.order, float(len(lm.vocab)), nchars, self.ids[LINE_START], self.ids[LINE_END],
            counted.links, lengths.astype(np.int32), counted.totals(), counted.sizes.astype(np.int64),
            count_keys, counted.counts.astype(np.int64), edge_keys, np.arange(1, nodes, dtype=np.int64),
        )


def _lm_table(lm: CharNgramLM) -> _LMTable | None:
    """The LM's tables, None when the compiled search cannot read this LM (remembered too)."""
    with _lock:
        found = _lm_tables.get(lm, (None, None))
        try:
            counted = lm.count_table()
        except ValueError:  # hand-made counts no table holds (files refuse them when loaded): in Python
            return None
        if found[0] is not counted:
            try:
                if lm.order > 32:
                    raise _Unsupported("an order above 32")
                table = _LMTable(lm)
            except (_Unsupported, UnicodeEncodeError):  # (a lone surrogate in its counts)
                table = None
            found = _lm_tables[lm] = (counted, table)
        return found[1]


def _lexicon_table(lexicon: Lexicon) -> object | None:
    with _lock:
        found = _lexicon_tables.get(lexicon, (None, None))
        if found[0] is not lexicon.words:
            words = list(lexicon.words)
            table = None  # a word longer than the C side checks, or not encodable: decoded in Python
            if all(len(w) <= _MAX_WORD for w in words):
                try:
                    cps = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.int32)
                except UnicodeEncodeError:  # a lone surrogate
                    cps = None
                if cps is not None:
                    offsets = np.concatenate(([0], np.cumsum([len(w) for w in words]))).astype(np.int64)
                    table = _beam.lex_new(cps, offsets)
            found = _lexicon_tables[lexicon] = (lexicon.words, table)
        return found[1]


def _lowers_as_in_a_word(char: str) -> bool:
    # Lexicon lookups lower-case whole words; per character is the same unless the character's
    # lower case depends on its neighbours (Greek final sigma).
    return all((a + char + b).lower() == a.lower() + char.lower() + b.lower() for a in ("", "a") for b in ("", "a"))


def _class_table(charset: Sequence[str], lm_table: _LMTable | None) -> object | None:
    """Each class's LM id, letter and hyphen flags and lower case; None for entries of several characters."""
    cache = lm_table.classes if lm_table is not None else _class_tables
    key = tuple(charset)
    with _lock:
        if key not in cache:
            if len(cache) > 16:  # charsets come from a few models; bound it anyway
                cache.clear()
            if any(len(c) != 1 or not _lowers_as_in_a_word(c) or "\ud800" <= c <= "\udfff" for c in charset):
                cache[key] = None  # ctc.py's texts as dict keys need one character per class
            else:
                ids = [lm_table.ids.get(c, lm_table.unknown) if lm_table is not None else 0 for c in charset]
                lowers = [c.lower() for c in charset]
                cps = np.frombuffer("".join(lowers).encode("utf-32-le"), dtype=np.int32)
                at = np.concatenate(([0], np.cumsum([len(c) for c in lowers]))).astype(np.int64)
                alpha = np.array([c.isalpha() for c in charset], dtype=np.uint8)
                hyphen = np.array([c in HYPHENS for c in charset], dtype=np.uint8)
                cache[key] = _beam.classes_new(np.asarray(ids, dtype=np.int64), alpha, hyphen, cps, at)
        return cache[key]


def beam_decode_fast(
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
    """``ctc.beam_decode`` (same arguments, same result), compiled when the extension is built."""
    settings = (lm, lm_weight, length_bonus, beam_width, prune, lexicon, word_bonus, oov_penalty, margin)
    frames = log_probs.shape[0]
    numbers = (lm_weight, length_bonus, word_bonus, oov_penalty, 0.0 if margin is None else margin)
    if (_beam is None or frames == 0 or blank != len(charset) or log_probs.shape[1] != len(charset) + 1
            or log_probs.dtype not in (np.float32, np.float64) or not all(map(math.isfinite, numbers))
            or math.isnan(prune) or (margin is not None and margin < 0)):
        # (odd settings: NaN, or a negative margin that empties the beam, go where their behaviour is defined)
        return beam_decode(log_probs, blank, charset, *settings)
    lm_table = _lm_table(lm) if lm is not None else None
    lexicon_table = _lexicon_table(lexicon) if lexicon is not None else None
    classes = _class_table(charset, lm_table)
    if classes is None or (lm_table is None) != (lm is None) or (lexicon_table is None) != (lexicon is None):
        return beam_decode(log_probs, blank, charset, *settings)
    found = _beam.decode(
        np.ascontiguousarray(log_probs), log_probs.dtype == np.float32, frames, log_probs.shape[1], blank, classes,
        lm_table.table if lm_table is not None else None, lexicon_table, float(lm_weight), float(length_bonus),
        int(beam_width), float(prune), float(word_bonus), float(oov_penalty), margin is not None,
        float(margin) if margin is not None else 0.0,
    )
    if found is None:  # NaN log-probs: the Python search says what it makes of them
        return beam_decode(log_probs, blank, charset, *settings)
    chars, confidence = found
    return DecodedLine([DecodedChar(*char) for char in chars], confidence)
