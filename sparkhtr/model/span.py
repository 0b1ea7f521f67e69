"""The SPAN line recognizer (Coquenet et al., ICDAR 2021), re-implemented from the published spec.

A fully convolutional encoder (6 ConvBlocks, 4 residual depthwise-separable blocks), a max-pool over
the whole height, a 1x1 conv to charset+1 classes and a log-softmax; CTC blank is the last class.

Why the masks: SPAN's InstanceNorm computes its statistics over the whole padded map, so in the
official code a line's output depends on which lines share its batch. Here every layer takes the
valid (height, width) of each sample, statistics are taken over valid pixels only, and padded
positions are re-zeroed before each convolution reads them. A padded line then sees exactly what it
would see alone (zeros beyond its edge, as conv padding gives), so batch 1 and batch 32 agree.
"""

from __future__ import annotations

import random

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sparkhtr.model.config import ArchitectureConfig

__all__ = ["SpanLineModel", "ConvBlock", "DSCBlock", "MixDropout"]

INSTANCE_NORM_EPS = 1e-3


def _valid_mask(sizes: Tensor, height: int, width: int) -> Tensor:
    """A (N, 1, H, W) float mask that is 1 inside each sample's valid (h, w) and 0 in its padding."""
    rows = torch.arange(height, device=sizes.device)[None, :] < sizes[:, 0:1]
    cols = torch.arange(width, device=sizes.device)[None, :] < sizes[:, 1:2]
    return (rows[:, None, :, None] & cols[:, None, None, :]).float()


def _strided_sizes(sizes: Tensor, stride: tuple[int, int]) -> Tensor:
    # A 3x3 conv with padding 1 and stride s maps n positions to ceil(n / s).
    divisor = torch.tensor(stride, device=sizes.device)
    return torch.div(sizes + divisor - 1, divisor, rounding_mode="floor")


def _sum_plane(x: Tensor) -> Tensor:
    # Over width, then height: onnxruntime sums a whole (H, W) plane in one float32 running sum,
    # which drifted by ~1e-3 and changed texts; two short reductions keep it at torch's precision.
    return x.sum(dim=3, keepdim=True).sum(dim=2, keepdim=True)


class _Masked:
    """The current resolution's mask, shared by the layers of one block (None: nothing is padded)."""

    def __init__(self, sizes: Tensor | None, x: Tensor) -> None:
        self.sizes = sizes
        self.mask = None if sizes is None else _valid_mask(sizes, x.shape[2], x.shape[3]).to(x.dtype)

    def apply(self, x: Tensor) -> Tensor:
        return x if self.mask is None else x * self.mask

    def instance_norm(self, x: Tensor) -> Tensor:
        if self.mask is None:
            return F.instance_norm(x, eps=INSTANCE_NORM_EPS)
        count = _sum_plane(self.mask).clamp_min(1.0)
        mean = _sum_plane(x * self.mask) / count
        centred = (x - mean) * self.mask
        var = _sum_plane(centred * centred) / count
        return centred * torch.rsqrt(var + INSTANCE_NORM_EPS)

    def stride(self, stride: tuple[int, int], x: Tensor) -> _Masked:
        if self.sizes is None:
            return _Masked(None, x)
        return _Masked(_strided_sizes(self.sizes, stride), x)


class PooledDropout(nn.Module):
    """Element-wise dropout whose keep-masks are random windows of a pool of pre-drawn random bytes.

    Why: on CPU, drawing a fresh Bernoulli mask per activation (nn.Dropout) took 21 % of a span_small
    training step. Slicing a window at a random offset out of a pool that is redrawn every
    `redraw_every` calls gives masks with the same keep rate, for the price of one comparison.
    On other devices, and in eval mode, it behaves exactly like nn.Dropout.
    """

    def __init__(self, p: float, redraw_every: int = 32) -> None:
        super().__init__()
        self.p = p
        self.redraw_every = redraw_every
        self._pool: Tensor | None = None
        self._calls = 0

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        n = x.numel()
        if self._pool is None or self._pool.numel() < 2 * n or self._calls % self.redraw_every == 0:
            size = max(2 * n, 0 if self._pool is None else self._pool.numel())
            self._pool = torch.randint(0, 256, (size,), dtype=torch.uint8)
        self._calls += 1
        offset = int(torch.randint(0, self._pool.numel() - n + 1, ()).item())
        keep = self._pool[offset : offset + n].view(x.shape) >= round(256 * self.p)
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.p))


class MixDropout(nn.Module):
    """Per call, standard dropout(p) or channel dropout(p/2), each with probability 0.5."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.dropout = PooledDropout(p)
        self.dropout2d = nn.Dropout2d(p / 2)

    def forward(self, x: Tensor) -> Tensor:
        if random.random() < 0.5:
            return self.dropout(x)
        return self.dropout2d(x)


class ConvBlock(nn.Module):
    """conv, ReLU, conv, ReLU, InstanceNorm, strided conv, ReLU; MixDropout after one random ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int], dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv3 = nn.Conv2d(out_channels, out_channels, 3, padding=1, stride=stride)
        self.dropout = MixDropout(dropout)
        self.stride = stride

    def forward(self, x: Tensor, masked: _Masked) -> tuple[Tensor, _Masked]:
        drop_at = random.randint(1, 3) if self.training else 0
        x = masked.apply(F.relu(self.conv1(x)))
        x = self.dropout(x) if drop_at == 1 else x
        x = masked.apply(F.relu(self.conv2(x)))
        x = self.dropout(x) if drop_at == 2 else x
        x = masked.apply(masked.instance_norm(x))
        x = F.relu(self.conv3(x))
        masked = masked.stride(self.stride, x)
        x = masked.apply(x)
        x = self.dropout(x) if drop_at == 3 else x
        return x, masked


class DepthSepConv(nn.Module):
    """A depthwise 3x3 conv then a pointwise 1x1 conv, nothing between them."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.depth_conv = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels)
        self.point_conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.point_conv(self.depth_conv(x))


class DSCBlock(nn.Module):
    """Three depthwise-separable convs (ReLU, ReLU, InstanceNorm between; none after the last)."""

    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = DepthSepConv(channels, channels)
        self.conv2 = DepthSepConv(channels, channels)
        self.conv3 = DepthSepConv(channels, channels)
        self.dropout = MixDropout(dropout)

    def forward(self, x: Tensor, masked: _Masked) -> Tensor:
        drop_at = random.randint(1, 3) if self.training else 0
        x = masked.apply(F.relu(self.conv1(x)))
        x = self.dropout(x) if drop_at == 1 else x
        x = masked.apply(F.relu(self.conv2(x)))
        x = self.dropout(x) if drop_at == 2 else x
        x = masked.apply(masked.instance_norm(x))
        x = masked.apply(self.conv3(x))
        return self.dropout(x) if drop_at == 3 else x


class SpanLineModel(nn.Module):
    """SPAN's line model: image batch (N, C, H, W) -> CTC log-probabilities (N, T, classes)."""

    # (height, width) strides of the six ConvBlocks: /32 in height, /8 in width overall.
    STRIDES = ((1, 1), (2, 2), (2, 2), (2, 2), (2, 1), (2, 1))
    WIDTH_REDUCTION = 8

    def __init__(self, arch: ArchitectureConfig, num_classes: int) -> None:
        super().__init__()
        channels = [arch.input_channels, *arch.conv_channels]
        self.init_blocks = nn.ModuleList(
            ConvBlock(channels[i], channels[i + 1], stride, arch.dropout) for i, stride in enumerate(self.STRIDES)
        )
        width = arch.conv_channels[-1]
        self.blocks = nn.ModuleList(DSCBlock(width, arch.dropout) for _ in range(arch.num_dsc_blocks))
        self.end_conv = nn.Conv2d(width, num_classes, 1)
        self.num_classes = num_classes
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """SPAN's initialisation: Kaiming-uniform (ReLU gain) weights, zero biases."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def encode(self, x: Tensor, sizes: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        masked = _Masked(sizes, x)
        for block in self.init_blocks:
            x, masked = block(x, masked)
        for block in self.blocks:
            x = x + block(x, masked)
        return x, masked.sizes

    def forward(self, x: Tensor, sizes: Tensor | None = None) -> Tensor:
        """Log-probabilities (N, T, classes), T = ceil(W / 8).

        Args:
            x: normalised images, (N, C, H, W), padded with 0 right and bottom.
            sizes: (N, 2) int tensor of each image's valid (height, width) before padding,
                or None when no image is padded.
        """
        features, out_sizes = self.encode(x, sizes)
        if out_sizes is not None:
            rows = torch.arange(features.shape[2], device=x.device)[None, :] < out_sizes[:, 0:1]
            features = features.masked_fill(~rows[:, None, :, None], float("-inf"))
        pooled = features.amax(dim=2, keepdim=True)  # every column has >= 1 valid row: no -inf left
        logits = self.end_conv(pooled).squeeze(2).transpose(1, 2)
        return F.log_softmax(logits.float(), dim=-1)

    @classmethod
    def frame_counts(cls, widths: Tensor) -> Tensor:
        """Frames each line really has: its valid width after the /8 reduction."""
        return torch.div(widths + cls.WIDTH_REDUCTION - 1, cls.WIDTH_REDUCTION, rounding_mode="floor")
