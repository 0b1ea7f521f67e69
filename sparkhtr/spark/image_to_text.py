"""``ImageToTextV2``: the recognizer under the name and defaults of Spark OCR's page-reading stage.

Why a subclass and not an alias: Spark OCR's ``ImageToTextV2`` writes to ``text`` and takes
params of its own (``groupImages``, ``lineTolerance``...), which its notebooks set. The subclass
gives those defaults and accepts those params, so the notebooks' code runs with only the import
changed; the reading itself is ``ImageHandwrittenTextRecognizer``'s, with the same model names
(``ocr_small_handwritten``... resolve to our best model, see ``sparkhtr.registry``).
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame

from sparkhtr.spark.page_params import HasImageToTextV2Params
from sparkhtr.spark.recognizer import ImageHandwrittenTextRecognizer

__all__ = ["ImageToTextV2"]

_V2_DEFAULTS: dict[str, Any] = {
    "groupImages": False,
    "lineTolerance": 15,
    "borderWidth": 5,
    "spaceWidth": 10,
    "taskParallelism": 0,
    "useCaching": False,
    "keepInput": True,
}


class ImageToTextV2(ImageHandwrittenTextRecognizer, HasImageToTextV2Params):
    """Read pages from an image column and a regions column (``setInputCols(["image", "text_regions"])``
    or ``setRegionsColumn``) into ``text``, one row per page; with ``inputCols`` ``["image"]`` alone,
    one line per image. Every param of ``ImageHandwrittenTextRecognizer`` applies.

    >>> ocr = ImageToTextV2.pretrained("ocr_small_handwritten", "en", "clinical/ocr")  # doctest: +SKIP
    >>> ocr.setInputCols(["image", "text_regions"]).setOutputCol("text")  # doctest: +SKIP
    """

    def __init__(self, **kwargs: Any) -> None:
        own = {key: kwargs.pop(key) for key in list(kwargs) if key in _V2_DEFAULTS}
        super().__init__(**kwargs)
        self._setDefault(outputCol="text", errorCol="text_error", inputCols=["image"], **_V2_DEFAULTS)
        self._set(**own)

    def setUseGPU(self, value: bool) -> ImageToTextV2:
        """Spark OCR's switch: the model runs on ``cuda`` (true) or the CPU (false) on the executors."""
        return self.setDevice("cuda" if value else "cpu")  # type: ignore[return-value]

    def _transform(self, dataset: DataFrame) -> DataFrame:
        result = super()._transform(dataset)
        return result if self.getKeepInput() else result.drop(self.imageColumn())
