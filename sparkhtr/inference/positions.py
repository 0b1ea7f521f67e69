"""Where each recognized character is: CTC spikes -> character extents in input pixels.

A CTC network marks each character with a spike one or two frames wide, placed where the network
has seen enough of the glyph, so the spikes trail the glyphs: on Copiste train lines the default
model's space spikes sat 2.5 frames (20 network pixels, a third of the line height) right of the
word gaps they stand for. A character's extent is therefore the stretch between the midpoints to
its neighbours' spikes, after every spike is moved back by the model's lag (``position_lag`` in
its config, measured by ``estimate_position_lag``). The extents tile the line: each character
ends where the next begins, and a word's box runs from its first letter's left edge to its last
letter's right edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from sparkhtr.inference.preprocess import resize_line
from sparkhtr.io.image import ImageSource, load_image
from sparkhtr.model.config import PreprocessingConfig
from sparkhtr.model.span import SpanLineModel

if TYPE_CHECKING:
    from sparkhtr.inference.recognizer import Recognizer

__all__ = ["char_extents", "space_offsets", "PositionLag", "estimate_position_lag"]

MIN_WIDTH = 1.0  # pixels: a character pushed against an edge of the image keeps a visible box
MIN_GAP = 0.22  # a word gap: a run of ink-free columns at least this many line heights wide
MAX_DISTANCE = 0.6  # a space spike farther than this (line heights) from every gap is not matched


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
    extents = []
    for x0, x1 in zip(edges, edges[1:]):
        if x1 - x0 < MIN_WIDTH:
            x0 = max(0.0, min(x0, width - MIN_WIDTH))
            x1 = min(width, x0 + MIN_WIDTH)
        extents.append((x0, x1))
    return extents


def space_offsets(image: Image.Image, space_centers: Iterable[float], line_height: int) -> list[float | None]:
    """For each space's center (network pixels, on ``image`` resized to ``line_height``), its
    distance right of the nearest word gap's center, in network pixels; None where no gap is
    near. Ink is any pixel darker than mid-gray."""
    resized = resize_line(image, PreprocessingConfig(channels=1, line_height=line_height))
    ink = (np.asarray(resized) < 128).any(axis=0)
    gaps = _gap_centers(ink, MIN_GAP * line_height)
    offsets: list[float | None] = []
    for center in space_centers:
        offset = center - gaps[np.argmin(np.abs(gaps - center))] if gaps.size else None
        offsets.append(float(offset) if offset is not None and abs(offset) <= MAX_DISTANCE * line_height else None)
    return offsets


@dataclass(frozen=True)
class PositionLag:
    frames: float  # the median offset, in frames
    spaces: int  # how many space spikes it was measured on
    lines: int


def estimate_position_lag(
    recognizer: Recognizer, images: Iterable[ImageSource], min_spaces: int = 50
) -> PositionLag:
    """How many frames the recognizer's spikes trail what they read: the median offset of its
    space spikes from the centers of the word gaps they fall in (greedy or beam, as it decodes).
    A few hundred lines of any text give a stable figure; no transcription is needed. Fewer than
    ``min_spaces`` matched spaces (a model that reads few spaces yet) raise ValueError."""
    height = recognizer.config.preprocessing.line_height
    if not height:
        raise ValueError("the position lag is measured on models that resize lines to one height")
    space = recognizer.charset.index(" ") if " " in recognizer.charset else None
    offsets: list[float] = []
    lines = 0
    for source in images:
        image = load_image(source, recognizer.limits)
        line = recognizer.decoder(recognizer.log_probs(image), recognizer.charset)
        frame = SpanLineModel.WIDTH_REDUCTION
        centers = [(c.first_frame + c.last_frame + 1) / 2 * frame for c in line.chars if c.label == space]
        offsets += [offset for offset in space_offsets(image, centers, height) if offset is not None]
        lines += 1
    if len(offsets) < min_spaces:
        raise ValueError(
            f"only {len(offsets)} spaces matched a word gap in {lines} lines (at least {min_spaces} needed): "
            "cannot measure the position lag"
        )
    return PositionLag(float(np.median(offsets)) / SpanLineModel.WIDTH_REDUCTION, len(offsets), lines)


def _gap_centers(ink: np.ndarray, min_gap: float) -> np.ndarray:
    """Centers of the ink-free runs of columns at least ``min_gap`` wide, between inked columns."""
    padded = np.concatenate(([True], ink, [True])).astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))  # starts and ends of the ink-free runs, alternating
    starts, ends = changes[0::2], changes[1::2]
    inside = (starts > 0) & (ends < len(ink)) & (ends - starts >= min_gap)
    return (starts[inside] + ends[inside]) / 2
