"""Synthetic lines: font coverage is trusted, items are reproducible, labels match what is drawn."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fontTools")
pytest.importorskip("wordfreq")

from sparkhtr.data.sample import LineSample  # noqa: E402
from sparkhtr.data.synthetic import (  # noqa: E402
    FontBank,
    SyntheticLines,
    TextSource,
    preview_grid,
)

FONTS = Path(os.environ["SPARKHTR_SHARED"]) / "fonts"  # set by conftest
pytestmark = pytest.mark.skipif(not FONTS.is_dir(), reason="handwriting fonts not available")


@pytest.fixture(scope="module")
def bank() -> FontBank:
    return FontBank(FONTS)


@pytest.fixture(scope="module")
def lines(bank: FontBank) -> SyntheticLines:
    return SyntheticLines(FONTS, size=1000, seed=7, bank=bank)


def test_display_scripts_excluded_by_default(bank: FontBank) -> None:
    assert len(bank) >= 12
    keys = " ".join(bank.names).lower()
    assert "lobster" not in keys and "leckerli" not in keys and "kaushan" not in keys
    everything = FontBank(FONTS, exclude=())
    assert len(everything) == len(bank) + 3


def test_coverage_from_cmap(bank: FontBank) -> None:
    for name in ("Breip", "Kristi"):
        font = bank.index(name)
        assert bank.covers(font, "a") and bank.covers(font, "é")
        assert not bank.covers(font, "œ") and not bank.covers(font, "Œ")
        assert bank.missing(font, "sœur et cœur") == {"œ"}
    ecolier = bank.index("Ecolier court")
    assert not bank.covers(ecolier, "ß")
    assert not bank.covers(bank.index("Caveat"), "中")
    assert bank.index("Caveat") not in bank.covering("un œuf 中")


def test_glyph_without_ink_is_missing(bank: FontBank) -> None:
    ecolier = bank.index("Ecolier court")
    assert ord("^") in bank.fonts[ecolier].cmap  # mapped, but the glyph draws nothing
    assert not bank.covers(ecolier, "^")
    assert bank.covers(ecolier, " ")


def test_blacklisted_lookalikes(bank: FontBank) -> None:
    shadows = bank.index("Shadows Into Light")
    assert not bank.covers(shadows, "&") and not bank.covers(shadows, "ß")
    for name in ("Cedarville Cursive", "La Belle Aurore", "Reenie Beanie", "Nothing You Could Do"):
        assert not bank.covers(bank.index(name), "&")
    for name in ("Breip", "Indie Flower", "Nothing You Could Do"):  # ß drawn like B
        assert not bank.covers(bank.index(name), "ß")
    assert not bank.covers(bank.index("Homemade Apple"), "&")
    assert bank.covers(bank.index("Dancing Script"), "&")
    assert bank.covers(bank.index("Dancing Script"), "ß")
    lenient = FontBank(FONTS, blacklist={})
    assert lenient.covers(lenient.index("Shadows Into Light"), "&")


def test_text_source_is_deterministic_and_bounded() -> None:
    a = TextSource(("en", "fr", "de"), seed=3)
    b = TextSource(("en", "fr", "de"), seed=3)
    texts = [a.line() for _ in range(300)]
    assert texts == [b.line() for _ in range(300)]
    assert all(5 <= len(t) <= 70 for t in texts)
    assert all(t == " ".join(t.split()) for t in texts)
    joined = "".join(texts)
    assert any(c.isdigit() for c in joined)
    assert any(c.isupper() for c in joined)
    assert set(",.") <= set(joined)
    assert len(set(texts)) > 290


def test_text_source_writes_web_and_mail_addresses() -> None:
    import re

    source = TextSource(("en", "fr", "de"), seed=4)
    lines = [source.line() for _ in range(3000)]
    addresses = [w for t in lines for w in t.split() if re.search(r"@|www\.|https://", w)]
    assert 20 < len(addresses) < 200  # about one line in 50
    assert any(re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+@[a-z0-9]+\.[a-z]+[.,:;!?]?", a.lower()) for a in addresses)
    assert any(re.search(r"https://[a-z]{2}\.wikipedia\.org/wiki/\w+_\w+", a) for a in addresses)
    assert all(re.sub(r"^\W+|\W+$", "", a).isascii() for a in addresses)  # quotes may close after one
    assert not any(a.startswith(("Www.", "Https:")) for a in addresses)  # no sentence capital


def test_caps_ratio_sets_the_share_of_all_caps_lines() -> None:
    def caps_share(source: TextSource) -> float:
        lines = [source.line() for _ in range(400)]
        return sum(t == t.upper() and any(c.isalpha() for c in t) for t in lines) / len(lines)

    assert caps_share(TextSource(("en", "fr", "de"), seed=5)) < 0.1  # default 0.03
    assert 0.25 < caps_share(TextSource(("en", "fr", "de"), seed=5, caps_ratio=0.35)) < 0.5
    with pytest.raises(ValueError, match="caps_ratio"):
        TextSource(("en",), caps_ratio=1.5)


def test_text_source_charset_and_extra_texts() -> None:
    charset = set("abcdefghijklmnopqrstuvwxyz ,.")
    source = TextSource(("fr",), seed=1, charset=charset)
    for _ in range(200):
        assert set(source.line()) <= charset
    extra = ["la fédération du laos de football est une association regroupant les clubs"]
    mixed = TextSource(("en",), seed=2, extra_texts=extra, extra_ratio=1.0, max_chars=30)
    for _ in range(20):
        line = mixed.line()
        assert line in extra[0] and len(line) <= 30


def test_items_are_deterministic(bank: FontBank, lines: SyntheticLines) -> None:
    again = SyntheticLines(FONTS, size=1000, seed=7, bank=FontBank(FONTS))
    for i in (0, 5, 999):
        a, b = lines[i], again[i]
        assert isinstance(a, LineSample)
        assert (a.id, a.split) == (f"synth-{i}", "train")
        assert a.text == b.text
        assert np.array_equal(np.asarray(a.image()), np.asarray(b.image()))
        assert np.array_equal(np.asarray(a.image()), np.asarray(a.image()))
    other_seed = SyntheticLines(FONTS, size=1000, seed=8, bank=bank)
    assert [lines[i].text for i in range(10)] != [other_seed[i].text for i in range(10)]
    assert lines[-1].id == "synth-999"
    with pytest.raises(IndexError):
        lines[1000]


def test_images_have_ink_and_sane_size(lines: SyntheticLines) -> None:
    for i in range(25):
        sample = lines[i]
        image = sample.image()
        assert isinstance(image, Image.Image) and image.mode == "L"
        assert 30 <= image.height <= 200, image.size
        assert image.width >= 10
        a = np.asarray(image, dtype=np.int16)
        paper = np.median(a)
        assert paper - np.percentile(a, 0.5) > 40, f"{sample.id} has no visible ink"


def test_every_line_is_legible(lines: SyntheticLines) -> None:
    """No rendering step may wash the ink out: dark strokes stand well clear of the paper."""
    for i in range(40, 100):
        a = np.asarray(lines[i].image(), dtype=np.float32)
        paper, ink = np.percentile(a, 50), np.percentile(a, 1)
        assert paper - ink > 60, (i, lines[i].text, paper, ink)
        assert (a < paper - 40).mean() > 0.005


def test_label_is_drawable_by_its_font(bank: FontBank, lines: SyntheticLines) -> None:
    for i in range(200):
        text, font, _ = lines.plan(i)
        assert text and text == " ".join(text.split())
        assert not bank.missing(font, text), (i, bank.fonts[font].family, text)


def test_charset_restricts_every_label(bank: FontBank) -> None:
    charset = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,'-&ß")
    lines = SyntheticLines(FONTS, size=300, seed=0, charset=charset, bank=bank)
    for i in range(300):
        sample = lines[i]
        assert set(sample.text) <= charset, sample.text
        assert sample.text
    sample = lines[3]
    assert sample.image().mode == "L"


def test_uncoverable_text_is_reduced_not_mislabelled(bank: FontBank) -> None:
    lines = SyntheticLines(FONTS, size=50, seed=0, bank=bank, extra_texts=["un œuf 中文 &"], extra_ratio=1.0)
    for i in range(50):
        text, font, _ = lines.plan(i)
        assert "中" not in text and "文" not in text
        assert not bank.missing(font, text)


def test_render_is_varied_and_reproducible(bank: FontBank) -> None:
    from sparkhtr.data.synthetic import LineRenderer

    renderer = LineRenderer(bank)
    font = bank.index("Caveat")
    a = renderer.render("Hello world", font, random.Random(1))
    b = renderer.render("Hello world", font, random.Random(1))
    c = renderer.render("Hello world", font, random.Random(2))
    assert a.tobytes() == b.tobytes()
    assert a.size != c.size or a.tobytes() != c.tobytes()
    with pytest.raises(ValueError):
        renderer.render("   ", font, random.Random(1))


def _ink_share(image: Image.Image) -> float:
    """How much of the image's height its ink rows span."""
    rows = np.flatnonzero((np.asarray(image) < 128).any(axis=1))
    return (rows[-1] - rows[0] + 1) / image.height


def test_capitals_alone_are_drawn_small_in_a_tall_crop(bank: FontBank) -> None:
    from sparkhtr.data.synthetic import LineRenderer

    font = bank.index("Caveat")
    roomy, plain = LineRenderer(bank, small_caps_p=1.0), LineRenderer(bank, small_caps_p=0.0)
    caps = [(roomy.render("PAR DEUX FAUCONS", font, random.Random(k)),
             plain.render("PAR DEUX FAUCONS", font, random.Random(k))) for k in range(8)]
    assert all(a.height > b.height for a, b in caps)
    assert np.median([_ink_share(a) for a, _ in caps]) < np.median([_ink_share(b) for _, b in caps]) - 0.1
    # a line with small letters draws nothing more from the seed: it renders as it did
    mixed = [(roomy.render("Par deux FAUCONS", font, random.Random(k)),
              plain.render("Par deux FAUCONS", font, random.Random(k))) for k in range(3)]
    assert all(a.tobytes() == b.tobytes() for a, b in mixed)
    with pytest.raises(ValueError, match="small_caps_p"):
        LineRenderer(bank, small_caps_p=1.5)


def test_preview_grid(tmp_path: Path, lines: SyntheticLines) -> None:
    out = preview_grid([lines[i] for i in range(4)], tmp_path / "grid.png")
    image = Image.open(out)
    assert image.mode == "L" and image.height >= 4 * 72


def test_pickles_for_data_loader_workers(lines: SyntheticLines) -> None:
    import pickle

    lines[0].image()  # fills the font cache, which must not travel
    clone = pickle.loads(pickle.dumps(lines))
    assert clone[3].text == lines[3].text
    assert clone[3].image().tobytes() == lines[3].image().tobytes()
    sample = pickle.loads(pickle.dumps(lines[4]))
    assert sample.image().tobytes() == lines[4].image().tobytes()


def test_accepts_a_charset_object(bank: FontBank) -> None:
    from sparkhtr.text.charset import Charset

    charset = Charset("abcdefghijklmnopqrstuvwxyz ")
    lines = SyntheticLines(FONTS, size=20, seed=0, charset=charset, bank=bank)
    assert all(set(lines[i].text) <= set(charset.chars) for i in range(20))
