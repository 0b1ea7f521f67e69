"""Whole-page line finding on real pages of CREMMA-MSS-19 (ALTO ground truth beside each image)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sparkhtr.io.image import PAGE_LIMITS, load_image
from sparkhtr.layout import PageLine, find_page_lines
from sparkhtr.layout.components import components
from sparkhtr.layout.evaluate import match_lines, order_by_truth, overlaps, page_cer, read_alto_lines
from sparkhtr.layout.line_crop import cut_line, outline_box

PAGES = Path(os.environ["SPARKHTR_SHARED"]) / "data" / "pages_cremma_mss19_fr" / "pages"

# (page, lines found within this share of the truth's count, F1 at IoU 0.5 at least): the floors
# sit a little under what find_page_lines measured on each page (benchmarks/pages.py --per-page).
CASES = [
    ("lettre-soeur-marie__01R_P1S3SS2P118_002.jpg", 0.1, 0.9),  # one column; measured 14 of 14, F1 1.0
    ("manuscrits-rviven__f28.jpeg", 0.3, 0.72),  # two columns on a card in a large scan; 40 of 33, F1 0.80
]


@pytest.fixture(scope="module")
def found() -> dict[str, tuple[Image.Image, list[PageLine], list]]:
    if not PAGES.is_dir():
        pytest.fail(f"{PAGES} is missing: the tests read real pages from ../shared/data")
    out = {}
    for name, _, _ in CASES:
        image = load_image(PAGES / name, PAGE_LIMITS)
        out[name] = (image, find_page_lines(image), read_alto_lines(PAGES / f"{Path(name).stem}.xml"))
    return out


@pytest.mark.parametrize("name, tolerance, floor", CASES)
def test_lines_match_the_ground_truth(found, name, tolerance, floor):
    _, lines, truth = found[name]
    assert abs(len(lines) - len(truth)) <= tolerance * len(truth), (len(lines), len(truth))
    iou, _ = overlaps([line.polygon for line in lines], [t.polygon for t in truth])
    assert match_lines(iou).f1 >= floor


def test_two_columns_are_read_one_after_the_other(found):
    """On the two-column card every line of the left column comes before any of the right one."""
    _, lines, truth = found["manuscrits-rviven__f28.jpeg"]
    left_column = {i for i, t in enumerate(truth) if t.region == 0}
    assert 10 < len(left_column) < len(truth) - 10  # the truth has both columns
    iou, _ = overlaps([line.polygon for line in lines], [t.polygon for t in truth])
    columns = [int(np.argmax(row)) in left_column for row in iou if row.max() >= 0.5]
    assert columns == sorted(columns, reverse=True)  # all True (left) first, then all False
    assert sum(columns) >= 10 and len(columns) - sum(columns) >= 8


@pytest.mark.parametrize("name", [case[0] for case in CASES])
def test_lines_are_well_formed(found, name):
    image, lines, _ = found[name]
    regions = [line.region for line in lines]
    assert regions == sorted(regions)  # regions are numbered in reading order, their lines together
    for line in lines:
        xs, ys = [p[0] for p in line.polygon], [p[1] for p in line.polygon]
        assert (line.x0, line.y0, line.x1, line.y1) == (min(xs), min(ys), max(xs) + 1, max(ys) + 1)
        assert 0 <= line.x0 < line.x1 <= image.width and 0 <= line.y0 < line.y1 <= image.height
        assert len(line.baseline) >= 2 and all(line.x0 <= x < line.x1 and line.y0 <= y < line.y1
                                               for x, y in line.baseline)
        assert [x for x, _ in line.baseline] == sorted(x for x, _ in line.baseline)  # left to right


def test_crop_is_cut_by_the_polygon(found):
    image, lines, _ = found[CASES[0][0]]
    for line in lines[:5]:
        box = outline_box(line.polygon, image.size)
        crop = line.crop(image)
        assert crop.size == (box[2] - box[0], box[3] - box[1])  # the polygon's box and LINE_PAD around it
        assert crop.tobytes() == cut_line(image, line.polygon).tobytes()
        for x, y in line.baseline:  # inside the polygon: the page's own pixels
            assert crop.getpixel((x - box[0], y - box[1])) == image.getpixel((x, y))
        assert line.to_dict()["polygon"] == [list(p) for p in line.polygon]


def test_ground_truth_reads_as_itself():
    truth = read_alto_lines(PAGES / "lettre-soeur-marie__01R_P1S3SS2P118_002.xml")
    assert len(truth) == 14 and truth[0].region_type == "MainZone"
    polygons = [t.polygon for t in truth]
    iou, inside = overlaps(polygons, polygons)
    assert match_lines(iou).f1 == 1.0
    assert order_by_truth(inside[::-1]) == list(range(len(truth)))[::-1]  # reversed lines go back in place
    assert page_cer([t.text for t in truth], [t.text for t in truth]) == (0, len("\n".join(t.text for t in truth)))


def test_blank_and_tiny_images_have_no_lines():
    assert find_page_lines(Image.new("L", (800, 1000), 255)) == []
    assert find_page_lines(Image.new("RGB", (5, 5), (0, 0, 0))) == []


def test_components_match_a_flood_fill():
    rng = np.random.default_rng(0)
    for _ in range(30):
        mask = rng.random((rng.integers(1, 25), rng.integers(1, 25))) < rng.random()
        parts = components(mask)
        assert parts.area.sum() == mask.sum()
        assert (parts.mask(np.ones(parts.count, bool)) == mask).all()
        assert sorted(parts.area.tolist()) == sorted(_flood_fill_areas(mask))


def _flood_fill_areas(mask: np.ndarray) -> list[int]:
    height, width = mask.shape
    seen = np.zeros_like(mask)
    areas = []
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        seen[y, x] = True
        stack, area = [(y, x)], 0
        while stack:
            cy, cx = stack.pop()
            area += 1
            for ny in range(max(0, cy - 1), min(height, cy + 2)):
                for nx in range(max(0, cx - 1), min(width, cx + 2)):
                    if mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        areas.append(area)
    return areas


@pytest.mark.parametrize("count, gap", [(1, 0), (2, 10), (2, 30), (3, 4), (5, 0), (6, -6)])
def test_paragraph_images_get_one_line_per_line(make_paragraph, count, gap):
    """recognize_paragraph reads small images of a few real lines with this finder too."""
    page, spans, _ = make_paragraph(count, gap)
    lines = find_page_lines(page)
    assert len(lines) == count
    for line, (top, bottom) in zip(lines, spans):
        assert top <= np.mean([y for _, y in line.baseline]) < bottom + 4  # each on its own line, in order
