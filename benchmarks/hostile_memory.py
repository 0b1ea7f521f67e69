"""Peak memory of the worst single inputs (issue #21): each case runs in a fresh process that
loads the bundled model (torch, greedy decoding, one thread), writes its input of at most 50 MB,
recognizes it with on_error="return", and reports its peak RSS; the target is under 2 GB each.

    .venv/bin/python benchmarks/hostile_memory.py            # every case, one table
    .venv/bin/python benchmarks/hostile_memory.py strip_bomb # one case
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

LIMIT_MB = 2048


def _ink(width: int, height: int) -> np.ndarray:
    """A gray page with dark strokes across it, so nothing is skipped as blank."""
    rng = np.random.default_rng(0)
    array = np.full((height, width), 235, np.uint8)
    for _ in range(max(1, width // 40)):
        x, y = int(rng.integers(0, width - 8)), int(rng.integers(0, max(1, height - 8)))
        array[y : y + max(1, height // 3), x : x + 4] = 20
    return array


def _png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def make_input(case: str, folder: Path):
    """The input of one case: a path, bytes or an array (each at most 50 MB)."""
    if case == "strip_bomb":  # the case 1: a ~100-byte PNG of 10000x2, refused before resizing
        image = Image.new("L", (10000, 2), 255)
        image.putpixel((5000, 0), 0)
        return _png(image)
    if case == "widest_line":  # the widest line accepted: 16,384 px at 64 px high
        return _png(Image.fromarray(_ink(16_384, 64)))
    if case == "long_line_50mp":  # 50 MP in one line, 100000x500: 12,800 px wide at 64 px high, read
        path = folder / "long.png"
        Image.fromarray(_ink(100_000, 500)).save(path, compress_level=1)
        return path
    if case == "page_as_line_50mp":  # a 50 MP page given as a line: 7071x7071 RGB, resized to 64x64
        path = folder / "page.jpg"
        Image.fromarray(_ink(7071, 7071)).convert("RGB").save(path, quality=80)
        return path
    if case == "png16_50mp":  # a 16-bit gray PNG of 50 MP (50000x1000)
        path = folder / "deep.png"
        Image.fromarray(_ink(50_000, 1000).astype(np.uint16) * 257).save(path, compress_level=1)
        return path
    if case == "float_array_50mb":  # a float64 array of 50 MB (6.25 M pixels, 25000x250)
        return _ink(25_000, 250).astype(np.float64) / 255.0
    if case == "paragraph_50mp":  # recognize_paragraph on a 50 MP scan of lines (5000x10000)
        path = folder / "scan.png"
        page = np.full((10_000, 5000), 240, np.uint8)
        for top in range(100, 9900, 120):
            page[top : top + 60] = _ink(5000, 60)
        Image.fromarray(page).save(path, compress_level=1)
        return path
    raise ValueError(f"unknown case {case!r}")


CASES = ["strip_bomb", "widest_line", "long_line_50mp", "page_as_line_50mp", "png16_50mp", "float_array_50mb",
         "paragraph_50mp"]


def run_case(case: str) -> dict:
    """In this process: make the input, recognize it, return what happened and the peak RSS."""
    import torch

    torch.set_num_threads(1)
    from sparkhtr import Recognizer

    recognizer = Recognizer.pretrained(decoder="greedy")
    with tempfile.TemporaryDirectory() as name:
        source = make_input(case, Path(name))
        size = source.nbytes if isinstance(source, np.ndarray) else (
            len(source) if isinstance(source, bytes) else source.stat().st_size)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        if case == "paragraph_50mp":
            page = recognizer.recognize_paragraph(source)
            outcome = f"{len(page.lines)} lines read"
        else:
            result = recognizer.recognize([source], on_error="return")[0]
            outcome = f"error: {result.error[:70]}" if result.error else f"read {len(result.text)} chars"
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "case": case,
        "input_mb": round(size / 2**20, 2),
        "peak_rss_mb": round(peak),
        "before_mb": round(base),  # the model loaded and the input made (its making counts in the peak too)
        "seconds": round(seconds, 1),
        "outcome": outcome,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", default=CASES, metavar="CASE", help=", ".join(CASES))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = [case for case in args.cases if case not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    if args.child:
        print(json.dumps(run_case(args.cases[0])))
        return 0
    print(f"{'case':<20} {'input MB':>9} {'peak RSS MB':>12} {'before MB':>9} {'s':>6}  outcome")
    worst = 0
    for case in args.cases:
        done = subprocess.run([sys.executable, __file__, "--child", case], capture_output=True, text=True)
        if done.returncode:
            print(f"{case:<20} failed: {done.stderr.strip()[-300:]}")
            worst = max(worst, 10**9)
            continue
        row = json.loads(done.stdout.splitlines()[-1])
        worst = max(worst, row["peak_rss_mb"])
        print(f"{case:<20} {row['input_mb']:>9} {row['peak_rss_mb']:>12} {row['before_mb']:>9} "
              f"{row['seconds']:>6}  {row['outcome']}")
    print(f"worst peak RSS: {worst} MB ({'under' if worst < LIMIT_MB else 'OVER'} the {LIMIT_MB} MB target)")
    return 0 if worst < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
