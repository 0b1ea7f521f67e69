"""READ 2016 (ICFHR 2016 HTR competition, Early Modern German, Zenodo record 1164045), line level.

The corpus is PAGE XML, one file per page in ``page/`` next to the JPEG pages, in one folder per set::

    PublicData/Training/page/*.xml     PublicData/Validation/page/*.xml     Test-ICFHR-2016/page/*.xml

This is the PAGE reader (``sparkhtr.data.readers.pagexml``: bounding box of ``Coords``, first ``TextEquiv``,
empty lines skipped) plus what SPAN does for this corpus: the hyphenation mark ``¬`` is dropped from the text, and
the split comes from the folder names. The nearest folder above each XML (``page`` itself excepted) whose name has
a word starting with "train", "val"/"valid" or "test" decides it: ``Training`` -> train, ``Validation`` -> val,
``Test-ICFHR-2016`` -> test. ``path``'s own name counts only for files directly in it or in its ``page/`` (so
``path`` may be one set folder). XML files under no such folder are skipped (``no-split``).

Skips follow ``sparkhtr.data.readers.skips``: ``report=[]`` collects one line per skipped item; malformed XML
files are skipped with a ``ReaderWarning``; ``check_images`` as in the PAGE reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from sparkhtr.data.readers.files import ImageResolver, xml_files
from sparkhtr.data.readers.pagexml import read_page_files
from sparkhtr.data.readers.skips import Skips
from sparkhtr.data.sample import LineSample

__all__ = ["read_read2016", "split_from_folder", "READ2016_DROP"]

READ2016_DROP = "¬"
_WORD = re.compile(r"[a-z]+")


def _split_of_name(name: str) -> str | None:
    for word in _WORD.findall(name.lower()):
        if word.startswith("train"):
            return "train"
        if word in ("val", "valid", "validation", "dev") or word.startswith("valid"):
            return "val"
        if word.startswith("test"):
            return "test"
    return None


def split_from_folder(xml_path: Path, root: Path) -> str | None:
    """Split named by the nearest folder between ``xml_path`` and ``root``, or None.

    ``root``'s own name counts only when the file sits in ``root`` or ``root/page`` (``root`` is a set folder),
    so a dataset kept under, say, ``/data/test_runs/`` is not all taken for test.
    """
    folder = xml_path.parent
    while folder != root and folder != folder.parent:
        if folder.name.lower() != "page":
            split = _split_of_name(folder.name)
            if split is not None:
                return split
        folder = folder.parent
    if xml_path.parent in (root, root / "page"):
        return _split_of_name(root.name)
    return None


def read_read2016(
    path: str | Path,
    *,
    drop_chars: str | Iterable[str] = READ2016_DROP,
    image_dir: str | Path | None = None,
    check_images: bool = True,
    report: list[str] | None = None,
) -> list[LineSample]:
    """READ 2016 lines under ``path`` (the folder holding the set folders, or one set folder), split by folder."""
    path = Path(path)
    files = xml_files(path, "READ 2016")
    root = path if path.is_dir() else path.parent
    skips = Skips(report)
    labelled: list[tuple[Path, str]] = []
    for xml_path in files:
        split = split_from_folder(xml_path, root)
        if split is None:
            skips.add("no-split", xml_path.name, xml_path, "no train/validation/test folder above it")
            continue
        labelled.append((xml_path, split))
    resolver = ImageResolver([root], Path(image_dir) if image_dir is not None else None)
    return read_page_files(labelled, drop_chars=drop_chars, resolver=resolver, check_images=check_images, skips=skips)
