"""Model configuration: architecture, charset and preprocessing, the JSON beside the weights.

The charset and the normalisation are not part of the network but the weights are meaningless
without them, so they live in the same config and travel with every model directory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ArchitectureConfig", "PreprocessingConfig", "ModelConfig", "ARCHITECTURES", "architecture"]

CONFIG_FORMAT = "sparkhtr-model/1"


@dataclass
class ArchitectureConfig:
    """Widths of the SPAN encoder. The defaults are the published SPAN line model."""

    name: str = "span"
    input_channels: int = 3
    conv_channels: tuple[int, ...] = (32, 64, 128, 256, 512, 512)
    num_dsc_blocks: int = 4
    dropout: float = 0.5

    def __post_init__(self) -> None:
        self.conv_channels = tuple(int(c) for c in self.conv_channels)
        if len(self.conv_channels) != 6:
            raise ValueError(f"SPAN has 6 conv blocks, got {len(self.conv_channels)} channel widths")


# Named variants: the full SPAN and narrower ones that train on a CPU. Width scales every block.
ARCHITECTURES: dict[str, ArchitectureConfig] = {
    "span": ArchitectureConfig("span", 3, (32, 64, 128, 256, 512, 512)),
    "span_half": ArchitectureConfig("span_half", 1, (16, 32, 64, 128, 256, 256)),
    "span_quarter": ArchitectureConfig("span_quarter", 1, (8, 16, 32, 64, 128, 128)),
    "span_small": ArchitectureConfig("span_small", 1, (16, 32, 48, 96, 192, 192)),
}


def architecture(name: str, **overrides: Any) -> ArchitectureConfig:
    """A copy of a named variant with some fields replaced, e.g. ``architecture("span", input_channels=1)``."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    return ArchitectureConfig(**{**asdict(ARCHITECTURES[name]), **overrides})


@dataclass
class PreprocessingConfig:
    """How an image becomes the network's input.

    ``line_height`` set: every line is resized to that height, keeping its aspect ratio.
    Otherwise both axes are scaled by ``rescale`` (SPAN's default is 0.5, "300 to 150 dpi").
    Pixels are then (x - mean) / std per channel, in 0-255 units.

    ``min_ink_share`` set: before resizing, a line whose ink band (the rows holding the middle 96 %
    of its ink, ruling left out) fills less than that share of its height is cropped, around the
    band, to the height at which it fills that share, but never below half its height. Why: the
    network judges letter case by size against the crop, and crops cut loose around small writing
    (or block capitals, which have no ascenders or descenders) made it read capitals as small
    letters.
    """

    channels: int = 1
    line_height: int | None = 64
    rescale: float = 1.0
    mean: tuple[float, ...] = (128.0,)
    std: tuple[float, ...] = (64.0,)
    min_ink_share: float | None = None

    def __post_init__(self) -> None:
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(f"mean and std need {self.channels} values each, got {self.mean} and {self.std}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std}")
        if self.min_ink_share is not None and not 0.0 < self.min_ink_share <= 1.0:
            raise ValueError(f"min_ink_share must be in (0, 1], got {self.min_ink_share}")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a recognizer from its weights."""

    architecture: ArchitectureConfig
    charset: list[str]
    preprocessing: PreprocessingConfig = field(default_factory=PreprocessingConfig)
    provenance: dict[str, Any] = field(default_factory=dict)
    # Frames by which the network's CTC spikes trail the characters they stand for, as measured by
    # sparkhtr.inference.positions.estimate_position_lag; character positions are shifted back by it.
    position_lag: float = 0.0

    @property
    def num_classes(self) -> int:
        return len(self.charset) + 1  # + the CTC blank, the last index

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CONFIG_FORMAT,
            "architecture": asdict(self.architecture),
            "charset": list(self.charset),
            "preprocessing": asdict(self.preprocessing),
            "provenance": self.provenance,
            "position_lag": self.position_lag,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        if data.get("format") != CONFIG_FORMAT:
            raise ValueError(f"not a sparkhtr model config (format {data.get('format')!r}, expected {CONFIG_FORMAT!r})")
        return cls(
            architecture=ArchitectureConfig(**data["architecture"]),
            charset=list(data["charset"]),
            preprocessing=PreprocessingConfig(**data["preprocessing"]),
            provenance=dict(data.get("provenance", {})),
            position_lag=float(data.get("position_lag", 0.0)),  # configs from before it was measured: 0
        )
