"""`sparkhtr export-onnx MODEL OUT.onnx`: write a model as one self-contained ONNX file.

The file holds the network (dynamic batch, height and width; per-line sizes as a second input) and
the model's config, so `Recognizer.load(OUT.onnx, backend="onnx")` or `sparkhtr recognize --backend
onnx --model OUT.onnx` needs nothing else. Name it model.onnx inside the model directory to let
`--model DIR --backend onnx` find it.

`--single-line` writes a graph without padding masks that takes one line per call (a padded batch is
run line by line): faster on a CPU, where lines run one at a time anyway. `--int8 --calibration
DATASET...` quantizes the convolutions to int8, calibrated on train lines shared out between the
datasets (give every collection the model will read). Together they ran 2.5x faster than the
default export on our 2-core CPU (see sparkhtr.calibrate.quantize and benchmarks/README.md).

`--record-dev` then reads the dev lines of the same datasets with the float model and with the new
graph (the model's default decoder) and writes both CERs into the model's config.json "backends":
`backend="auto"` reads with the graph when it is within 0.3 CER points. The bundled model's graph:

    sparkhtr export-onnx span_small_latin sparkhtr/pretrained/span_small_latin/model.int8.onnx \\
        --single-line --int8 --splits configs/splits --record-dev \\
        --calibration ../shared/data/{copiste_dun_jour_fr,cremma_mss19_fr,htromance_modern_fr,timeus_fr}
"""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    from sparkhtr.calibrate.recipe import CALIBRATION_METHODS, DEFAULT_CALIBRATION_LINES, DEFAULT_RECIPE, QUANT_FORMATS

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
    p.add_argument(
        "--calibration", metavar="DATASET", nargs="+",
        help="line images to calibrate int8 on: folders or KIND:PATH, lines shared out evenly between them",
    )
    p.add_argument("--calibration-split", default="train", help="split of each DATASET to use (default train)")
    p.add_argument(
        "--calibration-lines", type=int, default=DEFAULT_CALIBRATION_LINES,
        help=f"how many lines to calibrate on, in all (default {DEFAULT_CALIBRATION_LINES})",
    )
    p.add_argument(
        "--splits", metavar="PATH", default=None,
        help="a split map or a folder of <dataset>.tsv split maps (e.g. configs/splits) that sets the splits",
    )
    p.add_argument(
        "--calibration-method", choices=CALIBRATION_METHODS, default=DEFAULT_RECIPE.method,
        help=f"activation ranges (default {DEFAULT_RECIPE.method})",
    )
    p.add_argument(
        "--percentile", type=float, default=DEFAULT_RECIPE.percentile,
        help=f"with --calibration-method percentile: share of |activations| kept, in %% "
        f"(default {DEFAULT_RECIPE.percentile})",
    )
    p.add_argument(
        "--quant-format", choices=QUANT_FORMATS, default=DEFAULT_RECIPE.quant_format,
        help=f"default {DEFAULT_RECIPE.quant_format}",
    )
    p.add_argument(
        "--keep-float", metavar="NODE", nargs="+", default=list(DEFAULT_RECIPE.exclude),
        help="nodes left in float: 'first' / 'last' convolution, or any part of node names "
        f"(default: {' '.join(DEFAULT_RECIPE.exclude)})",
    )
    p.add_argument(
        "--record-dev", action="store_true",
        help="with --int8, OUT.onnx in the model directory: measure the float model and the graph on the dev "
        "lines of the calibration datasets and record both CERs in config.json (backend='auto' reads it)",
    )
    p.add_argument("--dev-split", default="dev", help="split --record-dev measures on (default dev)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sparkhtr.model.files import load_model
    from sparkhtr.model.onnx_export import DEFAULT_OPSET, export_onnx
    from sparkhtr.registry import model_dir

    if args.int8 and not args.calibration:
        raise ValueError("--int8 needs --calibration DATASET (line images to calibrate on)")
    if args.record_dev and not args.int8:
        raise ValueError("--record-dev measures an int8 graph: use it with --int8")
    directory = model_dir(args.model)
    if args.record_dev:
        _check_in_model_dir(args.output, directory)
    model, config = load_model(directory)
    if not args.int8:
        report = export_onnx(
            model, config, args.output, args.opset or DEFAULT_OPSET, not args.no_verify, args.single_line
        )
        diff = report.max_abs_diff
        check = "not checked" if diff is None else f"max |log-prob diff| vs torch {diff:.2g}"
        print(f"{report.path}: {report.size_bytes / 1e6:.1f} MB, opset {report.opset}, {check}")
        return 0
    _export_int8(args, model, config)
    if args.record_dev:
        _record_dev(args, directory)
    return 0


def _check_in_model_dir(output: str, directory) -> None:
    from pathlib import Path

    if Path(output).resolve().parent != Path(directory).resolve():
        raise ValueError(f"--record-dev records a graph of the model directory: write OUT.onnx into {directory}")


def _export_int8(args: argparse.Namespace, model, config) -> None:
    import tempfile
    from pathlib import Path

    from sparkhtr.calibrate.quantize import QuantRecipe, calibration_samples, quantize_onnx
    from sparkhtr.model.onnx_export import DEFAULT_OPSET, export_onnx

    chosen = calibration_samples(args.calibration, args.calibration_lines, args.calibration_split, args.splits)
    recipe = QuantRecipe(
        method=args.calibration_method, percentile=args.percentile, quant_format=args.quant_format,
        exclude=tuple(args.keep_float),
    )
    with tempfile.TemporaryDirectory() as scratch:
        float_path = Path(scratch) / "float32.onnx"
        export_onnx(model, config, float_path, args.opset or DEFAULT_OPSET, not args.no_verify, args.single_line)
        report = quantize_onnx(float_path, args.output, (sample.load() for sample in chosen), recipe)
    print(
        f"{report.path}: int8, {report.size_bytes / 1e6:.1f} MB, calibrated on {report.calibration_lines} lines "
        f"({recipe.method}); {report.changed_texts} of them read differently from float32 (greedy)"
    )


def _record_dev(args: argparse.Namespace, directory) -> None:
    from pathlib import Path

    from sparkhtr.calibrate.backends import measure_backends, record_backends
    from sparkhtr.inference.loader import AUTO_MAX_CER_GAP

    name = Path(args.output).name
    measured = measure_backends(directory, name, args.calibration, args.dev_split, args.splits)
    record_backends(directory, name, measured.onnx_cer, measured.float_cer, measured.measured_on)
    verdict = "reads with it" if measured.gap <= AUTO_MAX_CER_GAP else "keeps torch"
    print(
        f"{directory}/config.json backends: float {measured.float_cer:.2f} % CER, {name} {measured.onnx_cer:.2f} % "
        f"({measured.gap:+.2f} points) on {measured.lines:,} {args.dev_split} lines: backend='auto' {verdict} "
        f"(margin {AUTO_MAX_CER_GAP})"
    )
