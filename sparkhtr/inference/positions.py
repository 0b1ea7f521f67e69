"""Where each recognized character is: CTC spikes -> character extents in input pixels.

A CTC network marks each character with a spike one or two frames wide, placed where the network
has seen enough of the glyph, so the spikes trail the glyphs: on Copiste train lines the default
model's space spikes sat about 2.5 frames (20 network pixels, a third of the line height) right of the
word gaps they stand for. A character's extent is therefore the stretch between the midpoints to
its neighbours' spikes, after every spike is moved back by the model's lag (``position_lag`` in
its config, measured by ``sparkhtr.calibrate.position_lag``). The extents tile the line: each character
ends where the next begins, and a word's box runs from its first letter's left edge to its last
letter's right edge, so it takes in half of each neighbouring gap (and a wide first or last letter
next to a narrow gap may stick out of it).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["char_extents"]

MIN_WIDTH = 1.0  # pixels: a character pushed against an edge of the image keeps a visible box


def char_extents(
    spans: Sequence[tuple[int, int]], lag: float, step: float, width: float
) -> list[tuple[float, float]]:
    """(x0, x1) in input pixels for characters whose spikes cover frames ``spans`` (first, last,
    inclusive), ``step`` input pixels a frame, spikes trailing by ``lag`` frames, in an image
    ``width`` pixels wide."""
    if not spans:
        return []
    centers = [(first + last + 1) / 2 - lag for first, last in spans]
    inner = [(a + b) / 2 for a, b in zip(centers, centers[1:])]
    # The outer characters get the width of their one neighbouring gap, or 1 frame each side alone.
    left = centers[0] - (inner[0] - centers[0] if inner else 1.0)
    right = centers[-1] + (centers[-1] - inner[-1] if inner else 1.0)
    edges = [min(max(e * step, 0.0), width) for e in (left, *inner, right)]
    count = len(spans)
    if width < count * MIN_WIDTH:  # more characters than pixels: an even split
        return [(width * i / count, width * (i + 1) / count) for i in range(count)]
    # Characters pushed against an edge of the image keep MIN_WIDTH: the edges, not the boxes, are
    # moved (forward, then back from the right edge), so the boxes still tile the line.
    for i in range(1, count + 1):
        edges[i] = max(edges[i], edges[i - 1] + MIN_WIDTH)
    edges[count] = min(edges[count], width)
    for i in range(count - 1, -1, -1):
        edges[i] = min(edges[i], edges[i + 1] - MIN_WIDTH)
    return list(zip(edges, edges[1:]))
