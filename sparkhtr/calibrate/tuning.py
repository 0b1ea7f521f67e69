"""Choosing the beam decoder's settings on held-out lines: LM weight x length bonus, then, for an
LM with a lexicon, word bonus x unknown-word penalty at the best pair, and the length bonus once
more at the best of those (both bonuses reward length, one per character, one per word).

The network runs once per line; every setting then only re-decodes the stored log-probabilities,
so the 20 settings without a lexicon (at most 38 with one) over 150 lines cost about half a
minute (a minute) on a CPU. Tune on lines the language model was not built from, and never on
the test set: the chosen settings are then an honest guess for new lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from sparkhtr.io.image import ImageSource
from sparkhtr.text.beam_settings import BEAM_DEFAULTS
from sparkhtr.text.charset import Charset
from sparkhtr.text.ctc import greedy_decode
from sparkhtr.text.decoders import BeamDecoder
from sparkhtr.text.lm import CharNgramLM
from sparkhtr.text.metrics import corpus_scores

if TYPE_CHECKING:
    from sparkhtr.inference.recognizer import Recognizer

__all__ = [
    "LM_WEIGHTS", "LENGTH_BONUSES", "WORD_BONUSES", "OOV_PENALTIES", "DecodingTrial", "TuningReport", "tune_beam"
]

# The stage-11 model's mixed LM was best in the corner of a grid that stopped at 0.6 / 3.0 on the
# dev lines, so the grid goes further.
LM_WEIGHTS = (0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0)
LENGTH_BONUSES = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
WORD_BONUSES = (0.0, 0.5, 1.0, 2.0)
OOV_PENALTIES = (0.0, 1.0, 2.0, 3.0)


@dataclass(frozen=True)
class DecodingTrial:
    lm_weight: float
    length_bonus: float
    cer: float
    wer: float
    word_bonus: float = 0.0  # 0: off (a trial of an LM without a lexicon)
    oov_penalty: float = 0.0

    def settings(self) -> dict[str, float]:
        return {"lm_weight": self.lm_weight, "length_bonus": self.length_bonus,
                "word_bonus": self.word_bonus, "oov_penalty": self.oov_penalty}


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
        names = f"{'lm_weight':>9} {'length_bonus':>12} {'word_bonus':>10} {'oov_penalty':>11}"
        rows = [f"{names} {'CER %':>7} {'WER %':>7}"]
        rows.append(f"{'greedy':>45} {100 * self.greedy_cer:7.2f} {100 * self.greedy_wer:7.2f}")
        for t in sorted(self.trials, key=lambda t: (t.word_bonus, t.oov_penalty, t.lm_weight, t.length_bonus)):
            mark = "  <- best" if t == self.best else ""
            rows.append(
                f"{t.lm_weight:9.2f} {t.length_bonus:12.1f} {t.word_bonus:10.1f} {t.oov_penalty:11.1f} "
                f"{100 * t.cer:7.2f} {100 * t.wer:7.2f}{mark}"
            )
        return "\n".join(rows)


def tune_beam(
    recognizer: Recognizer,
    lines: Sequence[tuple[ImageSource, str]],
    lm: CharNgramLM,
    lm_weights: Sequence[float] = LM_WEIGHTS,
    length_bonuses: Sequence[float] = LENGTH_BONUSES,
    beam_width: int = BEAM_DEFAULTS.beam_width,
    progress: bool = False,
    word_bonuses: Sequence[float] = WORD_BONUSES,
    oov_penalties: Sequence[float] = OOV_PENALTIES,
) -> TuningReport:
    """Decode ``lines`` ((image, reference text) pairs) with every weight x bonus and, when ``lm``
    has a lexicon, every word bonus x unknown-word penalty at the best of those; rank by CER."""
    if not lines:
        raise ValueError("tuning needs at least one line")
    charset = Charset(recognizer.charset)
    references = [text for _, text in lines]
    log_probs: list[np.ndarray] = [
        recognizer.log_probs(image) for image, _ in tqdm(lines, disable=not progress, desc="network", unit="line")
    ]
    greedy = corpus_scores(zip(references, _texts(log_probs, charset, None)))

    def trial(weight: float, bonus: float, word_bonus: float = 0.0, oov_penalty: float = 0.0) -> DecodingTrial:
        decoder = BeamDecoder(lm, weight, bonus, beam_width, word_bonus=word_bonus, oov_penalty=oov_penalty)
        scores = corpus_scores(zip(references, _texts(log_probs, charset, decoder)))
        return DecodingTrial(weight, bonus, scores["cer"], scores["wer"], word_bonus, oov_penalty)

    # Without a lexicon, its settings do nothing: zero them while the LM's own pair is chosen.
    grid = [(w, b) for w in lm_weights for b in length_bonuses]
    trials = [trial(w, b) for w, b in tqdm(grid, disable=not progress, desc="LM settings", unit="setting")]
    if lm.lexicon is not None:
        best = min(trials, key=_rank)
        pairs = [(wb, op) for wb in word_bonuses for op in oov_penalties if (wb, op) != (0.0, 0.0)]
        trials += [
            trial(best.lm_weight, best.length_bonus, wb, op)
            for wb, op in tqdm(pairs, disable=not progress, desc="word settings", unit="setting")
        ]
        best = min(trials, key=_rank)
        if (best.word_bonus, best.oov_penalty) != (0.0, 0.0):
            again = [b for b in length_bonuses if b != best.length_bonus]
            trials += [trial(best.lm_weight, b, best.word_bonus, best.oov_penalty) for b in again]
    trials.sort(key=_rank)
    return TuningReport(len(lines), greedy["cer"], greedy["wer"], trials)


def _rank(trial: DecodingTrial) -> tuple[float, float]:
    return trial.cer, trial.wer  # lowest CER first, WER breaks ties


def _texts(log_probs: list[np.ndarray], charset: Charset, decoder: BeamDecoder | None) -> list[str]:
    decoded = [greedy_decode(lp, charset.blank) if decoder is None else decoder(lp, charset.chars) for lp in log_probs]
    return [charset.decode(c.label for c in line.chars) for line in decoded]
