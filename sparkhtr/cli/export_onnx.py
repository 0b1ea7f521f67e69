"""`sparkhtr export-onnx MODEL OUT.onnx`: write a model as one self-contained ONNX file.

The file holds the network (dynamic batch, height and width; per-line sizes as a second input) and
the model's config, so `Recognizer.load(OUT.onnx, backend="onnx")` or `sparkhtr recognize --backend
onnx --model OUT.onnx` needs nothing else. Name it model.onnx inside the model directory to let
`--model DIR --backend onnx` find it.

`--single-line` writes a graph without padding masks that takes one line per call (a padded batch is
run line by line): faster on a CPU, where lines run one at a time anyway. `--int8 --calibration
DATASET` quantizes the convolutions to int8, calibrated on a few dozen lines like those you will
read. Together they ran 2.5x faster than the default export on our 2-core CPU, CER within a few
tenths of a point (see sparkhtr.calibrate.quantize and benchmarks/README.md).
"""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export-onnx",
        help="export a model to ONNX (for onnxruntime)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="model directory, or a bundled/cached model name")
    p.add_argument("output", metavar="OUT.onnx", help="ONNX file to write")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset version (default 17)")
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime-vs-torch check after export")
    p.add_argument("--single-line", action="store_true", help="graph without padding masks, one line per call")
    p.add_argument("--int8", action="store_true", help="quantize the convolutions to int8 (needs --calibration)")
    p.add_argument("--calibration", metavar="DATASET", help="line images to calibrate int8 on: a folder or KIND:PATH")
    p.add_argument("--calibration-split", default="train", help="split of DATASET to use (default train)")
    p.add_argument("--calibration-lines", type=int, default=64, help="how many lines to calibrate on (default 64)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sparkhtr.model.files import load_model
    from sparkhtr.model.onnx_export import DEFAULT_OPSET, export_onnx
    from sparkhtr.registry import model_dir

    if args.int8 and not args.calibration:
        raise ValueError("--int8 needs --calibration DATASET (line images to calibrate on)")
    directory = model_dir(args.model)
    model, config = load_model(directory)
    if not args.int8:
        report = export_onnx(
            model, config, args.output, args.opset or DEFAULT_OPSET, not args.no_verify, args.single_line
        )
        diff = report.max_abs_diff
        check = "not checked" if diff is None else f"max |log-prob diff| vs torch {diff:.2g}"
        print(f"{report.path}: {report.size_bytes / 1e6:.1f} MB, opset {report.opset}, {check}")
        return 0
    return _export_int8(args, model, config)


def _export_int8(args: argparse.Namespace, model, config) -> int:
    import tempfile
    from pathlib import Path

    from sparkhtr.calibrate.quantize import quantize_onnx
    from sparkhtr.data.datasets import open_dataset
    from sparkhtr.model.onnx_export import DEFAULT_OPSET, export_onnx

    samples = open_dataset(args.calibration, split=args.calibration_split)
    if not samples:
        raise ValueError(f"{args.calibration} has no {args.calibration_split!r} lines to calibrate on")
    # An even spread over the data set, not its first pages only.
    step = max(1, len(samples) // args.calibration_lines)
    chosen = samples[::step][: args.calibration_lines]
    with tempfile.TemporaryDirectory() as scratch:
        float_path = Path(scratch) / "float32.onnx"
        export_onnx(model, config, float_path, args.opset or DEFAULT_OPSET, not args.no_verify, args.single_line)
        report = quantize_onnx(float_path, args.output, (sample.load() for sample in chosen))
    print(
        f"{report.path}: int8, {report.size_bytes / 1e6:.1f} MB, calibrated on {report.calibration_lines} lines; "
        f"{report.changed_texts} of them read differently from float32"
    )
    return 0
