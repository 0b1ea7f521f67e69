"""A word list for beam search: known words gain, unknown words pay, when a hypothesis closes one.

Why on top of the character LM: an 8-gram of characters knows how words are spelled only as far
as its training text shows them; a list of a language's frequent words covers far more of its
vocabulary, and the beam can then prefer "journaliste" over "dournaliste" even when the first
letter is unclear. It never forbids a word: names, numbers and new words only pay a penalty
(the decoder's ``oov_penalty``, in log-probability units), so the image can still win.

A word is a maximal run of letters (``str.isalpha``): "l'Ouest" holds "l" and "ouest", and
"nord-est" holds "nord" and "est", as word-frequency lists split them. Words are compared in
lower case, so a word written in capitals is as known as the same word in small letters.
A hyphen closes no word: handwritten lines often break a word at the line end ("kilomè-"),
and that fragment should not pay as an unknown word.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from pathlib import Path

from sparkhtr.text.charset import normalize_text

__all__ = ["Lexicon", "words_in", "words_from_source", "HYPHENS"]

HYPHENS = frozenset("-‐‑")


def words_in(text: str) -> list[str]:
    """The letter runs of ``text``, lower-cased and NFC-normalised."""
    return ["".join(run) for is_letter, run in groupby(normalize_text(text).lower(), str.isalpha) if is_letter]


def words_from_source(source: str) -> list[str]:
    """The words of a text file, or ``wordfreq:LANG:N``: the N most frequent words of LANG in the
    wordfreq package (its data is CC BY-SA 4.0; ``pip install 'sparkhtr[train]'``)."""
    if source.startswith("wordfreq:"):
        try:
            _, language, count = source.split(":")
            top = int(count)
        except ValueError as exc:
            raise ValueError(f"lexicon {source}: use wordfreq:LANG:N, e.g. wordfreq:fr:100000") from exc
        if top < 1:
            raise ValueError(f"lexicon {source}: N must be at least 1")
        try:
            from wordfreq import top_n_list
        except ImportError as exc:
            raise ValueError(f"lexicon {source}: needs the wordfreq package (pip install 'sparkhtr[train]')") from exc
        try:
            found = top_n_list(language, top, wordlist="best")  # its largest list for the language
        except LookupError:
            found = []
        if not found:
            raise ValueError(f"lexicon {source}: wordfreq has no word list for {language!r}")
        return [w for word in found for w in words_in(word)]
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"lexicon {source}: no such file (or use wordfreq:LANG:N)")
    return words_in(path.read_text(encoding="utf-8"))


class Lexicon:
    """A set of lower-case words, and which word (if any) a next character closes."""

    def __init__(self, words: Iterable[str]) -> None:
        # Words as they are, only normalised; from_texts splits running text into words.
        self.words = frozenset(normalize_text(word).lower() for word in words if word)

    @classmethod
    def from_saved(cls, words: Iterable[str]) -> Lexicon:
        """Words as ``sparkhtr.text.lm`` saves them (normalised and lower-cased already)."""
        lexicon = cls(())
        lexicon.words = frozenset(word for word in words if word)
        return lexicon

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
        when ``char`` is neither a letter nor a hyphen (the line-end mark included), else None."""
        if char.isalpha() or char in HYPHENS or not text or not text[-1].isalpha():
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
