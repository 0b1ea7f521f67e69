"""``PdfToImage``: one row per page of each PDF or multi-page TIFF, as Spark OCR's stage of that name.

Why an array that is then exploded: a pandas UDF returns one value per input row, and a file's
pages are one value (an array of image structs) that ``explode`` turns into rows while keeping
the row's other columns. A file that cannot be read keeps one row, with a null page number and
its message in ``errorCol``; a page that cannot be read gets its own error row.
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

from sparkhtr.io.documents import DEFAULT_DPI, is_pdf, read_pages
from sparkhtr.io.image import DEFAULT_MAX_PIXELS, ImageError, ImageLimits
from sparkhtr.spark.image_struct import IMAGE_FIELDS, IMAGE_SCHEMA, ImageType, encode_image, invalid_image
from sparkhtr.spark.params import HasErrorCol, HasImageType, HasInputOutputCols, HasMaxPixels, HasOriginCol
from sparkhtr.spark.python_env import stage_python

__all__ = ["PdfToImage", "HasPageNumCol", "decode_documents", "pages_as_rows"]

PAGE_SCHEMA = StructType(
    IMAGE_SCHEMA.fields + [StructField("pagenum", IntegerType(), True), StructField("error", StringType(), True)]
)


class HasPageNumCol(Params):
    pageNumCol: Param[str] = Param(
        Params._dummy(), "pageNumCol", "column for the page's number in its file, from 0 (null when the file failed)",
        typeConverter=TypeConverters.toString,
    )

    def getPageNumCol(self) -> str:
        return self.getOrDefault(self.pageNumCol)

    def setPageNumCol(self, value: str) -> HasPageNumCol:
        return self._set(pageNumCol=value)


def decode_documents(
    contents: pd.Series, origins: pd.Series, image_type: int, limits: ImageLimits, dpi: int, pdf: bool = True
) -> pd.Series:
    """Each file -> a list of page dicts (image fields, pagenum, error); never an empty list.

    ``pdf=False`` (BinaryToImage): a PDF gets an error row that points to PdfToImage.
    """
    out: list[list[dict[str, Any]]] = []
    for content, origin in zip(contents, origins, strict=True):
        origin = origin if isinstance(origin, str) else None
        label = origin or "<no origin>"
        pages: list[dict[str, Any]] = []
        try:
            if content is None:
                raise ImageError(f"{label}: no file content (null)")
            if not pdf and is_pdf(content):
                raise ImageError(f"{label}: a PDF, not an image; read PDFs with PdfToImage (one row per page)")
            for page in read_pages(content, origin, limits, dpi):
                if page.image is None:
                    pages.append({**invalid_image(origin), "pagenum": page.number, "error": page.error})
                else:
                    encoded = encode_image(page.image, origin, image_type)
                    pages.append({**encoded, "pagenum": page.number, "error": None})
        except ImageError as exc:
            pages.append({**invalid_image(origin), "pagenum": None, "error": str(exc)})
        except Exception as exc:  # one odd file must not fail the job
            pages.append({**invalid_image(origin), "pagenum": None, "error": f"{label}: {type(exc).__name__}: {exc}"})
        out.append(pages)
    return pd.Series(out)


def _pages_udf(image_type: int, max_pixels: int, dpi: int, pdf: bool) -> Any:
    @pandas_udf(ArrayType(PAGE_SCHEMA))  # type: ignore[call-overload]
    def pages(batches: Iterator[tuple[pd.Series, pd.Series]]) -> Iterator[pd.Series]:
        limits = ImageLimits(max_pixels=max_pixels)
        for contents, origins in batches:
            yield decode_documents(contents, origins, image_type, limits, dpi, pdf)

    return pages


def pages_as_rows(stage: Any, dataset: DataFrame, dpi: int, pdf: bool) -> DataFrame:
    """The transform both stages share: decode ``inputCol`` into one row per page (other columns kept)."""
    name, input_col = type(stage).__name__, stage.getInputCol()
    if input_col not in dataset.columns:
        raise ValueError(f"{name}: no column {input_col!r} (columns: {', '.join(dataset.columns)})")
    if not isinstance(dataset.schema[input_col].dataType, BinaryType):
        raise ValueError(
            f"{name}: column {input_col!r} is {dataset.schema[input_col].dataType.simpleString()}, "
            "not binary; read files with spark.read.format('binaryFile')"
        )
    origin_col = stage.getOriginCol()
    origin = F.col(origin_col).cast("string") if origin_col in dataset.columns else F.lit(None).cast("string")
    pages = _pages_udf(int(ImageType(stage.getImageType())), stage.getMaxPixels(), dpi, pdf)
    tmp = f"__sparkhtr_{stage.uid}"
    with stage_python(dataset.sparkSession):  # the UDF takes the workers' Python when it is applied
        exploded = dataset.withColumn(tmp, F.explode(pages(F.col(input_col), origin)))
    image = F.struct(*[F.col(tmp).getField(field).alias(field) for field in IMAGE_FIELDS])
    return (
        exploded.withColumn(stage.getOutputCol(), image)
        .withColumn(stage.getPageNumCol(), F.col(tmp).getField("pagenum"))
        .withColumn(stage.getErrorCol(), F.col(tmp).getField("error"))
        .drop(tmp)
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
