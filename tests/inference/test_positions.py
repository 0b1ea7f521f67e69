"""Character positions: spikes -> extents that tile the line, shifted back by the model's lag,
and the lag itself, measured on real lines from where the spaces fall against the word gaps."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sparkhtr import Recognizer
from sparkhtr.calibrate.position_lag import estimate_position_lag, space_offsets
from sparkhtr.inference.positions import char_extents
from sparkhtr.inference.preprocess import prepare_line
from sparkhtr.model.config import ModelConfig, architecture

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_extents_tile_the_line_between_shifted_spikes():
    # spikes at frames 2, 5-6 and 10, trailing by 1 frame: centers 1.5, 5 and 9.5; 8 px a frame
    extents = char_extents([(2, 2), (5, 6), (10, 10)], lag=1.0, step=8.0, width=200)
    # midpoints 3.25 and 7.25; the outer characters reach as far again as their inner half
    # (1.5 - 1.75 < 0: clipped to the image; 9.5 + 2.25 = 11.75)
    assert extents == [(0.0, 26.0), (26.0, 58.0), (58.0, 94.0)]
    assert char_extents([], 2.5, 8.0, 100) == []
    assert char_extents([(4, 4)], 0.0, 8.0, 100) == [(28.0, 44.0)]  # alone: one frame each side of 4.5


def test_extents_stay_inside_the_image_with_a_visible_width():
    # spikes at the very start, shifted back past the left edge, and at the right edge
    cases = (([(0, 0), (1, 1), (2, 2), (12, 12)], 2.5, 100.0), ([(10, 10), (11, 11), (12, 12)], 0.0, 90.0))
    for spans, lag, width in cases:
        extents = char_extents(spans, lag, 8.0, width)
        assert all(0.0 <= x0 and x0 + 1.0 <= x1 <= width for x0, x1 in extents)  # 1 px at least
        assert all(a[1] == b[0] for a, b in zip(extents, extents[1:]))  # still tiling
    assert char_extents([(0, 0), (1, 1), (2, 2), (12, 12)], 2.5, 8.0, 100.0)[:2] == [(0.0, 1.0), (1.0, 2.0)]
    assert char_extents([(0, 0), (1, 1), (2, 2)], 0.0, 8.0, 2.0) == [(0.0, 2 / 3), (2 / 3, 4 / 3), (4 / 3, 2.0)]


def test_recognized_spaces_fall_in_the_word_gaps():
    """The bundled model's boxes on real lines: they tile each line, and each space's box holds
    the center of the word gap it stands for (with the raw spike frames almost none did)."""
    recognizer = Recognizer.pretrained()
    assert recognizer.config.position_lag > 0  # measured when it was packaged
    preprocessing = recognizer.config.preprocessing
    matched = []
    for line in sorted(EXAMPLES.glob("*.png")):
        result = recognizer.recognize(line)
        assert all(a.x1 == b.x0 for a, b in zip(result.chars, result.chars[1:]))
        image = Image.open(line)
        scale = prepare_line(image, preprocessing).scale_x  # to network pixels
        spaces = [(c.x0 * scale, c.x1 * scale) for c in result.chars if c.char == " "]
        offsets = space_offsets(image, [(x0 + x1) / 2 for x0, x1 in spaces], preprocessing)
        matched += [(o, (x1 - x0) / 2) for o, (x0, x1) in zip(offsets, spaces) if o is not None]
    assert len(matched) >= 8
    assert sum(abs(o) <= half for o, half in matched) >= 0.8 * len(matched)


def test_the_lag_is_measured_from_real_lines(val_lines):
    recognizer = Recognizer.pretrained(decoder="greedy")
    lag = estimate_position_lag(recognizer, val_lines, min_spaces=30)  # the twelve lines: 40 spaces
    assert lag.lines == 12 and lag.spaces >= 30
    assert 1.5 <= lag.frames <= 3.5  # the bundled model's: 2.5 frames on 300 train lines
    with pytest.raises(ValueError, match="only .* spaces matched a word gap in 2 lines .at least 30 needed."):
        estimate_position_lag(recognizer, val_lines[:2], min_spaces=30)


def test_the_lag_travels_in_the_config():
    config = ModelConfig(architecture("span_quarter"), list("ab "), position_lag=2.25)
    assert ModelConfig.from_dict(config.to_dict()).position_lag == 2.25
    older = config.to_dict()
    del older["position_lag"]
    assert ModelConfig.from_dict(older).position_lag == 0.0
