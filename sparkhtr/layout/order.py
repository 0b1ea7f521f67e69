"""Reading order of a page's lines: group them into regions, then order the regions by XY cuts.

Why regions first: cutting the lines themselves would slice two columns whose lines happen to
share a gap into alternating lines. Lines that overlap sideways and follow each other within
about a line pitch are one region (a column, a paragraph, a marginal note). The regions' boxes
are then split recursively (Nagy and Seth's XY cut): first across the page where no region
covers a band of rows (top part first), else down the page where no region covers a band of
columns (left part first). A marginal note beside the text is read before it when it is on the
left, after it on the right; a page number above the text comes first.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["reading_order"]

Box = tuple[float, float, float, float]
SAME_REGION_GAP = 1.0  # pitches between the centres of consecutive lines of a region, beyond one pitch
SIDEWAYS_OVERLAP = 0.3  # share of the narrower line's width two lines of a region overlap by
SAME_ROW = 0.5  # pitches between the centres of two pieces of one line
SHRINK = 0.25  # pitches taken off each side of a region's box before looking for gaps


def _regions(boxes: Sequence[Box], pitch: float) -> list[list[int]]:
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            overlap = min(a[2], b[2]) - max(a[0], b[0])
            narrower = min(a[2] - a[0], b[2] - b[0])
            distance = abs((a[1] + a[3]) - (b[1] + b[3])) / 2
            if overlap >= SIDEWAYS_OVERLAP * narrower and distance <= (1 + SAME_REGION_GAP) * pitch:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _split(spans: list[tuple[float, float]]) -> list[list[int]] | None:
    """Indices grouped by the uncovered gaps along one axis, in order; None when there is no gap."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    groups: list[list[int]] = [[order[0]]]
    reach = spans[order[0]][1]
    for i in order[1:]:
        if spans[i][0] >= reach:
            groups.append([])
        groups[-1].append(i)
        reach = max(reach, spans[i][1])
    return groups if len(groups) > 1 else None


def _xy_cut(items: list[int], boxes: list[Box], shrink: float) -> list[int]:
    if len(items) <= 1:
        return items
    for axis in (1, 0):  # rows first (top before bottom), then columns (left before right)
        spans = [(boxes[i][axis] + shrink, max(boxes[i][axis] + shrink, boxes[i][axis + 2] - shrink)) for i in items]
        groups = _split(spans)
        if groups is not None:
            return [k for g in groups for k in _xy_cut([items[i] for i in g], boxes, shrink)]
    return sorted(items, key=lambda i: (boxes[i][1], boxes[i][0]))  # no cut left: top to bottom


def reading_order(boxes: Sequence[Box], pitch: float) -> list[tuple[int, int]]:
    """(line index, region number) for every line box (x0, y0, x1, y1), in reading order."""
    if not boxes:
        return []
    regions = _regions(boxes, pitch)
    region_boxes = [
        (min(boxes[i][0] for i in r), min(boxes[i][1] for i in r), max(boxes[i][2] for i in r),
         max(boxes[i][3] for i in r))
        for r in regions
    ]
    ordered = _xy_cut(list(range(len(regions))), region_boxes, SHRINK * pitch)
    out = []
    for number, region in enumerate(ordered):
        out.extend((i, number) for i in _rows(regions[region], boxes, pitch))
    return out


def _rows(members: list[int], boxes: Sequence[Box], pitch: float) -> list[int]:
    """A region's lines top to bottom, pieces of one line (side by side, centres less than
    ``SAME_ROW`` pitches apart) left to right."""
    centre = {i: (boxes[i][1] + boxes[i][3]) / 2 for i in members}
    rows: list[list[int]] = []
    for i in sorted(members, key=lambda i: centre[i]):
        row = rows[-1] if rows else None
        if row is not None and abs(centre[i] - centre[row[0]]) <= SAME_ROW * pitch and all(
            min(boxes[i][2], boxes[j][2]) - max(boxes[i][0], boxes[j][0]) <= 0.2 * pitch for j in row
        ):
            row.append(i)
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda i: boxes[i][0])]
