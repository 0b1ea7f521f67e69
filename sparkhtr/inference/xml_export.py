"""A read paragraph as PAGE XML (2019) or ALTO (v4): the formats Transkribus, eScriptorium, OCR-D
and kraken exchange, so sparkhtr's output can go on to their editors and pipelines.

Both hold one text block with a line per ``ParagraphLine`` (its box, text and confidence); ALTO
also gets a ``String`` per word, placed from the characters' x positions. sparkhtr's own PAGE
and ALTO readers (``page:`` and ``alto:`` datasets) read the files back, so a corrected file
becomes training data.
"""

from __future__ import annotations

import datetime
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from functools import partial
from pathlib import PurePosixPath
from typing import NamedTuple

from sparkhtr.inference.recognizer import CharResult, ParagraphResult
from sparkhtr.layout import LineBox
from sparkhtr.layout.lines import MARGIN

__all__ = ["page_xml", "alto_xml", "xml_safe", "output_stems", "word_boxes", "baseline", "Word", "REPLACEMENT"]

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"


# Characters XML 1.0 cannot hold, escaped or not: C0 controls other than tab, newline and carriage
# return, lone surrogates (file names that are not UTF-8 arrive as such), U+FFFE and U+FFFF. Written
# as they are, no parser (sparkhtr's readers included) accepts the file.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
REPLACEMENT = "\ufffd"


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold replaced by U+FFFD (visible, unlike a drop)."""
    return _NOT_XML.sub(REPLACEMENT, text)


def output_stems(names: Sequence[str]) -> list[str]:
    """One output path stem per input, unique even ignoring case (for case-blind file systems).

    ``names`` are the inputs' relative paths ("a.png", "sub/a.png"): the stem keeps the folders, so
    ``sub/a.png`` gives "sub/a" and never overwrites ``a.png``'s "a". Inputs whose stems still
    clash (``a.png`` and ``a.jpg``) keep their whole name ("a.png", "a.jpg"); any clash left (the same
    name given twice) gets "~2", "~3"... in input order."""
    stems = [str(PurePosixPath(name).with_suffix("")) if PurePosixPath(name).suffix else name for name in names]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem.lower()] = counts.get(stem.lower(), 0) + 1
    wanted = [name if counts[stem.lower()] > 1 else stem for name, stem in zip(names, stems)]
    taken: set[str] = set()
    out = []
    for stem in wanted:
        candidate, n = stem, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{stem}~{n}"
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def _confidence(value: float | None) -> str:
    """A confidence as both schemas want it: a number in 0-1 (a NaN would make the file invalid)."""
    if value is None or not math.isfinite(value):
        return "0.0000"
    return f"{min(1.0, max(0.0, value)):.4f}"


def _qualified(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


def _points(box: LineBox) -> str:
    """PAGE polygon points are pixels, the last row and column included (LineBox's x1, y1 are not)."""
    if getattr(box, "polygon", ()):  # a PageLine of find_page_lines: its outline, not its box
        return " ".join(f"{x},{y}" for x, y in box.polygon)
    right, bottom = box.x1 - 1, box.y1 - 1
    return f"{box.x0},{box.y0} {right},{box.y0} {right},{bottom} {box.x0},{bottom}"


def _union(boxes: list[LineBox]) -> LineBox:
    x0, y0 = min(b.x0 for b in boxes), min(b.y0 for b in boxes)
    return LineBox(x0, y0, max(b.x1 for b in boxes), max(b.y1 for b in boxes))


def _serialize(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def page_xml(result: ParagraphResult, image_name: str, width: int, height: int) -> str:
    """PAGE XML for ``result``, read from the image ``image_name`` of ``width`` x ``height`` pixels."""
    from sparkhtr import __version__

    ET.register_namespace("", PAGE_NS)
    q = partial(_qualified, PAGE_NS)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element(q("PcGts"))
    metadata = ET.SubElement(root, q("Metadata"))
    for tag, text in (("Creator", f"sparkhtr {__version__}"), ("Created", now), ("LastChange", now)):
        ET.SubElement(metadata, q(tag)).text = text
    page = ET.SubElement(
        root, q("Page"), imageFilename=xml_safe(image_name), imageWidth=str(width), imageHeight=str(height)
    )
    if not result.lines:
        return _serialize(root)
    region = ET.SubElement(page, q("TextRegion"), id="r1")
    ET.SubElement(region, q("Coords"), points=_points(_union([line.box for line in result.lines])))
    for number, line in enumerate(result.lines, 1):
        element = ET.SubElement(region, q("TextLine"), id=f"r1_l{number}")
        ET.SubElement(element, q("Coords"), points=_points(line.box))
        ET.SubElement(element, q("Baseline"), points=" ".join(f"{x},{y}" for x, y in baseline(line.box)))
        equiv = ET.SubElement(element, q("TextEquiv"), conf=_confidence(line.result.confidence))
        ET.SubElement(equiv, q("Unicode")).text = xml_safe(line.result.text or "")
    ET.SubElement(ET.SubElement(region, q("TextEquiv")), q("Unicode")).text = xml_safe(result.text)
    return _serialize(root)


def baseline(box: LineBox) -> tuple[tuple[int, int], ...]:
    """The line's baseline, left to right: the line finder's own when it gives one (a ``PageLine``
    of ``find_page_lines``), else a level line along the box's lower ink edge. ``find_lines`` keeps
    MARGIN pixels of paper around the ink, so that edge is MARGIN rows above the box's last row; it
    runs under the descenders, the best a box alone can tell (eScriptorium and kraken segment and
    train on baselines, so every line written gets one)."""
    found = tuple(getattr(box, "baseline", ()) or ())
    if len(found) >= 2:
        return found
    y = max(box.y0, box.y1 - 1 - MARGIN)
    return ((box.x0, y), (max(box.x0, box.x1 - 1), y))


class Word(NamedTuple):
    text: str
    box: LineBox  # in the page's pixels, inside its line's box; the line's full height
    confidence: float  # its least sure character's: a word is as sure as its weakest letter


def word_boxes(box: LineBox, chars: Sequence[CharResult]) -> list[Word]:
    """The words of a line read in ``box`` (split at spaces), placed from their characters' x ranges
    (relative to ``box.x0``; each range takes in half of its neighbouring gaps). Clamped inside the
    box and at least a pixel wide, so a word box never leaves its line, whatever the ranges say.
    ALTO's ``String`` and hOCR's ``ocrx_word`` are both written from these."""
    words: list[list[CharResult]] = [[]]
    for char in chars:
        if char.char == " ":
            words.append([])
        else:
            words[-1].append(char)
    out = []
    right = max(box.x0 + 1, box.x1)
    for word in (w for w in words if w):
        x0 = min(max(box.x0, box.x0 + math.floor(word[0].x0)), right - 1)
        x1 = min(max(x0 + 1, box.x0 + round(word[-1].x1)), right)
        # min() with a NaN answers by position, so an unknown confidence counts as 0 (as _confidence writes it)
        confidence = min(c.confidence if math.isfinite(c.confidence) else 0.0 for c in word)
        out.append(Word(xml_safe("".join(c.char for c in word)), LineBox(x0, box.y0, x1, box.y1), confidence))
    return out


def alto_xml(result: ParagraphResult, image_name: str, width: int, height: int) -> str:
    """ALTO v4 for ``result``: pixel units, one ``String`` per word with its box and confidence."""
    ET.register_namespace("", ALTO_NS)
    q = partial(_qualified, ALTO_NS)
    root = ET.Element(q("alto"))
    description = ET.SubElement(root, q("Description"))
    ET.SubElement(description, q("MeasurementUnit")).text = "pixel"
    ET.SubElement(ET.SubElement(description, q("sourceImageInformation")), q("fileName")).text = xml_safe(image_name)
    page = ET.SubElement(
        ET.SubElement(root, q("Layout")), q("Page"), ID="p1", PHYSICAL_IMG_NR="1", WIDTH=str(width), HEIGHT=str(height)
    )
    space = ET.SubElement(page, q("PrintSpace"))
    if not result.lines:
        return _serialize(root)
    block = ET.SubElement(space, q("TextBlock"), ID="b1", **_hpos(_union([line.box for line in result.lines])))
    for number, line in enumerate(result.lines, 1):
        element = ET.SubElement(block, q("TextLine"), ID=f"b1_l{number}", **_hpos(line.box))
        element.set("BASELINE", " ".join(f"{x} {y}" for x, y in baseline(line.box)))  # what eScriptorium reads
        if getattr(line.box, "polygon", ()):  # a PageLine: eScriptorium's and kraken's line shape
            ET.SubElement(ET.SubElement(element, q("Shape")), q("Polygon"), POINTS=_points(line.box).replace(",", " "))
        words = word_boxes(line.box, line.result.chars)
        for k, word in enumerate(words):
            if k:
                ET.SubElement(element, q("SP"))
            ET.SubElement(element, q("String"), CONTENT=word.text, WC=_confidence(word.confidence), **_hpos(word.box))
        if not words:  # ALTO 4 wants a String in every TextLine: an empty one for a line read as nothing
            ET.SubElement(element, q("String"), CONTENT="", **_hpos(line.box))
    return _serialize(root)


def _hpos(box: LineBox) -> dict[str, str]:
    return {"HPOS": str(box.x0), "VPOS": str(box.y0), "WIDTH": str(box.x1 - box.x0), "HEIGHT": str(box.y1 - box.y0)}
