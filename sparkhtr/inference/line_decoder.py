"""One line's log-probabilities -> its RecognitionResult: CTC decoding, the letter case asked for,
and each character's x range in the input image. The last stage of a ``Predictor``."""

from __future__ import annotations

import numpy as np

from sparkhtr.inference.positions import char_extents
from sparkhtr.inference.results import CharResult, RecognitionResult
from sparkhtr.text.charset import case_mapping
from sparkhtr.text.decoders import Decoder, GreedyDecoder

__all__ = ["LineDecoder"]


class LineDecoder:
    """``ctc`` (greedy or beam search) over ``charset``; positions shifted back by ``position_lag``
    frames (the model's measured spike lag); letters written in ``letter_case``."""

    def __init__(
        self,
        charset: list[str],
        ctc: Decoder | None = None,
        position_lag: float = 0.0,
        letter_case: str = "as_read",
    ) -> None:
        self.charset = charset
        self.ctc = ctc or GreedyDecoder()
        self.position_lag = position_lag
        self.letter_case = letter_case

    @property
    def letter_case(self) -> str:
        return self._letter_case

    @letter_case.setter
    def letter_case(self, value: str) -> None:
        self._case_mapping = case_mapping(self.charset, value)  # raises ValueError for an unknown case
        self._letter_case = value

    def __call__(self, log_probs: np.ndarray, scale_x: float, width: int, frame_stride: int) -> RecognitionResult:
        """``log_probs`` of a line prepared at ``scale_x`` network pixels per image pixel from an
        image ``width`` pixels wide, ``frame_stride`` network pixels a frame."""
        line = self.ctc(log_probs, self.charset)
        step = frame_stride / scale_x
        spans = [(c.first_frame, c.last_frame) for c in line.chars]
        extents = char_extents(spans, self.position_lag, step, width)
        cased = self._case_mapping
        chars = [
            CharResult(self.charset[c.label if cased is None else cased[c.label]], c.confidence, x0, x1)
            for c, (x0, x1) in zip(line.chars, extents)
        ]
        return RecognitionResult("".join(c.char for c in chars), line.confidence, chars)
