"""What runs inside a Python worker: the per-process model cache and the recognition of one Arrow batch.

Why the model travels as bytes: executors on a cluster do not see the driver's disk, so the
driver broadcasts the model directory's files once; the workers of an executor write them to one
shared folder (``model_store.py``) and each loads them once per process (the cache below is keyed
by the files' SHA-256, the backend, the device, the decoder, the letter case and the LM's
language). Nothing here imports pyspark at module level except for the task context, so the
functions can be tested and reused outside a UDF.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sparkhtr.inference.recognizer import Recognizer
from sparkhtr.io.image import ImageError, ImageLimits
from sparkhtr.spark.image_struct import IMAGE_FIELDS, struct_to_image
from sparkhtr.spark.model_store import materialize_model

__all__ = [
    "ModelSpec",
    "get_recognizer",
    "set_task_threads",
    "recognize_frame",
    "image_records",
    "named_error",
]

_RECOGNIZERS: dict[tuple[str, str, str | None, str, str, str | None], Recognizer] = {}


@dataclass(frozen=True)
class ModelSpec:
    """Everything a worker needs to build its recognizer; small and picklable (the files are broadcast)."""

    digest: str  # SHA-256 of the model files: the cache key
    entry: str | None = None  # the file to load when the model is one file (an .onnx); None: the folder
    backend: str = "auto"  # "auto": the model's ONNX graph where its config.json permits it (Recognizer.load)
    device: str | None = None
    max_pixels: int = 50_000_000
    decoder: str = "auto"  # "beam" / "auto" use the model directory's lm.json.gz when it has one
    letter_case: str = "as_read"
    lang: str | None = None  # the beam decoder's LM language (lm.<lang>.json.gz); None: the default LM


def get_recognizer(
    spec: ModelSpec, files: Callable[[], Mapping[str, bytes]], num_threads: int | None = None
) -> Recognizer:
    """This process's recognizer for ``spec``; ``files`` is called (reading the broadcast) only on a miss."""
    key = (spec.digest, spec.backend, spec.device, spec.decoder, spec.letter_case, spec.lang)
    if key not in _RECOGNIZERS:
        folder = materialize_model(spec.digest, files)
        # Only passed when asked for, so a Recognizer without per-language LMs still loads.
        language = {"lang": spec.lang} if spec.lang is not None else {}
        _RECOGNIZERS[key] = Recognizer.load(
            folder / spec.entry if spec.entry else folder,
            device=spec.device,
            backend=spec.backend,
            num_threads=num_threads,
            decoder=spec.decoder,
            letter_case=spec.letter_case,
            limits=ImageLimits(max_pixels=spec.max_pixels),
            **language,
        )
    return _RECOGNIZERS[key]


def set_task_threads(num_threads: int) -> int:
    """The task's compute threads: ``num_threads``, or spark.task.cpus when 0. torch's intra-op
    threads are set to it when torch is loaded (a recognizer built later gets it as num_threads);
    an ONNX-only worker never imports torch."""
    if num_threads <= 0:
        try:
            from pyspark import TaskContext

            context = TaskContext.get()
            num_threads = context.cpus() if context is not None else 1
        except Exception:  # an older or stripped-down pyspark: stay safe with one thread
            num_threads = 1
    num_threads = max(1, int(num_threads))
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != num_threads:
        torch.set_num_threads(num_threads)
    return num_threads


def image_records(images: pd.DataFrame) -> list[dict[str, Any] | None]:
    """pandas rows of the struct column -> dicts; a null struct arrives as a row of nulls."""
    fields = [f for f in IMAGE_FIELDS if f in images.columns]
    records: list[dict[str, Any] | None] = []
    for values in zip(*(images[f] for f in fields), strict=True) if fields else [() for _ in range(len(images))]:
        record = dict(zip(fields, values, strict=True))
        records.append(None if all(v is None or (isinstance(v, float) and v != v) for v in values) else record)
    return records


def recognize_frame(
    recognizer: Recognizer,
    images: pd.DataFrame,
    upstream_errors: pd.Series | None,
    batch_size: int,
    chunk_size: int | None = None,
    paragraph: bool = False,
) -> pd.DataFrame:
    """Recognize one Arrow batch of image structs -> columns text, confidence, error (same rows, same order).

    ``paragraph``: each image holds several lines, found and read one image at a time.

    Rows are decoded and recognized ``chunk_size`` at a time (lines of similar width share a
    forward pass inside a chunk) so that memory stays bounded whatever Arrow's batch size is.
    """
    records = image_records(images)
    count = len(records)
    texts: list[str | None] = [None] * count
    confidences: list[float | None] = [None] * count
    errors: list[str | None] = [None] * count
    upstream: Sequence[Any] = list(upstream_errors) if upstream_errors is not None else [None] * count
    chunk_size = chunk_size or max(8 * batch_size, 64)
    for start in range(0, count, chunk_size):
        rows: list[int] = []
        decoded = []
        for i in range(start, min(start + chunk_size, count)):
            try:
                decoded.append(struct_to_image(records[i], recognizer.limits, prefer_gray=True))
                rows.append(i)
            except ImageError as exc:
                errors[i] = upstream[i] if isinstance(upstream[i], str) and upstream[i] else str(exc)
        chosen = [records[i] for i in rows]
        if paragraph:
            results = [_read_paragraph_safely(recognizer, image, record) for image, record in zip(decoded, chosen)]
        else:
            results = _recognize_safely(recognizer, decoded, chosen, batch_size)
        for i, result in zip(rows, results, strict=True):
            texts[i], confidences[i], errors[i] = result
    return pd.DataFrame({"text": texts, "confidence": confidences, "error": errors})


def _recognize_safely(
    recognizer: Recognizer, images: list[Any], records: list[dict[str, Any] | None], batch_size: int
) -> list[tuple[str | None, float | None, str | None]]:
    """Recognize a chunk; if the batch fails, retry line by line so only the guilty line gets an error."""
    if not images:
        return []
    try:
        results = recognizer.recognize(images, batch_size=batch_size, on_error="return")
        pairs = zip(results, records, strict=True)
        return [(r.text, r.confidence, named_error(r.error, record)) for r, record in pairs]
    except Exception:  # fall back to one line at a time to isolate the failure
        pass
    out: list[tuple[str | None, float | None, str | None]] = []
    for image, record in zip(images, records, strict=True):
        try:
            result = recognizer.recognize(image, batch_size=1, on_error="return")
            out.append((result.text, result.confidence, named_error(result.error, record)))
        except Exception as exc:  # one bad line must not fail the job
            out.append((None, None, named_error(f"recognition failed: {type(exc).__name__}: {exc}", record)))
    return out


def _read_paragraph_safely(
    recognizer: Recognizer, image: Any, record: dict[str, Any] | None
) -> tuple[str | None, float | None, str | None]:
    try:
        page = recognizer.recognize_paragraph(image)
    except Exception as exc:  # one bad image must not fail the job
        return None, None, named_error(f"recognition failed: {type(exc).__name__}: {exc}", record)
    confidences = [line.result.confidence for line in page.lines if line.result.confidence is not None]
    return page.text, (sum(confidences) / len(confidences) if confidences else None), None


def named_error(error: str | None, record: dict[str, Any] | None) -> str | None:
    """Prefix a message with the row's origin, so every error names its file."""
    if error is None:
        return None
    origin = (record or {}).get("origin") or "<image without origin>"
    return error if error.startswith(f"{origin}:") else f"{origin}: {error}"
