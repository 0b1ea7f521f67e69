"""Image -> normalised tensor, and lines -> padded batches of similar width.

Shared by inference and training so that a model always sees its inputs prepared the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from sparkhtr.layout.ink_band import crop_to_ink_share
from sparkhtr.model.config import PreprocessingConfig

__all__ = ["PreparedLine", "Batch", "resize_line", "prepare_line", "make_batches", "collate"]


@dataclass
class PreparedLine:
    array: np.ndarray  # (C, H, W) float32, normalised
    scale_x: float  # network-input pixels per source pixel, horizontally


@dataclass
class Batch:
    indices: list[int]  # positions of the lines in the caller's list
    images: torch.Tensor  # (N, C, H, W), padded right and bottom with 0
    sizes: torch.Tensor  # (N, 2) valid (height, width) of each line
    scales: list[float]


def resize_line(image: Image.Image, config: PreprocessingConfig) -> Image.Image:
    """Convert to the model's channels, crop to ``min_ink_share`` when set, and scale: to
    ``line_height``, or by ``rescale``."""
    image = image.convert("L" if config.channels == 1 else "RGB")
    if config.min_ink_share is not None:
        image = crop_to_ink_share(image, config.min_ink_share)
    width, height = image.size
    if config.line_height:
        size = (max(1, round(width * config.line_height / height)), config.line_height)
    elif config.rescale != 1.0:
        size = (max(1, math.ceil(width * config.rescale)), max(1, math.ceil(height * config.rescale)))
    else:
        return image
    return image.resize(size, Image.Resampling.BILINEAR)


def normalize(image: Image.Image, config: PreprocessingConfig) -> np.ndarray:
    array = np.asarray(image, dtype=np.float32)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    mean = np.asarray(config.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(config.std, dtype=np.float32)[:, None, None]
    return np.ascontiguousarray((array - mean) / std)


def prepare_line(image: Image.Image, config: PreprocessingConfig) -> PreparedLine:
    resized = resize_line(image, config)
    return PreparedLine(normalize(resized, config), resized.width / image.width)


def collate(arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad (C, H, W) arrays into one (N, C, H_max, W_max) tensor; return it with the valid sizes."""
    channels = arrays[0].shape[0]
    height = max(a.shape[1] for a in arrays)
    width = max(a.shape[2] for a in arrays)
    batch = np.zeros((len(arrays), channels, height, width), dtype=np.float32)
    for i, array in enumerate(arrays):
        batch[i, :, : array.shape[1], : array.shape[2]] = array
    sizes = torch.tensor([[a.shape[1], a.shape[2]] for a in arrays], dtype=torch.long)
    return torch.from_numpy(batch), sizes


def make_batches(lines: Sequence[PreparedLine | None], batch_size: int) -> Iterator[Batch]:
    """Group lines of similar width (sorted by width) so little compute goes to padding."""
    order = sorted((i for i, line in enumerate(lines) if line is not None), key=lambda i: -lines[i].array.shape[2])
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        images, sizes = collate([lines[i].array for i in indices])
        yield Batch(indices, images, sizes, [lines[i].scale_x for i in indices])
