"""`sparkhtr` entry point. Each subcommand lives in its own module with ``register(subparsers)``;
heavy imports stay inside the command bodies so that ``--help`` is fast."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

__all__ = ["main", "build_parser"]

COMMAND_MODULES = ["recognize", "models", "import_span", "train", "evaluate", "export_onnx", "build_lm", "tune_lm"]


def build_parser() -> argparse.ArgumentParser:
    from sparkhtr import __version__

    parser = argparse.ArgumentParser(prog="sparkhtr", description="Read handwritten text lines.")
    parser.add_argument("--version", action="version", version=f"sparkhtr {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"sparkhtr.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sparkhtr.cli.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`sparkhtr recognize ... | head`): stop quietly, as Unix tools do;
        # stdout goes to devnull so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
    except (OSError, ValueError, LookupError, RuntimeError) as exc:
        print(f"sparkhtr {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
