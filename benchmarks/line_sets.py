"""The dataset arguments shared by the benchmarks that read one split of a line dataset."""

from __future__ import annotations

import argparse

from sparkhtr.data.datasets import open_dataset
from sparkhtr.data.sample import LineSample


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset spec (folder or KIND:PATH)")
    parser.add_argument("--split", default="val", help="split to read ('all': every line)")
    parser.add_argument("--model", default=None, help="model directory or name (default: the bundled one)")
    parser.add_argument("--limit", type=int, default=0, help="first N lines (0: all)")


def open_lines(args: argparse.Namespace) -> list[LineSample]:
    samples = open_dataset(args.dataset, split=None if args.split == "all" else args.split)
    return samples[: args.limit] if args.limit else samples
