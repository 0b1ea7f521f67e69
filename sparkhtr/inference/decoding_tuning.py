"""Choosing the beam decoder's LM weight and length bonus on held-out lines.

The network runs once per line; every setting then only re-decodes the stored log-probabilities,
so a grid of 20 settings over 150 lines costs about half a minute on a CPU. Tune on lines the
language model was not built from, and never on the test set: the chosen pair is then an honest
guess for new lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from sparkhtr.inference.recognizer import Recognizer
from sparkhtr.io.image import ImageSource
from sparkhtr.text.charset import Charset
from sparkhtr.text.ctc import greedy_decode
from sparkhtr.text.decoders import BeamDecoder
from sparkhtr.text.lm import CharNgramLM
from sparkhtr.text.metrics import corpus_scores

__all__ = ["LM_WEIGHTS", "LENGTH_BONUSES", "DecodingTrial", "TuningReport", "tune_beam"]

LM_WEIGHTS = (0.1, 0.2, 0.3, 0.45, 0.6)
LENGTH_BONUSES = (0.0, 1.0, 2.0, 3.0)


@dataclass(frozen=True)
class DecodingTrial:
    lm_weight: float
    length_bonus: float
    cer: float
    wer: float


@dataclass
class TuningReport:
    lines: int
    greedy_cer: float
    greedy_wer: float
    trials: list[DecodingTrial]  # best (lowest CER, then WER) first

    @property
    def best(self) -> DecodingTrial:
        return self.trials[0]

    def table(self) -> str:
        rows = [f"{'lm_weight':>9} {'length_bonus':>12} {'CER %':>7} {'WER %':>7}"]
        rows.append(f"{'greedy':>22} {100 * self.greedy_cer:7.2f} {100 * self.greedy_wer:7.2f}")
        for t in sorted(self.trials, key=lambda t: (t.lm_weight, t.length_bonus)):
            mark = "  <- best" if t == self.best else ""
            rows.append(f"{t.lm_weight:9.2f} {t.length_bonus:12.1f} {100 * t.cer:7.2f} {100 * t.wer:7.2f}{mark}")
        return "\n".join(rows)


def tune_beam(
    recognizer: Recognizer,
    lines: Sequence[tuple[ImageSource, str]],
    lm: CharNgramLM,
    lm_weights: Sequence[float] = LM_WEIGHTS,
    length_bonuses: Sequence[float] = LENGTH_BONUSES,
    beam_width: int = 10,
    progress: bool = False,
) -> TuningReport:
    """Decode ``lines`` ((image, reference text) pairs) with every weight x bonus; rank by CER."""
    if not lines:
        raise ValueError("tuning needs at least one line")
    charset = Charset(recognizer.charset)
    references = [text for _, text in lines]
    log_probs: list[np.ndarray] = [
        recognizer.log_probs(image) for image, _ in tqdm(lines, disable=not progress, desc="network", unit="line")
    ]
    greedy = corpus_scores(zip(references, _texts(log_probs, charset, None)))
    trials = []
    grid = [(w, b) for w in lm_weights for b in length_bonuses]
    for weight, bonus in tqdm(grid, disable=not progress, desc="settings", unit="setting"):
        decoder = BeamDecoder(lm, lm_weight=weight, length_bonus=bonus, beam_width=beam_width)
        scores = corpus_scores(zip(references, _texts(log_probs, charset, decoder)))
        trials.append(DecodingTrial(weight, bonus, scores["cer"], scores["wer"]))
    trials.sort(key=lambda t: (t.cer, t.wer))
    return TuningReport(len(lines), greedy["cer"], greedy["wer"], trials)


def _texts(log_probs: list[np.ndarray], charset: Charset, decoder: BeamDecoder | None) -> list[str]:
    decoded = [greedy_decode(lp, charset.blank) if decoder is None else decoder(lp, charset.chars) for lp in log_probs]
    return [charset.decode(c.label for c in line.chars) for line in decoded]
