"""``BinaryToImage``: file bytes (``spark.read.format("binaryFile")``) -> Spark OCR's image struct.

Decoding goes through ``sparkhtr.io.image.load_image``, so every Pillow format, EXIF rotation,
16-bit scans and the pixel limit behave as in the Python API, and its messages (which name the
file) land in ``errorCol``. A file that cannot be decoded keeps its row: the image struct keeps
its origin with ``mode`` -1 and no data, which the recognizer turns into an error row.

A multi-page TIFF gives one row per page (``pageNumCol``, from 0); Pillow alone would open its
first page and drop the others without a word. A PDF gets an error row that points to
``PdfToImage``. The decoding is ``PdfToImage``'s, with PDFs left out.
"""

from __future__ import annotations

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame

from sparkhtr.io.documents import DEFAULT_DPI
from sparkhtr.io.image import DEFAULT_MAX_PIXELS
from sparkhtr.spark.image_struct import ImageType
from sparkhtr.spark.params import HasErrorCol, HasImageType, HasInputOutputCols, HasMaxPixels, HasOriginCol
from sparkhtr.spark.pdf_to_image import HasPageNumCol, pages_as_rows

__all__ = ["BinaryToImage"]


class BinaryToImage(
    Transformer,
    HasInputOutputCols,
    HasOriginCol,
    HasPageNumCol,
    HasImageType,
    HasErrorCol,
    HasMaxPixels,
    DefaultParamsReadable,
    DefaultParamsWritable,
):
    """Decode a binary column of image files into an image struct column (Spark OCR's schema).

    >>> BinaryToImage().setInputCol("content").setOutputCol("image")  # doctest: +SKIP
    """

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: str = "content",
        outputCol: str = "image",
        originCol: str = "path",
        pageNumCol: str = "pagenum",
        imageType: int = ImageType.TYPE_3BYTE_BGR,
        errorCol: str = "image_error",
        maxPixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        super().__init__()
        self._setDefault(
            inputCol="content",
            outputCol="image",
            originCol="path",
            pageNumCol="pagenum",
            imageType=int(ImageType.TYPE_3BYTE_BGR),
            errorCol="image_error",
            maxPixels=DEFAULT_MAX_PIXELS,
        )
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return pages_as_rows(self, dataset, DEFAULT_DPI, pdf=False)
