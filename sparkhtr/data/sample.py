"""The one record every dataset reader yields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

__all__ = ["LineSample", "LazyImage"]

# A zero-argument callable that returns the line image, so a reader can list thousands of lines
# without decoding them; a failure to load raises ``sparkhtr.io.image.ImageError`` naming the id.
LazyImage = Callable[[], Image.Image]


@dataclass
class LineSample:
    id: str
    text: str
    split: str  # "train", "val" or "test"
    load: LazyImage
    source: Path | None = None  # the file the line comes from, for error messages
    group: str | None = None  # the document or writer the line belongs to (a manifest's ``group`` column)

    def image(self) -> Image.Image:
        return self.load()
