"""Int8 quantization of an exported ONNX model, calibrated on real line images.

Why: on a 2-core AVX-512 CPU the int8 model ran 1.55x faster than float32 with onnxruntime
(1 thread, 100 Copiste val lines) and its CER moved from 22.32 % to 22.20 %; a single-line graph
(export_onnx(single_line=True)) in int8 ran 2.5x faster than the batched float32 one, CER 22.56 %
(benchmarks/README.md has the figures measured by benchmarks/inference_speed.py).

What is quantized, and why not everything:
- Convolutions, with the ReLUs after them and the residual adds (static QDQ, int8 weights per
  output channel, uint8 activations with ranges measured on the calibration lines). Quantizing the
  ReLUs lets onnxruntime fuse them into the int8 convolutions: 1.10x the speed of convolutions
  alone, CER 15.78 % against 15.89 % (single-line graph, 503 Copiste val lines, 1 thread). In the
  batched graph the ReLUs feed the padding masks, and quantizing them there cost accuracy
  (held-out CER 2.3 % -> 11 % in the test), so it quantizes its convolutions only. The instance
  norms and the CTC head stay float.
- The first convolution (it reads the 1- or 3-channel image) and the last one (the 1x1 head that
  gives the class scores) stay float: quantizing every convolution raised CER from 22.3 % to 27.2 %
  in the same measurement, and leaving these two out removed all of that loss.

Calibration lines should look like the lines the model will read (a few dozen are enough): their
activation ranges become fixed in the file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from sparkhtr.inference.onnx_backend import OnnxBackend, read_onnx_config, resolve_onnx_path
from sparkhtr.inference.preprocess import prepare_line
from sparkhtr.model.config import ModelConfig
from sparkhtr.text.charset import Charset
from sparkhtr.text.ctc import greedy_decode

__all__ = ["QuantizeReport", "quantize_onnx"]


@dataclass(frozen=True)
class QuantizeReport:
    path: Path
    size_bytes: int
    calibration_lines: int
    changed_texts: int  # calibration lines whose greedy text differs between float32 and int8


def _feeds(images: Iterable[Image.Image], config: ModelConfig, with_sizes: bool) -> list[dict[str, np.ndarray]]:
    feeds = []
    for image in images:
        array = prepare_line(image, config.preprocessing).array[None]
        feed = {"images": array}
        if with_sizes:
            feed["sizes"] = np.array([[array.shape[2], array.shape[3]]], dtype=np.int64)
        feeds.append(feed)
    return feeds


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over prepared lines, one line per batch."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:  # part of the protocol; one pass is all quantize_static needs
        pass


def _texts(path: Path | str, feeds: list[dict[str, np.ndarray]], charset: Charset) -> list[str]:
    backend = OnnxBackend(path, num_threads=1)
    texts = []
    for feed in feeds:
        sizes = np.array([feed["images"].shape[2:]], dtype=np.int64)
        log_probs, frames = backend(feed["images"], sizes)
        decoded = greedy_decode(log_probs[0, : int(frames[0])], charset.blank)
        texts.append(charset.decode(c.label for c in decoded.chars))
    return texts


def quantize_onnx(source: str | Path, output: str | Path, calibration: Iterable[Image.Image]) -> QuantizeReport:
    """Write an int8 copy of the exported model ``source`` to ``output``, calibrated on ``calibration``.

    Args:
        source: a float32 .onnx file from ``export_onnx`` (or a model directory holding model.onnx),
            batched or single-line; the int8 file has the same inputs.
        output: the .onnx file to write; it keeps the source's embedded config.
        calibration: line images (PIL) like those the model will read.

    Raises:
        ValueError: no calibration lines.
        ImportError: onnxruntime is not installed.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source = resolve_onnx_path(source)
    output = Path(output)
    config = read_onnx_config(source)
    single_line = OnnxBackend(source, num_threads=1).single_line
    feeds = _feeds(calibration, config, with_sizes=not single_line)
    if not feeds:
        raise ValueError("int8 quantization needs at least one calibration line image")
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))
        import onnx

        convs = [node.name for node in onnx.load(str(prepared)).graph.node if node.op_type == "Conv"]
        output.parent.mkdir(parents=True, exist_ok=True)
        quantize_static(
            str(prepared),
            str(output),
            _Reader(feeds),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv", "Relu", "Add"] if single_line else ["Conv"],
            nodes_to_exclude=[convs[0], convs[-1]],
            calibrate_method=CalibrationMethod.MinMax,
        )
    charset = Charset(config.charset)
    changed = sum(a != b for a, b in zip(_texts(source, feeds, charset), _texts(output, feeds, charset)))
    return QuantizeReport(output, output.stat().st_size, len(feeds), changed)
