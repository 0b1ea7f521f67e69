"""Judging a line finder against a page's ground truth: ALTO line polygons, IoU matching, page CER.

Why polygons and not boxes: on a skewed page a line's box also holds much of its neighbours', so
box IoU would call a wrong line right. Polygons are filled on a grid a quarter of the page's size
(enough for lines tens of pixels high) and compared pixel by pixel.

Two page CERs separate what a finder gets wrong: ``ordered`` joins the found lines with newlines
in the finder's reading order, against the truth's lines in the truth's order; ``order_free``
first puts each found line where the truth line it overlaps most stands, so only missed, split,
merged and badly cut lines cost, not the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sparkhtr.io.alto import alto_line_text
from sparkhtr.io.xml import child, descendants, local_name, read_xml
from sparkhtr.layout.geometry import parse_points
from sparkhtr.text.charset import clean_text
from sparkhtr.text.metrics import char_errors

__all__ = ["TruthLine", "read_alto_lines", "overlaps", "match_lines", "LineScores", "page_cer", "order_by_truth"]

Polygon = Sequence[tuple[float, float]]
GRID = 4  # polygons are filled at 1/GRID of the page's pixels


@dataclass(frozen=True)
class TruthLine:
    polygon: list[tuple[float, float]]
    baseline: list[tuple[float, float]]
    text: str
    region: int  # index of its TextBlock in the file
    region_type: str  # the block's tag label (SegmOnto: MainZone, MarginTextZone, NumberingZone...)


def read_alto_lines(path: str | Path) -> list[TruthLine]:
    """The text lines of an ALTO file in its order (pixel units), with their polygons, baselines,
    normalised texts and regions; lines with no text or no polygon are left out."""
    root = read_xml(path)
    labels = {tag.attrib.get("ID"): tag.attrib.get("LABEL", "") for tag in descendants(root, "OtherTag")}
    lines: list[TruthLine] = []
    for number, block in enumerate(descendants(root, "TextBlock")):
        kind = labels.get(block.attrib.get("TAGREFS", "").split(" ")[0], "")
        for line in (e for e in block if local_name(e) == "TextLine"):
            shape = child(line, "Shape")
            polygon_node = child(shape, "Polygon") if shape is not None else None
            polygon = parse_points(polygon_node.attrib.get("POINTS", "")) if polygon_node is not None else []
            text = clean_text(alto_line_text(line), "")
            if len(polygon) < 3 or not text:
                continue
            baseline = parse_points(line.attrib.get("BASELINE", ""))
            lines.append(TruthLine(polygon, baseline, text, number, kind))
    return lines


def _mask(polygon: Polygon, origin: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    canvas = Image.new("1", size, 0)
    points = [((x - origin[0]) / GRID, (y - origin[1]) / GRID) for x, y in polygon]
    ImageDraw.Draw(canvas).polygon(points, fill=1)
    return np.asarray(canvas)


def _box(polygon: Polygon) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    return min(xs), min(ys), max(xs), max(ys)


def overlaps(found: Sequence[Polygon], truth: Sequence[Polygon]) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, intersection / found area): two len(found) x len(truth) matrices of filled polygons."""
    iou = np.zeros((len(found), len(truth)))
    inside = np.zeros((len(found), len(truth)))
    found_boxes, truth_boxes = [_box(p) for p in found], [_box(p) for p in truth]
    for i, (polygon, fb) in enumerate(zip(found, found_boxes)):
        for j, (other, tb) in enumerate(zip(truth, truth_boxes)):
            x0, y0 = min(fb[0], tb[0]), min(fb[1], tb[1])
            x1, y1 = max(fb[2], tb[2]), max(fb[3], tb[3])
            if min(fb[2], tb[2]) <= max(fb[0], tb[0]) or min(fb[3], tb[3]) <= max(fb[1], tb[1]):
                continue  # boxes apart: no overlap, skip the drawing
            origin = (int(x0), int(y0))
            size = (int((x1 - x0) / GRID) + 2, int((y1 - y0) / GRID) + 2)
            a, b = _mask(polygon, origin, size), _mask(other, origin, size)
            both, either = np.logical_and(a, b).sum(), np.logical_or(a, b).sum()
            iou[i, j] = both / either if either else 0.0
            inside[i, j] = both / a.sum() if a.sum() else 0.0
    return iou, inside


@dataclass
class LineScores:
    found: int
    truth: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        total = self.found + self.truth
        return 2 * self.matched / total if total else 0.0

    def __add__(self, other: LineScores) -> LineScores:
        return LineScores(self.found + other.found, self.truth + other.truth, self.matched + other.matched)


def match_lines(iou: np.ndarray, threshold: float = 0.5) -> LineScores:
    """One-to-one matches of IoU >= ``threshold``, best pairs first (above 0.5 a line can only
    pair once anyway, so greedy equals optimal there)."""
    found, truth = iou.shape
    pairs = sorted(((iou[i, j], i, j) for i, j in zip(*np.nonzero(iou >= threshold))), reverse=True)
    used_i: set[int] = set()
    used_j: set[int] = set()
    for _, i, j in pairs:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
    return LineScores(found, truth, len(used_i))


def order_by_truth(inside: np.ndarray) -> list[int]:
    """Found lines' indices sorted by the truth line each overlaps most (ties keep found order);
    a line overlapping none goes after the line found before it."""
    keys: list[float] = []
    last = -1.0
    for row in inside:
        last = float(np.argmax(row)) if row.max() > 0 else last + 1e-3
        keys.append(last)
    return sorted(range(len(keys)), key=lambda i: (keys[i], i))


def page_cer(truth: Sequence[str], found: Sequence[str]) -> tuple[int, int]:
    """(edits, reference characters) between the pages' lines joined by newlines."""
    reference = "\n".join(truth)
    return char_errors(reference, "\n".join(found)), len(reference)
