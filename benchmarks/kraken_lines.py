"""kraken's baseline segmenter on a folder of pages, for ``benchmarks/pages.py --kraken``.

    # in a throwaway venv: kraken replaces torch with a CUDA build unless torch is pinned with it
    python -m venv /tmp/kraken_venv
    /tmp/kraken_venv/bin/pip install torch==2.13.0 kraken==7.1.1
    /tmp/kraken_venv/bin/python benchmarks/kraken_lines.py ../shared/data/pages_cremma_mss19_fr/pages kraken.json

Writes ``{page stem: [boundary polygon, ...]}`` with the lines in kraken's reading order, and
prints the seconds each page took (model load excluded). Uses the model shipped in kraken's wheel
(``blla.mlmodel``); nothing is downloaded. Not imported by sparkhtr.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from PIL import Image

# PyPI's torchvision 0.28 is built against CUDA torch; beside the CPU torch its ops library does
# not load, and its import then fails declaring fake kernels for two ops it never defined. Define
# their schemas first: kraken's baseline segmenter does not call them.
_OPS = torch.library.Library("torchvision", "DEF")
for _op in ("nms", "qnms"):
    _OPS.define(f"{_op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

from kraken import blla  # noqa: E402
from kraken.lib import vgsl  # noqa: E402


def main() -> None:
    pages, out = Path(sys.argv[1]), Path(sys.argv[2])
    model = vgsl.TorchVGSLModel.load_model(str(Path(blla.__file__).with_name("blla.mlmodel")))
    found = json.loads(out.read_text()) if out.is_file() else {}  # resumable: pages done are kept
    for image_path in sorted(p for p in pages.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        if image_path.stem in found:
            continue
        image = Image.open(image_path)
        image.load()
        start = time.perf_counter()
        segmentation = blla.segment(image, model=model)
        seconds = time.perf_counter() - start
        found[image_path.stem] = [[list(map(float, p)) for p in line.boundary] for line in segmentation.lines
                                  if line.boundary]
        found.setdefault("_seconds", {})[image_path.stem] = seconds
        out.write_text(json.dumps(found))
        print(f"{image_path.stem}: {len(found[image_path.stem])} lines, {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
