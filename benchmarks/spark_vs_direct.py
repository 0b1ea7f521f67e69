"""Lines per second through the Spark pipeline against ``Recognizer.recognize`` on the same line images.

Why: the Spark stages should cost little over the Python API (target: Spark at least 0.9 of
direct, issue #18). Both sides get the same files and the same model. Each side first reads all
the lines once (printed as the cold run: Python workers start, every worker loads the model and
its LM), then reads them ``--repeats`` more times; the median of those compares steady-state
throughput, which is what a long job sees. The texts are compared so that a fast but wrong
pipeline does not pass.

    python benchmarks/spark_vs_direct.py --limit 60 --random-model span_small
    python benchmarks/spark_vs_direct.py --model span_small_latin          # the full val split (503 lines)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
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


def _timed(run: Callable[[], dict[str, str | None]], repeats: int) -> tuple[float, list[float], dict[str, str | None]]:
    """The cold run's seconds, the ``repeats`` warm runs' seconds, and the last run's texts."""
    seconds: list[float] = []
    texts: dict[str, str | None] = {}
    for _ in range(1 + repeats):
        start = time.perf_counter()
        texts = run()
        seconds.append(time.perf_counter() - start)
    return seconds[0], seconds[1:], texts


def _direct(
    model_dir: Path, paths: list[Path], batch_size: int, threads: int, repeats: int
) -> tuple[float, list[float], dict[str, str | None]]:
    import torch

    from sparkhtr import Recognizer

    if threads > 0:
        torch.set_num_threads(threads)

    start = time.perf_counter()
    recognizer = Recognizer.load(model_dir)  # the cold run counts the load, as Spark's first run does
    load = time.perf_counter() - start

    def run() -> dict[str, str | None]:
        results = recognizer.recognize(paths, batch_size=batch_size, on_error="return")
        return {p.name: r.text for p, r in zip(paths, results, strict=True)}

    cold, warm, texts = _timed(run, repeats)
    return load + cold, warm, texts


def _spark(
    model_dir: Path, paths: list[Path], batch_size: int, master: str, scratch: Path, repeats: int, conf: list[str]
) -> tuple[float, list[float], dict[str, str | None]]:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer

    builder = (
        SparkSession.builder.master(master)
        .appName("sparkhtr-benchmark")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    for setting in conf:
        key, _, value = setting.partition("=")
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
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

        def run() -> dict[str, str | None]:
            df = spark.read.format("binaryFile").load(str(folder))
            rows = pipeline.transform(df).select("path", "handwritten_text").collect()
            return {r.path.rsplit("/", 1)[-1]: r.handwritten_text for r in rows}

        result = _timed(run, repeats)
        partitions = spark.read.format("binaryFile").load(str(folder)).rdd.getNumPartitions()
        print(f"Spark read the files in {partitions} partitions ({' '.join(conf) or 'default settings'})")
        return result
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
    parser.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE",
        help="a Spark setting, repeatable (e.g. spark.sql.files.openCostInBytes=65536: fewer, larger tasks)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="warm runs per side after the cold one (median)")
    args = parser.parse_args(argv)

    if args.repeats < 1:
        parser.error("--repeats must be at least 1 (the warm runs that are compared)")
    for setting in args.conf:
        if "=" not in setting or not setting.partition("=")[0]:
            parser.error(f"--conf {setting!r}: expected KEY=VALUE")
    paths = val_lines(args.data, args.split, args.limit)
    if not paths:
        parser.error(f"no {args.split} lines under {args.data}")
    with tempfile.TemporaryDirectory(prefix="sparkhtr-bench-") as scratch:
        model_dir = _model_dir(args, Path(scratch))
        spark_cold, spark_warm, spark_texts = _spark(
            model_dir, paths, args.batch_size, args.master, Path(scratch), args.repeats, args.conf
        )
        direct_cold, direct_warm, direct_texts = _direct(
            model_dir, paths, args.batch_size, args.direct_threads, args.repeats
        )

    import torch

    n = len(paths)
    differ = sum(spark_texts.get(name) != text for name, text in direct_texts.items())
    direct_s, spark_s = statistics.median(direct_warm), statistics.median(spark_warm)
    print(f"model: {model_dir.name}   lines: {n}   batch size: {args.batch_size}   warm runs: {args.repeats}")
    print(f"{'run':<36} {'cold s':>8} {'warm s':>8} {'lines/s':>8}   warm runs (s)")
    for label, cold, warm, median in [
        (f"Recognizer.recognize ({torch.get_num_threads()} threads)", direct_cold, direct_warm, direct_s),
        (f"Spark pipeline ({args.master})", spark_cold, spark_warm, spark_s),
    ]:
        runs = " ".join(f"{s:.2f}" for s in warm)
        print(f"{label:<36} {cold:>8.2f} {median:>8.2f} {n / median:>8.2f}   {runs}")
    print(f"ratio Spark / direct (warm medians): {direct_s / spark_s:.3f}   (target >= 0.9)")
    print(f"ratio Spark / direct (cold runs):    {direct_cold / spark_cold:.3f}")
    print(f"texts that differ: {differ} of {n}")
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
