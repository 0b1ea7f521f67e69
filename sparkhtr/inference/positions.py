"""Where each recognized character is: CTC spikes -> character extents in input pixels.

A CTC network marks each character with a spike one or two frames wide, placed where the network
has seen enough of the glyph, so the spikes trail the glyphs: on Copiste train lines the default
model's space spikes sat about 2.5 frames (20 network pixels, a third of the line height) right of the
word gaps they stand for. A character's extent is therefore the stretch between the midpoints to
its neighbours' spikes, after every spike is moved back by the model's lag (``position_lag`` in
its config, measured by ``estimate_position_lag``). The extents tile the line: each character
ends where the next begins, and a word's box runs from its first letter's left edge to its last
letter's right edge, so it takes in half of each neighbouring gap (and a wide first or last letter
next to a narrow gap may stick out of it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from sparkhtr.inference.preprocess import resize_line
from sparkhtr.io.image import ImageSource, load_image
from sparkhtr.model.config import ModelConfig, PreprocessingConfig
from sparkhtr.model.span import SpanLineModel

if TYPE_CHECKING:
    from sparkhtr.inference.recognizer import Recognizer

__all__ = [
    "char_extents", "space_offsets", "PositionLag", "TooFewSpaces", "estimate_position_lag", "write_position_lag"
]

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


def space_offsets(
    image: Image.Image, space_centers: Iterable[float], preprocessing: PreprocessingConfig
) -> list[float | None]:
    """For each space's center (network pixels: on ``image`` prepared as ``preprocessing``, which
    must resize to a line height), its distance right of the nearest word gap's center, in network
    pixels; None where no gap is near. Ink is any pixel darker than mid-gray."""
    line_height = preprocessing.line_height
    resized = resize_line(image, replace(preprocessing, channels=1))
    ink = (np.asarray(resized) < 128).any(axis=0)
    gaps = _gap_centers(ink, MIN_GAP * line_height)
    offsets: list[float | None] = []
    for center in space_centers:
        offset = center - gaps[np.argmin(np.abs(gaps - center))] if gaps.size else None
        offsets.append(float(offset) if offset is not None and abs(offset) <= MAX_DISTANCE * line_height else None)
    return offsets


class TooFewSpaces(ValueError):
    """Too few recognized spaces lay near word gaps to measure a position lag."""


@dataclass(frozen=True)
class PositionLag:
    frames: float  # the median offset, in frames
    spaces: int  # how many space spikes it was measured on
    lines: int


def estimate_position_lag(
    recognizer: Recognizer, images: Iterable[ImageSource], min_spaces: int = 50
) -> PositionLag:
    """How many frames the recognizer's spikes trail what they read: the median offset of its
    space spikes from the center of the nearest word gap within ``MAX_DISTANCE``, with the
    recognizer's own decoder (greedy and beam spikes sat within 0.2 frame of each other on the
    bundled model). A few hundred lines of any text give a stable figure; no transcription is
    needed. Fewer than ``min_spaces`` matched spaces (a model that reads few spaces yet) raise
    ``TooFewSpaces``; an unreadable image raises ``ImageError`` naming it."""
    height = recognizer.config.preprocessing.line_height
    if not height:
        raise ValueError("the position lag is measured on models that resize lines to one height")
    if " " not in recognizer.charset:
        raise ValueError("the position lag is measured from spaces, and the model's charset has none")
    space, frame = recognizer.charset.index(" "), SpanLineModel.WIDTH_REDUCTION
    offsets: list[float] = []
    lines = 0
    for source in images:
        image = load_image(source, recognizer.limits)
        line = recognizer.decoder(recognizer.log_probs(image), recognizer.charset)
        centers = [(c.first_frame + c.last_frame + 1) / 2 * frame for c in line.chars if c.label == space]
        found = space_offsets(image, centers, recognizer.config.preprocessing)
        offsets += [offset for offset in found if offset is not None]
        lines += 1
    if len(offsets) < min_spaces:
        raise TooFewSpaces(
            f"only {len(offsets)} spaces matched a word gap in {lines} lines (at least {min_spaces} needed): "
            "cannot measure the position lag"
        )
    return PositionLag(float(np.median(offsets)) / frame, len(offsets), lines)


def write_position_lag(model_dir: str | Path, config: ModelConfig, frames: float) -> None:
    """Store ``frames`` (rounded to 0.001) as the position lag of the model in ``model_dir``: in
    ``config`` and its config.json, and in every exported .onnx file beside it, so that every
    backend shifts the positions alike (the graphs stay as they are)."""
    from sparkhtr.model.files import save_config
    from sparkhtr.model.onnx_export import INT8_ONNX_FILE, ONNX_FILE, update_onnx_config

    config.position_lag = round(frames, 3)
    save_config(model_dir, config)
    for name in (ONNX_FILE, INT8_ONNX_FILE):
        if (Path(model_dir) / name).is_file():
            update_onnx_config(Path(model_dir) / name, config)


def _gap_centers(ink: np.ndarray, min_gap: float) -> np.ndarray:
    """Centers of the ink-free runs of columns at least ``min_gap`` wide, between inked columns."""
    padded = np.concatenate(([True], ink, [True])).astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))  # starts and ends of the ink-free runs, alternating
    starts, ends = changes[0::2], changes[1::2]
    inside = (starts > 0) & (ends < len(ink)) & (ends - starts >= min_gap)
    return (starts[inside] + ends[inside]) / 2
