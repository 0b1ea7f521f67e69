"""`sparkhtr tune-lm LM_FILE --model MODEL --tune-on DATASET...`: choose an LM's beam settings again.

An LM's counts do not depend on the network, but its decoding settings (LM weight, length bonus,
word bonus, unknown-word penalty) are chosen on what one model reads: after training a model
further, or fine-tuning it on your own hands, its LM files need only their settings chosen again.
This reads LM_FILE, lets MODEL read the --tune-on datasets' --tune-split lines (default dev, with
--splits; N of them at random with --tune N), re-decodes them with every setting of the grid that
`sparkhtr build-lm --tune-on` uses, prints the table and writes the file (--out, default LM_FILE
itself) with the best settings, its counts and lexicon unchanged. Never tune on a test set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tune-lm",
        help="choose an LM file's beam-search settings again for a model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("lm", metavar="LM_FILE", help="an LM file (e.g. MODEL_DIR/lm.json.gz)")
    p.add_argument("--model", default=None, help="the model whose readings choose the settings (default: bundled)")
    p.add_argument(
        "--tune-on", action="append", required=True, metavar="DATASET",
        help="tune on this dataset's --tune-split lines (repeatable); lines the model was not trained on",
    )
    p.add_argument("--tune-split", default="dev", help="split of the --tune-on datasets (default dev)")
    p.add_argument("--splits", metavar="PATH", default=None, help="a split map or a folder of them (configs/splits)")
    p.add_argument("--tune", type=int, default=0, metavar="N", help="N random lines of those (default: all)")
    p.add_argument("--seed", type=int, default=0, help="which N lines (default 0)")
    p.add_argument("--beam-width", type=int, default=None, help="default: the file's (else the decoder default)")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch", help="runs the model")
    p.add_argument("--out", default=None, help="file to write (default: LM_FILE, rewritten)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sparkhtr.calibrate.lm_build import LMRecipe, tune_lm, tuning_lines
    from sparkhtr.registry import model_dir
    from sparkhtr.text.beam_settings import BEAM_DEFAULTS
    from sparkhtr.text.lm import CharNgramLM

    lm = CharNgramLM.load(args.lm)
    width = args.beam_width or int(lm.decoding.get("beam_width", BEAM_DEFAULTS.beam_width))
    if width < 1:
        raise ValueError(f"--beam-width must be >= 1, got {width}")
    recipe = LMRecipe(
        sources=[], model_dir=Path(model_dir(args.model)), splits=args.splits, beam_width=width, tune=args.tune,
        tune_on=args.tune_on, tune_split=args.tune_split, tune_degrade=0.0, backend=args.backend, seed=args.seed,
    )
    held = tuning_lines(recipe.tune_on, recipe.tune_split, recipe.splits, recipe.tune, recipe.seed)
    before = dict(lm.decoding)
    lm.decoding, report = tune_lm(lm, recipe, held, progress=True)
    print(f"beam settings on {report.lines} {args.tune_split} lines:\n{report.table()}")
    path = lm.save(args.out or args.lm)
    changed = ", ".join(f"{k} {before.get(k, '-')} -> {v:g}" for k, v in lm.decoding.items() if before.get(k) != v)
    print(f"{path}: {changed or 'settings unchanged'}")
    return 0
