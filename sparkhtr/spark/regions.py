"""The regions and positions columns that flow between the whole-page stages, and their conversions.

Why a module of its own: the regions column is the contract between ``ImageTextDetector``, the
recognizer and ``ImageDrawRegions`` (and with other tools: Spark OCR's stages read and write the
same ``Coordinate`` fields). A region is Spark OCR's ``Coordinate`` (index, page, x, y, width,
height, as floats, x and y the top-left corner in the image's pixels) plus the detector's score,
the index of its block (column, marginal note) in reading order, and the line's polygon and
baseline, so that a line is cut out of its page exactly as ``find_page_lines``' ``PageLine`` is.
Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from pyspark.sql.types import (
    ArrayType,
    DataType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

from sparkhtr.inference.results import ParagraphResult
from sparkhtr.inference.xml_export import word_boxes
from sparkhtr.layout import LineBox, PageLine, line_from_polygon

__all__ = [
    "OcrOutputFormat",
    "POINT_SCHEMA",
    "REGION_SCHEMA",
    "WORD_SCHEMA",
    "LINE_POSITION_SCHEMA",
    "line_to_region",
    "region_to_line",
    "is_regions_type",
    "page_positions",
    "mean_confidence",
    "split_lines",
]

POINT_SCHEMA = StructType([StructField("x", IntegerType(), False), StructField("y", IntegerType(), False)])

REGION_SCHEMA = StructType(
    [
        StructField("index", IntegerType(), False),
        StructField("page", IntegerType(), False),
        StructField("x", FloatType(), False),
        StructField("y", FloatType(), False),
        StructField("width", FloatType(), False),
        StructField("height", FloatType(), False),
        StructField("score", FloatType(), False),
        StructField("block", IntegerType(), False),
        StructField("polygon", ArrayType(POINT_SCHEMA, False), False),
        StructField("baseline", ArrayType(POINT_SCHEMA, False), False),
    ]
)

_BOX_FIELDS = [StructField(name, FloatType(), False) for name in ("x", "y", "width", "height")]

WORD_SCHEMA = StructType(
    [StructField("text", StringType(), False), StructField("confidence", FloatType(), True), *_BOX_FIELDS]
)

LINE_POSITION_SCHEMA = StructType(
    [
        StructField("index", IntegerType(), False),
        StructField("text", StringType(), True),
        StructField("confidence", FloatType(), True),
        *_BOX_FIELDS,
        StructField("words", ArrayType(WORD_SCHEMA, False), False),
    ]
)


class OcrOutputFormat(StrEnum):
    """What the recognizer's ``outputCol`` holds, as Spark OCR's enum of that name."""

    TEXT = "TEXT"  # the lines' texts joined by newlines
    TEXT_WITH_POSITIONS = "TEXT_WITH_POSITIONS"  # the same, and every line's and word's box in positionsCol
    HOCR = "HOCR"  # an hOCR 1.2 (XHTML) document of the page (sparkhtr.inference.hocr_export)


def line_to_region(line: PageLine, index: int, page: int, score: float = 1.0) -> dict[str, Any]:
    """A ``PageLine`` -> a region row (what ``REGION_SCHEMA`` holds)."""
    return {
        "index": index,
        "page": page,
        "x": float(line.x0),
        "y": float(line.y0),
        "width": float(line.x1 - line.x0),
        "height": float(line.y1 - line.y0),
        "score": float(score),
        "block": int(line.region),
        "polygon": [{"x": int(x), "y": int(y)} for x, y in line.polygon],
        "baseline": [{"x": int(x), "y": int(y)} for x, y in line.baseline],
    }


def _points(value: Any) -> list[tuple[float, float]]:
    """Points as Arrow hands them to pandas (dicts, Rows or pairs; an array or None) -> (x, y) pairs."""
    if value is None:
        return []
    points = []
    for point in value:
        if point is None:
            continue
        x, y = (point["x"], point["y"]) if isinstance(point, Mapping) or hasattr(point, "asDict") else point
        if x is not None and y is not None and math.isfinite(x) and math.isfinite(y):
            points.append((float(x), float(y)))
    return points


def region_to_line(region: Mapping[str, Any], size: tuple[int, int]) -> LineBox | None:
    """A region -> the line to cut out of a page of ``size`` (width, height): a ``PageLine`` from its
    polygon when it has one (the crop is then exactly ``find_page_lines``'), else its box, which is
    what another detector's ``Coordinate`` gives. None when nothing of it lies inside the page."""
    polygon = _points(region.get("polygon"))
    if len(polygon) >= 3:
        block = region.get("block")
        line = line_from_polygon(polygon, _points(region.get("baseline")), int(block) if block is not None else 0)
        if line.x1 > 0 and line.y1 > 0 and line.x0 < size[0] and line.y0 < size[1]:
            return line
        return None
    values = [region.get(key) for key in ("x", "y", "width", "height")]
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    x, y, width, height = (float(v) for v in values)
    left, top = max(0, math.floor(x)), max(0, math.floor(y))
    right, bottom = min(size[0], math.ceil(x + width)), min(size[1], math.ceil(y + height))
    return LineBox(left, top, right, bottom) if right > left and bottom > top else None


def is_regions_type(data_type: DataType) -> bool:
    """An array of structs with at least a box's fields (ours, or Spark OCR's ``Coordinate``)."""
    if not isinstance(data_type, ArrayType) or not isinstance(data_type.elementType, StructType):
        return False
    return {"x", "y", "width", "height"} <= set(data_type.elementType.fieldNames())


def _box(box: LineBox) -> dict[str, float]:
    return {"x": float(box.x0), "y": float(box.y0), "width": float(box.x1 - box.x0), "height": float(box.y1 - box.y0)}


def page_positions(result: ParagraphResult) -> list[dict[str, Any]]:
    """A read page -> its positions column value: per line its text, confidence and box, and its
    words placed from the characters' x ranges (the same word boxes as hOCR's and ALTO's)."""
    out = []
    for index, line in enumerate(result.lines):
        words = [
            {"text": word.text, "confidence": _finite(word.confidence), **_box(word.box)}
            for word in word_boxes(line.box, line.result.chars)
        ]
        out.append(
            {"index": index, "text": line.result.text, "confidence": _finite(line.result.confidence),
             **_box(line.box), "words": words}
        )
    return out


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def mean_confidence(values: Iterable[float | None]) -> float | None:
    """The lines' mean confidence, as paragraph mode reports it; None when no line has one."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def split_lines(text: str | None, count: int) -> Sequence[str]:
    """A page's text (lines joined by newlines) -> one string per region, padded with ""."""
    parts = (text or "").split("\n") if text else []
    return parts[:count] + [""] * max(0, count - len(parts))
