import numpy as np
import pytest
from PIL import Image

from sparkhtr.inference.preprocess import prepare_line, resize_line
from sparkhtr.layout.ink_band import crop_to_ink_share, ink_band
from sparkhtr.model.config import ModelConfig, PreprocessingConfig, architecture


def _line(height: int = 200, width: int = 400, ink_rows: tuple[int, int] = (80, 120), ruling_row: int | None = None):
    gray = np.full((height, width), 235, dtype=np.uint8)
    top, bottom = ink_rows
    for x in range(20, width - 40, 16):  # letters: slanted strokes, 3 px thick, filling the band
        for y in range(top, bottom):
            left = x + (y - top) * 12 // max(1, bottom - top)
            gray[y, left : left + 3] = 30
    if ruling_row is not None:
        gray[ruling_row, :] = 40
    return Image.fromarray(gray)


def test_the_band_holds_the_ink_rows_and_leaves_ruling_out():
    top, bottom = ink_band(np.asarray(_line(ruling_row=190)))
    assert 79 <= top <= 82 and 118 <= bottom <= 121


def test_a_loose_line_is_cut_around_its_ink_to_the_share():
    image = _line()  # band 40 of 200 rows: 20 %
    cropped = crop_to_ink_share(image, 0.3)
    assert cropped.width == image.width
    assert abs(cropped.height - 40 / 0.3) <= 2
    top, bottom = ink_band(np.asarray(cropped))
    assert abs((top + bottom) / 2 - cropped.height / 2) <= 2  # centred on the ink
    assert bottom - top >= 38  # no ink cut away


def test_a_crop_keeps_half_the_height_and_stays_inside_the_image():
    image = _line(ink_rows=(2, 12))  # a thin band at the very top
    cropped = crop_to_ink_share(image, 0.9)
    assert cropped.height == 100
    assert ink_band(np.asarray(cropped))[0] <= 3  # shifted down to the edge, not padded


def test_tight_and_blank_lines_are_left_as_they_are():
    tight = _line(height=50, ink_rows=(5, 45))
    assert crop_to_ink_share(tight, 0.6) is tight
    blank = Image.new("L", (300, 80), 240)
    assert ink_band(np.asarray(blank)) is None
    assert crop_to_ink_share(blank, 0.6) is blank


def test_preprocessing_crops_before_resizing_and_keeps_the_horizontal_scale_right():
    image = _line()
    plain = PreprocessingConfig(line_height=64)
    cropping = PreprocessingConfig(line_height=64, min_ink_share=0.6)
    assert resize_line(image, plain).size == (128, 64)
    resized = resize_line(image, cropping)
    assert resized.height == 64 and resized.width == round(400 * 64 / 100)  # cut to half: 100 rows
    prepared = prepare_line(image, cropping)
    assert prepared.scale_x == pytest.approx(resized.width / image.width)


def test_the_share_is_checked_and_saved_with_the_model_config():
    with pytest.raises(ValueError, match="min_ink_share"):
        PreprocessingConfig(min_ink_share=0.0)
    with pytest.raises(ValueError, match="min_ink_share"):
        PreprocessingConfig(min_ink_share=1.5)
    config = ModelConfig(architecture("span_quarter"), list("ab"), PreprocessingConfig(min_ink_share=0.6))
    assert ModelConfig.from_dict(config.to_dict()).preprocessing.min_ink_share == 0.6
    old = config.to_dict()
    del old["preprocessing"]["min_ink_share"]  # a config.json written before the setting existed
    assert ModelConfig.from_dict(old).preprocessing.min_ink_share is None
