"""Spark ML Params shared by the stages, named as in Spark OCR where Spark OCR has them.

Each mixin declares one Param with its getter and setter, so a stage is the list of what it takes.
Values stay JSON-simple (str, int, bool) because ``DefaultParamsWriter`` saves them as JSON.
Checks live in each Param's ``typeConverter``, which Spark runs for the setters, the stages'
keyword constructors and ``setParams`` alike, so a bad value fails on the driver before any task.
"""

from __future__ import annotations

from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol

from sparkhtr.spark.image_struct import ImageType
from sparkhtr.text.charset import LETTER_CASES
from sparkhtr.text.decoders import DECODERS, MIXED_LANGS

__all__ = [
    "HasInputOutputCols",
    "HasOriginCol",
    "HasImageType",
    "HasErrorCol",
    "HasInputErrorCol",
    "HasConfidenceCol",
    "HasBatchSize",
    "HasModelPath",
    "HasBackend",
    "HasDecoder",
    "HasLetterCase",
    "HasDevice",
    "HasNumThreads",
    "HasMaxPixels",
    "HasParagraph",
    "HasLang",
    "MIXED_LANG_VALUES",
]


def _int_at_least(name: str, minimum: int, what: str):
    """A typeConverter: an int of at least ``minimum``; ValueError naming the Param otherwise."""

    def convert(value: object) -> int:
        number = TypeConverters.toInt(value)
        if number < minimum:
            raise ValueError(f"{name} must be {what}, got {number}")
        return number

    return convert


def _one_of(name: str, choices: tuple[str, ...]):
    """A typeConverter: one of ``choices``; ValueError naming the Param otherwise."""

    def convert(value: object) -> str:
        text = TypeConverters.toString(value)
        if text not in choices:
            raise ValueError(f"{name} must be {' or '.join(map(repr, choices))}, got {text!r}")
        return text

    return convert


class HasInputOutputCols(HasInputCol, HasOutputCol):
    """pyspark's shared ``inputCol``/``outputCol`` Params with the setters it leaves to each stage."""

    def setInputCol(self, value: str) -> HasInputOutputCols:
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> HasInputOutputCols:
        return self._set(outputCol=value)


class HasOriginCol(Params):
    originCol: Param[str] = Param(
        Params._dummy(), "originCol", "column with the file path, copied into the image's origin",
        typeConverter=TypeConverters.toString,
    )

    def getOriginCol(self) -> str:
        return self.getOrDefault(self.originCol)

    def setOriginCol(self, value: str) -> HasOriginCol:
        return self._set(originCol=value)


def _to_image_type(value: object) -> int:
    """An ImageType member or its int -> the plain int (saved as JSON); anything else is refused."""
    try:
        return int(ImageType(int(value)))  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        known = ", ".join(f"{t.name}={t.value}" for t in ImageType)
        raise TypeError(f"{value!r} is not an ImageType ({known})") from exc


class HasImageType(Params):
    imageType: Param[int] = Param(
        Params._dummy(), "imageType", "pixel layout of the output image (an ImageType, e.g. TYPE_3BYTE_BGR)",
        typeConverter=_to_image_type,
    )

    def getImageType(self) -> int:
        return self.getOrDefault(self.imageType)

    def setImageType(self, value: int) -> HasImageType:
        return self._set(imageType=value)


class HasErrorCol(Params):
    errorCol: Param[str] = Param(
        Params._dummy(), "errorCol", "column for a row's error message (null when the row succeeded)",
        typeConverter=TypeConverters.toString,
    )

    def getErrorCol(self) -> str:
        return self.getOrDefault(self.errorCol)

    def setErrorCol(self, value: str) -> HasErrorCol:
        return self._set(errorCol=value)


class HasInputErrorCol(Params):
    inputErrorCol: Param[str] = Param(
        Params._dummy(), "inputErrorCol",
        "column of upstream decode errors (BinaryToImage's errorCol); when it exists, its message is "
        "reported for rows that have no image",
        typeConverter=TypeConverters.toString,
    )

    def getInputErrorCol(self) -> str:
        return self.getOrDefault(self.inputErrorCol)

    def setInputErrorCol(self, value: str) -> HasInputErrorCol:
        return self._set(inputErrorCol=value)


class HasConfidenceCol(Params):
    confidenceCol: Param[str] = Param(
        Params._dummy(), "confidenceCol", "column for the line's confidence (0-1); not written when unset or empty",
        typeConverter=TypeConverters.toString,
    )

    def getConfidenceCol(self) -> str:
        return self.getOrDefault(self.confidenceCol)

    def setConfidenceCol(self, value: str) -> HasConfidenceCol:
        return self._set(confidenceCol=value)


class HasBatchSize(Params):
    batchSize: Param[int] = Param(
        Params._dummy(), "batchSize", "lines per forward pass (results do not depend on it)",
        typeConverter=_int_at_least("batchSize", 1, "at least 1"),
    )

    def getBatchSize(self) -> int:
        return self.getOrDefault(self.batchSize)

    def setBatchSize(self, value: int) -> HasBatchSize:
        return self._set(batchSize=value)


class HasModelPath(Params):
    modelPath: Param[str] = Param(
        Params._dummy(), "modelPath",
        "model directory (config.json + weights), or an .onnx file for the onnx backend; unset: the default model",
        typeConverter=TypeConverters.toString,
    )

    def getModelPath(self) -> str:
        return self.getOrDefault(self.modelPath)

    def setModelPath(self, value: str) -> HasModelPath:
        return self._set(modelPath=str(value))


class HasBackend(Params):
    backend: Param[str] = Param(
        Params._dummy(), "backend", "inference backend passed to Recognizer.load: 'torch' or 'onnx'",
        typeConverter=TypeConverters.toString,
    )

    def getBackend(self) -> str:
        return self.getOrDefault(self.backend)

    def setBackend(self, value: str) -> HasBackend:
        return self._set(backend=value)


class HasDecoder(Params):
    decoder: Param[str] = Param(
        Params._dummy(), "decoder",
        "CTC decoding: 'greedy' (SPAN's), 'beam' (beam search with the model directory's lm.json.gz, if any) "
        "or 'auto' (beam when the model has an lm.json.gz, else greedy)",
        typeConverter=_one_of("decoder", DECODERS),
    )

    def getDecoder(self) -> str:
        return self.getOrDefault(self.decoder)

    def setDecoder(self, value: str) -> HasDecoder:
        return self._set(decoder=value)


class HasLetterCase(Params):
    letterCase: Param[str] = Param(
        Params._dummy(), "letterCase",
        "'as_read', or 'upper' / 'lower' to write every letter in that case ('upper' for lines written "
        "in block capitals, which the bundled model reads mostly as small letters)",
        typeConverter=_one_of("letterCase", LETTER_CASES),
    )

    def getLetterCase(self) -> str:
        return self.getOrDefault(self.letterCase)

    def setLetterCase(self, value: str) -> HasLetterCase:
        return self._set(letterCase=value)


class HasDevice(Params):
    device: Param[str] = Param(
        Params._dummy(), "device", "device on the executors: 'cpu', 'cuda' or 'cuda:N'",
        typeConverter=TypeConverters.toString,
    )

    def getDevice(self) -> str:
        return self.getOrDefault(self.device)

    def setDevice(self, value: str) -> HasDevice:
        return self._set(device=value)


class HasNumThreads(Params):
    numThreads: Param[int] = Param(
        Params._dummy(), "numThreads", "torch threads per task; 0: the task's cores (spark.task.cpus)",
        typeConverter=_int_at_least("numThreads", 0, "0 (the task's cores) or more"),
    )

    def getNumThreads(self) -> int:
        return self.getOrDefault(self.numThreads)

    def setNumThreads(self, value: int) -> HasNumThreads:
        return self._set(numThreads=value)


class HasMaxPixels(Params):
    maxPixels: Param[int] = Param(
        Params._dummy(), "maxPixels", "images with more pixels are refused (an error row), not decoded",
        typeConverter=_int_at_least("maxPixels", 1, "positive"),
    )

    def getMaxPixels(self) -> int:
        return self.getOrDefault(self.maxPixels)

    def setMaxPixels(self, value: int) -> HasMaxPixels:
        return self._set(maxPixels=value)


class HasParagraph(Params):
    paragraph: Param[bool] = Param(
        Params._dummy(), "paragraph",
        "each image holds several lines of one column: find them (sparkhtr.layout.find_lines) and read "
        "each; the text joins the lines with newlines, the confidence is the lines' mean",
        typeConverter=TypeConverters.toBoolean,
    )

    def getParagraph(self) -> bool:
        return self.getOrDefault(self.paragraph)

    def setParagraph(self, value: bool) -> HasParagraph:
        return self._set(paragraph=value)


# ``lang`` values that mean the model's default LM, which mixes its languages (None: unset).
MIXED_LANG_VALUES = MIXED_LANGS


class HasLang(Params):
    lang: Param[str] = Param(
        Params._dummy(), "lang",
        "language of the beam decoder's LM: 'en', 'fr', 'de'... (the model directory's lm.<lang>.json.gz); "
        "unset or 'auto': the model's default LM, which mixes its languages; the greedy decoder uses none",
        typeConverter=TypeConverters.toString,
    )

    def getLang(self) -> str | None:
        """The language asked for, or None for the model's default (mixed) LM."""
        value = self.getOrDefault(self.lang) if self.isDefined(self.lang) else None
        return None if value is None or value in MIXED_LANG_VALUES else value

    def setLang(self, value: str | None) -> HasLang:
        if value is None:
            self.clear(self.lang)
            return self
        return self._set(lang=value)
