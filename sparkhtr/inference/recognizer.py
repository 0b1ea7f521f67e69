"""The Recognizer: image loading + preprocessing + the network + CTC decoding, and nothing else."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from sparkhtr.inference.backends import Backend, TorchBackend
from sparkhtr.inference.positions import char_extents
from sparkhtr.inference.preprocess import BLANK_CONTRAST, PreparedLine, make_batches, prepare_line
from sparkhtr.io.image import ImageError, ImageLimits, ImageSource, describe_source, load_image
from sparkhtr.layout import LineBox, find_lines, find_page_lines
from sparkhtr.model.config import ModelConfig
from sparkhtr.model.files import load_model
from sparkhtr.model.span import SpanLineModel
from sparkhtr.registry import resolve_model
from sparkhtr.text.charset import case_mapping, check_letter_case
from sparkhtr.text.decoders import Decoder, GreedyDecoder, make_decoder

__all__ = ["Recognizer", "RecognitionResult", "CharResult", "ParagraphResult", "ParagraphLine"]


def _chunks(items: Iterable[ImageSource], size: int) -> Iterator[list[ImageSource]]:
    chunk: list[ImageSource] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


CHUNK_LINES = 256  # lines loaded and prepared at a time in recognize()


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
    # Why an image that was read holds no text (a blank or one-tone image): text "", confidence 0.
    note: str | None = None

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
    result: RecognitionResult  # its characters' x0/x1 are relative to box.x0

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


class Recognizer:
    """Reads text lines from images.

    >>> recognizer = Recognizer.pretrained()                     # doctest: +SKIP
    >>> recognizer.recognize("line.png").text                    # doctest: +SKIP
    """

    def __init__(
        self,
        backend: Backend,
        config: ModelConfig,
        limits: ImageLimits = ImageLimits(),
        decoder: Decoder | None = None,
        letter_case: str = "as_read",
    ) -> None:
        """``letter_case``: "as_read", or "upper" / "lower" to write the letters in that case (see
        the ``letter_case`` property)."""
        self.backend = backend
        self.config = config
        self.limits = limits
        self.decoder = decoder or GreedyDecoder()
        self.letter_case = letter_case
        self._pool: ThreadPoolExecutor | None = None  # for backends that run several lines at once

    @property
    def letter_case(self) -> str:
        """"as_read", or "upper" / "lower": every letter read is written in that case (letters whose
        other case the charset lacks stay as read). "upper" is for lines written in block
        capitals, which the bundled model reads largely as small letters: on the one such writer of
        Copiste val (21 lines), 55.38 % CER as read, 15.77 % with "upper" (default decoder)."""
        return self._letter_case

    @letter_case.setter
    def letter_case(self, value: str) -> None:
        self._case_mapping = case_mapping(self.config.charset, value)
        self._letter_case = value

    @classmethod
    def from_model(cls, model: SpanLineModel, config: ModelConfig, device: str | None = None, **kwargs) -> Recognizer:
        return cls(TorchBackend(model, device), config, **kwargs)

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str | None = None,
        backend: str = "torch",
        num_threads: int | None = None,
        decoder: str | Decoder = "auto",
        lm: str | Path | None = None,
        lang: str | None = None,
        **kwargs,
    ) -> Recognizer:
        """A recognizer from a model directory (config.json + model.safetensors), or an .onnx file.

        ``num_threads`` sets the compute threads (for torch, process-wide); by default the backend's own.
        ``decoder``: "greedy" (SPAN's, fastest) or "beam" (prefix beam search with the language
        model ``lm``, by default the model directory's lm.json.gz when it has one), or a Decoder.
        The default, "auto", is "beam" when there is such an LM (the bundled model has one), else
        "greedy": on Copiste val lines beam + LM made a sixth fewer errors at two thirds the lines/s.
        ``lang`` ("en", "fr", "de", ...) chooses the model directory's LM for that language
        (lm.<lang>.json.gz); None or "auto" its default LM, which mixes its languages.
        ``letter_case`` (among ``kwargs``, which go to the constructor): "as_read", "upper" or "lower".
        """
        check_letter_case(kwargs.get("letter_case", "as_read"))  # before minutes of loading, not after
        if isinstance(decoder, str):
            decoder = make_decoder(decoder, path, lm, lang=lang)
        if backend == "torch":
            if num_threads:
                torch.set_num_threads(num_threads)
            model, config = load_model(path)
            return cls(TorchBackend(model, device), config, decoder=decoder, **kwargs)
        if backend == "onnx":
            from sparkhtr.inference.onnx_backend import load_onnx_backend

            onnx_backend, config = load_onnx_backend(path, device, num_threads=num_threads)
            return cls(onnx_backend, config, decoder=decoder, **kwargs)
        raise ValueError(f"unknown backend {backend!r}: use 'torch' or 'onnx'")

    @classmethod
    def pretrained(cls, name: str | None = None, device: str | None = None, **kwargs) -> Recognizer:
        """A bundled (or cached) model by name; the default model when ``name`` is None."""
        return cls.load(resolve_model(name), device=device, **kwargs)

    @property
    def charset(self) -> list[str]:
        return self.config.charset

    def recognize(
        self,
        images: ImageSource | Sequence[ImageSource],
        batch_size: int | None = None,
        device: str | None = None,
        on_error: str = "raise",
        progress: bool = False,
    ) -> RecognitionResult | list[RecognitionResult]:
        """Recognize one image (returns one result) or a sequence of them (returns a list).

        Args:
            images: paths, encoded bytes, PIL images or numpy arrays, one text line each.
            batch_size: lines per backend call; results do not depend on it. Default: the
                backend's ``preferred_batch_size``: 1 on a CPU, where single lines ran fastest
                (benchmarks/README.md), 16 on a GPU, a few per parallel line for a single-line ONNX
                graph that runs lines in parallel.
            device: "cpu", "cuda" or "cuda:N"; by default the device the recognizer was loaded on.
            on_error: "raise" stops at the first unreadable image with an ``ImageError`` naming it;
                "return" gives that image a result with ``error`` set and goes on with the others:
                whatever fails for one input (decoding, a line over ``limits.max_line_pixels``, an
                error of the network on it) never loses another input's result.
            progress: show a progress bar.
        """
        single = not isinstance(images, (list, tuple))
        sources = [images] if single else list(images)
        results = list(self.recognize_iter(sources, batch_size, device, on_error, progress))
        return results[0] if single else results

    def recognize_paragraph(
        self, image: ImageSource, min_line_height: int = 16, layout: str = "page"
    ) -> ParagraphResult:
        """Read an image of several lines, each line recognized in reading order. ``layout="page"``:
        ``sparkhtr.layout.find_page_lines`` finds skewed lines, columns and marginal notes (page
        CER 46 % against 123 % on 29 real pages, benchmarks/pages.py); ``"column"``:
        ``find_lines`` cuts one column of level lines by its ink profile (``min_line_height``).

        >>> page = recognizer.recognize_paragraph("letter.png")   # doctest: +SKIP
        >>> print(page.text)                   # lines joined by newlines  # doctest: +SKIP
        """
        picture = load_image(image, self.limits)
        if layout not in ("page", "column"):
            raise ValueError(f"layout must be 'page' or 'column', not {layout!r}")
        boxes = find_page_lines(picture) if layout == "page" else find_lines(picture, min_line_height)
        # One line that fails (too long, say) gets its error; the page's other lines are kept.
        lines = self.recognize([box.crop(picture) for box in boxes], on_error="return") if boxes else []
        return ParagraphResult(describe_source(image), [ParagraphLine(b, r) for b, r in zip(boxes, lines)])

    def log_probs(self, image: ImageSource) -> np.ndarray:
        """One line's CTC log-probabilities as the decoder gets them: frames x (charset + 1), blank last."""
        picture, name = load_image(image, self.limits), describe_source(image)
        line = prepare_line(picture, self.config.preprocessing, self.limits.max_line_pixels, name)
        batch = next(make_batches([line], 1))
        log_probs, frames = self.backend(batch.images, batch.sizes)
        return log_probs[0, : frames[0]]

    def recognize_iter(
        self,
        images: Iterable[ImageSource],
        batch_size: int | None = None,
        device: str | None = None,
        on_error: str = "raise",
        progress: bool = False,
        total: int | None = None,
    ) -> Iterator[RecognitionResult]:
        """Like ``recognize`` on a sequence, but yields results in input order as they are ready.

        Lines are read in chunks of ``CHUNK_LINES``, so ``images`` may be a generator over a
        folder of any size: memory stays bounded and the first results come out at once.
        ``total`` sizes the progress bar when ``images`` has no ``len``.
        """
        if on_error not in ("raise", "return"):
            raise ValueError("on_error must be 'raise' or 'return'")
        if device is not None:
            self.backend.to(device)
        if batch_size is None:
            batch_size = self.backend.preferred_batch_size
        if total is None and hasattr(images, "__len__"):
            total = len(images)  # type: ignore[arg-type]
        # Chunks bound the memory of prepared lines (a 64 x 1000 line is 256 kB in float32, so a
        # folder of 100k lines prepared at once would need 25 GB); sorting by width happens within
        # a chunk, which is enough to keep padding small.
        chunk_size = max(CHUNK_LINES, batch_size)
        with tqdm(total=total, disable=not progress, unit="line") as bar:
            for chunk in _chunks(images, chunk_size):
                yield from self._recognize_chunk(chunk, batch_size, on_error, bar)

    def _recognize_chunk(
        self, sources: list[ImageSource], batch_size: int, on_error: str, bar: tqdm
    ) -> list[RecognitionResult]:
        if getattr(self.backend, "lines_at_once", 1) > 1:
            return self._recognize_lines_in_parallel(sources, on_error, bar)
        results: list[RecognitionResult | None] = [None] * len(sources)
        prepared: list[PreparedLine | None] = []
        widths: list[int] = []
        for i, source in enumerate(sources):
            line = self._prepare(source, on_error)
            if isinstance(line, RecognitionResult):
                results[i] = line
                bar.update(1)
                prepared.append(None)
                widths.append(0)
                continue
            prepared.append(line[0])
            widths.append(line[1])
        for batch in make_batches(prepared, batch_size):
            try:
                log_probs, frames = self.backend(batch.images, batch.sizes)
                decoded = [
                    self._decode(log_probs[row, : frames[row]], batch.scales[row], widths[i])
                    for row, i in enumerate(batch.indices)
                ]
            except Exception:
                if on_error == "raise":
                    raise
                if len(batch.indices) == 1:
                    decoded = [self._failed(sources[batch.indices[0]], *_exception_text())]
                else:
                    # One line broke its batch: read each alone, so only that line fails.
                    decoded = [self._recognize_prepared(sources[i], prepared[i], widths[i]) for i in batch.indices]
            for i, result in zip(batch.indices, decoded):
                result.source = describe_source(sources[i])
                results[i] = result
            bar.update(len(batch.indices))
        return results  # type: ignore[return-value]

    def _recognize_prepared(self, source: ImageSource, line: PreparedLine, width: int) -> RecognitionResult:
        """One prepared line alone through the backend; a failure becomes its error result."""
        try:
            batch = next(make_batches([line], 1))
            log_probs, frames = self.backend(batch.images, batch.sizes)
            return self._decode(log_probs[0, : frames[0]], line.scale_x, width)
        except Exception:
            return self._failed(source, *_exception_text())

    def _failed(self, source: ImageSource, kind: str, message: str) -> RecognitionResult:
        name = describe_source(source)
        return RecognitionResult(None, None, source=name, error=f"{name}: {kind}: {message}")

    def _recognize_lines_in_parallel(
        self, sources: list[ImageSource], on_error: str, bar: tqdm
    ) -> list[RecognitionResult]:
        """A backend that runs several single lines at once: each worker takes a line from file to
        text, so decoding images and CTC overlap the network too (Pillow and onnxruntime release the
        GIL). With 2 cores this read 1.2x as many lines/s as preparing the chunk first."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.backend.lines_at_once, thread_name_prefix="sparkhtr-lines")
        results = []
        for result in self._pool.map(lambda source: self._recognize_one(source, on_error), sources):
            results.append(result)
            bar.update(1)
        return results

    def _recognize_one(self, source: ImageSource, on_error: str) -> RecognitionResult:
        line = self._prepare(source, on_error)
        if isinstance(line, RecognitionResult):
            return line
        try:
            result = self._decode(self.backend.run_line(line[0].array[None]), line[0].scale_x, line[1])
        except Exception:
            if on_error == "raise":
                raise
            return self._failed(source, *_exception_text())
        result.source = describe_source(source)
        return result

    def _prepare(self, source: ImageSource, on_error: str) -> tuple[PreparedLine, int] | RecognitionResult:
        """The network's input and the image width, or a finished result: the failed one that
        names the source (with on_error="return"), or "nothing readable" for a blank image."""
        name = describe_source(source)
        try:
            image = load_image(source, self.limits)
            line = prepare_line(image, self.config.preprocessing, self.limits.max_line_pixels, name)
        except ImageError as exc:
            if on_error == "raise":
                raise
            return RecognitionResult(None, None, source=name, error=str(exc))
        except Exception:  # a failure no check foresaw (a decoder bug, memory): this input's alone
            if on_error == "raise":
                raise
            return self._failed(source, *_exception_text())
        if line.blank:
            # The network reads confident made-up text into a blank line: say there is none.
            note = f"nothing readable: the image spans fewer than {BLANK_CONTRAST} gray levels (blank or one tone)"
            return RecognitionResult("", 0.0, [], source=name, note=note)
        return line, image.width

    def _decode(self, log_probs: np.ndarray, scale_x: float, width: int) -> RecognitionResult:
        line = self.decoder(log_probs, self.charset)
        step = SpanLineModel.WIDTH_REDUCTION / scale_x
        spans = [(c.first_frame, c.last_frame) for c in line.chars]
        extents = char_extents(spans, self.config.position_lag, step, width)
        cased = self._case_mapping
        chars = [
            CharResult(self.charset[c.label if cased is None else cased[c.label]], c.confidence, x0, x1)
            for c, (x0, x1) in zip(line.chars, extents)
        ]
        return RecognitionResult("".join(c.char for c in chars), line.confidence, chars)


def _exception_text() -> tuple[str, str]:
    """(type name, message) of the exception being handled, for an error result."""
    import sys

    exc = sys.exc_info()[1]
    return type(exc).__name__, str(exc) or repr(exc)
