"""The Predictor: sources -> lines -> log-probabilities -> results, with its three parts and one scheduler.

``Predictor(preprocess, backend, decoder)`` holds a ``LinePreprocessor`` (source -> image ->
network input, within the image limits), a ``Backend`` (network input -> log-probabilities) and a
``LineDecoder`` (log-probabilities -> text, confidences, positions); ``sparkhtr.inference.loader.load``
wires them from a model directory. What the predictor adds is the flow and the error policy:

- Lines are read in chunks of ``CHUNK_LINES``, so a generator over a folder of any size keeps
  memory bounded and the first results come out at once.
- A backend that runs several lines at once (``lines_at_once`` > 1: a single-line ONNX graph on
  several cores) gets each line taken from file to text by one of the scheduler's workers, so
  decoding images and CTC overlap the network too: with 2 cores this read 1.2x as many lines/s as
  preparing the chunk first. Other backends get padded batches of similar width, whose rows are
  then decoded on the scheduler's threads (the compiled beam search releases the GIL).
- ``on_error="return"``: whatever fails for one input (decoding, a line over the limits, an error
  of the network on it) becomes that input's error result and never loses another's; a batch that
  fails is read again line by line so that only the guilty line fails.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from sparkhtr.inference.backends import Backend
from sparkhtr.inference.line_decoder import LineDecoder
from sparkhtr.inference.preprocess import BLANK_CONTRAST, LinePreprocessor, PreparedLine, make_batches
from sparkhtr.inference.results import RecognitionResult
from sparkhtr.inference.scheduler import LineScheduler
from sparkhtr.io.image import ImageError, ImageSource, describe_source

__all__ = ["Predictor", "CHUNK_LINES"]

CHUNK_LINES = 256  # lines loaded and prepared at a time


def scheduler_threads(backend: Backend) -> int:
    """Workers for a backend: one per line it runs at once, else its compute threads (for decoding)."""
    return backend.lines_at_once if backend.lines_at_once > 1 else max(1, backend.threads)


class Predictor:
    def __init__(
        self,
        preprocess: LinePreprocessor,
        backend: Backend,
        decoder: LineDecoder,
        scheduler: LineScheduler | None = None,
    ) -> None:
        self.preprocess = preprocess
        self.backend = backend
        self.decoder = decoder
        self.scheduler = scheduler or LineScheduler(scheduler_threads(backend))

    def to(self, device: str) -> None:
        self.backend.to(device)
        self.scheduler.resize(scheduler_threads(self.backend))

    def log_probs(self, source: ImageSource) -> np.ndarray:
        """One line's CTC log-probabilities as the decoder gets them: frames x (charset + 1), blank last."""
        image, name = self.preprocess.load(source), describe_source(source)
        line = self.preprocess.prepare(image, name)
        batch = next(make_batches([line], 1))
        log_probs, frames = self.backend.run_batch(batch.images, batch.sizes)
        return log_probs[0, : frames[0]]

    def predict_iter(
        self,
        sources: Iterable[ImageSource],
        batch_size: int | None = None,
        on_error: str = "raise",
        progress: bool = False,
        total: int | None = None,
    ) -> Iterator[RecognitionResult]:
        """One result per source, in input order, as they are ready (see the module's docstring)."""
        if on_error not in ("raise", "return"):
            raise ValueError("on_error must be 'raise' or 'return'")
        if batch_size is None:
            batch_size = self.backend.preferred_batch_size
        if total is None and hasattr(sources, "__len__"):
            total = len(sources)  # type: ignore[arg-type]
        # Chunks bound the memory of prepared lines (a 64 x 1000 line is 256 kB in float32, so a
        # folder of 100k lines prepared at once would need 25 GB); sorting by width happens within
        # a chunk, which is enough to keep padding small.
        chunk_size = max(CHUNK_LINES, batch_size)
        with tqdm(total=total, disable=not progress, unit="line") as bar:
            for chunk in _chunks(sources, chunk_size):
                if self.backend.lines_at_once > 1:
                    yield from self._lines_in_parallel(chunk, on_error, bar)
                else:
                    yield from self._batches(chunk, batch_size, on_error, bar)

    def _batches(
        self, sources: list[ImageSource], batch_size: int, on_error: str, bar: tqdm
    ) -> list[RecognitionResult]:
        results: list[RecognitionResult | None] = [None] * len(sources)
        prepared: list[PreparedLine | None] = []
        widths: list[int] = []
        for i, source in enumerate(sources):
            line = self._read(source, on_error)
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
                log_probs, frames = self.backend.run_batch(batch.images, batch.sizes)
                rows = [
                    (log_probs[row, : frames[row]], batch.scales[row], widths[i], prepared[i].note)
                    for row, i in enumerate(batch.indices)
                ]
                decoded = list(self.scheduler.map(self._decode_row, rows))
            except Exception:
                if on_error == "raise":
                    raise
                if len(batch.indices) == 1:
                    decoded = [self._failed(sources[batch.indices[0]], *_exception_text())]
                else:
                    # One line broke its batch: read each alone, so only that line fails.
                    decoded = [self._prepared_alone(sources[i], prepared[i], widths[i]) for i in batch.indices]
            for i, result in zip(batch.indices, decoded):
                result.source = describe_source(sources[i])
                results[i] = result
            bar.update(len(batch.indices))
        return results  # type: ignore[return-value]

    def _decode_row(self, row: tuple[np.ndarray, float, int, str | None]) -> RecognitionResult:
        return self._decode(*row)

    def _decode(self, log_probs: np.ndarray, scale_x: float, width: int, note: str | None = None) -> RecognitionResult:
        result = self.decoder(log_probs, scale_x, width, self.backend.frame_stride)
        result.backend = self.backend.name
        result.note = note
        return result

    def _prepared_alone(self, source: ImageSource, line: PreparedLine, width: int) -> RecognitionResult:
        """One prepared line alone through the backend; a failure becomes its error result."""
        try:
            batch = next(make_batches([line], 1))
            log_probs, frames = self.backend.run_batch(batch.images, batch.sizes)
            return self._decode(log_probs[0, : frames[0]], line.scale_x, width, line.note)
        except Exception:
            return self._failed(source, *_exception_text())

    def _lines_in_parallel(self, sources: list[ImageSource], on_error: str, bar: tqdm) -> Iterator[RecognitionResult]:
        for result in self.scheduler.map(lambda source: self._one_line(source, on_error), sources):
            bar.update(1)
            yield result

    def _one_line(self, source: ImageSource, on_error: str) -> RecognitionResult:
        """A scheduler worker's job: one source from file to text."""
        line = self._read(source, on_error)
        if isinstance(line, RecognitionResult):
            return line
        try:
            result = self._decode(self.backend.run_line(line[0].array[None]), line[0].scale_x, line[1], line[0].note)
        except Exception:
            if on_error == "raise":
                raise
            return self._failed(source, *_exception_text())
        result.source = describe_source(source)
        return result

    def _read(self, source: ImageSource, on_error: str) -> tuple[PreparedLine, int] | RecognitionResult:
        """The network's input and the image width, or a finished result: the failed one that
        names the source (with on_error="return"), or "nothing readable" for a blank image."""
        name = describe_source(source)
        try:
            image = self.preprocess.load(source)
            line = self.preprocess.prepare(image, name)
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

    @staticmethod
    def _failed(source: ImageSource, kind: str, message: str) -> RecognitionResult:
        name = describe_source(source)
        return RecognitionResult(None, None, source=name, error=f"{name}: {kind}: {message}")


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _exception_text() -> tuple[str, str]:
    """(type name, message) of the exception being handled, for an error result."""
    exc = sys.exc_info()[1]
    return type(exc).__name__, str(exc) or repr(exc)
