"""Backends run the network on one padded batch: (images, sizes) -> (log-probs, frame counts)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from sparkhtr.model.span import SpanLineModel

__all__ = ["Backend", "TorchBackend", "select_device"]


def select_device(device: str | None) -> torch.device:
    if device is None or device == "cpu":
        return torch.device("cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was asked for but CUDA is not available")
    return torch.device(device)


class Backend(Protocol):
    def __call__(self, images: torch.Tensor, sizes: torch.Tensor) -> tuple[np.ndarray, np.ndarray]: ...

    def to(self, device: str) -> None: ...

    @property
    def preferred_batch_size(self) -> int: ...


class TorchBackend:
    """PyTorch in inference mode; ``precision="bf16"`` autocasts (fast on CPUs with native bf16)."""

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
    def preferred_batch_size(self) -> int:
        # On a CPU single lines ran fastest: a batch of wide lines no longer fits the cache
        # (benchmarks/README.md); a GPU wants batches.
        return 16 if self.device.type == "cuda" else 1

    def __call__(self, images: torch.Tensor, sizes: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        padded = bool((sizes[:, 0] != images.shape[2]).any() or (sizes[:, 1] != images.shape[3]).any())
        with torch.inference_mode(), torch.autocast(self.device.type, torch.bfloat16, enabled=self.precision == "bf16"):
            log_probs = self.model(images.to(self.device), sizes.to(self.device) if padded else None)
        frames = SpanLineModel.frame_counts(sizes[:, 1])
        return log_probs.float().cpu().numpy(), frames.numpy()
