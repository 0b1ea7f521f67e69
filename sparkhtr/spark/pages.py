"""What a Python worker does for the recognizer's page outputs: one row per page, in any format.

Three layouts give a page's lines: ``regions`` (each region of the row's regions column is cut out
of its page, as ``PageLine.crop`` cuts it, and all of a page's lines are read in one call, as
``Recognizer.recognize_paragraph`` reads them), ``paragraph`` (``recognize_paragraph`` finds and
reads them) and ``line`` (the whole image is one line). Each page then becomes a
``ParagraphResult``, which gives the text (lines joined by newlines, in the regions' order), the
positions column and hOCR alike. A row whose image or regions are missing gets a null text and
the upstream message; a line that fails keeps the page's other lines, and its message goes to the
row's error column beside the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sparkhtr.inference.hocr_export import hocr
from sparkhtr.inference.recognizer import Recognizer
from sparkhtr.inference.results import ParagraphLine, ParagraphResult, RecognitionResult
from sparkhtr.io.image import ImageError
from sparkhtr.layout import LineBox
from sparkhtr.spark.image_struct import struct_to_image
from sparkhtr.spark.regions import mean_confidence, page_positions, region_to_line
from sparkhtr.spark.worker import image_records, named_error

__all__ = ["PageOutput", "LAYOUTS", "read_pages_frame", "recognize_lines"]

LAYOUTS = ("regions", "paragraph", "line")


@dataclass(frozen=True)
class PageOutput:
    """What each row's result holds besides text, confidence and error."""

    positions: bool = False  # a positions column (every line's and word's box)
    hocr: bool = False  # the text column holds the page's hOCR document instead of its plain text


def recognize_lines(recognizer: Recognizer, crops: list[Any], batch_size: int) -> list[RecognitionResult]:
    """Read ``crops``; if the batch fails, line by line, so only the guilty line gets an error."""
    if not crops:
        return []
    try:
        return recognizer.recognize(crops, batch_size=batch_size, on_error="return")
    except Exception:  # fall back to one line at a time to isolate the failure
        pass
    out = []
    for crop in crops:
        try:
            out.append(recognizer.recognize(crop, batch_size=1, on_error="return"))
        except Exception as exc:  # one bad line must not fail the page
            out.append(RecognitionResult(None, None, error=f"recognition failed: {type(exc).__name__}: {exc}"))
    return out


def _as_list(value: Any) -> list[Any] | None:
    """A regions value as Arrow hands it to pandas (an array, a list or None) -> a list or None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return list(value)


def _read_regions(
    recognizer: Recognizer, picture: Any, regions: list[Any], batch_size: int
) -> tuple[ParagraphResult, list[str]]:
    """The page's regions read in order; the messages of those that could not be read."""
    lines = [region_to_line(r if isinstance(r, dict) else r.asDict(), picture.size) for r in regions]
    read = iter(recognize_lines(recognizer, [line.crop(picture) for line in lines if line is not None], batch_size))
    out: list[ParagraphLine] = []
    problems: list[str] = []
    for k, line in enumerate(lines):
        if line is None:
            # Kept as an empty line so that the text still has one line per region, in order.
            out.append(ParagraphLine(LineBox(0, 0, 1, 1), RecognitionResult("", None)))
            problems.append(f"region {k}: outside the image or empty")
            continue
        result = next(read)
        out.append(ParagraphLine.read_from(line, result, picture.size))
        if result.error:
            problems.append(f"region {k}: {result.error}")
    return ParagraphResult(None, out), problems


def _row(result: ParagraphResult, picture: Any, origin: str, output: PageOutput) -> tuple[str, float | None, Any]:
    text = hocr(result, origin, picture.width, picture.height) if output.hocr else result.text
    confidence = mean_confidence(line.result.confidence for line in result.lines)
    return text, confidence, page_positions(result) if output.positions else None


def read_pages_frame(
    recognizer: Recognizer,
    images: pd.DataFrame,
    regions: pd.Series | None,
    upstream_errors: pd.Series | None,
    batch_size: int,
    layout: str,
    output: PageOutput,
) -> pd.DataFrame:
    """One Arrow batch -> columns text, confidence, error and (when asked) positions; same rows, same order."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    records = image_records(images)
    count = len(records)
    texts: list[str | None] = [None] * count
    confidences: list[float | None] = [None] * count
    errors: list[str | None] = [None] * count
    positions: list[Any] = [None] * count
    upstream: Sequence[Any] = list(upstream_errors) if upstream_errors is not None else [None] * count
    pictures: dict[int, Any] = {}
    for i, record in enumerate(records):
        try:
            pictures[i] = struct_to_image(record, recognizer.limits, prefer_gray=True)
        except ImageError as exc:
            errors[i] = upstream[i] if isinstance(upstream[i], str) and upstream[i] else str(exc)
    one_line: dict[int, RecognitionResult] = {}
    if layout == "line":  # many one-line images: read them together, lines of similar width share a batch
        rows = sorted(pictures)
        one_line = dict(zip(rows, recognize_lines(recognizer, [pictures[i] for i in rows], batch_size), strict=True))
    for i in sorted(pictures):
        record, picture = records[i], pictures[i]
        origin = str((record or {}).get("origin") or "<image without origin>")
        try:
            if layout == "regions":
                page_regions = _as_list(regions.iloc[i]) if regions is not None else None
                if page_regions is None:
                    up = upstream[i] if isinstance(upstream[i], str) and upstream[i] else None
                    errors[i] = up or named_error("no regions (null): run a text detector first", record)
                    continue
                result, problems = _read_regions(recognizer, picture, page_regions, batch_size)
            elif layout == "paragraph":
                result = recognizer.recognize_paragraph(picture)
                problems = [f"line {k}: {ln.result.error}" for k, ln in enumerate(result.lines) if ln.result.error]
            else:
                line = one_line[i]
                if line.text is None:  # a one-line image that failed: no text, as in line mode
                    errors[i] = named_error(line.error or "recognition failed", record)
                    continue
                result = ParagraphResult(None, [ParagraphLine(LineBox(0, 0, *picture.size), line)])
                problems = [line.error] if line.error else []
            texts[i], confidences[i], positions[i] = _row(result, picture, origin, output)
            errors[i] = named_error("; ".join(problems), record) if problems else None
        except Exception as exc:  # one bad page must not fail the job
            errors[i] = named_error(f"recognition failed: {type(exc).__name__}: {exc}", record)
    columns: dict[str, list[Any]] = {"text": texts, "confidence": confidences, "error": errors}
    if output.positions:
        columns["positions"] = positions
    return pd.DataFrame(columns)
