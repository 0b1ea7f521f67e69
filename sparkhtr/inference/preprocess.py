"""Image -> normalised array, and lines -> padded batches of similar width.

Shared by inference and training so that a model always sees its inputs prepared the same way.
Nothing here needs torch: batches are numpy arrays, which every backend takes (``collate``, for
training, makes torch tensors and imports torch when called).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from sparkhtr.inference.results import PAGE_LIKE_NOTE
from sparkhtr.io.image import ImageError, ImageLimits, ImageSource, load_image
from sparkhtr.layout.ink_band import crop_to_ink_share
from sparkhtr.model.config import PreprocessingConfig

if TYPE_CHECKING:
    import torch

__all__ = [
    "PreparedLine",
    "Batch",
    "LinePreprocessor",
    "LineTooLongError",
    "BLANK_CONTRAST",
    "BATCH_PIXELS",
    "PAGE_LIKE_HEIGHT",
    "resize_line",
    "prepare_line",
    "make_batches",
    "collate",
    "pad_lines",
]

# A line whose network input spans fewer gray levels than this holds nothing to read (blank paper,
# all black, one flat tone): the network would still emit confident made-up text for it. Real lines
# span far more: the lowest of 259 Copiste lines (every 20th) spanned 115 levels.
BLANK_CONTRAST = 24
# Network-input pixels in one padded batch at most (e.g. 16 lines of 4,096 px at 64 px high): a big
# batch_size of very wide lines is cut into smaller batches so that memory stays bounded; results
# never depend on the batching.
BATCH_PIXELS = 4 * 64 * 16_384


class LineTooLongError(ImageError):
    """A line whose network input would be over ``ImageLimits.max_line_pixels``: refused, not read.

    Why refuse rather than read it in windows: no real text line is that long (the default limit is
    an aspect ratio of 256:1 at the model's height), so such an input is a mistake (a page given as
    a line, a strip of noise) and an error naming it is more useful than made-up text."""


# A "line" taller than wide and at least this many pixels high is most likely a page or a block of
# lines: it is read all the same (squeezed to one line, it gives a few made-up characters), with a
# note that says how to read it as a page.
PAGE_LIKE_HEIGHT = 256


@dataclass
class PreparedLine:
    array: np.ndarray  # (C, H, W) float32, normalised
    scale_x: float  # network-input pixels per source pixel, horizontally
    blank: bool = False  # nothing to read: fewer than BLANK_CONTRAST gray levels (see above)
    note: str | None = None  # for the result: PAGE_LIKE_NOTE, or None


@dataclass
class Batch:
    indices: list[int]  # positions of the lines in the caller's list
    images: np.ndarray  # (N, C, H, W) float32, padded right and bottom with 0
    sizes: np.ndarray  # (N, 2) int64 valid (height, width) of each line
    scales: list[float]


def resize_line(
    image: Image.Image, config: PreprocessingConfig, max_pixels: int | None = None, name: str = "line"
) -> Image.Image:
    """Convert to the model's channels, crop to ``min_ink_share`` when set, and scale: to
    ``line_height``, or by ``rescale``.

    ``max_pixels``: the most pixels the result may have; a line over it raises
    ``LineTooLongError`` naming ``name`` and its size, before anything of that size is allocated."""
    image = image.convert("L" if config.channels == 1 else "RGB")
    if config.min_ink_share is not None:
        image = crop_to_ink_share(image, config.min_ink_share)
    width, height = image.size
    if config.line_height:
        size = (max(1, round(width * config.line_height / height)), config.line_height)
    elif config.rescale != 1.0:
        size = (max(1, math.ceil(width * config.rescale)), max(1, math.ceil(height * config.rescale)))
    else:
        size = (width, height)
    if max_pixels is not None and size[0] * size[1] > max_pixels:
        raise LineTooLongError(
            f"{name}: a {width}x{height} line becomes {size[0]}x{size[1]} px at the model's input size, "
            f"over the limit of {max_pixels:,} pixels ({max_pixels // size[1]:,} px wide at {size[1]} px high): "
            "cut it into shorter lines (or raise ImageLimits.max_line_pixels, --max-line-pixels in the CLI)"
        )
    if size == (width, height):
        return image
    return image.resize(size, Image.Resampling.BILINEAR)


def normalize(image: Image.Image, config: PreprocessingConfig) -> np.ndarray:
    array = np.asarray(image, dtype=np.float32)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    mean = np.asarray(config.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(config.std, dtype=np.float32)[:, None, None]
    return np.ascontiguousarray((array - mean) / std)


def prepare_line(
    image: Image.Image, config: PreprocessingConfig, max_pixels: int | None = None, name: str = "line"
) -> PreparedLine:
    """The network's input for one line; ``max_pixels`` and ``name`` as in ``resize_line``."""
    resized = resize_line(image, config, max_pixels, name)
    low, high = resized.getextrema() if resized.mode == "L" else _band_extremes(resized)
    page_like = image.height > image.width and image.height >= PAGE_LIKE_HEIGHT
    return PreparedLine(
        normalize(resized, config), resized.width / image.width, high - low < BLANK_CONTRAST,
        PAGE_LIKE_NOTE if page_like else None,
    )


def _band_extremes(image: Image.Image) -> tuple[int, int]:
    """The widest (low, high) range of any band of a multi-band image."""
    return max(image.getextrema(), key=lambda band: band[1] - band[0])


def pad_lines(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pad (C, H, W) arrays into one (N, C, H_max, W_max) float32 array; return it with the valid
    (height, width) of each, int64."""
    channels = arrays[0].shape[0]
    height = max(a.shape[1] for a in arrays)
    width = max(a.shape[2] for a in arrays)
    batch = np.zeros((len(arrays), channels, height, width), dtype=np.float32)
    for i, array in enumerate(arrays):
        batch[i, :, : array.shape[1], : array.shape[2]] = array
    sizes = np.array([[a.shape[1], a.shape[2]] for a in arrays], dtype=np.int64).reshape(len(arrays), 2)
    return batch, sizes


def collate(arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """``pad_lines`` as torch tensors (float32 images, int64 sizes), for training."""
    import torch

    batch, sizes = pad_lines(arrays)
    return torch.from_numpy(batch), torch.from_numpy(sizes)


def make_batches(
    lines: Sequence[PreparedLine | None], batch_size: int, max_pixels: int = BATCH_PIXELS
) -> Iterator[Batch]:
    """Group lines of similar width (sorted by width) so little compute goes to padding; a batch
    holds at most ``batch_size`` lines and, beyond its first line, ``max_pixels`` padded pixels."""
    order = sorted((i for i, line in enumerate(lines) if line is not None), key=lambda i: -lines[i].array.shape[2])
    start = 0
    while start < len(order):
        # The first line of a batch is its widest; heights may differ, so take the tallest one.
        end = start + 1
        height, width = lines[order[start]].array.shape[1:]
        while end < len(order) and end - start < batch_size:
            height = max(height, lines[order[end]].array.shape[1])
            if (end - start + 1) * height * width > max_pixels:
                break
            end += 1
        indices = order[start:end]
        images, sizes = pad_lines([lines[i].array for i in indices])
        yield Batch(indices, images, sizes, [lines[i].scale_x for i in indices])
        start = end


class LinePreprocessor:
    """Source -> image -> network input, within ``limits``: the first stage of a ``Predictor``.

    Both steps raise ``ImageError`` naming the source (unreadable, too big, a line too long)."""

    def __init__(self, config: PreprocessingConfig, limits: ImageLimits = ImageLimits()) -> None:
        self.config = config
        self.limits = limits

    def load(self, source: ImageSource) -> Image.Image:
        return load_image(source, self.limits)

    def prepare(self, image: Image.Image, name: str = "line") -> PreparedLine:
        return prepare_line(image, self.config, self.limits.max_line_pixels, name)
