"""The torch backend: the float model in PyTorch. The one inference module that imports torch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# oneDNN (torch's CPU convolutions) keeps a compiled kernel for every input shape it has met, up to
# 1,024 shapes. Lines come in every width, so a long run kept adding about half a MB a line for
# almost no reuse (torch, greedy: 374 -> 808 MB over 1,600 lines and still rising); 16 keeps the
# process flat (465 -> 482 MB) at the same lines/s (benchmarks/scaling.py).
# oneDNN reads it when it first runs a convolution in the process; a value set by the user wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16")

import torch  # noqa: E402  (after the setting above, which must come before torch's first convolution)

from sparkhtr.model.config import ModelConfig
from sparkhtr.model.files import load_model
from sparkhtr.model.span import SpanLineModel

__all__ = ["TorchBackend", "select_device", "load_torch_backend", "gpu_available"]


def select_device(device: str | None) -> torch.device:
    if device is None or device == "cpu":
        return torch.device("cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was asked for but CUDA is not available")
    return torch.device(device)


def gpu_available() -> bool:
    return torch.cuda.is_available()


class TorchBackend:
    """PyTorch in inference mode; ``precision="bf16"`` autocasts (fast on CPUs with native bf16)."""

    name = "torch"

    def __init__(self, model: SpanLineModel, device: str | None = None, precision: str = "fp32") -> None:
        if precision not in ("fp32", "bf16"):
            raise ValueError("precision must be 'fp32' or 'bf16'")
        self.device = select_device(device)
        self.model = model.eval().to(self.device)
        self.precision = precision

    def to(self, device: str) -> None:
        self.device = select_device(device)
        self.model.to(self.device)

    @property
    def frame_stride(self) -> int:
        return SpanLineModel.WIDTH_REDUCTION

    @property
    def preferred_batch_size(self) -> int:
        # On a CPU single lines ran fastest: a batch of wide lines no longer fits the cache
        # (benchmarks/README.md); a GPU wants batches.
        return 16 if self.device.type == "cuda" else 1

    @property
    def lines_at_once(self) -> int:
        # torch spreads each line over its own threads (and a GPU takes batches): one call at a time.
        return 1

    @property
    def threads(self) -> int:
        return torch.get_num_threads()

    def describe(self) -> str:
        return f"torch ({self.precision}, {self.device}, {self.threads} thread(s))"

    def run_batch(
        self, images: np.ndarray | torch.Tensor, sizes: np.ndarray | torch.Tensor
    ) -> tuple[np.ndarray, np.ndarray]:
        images, sizes = torch.as_tensor(images), torch.as_tensor(sizes, dtype=torch.long)
        padded = bool((sizes[:, 0] != images.shape[2]).any() or (sizes[:, 1] != images.shape[3]).any())
        with torch.inference_mode(), torch.autocast(self.device.type, torch.bfloat16, enabled=self.precision == "bf16"):
            log_probs = self.model(images.to(self.device), sizes.to(self.device) if padded else None)
        frames = SpanLineModel.frame_counts(sizes[:, 1])
        return log_probs.float().cpu().numpy(), frames.numpy()

    __call__ = run_batch  # the protocol's first form: backend(images, sizes)

    def run_line(self, image: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), torch.autocast(self.device.type, torch.bfloat16, enabled=self.precision == "bf16"):
            log_probs = self.model(torch.as_tensor(image).to(self.device), None)
        return log_probs[0].float().cpu().numpy()


def load_torch_backend(
    path: str | Path, device: str | None = None, num_threads: int | None = None
) -> tuple[TorchBackend, ModelConfig]:
    """The float model of a model directory; ``num_threads`` sets torch's threads (process-wide)."""
    if num_threads:
        torch.set_num_threads(num_threads)
    model, config = load_model(path)
    return TorchBackend(model, device), config
