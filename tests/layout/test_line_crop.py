"""cut_line: a page's line cut by its outline, paper painted around it, the way the training lines were cut."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sparkhtr.inference.results import CharResult, ParagraphLine, RecognitionResult
from sparkhtr.layout.line_crop import LINE_PAD, cut_line, outline_box
from sparkhtr.layout.page import line_from_polygon

PAPER, INK, NEIGHBOUR = 220, 20, 60
# A slanted band: the line's outline on a 300 x 120 page.
OUTLINE = [(40, 40), (240, 30), (250, 70), (50, 80)]


def _page(mode: str = "L") -> Image.Image:
    page = Image.new("L", (300, 120), PAPER)
    draw = ImageDraw.Draw(page)
    draw.rectangle((100, 50, 140, 60), fill=INK)  # the line's ink
    draw.rectangle((45, 82 + LINE_PAD, 60, 110), fill=NEIGHBOUR)  # a descender of the line below, in the box
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
    assert NEIGHBOUR not in crop  # the neighbour's descender is painted over, with the paper's colour
    assert crop[-1, 50 - left] == PAPER


def test_rgb_pages_are_painted_per_band():
    crop = np.asarray(cut_line(_page("RGB"), OUTLINE))
    assert crop.shape[2] == 3 and crop.min() == INK and crop[-1, 10].tolist() == [PAPER] * 3


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

    placed = ParagraphLine.read_from(line, read(), (300, 120))
    assert [(c.x0, c.x1) for c in placed.result.chars] == [(0.0, 14.0), (14.0, 25.0)]  # relative to the box's x0
    edge = line_from_polygon([(2, 40), (100, 40), (100, 60), (2, 60)])  # the pad is clipped at the page's edge
    assert edge.crop_left((300, 120)) == 0
    assert ParagraphLine.read_from(edge, read(), (300, 120)).result.chars[0].x0 == 6.0 - 2
