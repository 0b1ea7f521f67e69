"""Text lines of a whole page, in reading order: ``find_page_lines``.

Steps: ``ink.page_ink`` evens out the paper, drops scan borders, stamps and specks, and brings
the page to a scale where lines lie about 28 pixels apart; ``strips.find_chains`` follows each
line across narrow vertical strips, so skewed and curling lines come out whole. Here chains are
cut where they cross a corridor of paper that other lines border on both sides (a column gap, the
space beside a marginal note) and pieces of one line are joined across word gaps; each chain
becomes a polygon hugging its ink, slice by slice, with a baseline; dots, dashes and flourishes
are dropped; ``order.reading_order`` groups the lines into regions and orders them.

Why not a learnt segmenter: kraken's (the maintained one that ships its model) needs torch and
took 8-15 s a page on this CPU (benchmarks/pages.py compares them); this runs in under a second
with numpy and Pillow. The constants were set on the 29 CREMMA pages of that benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from sparkhtr.layout.geometry import polygon_box
from sparkhtr.layout.ink import page_ink
from sparkhtr.layout.line_crop import cut_line, outline_box
from sparkhtr.layout.lines import LineBox
from sparkhtr.layout.order import reading_order
from sparkhtr.layout.strips import Chain, find_chains

__all__ = ["PageLine", "find_page_lines", "line_from_polygon"]

Point = tuple[int, int]
MARGIN_PITCHES = 0.06  # paper kept above and below a band: the line model saw margins in training
END_PITCHES = 0.3  # paper kept before a line's first ink and after its last
SLICE_PITCHES = 0.35  # the polygon follows the ink's top and bottom in slices this many pitches wide
CORE_PITCHES = 0.35  # a polygon reaches at least this far above and below its line's peak
REACH_PITCHES = 0.65  # and at most this far
JOIN_GAP = 3.0  # pitches of paper a line may have between two words (columns lie further apart)
WORD_GAP = 1.2  # pitches: a wider gap is checked for a corridor of paper, a narrower one never
CORRIDOR = 3.0  # pitches above and below a gap that a column gap keeps blank
CORRIDOR_WIDTH = 0.8  # pitches of paper a column gap is at least wide
HALF_LINE = 0.6  # pitches above and below a line's peak that are its own rows
JOIN_RISE = 0.4  # pitches a joined piece may sit above or below where the line was heading
NEAR_GAP = 1.0  # pitches: pieces this close may sit NEAR_RISE pitches further off
NEAR_RISE = 0.35  # (a capital or a flourish at the join moves the peak of a short piece)
MIN_STRENGTH = 0.35  # a one-strip line is kept only when its peak is this share of a typical line's
THIN = 0.15  # pitches: a line whose ink is mostly thinner than this is a stroke (small writing's x-height is 0.2)
MIN_WIDTH = 1.0  # pitches: narrower marks are dots, dashes and stray pieces (33 of 36 such lost a match)


@dataclass(frozen=True)
class PageLine(LineBox):
    """A line of a page: its box (``LineBox``: x1, y1 exclusive), its outline and baseline in image
    pixels, and the index of its region (regions are numbered in reading order)."""

    polygon: tuple[Point, ...] = ()
    baseline: tuple[Point, ...] = ()
    region: int = 0

    def crop(self, image: Image.Image) -> Image.Image:
        """The line cut by its polygon (``line_crop.cut_line``: what the model learnt from, and how the
        PAGE and ALTO training readers cut lines); a line without one, by its box."""
        return cut_line(image, self.polygon) if self.polygon else super().crop(image)

    def crop_left(self, image_size: tuple[int, int]) -> int:
        box = outline_box(self.polygon, image_size) if self.polygon else None
        return box[0] if box is not None else self.x0

    def to_dict(self) -> dict:
        return {"box": self.to_list(), "polygon": [list(p) for p in self.polygon],
                "baseline": [list(p) for p in self.baseline], "region": self.region}


def line_from_polygon(
    polygon: Sequence[tuple[float, float]], baseline: Sequence[tuple[float, float]] = (), region: int = 0
) -> PageLine:
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
    chains = [piece for c in chains for piece in _split_at_corridors(c, page.ink, strip, page.pitch)]
    chains = _join(chains, page.ink, strip, page.pitch)
    shapes = [s for s in (_outline(c, page.ink, strip, page.pitch) for c in chains) if s is not None]
    shapes = [s for s in shapes if s[2][2] - s[2][0] >= MIN_WIDTH * page.pitch]
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


def _join(chains: list[Chain], ink: np.ndarray, strip: int, pitch: float) -> list[Chain]:
    """Chains that continue each other: the next starts right of where one ends, less than
    ``JOIN_GAP`` pitches of paper apart, at the height the first one predicts. A strip without a
    peak ends a chain (so columns part); this puts back the lines cut at a wide word gap."""
    while True:
        ends = [_ink_extent(c, ink, strip) for c in chains]
        best: dict[int, tuple[float, int]] = {}
        for a, first in enumerate(chains):
            for b, second in enumerate(chains):
                if a == b or ends[a] is None or ends[b] is None or second.strips[0] <= first.strips[-1]:
                    continue
                gap = ends[b][0] - ends[a][1]
                rise = abs(first.predict(second.strips[0]) - second.peaks[0])
                near = gap <= NEAR_GAP * pitch  # pieces side by side: a capital or a flourish shifts the peak
                limit = (JOIN_RISE + NEAR_RISE * near) * pitch
                if -0.3 * pitch <= gap <= JOIN_GAP * pitch and rise <= limit and not (
                    gap > WORD_GAP * pitch and _corridor(ink, ends[a][1], ends[b][0], second.peaks[0], pitch)
                ):
                    cost = gap / pitch + rise / pitch
                    if cost < best.get(a, (np.inf, -1))[0]:
                        best[a] = (cost, b)
        taken: set[int] = set()
        merged: dict[int, int] = {}
        for a, (_, b) in sorted(best.items(), key=lambda item: item[1][0]):
            if a in taken or b in taken or b in merged:
                continue
            # b must also have no better predecessor: otherwise leave it to that one
            if min((cost for k, (cost, t) in best.items() if t == b), default=np.inf) < best[a][0]:
                continue
            merged[a] = b
            taken.update((a, b))
        if not merged:
            return chains
        out = []
        for k, chain in enumerate(chains):
            if k in merged:
                other = chains[merged[k]]
                out.append(Chain(chain.strips + other.strips, chain.peaks + other.peaks, chain.tops + other.tops,
                                 chain.bottoms + other.bottoms, chain.strength + other.strength, chain.max_slope))
            elif k not in taken:
                out.append(chain)
        chains = out


def _split_at_corridors(chain: Chain, ink: np.ndarray, strip: int, pitch: float) -> list[Chain]:
    """A chain cut where its band crosses a corridor of paper: strips that straddle a column gap
    hold a little ink of both sides, enough to link two columns' lines into one."""
    if len(chain.strips) < 2:
        return [chain]
    width = ink.shape[1]
    x0, x1 = chain.strips[0] * strip, min(width, (chain.strips[-1] + 1) * strip)
    centres = [s * strip + strip / 2 for s in chain.strips]
    columns = np.arange(x0, x1)
    tops = np.interp(columns, centres, chain.tops).astype(int)
    bottoms = np.interp(columns, centres, chain.bottoms).astype(int) + 1
    rows = np.arange(ink.shape[0])[:, None]
    inked = (ink[:, x0:x1] & (rows >= tops) & (rows < bottoms)).any(axis=0)
    edges = np.flatnonzero(np.diff(np.r_[1, inked.astype(np.int8), 1]))  # blank runs: [start, end) pairs
    cuts = [
        x0 + (a + b) / 2
        for a, b in zip(edges[0::2], edges[1::2])
        if 0 < a and b < len(inked) and b - a > WORD_GAP * pitch
        and _corridor(ink, x0 + a, x0 + b, float(np.interp(x0 + a, centres, chain.peaks)), pitch)
    ]
    pieces, start = [], 0
    for cut in cuts + [np.inf]:
        end = start
        while end < len(centres) and centres[end] < cut:
            end += 1
        if end > start:
            pieces.append(Chain(chain.strips[start:end], chain.peaks[start:end], chain.tops[start:end],
                                chain.bottoms[start:end], chain.strength[start:end], chain.max_slope))
        start = end
    return pieces


def _corridor(ink: np.ndarray, x0: float, x1: float, y: float, pitch: float) -> bool:
    """Whether a band of paper at least ``CORRIDOR_WIDTH`` pitches wide between ``x0`` and ``x1``
    stays blank from ``CORRIDOR`` lines above ``y`` to as many below: a gap between columns or
    beside a note, not a word gap: so other lines must have ink beside it, left and right (a
    single line's wide gap parts nothing)."""
    top, bottom = max(0, int(y - CORRIDOR * pitch)), int(y + CORRIDOR * pitch)
    blank = ~ink[top:bottom, int(x0) : max(int(x0) + 1, int(x1))].any(axis=0)
    edges = np.flatnonzero(np.diff(np.r_[0, blank.astype(np.int8), 0]))
    widest = int((edges[1::2] - edges[0::2]).max()) if len(edges) else 0
    if widest < CORRIDOR_WIDTH * pitch:
        return False
    others = ink[top:bottom].copy()
    others[max(0, int(y - top - HALF_LINE * pitch)) : int(y - top + HALF_LINE * pitch)] = False  # not this line
    reach = int(2 * pitch)
    return bool(others[:, max(0, int(x0) - reach) : int(x0)].any() and others[:, int(x1) : int(x1) + reach].any())


def _ink_extent(chain: Chain, ink: np.ndarray, strip: int) -> tuple[float, float] | None:
    """The first and last inked column of a chain's band in its first and last strips."""
    width = ink.shape[1]
    first, last = chain.strips[0], chain.strips[-1]
    head = ink[int(chain.tops[0]) : int(chain.bottoms[0]) + 1, first * strip : min(width, (first + 1) * strip)]
    tail = ink[int(chain.tops[-1]) : int(chain.bottoms[-1]) + 1, last * strip : min(width, (last + 1) * strip)]
    head_columns, tail_columns = np.flatnonzero(head.any(axis=0)), np.flatnonzero(tail.any(axis=0))
    if len(head_columns) == 0 or len(tail_columns) == 0:
        return None
    return float(first * strip + head_columns[0]), float(last * strip + tail_columns[-1] + 1)


def _outline(chain: Chain, ink: np.ndarray, strip: int, pitch: float) -> tuple[list, list, tuple] | None:
    """(polygon, baseline, box) of a chain in working pixels, or None when its band holds no ink.

    The polygon hugs the ink, as eScriptorium's and kraken's line polygons do: in slices a third
    of a pitch wide, from the band's first inked row to its last. The baseline runs through each
    slice's lowest row holding 40 % of its fullest row's ink (descenders are thinner than the body)."""
    margin = MARGIN_PITCHES * pitch
    height, width = ink.shape
    centres = np.array([s * strip + strip / 2 for s in chain.strips])
    step = max(2, round(SLICE_PITCHES * pitch))
    x_start, x_end = chain.strips[0] * strip, min(width, (chain.strips[-1] + 1) * strip)
    upper: list[tuple[float, float]] = []
    lower: list[tuple[float, float]] = []
    baseline: list[tuple[float, float]] = []
    heights: list[int] = []
    for x0 in range(x_start, x_end, step):
        x1 = min(x_end, x0 + step)
        top = int(np.interp((x0 + x1) / 2, centres, chain.tops))
        bottom = int(np.interp((x0 + x1) / 2, centres, chain.bottoms)) + 1
        piece = ink[top:bottom, x0:x1]
        rows = piece.sum(axis=1)
        inked = np.flatnonzero(rows)
        if len(inked) == 0:
            continue
        columns = np.flatnonzero(piece.any(axis=0))
        left, right = float(x0 + columns[0]), float(x0 + columns[-1] + 1)
        # at least the line's core around its peak, where thin strokes may have been lost to the mask
        peak = float(np.interp((x0 + x1) / 2, centres, chain.peaks))
        # and at most REACH pitches from it: past that, the band's ink is a neighbour's ascender or
        # descender (rare once bands stop at the valleys: the page CER did not move)
        ink_top = max(top + inked[0], peak - REACH_PITCHES * pitch)
        ink_bottom = min(top + inked[-1] + 1, peak + REACH_PITCHES * pitch)
        high = max(0.0, min(ink_top, max(top, peak - CORE_PITCHES * pitch)) - margin)
        low = min(height - 1.0, max(ink_bottom, min(bottom, peak + CORE_PITCHES * pitch)) + margin)
        upper += [(left, high), (right, high)]
        lower += [(left, low), (right, low)]
        baseline.append(((left + right) / 2, float(top + np.flatnonzero(rows >= 0.4 * rows.max())[-1])))
        heights.append(inked[-1] + 1 - inked[0])
    if not upper or np.percentile(heights, 75) < THIN * pitch:  # none, or a flourish, a rule, a dash
        return None
    box = (upper[0][0], min(y for _, y in upper), upper[-1][0], max(y for _, y in lower))  # the ink's
    side = END_PITCHES * pitch  # paper before the first letter and after the last, as in training
    start, end = max(0.0, upper[0][0] - side), min(float(width), upper[-1][0] + side)
    upper[0], lower[0] = (start, upper[0][1]), (start, lower[0][1])
    upper[-1], lower[-1] = (end, upper[-1][1]), (end, lower[-1][1])
    baseline[0] = (upper[0][0], baseline[0][1])
    baseline[-1] = (upper[-1][0], baseline[-1][1])
    return upper + lower[::-1], baseline, box
