"""`sparkhtr import-span CHECKPOINT.pt`: turn an official SPAN line-model checkpoint into a sparkhtr model.

The official checkpoint holds only the network; the charset (class-index order, CTC blank last) and
the training set's normalisation must be given here. The result is a model directory that
`sparkhtr recognize --model DIR` reads, with the same outputs as the official implementation.

Charset file: a JSON list of characters, or one character per line where only the line ending is
removed (a line that is exactly one space is the space character).
"""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import-span",
        help="import an official SPAN line-model checkpoint",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT.pt", help="checkpoint written by the official SPAN code")
    p.add_argument(
        "--charset-file",
        required=True,
        metavar="FILE",
        help="the training charset in class-index order: a JSON list, or one character per line",
    )
    p.add_argument(
        "--mean", type=float, nargs="+", required=True, metavar="M", help="per-channel mean, 0-255 units (3 values)"
    )
    p.add_argument(
        "--std", type=float, nargs="+", required=True, metavar="S", help="per-channel std, 0-255 units (3 values)"
    )
    p.add_argument(
        "--rescale",
        type=float,
        default=0.5,
        help="factor applied to input images before the network (SPAN's default 0.5; 1.0: none)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="model directory to write")
    p.add_argument("--force", action="store_true", help="overwrite a model already in DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sparkhtr.model.span_import import import_span_checkpoint

    model, config = import_span_checkpoint(
        args.checkpoint,
        args.charset_file,
        mean=args.mean,
        std=args.std,
        rescale=args.rescale,
        out=args.out,
        overwrite=args.force,
    )
    parameters = sum(p.numel() for p in model.parameters())
    print(
        f"imported {args.checkpoint}: {parameters:,} parameters, {len(config.charset)} characters + CTC blank, "
        f"{config.architecture.input_channels} input channels, rescale {config.preprocessing.rescale} -> {args.out}"
    )
    return 0
