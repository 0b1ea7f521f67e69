"""Int8 quantization of an exported ONNX model, calibrated on real line images.

Why: on a 2-core AVX-512 CPU the int8 model ran 1.55x faster than float32 with onnxruntime
(1 thread, 100 Copiste val lines) and its CER moved from 22.32 % to 22.20 %; a single-line graph
(export_onnx(single_line=True)) in int8 ran 2.5x faster than the batched float32 one, CER 22.56 %
(benchmarks/README.md has the figures measured by benchmarks/inference_speed.py).

What is quantized, and why not everything (``QuantRecipe``, whose defaults are the recipe chosen:
benchmarks/README.md "Int8 recipe" has the comparison, made by benchmarks/int8_recipes.py):
- The init blocks' convolutions, with the ReLUs after them (static QDQ, int8 weights per output
  channel, uint8 activations). Quantizing the ReLUs lets onnxruntime fuse them into the int8
  convolutions: 1.10x the speed of convolutions alone (single-line graph). In the batched graph
  the ReLUs feed the padding masks, and quantizing them there cost accuracy (held-out CER 2.3 % ->
  11 % in the test), so it quantizes its convolutions only. The instance norms stay float.
- The first convolution (it reads the 1- or 3-channel image) and the last one (the 1x1 head that
  gives the class scores) stay float: quantizing every convolution raised CER from 22.3 % to 27.2 %
  (stage-3 weights), and leaving these two out removed all of that loss.
- The four depthwise-separable blocks stay float too: they take 3 % of the float graph's time,
  and in int8 they added about as much error as all the init blocks together.
- Activation ranges cut at the 99.99th percentile of |x| over 256 calibration lines, not their
  min/max: a few extreme activations (up to twice the 99.99th percentile) otherwise leave most
  values a few int8 steps, and more lines only made min/max ranges wider (worse CER).
- Calibration lines come from every collection the model will read, spread evenly over each
  (``calibration_samples``). With all of this the stage-11 model's graph reads the four
  collections' 2,171 dev lines at 19.68 % CER against 19.43 % for the float model (+0.24 points,
  within the 0.3 that ``backend="auto"`` allows); the earlier recipe (MinMax, 64 Copiste lines,
  every block in int8) read 20.06 %.

Calibration lines should look like the lines the model will read: their activation ranges become
fixed in the file.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from sparkhtr.calibrate.recipe import (
    CALIBRATION_METHODS,
    DEFAULT_CALIBRATION_LINES,
    DEFAULT_RECIPE,
    QUANT_FORMATS,
    QuantRecipe,
)
from sparkhtr.data.datasets import open_dataset
from sparkhtr.data.sample import LineSample
from sparkhtr.inference.onnx_backend import OnnxBackend, read_onnx_config, resolve_onnx_path
from sparkhtr.inference.preprocess import prepare_line
from sparkhtr.model.config import ModelConfig
from sparkhtr.text.charset import Charset
from sparkhtr.text.ctc import greedy_decode

__all__ = [
    "QuantizeReport", "QuantRecipe", "DEFAULT_RECIPE", "DEFAULT_CALIBRATION_LINES", "CALIBRATION_METHODS",
    "QUANT_FORMATS", "quantize_onnx", "calibration_samples",
]

# Lines run through the calibration graph per pass, for MinMax: onnxruntime keeps every output of a
# pass until its end. The histogram methods keep whole activations (tens of MB a line) and stack a
# pass's lines into one array, which lines of different widths cannot form: they go one line a pass.
CALIBRATION_PASS = 8


@dataclass(frozen=True)
class QuantizeReport:
    path: Path
    size_bytes: int
    calibration_lines: int
    changed_texts: int  # calibration lines whose greedy text differs between float32 and int8
    recipe: QuantRecipe = DEFAULT_RECIPE


def calibration_samples(
    datasets: Sequence[str], count: int, split: str = "train", splits: str | Path | None = None
) -> list[LineSample]:
    """``count`` lines of ``split``, shared out evenly between ``datasets`` and spread evenly over
    each (a collection's lines are often in page order: its first lines are one writer's).

    Raises:
        ValueError: a dataset has no line in ``split``, or ``count`` < 1.
    """
    if count < 1 or not datasets:
        raise ValueError("int8 calibration needs at least one dataset and one line")
    chosen: list[LineSample] = []
    for index, spec in enumerate(datasets):
        samples = open_dataset(spec, split=split, splits=splits)
        if not samples:
            raise ValueError(f"{spec} has no {split!r} lines to calibrate on")
        share = count // len(datasets) + (index < count % len(datasets))
        # Evenly spaced positions, the same for every run: the recipe's lines are reproducible.
        positions = np.linspace(0, len(samples), num=min(share, len(samples)), endpoint=False).astype(int)
        chosen += [samples[i] for i in positions]
    return chosen


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
    """onnxruntime's CalibrationDataReader protocol over prepared lines, one line per batch, with the
    ``set_range`` its strided calibration uses to run the lines a pass at a time."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = feeds
        self._start, self._end = 0, len(feeds)

    def __len__(self) -> int:
        return len(self._feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._start, self._end = start_index, end_index

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._start >= self._end:
            return None
        self._start += 1
        return self._feeds[self._start - 1]

    def rewind(self) -> None:  # part of the protocol; each pass is set by set_range
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


def _excluded(names: list[str], convs: list[str], exclude: Sequence[str]) -> list[str]:
    left_out = []
    for entry in exclude:
        if entry in ("first", "last"):
            if convs:
                left_out.append(convs[0] if entry == "first" else convs[-1])
        else:
            left_out += [name for name in names if entry in name]
    return sorted(set(left_out))


def _pass_size(lines: int, method: str) -> int:
    """The largest divisor of ``lines`` up to CALIBRATION_PASS (onnxruntime's strided calibration
    needs passes of one size); 1 for the histogram methods."""
    if method != "minmax":
        return 1
    return max(d for d in range(1, min(CALIBRATION_PASS, lines) + 1) if lines % d == 0)


def quantize_onnx(
    source: str | Path, output: str | Path, calibration: Iterable[Image.Image], recipe: QuantRecipe = DEFAULT_RECIPE
) -> QuantizeReport:
    """Write an int8 copy of the exported model ``source`` to ``output``, calibrated on ``calibration``.

    Args:
        source: a float32 .onnx file from ``export_onnx`` (or a model directory holding model.onnx),
            batched or single-line; the int8 file has the same inputs.
        output: the .onnx file to write; it keeps the source's embedded config.
        calibration: line images (PIL) like those the model will read.
        recipe: what is quantized and how (the default: the recipe measured best).

    Raises:
        ValueError: no calibration lines.
        ImportError: onnxruntime is not installed.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source = resolve_onnx_path(source)
    output = Path(output)
    config = read_onnx_config(source)
    single_line = OnnxBackend(source, num_threads=1).single_line
    feeds = _feeds(calibration, config, with_sizes=not single_line)
    if not feeds:
        raise ValueError("int8 quantization needs at least one calibration line image")
    op_types = list(recipe.op_types or (("Conv", "Relu", "Add") if single_line else ("Conv",)))
    method = {
        "minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[recipe.method]
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))
        nodes = onnx.load(str(prepared)).graph.node
        convs = [node.name for node in nodes if node.op_type == "Conv"]
        output.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(io.StringIO()):  # its histogram collector prints each pass
            quantize_static(
                str(prepared),
                str(output),
                _Reader(feeds),
                quant_format=QuantFormat.QDQ if recipe.quant_format == "qdq" else QuantFormat.QOperator,
                per_channel=recipe.per_channel,
                reduce_range=recipe.reduce_range,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=op_types,
                nodes_to_exclude=_excluded([node.name for node in nodes], convs, recipe.exclude),
                calibrate_method=method,
                extra_options={
                    "CalibStridedMinMax": _pass_size(len(feeds), recipe.method), "CalibPercentile": recipe.percentile
                },
            )
    charset = Charset(config.charset)
    changed = sum(a != b for a, b in zip(_texts(source, feeds, charset), _texts(output, feeds, charset)))
    return QuantizeReport(output, output.stat().st_size, len(feeds), changed, recipe)
