"""`sparkhtr build-lm SOURCE... --out lm.json.gz`: a character n-gram language model for beam search.

SOURCEs are datasets (a folder or KIND:PATH; their `--split` lines' transcriptions are used) or
plain text files (.txt: one line of text per line). Characters outside the model's charset are
dropped. Name the file lm.json.gz inside a model directory and `--decoder beam` finds it; the
--lm-weight and --length-bonus given here are stored in the file as its decoding settings.
Tune them on lines the LM was not built from (never on the test set).
"""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build-lm",
        help="build a character language model for --decoder beam",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="datasets (folder or KIND:PATH) or .txt files")
    p.add_argument("--out", required=True, help="file to write, e.g. MODEL_DIR/lm.json.gz")
    p.add_argument("--split", default="train", help="split of dataset sources to read (default train; 'all')")
    p.add_argument("--model", default=None, help="model whose charset the LM covers (default: the bundled one)")
    p.add_argument("--order", type=int, default=6, help="characters of context + 1 (default 6)")
    p.add_argument("--lm-weight", type=float, default=None, help="decoding setting stored in the file")
    p.add_argument("--length-bonus", type=float, default=None, help="decoding setting stored in the file")
    p.set_defaults(func=run)


def read_texts(source: str, split: str) -> list[str]:
    from pathlib import Path

    from sparkhtr.data.datasets import open_dataset

    path = Path(source)
    if path.is_file() and path.suffix.lower() == ".txt":
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [sample.text for sample in open_dataset(source, split=None if split == "all" else split)]


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sparkhtr.model.files import load_config
    from sparkhtr.registry import resolve_model
    from sparkhtr.text.lm import DEFAULT_DECODING, CharNgramLM

    model = Path(args.model) if args.model and Path(args.model).exists() else resolve_model(args.model)
    charset = load_config(model).charset
    texts: list[str] = []
    for source in args.sources:
        found = read_texts(source, args.split)
        if not found:
            raise ValueError(f"{source}: no text lines (split {args.split!r})")
        texts.extend(found)
    decoding = dict(DEFAULT_DECODING)
    if args.lm_weight is not None:
        decoding["lm_weight"] = args.lm_weight
    if args.length_bonus is not None:
        decoding["length_bonus"] = args.length_bonus
    lm = CharNgramLM.train(texts, order=args.order, vocab=charset, decoding=decoding)
    path = lm.save(args.out)
    size = path.stat().st_size / 1e6
    print(f"{path}: order {args.order}, {len(texts)} lines, {len(lm.counts)} contexts, {size:.1f} MB")
    return 0
