"""CPU inference speed of each backend option, in lines per second, on real Copiste val lines.

Why: to choose defaults (backend, precision, batch size, threads) from numbers taken in one run on
one machine, rather than from memory. Options measured:

    torch-fp32     TorchBackend, float32 (the reference: ratios are against it at batch size 1)
    torch-bf16     TorchBackend(precision="bf16"): bf16 autocast, fast on CPUs with native bf16
    torch-cl       float32, model and inputs in channels_last memory format
    torch-bf16-cl  bf16 autocast + channels_last
    onnx-fp32      onnxruntime on the file `sparkhtr export-onnx` writes (OnnxBackend defaults: no spinning)
    onnx-fp32-spin the same with onnxruntime's thread spinning on
    onnx-single    onnxruntime on `export-onnx --single-line`: no padding masks, one line per call
    onnx-int8      onnxruntime on the int8 file `sparkhtr export-onnx --int8` writes, calibrated on 64
                   lines of the data's train split (never the measured lines)
    onnx-int8-single  both: what the bundled model ships as model.int8.onnx. With several threads
                   and batch > 1 it runs that many lines at once, one thread each (the default)
    onnx-int8-single-intra  the same file, one line at a time on all the threads

Images are decoded and resized once, before timing: the timed part is batching, the network and
greedy CTC decoding, which is what differs between options. Image preparation is timed on its own.
Every option runs once untimed first (warm-up). Texts of every option are compared with torch-fp32
(with bf16, a few characters may differ; the count is printed).

    python benchmarks/inference_speed.py --limit 60 --random-model span_small
    python benchmarks/inference_speed.py --model span_small_latin --threads 1 2 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["main", "OPTIONS", "val_lines"]

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "copiste_dun_jour_fr"
OPTIONS = (
    "torch-fp32",
    "torch-bf16",
    "torch-cl",
    "torch-bf16-cl",
    "onnx-fp32",
    "onnx-fp32-spin",
    "onnx-single",
    "onnx-int8",
    "onnx-int8-single",
    "onnx-int8-single-intra",
)


def val_lines(data: Path, split: str, limit: int) -> list[Path]:
    """The split's line images in manifest order (``limit`` > 0 keeps the first ``limit``)."""
    import csv

    with (data / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    paths = [data / "lines" / f"{r['id']}.png" for r in rows if r.get("split") == split]
    paths = [p for p in paths if p.is_file()]
    return paths[:limit] if limit > 0 else paths


def _random_model(arch: str, folder: Path) -> Path:
    import torch

    from sparkhtr.model.config import ModelConfig, PreprocessingConfig, architecture
    from sparkhtr.model.files import build_model, save_model
    from sparkhtr.text.charset import LATIN_CHARSET

    torch.manual_seed(0)
    config = ModelConfig(
        architecture(arch), list(LATIN_CHARSET), PreprocessingConfig(), {"purpose": "benchmark, random weights"}
    )
    return save_model(folder / arch, build_model(config), config)


def _model_dir(args: argparse.Namespace, scratch: Path) -> Path:
    from sparkhtr.registry import UnknownModelError, resolve_model

    if args.random_model:
        return _random_model(args.random_model, scratch)
    if args.model and Path(args.model).is_dir():
        return Path(args.model)
    try:
        return resolve_model(args.model)
    except UnknownModelError as exc:
        raise SystemExit(f"{exc}\n(for a speed test, random weights will do: --random-model span_small)") from exc


@dataclass
class Measurement:
    option: str
    threads: int
    batch_size: int
    seconds: float  # best of the repeats
    lines: int
    text_mismatches: int | None = None
    cer: float | None = None  # against the lines' ground truth (<id>.txt), when every line has one

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds


def _backend(option: str, model_dir: Path, onnx_path: Path, threads: int) -> Callable:
    """``onnx_path`` is the float32 file; the other ONNX variants lie beside it (see ``_export_onnx``)."""
    import torch

    from sparkhtr.inference.backends import TorchBackend
    from sparkhtr.inference.onnx_backend import OnnxBackend
    from sparkhtr.model.files import load_model

    if option.startswith("onnx-fp32"):
        return OnnxBackend(onnx_path, num_threads=threads, spin=option.endswith("-spin"))
    if option.startswith("onnx-"):
        intra = option.endswith("-intra")
        path = onnx_path.with_name(f"{option.removesuffix('-intra')}.onnx")
        return OnnxBackend(path, num_threads=threads, lines_in_parallel=False if intra else None)
    model, _ = load_model(model_dir)
    backend = TorchBackend(model, precision="bf16" if "bf16" in option else "fp32")
    if not option.endswith("-cl"):
        return backend
    backend.model.to(memory_format=torch.channels_last)

    def channels_last(images: torch.Tensor, sizes: torch.Tensor):
        return backend(images.contiguous(memory_format=torch.channels_last), sizes)

    return channels_last


def _export_onnx(model, config, options: list[str], calibration: list[Path]) -> Path:
    """Fresh exports of the model (a model directory's own .onnx may be another variant); returns
    the float32 batched file's path, the others beside it named after their option."""
    from sparkhtr.calibrate.quantize import quantize_onnx
    from sparkhtr.io.image import load_image
    from sparkhtr.model.onnx_export import export_onnx

    folder = Path(tempfile.mkdtemp(prefix="sparkhtr-bench-"))
    float_path, single_path = folder / "model.onnx", folder / "onnx-single.onnx"
    export_onnx(model, config, float_path)
    if any("single" in option for option in options):
        export_onnx(model, config, single_path, single_line=True)
    for option, source in (("onnx-int8", float_path), ("onnx-int8-single", single_path)):
        if any(o.startswith(option) and o.removesuffix("-intra") == option for o in options):
            quantize_onnx(source, folder / f"{option}.onnx", (load_image(p) for p in calibration))
    return float_path


def _run(backend: Callable, prepared: list, batch_size: int, charset_size: int) -> tuple[float, list[list[int]]]:
    from sparkhtr.inference.preprocess import make_batches
    from sparkhtr.text.ctc import greedy_decode

    labels: list[list[int]] = [[] for _ in prepared]
    start = time.perf_counter()
    for batch in make_batches(prepared, batch_size):
        log_probs, frames = backend(batch.images, batch.sizes)
        for row, index in enumerate(batch.indices):
            labels[index] = [c.label for c in greedy_decode(log_probs[row, : frames[row]], charset_size).chars]
    return time.perf_counter() - start, labels


def measure(
    model_dir: Path,
    paths: list[Path],
    options: list[str],
    batch_sizes: list[int],
    threads: list[int],
    repeats: int,
    calibration: list[Path],
) -> tuple[list[Measurement], float]:
    """Every (threads, option, batch size), best of ``repeats``; also image preparation lines/s."""
    import torch

    from sparkhtr.inference.preprocess import prepare_line
    from sparkhtr.io.image import load_image
    from sparkhtr.model.files import load_model
    from sparkhtr.text.metrics import corpus_scores

    model, config = load_model(model_dir)
    truth_files = [p.with_suffix(".txt") for p in paths]
    truths = [t.read_text("utf-8").strip() for t in truth_files] if all(t.is_file() for t in truth_files) else None
    start = time.perf_counter()
    prepared = [prepare_line(load_image(p), config.preprocessing) for p in paths]
    prepare_rate = len(paths) / (time.perf_counter() - start)
    onnx_path = _export_onnx(model, config, options, calibration)

    results: list[Measurement] = []
    reference: dict[int, list[list[int]]] = {}
    for count in threads:
        torch.set_num_threads(count)
        for option in options:
            backend = _backend(option, model_dir, onnx_path, count)
            _run(backend, prepared[: max(batch_sizes)], max(batch_sizes), len(config.charset))  # warm-up
            for batch_size in batch_sizes:
                times, labels = [], []
                for _ in range(repeats):
                    seconds, labels = _run(backend, prepared, batch_size, len(config.charset))
                    times.append(seconds)
                result = Measurement(option, count, batch_size, min(times), len(paths))
                if option == "torch-fp32":
                    reference.setdefault(batch_size, labels)
                if batch_size in reference:
                    result.text_mismatches = sum(a != b for a, b in zip(labels, reference[batch_size]))
                if truths is not None:
                    texts = ["".join(config.charset[i] for i in line) for line in labels]
                    result.cer = corpus_scores(zip(truths, texts))["cer"]
                results.append(result)
                print(
                    f"  threads={count} {option:<14} batch={batch_size:<3} {result.lines_per_second:7.1f} lines/s",
                    file=sys.stderr,
                    flush=True,
                )
    return results, prepare_rate


def format_table(results: list[Measurement]) -> str:
    """Markdown table; ratios against torch-fp32 batch 1 at the same thread count and at 1 thread."""
    smallest = min(r.batch_size for r in results)
    base = {r.threads: r.lines_per_second for r in results if r.option == "torch-fp32" and r.batch_size == smallest}
    single = base[next(iter(base))] if base else None
    lines = [
        "| threads | option | batch | lines/s | x torch-fp32 b1 (same threads) | x torch-fp32 b1 (1st thread count) "
        "| lines whose text differs from torch-fp32 | CER % |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        same = f"{r.lines_per_second / base[r.threads]:.2f}" if r.threads in base else "-"
        first = f"{r.lines_per_second / single:.2f}" if single else "-"
        mismatches = "-" if r.text_mismatches is None else f"{r.text_mismatches}/{r.lines}"
        cer = "-" if r.cer is None else f"{100 * r.cer:.1f}"
        cells = [str(r.threads), r.option, str(r.batch_size), f"{r.lines_per_second:.1f}", same, first, mismatches, cer]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="folder with manifest.tsv and lines/")
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=60, help="lines to use (0: the whole split)")
    parser.add_argument("--model", default=None, help="model directory or name (default: the bundled default)")
    parser.add_argument("--random-model", metavar="ARCH", help="use random weights of this architecture instead")
    parser.add_argument("--options", nargs="+", choices=OPTIONS, default=list(OPTIONS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8, 16])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=1, help="timed passes per cell; the best counts")
    args = parser.parse_args(argv)
    if "torch-fp32" not in args.options:
        args.options.insert(0, "torch-fp32")  # the reference for ratios and texts

    paths = val_lines(args.data, args.split, args.limit)
    if not paths:
        raise SystemExit(f"no {args.split} lines under {args.data}")
    train = val_lines(args.data, "train", 0)
    calibration = train[:: max(1, len(train) // 64)][:64]
    if any("int8" in o for o in args.options) and not calibration:
        raise SystemExit(f"onnx-int8 calibrates on the train split of {args.data}, and it has none")
    with tempfile.TemporaryDirectory(prefix="sparkhtr-bench-") as scratch:
        model_dir = _model_dir(args, Path(scratch))
        results, prepare_rate = measure(
            model_dir, paths, args.options, sorted(args.batch_sizes), args.threads, args.repeats, calibration
        )
    import onnxruntime
    import torch
    from PIL import Image

    widths = statistics.mean(Image.open(p).width for p in paths)
    print(
        f"model: {args.random_model + ' (random weights)' if args.random_model else model_dir}; "
        f"{len(paths)} {args.split} lines from {args.data.name} (mean width {widths:.0f} px); "
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; {os.cpu_count()} CPUs; "
        f"best of {args.repeats}"
    )
    print(f"image decode + resize + normalise: {prepare_rate:.0f} lines/s (1 thread, not included below)\n")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
