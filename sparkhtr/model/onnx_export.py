"""Export a SPAN line model to a self-contained ONNX file.

Why ONNX: onnxruntime is a tenth of torch's size, starts fast and runs the same graph from Python,
Java or C#, which suits Spark executors and small servers. Why these choices:

- The graph takes the per-sample ``sizes`` (N, 2) as a second input, exactly as
  ``SpanLineModel.forward`` does, so a line's output does not depend on the lines padded beside it.
  There is no "nothing is padded" shortcut in the graph: callers always pass sizes.
- Batch, height and width are dynamic axes; the output has a dynamic frame axis (ceil(W / 8)).
- A second output, ``frames``, gives each line's valid frame count, so a consumer outside Python
  needs nothing but the file to decode.
- The model's config (charset, preprocessing, architecture) is stored as JSON in the file's
  ``metadata_props`` under ``sparkhtr.config``: one .onnx file is a complete recognizer.
- The TorchScript-based exporter (``dynamo=False``) is used: it needs nothing beyond torch and onnx,
  works offline, and traces the mask arithmetic (``arange`` over dynamic shapes) correctly. The
  dynamo exporter would need ``onnxscript`` as well.
- The masked instance norm sums over width, then height (``span._sum_plane``): onnxruntime's
  ReduceSum over a whole plane drifted enough in float32 to change texts.
- ``single_line=True`` writes a graph without the padding masks, whose only input is ``images``:
  one line (or lines of one size) per call. On a CPU, where lines run one at a time anyway, it was
  1.2x faster in float32 and 1.6x faster once quantized to int8 (benchmarks/README.md), because
  the masked instance norms' element-wise arithmetic becomes one InstanceNormalization and the
  convolutions fuse with their ReLUs. ``OnnxBackend`` runs a padded batch through it line by line.
- After writing, the file is run once with onnxruntime (when installed) on a batch whose shape
  differs from the tracing example and compared with torch, so a bad trace fails at export time,
  not in production.
"""

from __future__ import annotations

import copy
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from sparkhtr.model.config import ModelConfig
from sparkhtr.model.span import SpanLineModel

__all__ = [
    "ONNX_FILE",
    "INT8_ONNX_FILE",
    "CONFIG_METADATA_KEY",
    "update_onnx_config",
    "FORMAT_METADATA_KEY",
    "ONNX_FORMAT",
    "DEFAULT_OPSET",
    "INPUT_NAMES",
    "OUTPUT_NAMES",
    "ExportReport",
    "export_onnx",
    "example_batch",
]

ONNX_FILE = "model.onnx"
# `sparkhtr export-onnx --int8` (sparkhtr.calibrate.quantize); bundled models ship one.
INT8_ONNX_FILE = "model.int8.onnx"
CONFIG_METADATA_KEY = "sparkhtr.config"
FORMAT_METADATA_KEY = "sparkhtr.format"
ONNX_FORMAT = "sparkhtr-onnx/1"
DEFAULT_OPSET = 17
INPUT_NAMES = ("images", "sizes")
OUTPUT_NAMES = ("log_probs", "frames")

# Float32 summation order differs between torch's and onnxruntime's kernels; the instance norms
# amplify that. Trained models stay near 5e-4; seeded random test models on noise lines reach about
# 1e-2 in the single-line graph; a wrong graph is off by whole units.
VERIFY_TOLERANCE = 5e-2


class _OnnxSpan(nn.Module):
    """The graph's signature: (images, sizes) -> (log-probs, frame counts); sizes always given."""

    def __init__(self, model: SpanLineModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor, sizes: Tensor) -> tuple[Tensor, Tensor]:
        log_probs = self.model(images, sizes)
        return log_probs, SpanLineModel.frame_counts(sizes[:, 1])


class _OnnxSpanSingleLine(nn.Module):
    """images (nothing padded) -> (log-probs, frame counts); every frame of every row is valid."""

    def __init__(self, model: SpanLineModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        log_probs = self.model(images)
        return log_probs, torch.ones(images.shape[0], dtype=torch.long) * log_probs.shape[1]


@dataclass(frozen=True)
class ExportReport:
    path: Path
    size_bytes: int
    opset: int
    max_abs_diff: float | None  # torch vs onnxruntime on the check batch; None when not checked


def example_batch(
    config: ModelConfig, widths: tuple[int, ...] = (230, 157, 96), seed: int = 0
) -> tuple[Tensor, Tensor]:
    """A padded batch of noise lines (zeros beyond each line's size), shaped like the model's input."""
    generator = torch.Generator().manual_seed(seed)
    height = config.preprocessing.line_height or 64
    heights = [height - 3 * i for i in range(len(widths))]
    images = torch.zeros(len(widths), config.architecture.input_channels, max(heights), max(widths))
    for i, (h, w) in enumerate(zip(heights, widths)):
        images[i, :, :h, :w] = torch.randn(config.architecture.input_channels, h, w, generator=generator)
    return images, torch.tensor(list(zip(heights, widths)), dtype=torch.long)


def _trace_to_onnx(wrapper: nn.Module, images: Tensor, sizes: Tensor | None, opset: int) -> bytes:
    buffer = io.BytesIO()
    inputs = (images,) if sizes is None else (images, sizes)
    dynamic_axes = {
        "images": {0: "batch", 2: "height", 3: "width"},
        "sizes": {0: "batch"},
        "log_probs": {0: "batch", 1: "frames"},
        "frames": {0: "batch"},
    }
    with warnings.catch_warnings():
        # The legacy exporter's deprecation notice, and the tracer's note that the constant strides
        # in span._strided_sizes become constants (they are constants).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # Instance norm always normalises with the input's own statistics; the exporter says so.
        warnings.filterwarnings("ignore", message=".*'instance_norm' is set to train=True", category=UserWarning)
        torch.onnx.export(
            wrapper,
            inputs,
            buffer,
            dynamo=False,
            input_names=list(INPUT_NAMES[: len(inputs)]),
            output_names=list(OUTPUT_NAMES),
            opset_version=opset,
            do_constant_folding=True,
            dynamic_axes={name: axes for name, axes in dynamic_axes.items() if name != "sizes" or sizes is not None},
        )
    return buffer.getvalue()


def _verify(data: bytes, model: SpanLineModel, config: ModelConfig, single_line: bool) -> float | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    # A shape unlike the tracing example: more lines, other widths, a line narrower than one frame.
    images, sizes = example_batch(config, widths=(301, 64, 5, 177), seed=1)
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    frames = SpanLineModel.frame_counts(sizes[:, 1]).tolist()
    with torch.inference_mode():
        if single_line:  # each line alone, cropped to its size, in both engines
            lines = [images[row : row + 1, :, :h, :w] for row, (h, w) in enumerate(sizes.tolist())]
            want = [model(line)[0].numpy() for line in lines]
            got = [session.run(None, {"images": line.numpy()}) for line in lines]
            got = [(log_probs[0], int(count[0])) for log_probs, count in got]
        else:
            want = list(model(images, sizes).numpy())
            log_probs, counts = session.run(None, {"images": images.numpy(), "sizes": sizes.numpy()})
            got = list(zip(log_probs, counts.tolist()))
    diff = 0.0
    for row, (count, want_row, (got_row, got_count)) in enumerate(zip(frames, want, got)):
        if got_count != count or got_row.shape != want_row.shape:
            raise RuntimeError(
                f"ONNX export is wrong: line {row} has {got_count} frames, log-probs {got_row.shape}; "
                f"torch {count} frames, {want_row.shape}"
            )
        diff = max(diff, float(np.abs(got_row[:count] - want_row[:count]).max()))
    if diff > VERIFY_TOLERANCE:
        raise RuntimeError(f"ONNX export is wrong: log-probs differ from torch by {diff:.3g} (> {VERIFY_TOLERANCE})")
    return diff


def export_onnx(
    model: SpanLineModel,
    config: ModelConfig,
    path: str | Path,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    single_line: bool = False,
) -> ExportReport:
    """Write ``model`` with its config to ``path`` as ONNX; the model itself is left as it was.

    Args:
        model: the network (any device or dtype; a float32 CPU copy is exported, in eval mode).
        config: its ModelConfig, embedded in the file's metadata.
        path: the .onnx file to write (parent folders are created).
        opset: ONNX opset version.
        verify: run the file with onnxruntime, when installed, and compare with torch.
        single_line: a graph without padding masks, whose only input is ``images`` (see above).

    Raises:
        RuntimeError: the exported graph disagrees with torch.
    """
    import onnx

    path = Path(path)
    network = copy.deepcopy(model).to("cpu", torch.float32).eval()
    images, sizes = example_batch(config)
    if single_line:
        data = _trace_to_onnx(_OnnxSpanSingleLine(network).eval(), images[:1], None, opset)  # line 0: not padded
    else:
        data = _trace_to_onnx(_OnnxSpan(network).eval(), images, sizes, opset)

    proto = onnx.load_from_string(data)
    _set_config(proto, config)
    proto.doc_string = (
        "sparkhtr SPAN line recognizer: images (N,C,H,W) float32 (lines of one size, not padded) -> CTC log-probs"
        if single_line
        else "sparkhtr SPAN line recognizer: images (N,C,H,W) float32 + sizes (N,2) int64 -> CTC log-probs"
    )
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()

    max_diff = _verify(data, network, config, single_line) if verify else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return ExportReport(path, len(data), opset, max_diff)


def update_onnx_config(path: str | Path, config: ModelConfig) -> None:
    """Replace the model config embedded in an exported file (e.g. a newly measured position lag);
    the graph and its weights stay byte for byte as they are."""
    import onnx

    proto = onnx.load(str(path))
    _set_config(proto, config)
    onnx.save(proto, str(path))


def _set_config(proto, config: ModelConfig) -> None:
    metadata = {
        FORMAT_METADATA_KEY: ONNX_FORMAT,
        CONFIG_METADATA_KEY: json.dumps(config.to_dict(), ensure_ascii=False),
    }
    kept = [p for p in proto.metadata_props if p.key not in metadata]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
