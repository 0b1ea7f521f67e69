"""The image struct that flows between Spark stages, in Spark OCR's layout, and its conversions.

Why a module of its own: the struct is the contract between ``BinaryToImage`` and the recognizer,
and also between us and other tools. Spark OCR's schema (origin, height, width, nChannels, mode,
resolution, data) uses ``java.awt.image.BufferedImage`` type numbers in ``mode`` and BGR(A) byte
order; Spark's own ``image`` data source has the same fields minus ``resolution`` and uses OpenCV
type numbers (0, 16, 24). The two sets of numbers do not overlap, so ``mode`` alone tells them
apart. Nothing here imports torch; pyspark is needed only for the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import numpy as np
from PIL import Image
from pyspark.sql.types import BinaryType, IntegerType, StringType, StructField, StructType

from sparkhtr.io.image import ImageError, ImageLimits, load_image

__all__ = [
    "ImageType",
    "IMAGE_FIELDS",
    "IMAGE_SCHEMA",
    "INVALID_MODE",
    "encode_image",
    "invalid_image",
    "struct_to_image",
]


class ImageType(IntEnum):
    """Pixel layouts of the struct's ``mode``: the ``java.awt.image.BufferedImage`` type constants."""

    TYPE_3BYTE_BGR = 5
    TYPE_4BYTE_ABGR = 6
    TYPE_BYTE_GRAY = 10
    TYPE_BYTE_BINARY = 12


# OpenCV type numbers used by Spark's built-in image source (pyspark.ml.image.ImageSchema).
_CV_8UC1, _CV_8UC3, _CV_8UC4 = 0, 16, 24
INVALID_MODE = -1

IMAGE_FIELDS = ("origin", "height", "width", "nChannels", "mode", "resolution", "data")

IMAGE_SCHEMA = StructType(
    [
        StructField("origin", StringType(), True),
        StructField("height", IntegerType(), True),
        StructField("width", IntegerType(), True),
        StructField("nChannels", IntegerType(), True),
        StructField("mode", IntegerType(), True),
        StructField("resolution", IntegerType(), True),
        StructField("data", BinaryType(), True),
    ]
)

# mode -> (channels, how to turn the stored channel order into RGB(A)); None: already gray.
_LAYOUTS: dict[int, tuple[int, list[int] | None]] = {
    ImageType.TYPE_BYTE_GRAY: (1, None),
    ImageType.TYPE_BYTE_BINARY: (1, None),
    ImageType.TYPE_3BYTE_BGR: (3, [2, 1, 0]),
    ImageType.TYPE_4BYTE_ABGR: (4, [3, 2, 1, 0]),
    _CV_8UC1: (1, None),
    _CV_8UC3: (3, [2, 1, 0]),
    _CV_8UC4: (4, [2, 1, 0, 3]),
}


def _resolution(image: Image.Image) -> int | None:
    dpi = image.info.get("dpi")
    try:
        return int(round(float(dpi[0]))) if dpi else None
    except (TypeError, ValueError, IndexError):
        return None


def encode_image(image: Image.Image, origin: str | None, image_type: int) -> dict[str, Any]:
    """An 8-bit "L" or "RGB" image (as ``load_image`` gives) -> the struct's fields, in ``image_type``'s layout."""
    image_type = ImageType(image_type)
    if image_type in (ImageType.TYPE_BYTE_GRAY, ImageType.TYPE_BYTE_BINARY):
        pixels = np.asarray(image.convert("L"))
        if image_type == ImageType.TYPE_BYTE_BINARY:
            # One byte per pixel, 0 or 255 (not packed bits), so a reader can reshape it to (h, w, 1).
            pixels = np.where(pixels >= 128, 255, 0).astype(np.uint8)
        channels, data = 1, pixels.tobytes()
    elif image.mode == "L" and image_type == ImageType.TYPE_3BYTE_BGR:
        # A gray page (most scans of handwriting): B, G and R are the gray plane itself, interleaved
        # by Pillow in one pass, a quarter of the time of an RGB image reversed by numpy.
        channels, data = 3, Image.merge("RGB", (image, image, image)).tobytes()
    else:
        rgb = np.asarray(image.convert("RGB"))
        if image_type == ImageType.TYPE_3BYTE_BGR:
            pixels = rgb[:, :, ::-1]
        else:  # ABGR; load_image has already composited any transparency over white
            alpha = np.full(rgb.shape[:2] + (1,), 255, dtype=np.uint8)
            pixels = np.concatenate([alpha, rgb[:, :, ::-1]], axis=2)
        channels, data = pixels.shape[2], np.ascontiguousarray(pixels).tobytes()
    return {
        "origin": origin,
        "height": image.height,
        "width": image.width,
        "nChannels": channels,
        "mode": int(image_type),
        "resolution": _resolution(image),
        "data": data,
    }


def invalid_image(origin: str | None) -> dict[str, Any]:
    """The struct of a file that could not be decoded: it keeps its origin, as Spark's image source does."""
    return {
        "origin": origin,
        "height": -1,
        "width": -1,
        "nChannels": -1,
        "mode": INVALID_MODE,
        "resolution": None,
        "data": None,
    }


def _int(value: Any) -> int | None:
    try:
        return None if value is None or value != value else int(value)  # value != value: NaN
    except (TypeError, ValueError):
        return None


def struct_to_image(
    record: Mapping[str, Any] | None, limits: ImageLimits = ImageLimits(), prefer_gray: bool = False
) -> Image.Image:
    """A Spark OCR or Spark image struct -> an 8-bit "L" or "RGB" PIL image; ``ImageError`` names the origin.

    ``prefer_gray``: a color struct whose channels are all equal (a gray scan stored as BGR, which
    is ``BinaryToImage``'s default) comes back as "L". Readers that turn every image gray anyway
    (the model, the line finder) get the same pixels for a third of the work.
    """
    if record is None:
        raise ImageError("<null image>: no image in this row")
    origin = record.get("origin")
    name = str(origin) if isinstance(origin, str) and origin else "<image without origin>"
    height, width, channels, mode = (_int(record.get(k)) for k in ("height", "width", "nChannels", "mode"))
    data = record.get("data")
    if mode is None or mode == INVALID_MODE or data is None or len(data) == 0 or not height or not width:
        raise ImageError(f"{name}: no image data (the file could not be decoded)")
    if mode not in _LAYOUTS:
        raise ImageError(f"{name}: unsupported image mode {mode}")
    if height < 0 or width < 0:
        raise ImageError(f"{name}: invalid image size {width}x{height}")
    if height * width > limits.max_pixels:
        raise ImageError(f"{name}: {width}x{height} image is over the {limits.max_pixels:,}-pixel limit")
    expected_channels, order = _LAYOUTS[mode]
    if channels is not None and channels != expected_channels:
        raise ImageError(f"{name}: mode {mode} needs {expected_channels} channels, the struct says {channels}")
    buffer = np.frombuffer(bytes(data), dtype=np.uint8)
    if mode == ImageType.TYPE_BYTE_BINARY and buffer.size == height * ((width + 7) // 8):
        # Packed bits, one row padded to a whole byte, 1 = white (BufferedImage's default palette).
        bits = np.unpackbits(buffer.reshape(height, -1), axis=1)[:, :width]
        return load_image(bits * np.uint8(255), limits, name=name)
    if buffer.size != height * width * expected_channels:
        raise ImageError(
            f"{name}: image data has {buffer.size} bytes, expected {height}x{width}x{expected_channels}"
        )
    pixels = buffer.reshape(height, width, expected_channels)
    if order is None:
        pixels = pixels[:, :, 0]
        if mode == ImageType.TYPE_BYTE_BINARY and pixels.max(initial=0) <= 1:
            pixels = pixels * np.uint8(255)
    elif prefer_gray and (gray := _gray_plane(pixels, mode)) is not None:
        pixels = gray
    else:
        pixels = pixels[:, :, order]
    return load_image(np.ascontiguousarray(pixels), limits, name=name)


def _gray_plane(pixels: np.ndarray, mode: int) -> np.ndarray | None:
    """One color plane when the color channels are equal and any alpha is opaque, else None."""
    alpha = {ImageType.TYPE_4BYTE_ABGR: 0, _CV_8UC4: 3}.get(mode)
    colors = [c for c in range(pixels.shape[2]) if c != alpha]
    first = pixels[:, :, colors[0]]
    if not all(np.array_equal(first, pixels[:, :, c]) for c in colors[1:]):
        return None
    if alpha is not None and not bool((pixels[:, :, alpha] == 255).all()):
        return None
    return first
