"""Write a synthetic test set (English, French, German lines in handwriting fonts) to a folder.

    python benchmarks/make_synthetic_testset.py OUT_DIR [--size 300] [--seed 20261125]
    python benchmarks/make_synthetic_testset.py OUT_DIR --lang en --text ../shared/text/en/ENG19191_Hamilton.txt

The seed differs from any training seed, so none of these lines was seen in training. The folder
(``<id>.png`` + ``<id>.txt``) is a dataset for ``sparkhtr evaluate OUT_DIR --split all``.
``--lang`` keeps one language's words; ``--text FILE`` takes every line's words from that prose
(runs of whole words, quotes made straight) instead of word lists: a book kept out of the
language models measures them on real sentences they never saw.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from sparkhtr.data.synthetic import SyntheticLines
from sparkhtr.text.charset import LATIN_CHARSET


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--fonts", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "fonts"))
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--lang", nargs="+", default=["en", "fr", "de"], help="languages of the word lists")
    parser.add_argument("--text", type=Path, default=None, help="prose to cut every line from")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    extra = {}
    if args.text is not None:
        from sparkhtr.calibrate.lm_build import STRAIGHT_QUOTES

        prose = [line for line in args.text.read_text("utf-8").translate(STRAIGHT_QUOTES).splitlines() if line.strip()]
        extra = {"extra_texts": prose, "extra_ratio": 1.0}
    lines = SyntheticLines(
        args.fonts, size=args.size, seed=args.seed, charset=set(LATIN_CHARSET), languages=args.lang, **extra
    )
    for i in tqdm(range(len(lines)), unit="line"):
        sample = lines[i]
        sample.image().save(args.out / f"{sample.id}.png")
        (args.out / f"{sample.id}.txt").write_text(sample.text + "\n", "utf-8")
    print(f"{len(lines)} lines in {args.out}")


if __name__ == "__main__":
    main()
