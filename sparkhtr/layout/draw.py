"""A picture of a read paragraph: the image with its line boxes, and each line's text beside it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sparkhtr.layout.lines import LineBox

__all__ = ["caption_font", "draw_lines"]

BOX_COLOURS = [(0, 90, 200), (200, 60, 0)]  # alternate, so touching boxes stay apart


def caption_font(size: int = 15) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's built-in font has no accented letters; DejaVu (on most Linux systems) has them all.
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def draw_lines(image: Image.Image, boxes: Sequence[LineBox], texts: Sequence[str], path: str | Path) -> Path:
    """Save a PNG: ``image`` with each box outlined and numbered on the left, the texts on the right
    at their lines' heights."""
    page = image.convert("RGB")
    canvas = Image.new("RGB", (page.width * 2, page.height), "white")
    canvas.paste(page, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for k, (box, text) in enumerate(zip(boxes, texts)):
        colour = BOX_COLOURS[k % 2]
        draw.rectangle((box.x0, box.y0, box.x1 - 1, box.y1 - 1), outline=colour, width=2)
        font = caption_font(max(10, min(28, (box.y1 - box.y0) // 3)))
        draw.text((page.width + 10, (box.y0 + box.y1) // 2), f"{k + 1}. {text}", fill=colour, font=font, anchor="lm")
    canvas.save(path)
    return Path(path)
