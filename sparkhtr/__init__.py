"""sparkhtr: handwritten text line recognition (SPAN) in Python, on the command line and in Spark."""

from sparkhtr.inference.recognizer import CharResult, RecognitionResult, Recognizer
from sparkhtr.io.image import ImageError
from sparkhtr.registry import list_models

__version__ = "0.1.0"

__all__ = ["Recognizer", "RecognitionResult", "CharResult", "ImageError", "list_models", "__version__"]
