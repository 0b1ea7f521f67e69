"""Split maps: a dataset's lines put in train / dev / test splits from a file kept beside the code,
so that shared datasets whose manifests say only "train" get writer-disjoint dev and test splits
without being copied or edited.

A split map is a TSV whose header names a key column, ``group`` (the manifest's document or writer
column) or ``id``, then ``split``::

    group<TAB>split
    data/manuscrit-verne-20000<TAB>dev

Lines it does not name keep the split their dataset gave them. A folder of split maps holds one
``<dataset folder name>.tsv`` per dataset (``configs/splits/`` for the shared collections).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sparkhtr.data.sample import LineSample

__all__ = ["SplitMap", "read_split_map", "split_map_for", "apply_split_map"]

KEYS = ("group", "id")


class SplitMap:
    """Which split each group (or line id) belongs to, as read from ``path``."""

    def __init__(self, key: str, splits: dict[str, str], path: Path) -> None:
        self.key, self.splits, self.path = key, splits, path

    def split_of(self, sample: LineSample) -> str:
        value = sample.group if self.key == "group" else sample.id
        return self.splits.get(value or "", sample.split)


def read_split_map(path: str | Path) -> SplitMap:
    """The split map in ``path``; a ValueError names the file (and line) when it is malformed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such split map")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or len(rows[0]) != 2 or rows[0][0] not in KEYS or rows[0][1] != "split":
        raise ValueError(f"{path}: the header must be 'group<TAB>split' or 'id<TAB>split'")
    splits: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2 or not row[0] or not row[1]:
            raise ValueError(f"{path}:{number}: expected '<{rows[0][0]}><TAB><split>'")
        if row[0] in splits:
            raise ValueError(f"{path}:{number}: {row[0]!r} is given a split twice")
        splits[row[0]] = row[1]
    return SplitMap(rows[0][0], splits, path)


def split_map_for(dataset_path: str | Path, splits: str | Path | None) -> SplitMap | None:
    """The split map for the dataset at ``dataset_path``: ``splits`` itself when it is a file; when
    it is a folder, its ``<dataset folder name>.tsv`` if there is one; None otherwise."""
    if splits is None:
        return None
    splits = Path(splits)
    if splits.is_file():
        return read_split_map(splits)
    if not splits.is_dir():
        raise FileNotFoundError(f"{splits}: no such split map or folder of split maps")
    candidate = splits / f"{Path(dataset_path).resolve().name}.tsv"
    return read_split_map(candidate) if candidate.is_file() else None


def apply_split_map(samples: Sequence[LineSample], split_map: SplitMap | None) -> list[LineSample]:
    """``samples`` with the splits ``split_map`` gives them."""
    if split_map is None:
        return list(samples)
    if split_map.key == "group" and samples and all(s.group is None for s in samples):
        raise ValueError(f"{split_map.path}: splits by group, but this dataset's lines have no group")
    return [replace(s, split=split_map.split_of(s)) for s in samples]
