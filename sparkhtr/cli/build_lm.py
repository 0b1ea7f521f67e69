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
import random
from pathlib import Path

from sparkhtr.data.sample import LineSample
from sparkhtr.text.charset import normalize_text
from sparkhtr.text.lexicon import Lexicon, words_from_source
from sparkhtr.text.lm import DEFAULT_DECODING, CharNgramLM

# Word settings for a lexicon that was not tuned: near the best of the tuning grid for the
# bundled model's LM (word bonus 0-1, penalty 2-3 within 0.1 CER points on held-out lines).
DEFAULT_WORD_BONUS, DEFAULT_OOV_PENALTY = 0.5, 2.0

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
    p.add_argument("--beam-width", type=int, default=10, help="hypotheses kept per frame, stored (default 10)")
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


STRAIGHT_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "…": "..."})


def wrap_text(line: str, width: int) -> list[str]:
    """``line`` cut at spaces into pieces of about ``width`` characters (a longer word stays whole)."""
    if width <= 0 or len(line) <= width:
        return [line]
    pieces, current = [], ""
    for word in line.split():
        if current and len(current) + 1 + len(word) > width:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return pieces + ([current] if current else [])


def read_sources(
    sources: list[str], split: str, splits: str | None = None, wrap: int = 0, straight_quotes: bool = False
) -> tuple[list[str], list[LineSample]]:
    """The text lines of .txt sources (wrapped to ``wrap`` characters), and the samples of dataset sources."""
    from sparkhtr.data.datasets import open_dataset

    texts: list[str] = []
    samples: list[LineSample] = []
    for source in sources:
        path = Path(source)
        if path.is_file() and path.suffix.lower() == ".txt":
            text = path.read_text(encoding="utf-8")
            if straight_quotes:
                text = text.translate(STRAIGHT_QUOTES)
            found = [piece for line in text.splitlines() if line.strip() for piece in wrap_text(line, wrap)]
            texts.extend(found)
        else:
            found = open_dataset(source, split=None if split == "all" else split, splits=splits)
            samples.extend(found)
        if not found:
            raise ValueError(f"{source}: no text lines (split {split!r})")
    return texts, samples


def hold_out(samples: list[LineSample], count: int, seed: int) -> tuple[list[LineSample], list[LineSample]]:
    """``count`` random samples to tune on, and the rest minus any line sharing a held-out text."""
    if count >= len(samples):
        raise ValueError(f"--tune {count}: the dataset sources have only {len(samples)} lines")
    chosen = set(random.Random(seed).sample(range(len(samples)), count))
    held = [samples[i] for i in sorted(chosen)]
    held_texts = {normalize_text(s.text) for s in held}
    rest = [s for i, s in enumerate(samples) if i not in chosen and normalize_text(s.text) not in held_texts]
    return held, rest


def tuning_lines(specs: list[str], split: str, splits: str | None, count: int, seed: int) -> list[LineSample]:
    """The ``split`` lines of each dataset in ``specs``; ``count`` of them at random when count > 0."""
    from sparkhtr.data.datasets import open_dataset

    lines = [s for spec in specs for s in open_dataset(spec, split=split, splits=splits)]
    if not lines:
        raise ValueError(f"--tune-on: no lines in split {split!r} of {', '.join(specs)}")
    return random.Random(seed).sample(lines, count) if 0 < count < len(lines) else lines


def caps_copies(texts: list[str], share: float, seed: int) -> list[str]:
    """Upper-cased copies of ``share`` of ``texts`` (chosen at random, reproducibly)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"--caps-copies must be between 0 and 1, got {share}")
    chosen = random.Random(seed).sample(texts, round(share * len(texts)))
    return [text.upper() for text in chosen]


def build_lexicon(texts: list[str], sources: list[str], charset: list[str]) -> Lexicon:
    """The words of ``texts`` and of each lexicon source, less words the charset cannot spell."""
    words = set(Lexicon.from_texts(texts).words)
    for source in sources:
        words.update(words_from_source(source))
    spellable = {c.lower() for c in charset}
    return Lexicon(w for w in words if set(w) <= spellable)


def run(args: argparse.Namespace) -> int:
    from sparkhtr.model.files import load_config
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
    model = model_dir(args.model)
    charset = load_config(model).charset
    texts, samples = read_sources(args.sources, args.split, args.splits, args.wrap, args.straight_quotes)
    held: list[LineSample] = []
    if args.tune_on:
        held = tuning_lines(args.tune_on, args.tune_split, args.splits, args.tune, args.seed)
    elif args.tune:
        held, samples = hold_out(samples, args.tune, args.seed)
    texts += [sample.text for sample in samples]
    texts += caps_copies(texts, args.caps_copies, args.seed)
    lexicon = build_lexicon(texts, args.lexicon, charset) if args.lexicon else None
    decoding = {**DEFAULT_DECODING, "beam_width": args.beam_width}
    if lexicon is not None:
        decoding.update(word_bonus=DEFAULT_WORD_BONUS, oov_penalty=DEFAULT_OOV_PENALTY)
    for key in ("lm_weight", "length_bonus", "word_bonus", "oov_penalty"):
        if getattr(args, key) is not None:
            decoding[key] = getattr(args, key)
    lm = CharNgramLM.train(texts, order=args.order, vocab=charset, decoding=decoding).prune(args.min_count)
    lm.lexicon = lexicon
    if held:
        lm.decoding = tune(lm, model, held, args)
    path = lm.save(args.out)
    size = path.stat().st_size / 1e6
    settings = ", ".join(f"{k} {v:g}" for k, v in lm.decoding.items())
    words = f", {len(lexicon)} lexicon words" if lexicon is not None else ""
    print(f"{path}: order {args.order}, {len(texts)} lines, {len(lm.counts)} contexts{words}, {size:.1f} MB;", settings)
    return 0


def tune(lm: CharNgramLM, model: Path, held: list[LineSample], args: argparse.Namespace) -> dict[str, float]:
    from sparkhtr.data.augment import unseen_writer_degradation
    from sparkhtr.inference.decoding_tuning import tune_beam
    from sparkhtr.inference.recognizer import Recognizer

    recognizer = Recognizer.load(model, backend=args.backend, decoder="greedy")  # only its log-probs are used
    lines: list = [(sample.image(), sample.text) for sample in held]
    if args.tune_degrade > 0:
        mode = "RGB" if recognizer.config.preprocessing.channels == 3 else "L"
        degrade, rng = unseen_writer_degradation(args.tune_degrade), random.Random(args.seed)
        lines = [(degrade(image.convert(mode), rng), text) for image, text in lines]
    report = tune_beam(recognizer, lines, lm, beam_width=args.beam_width, progress=True)
    how = f", degraded (p {args.tune_degrade:g})" if args.tune_degrade > 0 else ""
    print(f"beam settings on {report.lines} held-out lines (kept out of the LM{how}):\n{report.table()}")
    chosen = report.best.settings()
    if lm.lexicon is None:
        del chosen["word_bonus"], chosen["oov_penalty"]
    return {**chosen, "beam_width": args.beam_width}
