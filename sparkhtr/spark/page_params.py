"""Params of the whole-page stages: regions in, positions and formats out, and Spark OCR's own.

Kept apart from ``params.py`` (the line recognizer's) so each file stays short. Spark OCR's
detector and ``ImageToTextV2`` take params that belong to their networks (CRAFT's heat-map
thresholds, TrOCR's image grouping); they are declared here so the reference's code runs, and
``docs/spark.md`` says which of them change anything here.
"""

from __future__ import annotations

from PIL import ImageColor
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCols

from sparkhtr.spark.params import HasErrorCol
from sparkhtr.spark.regions import OcrOutputFormat

__all__ = [
    "Color",
    "HasInputColsSetter",
    "HasRegionsColumn",
    "HasPositionsCol",
    "HasOutputFormat",
    "HasErrorColFromOutput",
    "HasDetectorParams",
    "HasImageToTextV2Params",
    "HasDrawParams",
]


def _param(name: str, doc: str, converter) -> Param:  # type: ignore[no-untyped-def]
    return Param(Params._dummy(), name, doc, typeConverter=converter)


class HasInputColsSetter(HasInputCols):
    """pyspark's ``inputCols`` with its setter: ``["image", "regions"]`` reads each page's regions."""

    def setInputCols(self, value: list[str]) -> HasInputColsSetter:
        return self._set(inputCols=list(value))


class HasRegionsColumn(Params):
    regionsColumn: Param[str] = _param(
        "regionsColumn", "column of text regions to read (Spark OCR's ImageToTextV2); unset: inputCols[1]",
        TypeConverters.toString,
    )

    def getRegionsColumn(self) -> str | None:
        return self.getOrDefault(self.regionsColumn) if self.isDefined(self.regionsColumn) else None

    def setRegionsColumn(self, value: str) -> HasRegionsColumn:
        return self._set(regionsColumn=value)


class HasPositionsCol(Params):
    positionsCol: Param[str] = _param(
        "positionsCol", "column for every line's and word's box, text and confidence; unset: not written "
        "(outputFormat TEXT_WITH_POSITIONS writes it to 'positions')", TypeConverters.toString,
    )

    def getPositionsCol(self) -> str | None:
        return self.getOrDefault(self.positionsCol) if self.isDefined(self.positionsCol) else None

    def setPositionsCol(self, value: str) -> HasPositionsCol:
        return self._set(positionsCol=value)


def _to_format(value: object) -> str:
    """An ``OcrOutputFormat`` or its name in any case -> the name (saved as JSON)."""
    name = value.value if isinstance(value, OcrOutputFormat) else TypeConverters.toString(value).upper()
    if name not in OcrOutputFormat.__members__:
        raise ValueError(f"outputFormat must be one of {', '.join(OcrOutputFormat.__members__)}, got {value!r}")
    return name


class HasOutputFormat(Params):
    outputFormat: Param[str] = _param(
        "outputFormat", "TEXT (lines joined by newlines), TEXT_WITH_POSITIONS (also fills positionsCol) or "
        "HOCR (outputCol holds an hOCR document)", _to_format,
    )

    def getOutputFormat(self) -> str:
        return self.getOrDefault(self.outputFormat)

    def setOutputFormat(self, value: str | OcrOutputFormat) -> HasOutputFormat:
        return self._set(outputFormat=value)


class HasErrorColFromOutput(HasErrorCol):
    """``errorCol`` that defaults to ``<outputCol>_error``, so a renamed output keeps its error beside it
    (``text_regions`` -> ``text_regions_error``), which the recognizer then finds by that name."""

    def getErrorCol(self) -> str:
        if self.isDefined(self.errorCol):
            return self.getOrDefault(self.errorCol)
        return f"{self.getOrDefault('outputCol')}_error"


def _float(name: str) -> Param:
    return _param(name, f"Spark OCR's {name}; accepted (see docs/spark.md for its effect here)", TypeConverters.toFloat)


class HasDetectorParams(Params):
    """``ImageTextDetectorV2``'s params. ``sizeThreshold`` applies; CRAFT's others are accepted and
    ignored (the line finder has no heat maps, no input width and always gives whole lines)."""

    scoreThreshold: Param[float] = _float("scoreThreshold")
    textThreshold: Param[float] = _float("textThreshold")
    linkThreshold: Param[float] = _float("linkThreshold")
    sizeThreshold: Param[int] = _param(
        "sizeThreshold", "regions narrower or lower than this many pixels are dropped; -1: none is",
        TypeConverters.toInt,
    )
    width: Param[int] = _param("width", "Spark OCR's detector input width; accepted and ignored", TypeConverters.toInt)
    withRefiner: Param[bool] = _param(
        "withRefiner", "Spark OCR's word-to-line refiner; accepted and ignored (regions are always lines)",
        TypeConverters.toBoolean,
    )

    def setScoreThreshold(self, value: float) -> HasDetectorParams:
        return self._set(scoreThreshold=value)

    def getScoreThreshold(self) -> float:
        return self.getOrDefault(self.scoreThreshold)

    def setTextThreshold(self, value: float) -> HasDetectorParams:
        return self._set(textThreshold=value)

    def setLinkThreshold(self, value: float) -> HasDetectorParams:
        return self._set(linkThreshold=value)

    def setSizeThreshold(self, value: int) -> HasDetectorParams:
        return self._set(sizeThreshold=value)

    def getSizeThreshold(self) -> int:
        return self.getOrDefault(self.sizeThreshold)

    def setWidth(self, value: int) -> HasDetectorParams:
        return self._set(width=value)

    def setWithRefiner(self, value: bool) -> HasDetectorParams:
        return self._set(withRefiner=value)

    def setUseGPU(self, value: bool) -> HasDetectorParams:
        """Accepted: the line finder runs on the CPU (numpy), in well under a second a page."""
        return self


def _int(name: str, doc: str) -> Param:
    return _param(name, doc, TypeConverters.toInt)


class HasImageToTextV2Params(Params):
    """``ImageToTextV2``'s params: ``keepInput`` applies; the others group a word detector's regions
    into lines or pad TrOCR's crops, which regions that are already lines do not need."""

    groupImages: Param[bool] = _param("groupImages", "accepted and ignored", TypeConverters.toBoolean)
    lineTolerance: Param[int] = _int("lineTolerance", "accepted and ignored (regions are already lines)")
    borderWidth: Param[int] = _int("borderWidth", "accepted and ignored")
    spaceWidth: Param[int] = _int("spaceWidth", "accepted and ignored")
    taskParallelism: Param[int] = _int("taskParallelism", "accepted and ignored (use Spark's partitions)")
    useCaching: Param[bool] = _param("useCaching", "accepted and ignored", TypeConverters.toBoolean)
    keepInput: Param[bool] = _param(
        "keepInput", "keep the input image column (false: drop it from the output)", TypeConverters.toBoolean
    )

    def setGroupImages(self, value: bool) -> HasImageToTextV2Params:
        return self._set(groupImages=value)

    def setLineTolerance(self, value: int) -> HasImageToTextV2Params:
        return self._set(lineTolerance=value)

    def setBorderWidth(self, value: int) -> HasImageToTextV2Params:
        return self._set(borderWidth=value)

    def setSpaceWidth(self, value: int) -> HasImageToTextV2Params:
        return self._set(spaceWidth=value)

    def setTaskParallelism(self, value: int) -> HasImageToTextV2Params:
        return self._set(taskParallelism=value)

    def setUseCaching(self, value: bool) -> HasImageToTextV2Params:
        return self._set(useCaching=value)

    def setKeepInput(self, value: bool) -> HasImageToTextV2Params:
        return self._set(keepInput=value)

    def getKeepInput(self) -> bool:
        return self.getOrDefault(self.keepInput)


class Color:
    """Colours for ``ImageDrawRegions.setRectColor``, named as Spark OCR's ``Color`` enum; any name
    or ``#rrggbb`` that Pillow knows, or an (r, g, b) tuple, works as well."""

    black = "black"
    blue = "blue"
    cyan = "cyan"
    gray = "gray"
    green = "green"
    magenta = "magenta"
    orange = "orange"
    pink = "pink"
    red = "red"
    white = "white"
    yellow = "yellow"


def _to_colour(value: object) -> str:
    if isinstance(value, (tuple, list)) and len(value) in (3, 4):
        red, green, blue = (max(0, min(255, int(v))) for v in value[:3])
        return f"#{red:02x}{green:02x}{blue:02x}"
    text = TypeConverters.toString(value)
    try:
        ImageColor.getrgb(text)
    except ValueError as exc:
        raise ValueError(f"rectColor: {text!r} is not a colour name, #rrggbb or an (r, g, b) tuple") from exc
    return text


class HasDrawParams(Params):
    inputRegionsCol: Param[str] = _param("inputRegionsCol", "column of regions to draw", TypeConverters.toString)
    textCol: Param[str] = _param(
        "textCol", "column of the regions' texts to write above them: the recognizer's text (one line per "
        "region, in order) or its positions; unset: shapes only", TypeConverters.toString,
    )
    lineWidth: Param[int] = _int("lineWidth", "width of the outlines, in pixels")
    fontSize: Param[int] = _int("fontSize", "text size in pixels; 0: from each region's height")
    rotated: Param[bool] = _param(
        "rotated", "draw each region's polygon (its line's outline, following its slant) instead of its box",
        TypeConverters.toBoolean,
    )
    rectColor: Param[str] = _param("rectColor", "outline (and text) colour", _to_colour)
    filledRect: Param[bool] = _param(
        "filledRect", "fill the shapes instead of outlining them", TypeConverters.toBoolean
    )

    def setInputRegionsCol(self, value: str) -> HasDrawParams:
        return self._set(inputRegionsCol=value)

    def getInputRegionsCol(self) -> str:
        return self.getOrDefault(self.inputRegionsCol)

    def setTextCol(self, value: str) -> HasDrawParams:
        return self._set(textCol=value)

    def getTextCol(self) -> str | None:
        return self.getOrDefault(self.textCol) if self.isDefined(self.textCol) else None

    def setLineWidth(self, value: int) -> HasDrawParams:
        return self._set(lineWidth=value)

    def setFontSize(self, value: int) -> HasDrawParams:
        return self._set(fontSize=value)

    def setRotated(self, value: bool) -> HasDrawParams:
        return self._set(rotated=value)

    def setRectColor(self, value: str | tuple[int, int, int]) -> HasDrawParams:
        return self._set(rectColor=value)

    def setFilledRect(self, value: bool) -> HasDrawParams:
        return self._set(filledRect=value)
