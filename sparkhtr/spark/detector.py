"""``ImageTextDetector`` (also ``ImageTextDetectorV2``): the text lines of each page as a regions column.

Why our page line finder and not a network: Spark OCR's detector is CRAFT (about 75 MB, weights
not ours to ship); ``sparkhtr.layout.find_page_lines`` follows skewed lines, columns and marginal
notes with numpy in well under a second a page, and on the 29 CREMMA pages it found lines with
F1 0.88 (benchmarks/pages.py). The stage has no model to broadcast: each Python worker runs the
finder on the rows it gets. A row whose image is missing or unreadable, or whose lines cannot be
found, gets null regions and a message naming its file; the other rows go on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pandas as pd
from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType

from sparkhtr.io.image import DEFAULT_MAX_PIXELS, ImageError, ImageLimits
from sparkhtr.layout import find_page_lines
from sparkhtr.registry import UnknownModelError
from sparkhtr.spark.image_struct import struct_to_image
from sparkhtr.spark.page_params import HasDetectorParams, HasErrorColFromOutput
from sparkhtr.spark.params import HasInputErrorCol, HasInputOutputCols, HasMaxPixels
from sparkhtr.spark.pdf_to_image import HasPageNumCol
from sparkhtr.spark.python_env import stage_python
from sparkhtr.spark.regions import REGION_SCHEMA, line_to_region
from sparkhtr.spark.worker import image_records, named_error

__all__ = ["ImageTextDetector", "ImageTextDetectorV2", "DETECTOR_NAMES", "detect_frame", "check_image_column"]

log = logging.getLogger(__name__)

# Spark OCR's text detector names, and ours: every one is served by find_page_lines.
DETECTOR_NAMES = ("image_text_detector_v2", "image_text_detector", "image_text_detector_mem_opt", "page_lines")

DETECT_SCHEMA = StructType(
    [StructField("regions", ArrayType(REGION_SCHEMA, False), True), StructField("error", StringType(), True)]
)


def detect_frame(
    images: pd.DataFrame,
    upstream_errors: pd.Series | None,
    pages: pd.Series | None,
    limits: ImageLimits,
    size_threshold: int = -1,
    score_threshold: float = 0.0,
) -> pd.DataFrame:
    """One Arrow batch of image structs -> columns regions (a list of region dicts, reading order) and error."""
    records = image_records(images)
    regions: list[list[dict[str, Any]] | None] = []
    errors: list[str | None] = []
    for i, record in enumerate(records):
        upstream = upstream_errors.iloc[i] if upstream_errors is not None else None
        page = pages.iloc[i] if pages is not None else None
        page = int(page) if page is not None and page == page else 0  # page == page: not NaN
        try:
            picture = struct_to_image(record, limits, prefer_gray=True)
            lines = find_page_lines(picture)
        except ImageError as exc:
            regions.append(None)
            errors.append(upstream if isinstance(upstream, str) and upstream else str(exc))
            continue
        except Exception as exc:  # one odd page must not fail the job
            regions.append(None)
            errors.append(named_error(f"line finding failed: {type(exc).__name__}: {exc}", record))
            continue
        kept = [
            line for line in lines
            if size_threshold < 0 or min(line.x1 - line.x0, line.y1 - line.y0) >= size_threshold
        ]
        # find_page_lines does not grade its lines: each scores 1.0, so only a threshold over 1 drops any.
        kept = kept if score_threshold <= 1.0 else []
        regions.append([line_to_region(line, index, page) for index, line in enumerate(kept)])
        errors.append(None)
    return pd.DataFrame({"regions": regions, "error": errors})


def _detect_udf(max_pixels: int, size_threshold: int, score_threshold: float) -> Any:
    @pandas_udf(DETECT_SCHEMA)  # type: ignore[call-overload]
    def detect(batches: Iterator[tuple[pd.DataFrame, pd.Series, pd.Series]]) -> Iterator[pd.DataFrame]:
        limits = ImageLimits(max_pixels=max_pixels)
        for images, upstream, pages in batches:
            yield detect_frame(images, upstream, pages, limits, size_threshold, score_threshold)

    return detect


def check_image_column(stage: str, dataset: DataFrame, column: str) -> None:
    """A clear ValueError on the driver when ``column`` is missing or is not an image struct."""
    if column not in dataset.columns:
        raise ValueError(f"{stage}: no column {column!r} (columns: {', '.join(dataset.columns)})")
    data_type = dataset.schema[column].dataType
    if not isinstance(data_type, StructType) or not {"height", "width", "mode", "data"} <= set(data_type.fieldNames()):
        raise ValueError(
            f"{stage}: column {column!r} is {data_type.simpleString()}, not an image struct; decode files "
            "first with BinaryToImage, or read them with spark.read.format('image')"
        )


def string_column(dataset: DataFrame, name: str) -> Any:
    """``name`` when the dataset has it as a string column, else a null string (for upstream errors)."""
    if name in dataset.columns and isinstance(dataset.schema[name].dataType, StringType):
        return F.col(name)
    return F.lit(None).cast("string")


class ImageTextDetector(
    Transformer,
    HasInputOutputCols,
    HasErrorColFromOutput,
    HasInputErrorCol,
    HasPageNumCol,
    HasMaxPixels,
    HasDetectorParams,
    DefaultParamsReadable,
    DefaultParamsWritable,
):
    """Find the text lines of each page image: ``outputCol`` holds their regions in reading order.

    Each region has Spark OCR's ``Coordinate`` fields (index, page, x, y, width, height: the line's
    box in pixels, x and y its top-left corner), a score, its block's number (the column or marginal
    note it belongs to, in reading order) and the line's polygon and baseline. ``errorCol``
    (default ``<outputCol>_error``) says why a row has no regions.

    >>> detector = ImageTextDetectorV2.pretrained("image_text_detector_v2", "en", "clinical/ocr")  # doctest: +SKIP
    >>> detector.setInputCol("image").setOutputCol("text_regions")  # doctest: +SKIP
    """

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: str = "image",
        outputCol: str = "regions",
        errorCol: str | None = None,
        inputErrorCol: str = "image_error",
        pageNumCol: str = "pagenum",
        maxPixels: int = DEFAULT_MAX_PIXELS,
        scoreThreshold: float = 0.7,
        sizeThreshold: int = 10,
        textThreshold: float = 0.4,
        linkThreshold: float = 0.4,
        width: int = 1280,
        withRefiner: bool = False,
    ) -> None:
        super().__init__()
        self._setDefault(
            inputCol="image", outputCol="regions", inputErrorCol="image_error", pageNumCol="pagenum",
            maxPixels=DEFAULT_MAX_PIXELS, scoreThreshold=0.7, sizeThreshold=10, textThreshold=0.4,
            linkThreshold=0.4, width=1280, withRefiner=False,
        )
        self._set(**{k: v for k, v in self._input_kwargs.items() if v is not None})

    @classmethod
    def pretrained(
        cls, name: str | None = None, lang: str | None = None, remote_loc: str | None = None
    ) -> ImageTextDetector:
        """A detector called as Spark OCR's ``pretrained(name, lang, remote_loc)``; nothing is downloaded.

        Spark OCR's detector names (``image_text_detector_v2``...) and ``page_lines`` are served by
        ``find_page_lines`` (one logged line says so); ``lang`` and ``remote_loc`` are accepted (line
        finding does not depend on the language). Another name raises ``UnknownModelError``.
        """
        if name is not None and name not in DETECTOR_NAMES:
            raise UnknownModelError(f"unknown text detector {name!r}; known: {', '.join(DETECTOR_NAMES)}")
        if name is not None and name != "page_lines":
            log.warning("%s is served by sparkhtr's page line finder (sparkhtr.layout.find_page_lines)", name)
        return cls()

    def _transform(self, dataset: DataFrame) -> DataFrame:
        input_col = self.getInputCol()
        check_image_column(type(self).__name__, dataset, input_col)
        page_col = self.getPageNumCol()
        page = F.col(page_col).cast("int") if page_col in dataset.columns else F.lit(None).cast(IntegerType())
        detect = _detect_udf(self.getMaxPixels(), self.getSizeThreshold(), self.getScoreThreshold())
        tmp = f"__sparkhtr_{self.uid}"
        with stage_python(dataset.sparkSession):  # the UDF takes the workers' Python when it is applied
            upstream = string_column(dataset, self.getInputErrorCol())
            result = dataset.withColumn(tmp, detect(F.col(input_col), upstream, page))
        return (
            result.withColumn(self.getOutputCol(), F.col(tmp).getField("regions"))
            .withColumn(self.getErrorCol(), F.col(tmp).getField("error"))
            .drop(tmp)
        )


# Spark OCR's name for its line detector, so its notebooks run with only the import changed.
ImageTextDetectorV2 = ImageTextDetector
