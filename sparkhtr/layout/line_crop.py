"""Cut a text line out of a page by its outline, the way the bundled model's training lines were cut.

Why not the outline's bounding box: on a page, a line's box also holds the ascenders and descenders
of the lines above and below, and the network reads them as letters. The collections the bundled
model learnt from were cut as ``cut_line`` does (their LICENSE-and-SOURCE.md: the polygon's box
plus 6 px, pixels outside the dilated polygon painted with the paper colour). On the 29 CREMMA pages
(``benchmarks/pages.py``, stage 14) that took the page CER from 32.9 to 26.5 % with the lines
``find_page_lines`` finds, and from 29.0 to 22.1 % on the ground truth's own polygons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["LINE_PAD", "cut_line", "outline_box"]

LINE_PAD = 6  # page pixels kept around the outline, and by which it is widened before masking
PAPER_PERCENTILE = 90  # the paper's colour: this percentile of the pixels inside the outline, per band


def outline_box(
    polygon: Sequence[tuple[float, float]], image_size: tuple[int, int], pad: int = LINE_PAD
) -> tuple[int, int, int, int] | None:
    """The outline's box widened by ``pad`` and clipped to the image (right/bottom exclusive); None
    when nothing of it lies on the image."""
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    left, top = max(0, math.floor(min(xs)) - pad), max(0, math.floor(min(ys)) - pad)
    right = min(image_size[0], math.floor(max(xs)) + 1 + pad)
    bottom = min(image_size[1], math.floor(max(ys)) + 1 + pad)
    if right <= left or bottom <= top:
        return None
    return left, top, right, bottom


def cut_line(image: Image.Image, polygon: Sequence[tuple[float, float]], pad: int = LINE_PAD) -> Image.Image:
    """The line inside ``polygon`` (page pixels): its box plus ``pad``, with every pixel further than
    ``pad`` outside the outline painted the paper's colour.

    An outline of fewer than 3 points, or an image neither gray nor RGB, is cut by its padded box
    alone. Raises ValueError when the outline lies wholly off the image."""
    box = outline_box(polygon, image.size, pad)
    if box is None:
        raise ValueError(f"line outline {list(polygon)[:4]}... lies outside the {image.width}x{image.height} image")
    crop = image.crop(box)
    if len(polygon) < 3 or crop.mode not in ("L", "RGB"):
        return crop
    shifted = [(x - box[0], y - box[1]) for x, y in polygon]
    mask = Image.new("L", crop.size, 0)
    draw = ImageDraw.Draw(mask)
    draw.polygon(shifted, fill=255)
    if pad:
        # The outline drawn 2 * pad + 1 wide reaches pad pixels out, and a disc on each corner rounds
        # the joints (Pillow's own round joints leave some corners flat): a dilation by pad, cheaply.
        draw.line([*shifted, shifted[0]], fill=255, width=2 * pad + 1)
        for x, y in shifted:
            draw.ellipse((x - pad, y - pad, x + pad, y + pad), fill=255)
    inside = np.asarray(mask) > 0
    if not inside.any() or inside.all():
        return crop
    pixels = np.asarray(crop)
    paper = np.percentile(pixels[inside], PAPER_PERCENTILE, axis=0)
    painted = np.where(inside if pixels.ndim == 2 else inside[..., None], pixels, np.round(paper).astype(np.uint8))
    return Image.fromarray(painted.astype(np.uint8), crop.mode)
