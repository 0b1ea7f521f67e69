"""``ImageHandwrittenTextRecognizer``: the Spark ML stage over ``sparkhtr.Recognizer``, one text line per row,
or one page per row with ``setInputCols(["image", "regions"])`` (the regions of ``ImageTextDetector``).

Why this shape: an iterator pandas UDF sends only the image column to Python and sets up once per
task (thread count, model lookup); the model itself is loaded once per Python worker from files
the driver broadcasts (see ``worker.py``), so the same code runs on ``local[*]`` and on a cluster
whose executors cannot see the driver's disk. The UDF returns one struct (text, confidence,
error) that is split into columns afterwards; a row whose image is missing or unreadable gets a
null text and a message, and the others go on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.util import MLReadable, MLWritable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import ArrayType, FloatType, StringType, StructField, StructType

from sparkhtr.io.image import DEFAULT_MAX_PIXELS
from sparkhtr.model.files import load_config
from sparkhtr.registry import resolve_model
from sparkhtr.spark.detector import check_image_column, string_column
from sparkhtr.spark.model_store import model_digest, model_file_paths, read_model_files
from sparkhtr.spark.page_params import HasInputColsSetter, HasOutputFormat, HasPositionsCol, HasRegionsColumn
from sparkhtr.spark.pages import PageOutput, read_pages_frame
from sparkhtr.spark.params import (
    MIXED_LANG_VALUES,
    HasBackend,
    HasBatchSize,
    HasConfidenceCol,
    HasDecoder,
    HasDevice,
    HasErrorCol,
    HasInputErrorCol,
    HasInputOutputCols,
    HasLang,
    HasLetterCase,
    HasMaxPixels,
    HasModelPath,
    HasNumThreads,
    HasParagraph,
)
from sparkhtr.spark.persistence import RecognizerReader, RecognizerWriter
from sparkhtr.spark.python_env import stage_python
from sparkhtr.spark.regions import LINE_POSITION_SCHEMA, OcrOutputFormat, is_regions_type
from sparkhtr.spark.worker import ModelSpec, get_recognizer, recognize_frame, set_task_threads
from sparkhtr.text.decoders import model_languages as languages

__all__ = ["ImageHandwrittenTextRecognizer", "model_languages"]

log = logging.getLogger(__name__)

RESULT_SCHEMA = StructType(
    [
        StructField("text", StringType(), True),
        StructField("confidence", FloatType(), True),
        StructField("error", StringType(), True),
    ]
)

# Driver side: (application, model dir, file stamps) -> (digest, broadcast of the files), so that
# transforming many DataFrames with one model broadcasts it once.
_SHIPPED: dict[tuple[str, str, tuple[tuple[str, int, int], ...]], tuple[str, Any]] = {}


def _ship_model(spark: SparkSession, source: Path, backend: str) -> tuple[str, Any]:
    """Broadcast the model files once per application; a missing or broken model fails here, on the driver."""
    if backend != "onnx" and not source.is_file():  # an .onnx file, or an ONNX-only folder, needs no config.json
        load_config(source)  # a clear ModelFileError now rather than one per task later
    sc = spark.sparkContext
    stamps = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in model_file_paths(source))
    key = (sc.applicationId, str(source.resolve()), stamps)
    if key not in _SHIPPED:
        files = read_model_files(source)
        _SHIPPED[key] = (model_digest(files), sc.broadcast(files))
    return _SHIPPED[key]


def model_languages(source: Path) -> list[str]:
    """The languages a model directory has an LM of their own for (``lm.<lang>.json.gz``); [] when none."""
    return [lang for lang in languages(source) if lang not in MIXED_LANG_VALUES]


def check_lang(source: Path, lang: str | None, decoder: str) -> str | None:
    """The language the workers' recognizers get (None: the default LM); a clear ValueError on the driver
    for one the model has no LM for, rather than the same error in every task."""
    if lang is None or decoder == "greedy":  # greedy decoding uses no LM, so no language either
        return None
    available = model_languages(source)
    if lang not in available:
        raise ValueError(
            f"lang={lang!r}: the model {source} has no language model for it "
            f"(available: {', '.join(available) or 'none'}; unset or 'auto': its default LM)"
        )
    return lang


def _recognize_udf(spec: ModelSpec, files: Any, batch_size: int, num_threads: int, paragraph: bool) -> Any:
    @pandas_udf(RESULT_SCHEMA)  # type: ignore[call-overload]
    def recognize(batches: Iterator[tuple[pd.DataFrame, pd.Series]]) -> Iterator[pd.DataFrame]:
        threads = set_task_threads(num_threads)
        recognizer = get_recognizer(spec, lambda: files.value, num_threads=threads)
        for images, upstream_errors in batches:
            yield recognize_frame(recognizer, images, upstream_errors, batch_size, paragraph=paragraph)

    return recognize


def _pages_udf(
    spec: ModelSpec, files: Any, batch_size: int, num_threads: int, layout: str, output: PageOutput
) -> Any:
    fields = list(RESULT_SCHEMA.fields)
    if output.positions:
        fields.append(StructField("positions", ArrayType(LINE_POSITION_SCHEMA, False), True))

    @pandas_udf(StructType(fields))  # type: ignore[call-overload]
    def read_pages(batches: Iterator[tuple[pd.DataFrame, pd.Series, pd.Series]]) -> Iterator[pd.DataFrame]:
        threads = set_task_threads(num_threads)
        recognizer = get_recognizer(spec, lambda: files.value, num_threads=threads)
        for images, regions, upstream_errors in batches:
            yield read_pages_frame(recognizer, images, regions, upstream_errors, batch_size, layout, output)

    return read_pages


class ImageHandwrittenTextRecognizer(
    Transformer,
    HasInputOutputCols,
    HasInputColsSetter,
    HasRegionsColumn,
    HasPositionsCol,
    HasOutputFormat,
    HasConfidenceCol,
    HasErrorCol,
    HasInputErrorCol,
    HasBatchSize,
    HasModelPath,
    HasBackend,
    HasDecoder,
    HasLetterCase,
    HasDevice,
    HasNumThreads,
    HasMaxPixels,
    HasParagraph,
    HasLang,
    MLReadable,
    MLWritable,
):
    """Recognize the handwritten text line in each image of an image struct column.

    The input is Spark OCR's image struct (as ``BinaryToImage`` makes) or the struct of Spark's
    ``image`` data source. Output: ``outputCol`` (string), ``errorCol`` (string, null when the row
    succeeded) and, when ``confidenceCol`` is set, the line's confidence (float, 0-1). With
    ``setParagraph(True)`` each image may hold several lines (one column), read top to bottom.

    With ``setInputCols(["image", "regions"])`` (or ``setRegionsColumn``) each row is a page and
    each of its regions a line: the text joins the lines' texts with newlines, in the regions'
    order. ``outputFormat`` HOCR puts an hOCR document in ``outputCol``; ``positionsCol`` (or
    TEXT_WITH_POSITIONS) adds every line's and word's box, text and confidence.

    >>> recognizer = ImageHandwrittenTextRecognizer.pretrained()  # doctest: +SKIP
    >>> recognizer.setInputCol("image").setOutputCol("handwritten_text")  # doctest: +SKIP
    """

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: str = "image",
        outputCol: str = "handwritten_text",
        confidenceCol: str | None = None,
        errorCol: str = "handwritten_text_error",
        inputErrorCol: str = "image_error",
        batchSize: int = 1,
        modelPath: str | None = None,
        backend: str = "auto",
        decoder: str = "auto",
        letterCase: str = "as_read",
        device: str = "cpu",
        numThreads: int = 0,
        maxPixels: int = DEFAULT_MAX_PIXELS,
        paragraph: bool = False,
        lang: str | None = None,
        inputCols: list[str] | None = None,
        regionsColumn: str | None = None,
        positionsCol: str | None = None,
        outputFormat: str = "TEXT",
    ) -> None:
        super().__init__()
        self._setDefault(
            inputCol="image",
            outputCol="handwritten_text",
            errorCol="handwritten_text_error",
            inputErrorCol="image_error",
            batchSize=1,
            backend="auto",
            decoder="auto",
            letterCase="as_read",
            device="cpu",
            numThreads=0,
            maxPixels=DEFAULT_MAX_PIXELS,
            paragraph=False,
            outputFormat="TEXT",
        )
        self._set(**{k: v for k, v in self._input_kwargs.items() if v is not None})

    @classmethod
    def pretrained(
        cls, name: str | None = None, lang: str | None = None, remote_loc: str | None = None
    ) -> ImageHandwrittenTextRecognizer:
        """A recognizer for a named model, called as Spark OCR's ``pretrained(name, lang, remote_loc)``.

        ``name``: one of ours (bundled, then ``$SPARKHTR_CACHE``), or a Spark OCR name such as
        ``image_handwritten_text_recognition_span0819`` or ``ocr_base_handwritten``, which resolves
        to our best model for ``lang`` (one logged line says which). ``remote_loc`` is a local
        folder searched first (Spark OCR's ``public/ocr/models`` is accepted and simply not found);
        one with ``..`` parts is refused. ``lang`` also picks the decoder's language model when the
        model ships one for it; otherwise its default LM is used, and a line says so. An unknown
        name raises ``sparkhtr.registry.UnknownModelError`` listing the available ones.
        """
        source = resolve_model(name, location=remote_loc, lang=lang)
        stage = cls(modelPath=str(source))
        if lang is not None and lang not in MIXED_LANG_VALUES:
            if lang in model_languages(source):
                stage.setLang(lang)
            else:
                log.info("lang=%s: %s has no language model of its own for it; its default LM is used", lang, source)
        return stage

    def resolvedModelPath(self) -> Path:
        """The local model directory: ``modelPath`` (a ``file:`` URI is accepted) or the default model."""
        if not self.isSet(self.modelPath):
            return resolve_model(None)
        path = self.getModelPath()
        if path.startswith("file:"):
            path = path[len("file:") :]
            path = "/" + path.lstrip("/") if path.startswith("//") else path
        return Path(os.path.expanduser(path))

    def hasConfidenceCol(self) -> bool:
        return self.isDefined(self.confidenceCol) and bool(self.getConfidenceCol())

    def imageColumn(self) -> str:
        """The image column: ``inputCols[0]`` when ``inputCols`` is set, else ``inputCol``."""
        columns = self.getOrDefault(self.inputCols) if self.isDefined(self.inputCols) else None
        return columns[0] if columns else self.getInputCol()

    def regionsColumnName(self) -> str | None:
        """The regions column: ``regionsColumn``, else ``inputCols[1]``; None: one line (or paragraph) per image."""
        columns = self.getOrDefault(self.inputCols) if self.isDefined(self.inputCols) else None
        return self.getRegionsColumn() or (columns[1] if columns and len(columns) > 1 else None)

    def positionsColumnName(self) -> str | None:
        """Where positions go: ``positionsCol``, or ``positions`` for TEXT_WITH_POSITIONS; None: nowhere."""
        wanted = self.getOutputFormat() == OcrOutputFormat.TEXT_WITH_POSITIONS.value
        return self.getPositionsCol() or ("positions" if wanted else None)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        input_col = self.imageColumn()
        self._check_input(dataset, input_col)
        regions_col = self.regionsColumnName()
        if regions_col is not None and (
            regions_col not in dataset.columns or not is_regions_type(dataset.schema[regions_col].dataType)
        ):
            found = dataset.schema[regions_col].dataType.simpleString() if regions_col in dataset.columns else "missing"
            raise ValueError(
                f"{type(self).__name__}: regions column {regions_col!r} is {found}, not an array of regions "
                "(x, y, width, height); find them first with ImageTextDetector"
            )
        spark = dataset.sparkSession
        source = self.resolvedModelPath()
        digest, files = _ship_model(spark, source, self.getBackend())
        entry = source.name if source.is_file() else None
        spec = ModelSpec(
            digest, entry, self.getBackend(), self.getDevice(), self.getMaxPixels(), self.getDecoder(),
            self.getLetterCase(), check_lang(source, self.getLang(), self.getDecoder()),
        )
        upstream = string_column(dataset, self.getInputErrorCol())
        if regions_col is not None:  # the detector's message for a row it found no regions in
            upstream = F.coalesce(upstream, string_column(dataset, f"{regions_col}_error"))
        positions_col = self.positionsColumnName()
        output = PageOutput(positions_col is not None, self.getOutputFormat() == OcrOutputFormat.HOCR.value)
        tmp = f"__sparkhtr_{self.uid}"
        if regions_col is None and output == PageOutput():  # one line per image, as Spark OCR's stage
            recognize = _recognize_udf(spec, files, self.getBatchSize(), self.getNumThreads(), self.getParagraph())
            with stage_python(spark):  # the UDF takes the workers' Python when it is applied to its columns
                result = dataset.withColumn(tmp, recognize(dataset[input_col], upstream))
        else:
            layout = "regions" if regions_col else "paragraph" if self.getParagraph() else "line"
            read = _pages_udf(spec, files, self.getBatchSize(), self.getNumThreads(), layout, output)
            regions = F.col(regions_col) if regions_col else F.lit(None).cast("string")
            with stage_python(spark):
                result = dataset.withColumn(tmp, read(dataset[input_col], regions, upstream))
        result = result.withColumn(self.getOutputCol(), F.col(tmp).getField("text"))
        if self.hasConfidenceCol():
            result = result.withColumn(self.getConfidenceCol(), F.col(tmp).getField("confidence"))
        if positions_col is not None:
            result = result.withColumn(positions_col, F.col(tmp).getField("positions"))
        return result.withColumn(self.getErrorCol(), F.col(tmp).getField("error")).drop(tmp)

    def _check_input(self, dataset: DataFrame, input_col: str) -> None:
        check_image_column(type(self).__name__, dataset, input_col)

    def write(self) -> RecognizerWriter:
        return RecognizerWriter(self)

    @classmethod
    def read(cls) -> RecognizerReader:
        return RecognizerReader(cls)
