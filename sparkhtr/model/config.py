"""Model configuration: architecture, charset and preprocessing, the JSON beside the weights.

The charset and the normalisation are not part of the network but the weights are meaningless
without them, so they live in the same config and travel with every model directory.
"""

from __future__ import annotations

import math
import numbers
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ArchitectureConfig", "PreprocessingConfig", "ModelConfig", "ARCHITECTURES", "architecture"]

CONFIG_FORMAT = "sparkhtr-model/1"
# Bounds that no working model comes near, so that a typo or a hostile file is refused when it is
# loaded rather than read every line wrong (line_height 0 meant "no resizing"), or made the network
# ask for terabytes (a width of 10**9 channels).
MAX_CHANNELS = 4096
MAX_DSC_BLOCKS = 64
LINE_HEIGHTS = (8, 1024)
MAX_RESCALE = 8.0
MAX_POSITION_LAG = 1000.0


def _integer(value: Any, name: str, low: int, high: int) -> int:
    """``value`` as an int in [low, high]; a bool, a float or a string is refused, not converted."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def _number(value: Any, name: str) -> float:
    """``value`` as a finite float: NaN and infinity (JSON's ``NaN``, ``Infinity``) are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return float(value)


def _numbers(values: Any, name: str) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a list of numbers, got {values!r}")
    return tuple(_number(v, f"{name}[{i}]") for i, v in enumerate(values))


def check_charset(charset: Any) -> list[str]:
    """The charset as a list, or ValueError naming its first bad entry: every entry a non-empty
    string without control characters (they break every text output format), none repeated
    (the decoder could not tell them apart)."""
    if isinstance(charset, (str, bytes)) or not isinstance(charset, (list, tuple)):
        raise ValueError(f"charset must be a list of strings, got {type(charset).__name__}")
    if not charset:
        raise ValueError("charset is empty")
    seen: set[str] = set()
    for i, entry in enumerate(charset):
        if not isinstance(entry, str) or not entry:
            raise ValueError(f"charset[{i}] must be a non-empty string, got {entry!r}")
        if any(unicodedata.category(c) in ("Cc", "Cs", "Cn") for c in entry):
            raise ValueError(f"charset[{i}] {entry!r} holds a control, surrogate or unassigned character")
        if entry in seen:
            raise ValueError(f"charset[{i}] {entry!r} is repeated")
        seen.add(entry)
    return list(charset)


@dataclass
class ArchitectureConfig:
    """Widths of the SPAN encoder. The defaults are the published SPAN line model."""

    name: str = "span"
    input_channels: int = 3
    conv_channels: tuple[int, ...] = (32, 64, 128, 256, 512, 512)
    num_dsc_blocks: int = 4
    dropout: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"architecture name must be a non-empty string, got {self.name!r}")
        self.input_channels = _integer(self.input_channels, "input_channels", 1, 3)
        if self.input_channels == 2:
            raise ValueError("input_channels must be 1 (gray) or 3 (RGB), got 2")
        if isinstance(self.conv_channels, (str, bytes)) or not hasattr(self.conv_channels, "__iter__"):
            raise ValueError(f"conv_channels must be a list of integers, got {self.conv_channels!r}")
        self.conv_channels = tuple(
            _integer(c, f"conv_channels[{i}]", 1, MAX_CHANNELS) for i, c in enumerate(self.conv_channels)
        )
        if len(self.conv_channels) != 6:
            raise ValueError(f"SPAN has 6 conv blocks, got {len(self.conv_channels)} channel widths")
        self.num_dsc_blocks = _integer(self.num_dsc_blocks, "num_dsc_blocks", 0, MAX_DSC_BLOCKS)
        self.dropout = _number(self.dropout, "dropout")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


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
        self.mean = _numbers(self.mean, "mean")
        self.std = _numbers(self.std, "std")
        if isinstance(self.channels, bool) or self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels!r}")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(f"mean and std need {self.channels} values each, got {self.mean} and {self.std}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std}")
        if self.line_height is not None:
            self.line_height = _integer(self.line_height, "line_height", *LINE_HEIGHTS)
        self.rescale = _number(self.rescale, "rescale")
        if not 0.0 < self.rescale <= MAX_RESCALE:
            raise ValueError(f"rescale must be in (0, {MAX_RESCALE:g}], got {self.rescale}")
        if self.min_ink_share is not None:
            self.min_ink_share = _number(self.min_ink_share, "min_ink_share")
            if not 0.0 < self.min_ink_share <= 1.0:
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

    def __post_init__(self) -> None:
        self.charset = check_charset(self.charset)
        self.position_lag = _number(self.position_lag, "position_lag")
        if abs(self.position_lag) > MAX_POSITION_LAG:
            raise ValueError(f"position_lag must be within +-{MAX_POSITION_LAG:g} frames, got {self.position_lag}")

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
        """A config from its JSON form, every value checked (types, ranges, finite numbers, charset
        entries): ValueError names the first bad one."""
        if not isinstance(data, dict):
            raise ValueError(f"a model config is a JSON object, got {type(data).__name__}")
        if data.get("format") != CONFIG_FORMAT:
            raise ValueError(f"not a sparkhtr model config (format {data.get('format')!r}, expected {CONFIG_FORMAT!r})")
        for key in ("architecture", "preprocessing"):
            if not isinstance(data.get(key), dict):
                raise ValueError(f"{key} must be a JSON object, got {data.get(key)!r}")
        provenance = data.get("provenance", {})
        if not isinstance(provenance, dict):
            raise ValueError(f"provenance must be a JSON object, got {type(provenance).__name__}")
        config = cls(
            architecture=ArchitectureConfig(**data["architecture"]),
            charset=data["charset"],
            preprocessing=PreprocessingConfig(**data["preprocessing"]),
            provenance=dict(provenance),
            position_lag=data.get("position_lag", 0.0),  # configs from before it was measured: 0
        )
        if config.architecture.input_channels != config.preprocessing.channels:
            # Caught here, not at the first line read, where it would fail every line.
            raise ValueError(
                f"the network takes {config.architecture.input_channels} channel(s) but preprocessing "
                f"gives {config.preprocessing.channels}"
            )
        return config
