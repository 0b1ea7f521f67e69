"""cut_line: a page's line cut by its outline, paper painted around it, the way the training lines were cut."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sparkhtr.inference.results import PAGE_LIKE_NOTE, CharResult, ParagraphLine, RecognitionResult
from sparkhtr.layout.line_crop import LINE_PAD, cut_line, outline_box
from sparkhtr.layout.page import line_from_polygon

PAPER, INK, NEIGHBOUR, NEAR = 220, 20, 60, 90
# A slanted band: the line's outline on a 300 x 120 page; its box with the pad is x 34..256, y 24..86.
OUTLINE = [(40, 40), (240, 30), (250, 70), (50, 80)]


def _page(mode: str = "L") -> Image.Image:
    page = Image.new("L", (300, 120), PAPER)
    draw = ImageDraw.Draw(page)
    draw.rectangle((100, 50, 140, 60), fill=INK)  # the line's ink
    # The line below's ascender, inside the padded box but more than LINE_PAD under the outline
    # (whose bottom edge runs from y 80 at x 50 to y 70 at x 250: y 72.5 at x 200).
    draw.rectangle((190, 82, 210, 86), fill=NEIGHBOUR)
    draw.point((150, 78), fill=NEAR)  # 3 px under the outline (y 75 at x 150): within the pad, kept
    return page.convert(mode)


def test_the_crop_is_the_outline_box_with_its_pad():
    crop = cut_line(_page(), OUTLINE)
    assert outline_box(OUTLINE, (300, 120)) == (40 - LINE_PAD, 30 - LINE_PAD, 251 + LINE_PAD, 81 + LINE_PAD)
    assert crop.size == (211 + 2 * LINE_PAD, 51 + 2 * LINE_PAD)


def test_ink_inside_stays_and_what_lies_outside_becomes_paper():
    page = _page()
    crop = np.asarray(cut_line(page, OUTLINE))
    left, top = 40 - LINE_PAD, 30 - LINE_PAD
    assert (crop[50 - top : 61 - top, 100 - left : 141 - left] == INK).all()
    assert crop.min() == INK  # the only dark left is the line's own ink
    assert NEIGHBOUR in np.asarray(page.crop(outline_box(OUTLINE, page.size)))  # in the box...
    assert NEIGHBOUR not in crop  # ...but painted over, with the paper's colour
    assert crop[84 - top, 200 - left] == PAPER
    assert crop[78 - top, 150 - left] == NEAR  # what lies within the pad stays


def test_rgb_pages_are_painted_per_band():
    crop = np.asarray(cut_line(_page("RGB"), OUTLINE))
    assert crop.shape[2] == 3 and crop.min() == INK and NEIGHBOUR not in crop
    assert crop[84 - 24, 200 - 34].tolist() == [PAPER] * 3


def test_every_corner_of_the_outline_is_widened_alike():
    """The widened outline is round at each corner, the first one (where the stroke closes) too: a
    mark 4 px out on both axes (5.7 px away) is kept, one at the padded box's corner is painted."""
    square = [(50, 50), (90, 50), (90, 70), (50, 70)]
    page = Image.new("L", (150, 120), 200)
    far = [(44, 44), (96, 44), (96, 76), (44, 76)]  # the padded box is x 44..96, y 44..76
    near = [(46, 46), (94, 46), (94, 74), (46, 74)]
    for point in far + near:
        page.putpixel(point, 0)
    crop = cut_line(page, square)
    assert crop.size == (53, 33)
    assert [crop.getpixel((x - 44, y - 44)) for x, y in far] == [200] * 4
    assert [crop.getpixel((x - 44, y - 44)) for x, y in near] == [0] * 4


def test_a_line_near_the_edge_is_clipped_and_a_line_off_the_page_refused():
    crop = cut_line(_page(), [(0, 0), (50, 0), (50, 10), (0, 10)])
    assert crop.size == (51 + LINE_PAD, 11 + LINE_PAD)
    with pytest.raises(ValueError, match="outside the 300x120 image"):
        cut_line(_page(), [(400, 10), (500, 10), (500, 30)])


def test_an_outline_of_two_points_is_cut_by_its_box():
    crop = cut_line(_page(), [(100, 50), (140, 60)])
    assert crop.size == (41 + 2 * LINE_PAD, 11 + 2 * LINE_PAD)
    assert np.asarray(crop).min() == INK


def test_characters_read_from_a_padded_crop_are_placed_in_the_line_box():
    line = line_from_polygon(OUTLINE)
    assert line.crop_left((300, 120)) == 40 - LINE_PAD

    def read() -> RecognitionResult:  # x ranges in the crop's pixels
        return RecognitionResult("ab", 0.9, [CharResult("a", 0.9, 6.0, 20.0), CharResult("b", 0.8, 20.0, 31.0)])

    tall = read()
    tall.note = PAGE_LIKE_NOTE  # what a tall crop gets when read alone
    placed = ParagraphLine.read_from(line, tall, (300, 120))
    assert [(c.x0, c.x1) for c in placed.result.chars] == [(0.0, 14.0), (14.0, 25.0)]  # relative to the box's x0
    assert placed.result.note is None  # a line of a page is a line
    edge = line_from_polygon([(2, 40), (100, 40), (100, 60), (2, 60)])  # the pad is clipped at the page's edge
    assert edge.crop_left((300, 120)) == 0
    assert ParagraphLine.read_from(edge, read(), (300, 120)).result.chars[0].x0 == 6.0 - 2
