"""PAGE XML (PRImA; any schema version, e.g. 2010, 2013, 2017, 2019): text lines of Transkribus, eScriptorium,
OCR-D and most HTR ground truth, so users can train on their own transcribed pages.

For each ``TextLine`` (anywhere under the page: regions, nested regions, table cells), in document order:

* box: the axis-aligned bounding box of ``Coords/@points`` (``"x,y x,y ..."``; PAGE 2009's ``<Point x= y=>`` too),
  the largest point included, clamped to the page. The crop is a rectangle: pixels of neighbouring lines inside
  the box stay, as in SPAN's READ 2016 formatting;
* text: the line's own ``TextEquiv`` -- the one with ``index="0"`` or the lowest index, else the first -- its
  ``Unicode`` (or ``PlainText``); a line without its own ``TextEquiv`` joins its ``Word`` texts with spaces.
  ``drop_chars`` removes characters (e.g. ``"¬"``) before ``normalize_text``; lines left empty are skipped;
* image: ``Page/@imageFilename`` resolved relative to the XML, its parent folder (the usual ``page/`` layout),
  ``image_dir``, or by name under the root (``file://`` URLs and Windows paths are accepted).

Ids are ``<xml stem>_<TextLine id>`` (``<xml stem>_l<n>`` without an id). ``path`` is one XML file or a folder
searched recursively for ``*.xml``; XML files whose root is not ``PcGts`` (METS, ``doc.xml``...) are reported as
``not-format`` and skipped, malformed ones are skipped with a ``ReaderWarning``. Every line gets ``split``.

Skips follow ``sparkhtr.data.readers.skips``: ``report=[]`` collects one line per skipped item. With
``check_images=True`` (default) each page header is read once now and lines on missing/unreadable pages or with
boxes off the page are skipped; with False ``load()`` raises ``ImageError`` naming the line id and the file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from sparkhtr.data.readers.files import ImageResolver, check_split, parse_xml, xml_files
from sparkhtr.data.readers.samples import PageLines
from sparkhtr.data.readers.skips import Skips
from sparkhtr.data.sample import LineSample
from sparkhtr.io.xml import child, children, descendants, local_name
from sparkhtr.layout.geometry import Box, Outline, finite, parse_points, polygon_box
from sparkhtr.text.charset import clean_text

__all__ = ["read_pagexml", "read_page_files", "line_text", "coords_box", "coords_outline"]


def coords_outline(element: ET.Element) -> Outline | None:
    """Outline and bounding box of an element's ``Coords`` (points attribute, or PAGE 2009 ``Point`` children).

    Raises ValueError for a coordinate that is not a finite number (the line is then reported as
    ``bad-box`` and skipped; the file and the dataset go on)."""
    coords = child(element, "Coords")
    if coords is None:
        return None
    points_attr = coords.attrib.get("points")
    if points_attr is not None:
        points = parse_points(points_attr)
    else:
        points = []
        for point in children(coords, "Point"):
            if "x" not in point.attrib or "y" not in point.attrib:
                raise ValueError("a <Point> without x or y")
            points.append((finite(point.attrib["x"]), finite(point.attrib["y"])))
    box = polygon_box(points)
    return Outline(box, tuple(points)) if box is not None else None


def coords_box(element: ET.Element) -> Box | None:
    """Bounding box of an element's ``Coords`` (``coords_outline``'s box); ValueError as there."""
    outline = coords_outline(element)
    return outline.box if outline is not None else None


def _box_or_why(line: ET.Element) -> Outline | str:
    """The line's ``Coords`` outline, or the ``bad-box`` detail when it has none."""
    outline = coords_outline(line)
    return outline if outline is not None else "no Coords points"


def _equiv_text(equiv: ET.Element) -> str | None:
    for name in ("Unicode", "PlainText"):
        node = child(equiv, name)
        if node is not None:
            return node.text or ""
    return None


def _own_text(element: ET.Element) -> str | None:
    """Text of the element's own preferred ``TextEquiv``; None when it has none."""
    equivs = children(element, "TextEquiv")
    if not equivs:
        return None

    def rank(item: tuple[int, ET.Element]) -> tuple[int, int]:
        position, equiv = item
        try:
            index = int(equiv.attrib.get("index", "0"))
        except ValueError:
            index = 0
        return (index if index >= 0 else 1 << 30, position)

    _, best = min(enumerate(equivs), key=rank)
    return _equiv_text(best)


def line_text(line: ET.Element) -> str:
    """Raw (un-normalised) text of a ``TextLine``: its own ``TextEquiv``, else its words joined with spaces."""
    own = _own_text(line)
    if own is not None:
        return own
    words = [_own_text(word) for word in children(line, "Word")]
    return " ".join(w for w in words if w)


def read_page_files(
    files: Iterable[tuple[Path, str]],
    *,
    drop_chars: str | Iterable[str] = "",
    resolver: ImageResolver,
    check_images: bool,
    skips: Skips,
) -> list[LineSample]:
    """Lines of the given ``(xml file, split)`` pairs; the engine shared by the PAGE and READ 2016 readers."""
    drop = "".join(drop_chars)
    lines = PageLines(skips, check_images)
    for xml_path, split in files:
        root = parse_xml(xml_path, skips)
        if root is None:
            continue
        if local_name(root) != "PcGts":
            skips.add("not-format", xml_path.name, xml_path, f"root element is <{local_name(root)}>, not <PcGts>")
            continue
        for page in children(root, "Page"):
            image = resolver.resolve(page.attrib.get("imageFilename"), xml_path)
            for number, line in enumerate(descendants(page, "TextLine")):
                line_id = f"{xml_path.stem}_{line.attrib.get('id') or f'l{number}'}"
                text = clean_text(line_text(line), drop)
                lines.add(line_id, text, partial(_box_or_why, line), image, xml_path, split)
    return lines.samples


def read_pagexml(
    path: str | Path,
    *,
    split: str = "train",
    drop_chars: str | Iterable[str] = "",
    image_dir: str | Path | None = None,
    check_images: bool = True,
    report: list[str] | None = None,
) -> list[LineSample]:
    """Text lines of one PAGE XML file or of every PAGE XML file under a folder, all in ``split``."""
    check_split(split, "PAGE")
    path = Path(path)
    files = xml_files(path, "PAGE")
    root = path if path.is_dir() else path.parent
    resolver = ImageResolver([root], Path(image_dir) if image_dir is not None else None)
    return read_page_files(
        [(f, split) for f in files],
        drop_chars=drop_chars,
        resolver=resolver,
        check_images=check_images,
        skips=Skips(report),
    )
