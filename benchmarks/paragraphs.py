"""Paragraph reading (`Recognizer.recognize_paragraph`) against reading the same lines one by one.

    python benchmarks/paragraphs.py ../shared/data/copiste_dun_jour_fr [--split val] [--decoder greedy]

Why: line finding is judged by what it costs in reading. Each page (the dataset's `group`) of the
split becomes one paragraph image: its lines in order, one under the other, a random gap of -6..12
pixels between them (negative: ascenders and descenders overlap, ink kept) and a small sideways
shift. The script prints how many pages got exactly one box per line, and the CER of the page
texts (lines joined by spaces) read from the paragraph image and read from the dataset's own line
images: the difference is what line finding costs.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from sparkhtr import Recognizer
from sparkhtr.text.metrics import corpus_scores


def read_pages(root: Path, split: str) -> list[list[dict[str, str]]]:
    with (root / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if r["split"] == split]
    pages: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        pages.setdefault(row["group"], []).append(row)
    return [sorted(page, key=lambda r: r["id"]) for page in pages.values()]


def build_page(root: Path, rows: list[dict[str, str]], rng: random.Random) -> Image.Image:
    lines = [np.asarray(Image.open(root / "lines" / f"{r['id']}.png").convert("L")) for r in rows]
    gaps = [rng.randint(-6, 12) for _ in lines[1:]] + [0]
    width = max(line.shape[1] for line in lines) + 80
    page = np.full((sum(line.shape[0] for line in lines) + sum(gaps) + 60, width), 255, np.uint8)
    y = 30
    for line, gap in zip(lines, gaps):
        x = rng.randint(10, 40)
        region = page[y : y + line.shape[0], x : x + line.shape[1]]
        region[...] = np.minimum(region, line)
        y += line.shape[0] + gap
    return Image.fromarray(page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="a folder with manifest.tsv (id, split, group, text) and lines/")
    parser.add_argument("--split", default="val")
    parser.add_argument("--model", default=None)
    parser.add_argument("--decoder", default="greedy", choices=["auto", "greedy", "beam"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    recognizer = Recognizer.load(args.model, decoder=args.decoder) if args.model else Recognizer.pretrained(
        decoder=args.decoder
    )
    rng = random.Random(args.seed)
    pages = read_pages(args.dataset, args.split)
    exact, pairs_paragraph, pairs_lines = 0, [], []
    found_lines = total_lines = 0
    paragraph_seconds = lines_seconds = 0.0
    for rows in tqdm(pages, unit="page"):
        image = build_page(args.dataset, rows, rng)
        truth = " ".join(r["text"] for r in rows)
        start = time.perf_counter()
        result = recognizer.recognize_paragraph(image)
        paragraph_seconds += time.perf_counter() - start
        start = time.perf_counter()
        alone = recognizer.recognize([args.dataset / "lines" / f"{r['id']}.png" for r in rows])
        lines_seconds += time.perf_counter() - start
        exact += len(result.lines) == len(rows)
        found_lines += len(result.lines)
        total_lines += len(rows)
        pairs_paragraph.append((truth, " ".join(line.result.text or "" for line in result.lines)))
        pairs_lines.append((truth, " ".join(r.text or "" for r in alone)))
    paragraph, lines = corpus_scores(pairs_paragraph), corpus_scores(pairs_lines)
    print(f"{len(pages)} pages, {total_lines} lines ({args.dataset} split {args.split}), decoder {args.decoder}")
    print(f"pages with one box per line: {exact}/{len(pages)}; boxes found {found_lines} for {total_lines} lines")
    print("| read as | CER % | WER % | seconds |\n| --- | --- | --- | --- |")
    print(f"| paragraph (find_lines) | {100 * paragraph['cer']:.2f} | {100 * paragraph['wer']:.2f} | "
          f"{paragraph_seconds:.1f} |")
    print(f"| the dataset's line images | {100 * lines['cer']:.2f} | {100 * lines['wer']:.2f} | "
          f"{lines_seconds:.1f} |")


if __name__ == "__main__":
    main()
