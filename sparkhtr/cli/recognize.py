"""`sparkhtr recognize IMAGE|FOLDER...`: print the text of each line image.

A folder stands for every image file below it (sorted). Results are printed as they come, in input
order, so a big folder shows output at once and a stopped run keeps what it printed. With
--paragraph each image may hold several lines (one column): they are found, then read in turn.
"""

from __future__ import annotations

import argparse
import json
import sys

from sparkhtr.text.charset import LETTER_CASES
from sparkhtr.text.decoders import DECODERS

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("recognize", help="recognize text line images", description=__doc__)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="line image files, or folders of them")
    p.add_argument("--model", default=None, help="model directory or bundled name (default: the bundled model)")
    p.add_argument("--format", choices=["text", "jsonl", "tsv"], default="text", dest="output_format")
    p.add_argument("--batch-size", type=int, default=None, help="lines per backend call (default: the backend's)")
    p.add_argument("--threads", type=int, default=None, help="compute threads (default: every core available)")
    p.add_argument("--device", default=None, help="cpu (default), cuda or cuda:N")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--max-pixels", type=int, default=50_000_000, help="refuse larger images (default 50 MP)")
    p.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    p.add_argument(
        "--paragraph", action="store_true",
        help="each image holds several lines: find them (one column, top to bottom) and read each",
    )
    p.add_argument("--draw", metavar="DIR", help="with --paragraph: save each image with its line boxes and texts here")
    p.add_argument("--page-xml", metavar="DIR", help="with --paragraph: write a PAGE XML file per image here")
    p.add_argument("--alto", metavar="DIR", help="with --paragraph: write an ALTO file per image here")
    add_decoder_arguments(p)
    p.set_defaults(func=run)


def add_decoder_arguments(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("decoding")
    group.add_argument(
        "--decoder",
        choices=DECODERS,
        default="auto",
        help="greedy (SPAN's, fastest), beam (search with a character language model), or auto "
        "(the default: beam when the model has a language model or --lm is given, else greedy)",
    )
    group.add_argument("--lm", default=None, help="language model file for beam search (default: the model's)")
    group.add_argument(
        "--lang", default=None,
        help="the model's language model for this language: en, fr, de (bundled model), or auto (the default, "
        "its mixed LM); `sparkhtr models` lists each model's languages",
    )
    group.add_argument("--lm-weight", type=float, default=None, help="default: the LM file's setting")
    group.add_argument("--length-bonus", type=float, default=None, help="default: the LM file's setting")
    group.add_argument("--beam-width", type=int, default=None, help="default: the LM file's setting, else 10")
    group.add_argument(
        "--word-bonus", type=float, default=None, help="gain for a word in the LM's lexicon (default: the LM's setting)"
    )
    group.add_argument(
        "--oov-penalty", type=float, default=None, help="cost of a word not in the lexicon (default: the LM's setting)"
    )
    group.add_argument(
        "--letter-case", choices=LETTER_CASES, default="as_read",
        help="as_read (default), or write every letter in capitals (upper: for lines written in block "
        "capitals, which the bundled model reads mostly as small letters) or in small letters (lower)",
    )


def load_recognizer(model: str | None, device: str | None = None, backend: str = "torch", args=None, **kwargs):
    """A model argument is a directory when one exists at that path, otherwise a registered name;
    ``args`` with the decoding arguments (add_decoder_arguments) chooses the decoder and the letter case."""
    from sparkhtr import Recognizer
    from sparkhtr.registry import model_dir
    from sparkhtr.text.decoders import make_decoder

    path = model_dir(model)
    decoder = "auto"
    if args is not None:
        names = ("lm_weight", "length_bonus", "beam_width", "word_bonus", "oov_penalty")
        settings = {name: getattr(args, name) for name in names}
        decoder = make_decoder(args.decoder, path, args.lm, lang=args.lang, **settings)
        kwargs.setdefault("letter_case", args.letter_case)
    return Recognizer.load(path, device=device, backend=backend, decoder=decoder, **kwargs)


def expand_images(arguments: list[str]) -> list[str]:
    """Files as given (a missing one is reported when read); folders replaced by their image files."""
    from pathlib import Path

    from sparkhtr.io.image import IMAGE_SUFFIXES

    paths: list[str] = []
    for argument in arguments:
        folder = Path(argument)
        if folder.is_dir():
            found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise FileNotFoundError(f"no image files under {folder}")
            paths.extend(str(p) for p in found)
        else:
            paths.append(argument)
    return paths


def run(args: argparse.Namespace) -> int:
    from sparkhtr.io.image import ImageLimits

    images = expand_images(args.images)
    limits = ImageLimits(max_pixels=args.max_pixels)
    if (args.draw or args.page_xml or args.alto) and not args.paragraph:
        raise ValueError("--draw, --page-xml and --alto describe paragraphs: use them with --paragraph")
    recognizer = load_recognizer(args.model, args.device, args.backend, args, limits=limits, num_threads=args.threads)
    if args.paragraph:
        return print_paragraphs(recognizer, images, args)
    results = recognizer.recognize_iter(images, args.batch_size, on_error="return", progress=args.progress)
    failed = 0
    for path, result in zip(images, results):
        result.source = path
        if result.error:
            failed += 1
            print(f"sparkhtr recognize: error: {result.error}", file=sys.stderr)
        if args.output_format == "jsonl":
            print(json.dumps(result.to_dict(), ensure_ascii=False))
        elif args.output_format == "tsv":
            text = "" if result.text is None else result.text.replace("\t", " ")
            conf = "" if result.confidence is None else f"{result.confidence:.4f}"
            print(f"{path}\t{text}\t{conf}\t{result.error or ''}")
        elif result.text is not None:
            print(f"{path}\t{result.text}" if len(images) > 1 else result.text)
        sys.stdout.flush()
    return 1 if failed else 0


def print_paragraphs(recognizer, images: list[str], args: argparse.Namespace) -> int:
    """--paragraph: text prints each image's lines (under a "== path" header when there are
    several images); jsonl one object per image with its lines' boxes; tsv one row per line.
    --draw, --page-xml and --alto write <name>.lines.png / <name>.xml files into their folders."""
    from pathlib import Path

    from sparkhtr.inference.xml_export import alto_xml, page_xml
    from sparkhtr.io.image import ImageError, load_image
    from sparkhtr.layout import draw_lines

    folders = {"draw": args.draw, "page": args.page_xml, "alto": args.alto}
    for folder in folders.values():
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in images:
        try:
            picture = load_image(path, recognizer.limits)
            page = recognizer.recognize_paragraph(picture)
        except ImageError as exc:
            failed += 1
            print(f"sparkhtr recognize: error: {exc}", file=sys.stderr)
            if args.output_format == "jsonl":
                print(json.dumps({"path": path, "text": None, "lines": [], "error": str(exc)}, ensure_ascii=False))
            continue
        page.source = path
        stem, name = Path(path).stem, Path(path).name
        if folders["draw"]:
            boxes, texts = [line.box for line in page.lines], [line.result.text or "" for line in page.lines]
            draw_lines(picture, boxes, texts, Path(folders["draw"]) / f"{stem}.lines.png")
        for kind, write in (("page", page_xml), ("alto", alto_xml)):
            if folders[kind]:
                xml = write(page, name, picture.width, picture.height)
                (Path(folders[kind]) / f"{stem}.xml").write_text(xml, encoding="utf-8")
        if args.output_format == "jsonl":
            print(json.dumps({**page.to_dict(), "error": None}, ensure_ascii=False))
        elif args.output_format == "tsv":
            for line in page.lines:
                box = ",".join(map(str, line.box.to_list()))
                print(f"{path}\t{box}\t{(line.result.text or '').replace(chr(9), ' ')}\t{line.result.confidence:.4f}")
        else:
            print(f"== {path}\n{page.text}" if len(images) > 1 else page.text)
        sys.stdout.flush()
    return 1 if failed else 0
