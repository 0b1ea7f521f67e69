"""`sparkhtr evaluate --model M DATASET...`: CER/WER (as SPAN computes them), per-line JSONL, worst lines.

Several datasets are read one after the other with the same model, and a table gives each one's
lines, CER and WER, then all of them together (errors summed over every line). With --splits
(e.g. configs/splits) each dataset's split map sets its splits first, so `--split dev` reads the
writer-disjoint dev lines of every shared collection and `--split test` the held-out test one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sparkhtr.cli.recognize import add_decoder_arguments

__all__ = ["register", "format_table"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="measure CER and WER on labelled datasets", description=__doc__)
    p.add_argument(
        "datasets", nargs="+", metavar="DATASET", help="folders or KIND:PATH (iam, rimes, read2016, page, alto)"
    )
    p.add_argument("--model", default=None, help="model directory or bundled name (default: the bundled model)")
    p.add_argument("--split", default="val", help="split to evaluate, or 'all' (default: val)")
    p.add_argument(
        "--splits", metavar="PATH", default=None,
        help="a split map or a folder of <dataset>.tsv split maps (e.g. configs/splits) that sets the splits",
    )
    p.add_argument(
        "--out", default=None,
        help="folder for lines.jsonl, summary.json and worst_lines.png (one subfolder per dataset when several)",
    )
    p.add_argument("--batch-size", type=int, default=None, help="lines per backend call (default: the backend's)")
    p.add_argument("--device", default=None)
    p.add_argument(
        "--backend", choices=["auto", "torch", "onnx"], default="auto",
        help="auto (default): as `recognize` chooses; the summary names the backend that read",
    )
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N lines of each dataset")
    p.add_argument(
        "--corrections", metavar="TSV", default=None,
        help="file of '<line id><TAB><text>' lines: transcriptions that replace wrong dataset labels "
        "(the summary lists the lines corrected)",
    )
    add_decoder_arguments(p)
    p.set_defaults(func=run)


def format_table(rows: list[tuple[str, dict]]) -> str:
    """A Markdown table of (name, summary) rows: lines, CER and WER in %."""
    width = max(len("dataset"), *(len(name) for name, _ in rows))
    out = [f"| {'dataset':<{width}} | lines | CER % | WER % |", f"| {'-' * width} | ---: | ---: | ---: |"]
    for name, summary in rows:
        out.append(
            f"| {name:<{width}} | {summary['lines']} | {100 * summary['cer']:.2f} | {100 * summary['wer']:.2f} |"
        )
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    from sparkhtr.cli.recognize import load_recognizer
    from sparkhtr.data.datasets import parse_spec
    from sparkhtr.text.metrics import corpus_scores

    recognizer = load_recognizer(args.model, args.device, args.backend, args)
    rows, pairs = [], []
    several = len(args.datasets) > 1
    for spec in args.datasets:
        name = Path(parse_spec(spec)[1]).name  # the table's row, and the subfolder of --out
        result = _evaluate_one(spec, recognizer, args, Path(args.out) / name if several and args.out else args.out)
        rows.append((name, result.summary))
        pairs += [(line["reference"], line["prediction"]) for line in result.lines]
    if len(rows) > 1:
        overall = {**corpus_scores(pairs), "lines": len(pairs)}
        print(format_table([*rows, ("all", overall)]))
    return 0


def _evaluate_one(spec: str, recognizer, args: argparse.Namespace, out: Path | str | None):
    from sparkhtr.data.corrections import apply_corrections, read_corrections
    from sparkhtr.data.datasets import open_dataset
    from sparkhtr.train.evaluate import evaluate, write_evaluation

    report: list[str] = []
    split = None if args.split == "all" else args.split
    samples = open_dataset(spec, split=split, report=report, splits=args.splits)
    corrected: list[str] = []
    if args.corrections:
        samples, corrected, unmatched = apply_corrections(samples, read_corrections(args.corrections))
        if unmatched and len(args.datasets) == 1:
            names = ", ".join(unmatched)
            print(f"{args.corrections}: {len(unmatched)} correction(s) for lines not in this split: {names}")
    samples = samples[: args.limit] if args.limit else samples
    if not samples:
        raise ValueError(f"{spec}: no lines in split {args.split!r} (use --split all for every line)")
    result = evaluate(recognizer, samples, batch_size=args.batch_size, progress=True)
    result.skipped[:0] = report
    result.summary["skipped"] = len(result.skipped)
    result.summary["dataset"] = spec
    result.summary["backend"] = recognizer.backend_name
    if args.corrections:
        evaluated = {line["id"] for line in result.lines}
        result.summary["corrections"] = str(args.corrections)
        result.summary["corrected_lines"] = [line_id for line_id in corrected if line_id in evaluated]
    for line in result.skipped:
        print(f"skipped: {line}")
    if out:
        write_evaluation(result, out, samples)
    summary = result.summary
    print(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in summary.items()}))
    print(
        (f"{spec}: " if len(args.datasets) > 1 else "")
        + f"CER {100 * summary['cer']:.2f} %  WER {100 * summary['wer']:.2f} %  "
        f"(punctuation-split WER {100 * summary['wer_punctuation_split']:.2f} %) on {summary['lines']} lines, "
        f"{summary['decoder']} decoding" + (" with a language model" if summary.get("lm") else "")
        + (f", letters written in {summary['letter_case']} case" if summary["letter_case"] != "as_read" else "")
        + (f", {len(summary['corrected_lines'])} label(s) corrected" if args.corrections else "")
    )
    return result
