"""Connected components of a binary image (8-connectivity) in numpy, without scipy.

Why runs: a page mask of a few million pixels holds only some ten thousand horizontal runs of
ink, and two runs on neighbouring rows touch when their column ranges overlap (diagonally too).
So the runs are found with one diff per row, their contacts with two sorted searches, and the
components by propagating the smallest run index along the contacts with pointer jumping: a
handful of vectorised passes instead of a Python loop over pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Components", "components"]


@dataclass
class Components:
    """The runs of a mask and the component each belongs to, with per-component boxes and areas."""

    shape: tuple[int, int]
    row: np.ndarray  # per run
    start: np.ndarray  # per run, first column
    end: np.ndarray  # per run, column after the last
    label: np.ndarray  # per run, its component in 0..count-1
    x0: np.ndarray  # per component; x1, y1 exclusive
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    area: np.ndarray

    @property
    def count(self) -> int:
        return len(self.area)

    @property
    def width(self) -> np.ndarray:
        return self.x1 - self.x0

    @property
    def height(self) -> np.ndarray:
        return self.y1 - self.y0

    def mask(self, keep: np.ndarray) -> np.ndarray:
        """The mask of the components where ``keep`` (one bool per component) is true."""
        height, width = self.shape
        chosen = keep[self.label]
        delta = np.zeros(height * (width + 1), np.int32)
        base = self.row[chosen] * (width + 1)
        np.add.at(delta, base + self.start[chosen], 1)
        np.add.at(delta, base + self.end[chosen], -1)
        return (np.cumsum(delta.reshape(height, width + 1), axis=1)[:, :width] > 0)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    height, width = mask.shape
    padded = np.zeros((height, width + 2), np.int8)
    padded[:, 1:-1] = mask
    change = np.diff(padded, axis=1)  # +1 where a run starts, -1 after it ends
    rows, starts = np.nonzero(change == 1)
    _, ends = np.nonzero(change == -1)  # row-major order: the k-th end closes the k-th start
    return rows, starts, ends


def _contacts(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (run on row r+1, run on row r) that touch, 8-connected."""
    stride = width + 2
    key_start = rows * stride + starts
    key_end = rows * stride + ends
    above = (rows - 1) * stride
    first = np.searchsorted(key_end, above + starts, side="left")  # first run above ending at or after our start
    last = np.searchsorted(key_start, above + ends, side="right")  # runs above starting at or before our end
    counts = np.maximum(last - first, 0)
    below = np.repeat(np.arange(len(rows)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return below, np.repeat(first, counts) + offsets


def components(mask: np.ndarray) -> Components:
    """The 8-connected components of a boolean mask."""
    height, width = mask.shape
    rows, starts, ends = _runs(mask)
    labels = np.arange(len(rows))
    if len(rows):
        a, b = _contacts(rows, starts, ends, width)
        while True:
            low = np.minimum(labels[a], labels[b])
            before = labels.copy()
            np.minimum.at(labels, a, low)
            np.minimum.at(labels, b, low)
            while True:  # pointer jumping: every run points at its root
                jumped = labels[labels]
                if np.array_equal(jumped, labels):
                    break
                labels = jumped
            if np.array_equal(labels, before):
                break
    roots, label = np.unique(labels, return_inverse=True)
    count = len(roots)
    x0 = np.full(count, width)
    y0 = np.full(count, height)
    x1 = np.zeros(count, np.int64)
    y1 = np.zeros(count, np.int64)
    np.minimum.at(x0, label, starts)
    np.minimum.at(y0, label, rows)
    np.maximum.at(x1, label, ends)
    np.maximum.at(y1, label, rows + 1)
    area = np.bincount(label, weights=ends - starts, minlength=count).astype(np.int64)
    return Components((height, width), rows, starts, ends, label, x0, y0, x1, y1, area)
