"""What it costs a process to get a language model ready to decode: format 2 against format 3.

Each process that decodes with an LM (a CLI run, a Python session, every Spark worker) loads the
file and builds the compiled beam search's tables before its first line. Format 2 held the counts
as nested JSON objects; format 3 (sparkhtr.text.lm_counts) holds them as flat strings and integer
lists. This writes a format-2 copy of each bundled LM to a temporary folder, then loads both
forms in fresh processes, alternating, and prints CPU seconds and peak RSS (Linux's VmHWM) for each,
with ratios.

    python benchmarks/lm_load.py [--model span_small_latin] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from sparkhtr.registry import model_dir
from sparkhtr.text.lm import CharNgramLM

_CHILD = """
import sys, time
start = time.process_time()
from sparkhtr.text.lm import CharNgramLM
from sparkhtr.text import fast_beam
lm = CharNgramLM.load(sys.argv[1])
assert fast_beam._lm_table(lm) is not None
if lm.lexicon is not None:
    assert fast_beam._lexicon_table(lm.lexicon) is not None
# VmHWM, not ru_maxrss: the latter carries the parent's peak over fork and exec
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(time.process_time() - start, peak / 1024)
"""


def write_format_2(lm: CharNgramLM, path: Path) -> Path:
    data = {"format": "sparkhtr-charlm/2", "order": lm.order, "vocab": lm.vocab, "counts": lm.counts,
            "decoding": lm.decoding}
    if lm.lexicon is not None:
        data["lexicon"] = sorted(lm.lexicon.words)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))
    return path


def measure(path: Path) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], check=True, capture_output=True, text=True)
    cpu, rss = out.stdout.split()
    return float(cpu), float(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="span_small_latin")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = model_dir(args.model)
    print("| LM | contexts | format 2: CPU s / peak RSS MB | format 3: CPU s / peak RSS MB | CPU ratio | RSS ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(folder.glob("lm*.json.gz")):
            lm = CharNgramLM.load(path)
            old = write_format_2(lm, Path(tmp) / path.name)
            runs: dict[str, list[tuple[float, float]]] = {"2": [], "3": []}
            for _ in range(args.repeats):  # alternating, so that other load on the machine falls on both
                runs["2"].append(measure(old))
                runs["3"].append(measure(path))
            cpu2, rss2 = (statistics.median(r[i] for r in runs["2"]) for i in (0, 1))
            cpu3, rss3 = (statistics.median(r[i] for r in runs["3"]) for i in (0, 1))
            print(f"| {path.name} | {len(lm.count_table().lengths):,} | {cpu2:.2f} / {rss2:.0f} | "
                  f"{cpu3:.2f} / {rss3:.0f} | {cpu2 / cpu3:.1f}x | {rss2 / rss3:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
