"""Spark ML stages: ``BinaryToImage`` and ``ImageHandwrittenTextRecognizer``, with Spark OCR's names.

Why a separate subpackage: pyspark, pandas and pyarrow are the optional ``spark`` extra, so the
rest of the library never imports this package; only users of Spark do.

>>> from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer  # doctest: +SKIP
"""

from sparkhtr.spark.binary_to_image import BinaryToImage
from sparkhtr.spark.image_struct import ImageType
from sparkhtr.spark.recognizer import ImageHandwrittenTextRecognizer

__all__ = ["BinaryToImage", "ImageHandwrittenTextRecognizer", "ImageType"]
