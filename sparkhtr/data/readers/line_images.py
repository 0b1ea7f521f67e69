"""Line images, read only when asked: a line that is its own file (IAM), or a line box cropped
from a page scan (RIMES, PAGE, ALTO), and the read-time check of those boxes against their pages.

The loaders are small picklable callables, so sample lists can cross to DataLoader workers.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from sparkhtr.io.image import PAGE_LIMITS, ImageError, ImageLimits, load_image
from sparkhtr.layout.geometry import Box, fit_box, ref_scales
from sparkhtr.layout.line_crop import cut_line

__all__ = ["probe_image", "LineFile", "PageCrop", "PageChecker"]


def probe_image(path: Path, limits: ImageLimits = ImageLimits()) -> tuple[int, int] | str:
    """Upright (width, height) from the header alone, or why ``load_image`` would refuse the file."""
    try:
        if not path.is_file():
            return "no such file"
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                orientation = image.getexif().get(0x0112, 1)
    except Image.DecompressionBombError:
        return "image is over the pixel limit"
    except UnidentifiedImageError:
        return "not a readable image (unknown format)"
    except (OSError, ValueError, SyntaxError) as exc:
        return f"cannot read image header: {exc}"
    if orientation in (5, 6, 7, 8):  # EXIF rotations by 90 degrees: load_image turns the image upright
        width, height = height, width
    if width * height > limits.max_pixels:
        return f"{width}x{height} image is over the {limits.max_pixels:,}-pixel limit"
    if min(width, height) < limits.min_side:
        return f"{width}x{height} image is too small"
    return (width, height)


_PAGE_CACHE: OrderedDict[tuple[str, int, int], Image.Image] = OrderedDict()
_PAGE_CACHE_SIZE = 4  # lines of one page are usually loaded together; a few decoded pages cover that
_PAGE_LOCK = threading.Lock()


def _load_page(path: Path) -> Image.Image:
    try:
        stat = path.stat()
    except OSError:
        raise ImageError(f"{path}: no such file") from None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _PAGE_LOCK:
        if key in _PAGE_CACHE:
            _PAGE_CACHE.move_to_end(key)
            return _PAGE_CACHE[key]
    page = load_image(path, PAGE_LIMITS)
    try:
        page.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{path}: cannot decode image: {exc}") from exc
    with _PAGE_LOCK:
        _PAGE_CACHE[key] = page
        while len(_PAGE_CACHE) > _PAGE_CACHE_SIZE:
            _PAGE_CACHE.popitem(last=False)
    return page


@dataclass(frozen=True)
class LineFile:
    """Loads a line that is its own image file (IAM)."""

    path: Path
    sample_id: str

    def __call__(self) -> Image.Image:
        try:
            image = load_image(self.path)
            image.load()
            return image
        except ImageError as exc:
            raise ImageError(f"{self.sample_id}: {exc}") from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageError(f"{self.sample_id}: {self.path}: cannot decode image: {exc}") from exc


@dataclass(frozen=True)
class PageCrop:
    """Loads a page image and cuts one line out of it (RIMES, PAGE, ALTO).

    ``box`` is (left, top, right, bottom) with right/bottom exclusive, in the page's pixel coordinates, or in a
    ``ref_size`` coordinate space (ALTO in mm10/inch1200) that is scaled onto the actual image size. A line with a
    ``polygon`` (same coordinates) is cut by it, as ``sparkhtr.layout.line_crop.cut_line`` cuts the lines of a
    page at inference, so that a model trains on the crops it will read; one without, by its box.
    """

    path: Path
    box: Box
    sample_id: str
    ref_size: tuple[float, float] | None = None
    polygon: tuple[tuple[float, float], ...] = ()

    def __call__(self) -> Image.Image:
        try:
            page = _load_page(self.path)
        except ImageError as exc:
            raise ImageError(f"{self.sample_id}: {exc}") from exc
        crop = fit_box(self.box, page.size, self.ref_size)
        if crop is None:
            raise ImageError(
                f"{self.sample_id}: {self.path}: line box {self.box} is outside the "
                f"{page.size[0]}x{page.size[1]} page or too small"
            )
        if not self.polygon:
            return page.crop(crop)
        scale_x, scale_y = ref_scales(page.size, self.ref_size)
        try:
            return cut_line(page, [(x * scale_x, y * scale_y) for x, y in self.polygon])
        except ValueError as exc:  # a box on the page but its outline off it (a wrong ALTO page size)
            raise ImageError(f"{self.sample_id}: {self.path}: {exc}") from exc


class PageChecker:
    """Read-time check of page lines (``check_images=True``): probes each page header once, then each box.

    ``problem`` returns None for a usable line, else ``(reason, detail)`` for the skip report.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._probed: dict[Path, tuple[int, int] | str] = {}

    def problem(self, path: Path, box: Box, ref_size: tuple[float, float] | None = None) -> tuple[str, str] | None:
        if not self.enabled:
            return None
        if path not in self._probed:
            self._probed[path] = probe_image(path, PAGE_LIMITS)
        size = self._probed[path]
        if isinstance(size, str):
            return ("missing-image" if size == "no such file" else "bad-image", size)
        if fit_box(box, size, ref_size) is None:
            return ("bad-box", f"box {box} is outside the {size[0]}x{size[1]} page or too small")
        return None
