"""Anything a user calls an image -> an 8-bit PIL image in mode "L" or "RGB". No torch here.

Accepted: a path, encoded bytes, a PIL image or a numpy array (H, W) / (H, W, 1|3|4), any mode
Pillow reads (palette, 16-bit, CMYK, with alpha, EXIF-rotated). Every failure raises
``ImageError`` whose message names the source, so a batch can report it and go on.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ImageError", "ImageLimits", "ImageSource", "IMAGE_SUFFIXES", "load_image", "describe_source"]

ImageSource = str | Path | bytes | bytearray | memoryview | Image.Image | np.ndarray

DEFAULT_MAX_PIXELS = 50_000_000
MIN_SIDE = 2
# File suffixes read as images where a folder is listed (CLI, dataset folders, page scans).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".jp2")


class ImageError(ValueError):
    """An input that cannot be read as a line image."""


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on acceptable images: a decompression bomb or a single pixel is refused, not read."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    min_side: int = MIN_SIDE


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
        return _to_8bit(ImageOps.exif_transpose(image))
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
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"{name}: expected an array (H, W) or (H, W, 1|3|4), got shape {array.shape}")
    if array.dtype != np.uint8:
        if array.dtype.kind == "f":
            # Floats are taken as 0-1 when they fit there, else as 0-255.
            scale = 255.0 if float(np.nanmax(array, initial=0.0)) <= 1.0 else 1.0
            array = np.clip(np.nan_to_num(array) * scale, 0, 255).round().astype(np.uint8)
        elif array.dtype.kind in "ui" and array.size and int(array.max()) > 255:
            array = (array.astype(np.float64) / 257.0).round().clip(0, 255).astype(np.uint8)
        else:
            array = array.astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array))


def _to_8bit(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode in ("1",):
        return image.convert("L")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        return Image.fromarray((array * (255.0 / top)).clip(0, 255).round().astype(np.uint8), "L")
    if mode in ("LA", "La", "RGBA", "RGBa", "PA", "P"):
        rgba = image.convert("RGBA")
        if mode in ("P",) and "transparency" not in image.info:
            return rgba.convert("RGB")
        # Transparent pixels are paper: composite over white, as a viewer would show them.
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(white, rgba).convert("RGB")
        return flat.convert("L") if mode.startswith("L") else flat
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV
