"""`sparkhtr evaluate --model M DATASET`: CER/WER (as SPAN computes them), per-line JSONL, worst lines."""

from __future__ import annotations

import argparse
import json

from sparkhtr.cli.recognize import add_decoder_arguments

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="measure CER and WER on a labelled dataset", description=__doc__)
    p.add_argument("dataset", metavar="DATASET", help="a folder or KIND:PATH (iam, rimes, read2016, page, alto)")
    p.add_argument("--model", default=None, help="model directory or bundled name (default: the bundled model)")
    p.add_argument("--split", default="val", help="split to evaluate, or 'all' (default: val)")
    p.add_argument("--out", default=None, help="folder for lines.jsonl, summary.json and worst_lines.png")
    p.add_argument("--batch-size", type=int, default=None, help="lines per backend call (default: the backend's)")
    p.add_argument("--device", default=None)
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N lines")
    p.add_argument(
        "--corrections", metavar="TSV", default=None,
        help="file of '<line id><TAB><text>' lines: transcriptions that replace wrong dataset labels "
        "(the summary lists the lines corrected)",
    )
    add_decoder_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sparkhtr.cli.recognize import load_recognizer
    from sparkhtr.data.corrections import apply_corrections, read_corrections
    from sparkhtr.data.datasets import open_dataset
    from sparkhtr.train.evaluate import evaluate, write_evaluation

    report: list[str] = []
    samples = open_dataset(args.dataset, split=None if args.split == "all" else args.split, report=report)
    corrected: list[str] = []
    if args.corrections:
        samples, corrected, unmatched = apply_corrections(samples, read_corrections(args.corrections))
        if unmatched:
            names = ", ".join(unmatched)
            print(f"{args.corrections}: {len(unmatched)} correction(s) for lines not in this split: {names}")
    samples = samples[: args.limit] if args.limit else samples
    if not samples:
        raise ValueError(f"{args.dataset}: no lines in split {args.split!r} (use --split all for every line)")
    recognizer = load_recognizer(args.model, args.device, args.backend, args)
    result = evaluate(recognizer, samples, batch_size=args.batch_size, progress=True)
    result.skipped[:0] = report
    result.summary["skipped"] = len(result.skipped)
    if args.corrections:
        evaluated = {line["id"] for line in result.lines}
        result.summary["corrections"] = str(args.corrections)
        result.summary["corrected_lines"] = [line_id for line_id in corrected if line_id in evaluated]
    for line in result.skipped:
        print(f"skipped: {line}")
    if args.out:
        write_evaluation(result, args.out, samples)
    summary = result.summary
    print(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in summary.items()}))
    print(
        f"CER {100 * summary['cer']:.2f} %  WER {100 * summary['wer']:.2f} %  "
        f"(punctuation-split WER {100 * summary['wer_punctuation_split']:.2f} %) on {summary['lines']} lines, "
        f"{summary['decoder']} decoding" + (" with a language model" if summary.get("lm") else "")
        + (f", letters written in {summary['letter_case']} case" if summary["letter_case"] != "as_read" else "")
        + (f", {len(summary['corrected_lines'])} label(s) corrected" if args.corrections else "")
    )
    return 0
