"""scripts/capital_lines.py: real capitals cut from aligned train lines, set in rows of capital words."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "capital_lines.py"


def _module():
    spec = importlib.util.spec_from_file_location("capital_lines", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_cut_glyph_keeps_its_own_strokes_whole_and_drops_its_neighbours():
    line = np.full((20, 40), 255, np.uint8)
    line[4:16, 8:11] = 0  # the letter: a stroke at columns 8-10
    line[4:16, 15:18] = 0  # the next letter, touched by the range's right edge
    line[18, 0:40] = 0  # a ruled line under both, wider than three letters: cut at the range
    glyph = _module()._clean_glyph(line, 6, 16)
    ink_columns = np.flatnonzero((glyph[:16] < 128).any(axis=0))
    assert len(ink_columns) == 3  # the letter's stroke alone
    assert (glyph[18] < 128).sum() == 10  # the ruled line, within the range only
    assert _module()._clean_glyph(np.full((20, 40), 255, np.uint8), 6, 16) is None


def test_composed_lines_are_tight_as_cut_or_small_in_a_tall_crop():
    import random

    module = _module()
    crop = np.full((module.GLYPH_HEIGHT, 12), 255, np.uint8)
    crop[20:60, 3:9] = 0  # a capital: 40 of the 80 rows
    glyphs = {"page": {c: [crop] for c in "ABC"}}
    rng = random.Random(0)
    shares = []
    for _ in range(60):
        image, _ = module.compose_line(glyphs, module.by_letter(glyphs), ["AB", "CAB", "BA"], rng)
        ink = np.flatnonzero((np.asarray(image) < 128).any(axis=1))
        assert len(ink) == 40  # the letters are never scaled, only the crop around them
        shares.append(40 / image.height)
    tight, as_cut = [s for s in shares if s > 0.6], [s for s in shares if s == 40 / module.GLYPH_HEIGHT]
    small = [s for s in shares if s <= 0.41]
    assert tight and as_cut and len(small) > 15 and len(tight) + len(as_cut) + len(small) == 60


def test_the_script_writes_a_dataset_of_capital_lines(copiste_dir, tmp_path):
    out = tmp_path / "caps"
    subprocess.run(
        [sys.executable, str(SCRIPT), str(copiste_dir), str(out), "--lines", "6", "--limit", "80"],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    texts = sorted((out / "lines").glob("*.txt"))
    assert len(texts) == 6
    for text_file in texts:
        text = text_file.read_text("utf-8").strip()
        assert text == text.upper() and 2 <= len(text.split()) <= 6
        image = np.asarray(Image.open(text_file.with_suffix(".png")))
        # Ink, not a blank crop: half the lines are set small in a tall crop (ink in 22-40 % of the
        # rows), where a line of thin capitals darkens under 1 % of the pixels.
        assert image.shape[0] >= 20 and (image < 128).mean() > 0.004
        assert (image < 128).any(axis=1).sum() >= 10
    assert (out / "preview.png").stat().st_size > 1000
    from sparkhtr.data.datasets import open_dataset

    assert len(open_dataset(str(out), split="train")) == 6  # a folder dataset training reads as is
