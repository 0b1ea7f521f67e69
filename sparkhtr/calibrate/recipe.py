"""What an int8 quantization does (``QuantRecipe``), apart from the work itself
(``sparkhtr.calibrate.quantize``), so that the command line can show the defaults without
importing numpy, Pillow and onnxruntime."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "QuantRecipe", "DEFAULT_RECIPE", "DEFAULT_CALIBRATION_LINES", "CALIBRATION_METHODS", "QUANT_FORMATS", "DSC_BLOCKS"
]

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
QUANT_FORMATS = ("qdq", "qoperator")
# The SPAN models' depthwise-separable blocks (nodes "/model/blocks.N/...", not "/model/init_blocks.N/"),
# left float by default: they take 3 % of the float graph's time (the init blocks, at full
# resolution, the rest), and in int8 they added about as much error as all the init blocks together.
DSC_BLOCKS = "/blocks."


@dataclass(frozen=True)
class QuantRecipe:
    """How a float graph becomes int8.

    Attributes:
        method: activation ranges from the calibration lines' "minmax", or a histogram's
            "percentile" (``percentile`` of |x| kept) or "entropy" (KL-divergence) cut.
        percentile: for "percentile".
        quant_format: "qdq" (Quantize/DequantizeLinear pairs, fused by onnxruntime) or "qoperator"
            (QLinearConv ops written out).
        per_channel: one weight scale per output channel (else one per tensor).
        op_types: op types to quantize; None: Conv, Relu and Add in a single-line graph, Conv alone
            in a batched one (see the module's docstring).
        exclude: nodes left float: "first" and "last" name the first and last convolutions; any
            other entry leaves out every node whose name contains it (e.g. "/blocks.3/").
        reduce_range: 7-bit weights (for CPUs without VNNI, whose int8 products can overflow).
    """

    method: str = "percentile"
    percentile: float = 99.99
    quant_format: str = "qdq"
    per_channel: bool = True
    op_types: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = field(default=("first", "last", DSC_BLOCKS))
    reduce_range: bool = False

    def __post_init__(self) -> None:
        if self.method not in CALIBRATION_METHODS:
            raise ValueError(f"unknown calibration method {self.method!r}: use one of {', '.join(CALIBRATION_METHODS)}")
        if self.quant_format not in QUANT_FORMATS:
            raise ValueError(f"unknown quantization format {self.quant_format!r}: use {', '.join(QUANT_FORMATS)}")
        if not 0 < self.percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {self.percentile}")


DEFAULT_RECIPE = QuantRecipe()
DEFAULT_CALIBRATION_LINES = 256  # in all, shared out between the calibration datasets
