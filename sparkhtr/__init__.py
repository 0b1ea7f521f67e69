"""sparkhtr: handwritten text line recognition (SPAN) in Python, on the command line and in Spark."""

import os

# OpenMP's idle threads busy-wait by default; on a small machine where anything else runs, torch
# with 2 threads then ran 30x slower than with 1 (benchmarks/README.md). Passive waiting avoids
# that collapse. It only takes effect when set before torch is first imported; the user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from sparkhtr.inference.recognizer import CharResult, ParagraphResult, RecognitionResult, Recognizer
from sparkhtr.io.image import ImageError
from sparkhtr.registry import list_models

__version__ = "0.1.0"

__all__ = [
    "Recognizer", "RecognitionResult", "CharResult", "ParagraphResult", "ImageError", "list_models", "__version__",
]
