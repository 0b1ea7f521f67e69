"""Documents of several pages: PDF (rendered with pypdfium2, the ``pdf`` extra) and multi-page TIFF.

Why a reader of its own: ``load_image`` reads one picture, and Pillow opens a multi-page TIFF at
its first page, so the other pages were silently lost. ``read_pages`` yields every page, each
through ``load_image`` (8-bit, EXIF, transparency and size rules as for any image), and a page that
cannot be read gets its own error without losing the others.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageSequence

from sparkhtr.io.image import ImageError, ImageLimits, load_image

__all__ = ["DEFAULT_DPI", "Page", "is_pdf", "read_pages"]

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
        yield from _pdf_pages(bytes(content), label, limits, dpi)
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # load_image applies our limit
            document = Image.open(io.BytesIO(bytes(content)))
            frames = getattr(document, "n_frames", 1)
    except Exception:  # not an image: load_image below says so in its usual words
        document, frames = None, 1
    if document is None or frames <= 1:
        yield Page(0, load_image(bytes(content), limits, name=name))
        return
    for number, frame in enumerate(ImageSequence.Iterator(document)):
        page_label = f"{label} page {number + 1}"
        try:
            # copy(): the iterator reuses one object; load_image checks size, depth and mode per page.
            yield Page(number, load_image(frame.copy(), limits, name=page_label))
        except ImageError as exc:
            yield Page(number, None, str(exc))
        except Exception as exc:  # one odd page must not lose the others
            yield Page(number, None, f"{page_label}: {type(exc).__name__}: {exc}")


def _pdf_pages(content: bytes, label: str, limits: ImageLimits, dpi: int) -> Iterator[Page]:
    try:
        import pypdfium2
    except ImportError as exc:
        raise ImageError(f"{label}: a PDF; reading PDFs needs the pdf extra: pip install 'sparkhtr[pdf]'") from exc
    try:
        document = pypdfium2.PdfDocument(content)
    except Exception as exc:  # pypdfium2 raises PdfiumError for broken or encrypted files
        raise ImageError(f"{label}: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    scale = dpi / 72  # PDF sizes are in points, 72 to the inch
    try:
        for number in range(len(document)):
            page_label = f"{label} page {number + 1}"
            try:
                page = document[number]
                width, height = page.get_size()
                pixels = int(width * scale) * int(height * scale)
                if pixels > limits.max_pixels:  # refused before rendering, as images are before decoding
                    raise ImageError(
                        f"{page_label}: {pixels:,} pixels at {dpi} dpi is over the pixel limit "
                        f"of {limits.max_pixels:,}; render at a lower resolution"
                    )
                image = load_image(page.render(scale=scale).to_pil(), limits, name=page_label)
                image.info["dpi"] = (dpi, dpi)  # the struct's resolution
                yield Page(number, image)
            except ImageError as exc:
                yield Page(number, None, str(exc))
            except Exception as exc:  # one bad page must not lose the others
                yield Page(number, None, f"{page_label}: {type(exc).__name__}: {exc}")
    finally:
        document.close()
