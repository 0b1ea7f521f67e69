"""Drawing one synthetic line: a font at a size, slant, stroke thinning, ink and paper, framed
on the font's writing band (``LineRenderer``)."""

from __future__ import annotations

import functools
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from sparkhtr.data.synthetic.fonts import FontBank, FontInfo

__all__ = ["LineRenderer"]

# ------------------------------------------------------------------------------------- rendering


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


