"""Lines per second through the Spark pipeline against ``Recognizer.recognize`` on the same line images.

Why: the Spark stages should cost little over the Python API (target: Spark at least 0.85 of
direct). Both sides get the same files and the same model; each is warmed up first (Python
workers started, model loaded), so the timings compare steady-state throughput, and the texts
are compared so a fast but wrong pipeline does not pass.

    python benchmarks/spark_vs_direct.py --limit 60 --random-model span_small
    python benchmarks/spark_vs_direct.py --model span_small_latin          # the full val split (503 lines)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main", "val_lines"]

DATA = Path("/work/shared/data/copiste_dun_jour_fr")


def val_lines(data: Path, split: str, limit: int) -> list[Path]:
    """The split's line images in manifest order (``limit`` > 0 keeps the first ``limit``)."""
    rows = [line.split("\t") for line in (data / "manifest.tsv").read_text("utf-8").splitlines()[1:]]
    paths = [data / "lines" / f"{row[0]}.png" for row in rows if len(row) > 5 and row[5] == split]
    paths = [p for p in paths if p.is_file()]
    return paths[:limit] if limit > 0 else paths


def _random_model(arch: str, folder: Path) -> Path:
    import torch

    from sparkhtr.model.config import ModelConfig, PreprocessingConfig, architecture
    from sparkhtr.model.files import build_model, save_model

    torch.manual_seed(0)
    charset = list(" '-.,:;!?0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéèêàçù")
    config = ModelConfig(architecture(arch), charset, PreprocessingConfig(), {"purpose": "benchmark, random weights"})
    return save_model(folder / arch, build_model(config).eval(), config)


def _model_dir(args: argparse.Namespace, scratch: Path) -> Path:
    from sparkhtr.registry import resolve_model

    if args.random_model:
        return _random_model(args.random_model, scratch)
    if args.model and Path(args.model).is_dir():
        return Path(args.model)
    return resolve_model(args.model)


def _direct(model_dir: Path, paths: list[Path], batch_size: int, threads: int) -> tuple[float, dict[str, str | None]]:
    import torch

    from sparkhtr import Recognizer

    if threads > 0:
        torch.set_num_threads(threads)
    recognizer = Recognizer.load(model_dir)
    recognizer.recognize(paths[: min(8, len(paths))], batch_size=batch_size, on_error="return")  # warm-up
    start = time.perf_counter()
    results = recognizer.recognize(paths, batch_size=batch_size, on_error="return")
    seconds = time.perf_counter() - start
    return seconds, {p.name: r.text for p, r in zip(paths, results, strict=True)}


def _spark(
    model_dir: Path, paths: list[Path], batch_size: int, master: str, scratch: Path
) -> tuple[float, dict[str, str | None]]:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer

    spark = (
        SparkSession.builder.master(master)
        .appName("sparkhtr-benchmark")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        pipeline = PipelineModel(
            stages=[
                BinaryToImage().setInputCol("content").setOutputCol("image"),
                ImageHandwrittenTextRecognizer(modelPath=str(model_dir), batchSize=batch_size)
                .setInputCol("image")
                .setOutputCol("handwritten_text"),
            ]
        )
        # One folder, as users load it (a list of hundreds of paths would add a file-listing job).
        folder = scratch / "lines"
        folder.mkdir()
        for path in paths:
            shutil.copyfile(path, folder / path.name)
        parallelism = spark.sparkContext.defaultParallelism
        warm = spark.read.format("binaryFile").load([str(p) for p in paths[: 4 * parallelism]])
        pipeline.transform(warm.repartition(parallelism)).select("handwritten_text").collect()  # start workers
        start = time.perf_counter()
        df = spark.read.format("binaryFile").load(str(folder))
        rows = pipeline.transform(df).select("path", "handwritten_text").collect()
        seconds = time.perf_counter() - start
        return seconds, {r.path.rsplit("/", 1)[-1]: r.handwritten_text for r in rows}
    finally:
        spark.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with manifest.tsv and lines/")
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=0, help="first N lines of the split (0: all)")
    parser.add_argument("--model", default=None, help="model directory or registered name (default model if unset)")
    parser.add_argument("--random-model", metavar="ARCH", help="use random weights of this architecture instead")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--direct-threads", type=int, default=0, help="torch threads for the direct run (0: torch's)")
    args = parser.parse_args(argv)

    paths = val_lines(args.data, args.split, args.limit)
    if not paths:
        parser.error(f"no {args.split} lines under {args.data}")
    with tempfile.TemporaryDirectory(prefix="sparkhtr-bench-") as scratch:
        model_dir = _model_dir(args, Path(scratch))
        spark_s, spark_texts = _spark(model_dir, paths, args.batch_size, args.master, Path(scratch))
        direct_s, direct_texts = _direct(model_dir, paths, args.batch_size, args.direct_threads)

    import torch

    n = len(paths)
    differ = sum(spark_texts.get(name) != text for name, text in direct_texts.items())
    print(f"model: {model_dir.name}   lines: {n}   batch size: {args.batch_size}")
    print(f"{'run':<36} {'seconds':>8} {'lines/s':>8}")
    for label, seconds in [
        (f"Recognizer.recognize ({torch.get_num_threads()} threads)", direct_s),
        (f"Spark pipeline ({args.master})", spark_s),
    ]:
        print(f"{label:<36} {seconds:>8.2f} {n / seconds:>8.2f}")
    print(f"ratio Spark / direct: {direct_s / spark_s:.3f}   (target >= 0.85)")
    print(f"texts that differ: {differ} of {n}")
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
