"""Measuring a model's position lag: how many frames its CTC spikes trail the glyphs they read.

Offline work (sparkhtr train does it at the end of a run, scripts/package_model.py for a bundled
model): the lag is stored in the model's config.json, from where ``sparkhtr.inference.positions``
shifts every character's range back by it. See that module for why spikes trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from sparkhtr.inference.preprocess import resize_line
from sparkhtr.io.image import ImageSource, load_image
from sparkhtr.model.config import ModelConfig, PreprocessingConfig

if TYPE_CHECKING:
    from sparkhtr.inference.recognizer import Recognizer

__all__ = ["space_offsets", "PositionLag", "TooFewSpaces", "estimate_position_lag", "write_position_lag"]

MIN_GAP = 0.22  # a word gap: a run of ink-free columns at least this many line heights wide
MAX_DISTANCE = 0.6  # a space spike farther than this (line heights) from every gap is not matched


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
    space, frame = recognizer.charset.index(" "), recognizer.backend.frame_stride
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
    from sparkhtr.model.files import INT8_ONNX_FILE, ONNX_FILE, save_config
    from sparkhtr.model.onnx_export import update_onnx_config

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
