"""Text lines of a whole page, in reading order: ``find_page_lines``.

Steps (each explained in its module): ``ink.page_ink`` evens out the paper, drops scan borders
and specks and brings the page to a scale where lines lie about 28 pixels apart;
``strips.find_chains`` follows each line across narrow vertical strips, so skewed and curling
lines, columns and marginal notes come out as separate lines; here each chain becomes a polygon
(its band, strip by strip, trimmed to its ink) with a baseline, lines are grouped into regions
(lines that overlap sideways and follow each other closely) and the regions are put in reading
order: a region left of another beside it comes first, a region above another under it comes
first; within a region, lines go from top to bottom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from sparkhtr.data.readers._common import fit_box, polygon_box
from sparkhtr.layout.ink import page_ink
from sparkhtr.layout.lines import LineBox
from sparkhtr.layout.order import reading_order
from sparkhtr.layout.strips import Chain, find_chains

__all__ = ["PageLine", "find_page_lines", "line_from_polygon"]

Point = tuple[int, int]
MARGIN_PITCHES = 0.12  # paper kept above and below a band: the line model saw margins in training
MIN_STRENGTH = 0.35  # a one-strip line is kept only when its peak is this share of a typical line's


@dataclass(frozen=True)
class PageLine(LineBox):
    """A line of a page: its box (``LineBox``: x1, y1 exclusive), its outline and baseline in image
    pixels, and the index of its region (regions are numbered in reading order)."""

    polygon: tuple[Point, ...] = ()
    baseline: tuple[Point, ...] = ()
    region: int = 0

    def crop(self, image: Image.Image) -> Image.Image:
        """The polygon's bounding box, cut the way the PAGE and ALTO training readers cut lines."""
        box = fit_box(polygon_box(self.polygon), image.size) if self.polygon else None
        return image.crop(box) if box is not None else super().crop(image)

    def to_dict(self) -> dict:
        return {"box": self.to_list(), "polygon": [list(p) for p in self.polygon],
                "baseline": [list(p) for p in self.baseline], "region": self.region}


def line_from_polygon(polygon, baseline=(), region: int = 0) -> PageLine:
    """A ``PageLine`` from an outline (any number of (x, y) points) and an optional baseline."""
    points = tuple((round(x), round(y)) for x, y in polygon)
    left, top, right, bottom = polygon_box(points)
    return PageLine(int(left), int(top), int(right), int(bottom), points,
                    tuple((round(x), round(y)) for x, y in baseline), region)


def find_page_lines(image: Image.Image) -> list[PageLine]:
    """The text lines of a page image in reading order; [] when it holds no text."""
    page = page_ink(image)
    chains, strip = find_chains(page.ink, page.pitch)
    if not chains:
        return []
    typical = float(np.percentile([max(c.strength) for c in chains], 75))
    chains = [c for c in chains if len(c.strips) > 1 or max(c.strength) >= MIN_STRENGTH * typical]
    shapes = [s for s in (_outline(c, page.ink, strip, page.pitch) for c in chains) if s is not None]
    order = reading_order([s[2] for s in shapes], page.pitch)
    height, width = image.height, image.width
    lines = []
    for index, region in order:
        polygon, baseline, _ = shapes[index]
        to_image = [(min(width - 1, max(0, x / page.scale)), min(height - 1, max(0, y / page.scale)))
                    for x, y in polygon]
        base = [(min(width - 1, x / page.scale), min(height - 1, y / page.scale)) for x, y in baseline]
        lines.append(line_from_polygon(to_image, base, region))
    return lines


def _outline(chain: Chain, ink: np.ndarray, strip: int, pitch: float):
    """(polygon, baseline, box) of a chain in working pixels, or None when its band holds no ink."""
    margin = MARGIN_PITCHES * pitch
    height, width = ink.shape
    xs = [s * strip + strip / 2 for s in chain.strips]
    first, last = chain.strips[0], chain.strips[-1]
    left = _ink_edge(ink, first * strip, min(width, (first + 1) * strip), chain.tops[0], chain.bottoms[0], True)
    right = _ink_edge(ink, last * strip, min(width, (last + 1) * strip), chain.tops[-1], chain.bottoms[-1], False)
    if left is None or right is None or right <= left:
        return None
    xs[0], xs[-1] = min(xs[0], left), max(xs[-1], right)
    if len(xs) == 1:
        xs = [left, right]
        chain = Chain([first, first], chain.peaks * 2, chain.tops * 2, chain.bottoms * 2, chain.strength * 2)
    xs[0], xs[-1] = left, right
    upper = [(x, max(0.0, t - margin)) for x, t in zip(xs, chain.tops)]
    lower = [(x, min(height - 1.0, b + margin)) for x, b in zip(xs, chain.bottoms)]
    baseline = [(x, _base_row(ink, x, strip, t, b)) for x, t, b in zip(xs, chain.tops, chain.bottoms)]
    polygon = upper + lower[::-1]
    box = (left, min(y for _, y in upper), right, max(y for _, y in lower))
    return polygon, baseline, box


def _ink_edge(ink: np.ndarray, x0: int, x1: int, top: float, bottom: float, leftmost: bool) -> float | None:
    band = ink[int(top) : int(bottom) + 1, x0:x1]
    columns = np.flatnonzero(band.any(axis=0))
    if len(columns) == 0:
        return None
    return float(x0 + (columns[0] if leftmost else columns[-1] + 1))


def _base_row(ink: np.ndarray, x: float, strip: int, top: float, bottom: float) -> float:
    """The lowest row of the line's body near ``x``: the last row holding at least 40 % of the
    band's fullest row's ink (descenders are thinner than the body)."""
    x0 = max(0, int(x - strip / 2))
    rows = ink[int(top) : int(bottom) + 1, x0 : x0 + strip].sum(axis=1)
    if rows.max() == 0:
        return (top + bottom) / 2
    return float(int(top) + np.flatnonzero(rows >= 0.4 * rows.max())[-1])
