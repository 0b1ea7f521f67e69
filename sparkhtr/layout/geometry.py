"""Boxes and polygons in page pixels: parsing PAGE / ALTO point lists, bounding boxes, crop boxes.

Shared by the dataset readers (line crops of PAGE, ALTO, RIMES pages) and the page line finder
(polygons to crops), so it depends on nothing above ``sparkhtr.io.image``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import NamedTuple

from sparkhtr.io.image import MIN_SIDE

__all__ = ["Box", "Outline", "finite", "parse_points", "polygon_box", "check_box", "ref_scales", "fit_box"]

Box = tuple[float, float, float, float]  # left, top, right, bottom; right/bottom exclusive


class Outline(NamedTuple):
    """A line's polygon and its box: what a reader found for a line that has an outline."""

    box: Box
    points: tuple[tuple[float, float], ...]

_SEPARATORS = re.compile(r"[\s,]+")


def finite(value: str) -> float:
    """One coordinate: a finite number, else ValueError naming the text (``nan``, ``1e999``, ``12px``)."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"coordinate {value[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"coordinate {value[:40]!r} is not a finite number")
    return number


def parse_points(text: str) -> list[tuple[float, float]]:
    """Points of a PAGE ``points`` / ALTO ``POINTS`` string, ``"x,y x,y"`` or ``"x y x y"``.

    Every token must be a finite number and they must pair up: a ``nan`` or a stray word in the list
    raises ValueError (the line is then skipped as ``bad-box``) instead of shifting the pairs and
    keeping a wrong crop."""
    tokens = [t for t in _SEPARATORS.split(text.strip()) if t]
    numbers = [finite(t) for t in tokens]
    if len(numbers) % 2:
        raise ValueError(f"odd number of coordinates ({len(numbers)}) in the points list")
    return list(zip(numbers[0::2], numbers[1::2], strict=True))


def polygon_box(points: Iterable[tuple[float, float]]) -> Box | None:
    """Axis-aligned box of a polygon whose points are pixel positions: the max pixel is included."""
    pts = list(points)
    if not pts:
        return None
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    if not all(math.isfinite(v) for v in xs + ys):
        raise ValueError("a point has a coordinate that is not a finite number")
    return (math.floor(min(xs)), math.floor(min(ys)), math.floor(max(xs)) + 1, math.floor(max(ys)) + 1)


def check_box(box: Box) -> str | None:
    """Why ``box`` is unusable (a coordinate that is not finite, an empty or inverted box), or None."""
    if len(box) != 4 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in box):
        return f"box {box} has a coordinate that is not a finite number"
    if box[2] <= box[0] or box[3] <= box[1]:
        return f"box {box} is empty or inverted"
    return None


def ref_scales(image_size: tuple[int, int], ref_size: tuple[float, float] | None) -> tuple[float, float]:
    """Image pixels per ``ref_size`` unit, horizontally and vertically; (1, 1) without a usable ``ref_size``."""
    if ref_size is not None and all(math.isfinite(v) and v > 0 for v in ref_size):
        return image_size[0] / ref_size[0], image_size[1] / ref_size[1]
    return 1.0, 1.0


def fit_box(
    box: Box, image_size: tuple[int, int], ref_size: tuple[float, float] | None = None
) -> tuple[int, int, int, int] | None:
    """Integer crop box inside the image, scaled from ``ref_size`` coordinates if given; None if too small."""
    if check_box(box) is not None:
        return None
    left, top, right, bottom = box
    width, height = image_size
    sx, sy = ref_scales(image_size, ref_size)
    if (sx, sy) != (1.0, 1.0):
        left, right, top, bottom = left * sx, right * sx, top * sy, bottom * sy
        if not all(math.isfinite(v) for v in (left, right, top, bottom)):
            return None
    crop = (
        max(0, math.floor(left)),
        max(0, math.floor(top)),
        min(width, math.ceil(right)),
        min(height, math.ceil(bottom)),
    )
    if crop[2] - crop[0] < MIN_SIDE or crop[3] - crop[1] < MIN_SIDE:
        return None
    return crop
