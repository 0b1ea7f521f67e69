"""Anything a user calls an image -> an 8-bit PIL image in mode "L" or "RGB". No torch here.

Accepted: a path, encoded bytes, a PIL image or a numpy array (H, W) / (H, W, 1|3|4), any mode
Pillow reads (palette, 16-bit, CMYK, with alpha, EXIF-rotated). Every failure raises
``ImageError`` whose message names the source, so a batch can report it and go on.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ImageError", "ImageLimits", "ImageSource", "IMAGE_SUFFIXES", "PAGE_LIMITS", "load_image", "describe_source"
]

ImageSource = str | Path | bytes | bytearray | memoryview | Image.Image | np.ndarray

DEFAULT_MAX_PIXELS = 50_000_000
MIN_SIDE = 2
# What the network may be given, whatever the source's size: a line resized to the model's input
# height is refused beyond this many pixels (16,384 px wide at 64 px high, an aspect ratio of 256:1,
# over 9 times the widest line of the shared datasets, 27.5:1). Why: the network's memory grows with
# its input's width (about 40 kB per column for span_small, 60 kB for span at 64 px), so a 99-byte 10000x2 PNG
# resized to 64 px high (320,000 px wide) took 6.8 GB; at this limit a line takes under 1 GB.
DEFAULT_MAX_LINE_PIXELS = 64 * 16_384
# File suffixes read as images where a folder is listed (CLI, dataset folders, page scans).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".jp2")


class ImageError(ValueError):
    """An input that cannot be read as a line image."""


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on acceptable images: a decompression bomb or a single pixel is refused, not read."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    min_side: int = MIN_SIDE
    # Pixels of the network's input (after resizing to the model's line height); see above.
    max_line_pixels: int = DEFAULT_MAX_LINE_PIXELS

    def __post_init__(self) -> None:
        for name in ("max_pixels", "min_side", "max_line_pixels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ImageLimits.{name} must be a positive integer, got {value!r}")


# Page scans are larger than line images; a 600 dpi A3 colour scan is ~70 M pixels.
PAGE_LIMITS = ImageLimits(max_pixels=150_000_000)


def describe_source(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape} {source.dtype}>"
    if isinstance(source, Image.Image):
        return f"<PIL image {source.mode} {source.size[0]}x{source.size[1]}>"
    return f"<{type(source).__name__}>"


def load_image(source: ImageSource, limits: ImageLimits = ImageLimits(), name: str | None = None) -> Image.Image:
    """Read ``source`` as an upright 8-bit image in mode "L" (gray) or "RGB"."""
    name = name or describe_source(source)
    if isinstance(source, np.ndarray):
        image = _from_array(source, name)
    elif isinstance(source, Image.Image):
        image = source
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageError(f"{name}: empty file (0 bytes)")
        image = _open(io.BytesIO(bytes(source)), name)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{name}: no such file")
        if path.stat().st_size == 0:
            raise ImageError(f"{name}: empty file (0 bytes)")
        image = _open(path, name)
    else:
        raise ImageError(f"{name}: unsupported input type {type(source).__name__}")
    _check_size(image, limits, name)
    try:
        return _to_8bit(ImageOps.exif_transpose(image), name)
    except (OSError, ValueError, SyntaxError) as exc:  # truncated data surfaces only when pixels load
        raise ImageError(f"{name}: cannot decode image: {exc}") from exc


def _open(fp: Any, name: str) -> Image.Image:
    """Open lazily: only the header is read, so the size check runs before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies
            return Image.open(fp)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: image is over the pixel limit ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: not a readable image (unknown format)") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{name}: cannot decode image: {exc}") from exc


def _check_size(image: Image.Image, limits: ImageLimits, name: str) -> None:
    width, height = image.size
    if width * height > limits.max_pixels:
        raise ImageError(f"{name}: {width}x{height} image is over the {limits.max_pixels:,}-pixel limit")
    if min(width, height) < limits.min_side:
        raise ImageError(f"{name}: {width}x{height} image is too small to hold a text line")


def _from_array(array: np.ndarray, name: str) -> Image.Image:
    """Validated at the boundary: a NaN, an object array or a value outside any pixel range is an
    error naming the array, never a silently clipped or wrapped image read as made-up text."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"{name}: expected an array (H, W) or (H, W, 1|3|4), got shape {array.shape}")
    if array.size == 0:
        raise ImageError(f"{name}: empty array")
    kind = array.dtype.kind
    if kind == "b":
        array = np.where(array, 255, 0).astype(np.uint8)  # True is paper, as in a mode "1" image
    elif kind == "f":
        low, high = float(np.min(array)), float(np.max(array))  # NaN propagates into both
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ImageError(f"{name}: array holds NaN or infinite values")
        if low < -0.5 or high > 255.5:
            raise ImageError(f"{name}: float pixel values must lie in 0-1 or 0-255, got {low:g} to {high:g}")
        # Floats are taken as 0-1 when they fit there, else as 0-255.
        scale = 255.0 if high <= 1.0 else 1.0
        array = np.clip(array.astype(np.float64) * scale, 0, 255).round().astype(np.uint8)
    elif kind in "ui":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 65535:
            raise ImageError(f"{name}: integer pixel values must lie in 0-255 or 0-65535, got {low} to {high}")
        if high > 255:  # a 16-bit image
            array = (array.astype(np.float64) / 257.0).round().astype(np.uint8)
        else:  # the values already are 8-bit levels
            array = array.astype(np.uint8)
    else:
        raise ImageError(f"{name}: unsupported array dtype {array.dtype} (use integers, floats or booleans)")
    return Image.fromarray(np.ascontiguousarray(array))


def _to_8bit(image: Image.Image, name: str) -> Image.Image:
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode in ("1",):
        return image.convert("L")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image)  # its own dtype: uint16 for I;16, int32 for I, float32 for F
        if array.dtype.kind == "f" and not np.isfinite(array).all():  # a TIFF of floats, say
            raise ImageError(f"{name}: image holds NaN or infinite values")
        top = 65535.0 if mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        # Scaled a block of rows at a time: the whole 50 MP image in float64 took 400 MB per copy
        # (a 16-bit 50 MP PNG peaked at 1.6 GB); blocks of ~4 M pixels keep it to a few tens of MB.
        out = np.empty(array.shape, np.uint8)
        rows = max(1, 4_000_000 // max(1, array.shape[1]))
        for start in range(0, array.shape[0], rows):
            block = array[start : start + rows].astype(np.float64) * (255.0 / top)
            out[start : start + rows] = block.clip(0, 255).round()
        return Image.fromarray(out, "L")
    if mode in ("LA", "La", "RGBA", "RGBa", "PA", "P"):
        rgba = image.convert("RGBA")
        if mode in ("P",) and "transparency" not in image.info:
            return rgba.convert("RGB")
        # Transparent pixels are paper: composite over white, as a viewer would show them.
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(white, rgba).convert("RGB")
        return flat.convert("L") if mode.startswith("L") else flat
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV
