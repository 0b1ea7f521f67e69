"""`sparkhtr build-lm SOURCE... --out lm.json.gz`: a character n-gram language model for beam search.

SOURCEs are datasets (a folder or KIND:PATH; their `--split` lines' transcriptions are used) or
plain text files (.txt: one line of text per line). Characters outside the model's charset are
dropped. Named lm.json.gz inside a model directory, it makes beam search that model's default
decoder; the --lm-weight and --length-bonus given here are stored in it as its decoding settings.

--tune N chooses them instead: N random lines of the dataset sources (and every other line with
the same text) are kept out of the LM, the model reads them once, and each LM weight x length
bonus pair re-decodes them; the pair with the lowest CER is stored, and the table is printed.
Never tune on a test set. Lines the model was trained on read better than new ones, so they tend
to favour a lighter LM: where there is a choice, tune on a dataset the model has not seen.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from sparkhtr.data.sample import LineSample
from sparkhtr.text.charset import normalize_text
from sparkhtr.text.lm import DEFAULT_DECODING, CharNgramLM

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
    p.add_argument(
        "--caps-copies", type=float, default=0.0, metavar="SHARE",
        help="also learn from upper-cased copies of this share of the lines, so text written in capitals "
        "keeps its spelling model (default 0)",
    )
    p.add_argument("--tune", type=int, default=0, metavar="N", help="choose both settings on N held-out lines")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch", help="runs the model for --tune")
    p.add_argument("--seed", type=int, default=0, help="which lines --tune holds out (default 0)")
    p.set_defaults(func=run)


def read_sources(sources: list[str], split: str) -> tuple[list[str], list[LineSample]]:
    """The text lines of .txt sources, and the samples of dataset sources."""
    from sparkhtr.data.datasets import open_dataset

    texts: list[str] = []
    samples: list[LineSample] = []
    for source in sources:
        path = Path(source)
        if path.is_file() and path.suffix.lower() == ".txt":
            found = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            texts.extend(found)
        else:
            found = open_dataset(source, split=None if split == "all" else split)
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


def caps_copies(texts: list[str], share: float, seed: int) -> list[str]:
    """Upper-cased copies of ``share`` of ``texts`` (chosen at random, reproducibly)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"--caps-copies must be between 0 and 1, got {share}")
    chosen = random.Random(seed).sample(texts, round(share * len(texts)))
    return [text.upper() for text in chosen]


def run(args: argparse.Namespace) -> int:
    from sparkhtr.model.files import load_config
    from sparkhtr.registry import resolve_model

    if args.tune and (args.lm_weight is not None or args.length_bonus is not None):
        raise ValueError("--tune chooses --lm-weight and --length-bonus: give either --tune or those")
    model = Path(args.model) if args.model and Path(args.model).exists() else resolve_model(args.model)
    charset = load_config(model).charset
    texts, samples = read_sources(args.sources, args.split)
    held: list[LineSample] = []
    if args.tune:
        held, samples = hold_out(samples, args.tune, args.seed)
    texts += [sample.text for sample in samples]
    texts += caps_copies(texts, args.caps_copies, args.seed)
    decoding = dict(DEFAULT_DECODING)
    if args.lm_weight is not None:
        decoding["lm_weight"] = args.lm_weight
    if args.length_bonus is not None:
        decoding["length_bonus"] = args.length_bonus
    lm = CharNgramLM.train(texts, order=args.order, vocab=charset, decoding=decoding)
    if held:
        lm.decoding = tune(lm, model, held, args.backend)
    path = lm.save(args.out)
    size = path.stat().st_size / 1e6
    settings = ", ".join(f"{k} {v:g}" for k, v in lm.decoding.items())
    print(f"{path}: order {args.order}, {len(texts)} lines, {len(lm.counts)} contexts, {size:.1f} MB; {settings}")
    return 0


def tune(lm: CharNgramLM, model: Path, held: list[LineSample], backend: str) -> dict[str, float]:
    from sparkhtr.inference.decoding_tuning import tune_beam
    from sparkhtr.inference.recognizer import Recognizer

    recognizer = Recognizer.load(model, backend=backend, decoder="greedy")  # only its log-probs are used
    report = tune_beam(recognizer, [(sample.image(), sample.text) for sample in held], lm, progress=True)
    print(f"beam settings on {report.lines} held-out lines (kept out of the LM):\n{report.table()}")
    return {"lm_weight": report.best.lm_weight, "length_bonus": report.best.length_bonus}
