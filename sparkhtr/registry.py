"""Named pretrained models: those bundled in the package, then those in the user's model cache.

A name resolves to a model directory. Bundled models live in ``sparkhtr/pretrained/<name>/``;
users' own models can be dropped into the cache folder (``$SPARKHTR_CACHE``, default
``~/.cache/sparkhtr/models``) under a name of their choice. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "DEFAULT_MODEL", "UnknownModelError", "bundled_dir", "cache_dir", "list_models", "resolve_model", "model_dir"
]

DEFAULT_MODEL = "span_small_latin"


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


def resolve_model(name: str | None = None, location: str | Path | None = None) -> Path:
    """The directory of a named model. ``location`` adds one folder to search first."""
    name = name or DEFAULT_MODEL
    if location is not None and (Path(location) / name / "config.json").is_file():
        return Path(location) / name
    models = list_models()
    if name in models:
        return models[name]
    known = ", ".join(models) or "none"
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
