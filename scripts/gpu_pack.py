"""Pack what a training run on a lent GPU machine needs into one folder that travels with the tree.

    python scripts/gpu_pack.py .carry --budget-mb 44        # then scripts/gpu_train.sh on the device

The device machine reaches no network and gets only the repository (64 MiB in all, ../shared not
included), so this writes into OUT (ignored by git through .git/info/exclude):
- ``data/<collection>/``: folder datasets of the training collections' ``train`` lines (split maps
  of configs/splits applied, so dev, test and page-benchmark lines never travel), resized to the
  model's 64 px height and stored as lossless 16-level WebP; when the whole set does not fit
  ``--budget-mb``, each collection keeps a random share of its lines in proportion to the budget.
- ``whl/``: the wheels of the runtime dependencies the device image lacks (rapidfuzz), for
  Python 3.12 on x86-64, fetched with pip here.
- ``init/``: the weights to start from (``--init-from``, default the bundled model).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from sparkhtr.data.datasets import open_dataset
from sparkhtr.registry import model_dir

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = ("copiste_dun_jour_fr", "cremma_mss19_fr", "htromance_modern_fr", "timeus_fr")
WHEELS = ("rapidfuzz",)  # what the device image lacks among the core dependencies
BYTES_PER_LINE = 5_000  # lossless 16-level WebP at 64 px, measured on the collections


def pack_lines(data: Path, out: Path, budget: int, height: int, seed: int) -> dict[str, int]:
    """Write each collection's train lines under ``out``; returns lines written per collection."""
    samples = {name: open_dataset(str(data / name), split="train", splits=REPO / "configs" / "splits")
               for name in COLLECTIONS}
    total = sum(len(s) for s in samples.values())
    share = min(1.0, budget / (total * BYTES_PER_LINE))
    written = {}
    for name, lines in samples.items():
        kept = random.Random(seed).sample(lines, round(share * len(lines)))
        folder = out / name / "lines"
        folder.mkdir(parents=True, exist_ok=True)
        for sample in tqdm(kept, desc=name, unit="line"):
            image = sample.image().convert("L")
            if image.height != height:
                width = max(1, round(image.width * height / image.height))
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            image = image.point(lambda v: (v // 16) * 17)  # 16 gray levels, as the 64 px collections are
            image.save(folder / f"{sample.id}.webp", lossless=True)
            (folder / f"{sample.id}.txt").write_text(sample.text + "\n", "utf-8")
        written[name] = len(kept)
    return written


def fetch_wheels(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    platforms = [f"--platform=manylinux_2_{n}_x86_64" for n in (17, 27, 28)] + ["--platform=manylinux2014_x86_64"]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
         "--implementation", "cp", *platforms, "-d", str(out), *WHEELS],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--budget-mb", type=float, default=44.0, help="line images, MB (the tree travels in 64 MiB)")
    parser.add_argument("--init-from", default=None, help="model to start from (default: the bundled one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    written = pack_lines(args.data, args.out / "data", int(args.budget_mb * 1e6), 64, args.seed)
    init = model_dir(args.init_from)
    shutil.copytree(init, args.out / "init", ignore=shutil.ignore_patterns("*.png", "*.onnx", "lm*.json.gz", "*.md"))
    fetch_wheels(args.out / "whl")
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file()) / 2**20
    print(f"{args.out}: {written} lines, init from {init}, {size:.1f} MiB")


if __name__ == "__main__":
    main()
