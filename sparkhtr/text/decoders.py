"""Decoders turn one line's CTC log-probabilities into a DecodedLine: greedy, or beam search + LM.

``Recognizer`` holds one. Greedy is SPAN's decoding: fastest, and exact to the model. The beam
decoder sums each text's probability over its alignments and, with a character language
model, prefers texts that spell like the language, and with its lexicon, known words: on the
Copiste val split it cuts the default model's CER by about a quarter (its MODEL_CARD.md), for
about 1 ms more per line at the bundled LM's beam width 40 with the compiled search
(sparkhtr.text.fast_beam; 10-20x the Python one in benchmarks/decoding.py). "auto", the
default, is beam search when the model ships a language model (as the bundled one does) and
greedy otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sparkhtr.text.beam_settings import BEAM_DEFAULTS, UNSET_LM_WEIGHT
from sparkhtr.text.ctc import DecodedLine, greedy_decode
from sparkhtr.text.fast_beam import beam_decode_fast
from sparkhtr.text.lexicon import Lexicon
from sparkhtr.text.lm import LM_FILE, CharNgramLM

__all__ = [
    "Decoder", "GreedyDecoder", "BeamDecoder", "DECODERS", "MIXED_LANGS", "make_decoder", "model_languages", "load_lm"
]

DECODERS = ("auto", "greedy", "beam")
# ``lang`` values that choose a model directory's default LM (lm.json.gz), which mixes its languages.
MIXED_LANGS = ("auto", "mixed")


class Decoder:
    name: str

    def __call__(self, log_probs: np.ndarray, charset: Sequence[str]) -> DecodedLine:  # pragma: no cover
        raise NotImplementedError

    def settings(self) -> dict:
        """What decodes, for reports: the name, and a beam decoder's LM and settings."""
        return {"decoder": self.name}


@dataclass
class GreedyDecoder(Decoder):
    name = "greedy"

    def __call__(self, log_probs: np.ndarray, charset: Sequence[str]) -> DecodedLine:
        return greedy_decode(log_probs, blank=len(charset))


@dataclass
class BeamDecoder(Decoder):
    """Prefix beam search; settings left None come from the LM file's own (``lm.decoding``): the
    LM weight, the length bonus, the beam width, and with the LM's lexicon the word bonus /
    unknown-word penalty; else from ``beam_settings`` (``UNSET_LM_WEIGHT``, ``BEAM_DEFAULTS``)."""

    lm: CharNgramLM | None = None
    lm_weight: float | None = None
    length_bonus: float | None = None
    beam_width: int | None = None
    word_bonus: float | None = None
    oov_penalty: float | None = None
    name = "beam"

    def __post_init__(self) -> None:
        settings = self.lm.decoding if self.lm is not None else {}
        fallback = {**BEAM_DEFAULTS.as_dict(), "lm_weight": UNSET_LM_WEIGHT}
        for key in ("lm_weight", "length_bonus", "word_bonus", "oov_penalty"):
            if getattr(self, key) is None:
                setattr(self, key, float(settings.get(key, fallback[key])))
        if self.beam_width is None:
            self.beam_width = int(settings.get("beam_width", BEAM_DEFAULTS.beam_width))
        if self.beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {self.beam_width}")

    @property
    def lexicon(self) -> Lexicon | None:
        return self.lm.lexicon if self.lm is not None else None

    def settings(self) -> dict:
        lm = f"order-{self.lm.order} character LM" if self.lm is not None else None
        found = {"decoder": self.name, "lm": lm, "lm_weight": self.lm_weight, "length_bonus": self.length_bonus,
                 "beam_width": self.beam_width}
        if self.lexicon is not None:
            found.update(lexicon_words=len(self.lexicon), word_bonus=self.word_bonus, oov_penalty=self.oov_penalty)
        return found

    def __call__(self, log_probs: np.ndarray, charset: Sequence[str]) -> DecodedLine:
        return beam_decode_fast(  # compiled when built, else ctc.beam_decode: the same texts
            log_probs, len(charset), charset, self.lm, self.lm_weight, self.length_bonus, self.beam_width,
            lexicon=self.lexicon, word_bonus=self.word_bonus, oov_penalty=self.oov_penalty,
        )


def model_languages(model_dir: str | Path) -> list[str]:
    """The languages a model directory has a language model for: ``lm.<lang>.json.gz`` files,
    plus "auto" when it has a default lm.json.gz."""
    folder = Path(model_dir)
    if not folder.is_dir():
        return []
    found = sorted(p.name.removeprefix("lm.").removesuffix(".json.gz") for p in folder.glob("lm.*.json.gz"))
    return found + (["auto"] if (folder / LM_FILE).is_file() else [])


def _model_lm(model_dir: str | Path | None, lang: str | None) -> Path | None:
    """The model directory's LM for ``lang``: lm.<lang>.json.gz, or lm.json.gz for None / "auto" / "mixed"."""
    folder = Path(model_dir) if model_dir is not None and Path(model_dir).is_dir() else None
    if lang is None or lang in MIXED_LANGS:
        return folder / LM_FILE if folder is not None and (folder / LM_FILE).is_file() else None
    path = folder / f"lm.{lang}.json.gz" if folder is not None else None
    if path is None or not path.is_file():
        known = ", ".join(model_languages(model_dir)) if folder is not None else "none"
        raise ValueError(f"no language model for lang={lang!r} in {model_dir} (available: {known or 'none'})")
    return path


def make_decoder(
    name: str, model_dir: str | Path | None = None, lm: str | Path | None = None, lang: str | None = None, **settings
) -> Decoder:
    """``"greedy"``, or ``"beam"`` with the LM ``lm`` (a file), else the model directory's LM for
    ``lang`` ("en", "fr", "de", ...: its lm.<lang>.json.gz; None or "auto": its lm.json.gz) if any;
    ``"auto"``: beam when there is such an LM, else greedy."""
    if lm is not None and lang is not None:
        raise ValueError("give a language model file (lm) or a language (lang), not both")
    model_lm = _model_lm(model_dir, lang)
    if name == "auto":
        name = "beam" if lm is not None or model_lm is not None else "greedy"
    if name == "greedy":
        if lm is not None or (lang is not None and lang not in MIXED_LANGS):
            raise ValueError("a language model (lm or lang) is used by the beam decoder only: pass decoder='beam'")
        return GreedyDecoder()
    if name != "beam":
        raise ValueError(f"unknown decoder {name!r}: use one of {', '.join(DECODERS)}")
    if lm is None:
        lm = model_lm
    return BeamDecoder(load_lm(lm) if lm is not None else None, **settings)


def load_lm(path: str | Path) -> CharNgramLM:
    """The LM in ``path``, read once per process while the file is unchanged: the bundled mixed LM
    takes seconds to parse and its search tables tens of MB, which every recognizer built on it (a
    Spark task, a test, a thread) then shares. Decoders only read an LM, so one object serves all."""
    path = Path(path)
    try:
        stat = path.resolve().stat()
    except OSError:
        return CharNgramLM.load(path)  # its own error names the file
    return _load_lm(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load_lm(path: str, mtime_ns: int, size: int) -> CharNgramLM:
    return CharNgramLM.load(path)
