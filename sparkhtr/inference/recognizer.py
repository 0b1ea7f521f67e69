"""The Recognizer: the public face of a ``Predictor`` (preprocess -> backend -> decoder).

``Recognizer.load`` asks ``sparkhtr.inference.loader.load`` to wire a predictor from a model
directory; ``recognize`` and its kin hand sources to it; ``recognize_paragraph`` cuts a page into
lines first. Importing this module loads neither torch nor onnxruntime: the backend does, when it
is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sparkhtr.inference.backends import Backend
from sparkhtr.inference.line_decoder import LineDecoder
from sparkhtr.inference.loader import Choice, load
from sparkhtr.inference.predictor import Predictor
from sparkhtr.inference.preprocess import LinePreprocessor
from sparkhtr.inference.results import CharResult, ParagraphLine, ParagraphResult, RecognitionResult
from sparkhtr.io.image import ImageLimits, ImageSource, describe_source, load_image
from sparkhtr.layout import find_lines, find_page_lines
from sparkhtr.model.config import ModelConfig
from sparkhtr.registry import resolve_model
from sparkhtr.text.decoders import Decoder

if TYPE_CHECKING:
    from sparkhtr.model.span import SpanLineModel

__all__ = ["Recognizer", "RecognitionResult", "CharResult", "ParagraphResult", "ParagraphLine"]


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
        self.config = config
        self.predictor = Predictor(
            LinePreprocessor(config.preprocessing, limits),
            backend,
            LineDecoder(config.charset, decoder, config.position_lag, letter_case),
        )
        # How the backend was chosen (Recognizer.load fills it in); a backend passed in was asked for.
        self.choice = Choice(backend.name, None, None, "given")

    @classmethod
    def _of(cls, predictor: Predictor, config: ModelConfig, choice: Choice) -> Recognizer:
        recognizer = cls.__new__(cls)
        recognizer.config, recognizer.predictor, recognizer.choice = config, predictor, choice
        return recognizer

    @property
    def backend(self) -> Backend:
        return self.predictor.backend

    @property
    def backend_name(self) -> str:
        """"torch" or "onnx": which backend reads (results say so too, in ``.backend``)."""
        return self.predictor.backend.name

    def describe(self) -> str:
        """One line for people: the backend that reads, why it was chosen, and the decoder."""
        decoder = ", ".join(f"{k} {v}" for k, v in self.decoder.settings().items() if not isinstance(v, dict))
        return f"backend {self.backend.describe()} [{self.choice.reason}]; {decoder}; letter case {self.letter_case}"

    @property
    def limits(self) -> ImageLimits:
        return self.predictor.preprocess.limits

    @limits.setter
    def limits(self, value: ImageLimits) -> None:
        self.predictor.preprocess.limits = value

    @property
    def decoder(self) -> Decoder:
        """The CTC decoder (greedy, or beam search with its LM)."""
        return self.predictor.decoder.ctc

    @decoder.setter
    def decoder(self, value: Decoder) -> None:
        self.predictor.decoder.ctc = value

    @property
    def letter_case(self) -> str:
        """"as_read", or "upper" / "lower": every letter read is written in that case (letters whose
        other case the charset lacks stay as read). "upper" is for lines written in block
        capitals, which the bundled model reads largely as small letters: on the one such writer of
        Copiste val (21 lines), 55.38 % CER as read, 15.77 % with "upper" (default decoder)."""
        return self.predictor.decoder.letter_case

    @letter_case.setter
    def letter_case(self, value: str) -> None:
        self.predictor.decoder.letter_case = value

    @classmethod
    def from_model(cls, model: SpanLineModel, config: ModelConfig, device: str | None = None, **kwargs) -> Recognizer:
        from sparkhtr.inference.torch_backend import TorchBackend

        return cls(TorchBackend(model, device), config, **kwargs)

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str | None = None,
        backend: str = "auto",
        num_threads: int | None = None,
        decoder: str | Decoder = "auto",
        lm: str | Path | None = None,
        lang: str | None = None,
        **kwargs,
    ) -> Recognizer:
        """A recognizer from a model directory (config.json + model.safetensors), or an .onnx file.

        ``backend``: "torch" (the float model), "onnx" (the model directory's model.onnx, else its
        model.int8.onnx, with onnxruntime), or "auto" (the default): torch on a GPU where torch sees
        one, else the ONNX graph the model's config.json records as reading within 0.3 CER points
        of the float model on its dev split when onnxruntime is installed, else torch
        (sparkhtr.inference.loader). ``device``: "cpu", "cuda" or "cuda:N"; by default a GPU where
        torch sees one, else the CPU. ``recognizer.describe()`` says which backend reads, and why.
        ``num_threads`` sets the compute threads (for torch, process-wide); by default the backend's own.
        ``decoder``: "greedy" (SPAN's, fastest) or "beam" (prefix beam search with the language
        model ``lm``, by default the model directory's lm.json.gz when it has one), or a Decoder.
        The default, "auto", is "beam" when there is such an LM (the bundled model has one), else
        "greedy": on Copiste val lines beam + LM made a sixth fewer errors at two thirds the lines/s.
        ``lang`` ("en", "fr", "de", ...) chooses the model directory's LM for that language
        (lm.<lang>.json.gz); None or "auto" its default LM, which mixes its languages.
        ``letter_case`` (among ``kwargs``, which go to the constructor): "as_read", "upper" or "lower".
        """
        predictor, config, choice = load(path, backend, device, num_threads, decoder, lm, lang, **kwargs)
        return cls._of(predictor, config, choice)

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
        ``sparkhtr.layout.find_page_lines`` finds skewed lines, columns and marginal notes, each cut by
        its polygon (page CER 25.9 % against 123 % on 29 real pages, benchmarks/pages.py); ``"column"``:
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
        return ParagraphResult(
            describe_source(image), [ParagraphLine.read_from(b, r, picture.size) for b, r in zip(boxes, lines)]
        )

    def log_probs(self, image: ImageSource) -> np.ndarray:
        """One line's CTC log-probabilities as the decoder gets them: frames x (charset + 1), blank last."""
        return self.predictor.log_probs(image)

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

        Lines are read in chunks of ``sparkhtr.inference.predictor.CHUNK_LINES``, so ``images`` may
        be a generator over a folder of any size: memory stays bounded and the first results come
        out at once.
        ``total`` sizes the progress bar when ``images`` has no ``len``.
        """
        if on_error not in ("raise", "return"):
            raise ValueError("on_error must be 'raise' or 'return'")
        if device is not None:
            self.predictor.to(device)
        yield from self.predictor.predict_iter(images, batch_size, on_error, progress, total)
