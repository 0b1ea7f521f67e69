"""Where a line's ink lies vertically, and a crop that makes the ink fill a given share of it.

A line crop's margins above and below are set by whoever cut it; the network, which judges letter
case by letter size against the crop, reads a crop cut loose around block capitals as small
letters. Cropping loose lines to the ink share typical of training lines removes that cue's noise.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from sparkhtr.layout.lines import otsu_threshold

__all__ = ["ink_band", "crop_to_ink_share"]

BAND_QUANTILES = (0.02, 0.98)  # the band holds the middle 96 % of the ink: stray dots stay out
RULING_COVERAGE = 0.5  # a row inked across half the inked columns is ruling or an underline
MIN_KEPT_HEIGHT = 0.5  # a crop keeps at least this share of the height: a line of dots or dashes
# has a band a few rows high, and cutting to it would blow the line up to tens of thousands of px


def ink_band(gray: np.ndarray) -> tuple[int, int] | None:
    """Rows [top, bottom) holding the middle 96 % of the ink of a dark-on-light 8-bit line, ruling
    rows left out; None when the line has no ink to speak of."""
    ink = gray < otsu_threshold(gray)
    inked_columns = int(ink.any(axis=0).sum())
    rows = ink.sum(axis=1).astype(np.float64)
    rows[rows > RULING_COVERAGE * inked_columns] = 0.0
    total = rows.sum()
    if total == 0:
        return None
    cumulative = np.cumsum(rows) / total
    top = int(np.searchsorted(cumulative, BAND_QUANTILES[0]))
    bottom = int(np.searchsorted(cumulative, BAND_QUANTILES[1])) + 1
    return top, min(bottom, gray.shape[0])


def crop_to_ink_share(image: Image.Image, share: float) -> Image.Image:
    """``image`` cropped vertically, around its ink band, to the height at which the band fills
    ``share`` of it, but never to less than half its height; unchanged when the band already
    fills that much, or there is no ink."""
    gray = np.asarray(image if image.mode == "L" else image.convert("L"))
    band = ink_band(gray)
    height = gray.shape[0]
    if band is None:
        return image
    top, bottom = band
    if bottom - top >= share * height:
        return image
    new_height = max(round((bottom - top) / share), round(MIN_KEPT_HEIGHT * height), 1)
    start = round((top + bottom - new_height) / 2)
    start = min(max(start, 0), height - new_height)  # shift the window inside the image, never pad
    return image.crop((0, start, image.width, start + new_height))
