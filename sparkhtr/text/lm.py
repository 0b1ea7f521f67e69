"""A character n-gram language model for CTC beam search: counts, Witten-Bell smoothing, a file.

Why characters and not words: a line model reads any string, names and numbers included; a
character model scores spelling and common sequences without ever refusing an unknown word.
Why Witten-Bell: it needs only counts (no discount estimation), interpolates every order down to
a uniform distribution over the charset, so no character ever gets probability 0.

File format (``*.json.gz``): {"format": "sparkhtr-charlm/3", "order": n, "vocab": [...],
"contexts": "...", "lengths": [...], "followers": "...", "sizes": [...], "counts": [...],
"decoding": {...}, "lexicon": [...]}: the counts as flat strings and integer lists
(``sparkhtr.text.lm_counts.CountTable``: contexts of length 0 .. n-1, shortest first, each with
its followers and their counts), which load ten times faster than nested objects. "decoding" holds
the beam-search settings (lm_weight, length_bonus, and with a lexicon word_bonus, oov_penalty;
beam_width) chosen for this LM, so they travel with it. "lexicon", a sorted list of lower-case
words (``sparkhtr.text.lexicon``), is optional. Formats 1 (no lexicon) and 2 ("counts":
{context: {char: count}}) still load; each new format has a new name so that an older sparkhtr
refuses a file it would misread.

Text is NFC-normalised and lines are wrapped in start/end marks before counting, so the model
knows how lines begin and end.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from sparkhtr.text.beam_settings import UNTUNED_LM
from sparkhtr.text.charset import normalize_text
from sparkhtr.text.lexicon import Lexicon
from sparkhtr.text.lm_counts import CountTable

__all__ = ["CharNgramLM", "LM_FORMAT", "LM_FILE", "LINE_START", "LINE_END"]

LM_FORMAT = "sparkhtr-charlm/3"
_READABLE_FORMATS = ("sparkhtr-charlm/1", "sparkhtr-charlm/2", LM_FORMAT)
LM_FILE = "lm.json.gz"  # its name inside a model directory
LINE_START, LINE_END = "\x02", "\x03"  # never in a charset: control characters


class CharNgramLM:
    """P(char | previous order-1 chars), Witten-Bell interpolated down to uniform over ``vocab``."""

    def __init__(
        self,
        order: int,
        vocab: Iterable[str],
        counts: dict[str, dict[str, int]] | CountTable,
        decoding: dict[str, float] | None = None,
        lexicon: Lexicon | None = None,
    ) -> None:
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        self.order = order
        self.decoding = dict(UNTUNED_LM if decoding is None else decoding)
        self.vocab = sorted(set(vocab) | {LINE_END})
        self.lexicon = lexicon  # known words for the beam's word bonus / unknown-word penalty
        self._cached = lru_cache(maxsize=1 << 20)(self._history_log_prob)
        self._set_counts(counts)

    def _set_counts(self, counts: dict[str, dict[str, int]] | CountTable) -> None:
        # One of the two forms is kept, the other made when first asked for: a loaded file's table
        # goes to the compiled decoder without ever becoming dicts.
        self._table = counts if isinstance(counts, CountTable) else None
        self._counts = None if isinstance(counts, CountTable) else counts
        self._totals_by_context: dict[str, tuple[int, int]] | None = None
        self._cached.cache_clear()

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """{context: {char: count}}, contexts of length 0 .. order-1. Read-only: the totals, the
        flat table and the compiled decoder's tables are made from it once (``prune`` replaces it)."""
        if self._counts is None:
            self._counts = self._table.to_dict()
        return self._counts

    def count_table(self) -> CountTable:
        """The counts as flat arrays (what files hold and the compiled decoder reads)."""
        if self._table is None:
            self._table = CountTable.from_dict(self._counts)
        return self._table

    @property
    def _totals(self) -> dict[str, tuple[int, int]]:
        # Per context: total count and number of distinct followers (Witten-Bell's weight).
        if self._totals_by_context is None:
            self._totals_by_context = {h: (sum(f.values()), len(f)) for h, f in self.counts.items()}
        return self._totals_by_context

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        order: int = 6,
        vocab: Iterable[str] | None = None,
        decoding: dict[str, float] | None = None,
    ) -> CharNgramLM:
        """Count every context of length 0 .. order-1 in ``texts`` (one line each).

        ``vocab`` (e.g. the model's charset) fixes the characters; text characters outside it are
        dropped. By default the vocabulary is every character seen. ``decoding``: the beam-search
        settings to store with it (default ``beam_settings.UNTUNED_LM``).
        """
        allowed = None if vocab is None else set(vocab)
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        seen: set[str] = set()
        for text in texts:
            text = normalize_text(text)
            if allowed is not None:
                text = "".join(c for c in text if c in allowed)
            if not text:
                continue
            seen.update(text)
            padded = LINE_START * (order - 1) + text + LINE_END
            for i in range(order - 1, len(padded)):
                char = padded[i]
                for n in range(order):
                    counts[padded[i - n : i]][char] += 1
        vocab = allowed if allowed is not None else seen
        return cls(order, vocab, {h: dict(f) for h, f in counts.items()}, decoding)

    def prune(self, min_count: int) -> CharNgramLM:
        """Drop contexts (other than the empty one) seen fewer than ``min_count`` times: a model
        of megabytes of prose keeps its common sequences in a file a few MB large. A pruned
        context backs off to the longest shorter one kept, as a never-seen context does."""
        if min_count > 1:
            self._set_counts({h: f for h, f in self.counts.items() if not h or sum(f.values()) >= min_count})
        return self

    def log_prob(self, context: str, char: str) -> float:
        """log P(char | context); only the last order-1 characters of ``context`` matter."""
        keep = self.order - 1
        if len(context) >= keep:  # the usual case: no padding string to build
            return self._cached(context[len(context) - keep :], char)
        return self._cached(LINE_START * (keep - len(context)) + context, char)

    def _history_log_prob(self, history: str, char: str) -> float:
        prob = 1.0 / len(self.vocab)
        for n in range(len(history) + 1):  # from the empty context up to the full history
            h = history[len(history) - n :]
            total, distinct = self._totals.get(h, (0, 0))
            if not total:
                break  # a context never seen: no longer one ending in it was seen either
            prob = (self.counts[h].get(char, 0) + distinct * prob) / (total + distinct)
        return math.log(prob)

    def score(self, text: str) -> float:
        """log P of a whole line, end mark included."""
        total = sum(self.log_prob(text[:i], c) for i, c in enumerate(text))
        return total + self.log_prob(text, LINE_END)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": LM_FORMAT,
            "order": self.order,
            "vocab": self.vocab,
            **self.count_table().file_data(),
            "decoding": self.decoding,
        }
        if self.lexicon is not None:
            data["lexicon"] = sorted(self.lexicon.words)
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))
        return path

    @classmethod
    def load(cls, path: str | Path) -> CharNgramLM:
        path = Path(path)
        try:
            data = json.loads(_read_capped(path, MAX_LM_BYTES).decode("utf-8"))
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{path}: no such language model file") from exc
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable sparkhtr language model ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") not in _READABLE_FORMATS:
            raise ValueError(f"{path}: not a sparkhtr language model (format {LM_FORMAT!r} expected)")
        try:
            words = data.get("lexicon")
            if words is not None and not (isinstance(words, list) and all(isinstance(w, str) for w in words)):
                raise TypeError("its lexicon is not a list of words")
            _check_lm_data(data)
            if data["format"] == LM_FORMAT:  # words saved normalised: no need to normalise 445,000 again
                lexicon = Lexicon.from_saved(words) if words else None
                counts = CountTable.from_file_data(data, data["order"])
            else:
                lexicon = Lexicon(words) if words else None
                counts = data["counts"]
            return cls(data["order"], data["vocab"], counts, data.get("decoding"), lexicon)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: a damaged sparkhtr language model ({exc})") from exc


# The bundled mixed LM inflates to 44 MB; 1 GiB leaves room for much larger ones while a gzip
# bomb (a few MB that inflate to many GB) is refused after reading 1 GiB, not after filling memory.
MAX_LM_BYTES = 1 << 30


def _read_capped(path: Path, limit: int) -> bytes:
    """The gunzipped bytes of ``path``; ValueError once more than ``limit`` bytes come out."""
    chunks: list[bytes] = []
    total = 0
    with gzip.open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise ValueError(f"it inflates to more than {limit:,} bytes (the limit for a language model)")
            chunks.append(chunk)
    return b"".join(chunks)


MAX_ORDER = 32  # far above any useful n-gram order; a larger one is a damaged or hostile file
MAX_BEAM_WIDTH = 10_000


def _check_lm_data(data: dict) -> None:
    """Checked when loaded, so that a damaged file is refused with a message instead of failing (or
    scoring NaN) in the middle of decoding: the order, the vocabulary (strings), the counts
    (positive integers under contexts shorter than the order) and the decoding settings (finite)."""
    order = data["order"]
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order must be an integer in [1, {MAX_ORDER}], got {order!r}")
    vocab = data["vocab"]
    if not isinstance(vocab, list) or not vocab or not all(isinstance(c, str) and c for c in vocab):
        raise ValueError("vocab must be a non-empty list of non-empty strings")
    if data["format"] != LM_FORMAT:  # format 3's flat arrays: CountTable.from_file_data checks them
        _check_count_dicts(data["counts"], order)
    _check_decoding(data.get("decoding"))


def _check_count_dicts(counts: object, order: int) -> None:
    if not isinstance(counts, dict):
        raise ValueError("counts must be a JSON object")
    for context, followers in counts.items():
        if len(context) >= order or not isinstance(followers, dict):
            raise ValueError(f"counts[{context[:20]!r}]: a context of order {order} is shorter than it")
        for char, count in followers.items():
            if type(count) is not int or not 1 <= count < 2**63:  # noqa: E721 -- bools and floats are damage too
                raise ValueError(f"counts[{context[:20]!r}][{char[:20]!r}] must be a positive integer within 64 bits, "
                                 f"got {count!r}")
            if len(char) != 1:  # what format 3 holds, and what counting makes
                raise ValueError(f"counts[{context[:20]!r}][{char[:20]!r}]: a follower must be one character")


def _check_decoding(decoding: object) -> None:
    if decoding is None:
        return
    if not isinstance(decoding, dict):
        raise ValueError("decoding must be a JSON object")
    for name, value in decoding.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"decoding setting {name!r} must be a finite number, got {value!r}")
    width = decoding.get("beam_width")
    if width is not None and (not float(width).is_integer() or not 1 <= width <= MAX_BEAM_WIDTH):
        raise ValueError(f"beam_width must be an integer in [1, {MAX_BEAM_WIDTH}], got {width!r}")
