"""Int8 quantization recipes compared on the same dev lines as the float model they come from.

    nice python benchmarks/int8_recipes.py --recipes shipped all64 all256 --sample 600
    nice python benchmarks/int8_recipes.py --recipes all256 --sample 0     # every dev line
    nice python benchmarks/int8_recipes.py --speed 300 --graph MODEL_DIR/model.int8.onnx   # lines/s vs torch

For each recipe (``RECIPES`` below: which collections' train lines calibrate it, how many, and a
``sparkhtr.calibrate.quantize.QuantRecipe``), the model's single-line float graph is quantized into
``--out``/<recipe>.onnx (kept: a rerun reads the file again instead of quantizing), then read on a
fixed sample of the dev lines of the four training collections (``--sample`` lines at evenly spaced
positions of their concatenation, the same for every recipe and for the float model) with the
model's default decoder (beam search + its LM). The float model (torch, its safetensors weights)
reads the same lines in the same run; the table gives each graph's CER, its gap to the float model
in CER points (``backend="auto"`` uses a graph within 0.3) and how many texts differ from it.
Results are cached in ``--out``/results.json by recipe, model and sample, so adding a recipe reads
only its lines. One compute thread each, so recipes and float are timed alike (lines/s, noisy on a
shared machine: compare within a run). The held-out test collection is never read here.

``--speed N`` instead times ``Recognizer.recognize`` on N dev lines (decoded to PIL images first, so
file reading is left out) with torch fp32 and with ``--graph``, for the default decoder and for
greedy, at 1 and 2 threads: the options take turns, ``--rounds`` times, and each one's best round
counts, so a burst of load on a shared machine hits every option alike.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from sparkhtr.calibrate.quantize import QuantRecipe, calibration_samples, quantize_onnx
from sparkhtr.data.datasets import open_dataset
from sparkhtr.inference.recognizer import Recognizer
from sparkhtr.registry import model_dir as resolve_model_dir
from sparkhtr.text.decoders import make_decoder
from sparkhtr.train.evaluate import evaluate

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPARKHTR_SHARED", REPO.parent / "shared")) / "data"
FOUR = ("copiste_dun_jour_fr", "cremma_mss19_fr", "htromance_modern_fr", "timeus_fr")
COPISTE = ("copiste_dun_jour_fr",)
LAST_BLOCK = "/blocks.3/"  # the last depthwise-separable block, just before the pooling and the head
DSC = "/blocks."  # the four depthwise-separable blocks (not the init blocks): 3 % of the float graph's time
FLOAT_ENDS = ("first", "last")

# name: (collections calibrated on, calibration lines, recipe). Every setting is spelled out (MINMAX:
# the recipe before this comparison), so a later change of the defaults leaves these rows as measured.
MINMAX = QuantRecipe(method="minmax", exclude=FLOAT_ENDS)
PCT9999 = QuantRecipe(method="percentile", percentile=99.99, exclude=FLOAT_ENDS)
RECIPES: dict[str, tuple[tuple[str, ...], int, QuantRecipe]] = {
    "bundled": (COPISTE, 64, MINMAX),  # not made here: the model directory's own model.int8.onnx
    "shipped": (COPISTE, 64, MINMAX),  # how the stage-11 model.int8.onnx was made
    "all64": (FOUR, 64, MINMAX),
    "all256": (FOUR, 256, MINMAX),
    "all512": (FOUR, 512, MINMAX),
    "all256_pct99999": (FOUR, 256, replace(PCT9999, percentile=99.999)),
    "all256_pct9999": (FOUR, 256, PCT9999),
    "all256_pct999": (FOUR, 256, replace(PCT9999, percentile=99.9)),
    "all256_entropy": (FOUR, 256, replace(MINMAX, method="entropy")),
    "all256_qop": (FOUR, 256, replace(MINMAX, quant_format="qoperator")),
    "all256_tensor": (FOUR, 256, replace(MINMAX, per_channel=False)),
    "all256_noadd": (FOUR, 256, replace(MINMAX, op_types=("Conv", "Relu"))),
    "all256_convonly": (FOUR, 256, replace(MINMAX, op_types=("Conv",))),
    "all256_lastblock": (FOUR, 256, replace(MINMAX, exclude=(*FLOAT_ENDS, LAST_BLOCK))),
    "all256_reduce": (FOUR, 256, replace(MINMAX, reduce_range=True)),
    "all64_dscfloat": (FOUR, 64, replace(MINMAX, exclude=(*FLOAT_ENDS, DSC))),
    "all128_pct9999_dscfloat": (FOUR, 128, replace(PCT9999, exclude=(*FLOAT_ENDS, DSC))),
    "all256_pct9999_dscfloat": (FOUR, 256, replace(PCT9999, exclude=(*FLOAT_ENDS, DSC))),  # the default now
    "all128_entropy_dscfloat": (FOUR, 128, QuantRecipe(method="entropy", exclude=(*FLOAT_ENDS, DSC))),
}


def dev_sample(count: int, splits: str) -> list:
    """``count`` dev lines at evenly spaced positions of the four collections' dev lines (all when 0)."""
    lines = [s for name in FOUR for s in open_dataset(str(SHARED / name), split="dev", splits=splits)]
    if count <= 0 or count >= len(lines):
        return lines
    return [lines[i] for i in np.linspace(0, len(lines), num=count, endpoint=False).astype(int)]


def _file_key(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12]


def read_lines(recognizer: Recognizer, samples: list) -> dict:
    started = time.perf_counter()
    result = evaluate(recognizer, samples, progress=True)
    seconds = time.perf_counter() - started
    return {
        "cer": 100 * result.summary["cer"], "wer": 100 * result.summary["wer"], "lines": result.summary["lines"],
        "lines_per_s": result.summary["lines"] / seconds, "texts": [line["prediction"] for line in result.lines],
    }


def speed(args: argparse.Namespace, model_dir: Path) -> None:
    samples = dev_sample(args.speed, args.splits)
    images = [s.image() for s in samples]
    decoders = {"default": make_decoder("auto", model_dir), "greedy": make_decoder("greedy")}
    options = {}
    for threads in (1, 2):
        for name, decoder in decoders.items():
            options[(threads, name, "torch fp32")] = Recognizer.load(
                model_dir, backend="torch", num_threads=threads, decoder=decoder)
            options[(threads, name, "int8")] = Recognizer.load(
                args.graph, backend="onnx", num_threads=threads, decoder=decoder)
    for recognizer in options.values():  # warm-up: LM tables, sessions, torch's first calls
        recognizer.recognize(images[:4])
    best: dict[tuple, float] = {}
    for round_ in tqdm(range(args.rounds), desc="rounds"):
        keys = list(options) if round_ % 2 == 0 else list(reversed(options))
        for key in keys:
            started = time.perf_counter()
            options[key].recognize(images)
            best[key] = min(best.get(key, float("inf")), time.perf_counter() - started)
    print(f"{len(images)} dev lines, best of {args.rounds} rounds; graph {args.graph}")
    print("| threads | decoder | torch fp32 lines/s | int8 lines/s | int8 / torch |")
    print("| --- | --- | --- | --- | --- |")
    for threads in (1, 2):
        for name in decoders:
            torch_rate = len(images) / best[(threads, name, "torch fp32")]
            int8_rate = len(images) / best[(threads, name, "int8")]
            print(f"| {threads} | {name} | {torch_rate:.1f} | {int8_rate:.1f} | {int8_rate / torch_rate:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="span_small_latin")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--sample", type=int, default=600, help="dev lines read (0: every dev line)")
    parser.add_argument("--splits", default=str(REPO / "configs" / "splits"))
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "int8")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--speed", type=int, default=0, metavar="N", help="time N dev lines instead (see above)")
    parser.add_argument("--graph", type=Path, help="with --speed: the int8 graph to time against torch fp32")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from sparkhtr.model.files import load_model
    from sparkhtr.model.onnx_export import DEFAULT_OPSET, export_onnx

    model_dir = resolve_model_dir(args.model)
    if args.speed:
        return speed(args, model_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    float_graph = args.out / "float_single.onnx"
    if not float_graph.is_file():
        model, config = load_model(model_dir)
        export_onnx(model, config, float_graph, DEFAULT_OPSET, True, single_line=True)
    samples = dev_sample(args.sample, args.splits)
    sample_key = hashlib.sha1("\n".join(s.id for s in samples).encode()).hexdigest()[:12]
    model_key = _file_key(model_dir / "model.safetensors")
    cache_path = args.out / "results.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    decoder = make_decoder("auto", model_dir)  # one LM in memory for every graph

    def cached(name: str, file_key: str, make) -> dict:
        key = f"{name}|{model_key}|{file_key}|{sample_key}"
        if key not in cache:
            cache[key] = make()
            cache_path.write_text(json.dumps(cache))
        return cache[key]

    print(f"{len(samples)} dev lines ({sample_key}), model {model_dir} ({model_key}), {args.threads} thread(s)")
    reference = cached("float-torch", "weights", lambda: read_lines(
        Recognizer.load(model_dir, backend="torch", num_threads=args.threads, decoder=decoder), samples))
    rows = [("float (torch)", reference)]
    for name in args.recipes:
        collections, count, recipe = RECIPES[name]
        graph = model_dir / "model.int8.onnx" if name == "bundled" else args.out / f"{name}.onnx"
        if not graph.is_file():
            chosen = calibration_samples([str(SHARED / c) for c in collections], count, "train", args.splits)
            started = time.perf_counter()
            report = quantize_onnx(float_graph, graph, (s.image() for s in chosen), recipe)
            print(f"{name}: quantized in {time.perf_counter() - started:.0f} s on {report.calibration_lines} lines, "
                  f"{report.changed_texts} greedy texts changed")
        rows.append((name, cached(name, _file_key(graph), lambda graph=graph: read_lines(
            Recognizer.load(graph, backend="onnx", num_threads=args.threads, decoder=decoder), samples))))
    print("| graph | CER % | gap (points) | WER % | texts differing | lines/s | x torch |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, found in rows:
        differ = sum(a != b for a, b in zip(found["texts"], reference["texts"]))
        print(f"| {name} | {found['cer']:.2f} | {found['cer'] - reference['cer']:+.2f} | {found['wer']:.2f} | "
              f"{differ}/{found['lines']} | {found['lines_per_s']:.1f} | "
              f"{found['lines_per_s'] / reference['lines_per_s']:.2f} |")


if __name__ == "__main__":
    main()
