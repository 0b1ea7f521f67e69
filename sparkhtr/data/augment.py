"""SPAN's training-time data augmentation, on 8-bit PIL images, with Pillow and numpy only.

Why this module: SPAN's reference code uses torchvision and OpenCV; sparkhtr trains without
either (torchvision must not be installed next to the project's torch). Every transform is a
callable ``(image, rng) -> image`` taking a ``random.Random``, so one seeded generator per
sample makes augmentation reproducible in any number of data loader workers. The single
transforms live in ``sparkhtr.data.line_transforms`` (and are named here too); this module chains
them as SPAN does.

SPAN's line configuration (``/work/shared/reference/span_and_spark_ocr.md`` §1.7), in order,
each step with probability p = 0.2 and steps 2-4 an if/elif chain (at most one of them):

1. resolution change: bilinear resize of both axes by one factor ~ U(0.75, 1.25);
2. perspective (distortion scale ~ U(0, 0.3), white fill), else
3. elastic distortion (mesh warp, magnitude in [1, 20] px on one random axis, grid in [1, 3]), else
4. random projective transform (corners moved up to 16 px), resized back to the input size;
5. dilation or erosion, 50/50, rectangular kernel with h, w in [1, 3];
6. contrast ~ U(0.01, 1);
7. brightness ~ U(0.01, 1);
8. sign flipping (inversion).

**Deviation, on purpose (``faithful=False``, the default):** contrast and brightness factors
near 0.01 leave about 2 gray levels between ink and paper (factor x 200 levels), i.e. a blank
image whose label is still the full line: pure label noise. With SPAN's ranges, contrast and
brightness each push a line under 15 gray levels of ink/paper difference in ~1.5% of samples
(and both together more). The default ranges are contrast U(0.3, 1) and brightness U(0.3, 1),
which keep at least ~0.09 x the original contrast (~15 levels on a typical line) even when both
fire. ``span_augmentation(faithful=True)`` restores SPAN's exact ranges.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from PIL import Image

from sparkhtr.data.line_transforms import (
    GENTLE_BRIGHTNESS,
    GENTLE_CONTRAST,
    SPAN_BRIGHTNESS,
    SPAN_CONTRAST,
    Brightness,
    Contrast,
    DilationErosion,
    ElasticDistortion,
    Invert,
    Perspective,
    RandomProjective,
    ResolutionChange,
    Slant,
    Transform,
    WidthScale,
)

__all__ = [
    "Transform",
    "Compose",
    "RandomApply",
    "OneOf",
    "ResolutionChange",
    "Perspective",
    "ElasticDistortion",
    "RandomProjective",
    "DilationErosion",
    "Contrast",
    "Brightness",
    "Invert",
    "Slant",
    "WidthScale",
    "span_augmentation",
    "writer_style_augmentation",
    "unseen_writer_degradation",
    "SPAN_CONTRAST",
    "SPAN_BRIGHTNESS",
    "GENTLE_CONTRAST",
    "GENTLE_BRIGHTNESS",
]


# ------------------------------------------------------------------------------------ combinators


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        for transform in self.transforms:
            image = transform(image, rng)
        return image

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(t) for t in self.transforms)
        return f"Compose([\n  {inner}\n])"


class RandomApply:
    """Apply ``transform`` with probability ``p`` (one ``rng.random()`` draw, always made)."""

    def __init__(self, transform: Transform, p: float = 0.2) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError("p must be in [0, 1]")
        self.transform, self.p = transform, p

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        return self.transform(image, rng) if rng.random() < self.p else image

    def __repr__(self) -> str:
        return f"RandomApply({self.transform!r}, p={self.p})"


class OneOf:
    """SPAN's if/elif chain: try each transform in turn with its own probability; apply the first
    that fires and none after it. ``p`` is one probability for all, or one per transform.

    With p = 0.2 for three transforms they fire with probability 0.2, 0.16 and 0.128, as in SPAN.
    """

    def __init__(self, transforms: Sequence[Transform], p: float | Sequence[float] = 0.2) -> None:
        self.transforms = list(transforms)
        self.p = [float(p)] * len(self.transforms) if isinstance(p, (int, float)) else [float(x) for x in p]
        if len(self.p) != len(self.transforms):
            raise ValueError("one probability per transform")

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        for transform, p in zip(self.transforms, self.p):
            if rng.random() < p:
                return transform(image, rng)
        return image

    def __repr__(self) -> str:
        return f"OneOf({self.transforms!r}, p={self.p})"


# -------------------------------------------------------------------------------------- factory


def span_augmentation(
    p: float = 0.2,
    *,
    faithful: bool = False,
    contrast: tuple[float, float] | None = None,
    brightness: tuple[float, float] | None = None,
    resolution: tuple[float, float] = (0.75, 1.25),
    projective_offset: int = 16,
) -> Compose:
    """SPAN's eight line augmentations in SPAN's order, each with probability ``p``.

    ``faithful=True`` uses SPAN's contrast and brightness ranges U(0.01, 1); the default uses
    the gentler U(0.3, 1) for both (see the module docstring). Explicit ``contrast`` /
    ``brightness`` ranges override either.
    """
    if contrast is None:
        contrast = SPAN_CONTRAST if faithful else GENTLE_CONTRAST
    if brightness is None:
        brightness = SPAN_BRIGHTNESS if faithful else GENTLE_BRIGHTNESS
    return Compose(
        [
            RandomApply(ResolutionChange(resolution), p),
            OneOf([Perspective(), ElasticDistortion(), RandomProjective(projective_offset)], p),
            RandomApply(DilationErosion(), p),
            RandomApply(Contrast(contrast), p),
            RandomApply(Brightness(brightness), p),
            RandomApply(Invert(), p),
        ]
    )


def unseen_writer_degradation(p: float = 1.0) -> Compose:
    """Heavier shape changes (resolution 0.7-1, elastic 8-20 px, perspective 0.1-0.3, strokes
    thickened or thinned with a 2-3 px kernel), each with probability ``p``: lines so altered read
    about as badly as a new writer's.

    Why: decoder settings tuned on lines the model was trained on favour a weak language model,
    as those lines read far better than new ones (default model: 3.3 % greedy CER against 15 %
    on new writers). With all four at p = 1, 400 held-out Copiste train lines read at 15.4 %
    greedy CER / 43.6 % WER, close to the unseen-writer val split (15.0 % / 44.0 %), and the
    settings chosen on them carried over to it.
    """
    return Compose(
        [
            RandomApply(ResolutionChange((0.7, 1.0)), p),
            RandomApply(ElasticDistortion((8, 20), (1, 3)), p),
            RandomApply(Perspective((0.1, 0.3)), p),
            RandomApply(DilationErosion((2, 3)), p),
        ]
    )


def writer_style_augmentation(p: float = 0.3) -> Compose:
    """How hands differ, beyond SPAN's scan-like changes: slant (up to 20 degrees either way),
    letter width and spacing (width alone x 0.8-1.25), and stroke weight (a 1-3 px kernel), each
    with probability ``p``. Applied after ``span_augmentation`` when training sets
    ``writer_augment_p``; off by default until a dev comparison at equal time keeps it."""
    return Compose(
        [
            RandomApply(Slant(20.0), p),
            RandomApply(WidthScale((0.8, 1.25)), p),
            RandomApply(DilationErosion((1, 3)), p),
        ]
    )
