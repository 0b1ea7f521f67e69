"""Building a character language model (and its lexicon) for beam search, and tuning its decoding
settings on held-out lines: what `sparkhtr build-lm` does (its --help tells the whole recipe).

Offline work: it reads datasets and text files and, to tune, runs the model once over the held-out
lines (sparkhtr.calibrate.tuning); the result is an lm.json.gz file for a model directory.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from sparkhtr.calibrate.tuning import TuningReport
from sparkhtr.data.sample import LineSample
from sparkhtr.text.beam_settings import BEAM_DEFAULTS, UNTUNED_LM
from sparkhtr.text.charset import normalize_text
from sparkhtr.text.lexicon import Lexicon, words_from_source
from sparkhtr.text.lm import CharNgramLM

__all__ = [
    "DEFAULT_WORD_BONUS", "DEFAULT_OOV_PENALTY", "STRAIGHT_QUOTES", "LMRecipe", "BuiltLM", "build_lm", "tune_lm",
    "wrap_text", "read_sources", "hold_out", "tuning_lines", "caps_copies", "build_lexicon",
]

# Word settings for a lexicon that was not tuned: near the best of the tuning grid for the
# bundled model's LM (word bonus 0-1, penalty 2-3 within 0.1 CER points on held-out lines).
DEFAULT_WORD_BONUS, DEFAULT_OOV_PENALTY = 0.5, 2.0
SETTINGS = ("lm_weight", "length_bonus", "word_bonus", "oov_penalty")


STRAIGHT_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "…": "..."})


def wrap_text(line: str, width: int) -> list[str]:
    """``line`` cut at spaces into pieces of about ``width`` characters (a longer word stays whole)."""
    if width <= 0 or len(line) <= width:
        return [line]
    pieces, current = [], ""
    for word in line.split():
        if current and len(current) + 1 + len(word) > width:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return pieces + ([current] if current else [])


def read_sources(
    sources: list[str], split: str, splits: str | None = None, wrap: int = 0, straight_quotes: bool = False
) -> tuple[list[str], list[LineSample]]:
    """The text lines of .txt sources (wrapped to ``wrap`` characters), and the samples of dataset sources."""
    from sparkhtr.data.datasets import open_dataset

    texts: list[str] = []
    samples: list[LineSample] = []
    for source in sources:
        path = Path(source)
        if path.is_file() and path.suffix.lower() == ".txt":
            text = path.read_text(encoding="utf-8")
            if straight_quotes:
                text = text.translate(STRAIGHT_QUOTES)
            found = [piece for line in text.splitlines() if line.strip() for piece in wrap_text(line, wrap)]
            texts.extend(found)
        else:
            found = open_dataset(source, split=None if split == "all" else split, splits=splits)
            samples.extend(found)
        if not found:
            raise ValueError(f"{source}: no text lines (split {split!r})")
    return texts, samples


def hold_out(samples: list[LineSample], count: int, seed: int) -> tuple[list[LineSample], list[LineSample]]:
    """``count`` random samples to tune on, and the rest minus any line sharing a held-out text."""
    if count >= len(samples):
        raise ValueError(f"--tune {count}: the dataset sources have only {len(samples)} lines")
    chosen = set(random.Random(seed).sample(range(len(samples)), count))
    held = [samples[i] for i in sorted(chosen)]
    held_texts = {normalize_text(s.text) for s in held}
    rest = [s for i, s in enumerate(samples) if i not in chosen and normalize_text(s.text) not in held_texts]
    return held, rest


def tuning_lines(specs: list[str], split: str, splits: str | None, count: int, seed: int) -> list[LineSample]:
    """The ``split`` lines of each dataset in ``specs``; ``count`` of them at random when count > 0."""
    from sparkhtr.data.datasets import open_dataset

    lines = [s for spec in specs for s in open_dataset(spec, split=split, splits=splits)]
    if not lines:
        raise ValueError(f"--tune-on: no lines in split {split!r} of {', '.join(specs)}")
    return random.Random(seed).sample(lines, count) if 0 < count < len(lines) else lines


def caps_copies(texts: list[str], share: float, seed: int) -> list[str]:
    """Upper-cased copies of ``share`` of ``texts`` (chosen at random, reproducibly)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"--caps-copies must be between 0 and 1, got {share}")
    chosen = random.Random(seed).sample(texts, round(share * len(texts)))
    return [text.upper() for text in chosen]


def build_lexicon(texts: list[str], sources: list[str], charset: list[str]) -> Lexicon:
    """The words of ``texts`` and of each lexicon source, less words the charset cannot spell."""
    words = set(Lexicon.from_texts(texts).words)
    for source in sources:
        words.update(words_from_source(source))
    spellable = {c.lower() for c in charset}
    return Lexicon(w for w in words if set(w) <= spellable)


@dataclass
class LMRecipe:
    """What to build: sources and their reading, the LM's shape, and its decoding settings or how to tune them."""

    sources: list[str]
    model_dir: Path
    split: str = "train"
    splits: str | None = None
    wrap: int = 60
    straight_quotes: bool = False
    min_count: int = 1
    order: int = 6
    caps_copies: float = 0.0
    lexicon: list[str] | None = None  # lexicon sources (.txt files, wordfreq:LANG:N)
    beam_width: int = BEAM_DEFAULTS.beam_width
    settings: dict[str, float] = field(default_factory=dict)  # given lm_weight, length_bonus, ...
    tune: int = 0  # held-out lines to tune on (0: no tuning unless tune_on)
    tune_on: list[str] | None = None  # datasets whose tune_split lines are tuned on instead
    tune_split: str = "dev"
    tune_degrade: float = 1.0
    backend: str = "torch"  # runs the model for tuning
    seed: int = 0


@dataclass
class BuiltLM:
    lm: CharNgramLM
    lines: int  # text lines it was trained on
    report: TuningReport | None = None  # the tuning table, when tuned


def build_lm(recipe: LMRecipe, progress: bool = False) -> BuiltLM:
    """The language model ``recipe`` describes, tuned when it says so (``lm.decoding`` holds the settings)."""
    from sparkhtr.model.files import load_config

    charset = load_config(recipe.model_dir).charset
    texts, samples = read_sources(recipe.sources, recipe.split, recipe.splits, recipe.wrap, recipe.straight_quotes)
    held: list[LineSample] = []
    if recipe.tune_on:
        held = tuning_lines(recipe.tune_on, recipe.tune_split, recipe.splits, recipe.tune, recipe.seed)
    elif recipe.tune:
        held, samples = hold_out(samples, recipe.tune, recipe.seed)
    texts += [sample.text for sample in samples]
    texts += caps_copies(texts, recipe.caps_copies, recipe.seed)
    lexicon = build_lexicon(texts, recipe.lexicon, charset) if recipe.lexicon else None
    decoding = {**UNTUNED_LM, "beam_width": recipe.beam_width}
    if lexicon is not None:
        decoding.update(word_bonus=DEFAULT_WORD_BONUS, oov_penalty=DEFAULT_OOV_PENALTY)
    decoding.update({key: value for key, value in recipe.settings.items() if value is not None})
    lm = CharNgramLM.train(texts, order=recipe.order, vocab=charset, decoding=decoding).prune(recipe.min_count)
    lm.lexicon = lexicon
    report = None
    if held:
        lm.decoding, report = tune_lm(lm, recipe, held, progress)
    return BuiltLM(lm, len(texts), report)


def tune_lm(
    lm: CharNgramLM, recipe: LMRecipe, held: list[LineSample], progress: bool = False
) -> tuple[dict[str, float], TuningReport]:
    """The best decoding settings for ``lm`` on the ``held`` lines (degraded first when
    ``recipe.tune_degrade`` > 0, so that they read about as badly as a new writer's), and the table."""
    from sparkhtr.calibrate.tuning import tune_beam
    from sparkhtr.data.augment import unseen_writer_degradation
    from sparkhtr.inference.recognizer import Recognizer

    recognizer = Recognizer.load(recipe.model_dir, backend=recipe.backend, decoder="greedy")  # only its log-probs
    lines: list = [(sample.image(), sample.text) for sample in held]
    if recipe.tune_degrade > 0:
        mode = "RGB" if recognizer.config.preprocessing.channels == 3 else "L"
        degrade, rng = unseen_writer_degradation(recipe.tune_degrade), random.Random(recipe.seed)
        lines = [(degrade(image.convert(mode), rng), text) for image, text in lines]
    report = tune_beam(recognizer, lines, lm, beam_width=recipe.beam_width, progress=progress)
    chosen = report.best.settings()
    if lm.lexicon is None:
        del chosen["word_bonus"], chosen["oov_penalty"]
    return {**chosen, "beam_width": recipe.beam_width}, report
