"""Line finding on paragraph images built from real Copiste lines of one page, in page order."""

import numpy as np
import pytest
from PIL import Image

from sparkhtr.layout import LineBox, find_lines


@pytest.mark.parametrize("count, gap", [(1, 0), (2, 10), (5, 0), (6, -6)])
def test_one_box_per_line_in_order(make_paragraph, count, gap):
    page, spans, _ = make_paragraph(count, gap)
    boxes = find_lines(page)
    assert len(boxes) == count
    for box, (top, bottom) in zip(boxes, spans):
        assert top <= (box.y0 + box.y1) / 2 < bottom  # each box sits on its own line
        assert box.x1 - box.x0 > 100 and 0 <= box.x0 < box.x1 <= page.width
        assert 0 <= box.y0 < box.y1 <= page.height


def test_light_text_on_dark_and_colour_images(make_paragraph):
    page, _, _ = make_paragraph(3, 4)
    want = find_lines(page)
    assert find_lines(Image.fromarray(255 - np.asarray(page))) == want
    assert find_lines(page.convert("RGB")) == want


def test_blank_image_has_no_lines():
    assert find_lines(Image.new("L", (300, 200), 255)) == []
    assert find_lines(Image.new("RGB", (3, 3), (0, 0, 0))) == []


def test_box_crop():
    image = Image.new("L", (50, 40), 255)
    assert LineBox(5, 6, 25, 16).crop(image).size == (20, 10)
    assert LineBox(5, 6, 25, 16).to_list() == [5, 6, 25, 16]
