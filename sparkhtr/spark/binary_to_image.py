"""``BinaryToImage``: file bytes (``spark.read.format("binaryFile")``) -> Spark OCR's image struct.

Decoding goes through ``sparkhtr.io.image.load_image``, so every Pillow format, EXIF rotation,
16-bit scans and the pixel limit behave as in the Python API, and its messages (which name the
file) land in ``errorCol``. A file that cannot be decoded keeps its row: the image struct keeps
its origin with ``mode`` -1 and no data, which the recognizer turns into an error row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import BinaryType, StringType, StructField, StructType

from sparkhtr.io.image import DEFAULT_MAX_PIXELS, ImageError, ImageLimits, load_image
from sparkhtr.spark.image_struct import IMAGE_FIELDS, IMAGE_SCHEMA, ImageType, encode_image, invalid_image
from sparkhtr.spark.params import HasErrorCol, HasImageType, HasInputOutputCols, HasMaxPixels, HasOriginCol
from sparkhtr.spark.python_env import stage_python

__all__ = ["BinaryToImage", "decode_files"]

_DECODED_SCHEMA = StructType(IMAGE_SCHEMA.fields + [StructField("error", StringType(), True)])
_COLUMNS = [*IMAGE_FIELDS, "error"]


def decode_files(contents: pd.Series, origins: pd.Series, image_type: int, limits: ImageLimits) -> pd.DataFrame:
    """Decode one Arrow batch of files; a file that fails gets an invalid struct and its message."""
    rows: list[dict[str, Any]] = []
    for content, origin in zip(contents, origins, strict=True):
        origin = origin if isinstance(origin, str) else None
        try:
            if content is None:
                raise ImageError(f"{origin or '<no origin>'}: no file content (null)")
            image = load_image(content, limits, name=origin)
            rows.append({**encode_image(image, origin, image_type), "error": None})
        except ImageError as exc:
            rows.append({**invalid_image(origin), "error": str(exc)})
        except Exception as exc:  # one odd file must not fail the job
            rows.append({**invalid_image(origin), "error": f"{origin or '<no origin>'}: {type(exc).__name__}: {exc}"})
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    for name in ("height", "width", "nChannels", "mode", "resolution"):
        frame[name] = frame[name].astype("Int32")
    return frame


def _decode_udf(image_type: int, max_pixels: int) -> Any:
    @pandas_udf(_DECODED_SCHEMA)  # type: ignore[call-overload]
    def decode(batches: Iterator[tuple[pd.Series, pd.Series]]) -> Iterator[pd.DataFrame]:
        limits = ImageLimits(max_pixels=max_pixels)
        for contents, origins in batches:
            yield decode_files(contents, origins, image_type, limits)

    return decode


class BinaryToImage(
    Transformer,
    HasInputOutputCols,
    HasOriginCol,
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
        imageType: int = ImageType.TYPE_3BYTE_BGR,
        errorCol: str = "image_error",
        maxPixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        super().__init__()
        self._setDefault(
            inputCol="content",
            outputCol="image",
            originCol="path",
            imageType=int(ImageType.TYPE_3BYTE_BGR),
            errorCol="image_error",
            maxPixels=DEFAULT_MAX_PIXELS,
        )
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        input_col = self.getInputCol()
        if input_col not in dataset.columns:
            raise ValueError(f"BinaryToImage: no column {input_col!r} (columns: {', '.join(dataset.columns)})")
        if not isinstance(dataset.schema[input_col].dataType, BinaryType):
            raise ValueError(
                f"BinaryToImage: column {input_col!r} is {dataset.schema[input_col].dataType.simpleString()}, "
                "not binary; read files with spark.read.format('binaryFile')"
            )
        origin_col = self.getOriginCol()
        origin: Column = (
            F.col(origin_col).cast("string") if origin_col in dataset.columns else F.lit(None).cast("string")
        )
        decode = _decode_udf(int(ImageType(self.getImageType())), self.getMaxPixels())
        tmp = f"__sparkhtr_{self.uid}"
        with stage_python(dataset.sparkSession):  # the UDF takes the workers' Python when it is applied
            decoded = dataset.withColumn(tmp, decode(F.col(input_col), origin))
        image = F.struct(*[F.col(tmp).getField(name).alias(name) for name in IMAGE_FIELDS])
        return (
            decoded.withColumn(self.getOutputCol(), image)
            .withColumn(self.getErrorCol(), F.col(tmp).getField("error"))
            .drop(tmp)
        )
