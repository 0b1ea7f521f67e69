"""sparkhtr: handwritten text line recognition (SPAN) in Python, on the command line and in Spark.

The names below load on first use (PEP 562), so ``import sparkhtr.io.image`` or the Spark driver's
``import sparkhtr.spark`` does not pay for torch until a recognizer is built.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# OpenMP's idle threads busy-wait by default; on a small machine where anything else runs, torch
# with 2 threads then ran 30x slower than with 1 (benchmarks/README.md). Passive waiting avoids
# that collapse. It only takes effect when set before torch is first imported; the user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.2.0"  # the one place the version is written (pyproject.toml reads it)

_LAZY = {
    "Recognizer": "sparkhtr.inference.recognizer",
    "RecognitionResult": "sparkhtr.inference.recognizer",
    "CharResult": "sparkhtr.inference.recognizer",
    "ParagraphResult": "sparkhtr.inference.recognizer",
    "ImageError": "sparkhtr.io.image",
    "list_models": "sparkhtr.registry",
}

__all__ = [
    "Recognizer", "RecognitionResult", "CharResult", "ParagraphResult", "ImageError", "list_models", "__version__",
]

if TYPE_CHECKING:
    from sparkhtr.inference.recognizer import CharResult, ParagraphResult, RecognitionResult, Recognizer
    from sparkhtr.io.image import ImageError
    from sparkhtr.registry import list_models


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'sparkhtr' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
