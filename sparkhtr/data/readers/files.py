"""What a dataset reader is pointed at: its split argument, the XML files under a path, their
roots, and the page images they name, wherever the corpus was unpacked."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlparse

from sparkhtr.data.readers.skips import Skips
from sparkhtr.io.image import IMAGE_SUFFIXES
from sparkhtr.io.xml import read_xml

__all__ = ["SPLITS", "check_split", "xml_files", "parse_xml", "ImageResolver"]

# The splits a reader can put a line in; readers that take one ``split`` for all their lines check it is one of these.
SPLITS = ("train", "val", "test")


def check_split(split: str, reader: str) -> None:
    """ValueError, prefixed with the ``reader``'s name, unless ``split`` is one of ``SPLITS``."""
    if split not in SPLITS:
        raise ValueError(f"{reader}: split must be one of {SPLITS}, got {split!r}")


def xml_files(path: Path, reader: str) -> list[Path]:
    """The XML files to read: ``path`` itself, or every ``*.xml`` below the folder, sorted; raises if there are none."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() == ".xml" and p.is_file())
    if not files:
        raise FileNotFoundError(f"{reader}: no .xml files under {path}")
    return files


def parse_xml(path: Path, skips: Skips) -> ET.Element | None:
    """The root element, or None after a warning and a ``bad-xml`` report line."""
    try:
        return read_xml(path)
    except (ET.ParseError, OSError) as exc:
        skips.bad_xml(path, exc)
    return None


class ImageResolver:
    """Finds the image an XML file names, wherever the corpus was unpacked.

    Tried in order: the name as given (absolute, or relative to the XML's folder, its parent folder -- PAGE's usual
    ``page/`` layout -- and ``image_dir``), then the bare file name in those folders; then, ignoring case, the image
    files in those folders and in the trees under ``search_roots`` and ``image_dir`` (indexed once, on first need;
    a name must be unique there, or have one match under the folder above the XML). A missing name means "the image
    with the XML's stem".
    """

    def __init__(self, search_roots: Iterable[Path] = (), image_dir: Path | None = None) -> None:
        self.search_roots = list(dict.fromkeys(search_roots))
        self.image_dir = image_dir
        self._indexes: dict[tuple[Path, bool], dict[str, list[Path]]] = {}

    def resolve(self, name: str | None, xml_path: Path) -> Path:
        """The first existing candidate; if none exists, the most likely path (for error messages)."""
        candidates = self._candidates(name, xml_path)
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        basename = Path(self._clean(name)).name if name and name.strip() else None
        found = self._from_index(basename, xml_path)
        return found if found is not None else candidates[0]

    @staticmethod
    def _clean(name: str) -> str:
        name = name.strip()
        if name.lower().startswith("file:"):
            name = unquote(urlparse(name).path)
        return name.replace("\\", "/")

    def _dirs(self, xml_path: Path) -> list[Path]:
        dirs = [xml_path.parent, xml_path.parent.parent]
        if self.image_dir is not None:
            dirs.append(self.image_dir)
        return dirs

    def _candidates(self, name: str | None, xml_path: Path) -> list[Path]:
        dirs = self._dirs(xml_path)
        out: list[Path] = []
        if name and name.strip():
            relative = Path(self._clean(name))
            if relative.is_absolute():
                out.append(relative)
            else:
                out.extend(d / relative for d in dirs)
            out.extend(d / relative.name for d in dirs)
        else:
            stem = xml_path.stem
            out.extend(d / (stem + s) for d in dirs for s in IMAGE_SUFFIXES + tuple(x.upper() for x in IMAGE_SUFFIXES))
        seen: set[Path] = set()
        return [p for p in out if not (p in seen or seen.add(p))]

    def _index_of(self, root: Path, recursive: bool) -> dict[str, list[Path]]:
        key = (root, recursive)
        if key not in self._indexes:
            index: dict[str, list[Path]] = {}
            walk = os.walk(root) if recursive else [(str(root), [], _list_files(root))]
            for folder, _, files in walk:
                for f in files:
                    if f.lower().endswith(IMAGE_SUFFIXES):
                        index.setdefault(f.lower(), []).append(Path(folder) / f)
            self._indexes[key] = index
        return self._indexes[key]

    def _from_index(self, basename: str | None, xml_path: Path) -> Path | None:
        # Nearest first: the candidate folders themselves, then the trees under the search root and image_dir.
        roots = [(d, False) for d in self._dirs(xml_path)]
        trees = self.search_roots + ([self.image_dir] if self.image_dir is not None else [])
        roots += [(r, True) for r in trees]
        for root, recursive in roots:
            index = self._index_of(root, recursive)
            if basename is None:
                matches = [p for s in IMAGE_SUFFIXES for p in index.get(xml_path.stem.lower() + s, [])]
            else:
                matches = index.get(basename.lower(), [])
            if len(matches) == 1:
                return matches[0]
            near = [p for p in matches if xml_path.parent.parent in p.parents]
            if len(near) == 1:
                return near[0]
        return None


def _list_files(folder: Path) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(folder) if entry.is_file()]
    except OSError:
        return []
