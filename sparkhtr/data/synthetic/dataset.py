"""The synthetic dataset (``SyntheticLines``: item i a pure function of the seed and i) and a
preview grid of lines for pictures."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sparkhtr.data.sample import LineSample
from sparkhtr.data.synthetic.fonts import DEFAULT_EXCLUDE, FontBank
from sparkhtr.data.synthetic.render import LineRenderer
from sparkhtr.data.synthetic.text import TextSource, charset_set
from sparkhtr.text.charset import normalize_text

__all__ = ["SyntheticLines", "preview_grid"]


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
        self.charset = charset_set(charset)
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
