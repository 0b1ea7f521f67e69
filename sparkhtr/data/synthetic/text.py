"""Text for synthetic lines: running text in English, French and German drawn from wordfreq's
frequency lists, with numbers, dates, names, addresses and lines in capitals (``TextSource``)."""

from __future__ import annotations

import bisect
import functools
import random
import re
import unicodedata
from collections.abc import Iterable, Sequence

from sparkhtr.text.charset import normalize_text

__all__ = ["TextSource", "charset_set"]

# ------------------------------------------------------------------------------------------ text

_WORD = re.compile(r"^[^\W\d_]+(?:['\-][^\W\d_]+)*$")
_ELISIONS_FR = {"l", "d", "j", "n", "s", "c", "m", "t", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"}
_VOWELS = set("aeiouyhàâäéèêëîïôöùûüœæAEIOUYHÉÈÊÀÂÎÔÛŒ")
_MONTHS = {
    "en": "January February March April May June July August September October November December".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split(),
}
_ROMAN = "I II III IV V VI VII VIII IX X XI XII XIII XIV XV XVI XVII XVIII XIX XX XXI".split()


def _is_latin_word(word: str) -> bool:
    return bool(_WORD.match(word)) and all(ord(c) < 0x250 or c in "'-" for c in word)


@functools.lru_cache(maxsize=16)
def _word_list(lang: str, n: int) -> tuple[str, ...]:
    import wordfreq  # training-only dependency (extra "train")

    words = tuple(w for w in wordfreq.top_n_list(lang, n) if _is_latin_word(w))
    if not words:
        raise ValueError(f"wordfreq has no words for language {lang!r}")
    return words


def _zipf_cdf(n: int, exponent: float, offset: float) -> list[float]:
    weights = [1.0 / (r + offset) ** exponent for r in range(n)]
    total = 0.0
    cdf = []
    for w in weights:
        total += w
        cdf.append(total)
    return [c / total for c in cdf]


def _ascii_word(word: str) -> str:
    """``word`` as an address spells it: accents dropped, letters and digits only."""
    plain = unicodedata.normalize("NFKD", word.replace("ß", "ss")).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def _is_address(token: str) -> bool:
    return "@" in token or "://" in token or token.startswith("www.")


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def _title(word: str) -> str:
    return "-".join(_cap(part) for part in word.split("-"))


def _fit_window(text: str, max_chars: int, rng: random.Random) -> str:
    """A random run of whole words of ``text`` at most ``max_chars`` long (a long text cut into lines)."""
    words = text.split()
    if len(text) <= max_chars or not words:
        return text
    start = rng.randrange(len(words))
    out: list[str] = []
    for w in words[start:]:
        if len(" ".join([*out, w])) > max_chars:
            break
        out.append(w)
    return " ".join(out) or words[start][:max_chars]


class TextSource:
    """Random text lines in the style of running text, from wordfreq's frequency lists.

    Words are drawn Zipf-like from the top ``n_words`` of each language (70% with exponent 1,
    like running text; 30% flatter, so rare words are seen too), then cased (sentence starts,
    German noun-like capitals, some Title Case, ``caps_ratio`` of the lines in ALL CAPS), mixed with
    numbers, years and dates in the language's conventions, web and e-mail addresses, and
    punctuated the way text is: commas and full stops glued to the word, French spacing before
    ``; : ! ?`` and inside « », elisions (``l'homme``), brackets and quotes that close, hyphenated
    compounds, ``/`` and ``&``.

    ``extra_texts`` (e.g. the real training transcriptions) are mixed in with probability
    ``extra_ratio``; a long one contributes a random window of whole words. Every line is
    NFC-normalised, single-spaced, at most ``max_chars`` long and, when ``charset`` is given,
    uses only its characters (others are dropped before the line is returned).
    """

    def __init__(
        self,
        languages: Sequence[str] = ("en", "fr", "de"),
        seed: int = 0,
        *,
        n_words: int = 30000,
        extra_texts: Sequence[str] | None = None,
        extra_ratio: float = 0.25,
        min_chars: int = 5,
        max_chars: int = 70,
        max_words: int = 12,
        charset: Iterable[str] | None = None,
        caps_ratio: float = 0.03,
    ) -> None:
        if not languages:
            raise ValueError("at least one language is needed")
        if not 0.0 <= caps_ratio <= 0.95:
            raise ValueError(f"caps_ratio must be in [0, 0.95], got {caps_ratio}")
        self.caps_ratio = caps_ratio
        if not 1 <= min_chars <= max_chars:
            raise ValueError("need 1 <= min_chars <= max_chars")
        self.languages = tuple(languages)
        self.words = {lang: _word_list(lang, n_words) for lang in self.languages}
        self._cdf = {
            lang: (_zipf_cdf(len(w), 1.0, 2.0), _zipf_cdf(len(w), 0.5, 10.0)) for lang, w in self.words.items()
        }
        self.extra_texts = [normalize_text(t) for t in (extra_texts or []) if normalize_text(t)]
        self.extra_ratio = extra_ratio if self.extra_texts else 0.0
        self.min_chars, self.max_chars, self.max_words = min_chars, max_chars, max_words
        self.charset = charset_set(charset)
        self._rng = random.Random(seed)

    def __iter__(self):
        while True:
            yield self.line()

    def line(self, rng: random.Random | None = None) -> str:
        """One line; deterministic given ``rng`` (the source's own seeded generator by default)."""
        rng = self._rng if rng is None else rng
        text = ""
        for _ in range(30):
            if self.extra_ratio and rng.random() < self.extra_ratio:
                text = self.filter(_fit_window(rng.choice(self.extra_texts), self.max_chars, rng))
            else:
                text = self.filter(self._generate(rng))
            if self.min_chars <= len(text) <= self.max_chars:
                return text
        return text[: self.max_chars].strip()

    def filter(self, text: str) -> str:
        if self.charset is not None:
            text = "".join(c for c in text if c in self.charset)
        return normalize_text(text)

    # -- generation

    def _word(self, lang: str, rng: random.Random) -> tuple[str, int]:
        cdf = self._cdf[lang][0 if rng.random() < 0.7 else 1]
        rank = min(bisect.bisect_left(cdf, rng.random()), len(cdf) - 1)
        return self.words[lang][rank], rank

    def _number(self, lang: str, rng: random.Random) -> str:
        kind = rng.choices(
            [
                "small",
                "int",
                "year",
                "decimal",
                "date",
                "longdate",
                "ordinal",
                "thousands",
                "time",
                "range",
                "roman",
                "symbol",
            ],
            weights=[3, 1, 3, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.6],
        )[0]
        dec = "." if lang == "en" else ","
        day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1500, 2030)
        if rng.random() < 0.7:
            year = rng.randint(1850, 2025)
        if kind == "small":
            return str(rng.randint(0, 99))
        if kind == "int":
            return str(rng.randint(100, 9999))
        if kind == "year":
            return str(year)
        if kind == "decimal":
            return f"{rng.randint(0, 999)}{dec}{rng.randint(0, 99):0{rng.choice([1, 2])}d}"
        if kind == "date":
            if lang == "de":
                return f"{day:02d}.{month:02d}.{year}"
            if lang == "en" and rng.random() < 0.5:
                return f"{month}/{day}/{year}"
            return f"{day:02d}/{month:02d}/{year}" if rng.random() < 0.7 else f"{year}-{month:02d}-{day:02d}"
        if kind == "longdate":
            name = _MONTHS.get(lang, _MONTHS["en"])[month - 1]
            if lang == "en":
                return f"{name} {day}, {year}" if rng.random() < 0.6 else f"{day} {name} {year}"
            if lang == "de":
                return f"{day}. {name} {year}"
            return f"{'1er' if day == 1 else day} {name} {year}"
        if kind == "ordinal":
            n = rng.randint(1, 40)
            if lang == "fr":
                return "1er" if n == 1 and rng.random() < 0.7 else f"{n}e"
            if lang == "de":
                return f"{n}."
            suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
            return f"{n}{suffix}"
        if kind == "thousands":
            sep = {"en": ",", "fr": " ", "de": "."}.get(lang, ",")
            return f"{rng.randint(1, 999)}{sep}{rng.randint(0, 999):03d}"
        if kind == "time":
            h, m = rng.randint(0, 23), rng.choice([0, 15, 30, 45, rng.randint(0, 59)])
            return f"{h}h{m:02d}" if lang == "fr" else f"{h}:{m:02d}"
        if kind == "range":
            a = rng.randint(1700, 2020)
            return f"{a}-{a + rng.randint(1, 60)}"
        if kind == "symbol":  # the rarer signs of running text
            n = rng.randint(1, 99)
            space = " " if lang == "fr" or rng.random() < 0.3 else ""
            signs = [f"{n}{space}%", f"{n}{space}°C", f"{n}°", f"n°{space}{n}", f"+{n}", f"{n}{space}€", f"x = {n}"]
            return rng.choice(signs)
        roman = rng.choice(_ROMAN[4:])
        return f"{roman}e" if lang == "fr" and rng.random() < 0.6 else roman

    def _address(self, lang: str, rng: random.Random) -> str:
        """A web or e-mail address, as notes and copied sources hold them."""
        words = [_ascii_word(self._word(lang, rng)[0]) or "info" for _ in range(3)]
        domain = rng.choice(["com", "org", "net", "fr", "de", "uk", "ca", "edu"])
        kind = rng.randrange(4)
        if kind == 0:
            return f"www.{words[0]}.{domain}"
        if kind == 1:
            return f"{words[0]}.{words[1]}@{words[2]}.{domain}"
        if kind == 2:
            return f"https://{words[0]}.{domain}/{words[1]}"
        return f"https://{lang}.wikipedia.org/wiki/{_cap(words[0])}_{_cap(words[1])}"

    def _generate(self, rng: random.Random) -> str:
        lang = rng.choice(self.languages)
        max_len = round(rng.triangular(self.min_chars, self.max_chars, 0.9 * self.max_chars))
        n_words = round(rng.triangular(1, self.max_words, 0.85 * self.max_words))  # real lines: ~8 words
        style = rng.random()
        all_caps, title_case = style < self.caps_ratio, self.caps_ratio <= style < self.caps_ratio + 0.05
        french = lang == "fr"
        capital = rng.random() < 0.5  # the line starts a sentence
        quote_open, quote_close = ("«", "»") if french and rng.random() < 0.5 else ('"', '"')
        if rng.random() < 0.25:
            quote_open, quote_close = rng.choice([("'", "'"), ("“", "”"), ("‘", "’")])
        apostrophe = "’" if rng.random() < 0.1 else "'"
        tokens: list[str] = []
        closers: list[str] = []
        while len(tokens) < n_words:
            if rng.random() < 0.06:
                word, rank = self._number(lang, rng), 0
            elif rng.random() < 0.008:
                address = self._address(lang, rng)
                if tokens and len(" ".join([*tokens, address])) + len("".join(closers)) > max_len:
                    break
                tokens.append(address)  # as written: no sentence capital, no punctuation glued on
                continue
            else:
                word, rank = self._word(lang, rng)
                if french and word in _ELISIONS_FR:
                    for _ in range(20):
                        nxt, rank = self._word(lang, rng)
                        if nxt[:1] in _VOWELS and len(nxt) > 2:
                            word = f"{word}{apostrophe}{nxt}"
                            break
                    else:
                        word, rank = nxt, rank
                elif lang == "en" and (word == "i" or word.startswith("i'")):
                    word = _cap(word)
                elif "'" in word and apostrophe != "'":
                    word = word.replace("'", apostrophe)
                if lang == "de" and rank > 120 and len(word) > 3 and rng.random() < 0.5:
                    word = _cap(word)  # nouns are capitalised in German; wordfreq lowercases
                elif rank > 300 and rng.random() < 0.05:
                    word = _title(word)  # a proper noun
                if rng.random() < 0.01 and len(word) <= 6:
                    word = word.upper()  # an acronym
            if capital:
                word = _cap(word)
                capital = False
            r = rng.random()
            if not closers and r < 0.025:
                word, closers = "(" + word, [")"]
            elif not closers and r < 0.045:
                sep = " " if quote_open == "«" else ""
                word, closers = quote_open + sep + word, [sep + quote_close]
            elif r < 0.06 and tokens and word.isalpha():
                joiner = rng.choice(["-", "-", "/", " & ", " - "])
                other, _r = self._word(lang, rng)
                word = f"{word}{joiner}{other}"
            r = rng.random()
            spaced = " " if french and rng.random() < 0.85 else ""
            if r < 0.08:
                word += ","
            elif r < 0.11:
                word, capital = word + ".", True
            elif r < 0.118:
                word += spaced + ";"
            elif r < 0.128:
                word += spaced + ":"
            elif r < 0.133:
                word, capital = word + spaced + "!", True
            elif r < 0.14:
                word, capital = word + spaced + "?", True
            elif closers and r < 0.40:
                word += closers.pop()
                if rng.random() < 0.3:
                    word += rng.choice([",", ".", ";"])
            if tokens and len(" ".join([*tokens, word])) + len("".join(closers)) > max_len:
                break
            tokens.append(word)
        text = " ".join(tokens) + "".join(reversed(closers))
        if text and text[-1].isalnum() and rng.random() < 0.3:
            text += rng.choice([".", ".", ".", ",", ":", "!", "?"])
        if all_caps:
            text = text.upper()
        elif title_case:
            text = " ".join(t if _is_address(t) else _title(t) for t in text.split(" "))
        return text


def charset_set(charset: Iterable[str] | None) -> frozenset[str] | None:
    if charset is None:
        return None
    chars = getattr(charset, "chars", charset)  # a sparkhtr Charset or any iterable of characters
    return frozenset(chars)


