"""The Backend protocol: what a ``Predictor`` needs from whatever runs the network.

A backend runs a padded batch (``run_batch``) or one unpadded line (``run_line``), says how many
input pixels make one output frame (``frame_stride``: character positions need it), how many lines
a call should hold (``preferred_batch_size``), how many lines may run at once on the scheduler's
threads (``lines_at_once``: 1 means the backend wants batches, its own threads working on each),
and how many compute threads it uses (``threads``).

Two backends exist: ``TorchBackend`` (sparkhtr.inference.torch_backend, the float model) and
``OnnxBackend`` (sparkhtr.inference.onnx_backend, an exported graph under onnxruntime). This
module imports neither torch nor onnxruntime; ``TorchBackend`` and ``select_device`` resolve here on
first use, for code that imported them from this module.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Backend"]  # and, on first use, TorchBackend and select_device (see the module's docstring)


@runtime_checkable
class Backend(Protocol):
    name: str  # "torch" or "onnx": what results and --verbose report
    device: Any  # "cpu", "cuda", "cuda:N" (torch's backend holds a torch.device)

    def run_batch(self, images: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, C, H, W) float32 padded lines and their (N, 2) valid (height, width) -> (N, T, classes)
        log-probabilities and each line's valid frame count."""
        ...

    def run_line(self, image: np.ndarray) -> np.ndarray:
        """One unpadded line (1, C, H, W) float32 -> its (T, classes) log-probabilities."""
        ...

    def to(self, device: str) -> None: ...

    def describe(self) -> str:
        """One line for people: the backend, its file or precision, device and threads."""
        ...

    @property
    def frame_stride(self) -> int: ...

    @property
    def preferred_batch_size(self) -> int: ...

    @property
    def lines_at_once(self) -> int: ...

    @property
    def threads(self) -> int: ...


def __getattr__(name: str) -> Any:
    if name in ("TorchBackend", "select_device"):
        return getattr(importlib.import_module("sparkhtr.inference.torch_backend"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
