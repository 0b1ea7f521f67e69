"""Handwriting fonts for synthetic lines: which characters each font really draws, its
writing band and stroke width (``FontBank``), and the fonts left out or partly blacklisted."""

from __future__ import annotations

import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["FONT_SUFFIXES", "DEFAULT_EXCLUDE", "DEFAULT_BLACKLIST", "JOINED_FONTS", "FontInfo", "FontBank"]

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


