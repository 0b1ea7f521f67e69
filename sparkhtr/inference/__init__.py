"""Inference: preprocessing, backends and the Recognizer."""

from sparkhtr.inference.recognizer import CharResult, RecognitionResult, Recognizer

__all__ = ["Recognizer", "RecognitionResult", "CharResult"]
