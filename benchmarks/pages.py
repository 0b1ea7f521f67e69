"""Whole pages: line finders judged by their lines and by what the bundled model then reads.

    python benchmarks/pages.py ../shared/data/pages_cremma_mss19_fr/pages [--methods page ink_profile truth]
        [--no-read] [--decoder auto] [--kraken kraken_lines.json] [--cache /tmp/sparkhtr_pages]

For each page (an image and its ALTO ground truth) and each method, the lines found are matched
to the truth's polygons (precision, recall and F1 at polygon IoU >= 0.5), cut the way the
training readers cut page lines (``PageLine.crop``: by the polygon, paper painted around it), read, and the
page's text (lines joined by newlines in the method's order) compared with the truth's (page
CER). "order-free" first reorders the found lines by the truth line each overlaps most, so only
missed, split, merged and badly cut lines cost. Methods:

* ``page``: ``sparkhtr.layout.find_page_lines`` (regions, skew, columns, marginal notes);
* ``ink_profile``: ``sparkhtr.layout.find_lines``, the one-column horizontal ink profile (its boxes
  cut here as four-corner outlines, with the pad; ``layout="column"`` crops the bare boxes);
* ``truth``: the ground truth's own polygons: the recognizer's ceiling on these pages;
* ``kraken``: lines from a JSON file ``{page stem: [polygon, ...]}`` made beforehand in another
  environment (``--kraken``; kraken does not install beside sparkhtr's torch).

Read texts are cached by crop content, so reruns only read crops that changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from PIL import Image

from sparkhtr.io.image import PAGE_LIMITS, load_image
from sparkhtr.layout import PageLine, find_lines, find_page_lines, line_from_polygon
from sparkhtr.layout.evaluate import LineScores, match_lines, order_by_truth, overlaps, page_cer, read_alto_lines


def find(method: str, image: Image.Image, truth: list, kraken: dict, stem: str) -> list[PageLine]:
    if method == "page":
        return find_page_lines(image)
    if method == "ink_profile":
        return [
            line_from_polygon([(b.x0, b.y0), (b.x1 - 1, b.y0), (b.x1 - 1, b.y1 - 1), (b.x0, b.y1 - 1)])
            for b in find_lines(image)
        ]
    if method == "truth":
        return [line_from_polygon(t.polygon, t.baseline, t.region) for t in truth]
    if method == "kraken":
        return [line_from_polygon([tuple(p) for p in polygon]) for polygon in kraken.get(stem, [])]
    raise ValueError(method)


class ReadCache:
    """Texts read, by crop content and decoder: reruns read only the crops that changed."""

    def __init__(self, path: Path, recognizer) -> None:
        self.path, self.recognizer = path, recognizer
        self.texts: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}

    def read(self, crops: list[Image.Image]) -> list[str]:
        keys = [hashlib.sha1(c.tobytes() + repr((c.size, c.mode)).encode()).hexdigest() for c in crops]
        todo = [k for k in dict.fromkeys(keys) if k not in self.texts]
        if todo:
            by_key = dict(zip(keys, crops))
            for key, result in zip(todo, self.recognizer.recognize([by_key[k] for k in todo], on_error="return")):
                self.texts[key] = result.text or ""
            self.path.write_text(json.dumps(self.texts))
        return [self.texts[k] for k in keys]


def _model_digest(model: str | None) -> str:
    """A short digest of the files that decide what a model reads, so a new model (or LM) never
    gets an older one's cached texts."""
    from sparkhtr.registry import model_dir

    digest = hashlib.sha1()
    folder = model_dir(model)
    for name in ("config.json", "model.safetensors", "lm.json.gz"):
        if (folder / name).is_file():
            digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", type=Path, help="a folder of page images, each with an ALTO file of the same stem")
    parser.add_argument("--methods", nargs="+", default=["page", "ink_profile", "truth"])
    parser.add_argument("--no-read", action="store_true", help="line scores only, no recognition")
    parser.add_argument("--decoder", default="auto", choices=["auto", "greedy", "beam"])
    parser.add_argument("--model", default=None)
    parser.add_argument("--kraken", type=Path, help="JSON {page stem: [polygon, ...]} of kraken's lines")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/sparkhtr_pages"))
    parser.add_argument("--only", nargs="*", help="page stems to run (default: all)")
    parser.add_argument("--per-page", action="store_true")
    args = parser.parse_args()
    kraken = json.loads(args.kraken.read_text()) if args.kraken else {}
    cache = None
    if not args.no_read:
        from sparkhtr import Recognizer

        recognizer = Recognizer.load(args.model, decoder=args.decoder) if args.model else Recognizer.pretrained(
            decoder=args.decoder
        )
        args.cache.mkdir(parents=True, exist_ok=True)
        name = f"texts_{_model_digest(args.model)}_{args.decoder}.json"
        cache = ReadCache(args.cache / name, recognizer)
    xmls = sorted(p for p in args.pages.glob("*.xml") if not args.only or p.stem in args.only)
    rows = []
    for method in args.methods:
        scores, seconds = LineScores(0, 0, 0), 0.0
        ordered = [0, 0]
        free = [0, 0]
        for xml in xmls:
            image_path = next(p for p in xml.parent.glob(xml.stem + ".*") if p.suffix != ".xml")
            image = load_image(image_path, PAGE_LIMITS)
            truth = read_alto_lines(xml)
            start = time.perf_counter()
            lines = find(method, image, truth, kraken, xml.stem)
            seconds += time.perf_counter() - start
            if method == "kraken":  # measured where kraken ran, model loading left out
                seconds += kraken.get("_seconds", {}).get(xml.stem, 0.0)
            iou, inside = overlaps([line.polygon for line in lines], [t.polygon for t in truth])
            page_scores = match_lines(iou)
            scores += page_scores
            line_text = ""
            if cache is not None:
                texts = cache.read([line.crop(image) for line in lines])
                truth_texts = [t.text for t in truth]
                edits, chars = page_cer(truth_texts, texts)
                free_edits, _ = page_cer(truth_texts, [texts[i] for i in order_by_truth(inside)])
                ordered = [ordered[0] + edits, ordered[1] + chars]
                free = [free[0] + free_edits, free[1] + chars]
                line_text = f" CER {100 * edits / chars:.1f} (order-free {100 * free_edits / chars:.1f})"
            if args.per_page:
                print(f"{method:12s} {xml.stem:48s} found {len(lines):3d} truth {len(truth):3d} "
                      f"F1 {page_scores.f1:.3f}{line_text}", flush=True)
        cer = f"{100 * ordered[0] / ordered[1]:.1f}" if ordered[1] else "-"
        cer_free = f"{100 * free[0] / free[1]:.1f}" if free[1] else "-"
        rows.append(f"| {method} | {scores.found} / {scores.truth} | {scores.precision:.3f} | {scores.recall:.3f} | "
                    f"{scores.f1:.3f} | {cer} | {cer_free} | {seconds / len(xmls):.2f} |")
    print(f"{len(xmls)} pages, decoder {args.decoder}")
    print("| method | lines found / truth | precision | recall | F1 (IoU 0.5) | page CER % | order-free CER % | "
          "s/page (finding) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
