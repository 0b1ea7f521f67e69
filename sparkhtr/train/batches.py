"""Endless training batches: weighted draws from several sources, augmentation, width bucketing.

Runs inside DataLoader worker processes so that image decoding, synthetic rendering and
augmentation overlap with the network's compute in the main process.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info

from sparkhtr.data.sample import LineSample
from sparkhtr.inference.preprocess import collate, prepare_line
from sparkhtr.io.image import ImageError
from sparkhtr.model.config import PreprocessingConfig
from sparkhtr.model.span import SpanLineModel
from sparkhtr.text.charset import Charset

__all__ = ["TrainingBatches", "TrainBatch", "ctc_min_width"]

Augment = Callable[[Image.Image, random.Random], Image.Image]


@dataclass
class TrainBatch:
    images: torch.Tensor
    sizes: torch.Tensor
    targets: torch.Tensor  # all labels concatenated
    target_lengths: torch.Tensor
    skipped: list[str]  # ids of samples that failed to load since the previous batch

    @property
    def input_lengths(self) -> torch.Tensor:
        return SpanLineModel.frame_counts(self.sizes[:, 1])


def ctc_min_width(label_length: int) -> int:
    """Input width whose frames can hold the label: CTC needs at least 2L+1 frames in the worst case."""
    return (2 * label_length + 1) * SpanLineModel.WIDTH_REDUCTION


class TrainingBatches(IterableDataset):
    def __init__(
        self,
        sources: Sequence[tuple[Sequence[LineSample], float]],
        charset: Charset,
        preprocessing: PreprocessingConfig,
        batch_size: int,
        augment: Augment | None = None,
        seed: int = 0,
        pool_batches: int = 8,
    ) -> None:
        self.sources = [s for s, _ in sources]
        self.weights = [w for _, w in sources]
        self.charset = charset
        self.preprocessing = preprocessing
        self.batch_size = batch_size
        self.augment = augment
        self.seed = seed
        self.pool_batches = pool_batches

    def _example(self, sample: LineSample, rng: random.Random) -> tuple[np.ndarray, list[int]]:
        labels = self.charset.encode(sample.text)
        image = sample.image()
        if self.augment is not None:
            image = self.augment(image, rng)
        array = prepare_line(image, self.preprocessing).array
        short = ctc_min_width(len(labels)) - array.shape[2]
        if short > 0:  # as SPAN does: pad on the right so that CTC can align the label
            array = np.pad(array, ((0, 0), (0, 0), (0, short)))
        return array, labels

    def __iter__(self) -> Iterator[TrainBatch]:
        info = get_worker_info()
        rng = random.Random(self.seed * 7919 + (info.id if info else 0))
        skipped: list[str] = []
        while True:
            pool = []
            while len(pool) < self.batch_size * self.pool_batches:
                source = rng.choices(self.sources, self.weights)[0]
                sample = source[rng.randrange(len(source))]
                try:
                    pool.append(self._example(sample, rng))
                except (ImageError, KeyError, OSError) as exc:
                    skipped.append(f"{sample.id}: {exc}")
            pool.sort(key=lambda item: item[0].shape[2])
            batches = [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
            rng.shuffle(batches)
            for items in batches:
                images, sizes = collate([a for a, _ in items])
                targets = torch.tensor([c for _, labels in items for c in labels], dtype=torch.long)
                lengths = torch.tensor([len(labels) for _, labels in items], dtype=torch.long)
                yield TrainBatch(images, sizes, targets, lengths, skipped)
                skipped = []
