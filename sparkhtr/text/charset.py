"""The charset codec: text <-> class ids. The CTC blank is the last class, ``len(charset)``."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = [
    "Charset", "normalize_text", "clean_text", "LATIN_CHARSET", "LETTER_CASES", "check_letter_case", "case_mapping"
]

# Latin script for English, French and German (and the accents of names in them): printable ASCII,
# French and German letters both cases, the usual typographic quotes, dashes and signs.
LATIN_CHARSET = sorted(
    set(chr(c) for c in range(32, 127))
    | set("àâäæçéèêëîïôöœùûüÿßÀÂÄÆÇÉÈÊËÎÏÔÖŒÙÛÜŸáíóúñìòÁÍÓÚÑ")
    | set("«»‘’“”–—€°§£")
)


# What a recognizer does to the case of the letters it read: keep it, or write every letter in
# capitals (fields filled in block capitals: the network, trained mostly on mixed-case running
# text, reads many handwritten capitals as small letters) or in small letters.
LETTER_CASES = ("as_read", "upper", "lower")


def check_letter_case(letter_case: str) -> str:
    if letter_case not in LETTER_CASES:
        raise ValueError(f"unknown letter_case {letter_case!r}: use one of {', '.join(LETTER_CASES)}")
    return letter_case


def case_mapping(chars: list[str], letter_case: str) -> list[int] | None:
    """Class i -> the class of ``chars[i]`` in ``letter_case`` (None for "as_read"). A letter whose
    other case is not in the charset, or is not one character (ß -> SS), stays as it is: with the
    Latin charset, "upper" leaves ß, ì and ò small.

    Why after decoding rather than on the probabilities (each case pair's mass merged before the
    decoder): on the all-capitals Copiste val writer, beam search + LM on merged probabilities read
    14.79 % CER, the decoded text written in capitals 13.45 %: the LM and lexicon, built from
    mixed-case text, choose words better in the case the network read."""
    if check_letter_case(letter_case) == "as_read":
        return None
    index = {c: i for i, c in enumerate(chars)}
    change = str.upper if letter_case == "upper" else str.lower
    return [index.get(change(c), i) for i, c in enumerate(chars)]


def normalize_text(text: str) -> str:
    """NFC, one line, single spaces: how every label is stored and compared."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def clean_text(text: str | None, drop_chars: str | Iterable[str] = "") -> str:
    """Drop the given characters, then ``normalize_text`` (NFC, one line, single spaces); "" for None."""
    if not text:
        return ""
    drop = set(drop_chars)
    if drop:
        text = "".join(c for c in text if c not in drop)
    return normalize_text(text)


class Charset:
    """An ordered list of characters; class i is ``chars[i]``."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars = list(chars)
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("charset has duplicate characters")
        if any(len(c) != 1 for c in self.chars):
            raise ValueError("every charset entry must be exactly one character")
        self._index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Charset:
        """SPAN's rule: the sorted set (Unicode order) of every character in the labels."""
        return cls(sorted({c for text in texts for c in text if c not in "\n\r"}))

    @property
    def blank(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self._index

    def missing(self, text: str) -> set[str]:
        """Characters of ``text`` the charset cannot encode."""
        return {c for c in text if c not in self._index}

    def encode(self, text: str) -> list[int]:
        """Class ids of ``text``; raises ``KeyError`` naming the first unknown character."""
        try:
            return [self._index[c] for c in text]
        except KeyError as exc:
            raise KeyError(f"character {exc.args[0]!r} is not in the charset") from None

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids if i < len(self.chars))
