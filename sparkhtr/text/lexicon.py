"""A word list for beam search: known words gain, unknown words pay, when a hypothesis closes one.

Why on top of the character LM: an 8-gram of characters knows how words are spelled only as far
as its training text shows them; a list of a language's frequent words covers far more of its
vocabulary, and the beam can then prefer "journaliste" over "dournaliste" even when the first
letter is unclear. It never forbids a word: names, numbers and new words only pay a penalty
(the decoder's ``oov_penalty``, in log-probability units), so the image can still win.

A word is a maximal run of letters (``str.isalpha``): "l'Ouest" holds "l" and "ouest", and
"nord-est" holds "nord" and "est", as word-frequency lists split them. Words are compared in
lower case, so a word written in capitals is as known as the same word in small letters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sparkhtr.text.charset import normalize_text

__all__ = ["Lexicon", "words_in"]

_WORD = re.compile(r"[^\W\d_]+")


def words_in(text: str) -> list[str]:
    """The letter runs of ``text``, lower-cased and NFC-normalised."""
    return _WORD.findall(normalize_text(text).lower())


class Lexicon:
    """A set of lower-case words, and which word (if any) a next character closes."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(word.lower() for word in words)  # words as they are; from_texts splits text

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Lexicon:
        return cls(word for text in texts for word in words_in(text))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.words

    @staticmethod
    def closed_word(text: str, char: str) -> str | None:
        """The word that ``char`` ends when it follows ``text``: the trailing letters of ``text``
        when ``char`` is not a letter (the line-end mark included), else None."""
        if char.isalpha() or not text or not text[-1].isalpha():
            return None
        start = len(text) - 1
        while start > 0 and text[start - 1].isalpha():
            start -= 1
        return text[start:]

    def closing_score(self, text: str, char: str, word_bonus: float, oov_penalty: float) -> float:
        """``word_bonus`` if ``char`` closes a known word, ``-oov_penalty`` if an unknown one, else 0."""
        word = self.closed_word(text, char)
        if word is None:
            return 0.0
        return word_bonus if word.lower() in self.words else -oov_penalty
