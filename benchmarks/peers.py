"""sparkhtr against other line recognizers on the same line images: CER, WER and lines/s.

Why: a number for sparkhtr means little alone; run in the same process on the same lines, with the
same thread count, the peers show where it stands. Peers are used as they ship (their bundled
models, recognition only: no detection or layout step, since the inputs are already lines):

    sparkhtr-torch   Recognizer, torch backend (fp32)
    sparkhtr-onnx    Recognizer, onnxruntime backend (the model exported to ONNX on the fly if needed)
    sparkhtr-onnx-int8  the same on the model directory's model.int8.onnx (`export-onnx --int8`)
    rapidocr         RapidOCR (PP-OCR recognition model via onnxruntime), det and cls disabled
    tesseract        Tesseract LSTM in-process through tesserocr (--oem 1 --psm 7; see below)
    tesseract-cli    the tesseract program, --oem 1 --psm 7, one process per line (pytesseract's way)

Peers that are not installed are skipped with a note; benchmarks/setup_peers.sh installs them.
tesserocr's wheel bundles its own libtesseract (5.5.x); with the Debian traineddata it returns
nothing in --psm 7 on these lines, while --psm 13 (raw line) works; a line that comes back empty
in --psm 7 is therefore retried in --psm 13, and the count of retries is printed.

sparkhtr engines decode with --decoder: auto (as users get it: beam search + LM where the model
ships one), greedy or beam.

Every engine reads the image file itself (decoding is part of its time) and is warmed up on two
lines first. Texts are NFC-normalised and stripped; CER and WER are sparkhtr.text.metrics'.

    python benchmarks/peers.py ../shared/data/copiste_dun_jour_fr --split val --limit 50 --model MODEL
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["main", "read_lines", "ENGINES"]

ENGINES = ("sparkhtr-torch", "sparkhtr-onnx", "sparkhtr-onnx-int8", "rapidocr", "tesseract", "tesseract-cli")
TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata", "/usr/share/tessdata")


@dataclass
class EngineResult:
    name: str
    predictions: list[str]
    seconds: float
    note: str = ""
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def lines_per_second(self) -> float:
        return len(self.predictions) / self.seconds


def read_lines(folder: Path, split: str | None, limit: int) -> list[tuple[Path, str]]:
    """(image, ground truth) pairs: ``<id>.png`` + ``<id>.txt`` in ``folder`` (or ``folder/lines``).

    With ``split``, only the ids a ``manifest.tsv`` (in the folder or its parent) puts in that split,
    in the manifest's order; otherwise every pair, sorted by name.
    """
    images = folder / "lines" if (folder / "lines").is_dir() and not any(folder.glob("*.png")) else folder
    if split:
        manifest = next((m for m in (images / "manifest.tsv", images.parent / "manifest.tsv") if m.is_file()), None)
        if manifest is None:
            raise SystemExit(f"--split {split}: no manifest.tsv in {images} or {images.parent}")
        with manifest.open(encoding="utf-8", newline="") as handle:
            rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            ids = [r["id"] for r in rows if r["split"] == split]
    else:
        ids = sorted(p.stem for p in images.glob("*.png"))
    pairs = [(images / f"{i}.png", images / f"{i}.txt") for i in ids]
    pairs = [(png, txt.read_text("utf-8").strip()) for png, txt in pairs if png.is_file() and txt.is_file()]
    return pairs[:limit] if limit > 0 else pairs


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _time(name: str, recognize: Callable[[list[Path]], list[str]], paths: list[Path], note: str = "") -> EngineResult:
    recognize(paths[:2])  # warm-up: sessions, caches, lazy imports
    start = time.perf_counter()
    predictions = recognize(paths)
    return EngineResult(name, [_clean(p) for p in predictions], time.perf_counter() - start, note)


# --- sparkhtr ------------------------------------------------------------------------------------


def _sparkhtr(
    backend: str, model_dir: Path, threads: int, batch_size: int | None, decoder_name: str
) -> tuple[Callable[[list[Path]], list[str]], str]:
    """The engine, and a note saying how it runs (batch size, lines at once)."""
    import torch

    from sparkhtr import Recognizer
    from sparkhtr.inference.onnx_backend import OnnxBackend
    from sparkhtr.model.files import load_model
    from sparkhtr.model.onnx_export import INT8_ONNX_FILE, ONNX_FILE, export_onnx
    from sparkhtr.text.decoders import make_decoder

    torch.set_num_threads(threads)
    decoder = make_decoder(decoder_name, model_dir)
    if backend == "torch":
        # backend named: "auto" would pick the model's int8 graph where its config.json allows it
        recognizer = Recognizer.load(model_dir, decoder=decoder, backend="torch")
    elif backend == "onnx-int8":
        if not (model_dir / INT8_ONNX_FILE).is_file():
            raise ImportError(f"no {INT8_ONNX_FILE} in {model_dir}: make one with `sparkhtr export-onnx --int8`")
        _, config = load_model(model_dir)
        recognizer = Recognizer(OnnxBackend(model_dir / INT8_ONNX_FILE, num_threads=threads), config, decoder=decoder)
    else:
        onnx_path = model_dir / ONNX_FILE
        if not onnx_path.is_file():
            onnx_path = Path(tempfile.mkdtemp(prefix="sparkhtr-peers-")) / ONNX_FILE
            export_onnx(*load_model(model_dir), onnx_path)
        _, config = load_model(model_dir)
        recognizer = Recognizer(OnnxBackend(onnx_path, num_threads=threads), config, decoder=decoder)

    def recognize(paths: list[Path]) -> list[str]:
        return [r.text or "" for r in recognizer.recognize(paths, batch_size=batch_size)]

    size = batch_size or recognizer.backend.preferred_batch_size
    at_once = getattr(recognizer.backend, "lines_at_once", 1)
    note = f"{recognizer.decoder.name} decoding, batch size {size}"
    return recognize, note + (f", {at_once} lines at once, 1 thread each" if at_once > 1 else "")


# --- RapidOCR ------------------------------------------------------------------------------------


def _rapidocr(threads: int) -> Callable[[list[Path]], list[str]]:
    from rapidocr import RapidOCR

    engine = RapidOCR(
        params={
            "Global.use_det": False,
            "Global.use_cls": False,
            "Global.log_level": "warning",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )

    def recognize(paths: list[Path]) -> list[str]:
        texts = []
        for path in paths:
            output = engine(str(path), use_det=False, use_cls=False, use_rec=True)
            texts.append(" ".join(output.txts or ()))
        return texts

    return recognize


# --- Tesseract -----------------------------------------------------------------------------------


def _tessdata() -> str | None:
    if os.environ.get("TESSDATA_PREFIX"):
        return os.environ["TESSDATA_PREFIX"]
    return next((d for d in TESSDATA_DIRS if Path(d).is_dir()), None)


def tesseract_language(requested: str) -> str:
    """``auto``: French data when installed (the Copiste lines are French), else English."""
    if requested != "auto":
        return requested
    tessdata = _tessdata()
    return "fra" if tessdata and (Path(tessdata) / "fra.traineddata").is_file() else "eng"


def _tesserocr(lang: str, retries: list[int]) -> Callable[[list[Path]], list[str]]:
    import tesserocr

    tessdata = _tessdata()
    kwargs = {"path": tessdata + "/"} if tessdata else {}
    line = tesserocr.PyTessBaseAPI(lang=lang, psm=tesserocr.PSM.SINGLE_LINE, oem=tesserocr.OEM.LSTM_ONLY, **kwargs)
    raw = tesserocr.PyTessBaseAPI(lang=lang, psm=tesserocr.PSM.RAW_LINE, oem=tesserocr.OEM.LSTM_ONLY, **kwargs)

    def recognize(paths: list[Path]) -> list[str]:
        texts = []
        retries.clear()
        for index, path in enumerate(paths):
            line.SetImageFile(str(path))
            text = line.GetUTF8Text().strip()
            if not text:
                raw.SetImageFile(str(path))
                text = raw.GetUTF8Text().strip()
                retries.append(index)
            texts.append(text)
        return texts

    return recognize


def _tesseract_cli(lang: str) -> Callable[[list[Path]], list[str]]:
    def recognize(paths: list[Path]) -> list[str]:
        return [
            subprocess.run(
                ["tesseract", str(path), "stdout", "--oem", "1", "--psm", "7", "-l", lang],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for path in paths
        ]

    return recognize


# --- main ----------------------------------------------------------------------------------------


def _model_dir(model: str | None) -> Path:
    from sparkhtr.registry import UnknownModelError, resolve_model

    if model and Path(model).is_dir():
        return Path(model)
    try:
        return resolve_model(model)
    except UnknownModelError as exc:
        raise SystemExit(f"{exc}\nno default model is available yet: pass --model DIR") from exc


def run_engines(args: argparse.Namespace, pairs: list[tuple[Path, str]]) -> list[EngineResult]:
    from sparkhtr.text.metrics import corpus_scores

    paths = [p for p, _ in pairs]
    references = [_clean(t) for _, t in pairs]
    os.environ["OMP_THREAD_LIMIT"] = str(args.threads)  # Tesseract's OpenMP threads
    lang = tesseract_language(args.tesseract_lang)
    results: list[EngineResult] = []
    for name in args.engines:
        try:
            if name.startswith("sparkhtr-"):
                backend = name.split("-", 1)[1]
                model_dir = _model_dir(args.model)
                recognize, note = _sparkhtr(backend, model_dir, args.threads, args.batch_size, args.decoder)
                result = _time(name, recognize, paths, note)
            elif name == "rapidocr":
                result = _time(name, _rapidocr(args.threads), paths, "bundled PP-OCR rec model, det/cls off")
            elif name == "tesseract":
                retries: list[int] = []
                result = _time(name, _tesserocr(lang, retries), paths)
                result.note = f"tesserocr, lang {lang}, psm 7; {len(retries)}/{len(paths)} lines retried in psm 13"
            elif name == "tesseract-cli":
                if shutil.which("tesseract") is None:
                    raise ImportError("the tesseract program is not on PATH")
                result = _time(name, _tesseract_cli(lang), paths, f"CLI, lang {lang}, psm 7, a process per line")
            else:
                raise ValueError(name)
        except ImportError as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
            continue
        result.scores = corpus_scores(zip(references, result.predictions))
        results.append(result)
        cer = 100 * result.scores["cer"]
        print(f"  {name}: {result.lines_per_second:.1f} lines/s, CER {cer:.1f} %", file=sys.stderr)
    return results


def format_table(results: list[EngineResult]) -> str:
    rows = [
        "| engine | CER % | WER % | lines/s | notes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        cer, wer = 100 * r.scores["cer"], 100 * r.scores["wer"]
        rows.append(f"| {r.name} | {cer:.1f} | {wer:.1f} | {r.lines_per_second:.1f} | {r.note} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, metavar="DIR", help="line images <id>.png with <id>.txt (or DIR/lines)")
    parser.add_argument("--split", default=None, help="keep this split of manifest.tsv (e.g. val)")
    parser.add_argument("--limit", type=int, default=0, help="first N lines (0: all)")
    parser.add_argument("--model", default=None, help="sparkhtr model directory or name (default: the bundled one)")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--threads", type=int, default=1, help="threads for every engine (default 1)")
    parser.add_argument("--decoder", choices=["auto", "greedy", "beam"], default="auto", help="sparkhtr's decoder")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="sparkhtr lines per backend call (default: the backend's choice)"
    )
    parser.add_argument("--tesseract-lang", default="auto", help="auto: fra if installed, else eng")
    parser.add_argument("--show", type=int, default=0, help="print the first N lines' texts from every engine")
    args = parser.parse_args(argv)

    pairs = read_lines(args.folder, args.split, args.limit)
    if not pairs:
        raise SystemExit(f"no <id>.png + <id>.txt pairs under {args.folder}")
    results = run_engines(args, pairs)
    characters = sum(len(_clean(t)) for _, t in pairs)
    model = f"; sparkhtr model {_model_dir(args.model)}" if any(n.startswith("sparkhtr") for n in args.engines) else ""
    print(
        f"{len(pairs)} lines ({characters} characters) from {args.folder}"
        f"{f' split {args.split}' if args.split else ''}; {args.threads} thread(s) per engine{model}\n"
    )
    print(format_table(results))
    for index in range(min(args.show, len(pairs))):
        print(f"\n{pairs[index][0].name}\n  {'truth':<15} {_clean(pairs[index][1])}")
        for r in results:
            print(f"  {r.name:<15} {r.predictions[index]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
