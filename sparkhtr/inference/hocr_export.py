"""A read paragraph as hOCR 1.2: the XHTML format of Tesseract, OCRopus and kraken, read by
hocr-tools, hocr-pdf and PDF text-layer tools, so a scan can get a searchable text layer.

One ``ocr_page`` holds an ``ocr_carea`` and ``ocr_par`` per region of lines (``find_lines`` gives
one; ``find_page_lines`` numbers its regions), an ``ocr_line`` per line with its box and baseline,
and an ``ocrx_word`` per word with its box and confidence. Word boxes come from the same
``word_boxes`` as ALTO's ``String`` elements, so both formats place every word alike.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from itertools import groupby

from sparkhtr.inference.recognizer import ParagraphLine, ParagraphResult
from sparkhtr.inference.xml_export import _union, baseline, word_boxes, xml_safe
from sparkhtr.layout import LineBox

__all__ = ["hocr", "XHTML_NS", "CAPABILITIES"]

XHTML_NS = "http://www.w3.org/1999/xhtml"
CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf"
DOCTYPE = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
    '    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
)


def _bbox(box: LineBox) -> str:
    # hOCR boxes are x0 y0 x1 y1 with the right and bottom edges exclusive, as Tesseract writes them
    # and as LineBox holds them.
    return f"bbox {box.x0} {box.y0} {box.x1} {box.y1}"


def _quoted(text: str) -> str:
    """An hOCR string property value: in double quotes, with backslash and quote escaped, so a
    file name holding ``"`` or ``;`` cannot end the property early."""
    return '"' + xml_safe(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _baseline_property(box: LineBox) -> str:
    """hOCR's ``baseline slope offset``: a straight line y = slope * x + offset, x from the line box's
    left edge and y from its bottom edge (negative: above it). A polyline baseline (find_page_lines)
    is fitted by least squares; a two-point one is exact."""
    points = baseline(box)
    xs = [x - box.x0 for x, _ in points]
    ys = [y - box.y1 for _, y in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread if spread else 0.0
    offset = mean_y - slope * mean_x
    return f"baseline {slope:.4f} {round(offset)}"


def _wconf(value: float) -> int:
    """x_wconf is a percentage 0-100 (Tesseract's integers); a NaN reads as 0, not a broken title."""
    return 0 if not math.isfinite(value) else round(100 * min(1.0, max(0.0, value)))


def _line(parent: ET.Element, line: ParagraphLine, number: int) -> None:
    title = f"{_bbox(line.box)}; {_baseline_property(line.box)}"
    element = ET.SubElement(parent, "span", {"class": "ocr_line", "id": f"line_1_{number}", "title": title})
    # Words are separated by the whitespace ET.indent puts between them, as in Tesseract's output.
    for k, word in enumerate(word_boxes(line.box, line.result.chars), 1):
        attributes = {"class": "ocrx_word", "id": f"word_1_{number}_{k}",
                      "title": f"{_bbox(word.box)}; x_wconf {_wconf(word.confidence)}"}
        ET.SubElement(element, "span", attributes).text = word.text


def hocr(result: ParagraphResult, image_name: str, width: int, height: int) -> str:
    """hOCR 1.2 (XHTML) for ``result``, read from the image ``image_name`` of ``width`` x ``height``
    pixels; every box in that image's pixels."""
    from sparkhtr import __version__

    root = ET.Element("html", {"xmlns": XHTML_NS, "xml:lang": "en", "lang": "en"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = xml_safe(image_name)
    ET.SubElement(head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": f"sparkhtr {__version__}"})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities", "content": CAPABILITIES})
    ET.SubElement(head, "meta", {"name": "ocr-number-of-pages", "content": "1"})
    body = ET.SubElement(root, "body")
    page_title = f"image {_quoted(image_name)}; {_bbox(LineBox(0, 0, width, height))}; ppageno 0"
    page = ET.SubElement(body, "div", {"class": "ocr_page", "id": "page_1", "title": page_title})
    number = 0
    # Consecutive lines of one region (find_page_lines' ``region``; find_lines' boxes have none)
    # make one block: reading order is kept, a region met again later starts a new block.
    for block, (_, group) in enumerate(groupby(result.lines, lambda line: getattr(line.box, "region", 0)), 1):
        lines = list(group)
        area_box = _bbox(_union([line.box for line in lines]))
        area = ET.SubElement(page, "div", {"class": "ocr_carea", "id": f"block_1_{block}", "title": area_box})
        paragraph = ET.SubElement(area, "p", {"class": "ocr_par", "id": f"par_1_{block}", "title": area_box})
        for line in lines:
            number += 1
            _line(paragraph, line, number)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + DOCTYPE + ET.tostring(root, encoding="unicode") + "\n"
