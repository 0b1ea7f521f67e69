"""What recognition returns: per line a RecognitionResult (text, confidence, characters with their x
ranges), per paragraph its lines with their boxes. Plain data, no dependency beyond the layout box."""

from __future__ import annotations

from dataclasses import dataclass, field

from sparkhtr.layout import LineBox

__all__ = ["CharResult", "RecognitionResult", "ParagraphLine", "ParagraphResult", "PAGE_LIKE_NOTE"]

# The note of a line image taller than wide and tall (sparkhtr.inference.preprocess.PAGE_LIKE_HEIGHT).
PAGE_LIKE_NOTE = "taller than wide: a page or several lines? read it with recognize_paragraph (CLI: --paragraph)"


@dataclass(frozen=True)
class CharResult:
    char: str
    confidence: float
    x0: float  # left edge in the input image's pixels (sparkhtr.inference.positions)
    x1: float  # right edge, exclusive: the next character's x0


@dataclass
class RecognitionResult:
    text: str | None
    confidence: float | None
    chars: list[CharResult] = field(default_factory=list)
    source: str | None = None
    error: str | None = None
    # A remark on the input: why it holds no text (a blank or one-tone image: text "", confidence 0),
    # or that it looks like a page rather than a line (PAGE_LIKE_NOTE).
    note: str | None = None
    # Which backend read the line ("torch" or "onnx"); None where the network did not run (an
    # error, a blank image). Metadata: not part of to_dict(), whose keys stay those of the output formats.
    backend: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return {
            "path": self.source,
            "text": self.text,
            "confidence": self.confidence,
            "chars": [[c.char, round(c.confidence, 4), round(c.x0, 1), round(c.x1, 1)] for c in self.chars],
            "error": self.error,
            "note": self.note,
        }


@dataclass
class ParagraphLine:
    box: LineBox  # where the line is in the paragraph image
    # Its characters' x0/x1 are relative to box.x0; a page line's may reach a few pixels outside the
    # box (into the paper cut with it: line_crop.LINE_PAD), which word boxes clamp.
    result: RecognitionResult

    @classmethod
    def read_from(cls, box: LineBox, result: RecognitionResult, image_size: tuple[int, int]) -> ParagraphLine:
        """``result``, read from ``box.crop(image)``, placed in ``box``: a crop that begins left of the
        box (a page line's, cut with paper around it) moves its characters' x ranges by as much."""
        if result.note == PAGE_LIKE_NOTE:
            result.note = None  # a line cut from a page is a line, however tall its crop
        shift = box.crop_left(image_size) - box.x0
        if shift and result.chars:
            result.chars = [CharResult(c.char, c.confidence, c.x0 + shift, c.x1 + shift) for c in result.chars]
        return cls(box, result)

    def to_dict(self) -> dict:
        return {"box": self.box.to_list(), **{k: v for k, v in self.result.to_dict().items() if k != "path"}}


@dataclass
class ParagraphResult:
    source: str | None
    lines: list[ParagraphLine]

    @property
    def text(self) -> str:
        return "\n".join(line.result.text or "" for line in self.lines)

    def to_dict(self) -> dict:
        return {"path": self.source, "text": self.text, "lines": [line.to_dict() for line in self.lines]}
