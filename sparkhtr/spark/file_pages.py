"""Files to pages, row by row: what ``BinaryToImage`` / ``PdfToImage`` compute, and what lets the
recognizer read the files itself.

Why the two steps: a file's pages are listed first (``list_pages``: headers only, cheap), and
each page is decoded on its own (``read_file_page``). Spark evaluates lazily, so a page's pixels
are decoded only when a later stage reads the image column. The recognizer, when its image
column comes straight from one of these stages (``PageSource``, carried in the column's
metadata), reads the encoded file and its page number instead: a gray line of 1,500 x 96 pixels
is 25 KB as PNG and 430 KB as a BGR struct, and every byte of the struct would cross from Python
to the JVM and back. Both paths call the same functions, so texts and error messages are the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from PIL import Image

from sparkhtr.io.documents import count_pages, is_pdf, read_page
from sparkhtr.io.image import ImageError, ImageLimits
from sparkhtr.spark.image_struct import ImageType

__all__ = ["PageSource", "list_pages", "page_source", "read_file_page", "METADATA_KEY"]

METADATA_KEY = "sparkhtr_pages"


@dataclass(frozen=True)
class PageSource:
    """Where a stage's image column came from: enough to read the same pages again from the files."""

    stage: str  # the uid of the stage that made the image column (also tags its content and page columns)
    content: str  # the binary column of encoded files
    origin: str | None  # the column naming each file, or None
    pagenum: str  # the page number column (null for a file that could not be read)
    error: str  # the stage's error column
    image_type: int
    max_pixels: int
    dpi: int
    pdf: bool  # PDFs are rendered (PdfToImage); False: a PDF is an error row (BinaryToImage)

    def metadata(self) -> dict[str, Any]:
        return {METADATA_KEY: asdict(self)}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None) -> PageSource | None:
        fields = (metadata or {}).get(METADATA_KEY)
        if not isinstance(fields, dict):
            return None
        try:
            return cls(**fields)
        except TypeError:  # written by another version: read the image column instead
            return None

    def columns(self, present: list[str]) -> Any:
        """The struct (content, origin, pagenum) that ``recognize_files_frame`` reads; needs pyspark."""
        from pyspark.sql import functions as F

        origin = F.col(self.origin) if self.origin in present else F.lit(None)
        return F.struct(
            F.col(self.content).alias("content"),
            origin.cast("string").alias("origin"),
            F.col(self.pagenum).alias("pagenum"),
        )

    def tag(self) -> dict[str, Any]:
        """The metadata put on the content and page columns: a later stage that replaces either drops it."""
        return {METADATA_KEY: {"stage": self.stage}}


def _label(origin: Any) -> str:
    return origin if isinstance(origin, str) and origin else "<no origin>"


def list_pages(content: bytes | None, origin: str | None, pdf: bool) -> list[tuple[int | None, str | None]]:
    """A file's pages as (page number, None), or one (None, message) when the file as a whole cannot
    be read; never empty. No pixels are decoded."""
    label = _label(origin)
    try:
        if content is None:
            raise ImageError(f"{label}: no file content (null)")
        if not pdf and is_pdf(content):
            raise ImageError(f"{label}: a PDF, not an image; read PDFs with PdfToImage (one row per page)")
        return [(number, None) for number in range(count_pages(content, origin if isinstance(origin, str) else None))]
    except ImageError as exc:
        return [(None, str(exc))]
    except Exception as exc:  # one odd file must not fail the job
        return [(None, f"{label}: {type(exc).__name__}: {exc}")]


def read_file_page(
    content: bytes | None, origin: str | None, pagenum: int | None, limits: ImageLimits, dpi: int, pdf: bool
) -> tuple[Image.Image | None, str | None]:
    """(the page's image, None) or (None, the message); a row without a page number gets its file's message."""
    label = _label(origin)
    if pagenum is None or content is None or (not pdf and is_pdf(content)):
        listed = list_pages(content, origin, pdf)
        return None, listed[0][1] or f"{label}: no page number"
    try:
        return read_page(content, int(pagenum), origin if isinstance(origin, str) else None, limits, dpi), None
    except ImageError as exc:
        return None, str(exc)
    except Exception as exc:  # one odd page must not fail the job
        return None, f"{label}: {type(exc).__name__}: {exc}"


def page_source(schema: Any, image_col: str) -> PageSource | None:
    """The ``PageSource`` of a DataFrame's image column when its files can be read instead: the column
    came from ``BinaryToImage`` / ``PdfToImage`` and neither the content nor the page column has been
    replaced since (each still carries that stage's tag). A binarized image type (0 or 255 per pixel)
    is not what the file holds, so it is read from the struct."""
    names = schema.names
    source = PageSource.from_metadata(schema[image_col].metadata) if image_col in names else None
    if source is None or source.image_type == ImageType.TYPE_BYTE_BINARY:
        return None
    for column in (source.content, source.pagenum):
        if column not in names or (schema[column].metadata.get(METADATA_KEY) or {}).get("stage") != source.stage:
            return None
    if schema[source.content].dataType.typeName() != "binary":
        return None
    return source
