"""``ImageDrawRegions``: each page with its regions drawn on it (and their texts), as an image struct.

Why an image struct out: it can go on to any stage that takes images, or be written out as files
(decode its ``data`` with ``struct_to_image``), as Spark OCR's stage of that name gives. The
picture keeps the page's size; boxes, or with ``rotated`` the lines' polygons, are outlined in
``rectColor``, and with ``textCol`` each region's text is written just above it on a white band,
so a reader can check line finding and reading at a glance.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
from PIL import Image, ImageDraw
from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from sparkhtr.io.image import DEFAULT_MAX_PIXELS, ImageError, ImageLimits
from sparkhtr.layout.draw import caption_font
from sparkhtr.spark.detector import check_image_column, string_column
from sparkhtr.spark.image_struct import (
    IMAGE_FIELDS,
    IMAGE_SCHEMA,
    ImageType,
    encode_image,
    invalid_image,
    struct_to_image,
)
from sparkhtr.spark.page_params import HasDrawParams, HasErrorColFromOutput
from sparkhtr.spark.params import HasImageType, HasInputErrorCol, HasInputOutputCols, HasMaxPixels
from sparkhtr.spark.python_env import stage_python
from sparkhtr.spark.regions import is_regions_type, region_to_line
from sparkhtr.spark.worker import image_records, named_error

__all__ = ["ImageDrawRegions", "draw_regions"]

DRAWN_SCHEMA = StructType(IMAGE_SCHEMA.fields + [StructField("error", StringType(), True)])


def draw_regions(
    picture: Image.Image,
    regions: Sequence[Any],
    texts: Sequence[str | None] | None = None,
    *,
    rotated: bool = False,
    colour: str = "red",
    line_width: int = 4,
    font_size: int = 0,
    filled: bool = False,
) -> Image.Image:
    """``picture`` (RGB copy) with each region's box or polygon drawn, and its text above it."""
    canvas = picture.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    for k, region in enumerate(regions):
        record = region if isinstance(region, dict) else region.asDict(recursive=True)
        line = region_to_line(record, canvas.size)
        if line is None:
            continue
        polygon = getattr(line, "polygon", ())
        if rotated and len(polygon) >= 3:
            draw.polygon(polygon, outline=colour, fill=colour if filled else None, width=line_width)
        else:
            box = (line.x0, line.y0, max(line.x0, line.x1 - 1), max(line.y0, line.y1 - 1))
            draw.rectangle(box, outline=colour, fill=colour if filled else None, width=line_width)
        text = texts[k] if texts is not None and k < len(texts) else None
        if text:
            size = font_size or max(10, min(48, (line.y1 - line.y0) // 3))
            font = caption_font(size)
            anchor = (line.x0, max(0, line.y0 - size - 2))
            band = draw.textbbox(anchor, text, font=font)
            draw.rectangle(band, fill="white")
            draw.text(anchor, text, fill=colour, font=font)
    return canvas


def _texts(value: Any) -> list[str | None] | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return [None if t is None else str(t) for t in value]


def draw_frame(
    images: pd.DataFrame,
    regions: pd.Series,
    texts: pd.Series,
    upstream_errors: pd.Series,
    image_type: int,
    limits: ImageLimits,
    options: dict,
) -> pd.DataFrame:
    """One Arrow batch -> the drawn images' struct fields and an error column (same rows, same order)."""
    rows = []
    for i, record in enumerate(image_records(images)):
        origin = (record or {}).get("origin")
        upstream = upstream_errors.iloc[i]
        if isinstance(upstream, str) and upstream:  # the first stage's own message says most
            rows.append({**invalid_image(origin), "error": upstream})
            continue
        try:
            picture = struct_to_image(record, limits)
            page_regions = regions.iloc[i]
            if page_regions is None or (isinstance(page_regions, float) and page_regions != page_regions):
                raise ImageError(named_error("no regions (null) to draw", record) or "")
            drawn = draw_regions(picture, list(page_regions), _texts(texts.iloc[i]), **options)
            rows.append({**encode_image(drawn, origin, image_type), "error": None})
        except ImageError as exc:
            rows.append({**invalid_image(origin), "error": str(exc)})
        except Exception as exc:  # one odd page must not fail the job
            message = named_error(f"drawing failed: {type(exc).__name__}: {exc}", record)
            rows.append({**invalid_image(origin), "error": message})
    return pd.DataFrame(rows, columns=[*IMAGE_FIELDS, "error"])


def _draw_udf(image_type: int, max_pixels: int, options: dict) -> Any:
    @pandas_udf(DRAWN_SCHEMA)  # type: ignore[call-overload]
    def draw(batches: Iterator[tuple[pd.DataFrame, pd.Series, pd.Series, pd.Series]]) -> Iterator[pd.DataFrame]:
        limits = ImageLimits(max_pixels=max_pixels)
        for images, regions, texts, upstream_errors in batches:
            yield draw_frame(images, regions, texts, upstream_errors, image_type, limits, options)

    return draw


class ImageDrawRegions(
    Transformer,
    HasInputOutputCols,
    HasDrawParams,
    HasImageType,
    HasErrorColFromOutput,
    HasInputErrorCol,
    HasMaxPixels,
    DefaultParamsReadable,
    DefaultParamsWritable,
):
    """Draw ``inputRegionsCol``'s regions (and ``textCol``'s texts) on ``inputCol``'s images into
    ``outputCol``, an image struct of the same size (``imageType``, BGR by default).

    >>> ImageDrawRegions().setInputRegionsCol("text_regions").setRotated(True)  # doctest: +SKIP
    """

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: str = "image",
        inputRegionsCol: str = "regions",
        outputCol: str = "image_with_regions",
        textCol: str | None = None,
        lineWidth: int = 4,
        fontSize: int = 0,
        rotated: bool = False,
        rectColor: str = "red",
        filledRect: bool = False,
        imageType: int = ImageType.TYPE_3BYTE_BGR,
        errorCol: str | None = None,
        inputErrorCol: str = "image_error",
        maxPixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        super().__init__()
        self._setDefault(
            inputCol="image", inputRegionsCol="regions", outputCol="image_with_regions", lineWidth=4, fontSize=0,
            rotated=False, rectColor="red", filledRect=False, imageType=int(ImageType.TYPE_3BYTE_BGR),
            inputErrorCol="image_error", maxPixels=DEFAULT_MAX_PIXELS,
        )
        self._set(**{k: v for k, v in self._input_kwargs.items() if v is not None})

    def _texts_column(self, dataset: DataFrame) -> Any:
        """The texts as an array of strings: a text column split at newlines, or positions' texts."""
        name = self.getTextCol()
        if name is None:
            return F.lit(None).cast(ArrayType(StringType()))
        if name not in dataset.columns:
            raise ValueError(f"ImageDrawRegions: no text column {name!r} (columns: {', '.join(dataset.columns)})")
        data_type = dataset.schema[name].dataType
        if isinstance(data_type, StringType):
            return F.split(F.col(name), "\n")
        if isinstance(data_type, ArrayType) and isinstance(data_type.elementType, StructType):
            return F.col(name).getField("text")
        raise ValueError(f"ImageDrawRegions: text column {name!r} is {data_type.simpleString()}, not text or positions")

    def _transform(self, dataset: DataFrame) -> DataFrame:
        check_image_column("ImageDrawRegions", dataset, self.getInputCol())
        regions_col = self.getInputRegionsCol()
        if regions_col not in dataset.columns or not is_regions_type(dataset.schema[regions_col].dataType):
            raise ValueError(f"ImageDrawRegions: {regions_col!r} is not a regions column (see ImageTextDetector)")
        options = {
            "rotated": self.getOrDefault(self.rotated), "colour": self.getOrDefault(self.rectColor),
            "line_width": self.getOrDefault(self.lineWidth), "font_size": self.getOrDefault(self.fontSize),
            "filled": self.getOrDefault(self.filledRect),
        }
        draw = _draw_udf(int(ImageType(self.getImageType())), self.getMaxPixels(), options)
        tmp = f"__sparkhtr_{self.uid}"
        with stage_python(dataset.sparkSession):
            upstream = string_column(dataset, self.getInputErrorCol())
            texts = self._texts_column(dataset)
            result = dataset.withColumn(tmp, draw(F.col(self.getInputCol()), F.col(regions_col), texts, upstream))
        image = F.struct(*[F.col(tmp).getField(field).alias(field) for field in IMAGE_FIELDS])
        return (
            result.withColumn(self.getOutputCol(), image)
            .withColumn(self.getErrorCol(), F.col(tmp).getField("error"))
            .drop(tmp)
        )
