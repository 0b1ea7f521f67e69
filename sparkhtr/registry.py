"""Named pretrained models: those bundled in the package, then those in the user's model cache.

A name resolves to a model directory. Bundled models live in ``sparkhtr/pretrained/<name>/``;
users' own models can be dropped into the cache folder (``$SPARKHTR_CACHE``, default
``~/.cache/sparkhtr/models``) under a name of their choice. Nothing is ever downloaded.

Spark OCR's model names (``image_handwritten_text_recognition_span0819``, the TrOCR names of
its ``ImageToTextV2``...) are aliases: code written for Spark OCR names its models, and those
weights are not ours to ship, so each alias resolves to our best model for the language asked
for, and one logged line says which model serves it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path, PurePath

__all__ = [
    "DEFAULT_MODEL", "MODEL_ALIASES", "BEST_MODEL_FOR_LANG", "UnknownModelError", "bundled_dir", "cache_dir",
    "list_models", "resolve_model", "model_dir", "model_figures",
]

DEFAULT_MODEL = "span_small_latin"

# Our best model per language. One model serves them all today: span_small_latin was trained
# on French handwriting and synthetic en/fr/de lines, its charset covers the three alphabets.
BEST_MODEL_FOR_LANG: dict[str, str] = {"en": DEFAULT_MODEL, "fr": DEFAULT_MODEL, "de": DEFAULT_MODEL}

# Spark OCR's handwriting model names -> what they were (for the logged line). Every alias
# resolves through BEST_MODEL_FOR_LANG, so adding a better model for a language is one edit.
MODEL_ALIASES: dict[str, str] = {
    "image_handwritten_text_recognition_span0819": "Spark OCR's SPAN line model (ImageHandwrittenTextRecognizer)",
    "ocr_small_handwritten": "Spark OCR's TrOCR-small handwriting model (ImageToTextV2)",
    "ocr_base_handwritten": "Spark OCR's TrOCR-base handwriting model (ImageToTextV2)",
    "ocr_large_handwritten": "Spark OCR's TrOCR-large handwriting model (ImageToTextV2)",
    "ocr_small_handwritten_v2": "Spark OCR's TrOCR-small handwriting model, v2 (ImageToTextV2)",
    "ocr_base_handwritten_v2": "Spark OCR's TrOCR-base handwriting model, v2 (ImageToTextV2)",
    "ocr_base_handwritten_v2_opt": "Spark OCR's optimized TrOCR-base handwriting model, v2 (ImageToTextV2)",
    "ocr_large_handwritten_v2": "Spark OCR's TrOCR-large handwriting model, v2 (ImageToTextV2)",
}

FIGURES_FILE = "metrics.json"  # optional, in a model directory: {"summary": "Copiste val CER 10.0 % ..."}
CARD_FILE = "MODEL_CARD.md"

log = logging.getLogger(__name__)


class UnknownModelError(LookupError):
    """A model name that is neither bundled nor in the cache."""


def bundled_dir() -> Path:
    return Path(__file__).parent / "pretrained"


def cache_dir() -> Path:
    return Path(os.environ.get("SPARKHTR_CACHE", Path.home() / ".cache" / "sparkhtr" / "models"))


def _models_in(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if (p / "config.json").is_file()}


def list_models() -> dict[str, Path]:
    """Every name that ``resolve_model`` accepts, bundled first; a cache entry never hides a bundled one."""
    return {**_models_in(cache_dir()), **_models_in(bundled_dir())}


def _check_name(name: str) -> None:
    """A model name is one folder name: anything that could walk out of the folders searched is refused."""
    if name in (".", "..") or PurePath(name).name != name or "\\" in name or "\0" in name:
        raise ValueError(f"{name!r} is not a model name: a name is one folder name, without '/', '\\' or '..'")


def _check_location(location: str | Path) -> None:
    # Spark OCR's remote_loc is a folder prefix such as "public/ocr/models"; here it is a local
    # folder searched first. '..' parts would let a caller point it anywhere relative to where
    # the job happens to run, so they are refused rather than normalised.
    if ".." in PurePath(str(location)).parts:
        raise ValueError(f"remote_loc {str(location)!r} has '..' parts: give a folder without them")


def model_figures(directory: str | Path) -> str:
    """What the model directory says it measured (its ``metrics.json`` summary), else where its card is."""
    folder = Path(directory)
    figures = folder / FIGURES_FILE
    if figures.is_file():
        try:
            summary = json.loads(figures.read_text("utf-8")).get("summary")
        except (ValueError, AttributeError, OSError):
            summary = None
        if isinstance(summary, str) and summary.strip():
            return summary.strip()
    card = folder / CARD_FILE
    return f"figures in {card}" if card.is_file() else "no figures shipped with it"


def _alias_target(name: str, lang: str | None) -> str:
    """The model serving an alias for ``lang``: that language's best, else the default model."""
    key = (lang or "").lower()
    return BEST_MODEL_FOR_LANG.get(key) or BEST_MODEL_FOR_LANG.get(key.split("_")[0].split("-")[0], DEFAULT_MODEL)


def resolve_model(
    name: str | None = None, location: str | Path | None = None, lang: str | None = None
) -> Path:
    """The directory of a named model. ``location`` adds one folder to search first.

    A model directory of that name wins (``location``, bundled, cache); otherwise a Spark OCR
    name (``MODEL_ALIASES``) resolves to our best model for ``lang`` and logs one line saying so.
    Unknown names raise ``UnknownModelError`` with the list of names; names and locations that
    could leave the folders searched (``..``, separators) raise ``ValueError``.
    """
    name = name or DEFAULT_MODEL
    _check_name(name)
    if location is not None:
        _check_location(location)
        if (Path(location) / name / "config.json").is_file():
            return Path(location) / name
    models = list_models()
    if name in models:
        return models[name]
    if name in MODEL_ALIASES:
        target = _alias_target(name, lang)
        if target in models:
            folder = models[target]
            log.warning(
                "%s (%s) is served by sparkhtr's %s for lang=%s: %s",
                name, MODEL_ALIASES[name], target, lang or "any", model_figures(folder),
            )
            return folder
    known = ", ".join([*models, *MODEL_ALIASES]) or "none"
    hint = (
        f"train one with `sparkhtr train`, or put a model directory in {cache_dir()}/<name>, "
        "or pass a path to Recognizer.load()"
    )
    raise UnknownModelError(f"no pretrained model named {name!r} (available: {known}); {hint}")


def model_dir(model: str | Path | None = None) -> Path:
    """What a command's model argument names: a directory when one exists at that path, otherwise a
    registered name (None or empty: the default model)."""
    if model and Path(model).exists():
        return Path(model)
    return resolve_model(str(model) if model else None)
