"""SPAN's augmentations: each one does something, keeps the mode, is reproducible; order is SPAN's."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sparkhtr.data.augment import (
    GENTLE_BRIGHTNESS,
    GENTLE_CONTRAST,
    SPAN_BRIGHTNESS,
    SPAN_CONTRAST,
    Brightness,
    Compose,
    Contrast,
    DilationErosion,
    ElasticDistortion,
    Invert,
    OneOf,
    Perspective,
    RandomApply,
    RandomProjective,
    ResolutionChange,
    Slant,
    WidthScale,
    span_augmentation,
    unseen_writer_degradation,
    writer_style_augmentation,
)


def _line(mode: str = "L") -> Image.Image:
    """Dark strokes on near-white paper, like a scanned line."""
    image = Image.new("L", (320, 64), 245)
    draw = ImageDraw.Draw(image)
    for k in range(12):
        x = 12 + 25 * k
        draw.line((x, 14, x + 10, 50), fill=20, width=3)
        draw.ellipse((x + 4, 26, x + 18, 44), outline=40, width=2)
    draw.line((5, 52, 315, 52), fill=60, width=1)
    return image.convert(mode)


# Each transform with parameters that cannot be a no-op.
CHANGING = [
    ResolutionChange((1.2, 1.25)),
    Perspective((0.25, 0.3)),
    ElasticDistortion(magnitude=(10, 20), grid=(2, 3)),
    RandomProjective(16),
    DilationErosion(kernel=(2, 3)),
    Contrast((0.3, 0.5)),
    Brightness((0.3, 0.5)),
    Invert(),
    Slant(20.0),
    WidthScale((1.2, 1.25)),
]


@pytest.mark.parametrize("mode", ["L", "RGB"])
@pytest.mark.parametrize("transform", CHANGING, ids=lambda t: type(t).__name__)
def test_each_transform_changes_image_and_keeps_mode(transform, mode: str) -> None:
    image = _line(mode)
    before = image.tobytes()
    out = transform(image, random.Random(0))
    assert out.mode == mode
    assert out.size != image.size or out.tobytes() != before
    assert image.tobytes() == before  # the input is not modified in place


@pytest.mark.parametrize("transform", CHANGING, ids=lambda t: type(t).__name__)
def test_each_transform_is_deterministic(transform) -> None:
    image = _line()
    a = transform(image, random.Random(42))
    b = transform(image, random.Random(42))
    assert a.size == b.size and a.tobytes() == b.tobytes()


def test_geometry_keeps_size_except_resolution() -> None:
    image = _line()
    for transform in (Perspective(), ElasticDistortion(), RandomProjective(), DilationErosion()):
        assert transform(image, random.Random(3)).size == image.size
    for seed in range(20):
        w, h = ResolutionChange()(image, random.Random(seed)).size
        assert 0.74 * 320 <= w <= 1.26 * 320 and 0.74 * 64 <= h <= 1.26 * 64
        assert abs(w / 320 - h / 64) < 0.05  # one factor for both axes


def test_geometric_fill_is_white() -> None:
    image = _line()
    out = np.asarray(Perspective((0.3, 0.3))(image, random.Random(1)))
    assert out[0, 0] >= 240 and out[-1, -1] >= 240


def test_dilation_thickens_or_thins_dark_ink() -> None:
    image = _line()
    ink = (np.asarray(image) < 128).sum()
    seen = set()
    for seed in range(10):
        out = np.asarray(DilationErosion((3, 3))(image, random.Random(seed)))
        seen.add("thick" if (out < 128).sum() > ink else "thin")
    assert seen == {"thick", "thin"}


def test_random_apply_and_one_of() -> None:
    calls: list[str] = []

    def tag(name: str):
        def transform(image: Image.Image, rng: random.Random) -> Image.Image:
            calls.append(name)
            return image

        return transform

    image = _line()
    RandomApply(tag("never"), p=0.0)(image, random.Random(0))
    RandomApply(tag("always"), p=1.0)(image, random.Random(0))
    assert calls == ["always"]
    calls.clear()
    OneOf([tag("a"), tag("b"), tag("c")], p=1.0)(image, random.Random(0))
    assert calls == ["a"]
    calls.clear()
    OneOf([tag("a"), tag("b"), tag("c")], p=[0.0, 0.0, 1.0])(image, random.Random(0))
    assert calls == ["c"]
    calls.clear()
    rng = random.Random(5)
    for _ in range(2000):
        OneOf([tag("a"), tag("b"), tag("c")], p=0.2)(image, rng)
    counts = {k: calls.count(k) / 2000 for k in "abc"}
    assert abs(counts["a"] - 0.2) < 0.04 and abs(counts["b"] - 0.16) < 0.04 and abs(counts["c"] - 0.128) < 0.04


def test_compose_applies_in_order() -> None:
    calls: list[int] = []

    def step(k: int):
        def transform(image: Image.Image, rng: random.Random) -> Image.Image:
            calls.append(k)
            return image.point(lambda v: min(255, v + 1))

        return transform

    out = Compose([step(1), step(2), step(3)])(_line(), random.Random(0))
    assert calls == [1, 2, 3]
    assert np.asarray(out)[0, 0] == 248


def test_span_augmentation_order_and_ranges() -> None:
    aug = span_augmentation()
    kinds = [type(t.transform if isinstance(t, RandomApply) else t).__name__ for t in aug.transforms]
    assert kinds == ["ResolutionChange", "OneOf", "DilationErosion", "Contrast", "Brightness", "Invert"]
    one_of = aug.transforms[1]
    assert [type(t).__name__ for t in one_of.transforms] == ["Perspective", "ElasticDistortion", "RandomProjective"]
    assert all(t.p == 0.2 for t in aug.transforms if isinstance(t, RandomApply)) and one_of.p == [0.2] * 3
    assert aug.transforms[3].transform.factor == GENTLE_CONTRAST
    assert aug.transforms[4].transform.factor == GENTLE_BRIGHTNESS
    faithful = span_augmentation(faithful=True)
    assert faithful.transforms[3].transform.factor == SPAN_CONTRAST
    assert faithful.transforms[4].transform.factor == SPAN_BRIGHTNESS


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_span_augmentation_is_reproducible(mode: str) -> None:
    image = _line(mode)
    aug = span_augmentation(p=1.0)
    a = aug(image, random.Random(9))
    b = aug(image, random.Random(9))
    assert a.mode == mode and a.tobytes() == b.tobytes()
    outs = {span_augmentation()(image, random.Random(s)).tobytes() for s in range(30)}
    assert len(outs) > 5  # p=0.2: some lines untouched, many changed in different ways


def test_unseen_writer_degradation_always_changes_a_line_reproducibly() -> None:
    image = _line()
    degrade = unseen_writer_degradation()
    a, b = degrade(image, random.Random(4)), degrade(image, random.Random(4))
    assert a.mode == "L" and a.tobytes() == b.tobytes()
    assert a.height <= image.height and a.tobytes() != image.tobytes()  # resolution 0.7-1, never larger
    assert unseen_writer_degradation(0.0)(image, random.Random(4)).tobytes() == image.tobytes()


def test_slant_leans_strokes_and_keeps_all_ink() -> None:
    """A vertical bar becomes a slanted one: its top and bottom rows sit apart by about h * tan(angle),
    on a canvas widened by that much, with every ink pixel kept and white fill."""
    image = Image.new("L", (100, 64), 255)
    ImageDraw.Draw(image).rectangle((48, 0, 51, 63), fill=0)
    leans = set()
    for seed in range(8):
        out = Slant(20.0)(image, random.Random(seed))
        a = np.asarray(out)
        assert out.size[1] == 64 and out.size[0] >= 100 and a[0, 0] == 255 and a[-1, -1] == 255
        top, bottom = np.where(a[1] < 128)[0].mean(), np.where(a[-2] < 128)[0].mean()
        assert abs(abs(top - bottom) - (out.size[0] - 100)) <= 3
        assert abs((a < 128).sum() - (np.asarray(image) < 128).sum()) < 0.1 * 256
        leans.add(top > bottom)
    assert leans == {True, False}


def test_width_scale_changes_width_only_and_writer_style_is_reproducible() -> None:
    for seed in range(10):
        w, h = WidthScale((0.8, 1.25))(_line(), random.Random(seed)).size
        assert h == 64 and 0.79 * 320 <= w <= 1.26 * 320
    augment = writer_style_augmentation(1.0)
    a, b = augment(_line(), random.Random(5)), augment(_line(), random.Random(5))
    assert a.tobytes() == b.tobytes() and a.tobytes() != _line().tobytes()
