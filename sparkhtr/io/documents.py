"""Documents of several pages: PDF (rendered with pypdfium2, the ``pdf`` extra) and multi-page TIFF.

Why a reader of its own: ``load_image`` reads one picture, and Pillow opens a multi-page TIFF at
its first page, so the other pages were silently lost. ``read_pages`` yields every page, each
through ``load_image`` (8-bit, EXIF, transparency and size rules as for any image), and a page that
cannot be read gets its own error without losing the others.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageSequence

from sparkhtr.io.image import ImageError, ImageLimits, load_image

__all__ = ["DEFAULT_DPI", "Page", "count_pages", "is_pdf", "read_page", "read_pages"]

DEFAULT_DPI = 300  # Spark OCR's PdfToImage renders at 300 dpi by default
PDF_MAGIC = b"%PDF-"


@dataclass
class Page:
    """One page: ``image`` (None when it failed; ``info["dpi"]`` when known), its 0-based ``number``,
    ``error`` (None when read)."""

    number: int
    image: Image.Image | None
    error: str | None = None


def is_pdf(content: bytes) -> bool:
    # Writers may put a few bytes of junk before the header; readers accept it within the first 1 KB.
    return PDF_MAGIC in bytes(content[:1024])


def read_pages(
    content: bytes, name: str | None = None, limits: ImageLimits = ImageLimits(), dpi: int = DEFAULT_DPI
) -> Iterator[Page]:
    """Every page of a PDF (rendered at ``dpi``), of a multi-page TIFF, or the one page of another image.

    Raises ``ImageError`` (naming the file) when the file as a whole cannot be read; a single bad
    page is yielded with its error instead.
    """
    label = name or "<bytes>"
    if not content:
        raise ImageError(f"{label}: empty file")
    if is_pdf(content):
        with _open_pdf(bytes(content), label) as document:
            for number in range(len(document)):
                yield _page(number, label, lambda n=number: _render_pdf_page(document, n, label, limits, dpi))
        return
    document, frames = _open_frames(content)
    if document is None or frames <= 1:
        yield Page(0, load_image(bytes(content), limits, name=name))
        return
    for number, frame in enumerate(ImageSequence.Iterator(document)):
        # copy(): the iterator reuses one object; load_image checks size, depth and mode per page.
        yield _page(number, label, lambda f=frame, n=number: load_image(f.copy(), limits, name=f"{label} page {n + 1}"))


def count_pages(content: bytes, name: str | None = None) -> int:
    """How many pages ``read_pages`` yields, from the file's header and index alone (no pixels decoded).

    Raises ``ImageError`` (naming the file, in ``read_pages``' words) when the file as a whole cannot
    be read. A file that opens but fails to decode counts its pages: ``read_page`` reports it.
    """
    label = name or "<bytes>"
    if not content:
        raise ImageError(f"{label}: empty file")
    if is_pdf(content):
        with _open_pdf(bytes(content), label) as document:
            return len(document)
    document, frames = _open_frames(content)
    if document is None:  # not an image: load_image says so in its usual words
        load_image(bytes(content), ImageLimits(), name=name)
    return max(1, frames)


def read_page(
    content: bytes, number: int, name: str | None = None, limits: ImageLimits = ImageLimits(), dpi: int = DEFAULT_DPI
) -> Image.Image:
    """Page ``number`` (from 0) of a file, read as ``read_pages`` reads it; ``ImageError`` names the file and page."""
    label = name or "<bytes>"
    if not content:
        raise ImageError(f"{label}: empty file")
    if is_pdf(content):
        with _open_pdf(bytes(content), label) as document:
            return _page_or_error(number, label, lambda: _render_pdf_page(document, number, label, limits, dpi))
    document, frames = _open_frames(content)
    if document is None or frames <= 1:
        if number != 0:
            raise ImageError(f"{label}: has one page, not a page {number + 1}")
        return load_image(bytes(content), limits, name=name)
    if not 0 <= number < frames:
        raise ImageError(f"{label}: has {frames} pages, not a page {number + 1}")

    def frame() -> Image.Image:
        document.seek(number)
        return load_image(document.copy(), limits, name=f"{label} page {number + 1}")

    return _page_or_error(number, label, frame)


def _page(number: int, label: str, read: Callable[[], Image.Image]) -> Page:
    try:
        return Page(number, _page_or_error(number, label, read))
    except ImageError as exc:
        return Page(number, None, str(exc))


def _page_or_error(number: int, label: str, read: Callable[[], Image.Image]) -> Image.Image:
    try:
        return read()
    except ImageError:
        raise
    except Exception as exc:  # one odd page must not lose the others: an ImageError naming it
        raise ImageError(f"{label} page {number + 1}: {type(exc).__name__}: {exc}") from exc


def _open_frames(content: bytes) -> tuple[Image.Image | None, int]:
    """The file opened lazily (header only) and its frame count; (None, 1) when Pillow cannot open it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # load_image applies our limit
            document = Image.open(io.BytesIO(bytes(content)))
            return document, getattr(document, "n_frames", 1)
    except Exception:
        return None, 1


@contextmanager
def _open_pdf(content: bytes, label: str) -> Iterator[Any]:
    try:
        import pypdfium2
    except ImportError as exc:
        raise ImageError(f"{label}: a PDF; reading PDFs needs the pdf extra: pip install 'sparkhtr[pdf]'") from exc
    try:
        document = pypdfium2.PdfDocument(content)
    except Exception as exc:  # pypdfium2 raises PdfiumError for broken or encrypted files
        raise ImageError(f"{label}: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    try:
        yield document
    finally:
        document.close()


def _render_pdf_page(document: Any, number: int, label: str, limits: ImageLimits, dpi: int) -> Image.Image:
    page_label = f"{label} page {number + 1}"
    if not 0 <= number < len(document):
        raise ImageError(f"{label}: has {len(document)} pages, not a page {number + 1}")
    page = document[number]
    width, height = page.get_size()
    scale = dpi / 72  # PDF sizes are in points, 72 to the inch
    pixels = int(width * scale) * int(height * scale)
    if pixels > limits.max_pixels:  # refused before rendering, as images are before decoding
        raise ImageError(
            f"{page_label}: {pixels:,} pixels at {dpi} dpi is over the pixel limit "
            f"of {limits.max_pixels:,}; render at a lower resolution"
        )
    image = load_image(page.render(scale=scale).to_pil(), limits, name=page_label)
    image.info["dpi"] = (dpi, dpi)  # the struct's resolution
    return image
