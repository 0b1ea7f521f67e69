"""ALTO XML (Library of Congress; any version, v2 to v4, or no namespace): text lines as libraries and OCR tools
(Tesseract, ABBYY, eScriptorium, Kraken) export them, so users can train on their own transcribed pages.

For each ``TextLine`` in document order:

* box: the bounding box of ``Shape/Polygon/@POINTS`` (``"x,y x,y"`` or ``"x y x y"``) when present, else
  ``HPOS/VPOS/WIDTH/HEIGHT``; clamped to the page. Coordinates are pixels unless ``Description/MeasurementUnit``
  says ``mm10`` or ``inch1200``: then they are scaled by (image size / ``Page`` ``WIDTH``, ``HEIGHT``) when loaded;
* text: the ``String/@CONTENT`` values joined with single spaces (``SP`` elements or not), a ``HYP``'s content
  glued to the word before it; a line without ``String`` elements uses its own ``CONTENT`` attribute or text.
  ``drop_chars`` removes characters before ``normalize_text``; lines left empty are skipped;
* image: ``Description/sourceImageInformation/fileName``, resolved like PAGE's ``imageFilename`` (relative to the
  XML or its parent folder, ``image_dir``, or by name under the root; absolute paths and ``file://`` URLs work;
  without a file name, the image with the XML's stem).

Ids are ``<xml stem>_<TextLine ID>`` (``<xml stem>_l<n>`` without an ID). ``path`` is one file or a folder searched
recursively for ``*.xml``; non-ALTO XML files are reported as ``not-format``, malformed ones are skipped with a
``ReaderWarning``. Every line gets ``split``. Skips follow ``sparkhtr.data.readers.skips`` (``report=[]``);
``check_images`` as in the PAGE reader.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from sparkhtr.data.readers.files import ImageResolver, check_split, parse_xml, xml_files
from sparkhtr.data.readers.samples import PageLines
from sparkhtr.data.readers.skips import Skips
from sparkhtr.data.sample import LineSample
from sparkhtr.io.alto import alto_line_text
from sparkhtr.io.xml import child, descendants, local_name
from sparkhtr.layout.geometry import Box, Outline, parse_points, polygon_box
from sparkhtr.text.charset import clean_text

__all__ = ["read_alto", "alto_line_box", "alto_line_outline"]

_PIXEL_UNITS = ("", "pixel", "pixels", "px")


def _float(element: ET.Element, name: str) -> float | None:
    """A finite number, or None when the attribute is missing, not a number, infinite or NaN."""
    try:
        value = float(element.attrib[name])
    except (KeyError, ValueError):
        return None
    return value if math.isfinite(value) else None


def alto_line_outline(line: ET.Element) -> Outline | None:
    """The line's ``Shape/Polygon`` with its box, else its HPOS/VPOS/WIDTH/HEIGHT rectangle as a
    four-corner outline (so that every line of a file is cut the same way: ``PageCrop``)."""
    shape = child(line, "Shape")
    polygon = child(shape, "Polygon") if shape is not None else None
    if polygon is not None and polygon.attrib.get("POINTS"):
        points = parse_points(polygon.attrib["POINTS"])  # ValueError on a bad point: bad-box
        box = polygon_box(points)
        if box is not None:
            return Outline(box, tuple(points))
    hpos, vpos, width, height = (_float(line, k) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
    if hpos is None or vpos is None or width is None or height is None or width <= 0 or height <= 0:
        return None
    right, bottom = hpos + width, vpos + height
    if not (math.isfinite(right) and math.isfinite(bottom)):
        return None
    return Outline((hpos, vpos, right, bottom), ((hpos, vpos), (right, vpos), (right, bottom), (hpos, bottom)))


def alto_line_box(line: ET.Element) -> Box | None:
    """Polygon bounding box if the line has ``Shape/Polygon``, else its HPOS/VPOS/WIDTH/HEIGHT rectangle."""
    outline = alto_line_outline(line)
    return outline.box if outline is not None else None


def _box_or_why(line: ET.Element, unit: str, ref_size: tuple[float, float] | None) -> Outline | str:
    """The line's outline, or the ``bad-box`` detail: it has none, or its unit cannot be scaled onto the image."""
    outline = alto_line_outline(line)
    if outline is None:
        return "no Shape/Polygon and no HPOS/VPOS/WIDTH/HEIGHT"
    if unit not in _PIXEL_UNITS and ref_size is None:
        return f"unit {unit!r} and no Page WIDTH/HEIGHT to scale by"
    return outline


def _description(root: ET.Element) -> tuple[str | None, str]:
    """(source image file name, measurement unit lower-cased)."""
    description = child(root, "Description")
    if description is None:
        return None, ""
    unit_node = child(description, "MeasurementUnit")
    unit = (unit_node.text or "").strip().lower() if unit_node is not None else ""
    filename = None
    info = child(description, "sourceImageInformation")
    if info is not None:
        node = child(info, "fileName")
        if node is not None and node.text and node.text.strip():
            filename = node.text.strip()
    return filename, unit


def read_alto(
    path: str | Path,
    *,
    split: str = "train",
    drop_chars: str | Iterable[str] = "",
    image_dir: str | Path | None = None,
    check_images: bool = True,
    report: list[str] | None = None,
) -> list[LineSample]:
    """Text lines of one ALTO file or of every ALTO file under a folder, all in ``split``."""
    check_split(split, "ALTO")
    path = Path(path)
    files = xml_files(path, "ALTO")
    resolver = ImageResolver([path if path.is_dir() else path.parent], Path(image_dir) if image_dir else None)
    skips = Skips(report)
    lines = PageLines(skips, check_images)
    drop = "".join(drop_chars)
    for xml_path in files:
        root = parse_xml(xml_path, skips)
        if root is None:
            continue
        if local_name(root).lower() != "alto":
            skips.add("not-format", xml_path.name, xml_path, f"root element is <{local_name(root)}>, not <alto>")
            continue
        filename, unit = _description(root)
        image = resolver.resolve(filename, xml_path)
        for page in descendants(root, "Page"):
            ref_size = None
            if unit not in _PIXEL_UNITS:
                width, height = _float(page, "WIDTH"), _float(page, "HEIGHT")
                if width and height:
                    ref_size = (width, height)
            for number, line in enumerate(descendants(page, "TextLine")):
                line_id = f"{xml_path.stem}_{line.attrib.get('ID') or f'l{number}'}"
                text = clean_text(alto_line_text(line), drop)
                box = partial(_box_or_why, line, unit, ref_size)
                lines.add(line_id, text, box, image, xml_path, split, ref_size=ref_size)
    return lines.samples
