"""What an install costs: its size on disk, its import time, and the memory of a worker that has read
100 lines, for the torch install (``sparkhtr[torch]``) and the ONNX one (``sparkhtr[onnx]``, no torch).

    nice python benchmarks/footprint.py --make          # builds both venvs under /tmp from HEAD, then measures
    nice python benchmarks/footprint.py                 # measures the venvs already made
    nice python benchmarks/footprint.py --make --spark  # and Spark rows in an ONNX-only venv (+ pyspark)

``--make`` installs a copy of the committed tree (``git archive HEAD``), not the editable checkout:
``/tmp/sparkhtr-footprint/torch`` gets ``torch==2.13.0`` first and pinned (the CPU wheel), then
``sparkhtr[torch]``; ``/tmp/sparkhtr-footprint/onnx`` gets ``sparkhtr[onnx]`` alone, and is checked to
hold no torch. Each measurement runs in a fresh process of that venv, as a Spark Python worker would:
one compute thread (``OMP_NUM_THREADS=1``), the bundled model with its defaults (``backend="auto"``,
beam search with its LM), 100 Copiste val lines read one after the other. Times are the median of
``--repeats`` runs; memory is the process's resident set (VmRSS) after the 100 lines and its peak
(VmHWM), from /proc (Linux). Install size is the venv's site-packages less pip and setuptools.

One run (2 busy cores shared with a training job, Python 3.11, torch 2.13.0 CPU, the bundled model
without a "backends" record, so the ONNX install reads its int8 graph because torch is missing):

    install   size MB  import s  load s 1st line s  lines/s  RSS MB  peak MB
    torch         979      0.11    1.58       8.40     11.9     706      706   torch fp32, beam + LM
    onnx          204      0.11    0.75       3.26     30.6     450      450   model.int8.onnx, beam + LM

torch itself is 751 MB of the first; onnxruntime 80 MB of the second. "import s" is
``from sparkhtr import Recognizer`` (no backend loaded yet); "load s" builds the recognizer (the
backend's import, the weights, the LM); "1st line s" includes the compiled beam search's first
use of the LM tables.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOT = Path("/tmp/sparkhtr-footprint")
COPISTE = Path(os.environ.get("SPARKHTR_SHARED", REPO.parent / "shared")) / "data" / "copiste_dun_jour_fr"
BARE = {"pip", "setuptools", "_distutils_hack", "pkg_resources", "wheel", "distutils-precedence.pth"}

# Runs inside the measured venv: prints one JSON object.
WORKER = r"""
import json, sys, time
started = time.perf_counter()
from sparkhtr import Recognizer
imported = time.perf_counter()
recognizer = Recognizer.pretrained(num_threads=1)
loaded = time.perf_counter()
paths = json.loads(sys.argv[1])
results = recognizer.recognize_iter(paths)
first = next(results)
first_at = time.perf_counter()
texts = [first.text] + [r.text for r in results]
done = time.perf_counter()
status = dict(line.split(":", 1) for line in open("/proc/self/status") if line.startswith(("VmRSS", "VmHWM")))
print(json.dumps({
    "import_s": imported - started, "load_s": loaded - imported, "first_line_s": first_at - loaded,
    "read_s": done - loaded, "lines": len(texts), "empty": sum(not t for t in texts),
    "rss_mb": int(status["VmRSS"].split()[0]) / 1024, "peak_mb": int(status["VmHWM"].split()[0]) / 1024,
    "backend": recognizer.describe(), "torch": "torch" in sys.modules, "onnxruntime": "onnxruntime" in sys.modules,
}))
"""


def _pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args], check=True)


def make_venvs(root: Path) -> None:
    """Both venvs, from a copy of HEAD (so the editable checkout's build files stay out of it)."""
    source = root / "src"
    shutil.rmtree(root, ignore_errors=True)
    source.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    for kind in ("torch", "onnx"):
        venv = root / kind
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        if kind == "torch":
            _pip(venv, "torch==2.13.0")  # first and pinned: the CPU wheel, never a CUDA build
        _pip(venv, f"{source}[{kind}]")
    check = [str(root / "onnx" / "bin" / "python"), "-c", "import importlib.util as u; print(u.find_spec('torch'))"]
    if subprocess.run(check, capture_output=True, text=True, check=True).stdout.strip() != "None":
        raise SystemExit("the ONNX venv holds torch: something it installed depends on it")


# Runs inside the onnx-spark venv: the README pipeline on examples/, compared with the Python API.
SPARK_JOB = r"""
import json, sys
from pyspark.sql import SparkSession
from sparkhtr import Recognizer
from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
df = spark.read.format("binaryFile").load(sys.argv[1])
images = BinaryToImage().setInputCol("content").setOutputCol("image").transform(df)
stage = ImageHandwrittenTextRecognizer.pretrained().setInputCol("image").setOutputCol("text")
rows = stage.transform(images).select("path", "text", "handwritten_text_error").collect()
direct = Recognizer.pretrained(num_threads=1)
same = sum(r.text == direct.recognize(r.path.removeprefix("file:")).text for r in rows)
errors = [r.handwritten_text_error for r in rows if r.handwritten_text_error]
print(json.dumps({"rows": len(rows), "same": same, "errors": errors, "torch": "torch" in sys.modules}))
spark.stop()
"""


def spark_rows(root: Path, make: bool) -> None:
    """Spark rows read in a venv with sparkhtr[onnx,spark] and no torch (needs Java 17)."""
    venv = root / "onnx-spark"
    if make:
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        _pip(venv, f"{root / 'src'}[onnx,spark]")
    python = str(venv / "bin" / "python")
    env = {**os.environ, "PYSPARK_PYTHON": python, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as scratch:
        out = subprocess.run(
            [python, "-c", SPARK_JOB, str(REPO / "examples" / "*.png")],
            capture_output=True, text=True, check=True, cwd=scratch, env=env,
        ).stdout
    found = json.loads(out.strip().splitlines()[-1])
    has_torch = subprocess.run([python, "-c", "import importlib.util as u; print(u.find_spec('torch') is not None)"],
                               capture_output=True, text=True, check=True).stdout.strip()
    print(f"spark (onnx install, torch installed: {has_torch}): {found['rows']} rows, {found['same']} as the Python "
          f"API reads them, {len(found['errors'])} errors")


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def install_size(venv: Path) -> tuple[int, list[tuple[str, int]]]:
    """Bytes of site-packages less a bare venv's, and the five biggest entries."""
    sizes = {
        p.name: _size(p) for p in site_packages(venv).iterdir()
        if p.name not in BARE and not p.name.startswith(("pip-", "setuptools-", "wheel-")) and p.name != "__pycache__"
    }
    biggest = sorted(((n, s) for n, s in sizes.items() if not n.endswith(".dist-info")), key=lambda x: -x[1])[:5]
    return sum(sizes.values()), biggest


def val_lines(count: int) -> list[str]:
    with (COPISTE / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if r["split"] == "val"]
    if len(rows) < count:
        raise SystemExit(f"{COPISTE}: {len(rows)} val lines, {count} asked for")
    return [str(COPISTE / "lines" / f"{r['id']}.png") for r in rows[:count]]


def measure(venv: Path, lines: list[str], repeats: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = []
    with tempfile.TemporaryDirectory() as scratch:  # away from the checkout, whose sparkhtr/ would shadow the install
        for _ in range(repeats):
            out = subprocess.run(
                [str(venv / "bin" / "python"), "-c", WORKER, json.dumps(lines)],
                capture_output=True, text=True, check=True, cwd=scratch, env=env,
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
    summary = {key: statistics.median(run[key] for run in runs) for key in runs[0] if isinstance(runs[0][key], float)}
    return {**runs[-1], **summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--make", action="store_true", help="build both venvs first (minutes)")
    parser.add_argument("--root", type=Path, default=ROOT, help=f"where the venvs are (default {ROOT})")
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--spark", action="store_true", help="also read Spark rows in an ONNX-only venv with pyspark")
    args = parser.parse_args()
    if args.make:
        make_venvs(args.root)
    if args.spark:
        spark_rows(args.root, args.make)
    lines = val_lines(args.lines)
    print(f"{args.lines} Copiste val lines, one thread, the bundled model with its defaults; median of {args.repeats}")
    header = f"{'install':8} {'size MB':>8} {'import s':>9} {'load s':>7} {'1st line s':>10} {'lines/s':>8}"
    print(f"{header} {'RSS MB':>7} {'peak MB':>8}  backend")
    for kind in ("torch", "onnx"):
        venv = args.root / kind
        size, biggest = install_size(venv)
        m = measure(venv, lines, args.repeats)
        loaded = [name for name in ("torch", "onnxruntime") if m[name]]
        print(
            f"{kind:8} {size / 1e6:8.0f} {m['import_s']:9.2f} {m['load_s']:7.2f} {m['first_line_s']:10.2f} "
            f"{m['lines'] / m['read_s']:8.1f} {m['rss_mb']:7.0f} {m['peak_mb']:8.0f}  {m['backend']} "
            f"(loaded: {', '.join(loaded)}; {m['empty']} empty texts)"
        )
        print(f"{'':8} biggest: " + ", ".join(f"{name} {s / 1e6:.0f} MB" for name, s in biggest))


if __name__ == "__main__":
    main()
