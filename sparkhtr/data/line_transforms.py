"""The single transforms of SPAN's line augmentation, which ``sparkhtr.data.augment`` chains.

Geometric (resolution, perspective, elastic mesh, projective), morphological (thicker or thinner
strokes) and tonal (contrast, brightness, inversion). Each is a callable ``(image, rng) -> image``
on an 8-bit "L" or "RGB" PIL image that draws only from the ``random.Random`` it is given, so one
seeded generator per sample makes augmentation reproducible in any number of data loader workers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

__all__ = [
    "Transform",
    "ResolutionChange",
    "WidthScale",
    "Slant",
    "Perspective",
    "ElasticDistortion",
    "RandomProjective",
    "DilationErosion",
    "Contrast",
    "Brightness",
    "Invert",
    "SPAN_CONTRAST",
    "SPAN_BRIGHTNESS",
    "GENTLE_CONTRAST",
    "GENTLE_BRIGHTNESS",
]

Transform = Callable[[Image.Image, random.Random], Image.Image]

SPAN_CONTRAST = (0.01, 1.0)
SPAN_BRIGHTNESS = (0.01, 1.0)
GENTLE_CONTRAST = (0.3, 1.0)
GENTLE_BRIGHTNESS = (0.3, 1.0)


def _white(image: Image.Image) -> int | tuple[int, ...]:
    """The fill colour for uncovered pixels: white paper, in the image's mode."""
    return (255,) * len(image.getbands()) if len(image.getbands()) > 1 else 255


def _check_mode(image: Image.Image) -> None:
    if image.mode not in ("L", "RGB"):
        raise ValueError(f"augmentation expects an 8-bit 'L' or 'RGB' image, got mode {image.mode!r}")



# ------------------------------------------------------------------------------------- geometric


class ResolutionChange:
    """Bilinear resize of both axes by one factor ~ U(low, high) (SPAN's "DPI adjusting")."""

    def __init__(self, factor: tuple[float, float] = (0.75, 1.25)) -> None:
        self.factor = factor

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        f = rng.uniform(*self.factor)
        size = (max(1, round(image.width * f)), max(1, round(image.height * f)))
        return image.resize(size, Image.Resampling.BILINEAR)

    def __repr__(self) -> str:
        return f"ResolutionChange(factor={self.factor})"


class WidthScale:
    """Resize the width alone by a factor ~ U(low, high): narrower or wider letters and spacing,
    as writers differ, where ``ResolutionChange`` keeps the aspect ratio."""

    def __init__(self, factor: tuple[float, float] = (0.8, 1.25)) -> None:
        self.factor = factor

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        width = max(1, round(image.width * rng.uniform(*self.factor)))
        return image.resize((width, image.height), Image.Resampling.BILINEAR)

    def __repr__(self) -> str:
        return f"WidthScale(factor={self.factor})"


class Slant:
    """Shear the line horizontally by an angle ~ U(-max_degrees, max_degrees) from the vertical,
    so upright writing leans and slanted writing straightens. The canvas widens by the shear so
    no stroke is cut; the new corners are white paper."""

    def __init__(self, max_degrees: float = 20.0) -> None:
        self.max_degrees = max_degrees

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        _check_mode(image)
        shear = math.tan(math.radians(rng.uniform(-self.max_degrees, self.max_degrees)))
        w, h = image.size
        extra = round(abs(shear) * h)
        if extra == 0:
            return image.copy()
        # Output (x, y) samples input (x + shear * y + c, y). With c = -shear * h for a rightward
        # lean (0 otherwise), every input column lands inside the widened canvas on every row.
        c = -shear * h if shear > 0 else 0.0
        return image.transform(
            (w + extra, h), Image.Transform.AFFINE, (1.0, shear, c, 0.0, 1.0, 0.0), Image.Resampling.BILINEAR,
            fillcolor=_white(image),
        )

    def __repr__(self) -> str:
        return f"Slant(max_degrees={self.max_degrees})"


def _perspective_coeffs(dst: Sequence[tuple[float, float]], src: Sequence[tuple[float, float]]) -> list[float]:
    """Coefficients (a..h) of Pillow's PERSPECTIVE transform that send each ``dst[k]`` (output)
    to ``src[k]`` (input): x_in = (a x + b y + c) / (g x + h y + 1), y_in likewise with d, e, f."""
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64)).tolist()


class Perspective:
    """Random perspective like torchvision's ``RandomPerspective`` (which SPAN calls): each corner
    moves inwards by up to ``scale`` x half the side; the rest is filled with white.
    ``scale`` itself is drawn from U(0, 0.3) as in SPAN."""

    def __init__(self, scale: tuple[float, float] = (0.0, 0.3)) -> None:
        self.scale = scale

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        _check_mode(image)
        w, h = image.size
        d = rng.uniform(*self.scale)
        dx, dy = int(d * (w // 2)), int(d * (h // 2))
        start = [(0, 0), (w - 1, 0), (w - 1, h - 1), (0, h - 1)]
        end = [
            (rng.randint(0, dx), rng.randint(0, dy)),
            (w - 1 - rng.randint(0, dx), rng.randint(0, dy)),
            (w - 1 - rng.randint(0, dx), h - 1 - rng.randint(0, dy)),
            (rng.randint(0, dx), h - 1 - rng.randint(0, dy)),
        ]
        if end == start:
            return image.copy()
        coeffs = _perspective_coeffs(end, start)
        return image.transform(
            image.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR, fillcolor=_white(image)
        )

    def __repr__(self) -> str:
        return f"Perspective(scale={self.scale})"


class ElasticDistortion:
    """Mesh warp (OrigamiNet-style, which SPAN uses): a grid of ``g`` x ``g`` inner control points
    (``g`` ~ U{grid}), each moved by up to ``magnitude`` px along one random axis (the other axis
    moves by at most 1 px), and each mesh cell warped with Pillow's MESH transform.

    The image border stays fixed, so the size is unchanged and nothing is cropped. A point's
    move is capped at a third of a cell, so cells never fold over.
    """

    def __init__(self, magnitude: tuple[int, int] = (1, 20), grid: tuple[int, int] = (1, 3)) -> None:
        self.magnitude = magnitude
        self.grid = grid

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        _check_mode(image)
        w, h = image.size
        g = rng.randint(*self.grid)
        m = rng.randint(*self.magnitude)
        mx, my = (m, 1) if rng.random() < 0.5 else (1, m)
        n = g + 1  # cells per side
        xs = [w * i / n for i in range(n + 1)]
        ys = [h * j / n for j in range(n + 1)]
        mx = min(mx, (w / n) / 3)
        my = min(my, (h / n) / 3)
        # source position of every mesh vertex; inner vertices move, the border stays
        src = [[(x, y) for x in xs] for y in ys]
        moved = False
        for j in range(1, n):
            for i in range(1, n):
                ddx, ddy = rng.uniform(-mx, mx), rng.uniform(-my, my)
                moved |= abs(ddx) >= 0.5 or abs(ddy) >= 0.5
                src[j][i] = (xs[i] + ddx, ys[j] + ddy)
        if not moved:  # make sure the step does something, as SPAN's magnitude is >= 1
            src[1][1] = (xs[1] + (mx if mx >= 0.5 else 0.0), ys[1] + (my if mx < 0.5 else 0.0))
        mesh = []
        for j in range(n):
            for i in range(n):
                box = (round(xs[i]), round(ys[j]), round(xs[i + 1]), round(ys[j + 1]))
                if box[2] <= box[0] or box[3] <= box[1]:
                    continue
                # quad corners in the source: upper-left, lower-left, lower-right, upper-right
                ul, ll, lr, ur = src[j][i], src[j + 1][i], src[j + 1][i + 1], src[j][i + 1]
                mesh.append((box, (*ul, *ll, *lr, *ur)))
        return image.transform(
            image.size, Image.Transform.MESH, mesh, Image.Resampling.BILINEAR, fillcolor=_white(image)
        )

    def __repr__(self) -> str:
        return f"ElasticDistortion(magnitude={self.magnitude}, grid={self.grid})"


class RandomProjective:
    """OrigamiNet-style random projective transform: pad by ``max_offset`` px of white, move each
    corner of the padded image by up to ``max_offset`` px, warp, and resize back to the input size."""

    def __init__(self, max_offset: int = 16) -> None:
        self.max_offset = max_offset

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        _check_mode(image)
        w, h = image.size
        o = self.max_offset
        W, H = w + 2 * o, h + 2 * o
        padded = Image.new(image.mode, (W, H), _white(image))
        padded.paste(image, (o, o))
        corners = [(0, 0), (W, 0), (W, H), (0, H)]
        src = [(x + rng.uniform(-o, o), y + rng.uniform(-o, o)) for x, y in corners]
        coeffs = _perspective_coeffs(corners, src)
        warped = padded.transform(
            (W, H), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR, fillcolor=_white(image)
        )
        return warped.resize((w, h), Image.Resampling.BILINEAR)

    def __repr__(self) -> str:
        return f"RandomProjective(max_offset={self.max_offset})"


# ------------------------------------------------------------------------------------ morphology


def _rank_filter(image: Image.Image, kh: int, kw: int, op: Callable) -> Image.Image:
    """Min or max over a ``kh`` x ``kw`` rectangle (Pillow's Min/MaxFilter are square and odd only)."""
    if kh == 1 and kw == 1:
        return image.copy()
    a = np.asarray(image)
    top, left = (kh - 1) // 2, (kw - 1) // 2
    pad = [(top, kh - 1 - top), (left, kw - 1 - left)] + [(0, 0)] * (a.ndim - 2)
    p = np.pad(a, pad, mode="edge")
    h, w = a.shape[:2]
    out = p[0:h, 0:w].copy()
    for i in range(kh):
        for j in range(kw):
            if i or j:
                op(out, p[i : i + h, j : j + w], out=out)
    return Image.fromarray(out, mode=image.mode)


class DilationErosion:
    """50/50 thicker or thinner strokes, with a kernel of h, w ~ U{1..3} each (SPAN).

    Dark ink on white paper: thickening the ink is a minimum filter, thinning it a maximum filter.
    """

    def __init__(self, kernel: tuple[int, int] = (1, 3)) -> None:
        self.kernel = kernel

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        _check_mode(image)
        kh, kw = rng.randint(*self.kernel), rng.randint(*self.kernel)
        thicken = rng.random() < 0.5
        return _rank_filter(image, kh, kw, np.minimum if thicken else np.maximum)

    def __repr__(self) -> str:
        return f"DilationErosion(kernel={self.kernel})"


# ----------------------------------------------------------------------------------------- tone


class Contrast:
    """Blend with the mean gray by a factor ~ U(low, high) (same formula as torchvision's)."""

    def __init__(self, factor: tuple[float, float] = GENTLE_CONTRAST) -> None:
        self.factor = factor

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        return ImageEnhance.Contrast(image).enhance(rng.uniform(*self.factor))

    def __repr__(self) -> str:
        return f"Contrast(factor={self.factor})"


class Brightness:
    """Multiply every pixel by a factor ~ U(low, high): below 1 the paper turns gray, then black."""

    def __init__(self, factor: tuple[float, float] = GENTLE_BRIGHTNESS) -> None:
        self.factor = factor

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        return ImageEnhance.Brightness(image).enhance(rng.uniform(*self.factor))

    def __repr__(self) -> str:
        return f"Brightness(factor={self.factor})"


class Invert:
    """Sign flipping: 255 - x (light ink on dark paper)."""

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        _check_mode(image)
        return ImageOps.invert(image)

    def __repr__(self) -> str:
        return "Invert()"
