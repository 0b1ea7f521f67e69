"""Memory and scaling: the CLI on a folder of thousands of lines, time per line against line width,
and the memory of a Spark Python worker.

    nice python benchmarks/scaling.py cli --lines 1000 10000 --backend onnx --decoder greedy
    nice python benchmarks/scaling.py widths --widths 256 512 1024 2048 4096
    nice python benchmarks/scaling.py spark --lines 200
    ONEDNN_PRIMITIVE_CACHE_CAPACITY=1024 nice python benchmarks/scaling.py shapes --lines 800

``cli``: a temporary folder of N line images, copies of the real Copiste lines of the test fixtures
(``tests/fixtures/shared/data/copiste_dun_jour_fr/lines``) cycled until there are N, is read by
``sparkhtr recognize FOLDER --format tsv`` in a child process. While it runs, its resident set
(VmRSS, from /proc) is sampled with the number of lines printed so far; its peak is the kernel's
``ru_maxrss`` for the child (``os.wait4``). Memory that does not grow from 1,000 to 10,000 lines,
and an RSS that stays flat along the run, show the folder streams. The folder is deleted after.

``widths``: lines of each width (real lines scaled to the network's 64 px height and set side by
side, then cut to the width), read one at a time in this process, each width by torch fp32 and by
the model's int8 ONNX graph, with greedy and with the default decoder (beam + LM); the median time
per line, its ratio to the narrowest width's, and this process's peak RSS after each width
(widths run narrowest first, so a rise is that width's).

``spark``: a local Spark session (``local[1]``, bound to 127.0.0.1, no UI) reads N copies of the
fixture lines through ``BinaryToImage`` and ``ImageHandwrittenTextRecognizer.pretrained()`` with
its defaults; the Python processes under the JVM (pyspark's daemon and the workers it forks) are
sampled from /proc while the job runs, and their peak RSS (VmHWM) reported before the session
stops. Needs Java 17 and pyspark.

``shapes``: N train lines of the four training collections (``../shared``, every width different)
read twice by torch fp32 (greedy) in this process, its RSS every 200 lines: oneDNN's cache of
compiled kernels per input shape, which ``sparkhtr.inference.torch_backend`` caps at 16 unless
``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` is set (oneDNN's own default is 1,024), shows here.

Every figure is for one compute thread (``--threads``) unless said otherwise. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tqdm.auto import tqdm

REPO = Path(__file__).resolve().parents[1]
FIXTURE_LINES = REPO / "tests" / "fixtures" / "shared" / "data" / "copiste_dun_jour_fr" / "lines"
SPARKHTR = Path(sys.executable).with_name("sparkhtr")


def fixture_lines() -> list[Path]:
    lines = sorted(FIXTURE_LINES.glob("*.png"))
    if not lines:
        raise SystemExit(f"{FIXTURE_LINES}: no line images")
    return lines


def make_folder(root: Path, count: int) -> Path:
    """``count`` line files in ``root``, the fixture lines cycled (hard links where the file system
    allows: the files are then as real to the reader, and the disk holds them once)."""
    sources = fixture_lines()
    root.mkdir(parents=True, exist_ok=True)
    for i in tqdm(range(count), desc=f"folder of {count}", unit="file", leave=False):
        source = sources[i % len(sources)]
        target = root / f"{i:06d}_{source.name}"
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    return root


def status_kb(pid: int, key: str) -> int | None:
    """A /proc/<pid>/status field in kB (VmRSS, VmHWM), None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


# --- cli -------------------------------------------------------------------------------------------


def cli(args: argparse.Namespace) -> None:
    extra = ["--backend", args.backend, "--decoder", args.decoder, "--threads", str(args.threads)]
    print(f"sparkhtr recognize FOLDER --format tsv {' '.join(extra)}  (fixture lines cycled; RSS in MB)")
    rows = []
    for count in args.lines:
        with tempfile.TemporaryDirectory(prefix="sparkhtr-scaling-") as scratch:
            folder = make_folder(Path(scratch) / "lines", count)
            found = run_cli(folder, count, extra)
        rows.append((count, found))
    print("| lines | lines/s | peak RSS MB | RSS at 10 % / 50 % / 90 % of lines, MB | exit |")
    print("| --- | --- | --- | --- | --- |")
    for count, found in rows:
        along = " / ".join(f"{rss_at(found['samples'], count * share) / 1024:.0f}" for share in (0.1, 0.5, 0.9))
        print(f"| {count:,} | {found['lines'] / found['seconds']:.1f} | {found['peak_kb'] / 1024:.0f} | {along} | "
              f"{found['returncode']} |")
        for error in found["errors"]:
            print(f"  {error.strip()}")


def run_cli(folder: Path, count: int, extra: list[str]) -> dict:
    """``sparkhtr recognize`` on ``folder`` in a child process: VmRSS sampled along the run with the
    lines printed so far, and its peak from the kernel (wait4's rusage: /proc is gone once it exits)."""
    command = [str(SPARKHTR), "recognize", str(folder), "--format", "tsv", *extra]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = [0]
    errors: list[str] = []
    samples: list[tuple[int, int]] = []
    bar = tqdm(total=count, desc=f"recognize {count}", unit="line")

    def read_output() -> None:
        for _ in child.stdout:  # type: ignore[union-attr]
            done[0] += 1
            bar.update(1)

    threads = [threading.Thread(target=read_output, daemon=True),
               threading.Thread(target=lambda: errors.extend(child.stderr), daemon=True)]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        rss = status_kb(child.pid, "VmRSS")
        if rss is not None:
            samples.append((done[0], rss))
        time.sleep(0.25)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    for thread in threads:
        thread.join()
    bar.close()
    return {"lines": done[0], "seconds": time.perf_counter() - started, "samples": samples,
            "returncode": child.returncode, "peak_kb": usage.ru_maxrss,  # kB on Linux
            "errors": [e for e in errors if "error" in e][:3]}


def rss_at(samples: list[tuple[int, int]], lines: float) -> int:
    """The last RSS sampled before ``lines`` lines had been printed (the first sample if none);
    not at the very end, where the exiting process has already freed much of its memory."""
    before = [rss for done, rss in samples if done < lines]
    return before[-1] if before else samples[0][1]


# --- widths ----------------------------------------------------------------------------------------


def strip_of(width: int, offset: int, height: int = 64):
    """A ``height`` x ``width`` line: fixture lines scaled to ``height`` and set side by side from the
    ``offset``-th on, a 16 px gap between them, cut at ``width``."""
    from PIL import Image

    sources = fixture_lines()
    strip = Image.new("L", (width, height), 255)
    x, index = 0, offset
    while x < width:
        with Image.open(sources[index % len(sources)]) as line:
            line = line.convert("L")
            scaled = line.resize((max(1, round(line.width * height / line.height)), height), Image.BILINEAR)
        strip.paste(scaled, (x, 0))
        x += scaled.width + 16
        index += 1
    return strip


def widths(args: argparse.Namespace) -> None:
    from sparkhtr import Recognizer
    from sparkhtr.inference.preprocess import prepare_line

    options = [(backend, decoder) for backend in ("torch", "onnx") for decoder in ("greedy", "auto")]
    recognizers = {
        option: Recognizer.pretrained(backend=option[0], decoder=option[1], num_threads=args.threads)
        for option in options
    }
    config = recognizers[options[0]].config.preprocessing
    table: dict[tuple[str, str], dict[int, float]] = {option: {} for option in options}
    peaks, network_widths = {}, {}
    for recognizer in recognizers.values():  # first calls build LM tables and warm the sessions
        recognizer.recognize(strip_of(args.widths[0], 0))
    strips = {width: [strip_of(width, 7 * r) for r in range(args.repeats)] for width in args.widths}
    for width in args.widths:  # narrowest first, each option once: the peak RSS each width brings
        network_widths[width] = prepare_line(strips[width][0], config).array.shape[-1]
        for recognizer in recognizers.values():
            recognizer.recognize(strips[width][0])
        peaks[width] = status_kb(os.getpid(), "VmHWM")
    times: dict[tuple[tuple[str, str], int], list[float]] = {}
    # Repeats outermost, so a burst of load on a shared machine falls on every width and option.
    for repeat in tqdm(range(args.repeats), desc="repeats"):
        for width in args.widths:
            for option, recognizer in recognizers.items():
                started = time.perf_counter()
                recognizer.recognize(strips[width][repeat])
                times.setdefault((option, width), []).append(time.perf_counter() - started)
    for (option, width), found in times.items():
        table[option][width] = statistics.median(found)
    names = {"greedy": "greedy", "auto": "beam + LM"}
    print(f"median of {args.repeats} lines per width, {args.threads} thread(s); ms per line (x the {args.widths[0]} px "
          "line's time)")
    header = " | ".join(f"{backend} {names[decoder]}" for backend, decoder in options)
    print(f"| width px (network input) | {header} | peak RSS MB |")
    print("| --- |" + " --- |" * (len(options) + 1))
    for width in args.widths:
        cells = " | ".join(
            f"{1000 * table[o][width]:.0f} ({table[o][width] / table[o][args.widths[0]]:.1f}x)" for o in options
        )
        print(f"| {width} ({network_widths[width]}) | {cells} | {peaks[width] / 1024:.0f} |")


# --- spark -----------------------------------------------------------------------------------------

SPARK_JOB = r"""
import json, os, sys, threading, time
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
from pyspark.sql import SparkSession
from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer

def status(pid):
    found = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "VmHWM", "PPid"):
                    found[key] = int(line.split()[1])
    except (OSError, ValueError):
        return None
    return found

def python_workers():
    # pyspark's daemon and the workers it forks all run "python -m pyspark.daemon" (this driver's
    # own command line holds that text too: it is left out).
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    command = handle.read()
            except OSError:
                continue
            if b"pyspark.daemon" in command or b"pyspark.worker" in command:
                yield int(entry)

peaks, timeline, stop = {}, {}, threading.Event()
def sample():
    while not stop.is_set():
        for pid in python_workers():
            found = status(pid)
            if found:
                peaks[pid] = {**peaks.get(pid, {}), **found}
                timeline.setdefault(pid, []).append(found["VmRSS"])
        time.sleep(0.2)

spark = (SparkSession.builder.master("local[1]").config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.ui.enabled", "false").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
watcher = threading.Thread(target=sample, daemon=True)
watcher.start()
started = time.perf_counter()
frame = spark.read.format("binaryFile").load(sys.argv[1])
images = BinaryToImage().setInputCol("content").setOutputCol("image").transform(frame)
stage = ImageHandwrittenTextRecognizer.pretrained().setInputCol("image").setOutputCol("text")
for key, value in json.loads(sys.argv[2]).items():
    getattr(stage, "set" + key)(value)
rows = stage.transform(images).select("text", "handwritten_text_error").collect()
seconds = time.perf_counter() - started
time.sleep(0.5)
stop.set()
watcher.join()
daemons = {pid for pid, s in peaks.items() if s.get("PPid") not in peaks}
def memory(pid):
    # RSS at a quarter, half, three quarters and the end of the samples: flat when memory is bounded.
    along = [timeline[pid][min(len(timeline[pid]) - 1, len(timeline[pid]) * q // 4)] for q in (1, 2, 3, 4)]
    return {"pid": pid, "peak_kb": peaks[pid].get("VmHWM"), "rss_kb": peaks[pid].get("VmRSS"), "along_kb": along}
print(json.dumps({
    "rows": len(rows), "errors": sum(r.handwritten_text_error is not None for r in rows), "seconds": seconds,
    "partitions": frame.rdd.getNumPartitions(),
    "workers": [memory(p) for p in peaks if p not in daemons],
    "daemon": [memory(p) for p in peaks if p in daemons],
    "driver_peak_kb": status(os.getpid())["VmHWM"],
}))
spark.stop()
"""


def spark(args: argparse.Namespace) -> None:
    settings = {"Backend": args.backend, "Decoder": args.decoder} if args.backend != "auto" or args.decoder != "auto" \
        else {}
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1", "OMP_NUM_THREADS": str(args.threads)}
    with tempfile.TemporaryDirectory(prefix="sparkhtr-scaling-") as scratch:
        folder = make_folder(Path(scratch) / "lines", args.lines[0])
        out = subprocess.run(
            [sys.executable, "-c", SPARK_JOB, str(folder / "*.png"), json.dumps(settings)],
            capture_output=True, text=True, cwd=scratch, env=env,
        )
    if out.returncode != 0:
        raise SystemExit(f"the Spark job failed:\n{out.stderr[-3000:]}")
    found = json.loads(out.stdout.strip().splitlines()[-1])
    workers = found["workers"]
    print(f"Spark local[1], {found['rows']} lines in {found['partitions']} partitions, {found['errors']} errors, "
          f"{found['seconds']:.0f} s (session start excluded), stage settings {settings or 'defaults'}")
    for worker in workers:
        along = " / ".join(f"{kb / 1024:.0f}" for kb in worker["along_kb"])
        print(f"  python worker {worker['pid']}: peak RSS {worker['peak_kb'] / 1024:.0f} MB; RSS at 1/4, 1/2, 3/4 "
              f"and the end of its life {along} MB")
    for daemon in found["daemon"]:
        print(f"  pyspark daemon {daemon['pid']}: peak RSS {daemon['peak_kb'] / 1024:.0f} MB")
    print(f"  driver (python): peak RSS {found['driver_peak_kb'] / 1024:.0f} MB")


def shapes(args: argparse.Namespace) -> None:
    from sparkhtr import Recognizer
    from sparkhtr.calibrate.quantize import calibration_samples

    shared = Path(os.environ.get("SPARKHTR_SHARED", REPO.parent / "shared")) / "data"
    collections = ("copiste_dun_jour_fr", "cremma_mss19_fr", "htromance_modern_fr", "timeus_fr")
    chosen = calibration_samples([str(shared / c) for c in collections], args.lines[0], "train",
                                 REPO / "configs" / "splits")
    images = [sample.image() for sample in chosen]
    recognizer = Recognizer.pretrained(backend="torch", decoder="greedy", num_threads=args.threads)
    along = [f"start {status_kb(os.getpid(), 'VmRSS') // 1024}"]
    for round_ in range(2):
        for i, _ in enumerate(tqdm(recognizer.recognize_iter(images), total=len(images), desc=f"pass {round_ + 1}")):
            if (i + 1) % 200 == 0:
                along.append(f"{round_ * len(images) + i + 1}: {status_kb(os.getpid(), 'VmRSS') // 1024}")
    capacity = os.environ.get("ONEDNN_PRIMITIVE_CACHE_CAPACITY")
    print(f"torch greedy, {len(images)} lines of distinct widths read twice, {args.threads} thread(s), "
          f"ONEDNN_PRIMITIVE_CACHE_CAPACITY={capacity}; RSS MB after each 200 lines: {', '.join(along)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["cli", "widths", "spark", "shapes"])
    parser.add_argument("--lines", type=int, nargs="+", default=None, help="cli: 1000 10000; spark: 200")
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    parser.add_argument("--repeats", type=int, default=5, help="widths: lines per width")
    parser.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"], help="cli and spark")
    parser.add_argument("--decoder", default="auto", choices=["auto", "greedy", "beam"], help="cli and spark")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    args.lines = args.lines or {"spark": [200], "shapes": [800]}.get(args.what, [1000, 10000])
    {"cli": cli, "widths": widths, "spark": spark, "shapes": shapes}[args.what](args)


if __name__ == "__main__":
    main()
