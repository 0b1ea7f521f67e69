"""Ink of a whole page scan: paper brightness evened out, scan borders and specks dropped.

Why not one global threshold: page photographs have shadows, yellowed paper, dark scanner beds
and the next page's edge; a global Otsu split then calls whole margins ink. Dividing by the
local paper brightness (the page shrunk, its dark strokes closed off by a max filter, blown back
up) makes ink a local darkening; what is dark where the paper itself is dark (the scanner bed,
a binding) is left out. Components far larger than text (rules, borders, bleed) and specks far
smaller than a letter are removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from sparkhtr.layout.components import Components, components
from sparkhtr.layout.lines import otsu_threshold

__all__ = ["PageInk", "page_ink"]

WORK_SIDE = 1600  # the page's longer side is brought to about this many pixels before anything else
TARGET_PITCH = 28.0  # then rescaled so that text lines lie about this many pixels apart
PAPER_DARKNESS = 0.55  # a place whose paper is darker than this share of the page's paper is not page
SHRUNK_INK = 40  # a shrunk pixel is ink when this much of its 255 was ink at full size
ACF_SMOOTH = 7  # rows the autocorrelation is averaged over (irregular lines give a ragged peak)
WORD_FLOOR = 0.8  # the pitch is at least this share of the typical word's height
WORDS_TO_PITCH = 1.6  # with no rhythm to measure, the pitch is taken as this many word heights
MIN_PITCH = 6  # working pixels: closer rows are strokes of one line
MIN_HEIGHT_SHARE = 0.12  # components lower than this share of the line pitch are specks


@dataclass
class PageInk:
    ink: np.ndarray  # bool, at the working scale
    scale: float  # working pixels per image pixel
    pitch: float  # line pitch in working pixels
    parts: Components  # the kept ink's components


def _normalised(gray: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """(gray / local paper brightness, the paper brightness) as float arrays."""
    small_side = 64
    factor = max(1, max(gray.size) // small_side)
    small = gray.reduce(factor)
    paper = small.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.BoxBlur(2)).resize(gray.size, Image.BILINEAR)
    values = np.asarray(gray, np.float32)
    background = np.maximum(np.asarray(paper, np.float32), 1.0)
    return values / background, background


def _binarise(gray: Image.Image) -> np.ndarray:
    ratio, background = _normalised(gray)
    level = otsu_threshold(np.clip(ratio * 255, 0, 255).astype(np.uint8)) / 255
    ink = ratio < min(level, 0.88)  # on a clean page Otsu can sit in the paper's own noise
    return ink & (background > PAPER_DARKNESS * np.percentile(background, 90))


def _pitch(parts: Components, keep: np.ndarray) -> float:
    """Line pitch: the first strong peak of the rows' autocorrelation, summed over vertical strips
    (a strip's lines stay roughly level even on a skewed page, and strips of two columns each
    keep their own period); never less than most words are high, which a strokes' rhythm can
    fake on an image of two or three lines."""
    ink = parts.mask(keep)
    height, width = ink.shape
    words = _word_height(parts, keep)
    strip = max(32, width // 12)
    total = np.zeros(height)
    for x in range(0, width - strip // 2, strip):
        rows = ink[:, x : x + strip].sum(axis=1).astype(np.float64)
        rows -= rows.mean()
        energy = float(rows @ rows)
        if energy > 0:
            total += np.correlate(rows, rows, mode="full")[height - 1 :] / energy
    total = np.convolve(total, np.ones(ACF_SMOOTH) / ACF_SMOOTH, mode="same")  # one peak per lag, not a comb
    lags = np.arange(max(MIN_PITCH, round(WORD_FLOOR * words)), height // 2)
    lags = lags[lags + 1 < height]
    peaks = lags[(total[lags] > 0) & (total[lags] >= total[lags - 1]) & (total[lags] >= total[lags + 1])]
    if len(peaks) == 0:
        return max(float(MIN_PITCH), WORDS_TO_PITCH * words)  # one line, or no rhythm
    return float(peaks[np.argmax(total[peaks] >= 0.6 * total[peaks].max())])


def _word_height(parts: Components, keep: np.ndarray) -> float:
    """The height of the kept components' median ink pixel when they are ranked by height."""
    chosen = keep & (parts.height >= 3)
    if not chosen.any():
        return float(TARGET_PITCH)
    order = np.argsort(parts.height[chosen])
    heights, areas = parts.height[chosen][order], parts.area[chosen][order]
    return float(heights[np.searchsorted(np.cumsum(areas), areas.sum() / 2)])


def page_ink(image: Image.Image) -> PageInk:
    """The page's ink at a working scale where lines are about ``TARGET_PITCH`` pixels apart."""
    gray = image.convert("L")
    scale = min(1.0, WORK_SIDE / max(gray.size))
    work = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))), Image.BOX)
    parts = components(_binarise(work))
    pitch = _pitch(parts, ~_borders(parts, TARGET_PITCH))
    rescale = min(2.0, TARGET_PITCH / pitch)
    if rescale > 1.15:  # small writing: binarise again at a larger scale
        scale *= rescale
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        parts = components(_binarise(gray.resize(size, Image.BILINEAR)))
        pitch = _pitch(parts, ~_borders(parts, pitch))
    elif rescale < 1 / 1.15:  # large writing: shrink the ink itself, so thin strokes stay whole
        scale *= rescale
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        full = Image.fromarray(parts.mask(~_borders(parts, pitch)).astype(np.uint8) * 255)
        parts = components(np.asarray(full.resize(size, Image.BOX)) >= SHRUNK_INK)
        pitch = _pitch(parts, ~_borders(parts, pitch * rescale))
    keep = (parts.height >= MIN_HEIGHT_SHARE * pitch) | (parts.width >= 0.5 * pitch)
    keep &= parts.area >= 0.02 * pitch * pitch
    keep &= ~_borders(parts, pitch)
    ink = parts.mask(keep)
    return PageInk(ink, scale, pitch, components(ink))


def _borders(parts: Components, pitch: float) -> np.ndarray:
    """Components that are no text: taller than four lines and thin or sparse (rules, scan edges,
    the gutter), touching the image's edge and larger than a word, or large and dense (stamps,
    seals, drawings: handwriting leaves most of its box blank)."""
    height, width = parts.shape
    tall = parts.height > 4 * pitch
    sparse = parts.area < 0.08 * parts.height * parts.width
    thin = parts.width < 0.5 * pitch
    huge = tall & ((parts.height > 0.5 * height) | (parts.width > 0.6 * width))  # not one line of a small image
    edge = (parts.x0 == 0) | (parts.y0 == 0) | (parts.x1 == width) | (parts.y1 == height)
    blot = (parts.height > 1.5 * pitch) & (parts.width > 1.5 * pitch) & (parts.area > 0.25 * parts.height * parts.width)
    rule = (parts.width > 4 * pitch) & (parts.height < 0.3 * pitch)  # a paper edge, a ruled line alone
    return (tall & (sparse | thin)) | huge | edge | blot | rule
