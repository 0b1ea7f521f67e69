"""`sparkhtr recognize IMAGE|FOLDER...`: print the text of each line image.

A folder stands for every image file below it (sorted). Results are printed as they come, in input
order, so a big folder shows output at once and a stopped run keeps what it printed. With
--paragraph each image may hold several lines (one column): they are found, then read in turn.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from sparkhtr.text.beam_settings import BEAM_DEFAULTS
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
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: a GPU where torch sees one, else cpu)")
    p.add_argument(
        "--backend", choices=["auto", "torch", "onnx"], default="auto",
        help="auto (default): torch on a GPU, else the model's ONNX graph where its config.json records it as "
        "reading within 0.3 CER points of the float model and onnxruntime is installed, else torch",
    )
    p.add_argument("--verbose", action="store_true", help="say on stderr which backend and decoder read, and why")
    p.add_argument("--max-pixels", type=int, default=50_000_000, help="refuse larger images (default 50 MP)")
    p.add_argument(
        "--max-line-pixels", type=int, default=None,
        help="refuse a line whose network input (resized to the model's line height) has more pixels: "
        "memory grows with it (default 1,048,576: 16,384 px wide at 64 px high, under 1 GB)",
    )
    p.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    p.add_argument(
        "--paragraph", action="store_true",
        help="each image holds several lines: find them (one column, top to bottom) and read each",
    )
    p.add_argument("--draw", metavar="DIR", help="with --paragraph: save each image with its line boxes and texts here")
    p.add_argument("--page-xml", metavar="DIR", help="with --paragraph: write a PAGE XML file per image here")
    p.add_argument("--alto", metavar="DIR", help="with --paragraph: write an ALTO file per image here")
    p.add_argument("--hocr", metavar="DIR", help="with --paragraph: write an hOCR (XHTML) file per image here")
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
    group.add_argument(
        "--beam-width", type=int, default=None,
        help=f"default: the LM file's setting, else {BEAM_DEFAULTS.beam_width}",
    )
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


def load_recognizer(model: str | None, device: str | None = None, backend: str = "auto", args=None, **kwargs):
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


def expand_images(arguments: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(paths, names, problems): files as given (a missing one is reported when read), folders
    replaced by their image files; ``names`` are the paths relative to their folder argument (a
    file's own name), for output files; ``problems`` one message per folder without images, which
    is reported while the other arguments are still read."""
    from pathlib import Path

    from sparkhtr.io.image import IMAGE_SUFFIXES

    paths: list[str] = []
    names: list[str] = []
    problems: list[str] = []
    for argument in arguments:
        folder = Path(argument)
        if folder.is_dir():
            found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                problems.append(f"{argument}: no image files under this folder")
            paths.extend(str(p) for p in found)
            names.extend(p.relative_to(folder).as_posix() for p in found)
        else:
            paths.append(argument)
            names.append(Path(argument).name)
    return paths, names, problems


def shown(text: str) -> str:
    """``text`` printable as UTF-8: a file name that is not UTF-8 (its bytes are lone surrogates in
    Python) would make ``print`` raise and stop the run, so those bytes become U+FFFD."""
    try:
        return os.fsencode(text).decode("utf-8", "replace")
    except UnicodeEncodeError:  # surrogates that did not come from bytes
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def tsv_field(text: str) -> str:
    """One TSV field: backslash, tab, newline and carriage return escaped (as \\, \\t, \\n, \\r), so a
    name or a text holding them cannot shift the columns or split the row."""
    escaped = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return shown(escaped)


def run(args: argparse.Namespace) -> int:
    from sparkhtr.io.image import ImageLimits

    images, names, problems = expand_images(args.images)
    line_limit = {"max_line_pixels": args.max_line_pixels} if args.max_line_pixels is not None else {}
    limits = ImageLimits(max_pixels=args.max_pixels, **line_limit)
    if (args.draw or args.page_xml or args.alto or args.hocr) and not args.paragraph:
        raise ValueError("--draw, --page-xml, --alto and --hocr describe paragraphs: use them with --paragraph")
    for problem in problems:
        print(f"sparkhtr recognize: error: {problem}", file=sys.stderr)
    if not images:
        return 2  # nothing at all to read: a usage error, as before any argument is read
    recognizer = load_recognizer(args.model, args.device, args.backend, args, limits=limits, num_threads=args.threads)
    if args.verbose:
        print(f"sparkhtr recognize: {recognizer.describe()}", file=sys.stderr)
    if args.paragraph:
        return print_paragraphs(recognizer, images, names, args) or (1 if problems else 0)
    results = recognizer.recognize_iter(images, args.batch_size, on_error="return", progress=args.progress)
    failed = len(problems)
    for path, result in zip(images, results):
        result.source = shown(path)
        if result.error:
            failed += 1
            print(f"sparkhtr recognize: error: {shown(result.error)}", file=sys.stderr)
        elif result.note:
            print(f"sparkhtr recognize: note: {shown(path)}: {result.note}", file=sys.stderr)
        if args.output_format == "jsonl":
            print(json.dumps(result.to_dict(), ensure_ascii=False))
        elif args.output_format == "tsv":
            text = "" if result.text is None else tsv_field(result.text)
            conf = "" if result.confidence is None else f"{result.confidence:.4f}"
            print(f"{tsv_field(path)}\t{text}\t{conf}\t{tsv_field(result.error or '')}")
        elif result.text is not None:
            print(f"{tsv_field(path)}\t{result.text}" if len(images) > 1 else result.text)
        sys.stdout.flush()
    return 1 if failed else 0


def print_paragraphs(recognizer, images: list[str], names: list[str], args: argparse.Namespace) -> int:
    """--paragraph: text prints each image's lines (under a "== path" header when there are
    several images); jsonl one object per image with its lines' boxes; tsv one row per line.
    --draw, --page-xml, --alto and --hocr write <name>.lines.png / <name>.xml / <name>.hocr files into their folders,
    <name> the image's path relative to its folder argument without its suffix ("sub/a" for
    sub/a.png), or with it where two images would share one ("a.png", "a.jpg"): no output is
    ever overwritten by another's. The XML names the image by that relative path, so sparkhtr's
    readers (``image_dir`` = the folder argument) find each file's own image. A failure of one
    image is reported and the others go on."""
    from pathlib import Path

    from sparkhtr.inference.hocr_export import hocr
    from sparkhtr.inference.xml_export import alto_xml, output_stems, page_xml
    from sparkhtr.io.image import ImageError, load_image
    from sparkhtr.layout import draw_lines

    folders = {"draw": args.draw, "page": args.page_xml, "alto": args.alto, "hocr": args.hocr}
    writers = (("page", page_xml, ".xml"), ("alto", alto_xml, ".xml"), ("hocr", hocr, ".hocr"))
    for folder in folders.values():
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
    failed = 0
    for path, name, stem in zip(images, names, output_stems(names)):
        try:
            picture = load_image(path, recognizer.limits)
            page = recognizer.recognize_paragraph(picture)
            page.source = shown(path)
            if folders["draw"]:
                boxes, texts = [line.box for line in page.lines], [line.result.text or "" for line in page.lines]
                target = Path(folders["draw"]) / f"{stem}.lines.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                draw_lines(picture, boxes, texts, target)
            for kind, write, suffix in writers:
                if folders[kind]:
                    target = Path(folders[kind]) / f"{stem}{suffix}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(write(page, name, picture.width, picture.height), encoding="utf-8")
        except (ImageError, OSError, ValueError, RuntimeError, MemoryError) as exc:
            failed += 1
            message = str(exc) if isinstance(exc, ImageError) else f"{path}: {type(exc).__name__}: {exc}"
            print(f"sparkhtr recognize: error: {message}", file=sys.stderr)
            if args.output_format == "jsonl":
                error = {"path": shown(path), "text": None, "lines": [], "error": shown(message)}
                print(json.dumps(error, ensure_ascii=False))
            continue
        for number, line in enumerate(page.lines, 1):
            if line.result.error:  # the line's own failure: the page's other lines are still written
                failed += 1
                print(f"sparkhtr recognize: error: {shown(path)}: line {number}: {line.result.error}", file=sys.stderr)
        if args.output_format == "jsonl":
            print(json.dumps({**page.to_dict(), "error": None}, ensure_ascii=False))
        elif args.output_format == "tsv":
            for line in page.lines:
                box = ",".join(map(str, line.box.to_list()))
                text = tsv_field(line.result.text or "")
                print(f"{tsv_field(path)}\t{box}\t{text}\t{line.result.confidence or 0:.4f}")
        else:
            print(f"== {shown(path)}\n{page.text}" if len(images) > 1 else page.text)
        sys.stdout.flush()
    return 1 if failed else 0
