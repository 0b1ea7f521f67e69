"""`sparkhtr export-onnx MODEL OUT.onnx`: write a model as one self-contained ONNX file.

The file holds the network (dynamic batch, height and width; per-line sizes as a second input) and
the model's config, so `Recognizer.load(OUT.onnx, backend="onnx")` or `sparkhtr recognize --backend
onnx --model OUT.onnx` needs nothing else. Name it model.onnx inside the model directory to let
`--model DIR --backend onnx` find it.
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sparkhtr.model.files import load_model
    from sparkhtr.model.onnx_export import DEFAULT_OPSET, export_onnx
    from sparkhtr.registry import resolve_model

    directory = Path(args.model) if Path(args.model).exists() else resolve_model(args.model)
    model, config = load_model(directory)
    report = export_onnx(model, config, args.output, opset=args.opset or DEFAULT_OPSET, verify=not args.no_verify)
    check = "not checked" if report.max_abs_diff is None else f"max |log-prob diff| vs torch {report.max_abs_diff:.2g}"
    print(f"{report.path}: {report.size_bytes / 1e6:.1f} MB, opset {report.opset}, {check}")
    return 0
