"""Run an exported model (see ``sparkhtr.model.onnx_export``) with onnxruntime.

Why a separate backend: onnxruntime is small (about 80 MB against torch's 750 MB), starts fast and
was faster than torch fp32 on the CPUs we measured (benchmarks/README.md), so servers and Spark
executors can recognize lines without torch's compute. The .onnx file carries the model config, so
it is a complete recognizer by itself.

Threads: by default a session uses every core this process may run on, except where
``OMP_NUM_THREADS`` is set, which it follows: Spark sets it to 1 in its Python workers, where each
task should use one core (spark.task.cpus=1), as several multi-threaded tasks per machine slow
each other down. Pass ``num_threads`` to choose explicitly.

Spinning: onnxruntime's pool threads busy-wait between ops by default. On a machine shared with
other work that burns the cores the others need, and it was slower too: with 2 threads on a 2-core
machine running a training job, 14 lines/s spinning against 23.5 without (benchmarks/README.md).
So spinning is off unless ``spin=True``; it changes nothing with one thread.

Single-line graphs (``sparkhtr export-onnx --single-line``, what the bundled model ships as
``model.int8.onnx``) take one unpadded line per run: a padded batch is cropped back into its lines.
With several threads on a CPU, such a backend runs that many lines at once, one thread each
(``lines_at_once``; the Predictor's scheduler runs them): a line is too small a job to spread well
over threads (benchmarks/README.md has the figures). ``run_batch`` itself runs such a graph's lines
one after the other.

This module imports onnxruntime when a session is opened, and never torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from sparkhtr.model.config import ModelConfig
from sparkhtr.model.files import INT8_ONNX_FILE, ONNX_CONFIG_KEY, ONNX_FILE, ModelFileError

# Input pixels per output frame of the SPAN graphs export_onnx writes: the network's width
# reduction (SpanLineModel.WIDTH_REDUCTION, which needs torch to read; a test checks they agree).
FRAME_STRIDE = 8

__all__ = [
    "OnnxBackend", "load_onnx_backend", "read_onnx_config", "resolve_onnx_path", "default_num_threads", "FRAME_STRIDE"
]


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError("the ONNX backend needs onnxruntime: pip install 'sparkhtr[onnx]'") from exc
    return onnxruntime


def default_num_threads() -> int:
    """``OMP_NUM_THREADS`` when set (Spark workers set 1), else the cores this process may use."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_onnx_path(path: str | Path) -> Path:
    """An .onnx file as given; in a model directory, ``model.onnx``, else ``model.int8.onnx``."""
    path = Path(path)
    if path.is_dir():
        for name in (ONNX_FILE, INT8_ONNX_FILE):
            if (path / name).is_file():
                return path / name
        raise ModelFileError(
            f"{path}: no {ONNX_FILE} or {INT8_ONNX_FILE} in this model directory; create one with "
            f"`sparkhtr export-onnx {path} {path / ONNX_FILE}`"
        )
    if not path.is_file():
        raise ModelFileError(f"{path}: no such ONNX file or model directory")
    return path


def _providers(device: str | None) -> list[str]:
    if device is None or device == "cpu":
        return ["CPUExecutionProvider"]
    if str(device).startswith("cuda"):
        available = _onnxruntime().get_available_providers()
        if "CUDAExecutionProvider" not in available:
            raise RuntimeError(
                f"device {device!r} was asked for but onnxruntime has no CUDA provider "
                f"(available: {', '.join(available)}); install onnxruntime-gpu"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'")


def _provider_options(device: str | None) -> list[dict[str, str]] | None:
    if device is not None and str(device).startswith("cuda:"):
        return [{"device_id": str(device).split(":", 1)[1]}, {}]
    return None


class OnnxBackend:
    """An onnxruntime session over an exported model: the Backend protocol of ``backends.py``.

    Args:
        model: path of an .onnx file, or its bytes.
        device: "cpu" (default), "cuda" or "cuda:N" (needs onnxruntime-gpu).
        num_threads: intra-op threads; default ``default_num_threads()``.
        spin: let idle pool threads busy-wait (lower latency on an otherwise idle machine).
        lines_in_parallel: with a single-line graph on the CPU, run ``num_threads`` lines at once,
            one thread each, instead of one line on ``num_threads`` threads; None (default): do so
            whenever ``num_threads`` > 1. A line is too small a job to keep several threads busy.
    """

    name = "onnx"
    frame_stride = FRAME_STRIDE

    def __init__(
        self,
        model: str | Path | bytes,
        device: str | None = None,
        num_threads: int | None = None,
        spin: bool = False,
        lines_in_parallel: bool | None = None,
    ) -> None:
        self._model = model if isinstance(model, bytes) else str(model)
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        self.num_threads = num_threads or default_num_threads()
        self.spin = spin
        self.device = device or "cpu"
        # Whether the graph is single-line shows only once a session has read it, so open it as if
        # it were (one intra-op thread when lines will run in parallel), and reopen only if not.
        parallel = lines_in_parallel is not False and self.device == "cpu" and self.num_threads > 1
        self.lines_at_once = self.num_threads if parallel else 1
        self.session = self._session(self.device)
        # A single-line graph (export_onnx(single_line=True)) takes no sizes: lines go one by one.
        self.single_line = [i.name for i in self.session.get_inputs()] == ["images"]
        if self.lines_at_once > 1 and not self.single_line:
            self.lines_at_once = 1
            self.session = self._session(self.device)  # a padded-batch graph: every thread on each batch

    @property
    def preferred_batch_size(self) -> int:
        """Lines per call that keep this backend busy: a few per parallel line, else 1 on a CPU."""
        if self.lines_at_once > 1:
            return 4 * self.lines_at_once
        return 16 if str(self.device).startswith("cuda") else 1

    @property
    def threads(self) -> int:
        return self.num_threads

    def describe(self) -> str:
        source = "<bytes>" if isinstance(self._model, bytes) else Path(self._model).name
        graph = "single-line" if self.single_line else "batched"
        how = f"{self.lines_at_once} lines at once" if self.lines_at_once > 1 else f"{self.num_threads} thread(s)"
        return f"onnx ({source}, {graph} graph, {self.device}, {how})"

    def _session(self, device: str):
        ort = _onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1 if self.lines_at_once > 1 else self.num_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
        return _open_session(self._model, options, _providers(device), _provider_options(device))

    def to(self, device: str) -> None:
        if device != self.device:
            if device != "cpu":
                self.lines_at_once = 1  # a GPU runs one line at a time, the pool would only queue
            self.session = self._session(device)
            self.device = device

    def run_batch(self, images: Any, sizes: Any) -> tuple[np.ndarray, np.ndarray]:
        # Tensors are welcome too (anything with .numpy()), without importing torch here.
        images = images.numpy() if hasattr(images, "numpy") else images
        sizes = sizes.numpy() if hasattr(sizes, "numpy") else sizes
        images = np.ascontiguousarray(images, dtype=np.float32)
        sizes = np.ascontiguousarray(sizes, dtype=np.int64)
        if not self.single_line:
            log_probs, frames = self.session.run(None, {"images": images, "sizes": sizes})
            return log_probs, frames
        lines = [
            self.run_line(np.ascontiguousarray(images[row : row + 1, :, :h, :w]))
            for row, (h, w) in enumerate(sizes.tolist())
        ]
        frames = np.array([len(line) for line in lines], dtype=np.int64)
        log_probs = np.zeros((len(lines), int(frames.max(initial=0)), lines[0].shape[1] if lines else 0), np.float32)
        for row, line in enumerate(lines):
            log_probs[row, : len(line)] = line
        return log_probs, frames

    __call__ = run_batch  # the protocol's first form: backend(images, sizes)

    def run_line(self, image: np.ndarray) -> np.ndarray:
        """One unpadded line (1, C, H, W) float32: its (T, classes) log-probs."""
        image = np.ascontiguousarray(image, dtype=np.float32)
        if self.single_line:
            return self.session.run(None, {"images": image})[0][0]
        sizes = np.array([image.shape[2:]], dtype=np.int64)
        log_probs, frames = self.session.run(None, {"images": image, "sizes": sizes})
        return log_probs[0, : int(frames[0])]


def _open_session(model: str | bytes, options, providers: list[str], provider_options: list[dict] | None = None):
    try:
        return _onnxruntime().InferenceSession(model, options, providers=providers, provider_options=provider_options)
    except Exception as exc:  # onnxruntime's errors (InvalidProtobuf, Fail, ...) share no public base class
        name = "<ONNX bytes>" if isinstance(model, bytes) else model
        raise ModelFileError(f"{name}: onnxruntime cannot load it: {exc}") from exc


def read_onnx_config(path: str | Path) -> ModelConfig:
    """The ModelConfig stored in an exported file's metadata (the file or its model directory)."""
    path = resolve_onnx_path(path)
    options = _onnxruntime().SessionOptions()
    options.graph_optimization_level = _onnxruntime().GraphOptimizationLevel.ORT_DISABLE_ALL
    session = _open_session(str(path), options, ["CPUExecutionProvider"])
    return _config_from(session, path)


def _config_from(session, path: Path) -> ModelConfig:
    metadata = session.get_modelmeta().custom_metadata_map
    if ONNX_CONFIG_KEY not in metadata:
        raise ModelFileError(
            f"{path}: not a sparkhtr ONNX model (no {ONNX_CONFIG_KEY!r} metadata); "
            "export it with `sparkhtr export-onnx`"
        )
    try:
        return ModelConfig.from_dict(json.loads(metadata[ONNX_CONFIG_KEY]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: the embedded model config is not valid: {exc}") from exc


def load_onnx_backend(
    path: str | Path, device: str | None = None, num_threads: int | None = None, spin: bool = False
) -> tuple[OnnxBackend, ModelConfig]:
    """A backend and its config from an .onnx file, or from a model directory holding ``model.onnx``."""
    onnx_path = resolve_onnx_path(path)
    backend = OnnxBackend(onnx_path, device, num_threads, spin)
    return backend, _config_from(backend.session, onnx_path)
