"""Split a paragraph image into text-line boxes by its horizontal ink profile.

Why this method: the line model reads one line per image, and a paragraph of roughly horizontal
lines (a letter, a form field, a scanned block of text) needs only its line bands, which the count
of ink pixels per row shows as peaks (lines) and valleys (the gaps between them). It needs no
training and runs in milliseconds. It assumes lines run left to right without strong skew or
curl, in a single column; whole pages with several columns or marginalia need a real layout model.

Steps: Otsu's threshold separates ink from paper (light-on-dark images are inverted); the rows'
autocorrelation gives the line pitch; the profile, smoothed over a third of the pitch, has one
peak per line, at least half a pitch apart; each cut goes through the lowest point between two
peaks; each band is then trimmed to its ink, with a small margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["LineBox", "find_lines"]

MARGIN = 4  # pixels of paper kept around each line's ink: the line model saw margins in training
TALL = 1.7  # a box this many times the median line height holds two lines
MIN_PEAK_SHARE = 0.05  # a peak below this share of the highest is speckle, not a line (short last lines reach ~0.1)


@dataclass(frozen=True)
class LineBox:
    """A line's box in the image's pixels; x1 and y1 exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    def crop(self, image: Image.Image) -> Image.Image:
        return image.crop((self.x0, self.y0, self.x1, self.y1))

    def crop_left(self, image_size: tuple[int, int]) -> int:
        """The x, in the image, where ``crop``'s output begins."""
        return self.x0

    def to_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


def find_lines(image: Image.Image, min_line_height: int = 16) -> list[LineBox]:
    """The text lines of ``image`` from top to bottom; [] when it holds no ink.

    ``min_line_height``: the smallest line pitch considered, in pixels (smaller bands are noise).
    """
    ink = _ink_mask(np.asarray(image.convert("L")))
    rows = ink.sum(axis=1).astype(np.float64)
    if not rows.any():
        return []
    pitch = _line_pitch(rows, min_line_height)
    smooth = _box_filter(rows, max(1, pitch // 3))
    peaks = _peaks(smooth, min_distance=max(1, pitch // 2))
    cuts = [0] + [a + int(np.argmin(smooth[a:b])) for a, b in zip(peaks, peaks[1:])] + [len(rows)]
    boxes = [_trim(ink, top, bottom) for top, bottom in zip(cuts, cuts[1:])]
    return _split_tall([box for box in boxes if box is not None], ink, smooth)


def _split_tall(boxes: list[LineBox], ink: np.ndarray, smooth: np.ndarray) -> list[LineBox]:
    """Split a box more than TALL times the median height at its profile's lowest point in its
    middle: two lines whose peaks merged (a short line beside a full one has a weak peak)."""
    if len(boxes) < 3:
        return boxes
    median = float(np.median([b.y1 - b.y0 for b in boxes]))
    out: list[LineBox] = []
    for box in boxes:
        height = box.y1 - box.y0
        if height <= TALL * median:
            out.append(box)
            continue
        low, high = box.y0 + int(0.3 * height), box.y1 - int(0.3 * height)
        cut = low + int(np.argmin(smooth[low:high]))
        parts = [_trim(ink, box.y0, cut), _trim(ink, cut, box.y1)]
        out.extend(part for part in parts if part is not None)
    return out


def _ink_mask(gray: np.ndarray) -> np.ndarray:
    ink = gray < otsu_threshold(gray)
    return ~ink if ink.mean() > 0.5 else ink  # most of a page is paper: invert light-on-dark


def otsu_threshold(gray: np.ndarray) -> int:
    """The gray level that best splits the histogram into two classes (Otsu, 1979): ink is
    ``gray < threshold``."""
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    weight = np.cumsum(hist)
    mean = np.cumsum(hist * levels)
    total, total_mean = weight[-1], mean[-1]
    background = total - weight
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mean * weight - total * mean) ** 2 / (weight * background)
    between[~np.isfinite(between)] = 0
    return int(np.argmax(between)) + 1  # ink: values at or below the best split


def _line_pitch(rows: np.ndarray, min_pitch: int) -> int:
    """The distance between lines: the shortest lag past ``min_pitch`` where the row profile's
    autocorrelation peaks at least half as high as its highest peak (strokes within a line make
    smaller peaks at short lags; multiples of the pitch make peaks as high at longer ones)."""
    centred = rows - rows.mean()
    n = len(centred)
    corr = np.correlate(centred, centred, mode="full")[n - 1 :]
    lags = np.arange(max(min_pitch, 1), n - 1)
    peaks = lags[(corr[lags] > 0) & (corr[lags] >= corr[lags - 1]) & (corr[lags] >= corr[lags + 1])]
    if len(peaks) == 0:
        return n  # one line, or no regular spacing: the whole height is one band
    return int(peaks[np.argmax(corr[peaks] >= 0.5 * corr[peaks].max())])


def _box_filter(values: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width) / width
    return np.convolve(values, kernel, mode="same")


def _peaks(values: np.ndarray, min_distance: int) -> list[int]:
    """Local maxima, strongest first, none within ``min_distance`` of a stronger one; sorted by position."""
    floor = MIN_PEAK_SHARE * values.max()
    left, right = np.r_[values[0], values[:-1]], np.r_[values[1:], values[-1]]
    candidates = np.flatnonzero((values >= floor) & (values >= left) & (values >= right)).tolist()
    kept: list[int] = []
    for i in sorted(candidates, key=lambda i: -values[i]):
        if all(abs(i - j) >= min_distance for j in kept):
            kept.append(i)
    return sorted(kept)


def _trim(ink: np.ndarray, top: int, bottom: int) -> LineBox | None:
    band = ink[top:bottom]
    rows = np.flatnonzero(band.any(axis=1))
    cols = np.flatnonzero(band.any(axis=0))
    if len(rows) == 0:
        return None
    height, width = ink.shape
    return LineBox(
        max(0, int(cols[0]) - MARGIN),
        max(0, top + int(rows[0]) - MARGIN),
        min(width, int(cols[-1]) + 1 + MARGIN),
        min(height, top + int(rows[-1]) + 1 + MARGIN),
    )
