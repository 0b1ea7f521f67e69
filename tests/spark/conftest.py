"""One real local Spark session for the whole test run, a small random-weight model and real line images.

Why one session: a JVM takes seconds to start, so every Spark test shares it. It binds to loopback
only (SPARK_LOCAL_IP must be set before the JVM starts) and runs its Python workers with this
interpreter, where sparkhtr is installed. The model has random weights: the tests check plumbing
against ``Recognizer.recognize`` on the same images, never a hard-coded text.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image

from sparkhtr.model.config import ModelConfig, PreprocessingConfig, architecture
from sparkhtr.model.files import build_model, save_model

try:
    from pyspark.sql import SparkSession
except ImportError:  # the `spark` extra is not installed: these tests cannot run
    collect_ignore_glob = ["test_*.py"]

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# Every JVM these tests start (the session's, spark-submit's, a standalone cluster's daemons and
# executors: all inherit this) lives seconds to minutes and does little work, so most of its CPU
# went to the optimizing JIT and the parallel collector: with the C1 compiler alone and the serial
# collector, starting a local session and running a few small jobs took 12 CPU seconds instead of
# 21, and 31 s instead of 54 on a busy 2-core machine. The tests check results, not JVM speed; a
# value the user set wins.
os.environ.setdefault("JDK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1")
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable

# tests/conftest.py has set SPARKHTR_SHARED to the data folder this run reads (../shared or the fixtures).
LINES = Path(os.environ.get("SPARKHTR_SHARED", "../shared")) / "data" / "copiste_dun_jour_fr" / "lines"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHARSET = list(" '-.,:;!?0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéèêàçù")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The shared local[2] session, on loopback, without the web UI."""
    session = (
        SparkSession.builder.master("local[2]")
        .appName("sparkhtr-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A span_quarter model with random (seeded) weights, saved as a model directory."""
    torch.manual_seed(0)
    config = ModelConfig(architecture("span_quarter"), CHARSET, PreprocessingConfig(), {"purpose": "spark tests"})
    model = build_model(config).eval()
    return save_model(tmp_path_factory.mktemp("model") / "span_quarter_random", model, config)


def _source_lines(count: int) -> list[Path]:
    manifest = LINES.parent / "manifest.tsv"
    if manifest.is_file():
        rows = [line.split("\t") for line in manifest.read_text("utf-8").splitlines()[1:]]
        ids = [row[0] for row in rows if len(row) > 5 and row[5] == "val"]
        paths = [LINES / f"{i}.png" for i in ids if (LINES / f"{i}.png").is_file()]
        if len(paths) >= count:
            step = len(paths) // count  # spread over the split: printed and handwritten, short and long
            return paths[::step][:count]
    paths = sorted(EXAMPLES.glob("*.png"))
    if not paths:
        pytest.skip("no line images: neither the Copiste data nor examples/ are here")
    return (paths * count)[:count]


@pytest.fixture(scope="session")
def line_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six real line images copied into a folder of their own."""
    folder = tmp_path_factory.mktemp("lines")
    for i, path in enumerate(_source_lines(6)):
        shutil.copy(path, folder / f"line_{i}_{path.name}")
    return folder


def write_bad_files(folder: Path, good_line: Path) -> dict[str, str]:
    """Files that must each give an error row, by name -> a word the error message must contain."""
    data = good_line.read_bytes()
    (folder / "corrupt.png").write_bytes(data[: len(data) // 2])
    (folder / "notes.png").write_text("this is not an image\n", "utf-8")
    # 9000 x 6000 = 54 MP, over the 50 MP default; 1-bit, so it is tiny on disk and quick to write.
    Image.new("1", (9000, 6000), 1).save(folder / "huge.png")
    return {"corrupt.png": "decode", "notes.png": "not a readable image", "huge.png": "pixel limit"}


@pytest.fixture(scope="session")
def mixed_dir(tmp_path_factory: pytest.TempPathFactory, line_dir: Path) -> tuple[Path, dict[str, str]]:
    """The real lines plus a corrupt, a non-image and an oversized file."""
    folder = tmp_path_factory.mktemp("mixed")
    for path in sorted(line_dir.iterdir()):
        shutil.copy(path, folder / path.name)
    bad = write_bad_files(folder, sorted(line_dir.iterdir())[0])
    return folder, bad


@pytest.fixture(scope="session")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], dict[str, str]]:
    """The bundled examples' real lines (which the bundled model reads) plus the three bad files:
    (folder, the good files' originals, bad file name -> a word its error must contain)."""
    folder = tmp_path_factory.mktemp("examples")
    good = sorted(EXAMPLES.glob("*.png"))
    if not good:
        pytest.skip("examples/ has no line images")
    for path in good:
        shutil.copy(path, folder / path.name)
    return folder, good, write_bad_files(folder, good[0])
