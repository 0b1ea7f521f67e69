"""`sparkhtr build-lm SOURCE... --out lm.json.gz`: a character n-gram language model for beam search.

SOURCEs are datasets (a folder or KIND:PATH; their `--split` lines' transcriptions are used) or
plain text files (.txt: one line of text per line). Characters outside the model's charset are
dropped. Named lm.json.gz inside a model directory, it makes beam search that model's default
decoder; the decoding settings given here (--lm-weight, --length-bonus, --word-bonus,
--oov-penalty, --beam-width) are stored in it.

--lexicon adds a word list: the words of the LM's own lines plus those of each SOURCE given
(a .txt file's words, or wordfreq:LANG:N, the N most frequent words of LANG from the wordfreq
package, whose data is CC BY-SA 4.0); words with a letter outside the model's charset are left
out. Beam search then adds --word-bonus for each word it closes that is in the list and takes
--oov-penalty for each that is not (sparkhtr.text.lexicon).

--tune N chooses the LM weight, length bonus, word bonus and penalty instead: N random lines of
the dataset sources (and every other line with the same text) are kept out of the LM, the model
reads them once, and each LM weight x length bonus pair re-decodes them, then (with a lexicon)
each word bonus x unknown-word penalty at the best pair, and each length bonus again at the best
of those; the settings with the lowest CER are stored, and the table is printed. Never tune on a
test set. The model was most likely trained on these lines and reads them far better than new
ones, which favours too light an LM; so each held-out line is first degraded
(sparkhtr.data.augment.unseen_writer_degradation) until it reads about as badly as a new
writer's. --tune-degrade 0 turns that off, for a dataset the model has not seen.

--tune-on DATASET (repeatable) tunes on that dataset's --tune-split lines instead (default dev,
with --splits, e.g. configs/splits): lines kept out of the model's training, read as they are
(no degradation), N of them at random with --tune N, else all.

Prose (.txt files of paragraphs) is cut into line-length pieces at word boundaries (--wrap,
default 60 characters; 0 keeps lines whole), so the LM learns how lines begin and end from
line-like text; --straight-quotes writes typographic quotes and apostrophes as the straight ones
most transcriptions use; --min-count drops contexts seen fewer times, so megabytes of prose make
a file of a few MB.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sparkhtr.calibrate.lm_build import LMRecipe, build_lm, wrap_text
from sparkhtr.text.beam_settings import BEAM_DEFAULTS

__all__ = ["register", "run", "wrap_text"]  # wrap_text: sparkhtr.calibrate.lm_build's, for older imports


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
    p.add_argument(
        "--splits", metavar="PATH", default=None,
        help="a split map or a folder of them (e.g. configs/splits) that sets the datasets' splits",
    )
    p.add_argument("--wrap", type=int, default=60, help="cut .txt lines into pieces of about N characters (0: off)")
    p.add_argument("--straight-quotes", action="store_true", help="write ‘ ’ “ ” „ as ' and \" in .txt sources")
    p.add_argument("--min-count", type=int, default=1, help="drop contexts seen fewer than N times (default 1)")
    p.add_argument("--model", default=None, help="model whose charset the LM covers (default: the bundled one)")
    p.add_argument("--order", type=int, default=6, help="characters of context + 1 (default 6)")
    p.add_argument("--lm-weight", type=float, default=None, help="decoding setting stored in the file")
    p.add_argument("--length-bonus", type=float, default=None, help="decoding setting stored in the file")
    p.add_argument(
        "--caps-copies", type=float, default=0.0, metavar="SHARE",
        help="also learn from upper-cased copies of this share of the lines, so text written in capitals "
        "keeps its spelling model (default 0)",
    )
    p.add_argument(
        "--lexicon", action="append", default=None, metavar="SOURCE",
        help="add a word list (repeatable): a .txt file's words or wordfreq:LANG:N; the LM's own words join it",
    )
    p.add_argument("--word-bonus", type=float, default=None, help="decoding setting stored in the file")
    p.add_argument("--oov-penalty", type=float, default=None, help="decoding setting stored in the file")
    p.add_argument(
        "--beam-width", type=int, default=BEAM_DEFAULTS.beam_width,
        help=f"hypotheses kept per frame, stored (default {BEAM_DEFAULTS.beam_width})",
    )
    p.add_argument("--tune", type=int, default=0, metavar="N", help="choose the settings on N held-out lines")
    p.add_argument(
        "--tune-degrade", type=float, default=None, metavar="P",
        help="probability of each degradation of a held-out line (default 1, and 0 with --tune-on: "
        "0 is for lines the model never saw)",
    )
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch", help="runs the model for --tune")
    p.add_argument("--seed", type=int, default=0, help="which lines --tune holds out (default 0)")
    p.add_argument(
        "--tune-on", action="append", default=None, metavar="DATASET",
        help="tune on this dataset's --tune-split lines (repeatable) instead of lines held out of the sources",
    )
    p.add_argument("--tune-split", default="dev", help="split of --tune-on datasets (default dev)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sparkhtr.registry import model_dir

    given = [args.lm_weight, args.length_bonus, args.word_bonus, args.oov_penalty]
    if args.tune_degrade is None:
        args.tune_degrade = 0.0 if args.tune_on else 1.0
    if (args.tune or args.tune_on) and any(value is not None for value in given):
        raise ValueError(
            "--tune chooses --lm-weight, --length-bonus, --word-bonus and --oov-penalty: give either --tune or those"
        )
    if not args.lexicon and (args.word_bonus is not None or args.oov_penalty is not None):
        raise ValueError("--word-bonus and --oov-penalty score lexicon words: give --lexicon too")
    if args.beam_width < 1:
        raise ValueError(f"--beam-width must be >= 1, got {args.beam_width}")
    if not 0.0 <= args.tune_degrade <= 1.0:
        raise ValueError(f"--tune-degrade must be between 0 and 1, got {args.tune_degrade}")
    recipe = LMRecipe(
        sources=args.sources, model_dir=Path(model_dir(args.model)), split=args.split, splits=args.splits,
        wrap=args.wrap, straight_quotes=args.straight_quotes, min_count=args.min_count, order=args.order,
        caps_copies=args.caps_copies, lexicon=args.lexicon, beam_width=args.beam_width,
        settings={key: getattr(args, key) for key in ("lm_weight", "length_bonus", "word_bonus", "oov_penalty")},
        tune=args.tune, tune_on=args.tune_on, tune_split=args.tune_split, tune_degrade=args.tune_degrade,
        backend=args.backend, seed=args.seed,
    )
    built = build_lm(recipe, progress=True)
    if built.report is not None:
        how = f", degraded (p {args.tune_degrade:g})" if args.tune_degrade > 0 else ""
        table = built.report.table()
        print(f"beam settings on {built.report.lines} held-out lines (kept out of the LM{how}):\n{table}")
    lm, lexicon = built.lm, built.lm.lexicon
    path = lm.save(args.out)
    size = path.stat().st_size / 1e6
    settings = ", ".join(f"{k} {v:g}" for k, v in lm.decoding.items())
    words = f", {len(lexicon)} lexicon words" if lexicon is not None else ""
    contexts = len(lm.counts)
    print(f"{path}: order {args.order}, {built.lines} lines, {contexts} contexts{words}, {size:.1f} MB;", settings)
    return 0
