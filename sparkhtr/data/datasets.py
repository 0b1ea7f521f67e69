"""Dataset specs -> samples. A spec is ``KIND:PATH`` or a plain folder path.

Kinds: ``folder`` (default), ``iam``, ``rimes``, ``read2016``, ``page``, ``alto``. Readers are
imported only when used.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sparkhtr.data.sample import LineSample
from sparkhtr.data.splits import apply_split_map, split_map_for

__all__ = ["KINDS", "parse_spec", "open_dataset"]

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


def open_dataset(
    spec: str, split: str | None = None, report: list[str] | None = None, splits: str | Path | None = None
) -> list[LineSample]:
    """The samples of ``spec``, only those of ``split`` when given.

    ``splits`` is a split map or a folder of them (``sparkhtr.data.splits``): the splits it gives
    replace the dataset's own before ``split`` picks lines.
    """
    kind, path = parse_spec(spec)
    module, function = KINDS[kind]
    reader = getattr(importlib.import_module(module), function)
    samples = apply_split_map(reader(path, report=report), split_map_for(path, splits))
    return [s for s in samples if split is None or s.split == split]
