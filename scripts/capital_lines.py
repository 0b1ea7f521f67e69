"""Make training lines written in real handwritten capitals, from a dataset's ordinary lines.

Why: one writer of the Copiste val split writes in block capitals, and the default model reads
them as small letters (73 % CER), though it reads capitals drawn with fonts well. Real training
lines hold capitals only at the start of words, so the network has learnt that real ink in a row
is small letters. This script crops every capital of the training transcriptions out of its line
(where a CTC forced alignment with a trained model puts it, shifted back by the model's position
lag) and sets the crops in rows of capital words: French words of `wordfreq`, each letter a real
capital written by the line's writer where that writer wrote one, else by another. Half of the
lines are set small in a tall crop, as a line cut for ascenders and descenders holds capitals
(that writer's ink spans 30 % of its crops' height): 20 % are cut tight to the ink, 30 % as cut.

    python scripts/capital_lines.py ../shared/data/copiste_dun_jour_fr runs/capital_lines --lines 3000

writes OUT/lines/<id>.png + <id>.txt (a folder dataset: train with --train OUT@0.1) and
OUT/preview.png. Only the dataset's train split is read.
"""

from __future__ import annotations

import argparse
import random
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from sparkhtr.data.datasets import open_dataset
from sparkhtr.data.synthetic import preview_grid
from sparkhtr.inference.positions import char_extents
from sparkhtr.inference.preprocess import resize_line
from sparkhtr.inference.recognizer import Recognizer
from sparkhtr.io.image import ImageError
from sparkhtr.model.span import SpanLineModel
from sparkhtr.text.charset import Charset
from sparkhtr.text.ctc import forced_alignment

GLYPH_HEIGHT = 80  # pixels: every source line is scaled to this height before its capitals are cut
MIN_CONFIDENCE = 0.8  # a capital whose aligned frames give it less probability than this is not used

Glyphs = dict[str, dict[str, list[np.ndarray]]]  # writer -> capital -> crops (gray, GLYPH_HEIGHT tall)


def cut_capitals(recognizer: Recognizer, samples, progress: bool = True) -> Glyphs:
    """Every confidently aligned capital letter of ``samples``, by writer."""
    charset = Charset(recognizer.charset)
    glyphs: Glyphs = defaultdict(lambda: defaultdict(list))
    for sample in tqdm(samples, desc="cutting capitals", disable=not progress):
        if not any(c.isupper() for c in sample.text) or charset.missing(sample.text):
            continue
        try:
            image = sample.image().convert("L")
        except ImageError:
            continue
        log_probs = recognizer.log_probs(image)
        labels = charset.encode(sample.text)
        spans = forced_alignment(log_probs, labels, charset.blank)
        if spans is None:
            continue
        scale = resize_line(image, recognizer.config.preprocessing).width / image.width
        step = SpanLineModel.WIDTH_REDUCTION / scale
        extents = char_extents(spans, recognizer.config.position_lag, step, image.width)
        scaled = image.resize((max(1, round(image.width * GLYPH_HEIGHT / image.height)), GLYPH_HEIGHT))
        ratio = GLYPH_HEIGHT / image.height
        for char, label, (first, last), (x0, x1) in zip(sample.text, labels, spans, extents):
            if not char.isupper():
                continue
            if float(np.exp(log_probs[first : last + 1, label]).mean()) < MIN_CONFIDENCE:
                continue
            left, right = int(x0 * ratio), int(np.ceil(x1 * ratio))
            if right - left < GLYPH_HEIGHT * 0.1:
                continue
            glyph = _clean_glyph(np.asarray(scaled), left, right)
            if glyph is not None and 0.2 * GLYPH_HEIGHT <= glyph.shape[1] <= 1.5 * GLYPH_HEIGHT:
                glyphs[_writer(sample.id)][char].append(_whiten(glyph))
    return glyphs


def _clean_glyph(line: np.ndarray, left: int, right: int) -> np.ndarray | None:
    """The letter between columns ``left`` and ``right`` of ``line``, whole and alone: ink strokes
    centered inside the range are kept whole (the range widens to them), strokes centered outside
    are whitened, and a stroke much wider than the letter (a cursive join) is cut at the range."""
    width = right - left
    # Wide enough that a stroke cut by the window's edges still looks wider than 3 letters.
    start, stop = max(0, left - 2 * width), min(line.shape[1], right + 2 * width)
    window = line[:, start:stop]
    components = _components(window < 160)
    keep = np.zeros(window.shape, dtype=bool)
    lo, hi = left - start, right - start
    for index in range(1, int(components.max()) + 1):
        mask = components == index
        columns = np.flatnonzero(mask.any(axis=0))
        if columns[-1] < lo or columns[0] >= hi:
            continue
        if columns[-1] - columns[0] > 3 * width:
            clipped = np.zeros_like(mask)
            clipped[:, lo:hi] = mask[:, lo:hi]
            keep |= clipped
        elif lo <= (columns[0] + columns[-1]) / 2 < hi:
            keep |= mask
    columns = np.flatnonzero(keep.any(axis=0))
    if columns.size == 0:
        return None
    first, last = max(0, columns[0] - 2), min(window.shape[1], columns[-1] + 3)
    glyph = np.where(keep, window, 255)[:, first:last]
    return glyph.astype(np.uint8)


def _components(ink: np.ndarray) -> np.ndarray:
    """8-connected components of ``ink``: 0 for paper, 1..n for each stroke."""
    labels = np.where(ink, np.arange(1, ink.size + 1).reshape(ink.shape), 0)
    while True:
        padded = np.pad(labels, 1)
        spread = np.max(
            [
                padded[1 + dy : padded.shape[0] - 1 + dy, 1 + dx : padded.shape[1] - 1 + dx]
                for dy in (-1, 0, 1)
                for dx in (-1, 0, 1)
            ],
            axis=0,
        )
        spread = np.where(ink, spread, 0)
        if np.array_equal(spread, labels):
            break
        labels = spread
    _, compact = np.unique(np.concatenate(([0], labels.ravel())), return_inverse=True)
    return compact[1:].reshape(ink.shape)  # 0 put first, so paper is 0 even in a window without any


def _writer(line_id: str) -> str:
    """A line's page, taken as its writer: its id without the line number (cdj_w_0235_1_l08 -> cdj_w_0235_1)."""
    return re.sub(r"_l?\d+$", "", line_id)


def _whiten(crop: np.ndarray) -> np.ndarray:
    """Paper to white: the crop's bright background (its 90th percentile) is stretched to 255."""
    paper = max(1.0, float(np.percentile(crop, 90)))
    return np.clip(crop.astype(np.float32) * (255.0 / paper), 0, 255).astype(np.uint8)


def capital_words(count: int = 30000) -> list[str]:
    import wordfreq

    return [w.upper() for w in wordfreq.top_n_list("fr", count) if w.isalpha() and len(w) >= 2]


def by_letter(glyphs: Glyphs) -> dict[str, list[list[np.ndarray]]]:
    """For each capital, every writer's crops of it (one list per writer)."""
    letters: dict[str, list[list[np.ndarray]]] = defaultdict(list)
    for writer in glyphs.values():
        for char, crops in writer.items():
            letters[char].append(crops)
    return letters


def compose_line(
    glyphs: Glyphs, everyone: dict[str, list[list[np.ndarray]]], words: list[str], rng: random.Random
) -> tuple[Image.Image, str]:
    """One line of 2-6 of ``words`` (each spelt by ``glyphs``), each letter a crop by one writer
    where that writer has it, else by another (``everyone``: ``by_letter(glyphs)``)."""
    writer = glyphs[rng.choice(list(glyphs))]
    chosen = rng.sample(words, min(len(words), rng.randint(2, 6)))
    space = int(GLYPH_HEIGHT * rng.uniform(0.25, 0.55))
    pieces: list[np.ndarray] = []
    for index, word in enumerate(chosen):
        if index:
            pieces.append(np.full((GLYPH_HEIGHT, space), 255, np.uint8))
        for char in word:
            crops = writer.get(char) or rng.choice(everyone[char])
            crop = rng.choice(crops)
            keep = max(1, int(crop.shape[1] * rng.uniform(0.85, 1.0)))  # trim where the next letter may begin
            pieces.append(crop[:, :keep])
            pieces.append(np.full((GLYPH_HEIGHT, rng.randint(0, 4)), 255, np.uint8))
    line = np.concatenate(pieces, axis=1)
    rows = np.flatnonzero((line < 128).any(axis=1))
    kind = rng.random()
    if rows.size and kind < 0.2:  # tight to the ink, as a line of capitals alone is sometimes cut
        margin = rng.randint(2, 8)
        line = line[max(0, rows[0] - margin) : rows[-1] + margin + 1]
    elif rows.size and kind < 0.7:
        # small in a tall crop, as a line cut for ascenders and descenders holds a line of capitals
        # (the Copiste val writer in capitals: ink over 30 % of the crop's height)
        ink = line[rows[0] : rows[-1] + 1]
        height = max(ink.shape[0] + 4, round(ink.shape[0] / rng.uniform(0.22, 0.4)))
        top = round((height - ink.shape[0]) * rng.uniform(0.4, 0.7))
        line = np.full((height, line.shape[1]), 255, np.uint8)
        line[top : top + ink.shape[0]] = ink
    return Image.fromarray(line), " ".join(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="a dataset spec with transcribed lines (its train split is read)")
    parser.add_argument("out", help="output folder")
    parser.add_argument("--model", default="sparkhtr/pretrained/span_small_latin", help="aligns the lines")
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--limit", type=int, help="read at most this many source lines")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    recognizer = Recognizer.load(args.model, decoder="greedy")
    samples = open_dataset(args.dataset, split="train")[: args.limit]
    glyphs = cut_capitals(recognizer, samples)
    total = sum(len(c) for w in glyphs.values() for c in w.values())
    everyone = by_letter(glyphs)
    letters = "".join(sorted(everyone))
    print(f"{total} capitals by {len(glyphs)} writers: {letters}")
    if not glyphs:
        raise SystemExit(f"{args.dataset}: no capital letter of its train lines could be aligned with {args.model}")
    words = [w for w in capital_words() if set(w) <= everyone.keys()]
    if len(words) < 2:
        raise SystemExit(f"the capitals found ({letters}) spell fewer than 2 words")
    rng = random.Random(args.seed)
    out = Path(args.out) / "lines"
    out.mkdir(parents=True, exist_ok=True)
    shown: list[tuple[Image.Image, str]] = []  # the first lines, for the preview
    for index in tqdm(range(args.lines), desc="composing lines"):
        image, text = compose_line(glyphs, everyone, words, rng)
        image.save(out / f"caps_{index:05d}.png")
        (out / f"caps_{index:05d}.txt").write_text(text + "\n", "utf-8")
        if len(shown) < 8:
            shown.append((image, text))
    preview_grid(shown, Path(args.out) / "preview.png")


if __name__ == "__main__":
    main()
