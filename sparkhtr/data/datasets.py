"""Dataset specs -> samples. A spec is ``KIND:PATH`` or a plain folder path.

Kinds: ``folder`` (default), ``iam``, ``rimes``, ``read2016``, ``page``, ``alto``. Readers are
imported only when used.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sparkhtr.data.sample import LineSample
from sparkhtr.data.splits import apply_split_map, split_map_for

__all__ = ["KINDS", "parse_spec", "read_dataset", "open_dataset"]

KINDS = {
    "folder": ("sparkhtr.data.folder", "read_folder"),
    "iam": ("sparkhtr.data.readers.iam", "read_iam"),
    "rimes": ("sparkhtr.data.readers.rimes", "read_rimes"),
    "read2016": ("sparkhtr.data.readers.read2016", "read_read2016"),
    "page": ("sparkhtr.data.readers.pagexml", "read_pagexml"),
    "alto": ("sparkhtr.data.readers.alto", "read_alto"),
}


def parse_spec(spec: str) -> tuple[str, str]:
    kind, sep, path = spec.partition(":")
    if sep and kind in KINDS:
        return kind, path
    return "folder", spec


def read_dataset(kind: str, path: str | Path, **options: object) -> list[LineSample]:
    """The reader of ``kind`` (a key of ``KINDS``) on ``path``, with its own ``options``
    (``split``, ``drop_chars``, ``check_images``, ``report``...); a clear error for an unknown kind."""
    try:
        module, function = KINDS[kind.lower()]
    except KeyError:
        raise ValueError(f"unknown dataset kind {kind!r}; known: {', '.join(KINDS)}") from None
    return getattr(importlib.import_module(module), function)(path, **options)


def open_dataset(
    spec: str, split: str | None = None, report: list[str] | None = None, splits: str | Path | None = None
) -> list[LineSample]:
    """The samples of ``spec``, only those of ``split`` when given.

    ``splits`` is a split map or a folder of them (``sparkhtr.data.splits``): the splits it gives
    replace the dataset's own before ``split`` picks lines.
    """
    kind, path = parse_spec(spec)
    samples = apply_split_map(read_dataset(kind, path, report=report), split_map_for(path, splits))
    return [s for s in samples if split is None or s.split == split]
