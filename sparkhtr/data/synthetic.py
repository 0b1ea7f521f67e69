"""Synthetic handwriting-like text lines, rendered from handwriting fonts, for pre-training.

Why: transcribed real lines are scarce and cover few words, so SPAN is first trained (or trained
alongside) on an unbounded stream of rendered lines in many hands. Three rules drive the design:

* **The label always matches the ink.** A line is drawn with one font, and its text is first
  reduced to characters that the font really draws: present in the cmap, not mapped to
  ``.notdef``, rendering some ink, and not on the font's blacklist of glyphs that look like
  another character (``&`` drawn as ``+``, ``ß`` as ``B``; see ``/work/shared/fonts/README.md``).
  The image is rendered from exactly the returned string; nothing is dropped afterwards.
* **Item i is a pure function of (seed, i)**, so a data loader with any number of workers, a
  resumed run and a debugging session all see the same lines; nothing is stored.
* **Vertical framing follows the font's ascender/descender band, not the ink.** Real line images
  come from line polygons that span the writing band whatever the words are, so a line of
  x-height letters ("un an") must not be blown up to full height when the model resizes it.
  Horizontally the image is cropped to the ink plus a small random margin.

Rendering is Pillow (FreeType) plus numpy, about 2-4 ms per line on one core.
"""

from __future__ import annotations

import bisect
import functools
import math
import random
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from sparkhtr.data.sample import LineSample
from sparkhtr.text.charset import normalize_text

__all__ = [
    "DEFAULT_EXCLUDE",
    "DEFAULT_BLACKLIST",
    "JOINED_FONTS",
    "FontInfo",
    "FontBank",
    "TextSource",
    "LineRenderer",
    "SyntheticLines",
    "preview_grid",
]

FONT_SUFFIXES = (".ttf", ".otf", ".woff2", ".woff")

# Display scripts: heavy, decorative, far from everyday hands (fonts README).
DEFAULT_EXCLUDE: tuple[str, ...] = ("Lobster", "Leckerli One", "Kaushan Script")

# Glyphs that a reader would take for another character: drawing them would be label noise.
# The README's list, plus what a look at every font's ß and & showed: ß without a descender,
# read as B (Breip, Indie Flower, Nothing You Could Do), and Homemade Apple's & (a small crossed a).
DEFAULT_BLACKLIST: dict[str, str] = {
    "Shadows Into Light": "&ß",
    "Cedarville Cursive": "&",
    "La Belle Aurore": "&",
    "Reenie Beanie": "&",
    "Nothing You Could Do": "&ß",
    "Breip": "ß",
    "Indie Flower": "ß",
    "Homemade Apple": "&",
}

# Connected scripts: letter spacing would break the joins, so it is only varied for the others.
JOINED_FONTS: tuple[str, ...] = (
    "Dancing Script",
    "Kristi",
    "Ecolier court",
    "Cedarville Cursive",
    "Homemade Apple",
    "La Belle Aurore",
    "Lobster",
    "Leckerli One",
    "Kaushan Script",
)


def _key(name: str) -> str:
    """Font names compared loosely: ``"Écolier court"``, ``"ecolier-court"`` and ``"EcolierCourt"`` match."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed.lower() if c.isalnum() and c.isascii())


def _matches(info_keys: Sequence[str], names: Iterable[str]) -> bool:
    wanted = [_key(n) for n in names]
    return any(w and (w == k or w in k) for w in wanted for k in info_keys)


# ----------------------------------------------------------------------------------------- fonts


@dataclass
class FontInfo:
    """One font file and what it can draw."""

    path: Path
    family: str
    cmap: dict[int, str]  # code point -> glyph name
    blacklist: frozenset[str] = frozenset()
    joined: bool = False
    ascender: float = 0.75  # ink above the baseline of "Hdlbk", as a fraction of the font size
    descender: float = 0.25  # ink below the baseline of "gjpqy", as a fraction of the font size
    stroke: float = 0.04  # mean stroke width of running text, as a fraction of the font size
    _inked: dict[str, bool] = field(default_factory=dict, repr=False)

    @property
    def band(self) -> float:
        """Height of the writing band (ascender + descender) per unit of font size."""
        return self.ascender + self.descender

    @property
    def keys(self) -> tuple[str, str]:
        return _key(self.family), _key(self.path.stem)


class FontBank:
    """The handwriting fonts of a folder, with per-character coverage that can be trusted.

    ``covers(font, c)`` is true only when the cmap maps ``c`` to a real glyph, the glyph leaves
    ink when rendered (cached per font and character) and ``c`` is not blacklisted for that font.
    Whitespace is covered when it is in the cmap (it has no ink by nature).
    """

    PROBE_SIZE = 40

    def __init__(
        self,
        fonts_dir: str | Path,
        *,
        exclude: Iterable[str] = DEFAULT_EXCLUDE,
        blacklist: dict[str, str] | None = None,
        joined: Iterable[str] = JOINED_FONTS,
        max_cached_fonts: int = 256,
    ) -> None:
        from fontTools.ttLib import TTFont  # training-only dependency (extra "train")

        self.fonts_dir = Path(fonts_dir)
        if not self.fonts_dir.is_dir():
            raise FileNotFoundError(f"fonts folder not found: {self.fonts_dir}")
        blacklist = DEFAULT_BLACKLIST if blacklist is None else blacklist
        exclude = list(exclude)
        joined = list(joined)
        self.fonts: list[FontInfo] = []
        self.excluded: list[str] = []
        for path in sorted(self.fonts_dir.iterdir()):
            if path.suffix.lower() not in FONT_SUFFIXES or not path.is_file():
                continue
            tt = TTFont(str(path), lazy=True)
            family = _family_name(tt) or path.stem
            cmap = dict(tt.getBestCmap() or {})
            tt.close()
            info = FontInfo(path=path, family=family, cmap=cmap)
            if _matches(info.keys, exclude):
                self.excluded.append(family)
                continue
            info.blacklist = frozenset(
                "".join(chars for name, chars in blacklist.items() if _matches(info.keys, [name]))
            )
            info.joined = _matches(info.keys, joined)
            self._measure_band(info)
            self.fonts.append(info)
        if not self.fonts:
            raise ValueError(f"no usable .ttf/.otf/.woff2 font in {self.fonts_dir}")
        self._cache: OrderedDict[tuple[int, int], ImageFont.FreeTypeFont] = OrderedDict()
        self._max_cached = max_cached_fonts

    # The FreeType objects are a cache: rebuilt on demand after pickling (data loader workers).
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()
        return state

    def __len__(self) -> int:
        return len(self.fonts)

    def __iter__(self):
        return iter(self.fonts)

    @property
    def names(self) -> list[str]:
        return [f.family for f in self.fonts]

    def index(self, name: str) -> int:
        """Index of the font whose family or file name matches ``name``."""
        for i, info in enumerate(self.fonts):
            if _matches(info.keys, [name]):
                return i
        raise KeyError(f"no font named {name!r} in {self.fonts_dir}")

    def font(self, index: int, size: int) -> ImageFont.FreeTypeFont:
        """The Pillow font at ``size`` px (an LRU cache: loading a woff2 costs about 1 ms)."""
        key = (index, size)
        font = self._cache.get(key)
        if font is None:
            font = ImageFont.truetype(str(self.fonts[index].path), size)
            self._cache[key] = font
            if len(self._cache) > self._max_cached:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return font

    def _info(self, font: int | FontInfo) -> FontInfo:
        return self.fonts[font] if isinstance(font, int) else font

    def covers(self, font: int | FontInfo, char: str) -> bool:
        info = self._info(font)
        inked = info._inked.get(char)
        if inked is None:
            inked = self._check(info, char)
            info._inked[char] = inked
        return inked

    def missing(self, font: int | FontInfo, text: str) -> set[str]:
        """Characters of ``text`` that ``font`` cannot be trusted to draw."""
        return {c for c in set(text) if not self.covers(font, c)}

    def covering(self, text: str) -> list[int]:
        """Indices of the fonts that draw every character of ``text``."""
        chars = set(text)
        return [i for i, info in enumerate(self.fonts) if all(self.covers(info, c) for c in chars)]

    def _check(self, info: FontInfo, char: str) -> bool:
        if len(char) != 1 or char in info.blacklist:
            return False
        glyph = info.cmap.get(ord(char))
        if glyph is None or glyph == ".notdef":
            return False
        if char.isspace():
            return True
        return _has_ink(self.font(self.fonts.index(info), self.PROBE_SIZE), char)

    def _measure_band(self, info: FontInfo) -> None:
        """Ascender and descender heights from real glyphs: metrics tables often overstate them."""
        size = 100
        font = ImageFont.truetype(str(info.path), size)
        tall = "".join(c for c in "Hdlbkhf" if ord(c) in info.cmap) or "H"
        deep = "".join(c for c in "gjpqy" if ord(c) in info.cmap) or "g"
        top = _ink_box(font, tall)
        bottom = _ink_box(font, deep)
        if top is not None:
            info.ascender = max(0.3, -top[1] / size)
        if bottom is not None:
            info.descender = max(0.05, bottom[3] / size)
        sample = "".join(c for c in "Le prix d'entrée du tournoi" if c == " " or ord(c) in info.cmap)
        image = Image.new("L", (int(font.getlength(sample)) + 40, 2 * size))
        ImageDraw.Draw(image).text((20, 1.4 * size), sample, font=font, fill=255, anchor="ls")
        info.stroke = _stroke_width(np.asarray(image) > 127) / size


def _stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width of a binary ink mask: twice the area over the boundary length."""
    edges = np.count_nonzero(ink[:, 1:] != ink[:, :-1]) + np.count_nonzero(ink[1:, :] != ink[:-1, :])
    return 2.0 * float(np.count_nonzero(ink)) / max(edges, 1)


def _erode(a: np.ndarray, horizontal: bool, vertical: bool) -> np.ndarray:
    """Minimum over a 3-px window along the chosen axes (ink is high: this thins it)."""
    out = a
    if horizontal:
        p = np.pad(out, ((0, 0), (1, 1)), mode="edge")
        out = np.minimum(np.minimum(p[:, :-2], p[:, 1:-1]), p[:, 2:])
    if vertical:
        p = np.pad(out, ((1, 1), (0, 0)), mode="edge")
        out = np.minimum(np.minimum(p[:-2], p[1:-1]), p[2:])
    return out


def _dilate(a: np.ndarray, horizontal: bool, vertical: bool) -> np.ndarray:
    return 255 - _erode(255 - a, horizontal, vertical)


def _thin(mask: Image.Image, passes: int, horizontal: bool, vertical: bool) -> Image.Image:
    """Thin the strokes by about one pixel per side and pass, but keep whole every structure
    the erosion would wipe out (hairlines, i-dots, accents): those are the parts of the mask that
    the opening (erosion then dilation) does not give back. So no glyph part disappears."""
    m = np.asarray(mask)
    out = m
    for _ in range(passes):
        eroded = _erode(out, horizontal, vertical)
        opened = _dilate(eroded, horizontal, vertical)
        fragile = np.where(out > opened, out - opened, 0).astype(np.uint8)
        out = np.maximum(eroded, fragile)
    return Image.fromarray(out, mode="L")


def _family_name(tt) -> str | None:
    try:
        name = tt["name"]
    except KeyError:
        return None
    for name_id in (16, 1):
        record = name.getDebugName(name_id)
        if record:
            return record.strip()
    return None


def _ink_box(font: ImageFont.FreeTypeFont, text: str) -> tuple[int, int, int, int] | None:
    """Ink bounding box of ``text`` relative to its baseline origin (y < 0 above the baseline)."""
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    pad = 4
    width, height = int(right - left) + 2 * pad, int(bottom - top) + 2 * pad
    if width <= 2 * pad or height <= 2 * pad:
        return None
    image = Image.new("L", (width, height))
    ox, oy = pad - left, pad - top
    ImageDraw.Draw(image).text((ox, oy), text, font=font, fill=255, anchor="ls")
    box = image.point(lambda v: 255 if v > 64 else 0).getbbox()
    if box is None:
        return None
    return box[0] - ox, box[1] - oy, box[2] - ox, box[3] - oy


def _has_ink(font: ImageFont.FreeTypeFont, char: str) -> bool:
    return _ink_box(font, char) is not None


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
        self.charset = _charset_set(charset)
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


def _charset_set(charset: Iterable[str] | None) -> frozenset[str] | None:
    if charset is None:
        return None
    chars = getattr(charset, "chars", charset)  # a sparkhtr Charset or any iterable of characters
    return frozenset(chars)


# ------------------------------------------------------------------------------------- rendering


class LineRenderer:
    """Draws a text line in a given font like a scanned handwritten line (8-bit grayscale).

    Varied per line: font size (writing band 50-84 px), slant (shear), slight rotation,
    horizontal stretch, baseline waviness and per-word jitter, word spacing, letter spacing
    (print-like fonts only), stroke weight (toward a pen-like width: hairline-safe thinning or
    FreeType's stroke width, then a soft edge), ink and paper gray levels, paper shading, sensor
    noise, mild blur, an optional faint ruled line, margins. A line in capitals alone gets, with
    probability ``small_caps_p``, extra room above and below (see ``_caps_room``).
    """

    def __init__(
        self, bank: FontBank, band_px: tuple[float, float] = (50.0, 84.0), small_caps_p: float = 0.75
    ) -> None:
        if not 0.0 <= small_caps_p <= 1.0:
            raise ValueError(f"small_caps_p must be in [0, 1], got {small_caps_p}")
        self.bank = bank
        self.band_px = band_px
        self.small_caps_p = small_caps_p

    def render(self, text: str, font_index: int, rng: random.Random) -> Image.Image:
        if not text.strip():
            raise ValueError("cannot render an empty line")
        info = self.bank.fonts[font_index]
        band = rng.uniform(*self.band_px)
        size = max(8, round(band / info.band))
        font = self.bank.font(font_index, size)
        asc, desc = info.ascender * size, info.descender * size
        # stroke weight: the fonts are bolder than a pen at this scale (real lines: ~0.037 band)
        natural = info.stroke * size
        target = band * rng.uniform(0.015, 0.04)
        stroke = 1 if target - natural > 1.5 else 0
        # each thinning pass takes ~2 px off strokes wider than ~3 px; thinner ones are kept whole
        passes = max(0, min(2, round((natural - target) / 2 + 0.3)))
        state = rng.getstate()
        for room in (1.0, 2.0, 4.0):  # a glyph cut by the canvas edge would be label noise: redraw
            rng.setstate(state)
            mask, baseline, x_span = self._draw(text, font, info, size, stroke, rng, room)
            box = mask.getbbox()
            if box is not None and box[0] > 0 and box[1] > 0 and box[2] < mask.width and box[3] < mask.height:
                break
        else:
            raise RuntimeError(f"could not fit {text!r} on the canvas")
        mask, band_top, band_bottom, baseline = self._warp(mask, baseline, x_span, asc, desc, size, rng)
        room = self._caps_room(text, band, rng)
        mask, top = self._crop(mask, band_top, band_bottom, band, rng, room)
        mask = self._weight(mask, size, passes, rng)
        return self._compose(mask, baseline - top, band, rng)

    def _caps_room(self, text: str, band: float, rng: random.Random) -> tuple[float, float]:
        """Extra pixels (above, below) for a line in capitals alone. Real line crops are cut for
        ascenders and descenders, so such a line's letters are small in its crop, the size of
        other writers' small letters: on the Copiste lines, the ink of the one writer in capitals
        fills 30 % of the crop's height (mixed-case lines: 37 %), this renderer's capitals 45 %
        without the room. A network that never saw small capitals reads them as small letters.
        Only such lines draw from ``rng``, so every other line renders as before."""
        if not any(c.isalpha() for c in text) or text != text.upper():
            return 0.0, 0.0
        if rng.random() >= self.small_caps_p:
            return 0.0, 0.0
        return rng.uniform(0.2, 0.8) * band, rng.uniform(0.05, 0.45) * band

    # 1. words on a mask (255 = ink), with baseline waviness, jitter and spacing
    def _draw(
        self,
        text: str,
        font: ImageFont.FreeTypeFont,
        info: FontInfo,
        size: int,
        stroke: int,
        rng: random.Random,
        room: float = 1.0,
    ) -> tuple[Image.Image, float, tuple[float, float]]:
        words = text.split(" ")
        space = font.getlength(" ") or 0.3 * size
        gap_scale = rng.uniform(0.75, 1.5)
        track = rng.uniform(0.0, 0.07) * size if not info.joined and rng.random() < 0.3 else 0.0
        amp = rng.uniform(0.0, 0.05) * size if rng.random() < 0.6 else 0.0
        period = rng.uniform(4.0, 14.0) * size
        phase = rng.uniform(0.0, 2 * math.pi)
        jitter = rng.uniform(0.0, 0.03) * size
        drift = rng.uniform(-0.01, 0.01)

        widths = [font.getlength(w) + track * max(0, len(w) - 1) for w in words]
        gaps = [max(space * gap_scale * rng.uniform(0.75, 1.3), 0.12 * size) for _ in words[1:]]
        total = sum(widths) + sum(gaps)
        pad = int(size * 1.2 * room) + 4
        width = int(total) + 2 * pad
        wobble = amp + 4 * jitter + abs(drift) * total
        above = room * (1.5 * size + wobble) + 4
        below = room * (1.3 * size + wobble) + 4
        height = int(above + below)
        baseline = above
        mask = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(mask)
        x = float(pad)
        for k, word in enumerate(words):
            dy = amp * math.sin(2 * math.pi * x / period + phase) + rng.gauss(0.0, jitter) + drift * (x - pad)
            y = baseline + dy
            if track:
                for j, ch in enumerate(word):
                    cx = x + font.getlength(word[:j]) + track * j
                    draw.text((cx, y), ch, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255)
            else:
                draw.text((x, y), word, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255)
            x += widths[k] + (gaps[k] if k < len(gaps) else 0.0)
        return mask, baseline, (float(pad), x)

    # 2. slant, rotation and stretch in one affine transform; returns where the band went
    def _warp(
        self,
        mask: Image.Image,
        baseline: float,
        x_span: tuple[float, float],
        asc: float,
        desc: float,
        size: int,
        rng: random.Random,
    ) -> tuple[Image.Image, float, float, float]:
        box = mask.getbbox()
        if box is None:
            raise ValueError("the text left no ink")
        top = min(box[1], int(baseline - asc)) - 2
        bottom = max(box[3], int(math.ceil(baseline + desc))) + 2
        left, right = max(0, box[0] - 2), box[2] + 2
        mask = mask.crop((left, top, right, bottom))
        yb = baseline - top
        x0, x1 = x_span[0] - left, x_span[1] - left
        slant = rng.uniform(-0.15, 0.35) if rng.random() < 0.8 else 0.0
        angle = math.radians(rng.uniform(-1.2, 1.2)) if rng.random() < 0.5 else 0.0
        stretch = rng.uniform(0.85, 1.15)
        cos, sin = math.cos(angle), math.sin(angle)
        # forward: x' = stretch * (x - slant * (y - yb)), then a rotation
        shear = np.array([[stretch, -stretch * slant], [0.0, 1.0]])
        fwd = np.array([[cos, -sin], [sin, cos]]) @ shear
        w, h = mask.size
        offset = np.array([slant * yb * stretch, 0.0])  # keeps numbers small; any offset works

        def forward(points: np.ndarray) -> np.ndarray:
            return points @ fwd.T + offset

        corners = forward(np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=float))
        lo = corners.min(axis=0)
        hi = corners.max(axis=0)
        out_w, out_h = int(math.ceil(hi[0] - lo[0])) + 1, int(math.ceil(hi[1] - lo[1])) + 1
        inv = np.linalg.inv(fwd)
        shift = offset - lo  # output = fwd @ p + shift
        c = -inv @ shift
        coeffs = (inv[0, 0], inv[0, 1], c[0], inv[1, 0], inv[1, 1], c[1])
        if slant == 0.0 and angle == 0.0 and abs(stretch - 1.0) < 1e-3:
            warped = mask
            shift = np.zeros(2)
            fwd = np.eye(2)
        else:
            warped = mask.transform((out_w, out_h), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
        band_pts = np.array([[x0, yb - asc], [x1, yb - asc], [x0, yb + desc], [x1, yb + desc], [x0, yb], [x1, yb]])
        moved = band_pts @ fwd.T + shift
        band_top = float(moved[:2, 1].min())
        band_bottom = float(moved[2:4, 1].max())
        new_baseline = float(moved[4:, 1].mean())
        return warped, band_top, band_bottom, new_baseline

    # 3. crop: ink horizontally, band (and any ink beyond it) vertically, plus margins
    def _crop(
        self,
        mask: Image.Image,
        band_top: float,
        band_bottom: float,
        band: float,
        rng: random.Random,
        room: tuple[float, float] = (0.0, 0.0),
    ) -> tuple[Image.Image, int]:
        box = mask.getbbox()
        if box is None:
            raise ValueError("the text left no ink")
        top = min(box[1], band_top) - rng.uniform(1.0, 0.15 * band) - room[0]
        bottom = max(box[3], band_bottom) + rng.uniform(1.0, 0.15 * band) + room[1]
        left = box[0] - rng.uniform(2.0, 0.3 * band)
        right = box[2] + rng.uniform(2.0, 0.3 * band)
        box = (int(left), int(top), int(math.ceil(right)), int(math.ceil(bottom)))
        return mask.crop(box), box[1]

    # 4. stroke weight: hairline-safe thinning, then a soft pen edge. The blur is followed by a gain
    # (>= 1), never by a threshold: a threshold above a thin stroke's blurred peak would erase it.
    def _weight(self, mask: Image.Image, size: int, passes: int, rng: random.Random) -> Image.Image:
        if passes:
            axes = rng.choice([(True, True), (True, True), (True, False), (False, True)])
            mask = _thin(mask, passes, *axes)
        if rng.random() < 0.4:
            mask = mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7)))
            mask = mask.point(_gain_lut(round(rng.uniform(1.0, 1.3) * 20)))
        return mask

    # 5. paper, ink, noise, ruled line, scanner blur
    def _compose(self, mask: Image.Image, baseline: float, band: float, rng: random.Random) -> Image.Image:
        w, h = mask.size
        nrng = np.random.default_rng(rng.getrandbits(63))
        r = rng.random()  # the real lines are on paper cleaned to white (255 in 9 lines out of 10)
        paper_level = 255.0 if r < 0.55 else rng.uniform(235.0, 255.0) if r < 0.85 else rng.uniform(190.0, 235.0)
        ink_level = rng.uniform(0.0, min(100.0, paper_level - 100.0))
        paper = np.full((h, w), paper_level, dtype=np.float32)
        if rng.random() < 0.3:  # uneven lighting / paper tone
            small = nrng.uniform(-1.0, 1.0, size=(2, rng.randint(2, 6))).astype(np.float32)
            shade = np.asarray(Image.fromarray(small, mode="F").resize((w, h), Image.Resampling.BILINEAR))
            paper += shade * rng.uniform(3.0, 15.0)
        if rng.random() < 0.15:  # what is left of a ruled line
            if rng.random() < 0.6:  # just under the baseline, as ruled paper is used
                y0 = int(baseline + rng.uniform(0.0, 0.3) * band)
            else:
                y0 = int(rng.uniform(0.05, 0.95) * h)
            y0 = min(max(0, y0), h - 1)
            thick = rng.randint(1, 2)
            paper[y0 : y0 + thick, :] -= rng.uniform(25.0, 90.0)
        ink = np.float32(ink_level)
        if rng.random() < 0.4:  # pressure: the ink fades or darkens along the line
            ink = ink_level + np.linspace(0.0, rng.uniform(-30.0, 30.0), w, dtype=np.float32)[None, :]
        m = np.asarray(mask, dtype=np.float32) * np.float32(1.0 / 255.0)
        out = paper + m * (ink - paper)
        sigma = rng.uniform(0.0, 6.0) if rng.random() < 0.7 else 0.0
        if sigma > 0.3:
            out += nrng.standard_normal((h, w), dtype=np.float32) * np.float32(sigma)
        image = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), mode="L")
        if rng.random() < 0.3:
            image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
        return image


@functools.lru_cache(maxsize=64)
def _gain_lut(gain_twentieths: int) -> list[int]:
    gain = gain_twentieths / 20
    return [min(255, round(v * gain)) for v in range(256)]


class SyntheticLines(Sequence[LineSample]):
    """``size`` synthetic lines; item ``i`` depends only on ``(seed, i)``.

    The text and font of an item are chosen when it is indexed (cheap); the image is rendered
    when ``sample.image()`` is called, again from the same seed, so listing labels costs little.
    The label is the exact string that is drawn: restricted to ``charset`` when given, then to
    what the chosen font can draw (a font covering the whole line is preferred; otherwise the
    characters the drawn font lacks are removed from the label before rendering).
    """

    def __init__(
        self,
        fonts_dir: str | Path,
        languages: Sequence[str] = ("en", "fr", "de"),
        size: int = 100_000,
        seed: int = 0,
        charset: Iterable[str] | None = None,
        extra_texts: Sequence[str] | None = None,
        *,
        extra_ratio: float = 0.25,
        caps_ratio: float = 0.03,
        min_chars: int = 5,
        max_chars: int = 70,
        exclude_fonts: Iterable[str] = DEFAULT_EXCLUDE,
        font_blacklist: dict[str, str] | None = None,
        bank: FontBank | None = None,
        band_px: tuple[float, float] = (50.0, 84.0),
    ) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        self.size = size
        self.seed = seed
        self.charset = _charset_set(charset)
        self.bank = bank or FontBank(fonts_dir, exclude=exclude_fonts, blacklist=font_blacklist)
        self.texts = TextSource(
            languages,
            seed,
            extra_texts=extra_texts,
            extra_ratio=extra_ratio,
            min_chars=min_chars,
            max_chars=max_chars,
            charset=self.charset,
            caps_ratio=caps_ratio,
        )
        self.renderer = LineRenderer(self.bank, band_px)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> LineSample:  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.size))]  # type: ignore[return-value]
        if i < 0:
            i += self.size
        if not 0 <= i < self.size:
            raise IndexError(f"synthetic line {i} out of range (size {self.size})")
        text, font_index, render_seed = self.plan(i)
        load = functools.partial(self._render, text, font_index, render_seed)
        return LineSample(id=f"synth-{i}", text=text, split="train", load=load, source=None)

    def plan(self, i: int) -> tuple[str, int, int]:
        """(text, font index, render seed) of item ``i``: everything but the pixels."""
        rng = random.Random(self.seed * 1_000_003 + i)
        for _ in range(20):
            text = self.texts.line(rng)
            covering = self.bank.covering(text)
            if covering:
                font_index = rng.choice(covering)
            else:
                font_index = rng.randrange(len(self.bank))
                lacking = self.bank.missing(font_index, text)
                text = normalize_text("".join(c for c in text if c not in lacking))
            if text:
                return text, font_index, rng.getrandbits(63)
        font_index = rng.randrange(len(self.bank))  # pathological charset: random covered characters
        pool = sorted(c for c in (self.charset or "abcdefghij") if not c.isspace() and self.bank.covers(font_index, c))
        if not pool:
            raise ValueError("no font draws any character of the charset")
        text = "".join(rng.choice(pool) for _ in range(rng.randint(3, 10)))
        return text, font_index, rng.getrandbits(63)

    def font_name(self, i: int) -> str:
        return self.bank.fonts[self.plan(i)[1]].family

    def _render(self, text: str, font_index: int, render_seed: int) -> Image.Image:
        return self.renderer.render(text, font_index, random.Random(render_seed))


# --------------------------------------------------------------------------------------- preview


def preview_grid(
    lines: Iterable[LineSample | tuple[Image.Image, str]],
    path: str | Path,
    *,
    width: int = 1400,
    line_height: int = 72,
) -> Path:
    """Save a PNG montage: each line image (scaled to ``line_height``) above its text, for a person to check."""
    items: list[tuple[Image.Image, str]] = []
    for item in lines:
        if isinstance(item, LineSample):
            items.append((item.image(), f"{item.id}: {item.text}"))
        else:
            image, text = item
            items.append((image, text))
    caption_font: ImageFont.ImageFont | ImageFont.FreeTypeFont
    try:  # a font with accents if the system has one
        caption_font = ImageFont.truetype("DejaVuSans.ttf", 18)
    except OSError:
        try:
            caption_font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 18)
        except OSError:
            caption_font = ImageFont.load_default()
    caption_h = 26
    row_h = line_height + caption_h + 8
    sheet = Image.new("L", (width, max(1, row_h * len(items))), 255)
    draw = ImageDraw.Draw(sheet)
    for k, (image, text) in enumerate(items):
        image = image.convert("L")
        scale = line_height / image.height
        new_w = max(1, round(image.width * scale))
        shown = image.resize((new_w, line_height), Image.Resampling.BILINEAR)
        if new_w > width - 8:
            shown = shown.crop((0, 0, width - 8, line_height))
        y = k * row_h
        sheet.paste(shown, (4, y + 2))
        draw.rectangle((4, y + 2, 4 + shown.width - 1, y + 2 + line_height - 1), outline=180)
        draw.text((6, y + line_height + 4), text, font=caption_font, fill=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
