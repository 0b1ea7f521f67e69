"""Spark ML stages with Spark OCR's names: ``BinaryToImage``, ``PdfToImage``, ``ImageHandwrittenTextRecognizer``,
and for whole pages ``ImageTextDetector`` (``ImageTextDetectorV2``), ``ImageToTextV2`` and ``ImageDrawRegions``.

Why a separate subpackage: pyspark, pandas and pyarrow are the optional ``spark`` extra, so the
rest of the library never imports this package; only users of Spark do.

>>> from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer  # doctest: +SKIP
"""

import os
import sys

# Spark starts its Python workers with `python3` from PATH unless told otherwise; run from a
# virtual environment that is not activated, that Python has no torch or sparkhtr and every
# row fails. When nothing is set, use this interpreter (it takes effect for sessions created
# after this import; on a cluster set PYSPARK_PYTHON or spark.pyspark.python yourself).
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from sparkhtr.spark.binary_to_image import BinaryToImage  # noqa: E402
from sparkhtr.spark.detector import ImageTextDetector, ImageTextDetectorV2  # noqa: E402
from sparkhtr.spark.draw_regions import ImageDrawRegions  # noqa: E402
from sparkhtr.spark.image_struct import ImageType  # noqa: E402
from sparkhtr.spark.image_to_text import ImageToTextV2  # noqa: E402
from sparkhtr.spark.page_params import Color  # noqa: E402
from sparkhtr.spark.pdf_to_image import PdfToImage  # noqa: E402
from sparkhtr.spark.recognizer import ImageHandwrittenTextRecognizer  # noqa: E402
from sparkhtr.spark.regions import OcrOutputFormat  # noqa: E402

# ``from sparkhtr.spark import *`` stands in for Spark OCR's ``sparkocr.transformers`` and ``sparkocr.enums``.
__all__ = [
    "BinaryToImage",
    "Color",
    "ImageDrawRegions",
    "ImageHandwrittenTextRecognizer",
    "ImageTextDetector",
    "ImageTextDetectorV2",
    "ImageToTextV2",
    "ImageType",
    "OcrOutputFormat",
    "PdfToImage",
]
