"""``PdfToImage``: one row per page of each PDF or multi-page TIFF, as Spark OCR's stage of that name.

Why a list that is then exploded: a pandas UDF returns one value per input row, and a file's
page numbers are one value (an array) that ``explode`` turns into rows while keeping the row's
other columns; each page is then decoded by a second UDF (``pages_as_rows``). A file that cannot
be read keeps one row, with a null page number and its message in ``errorCol``; a page that
cannot be read gets its own error row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import ArrayType, BinaryType, IntegerType, StringType, StructField, StructType

from sparkhtr.io.documents import DEFAULT_DPI
from sparkhtr.io.image import DEFAULT_MAX_PIXELS, ImageLimits
from sparkhtr.spark.file_pages import PageSource, list_pages, read_file_page
from sparkhtr.spark.image_struct import IMAGE_FIELDS, IMAGE_SCHEMA, ImageType, encode_image, invalid_image
from sparkhtr.spark.params import HasErrorCol, HasImageType, HasInputOutputCols, HasMaxPixels, HasOriginCol
from sparkhtr.spark.python_env import stage_python

__all__ = ["PdfToImage", "HasPageNumCol", "pages_as_rows"]

PAGE_NUMBER_SCHEMA = StructType([StructField("pagenum", IntegerType(), True), StructField("error", StringType(), True)])
PAGE_IMAGE_SCHEMA = StructType(IMAGE_SCHEMA.fields + [StructField("error", StringType(), True)])


class HasPageNumCol(Params):
    pageNumCol: Param[str] = Param(
        Params._dummy(), "pageNumCol", "column for the page's number in its file, from 0 (null when the file failed)",
        typeConverter=TypeConverters.toString,
    )

    def getPageNumCol(self) -> str:
        return self.getOrDefault(self.pageNumCol)

    def setPageNumCol(self, value: str) -> HasPageNumCol:
        return self._set(pageNumCol=value)


def _page_list_udf(pdf: bool) -> Any:
    @pandas_udf(ArrayType(PAGE_NUMBER_SCHEMA))  # type: ignore[call-overload]
    def page_list(batches: Iterator[tuple[pd.Series, pd.Series]]) -> Iterator[pd.Series]:
        for contents, origins in batches:
            yield pd.Series(
                [
                    [{"pagenum": n, "error": e} for n, e in list_pages(c, o if isinstance(o, str) else None, pdf)]
                    for c, o in zip(contents, origins, strict=True)
                ]
            )

    return page_list


def _page_images_udf(image_type: int, max_pixels: int, dpi: int, pdf: bool) -> Any:
    @pandas_udf(PAGE_IMAGE_SCHEMA)  # type: ignore[call-overload]
    def page_images(batches: Iterator[tuple[pd.Series, pd.Series, pd.Series]]) -> Iterator[pd.DataFrame]:
        limits = ImageLimits(max_pixels=max_pixels)
        for contents, origins, pagenums in batches:
            rows = []
            for content, origin, pagenum in zip(contents, origins, pagenums, strict=True):
                origin = origin if isinstance(origin, str) else None
                page = None if pd.isna(pagenum) else int(pagenum)
                image, error = read_file_page(content, origin, page, limits, dpi, pdf)
                if image is None:
                    rows.append({**invalid_image(origin), "error": error})
                else:
                    rows.append({**encode_image(image, origin, image_type), "error": None})
            yield pd.DataFrame(rows, columns=[f.name for f in PAGE_IMAGE_SCHEMA.fields])

    return page_images


def pages_as_rows(stage: Any, dataset: DataFrame, dpi: int, pdf: bool) -> DataFrame:
    """The transform both stages share: ``inputCol`` -> one row per page (other columns kept).

    Pages are listed in one UDF (exploded into rows) and decoded in another, so that Spark decodes
    only what a later stage reads; ``PageSource`` in the image column's metadata lets the
    recognizer read the files instead (file_pages.py says why).
    """
    name, input_col = type(stage).__name__, stage.getInputCol()
    if input_col not in dataset.columns:
        raise ValueError(f"{name}: no column {input_col!r} (columns: {', '.join(dataset.columns)})")
    if not isinstance(dataset.schema[input_col].dataType, BinaryType):
        raise ValueError(
            f"{name}: column {input_col!r} is {dataset.schema[input_col].dataType.simpleString()}, "
            "not binary; read files with spark.read.format('binaryFile')"
        )
    origin_col = stage.getOriginCol() if stage.getOriginCol() in dataset.columns else None
    origin = F.col(origin_col).cast("string") if origin_col else F.lit(None).cast("string")
    image_type = int(ImageType(stage.getImageType()))
    source = PageSource(
        stage.uid, input_col, origin_col, stage.getPageNumCol(), stage.getErrorCol(), image_type,
        stage.getMaxPixels(), dpi, pdf,
    )
    listed, decoded = f"__sparkhtr_{stage.uid}", f"__sparkhtr_{stage.uid}_image"
    page_list = _page_list_udf(pdf)
    page_images = _page_images_udf(image_type, stage.getMaxPixels(), dpi, pdf)
    with stage_python(dataset.sparkSession):  # the UDFs take the workers' Python when they are applied
        exploded = dataset.withColumn(listed, F.explode(page_list(F.col(input_col), origin)))
        pagenum = F.col(listed).getField("pagenum")
        exploded = exploded.withColumn(decoded, page_images(F.col(input_col), origin, pagenum))
    image = F.struct(*[F.col(decoded).getField(field).alias(field) for field in IMAGE_FIELDS])
    return (
        exploded.withColumn(stage.getOutputCol(), image.alias(stage.getOutputCol(), metadata=source.metadata()))
        .withColumn(stage.getPageNumCol(), pagenum.alias(stage.getPageNumCol(), metadata=source.tag()))
        .withColumn(stage.getErrorCol(), F.coalesce(F.col(listed).getField("error"), F.col(decoded).getField("error")))
        .withColumn(input_col, F.col(input_col).alias(input_col, metadata=source.tag()))
        .drop(listed, decoded)
    )


class PdfToImage(
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
    """Render each page of a binary column of PDFs (or multi-page TIFFs) into an image struct row.

    Other images give one row (page 0). PDFs need the ``pdf`` extra (pypdfium2) on the executors.

    >>> pages = PdfToImage().setInputCol("content").setOutputCol("image").transform(df)  # doctest: +SKIP
    """

    resolution: Param[int] = Param(
        Params._dummy(), "resolution", "dots per inch at which PDF pages are rendered",
        typeConverter=TypeConverters.toInt,
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: str = "content",
        outputCol: str = "image",
        originCol: str = "path",
        pageNumCol: str = "pagenum",
        resolution: int = DEFAULT_DPI,
        imageType: int = ImageType.TYPE_3BYTE_BGR,
        errorCol: str = "image_error",
        maxPixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        super().__init__()
        self._setDefault(
            inputCol="content", outputCol="image", originCol="path", pageNumCol="pagenum", resolution=DEFAULT_DPI,
            imageType=int(ImageType.TYPE_3BYTE_BGR), errorCol="image_error", maxPixels=DEFAULT_MAX_PIXELS,
        )
        self._set(**self._input_kwargs)

    def getResolution(self) -> int:
        return self.getOrDefault(self.resolution)

    def setResolution(self, value: int) -> PdfToImage:
        if not 1 <= value <= 2400:
            raise ValueError(f"resolution must be 1-2400 dpi, got {value}")
        return self._set(resolution=value)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return pages_as_rows(self, dataset, self.getResolution(), pdf=True)
