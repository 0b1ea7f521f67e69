"""Character positions against the ink: where the recognized spaces sit relative to the word gaps.

No transcription gives character boxes, but every word gap (a run of ink-free columns at least
0.22 line heights wide) is where a space belongs. For each recognized space near such a gap this
prints how far its box's center is from the gap's center (the fair figure) and how often the gap's
center falls inside its box (which also rewards wider boxes), for the raw CTC spike frames (the
baseline), each of sparkhtr's two corrections alone (spikes moved back by the model's measured
lag; extents between neighbouring spikes), and the boxes sparkhtr reports, which use both.

    python benchmarks/positions.py ../shared/data/copiste_dun_jour_fr --split val [--model MODEL]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from line_sets import add_dataset_arguments, open_lines
from tqdm import tqdm

from sparkhtr.calibrate.position_lag import space_offsets
from sparkhtr.inference.positions import char_extents
from sparkhtr.inference.preprocess import prepare_line
from sparkhtr.inference.recognizer import Recognizer
from sparkhtr.model.span import SpanLineModel
from sparkhtr.registry import model_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)

    recognizer = Recognizer.load(model_dir(args.model))
    config = recognizer.config
    height = config.preprocessing.line_height
    samples = open_lines(args)
    space = recognizer.charset.index(" ")
    lag = config.position_lag
    rows = ("spike frames (baseline)", "spike frames moved back by the lag", "midpoint extents, no lag",
            "sparkhtr (both)")
    found: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    for sample in tqdm(samples, desc="lines", unit="line"):
        image = sample.image()
        scale = prepare_line(image, config.preprocessing).scale_x  # network pixels per input pixel
        line = recognizer.decoder(recognizer.log_probs(image), recognizer.charset)
        step = SpanLineModel.WIDTH_REDUCTION / scale
        spans = [(c.first_frame, c.last_frame) for c in line.chars]
        boxes = {
            rows[0]: [(first * step, (last + 1) * step) for first, last in spans],
            rows[1]: [((first - lag) * step, (last + 1 - lag) * step) for first, last in spans],
            rows[2]: char_extents(spans, 0.0, step, image.width),
            rows[3]: [(c.x0, c.x1) for c in recognizer.recognize(image).chars],  # what users get
        }
        for name, extents in boxes.items():
            spaces = [(x0 * scale, x1 * scale) for c, (x0, x1) in zip(line.chars, extents) if c.label == space]
            offsets = space_offsets(image, [(x0 + x1) / 2 for x0, x1 in spaces], config.preprocessing)
            found[name] += [(o, (x1 - x0) / 2) for o, (x0, x1) in zip(offsets, spaces) if o is not None]

    print(f"{len(samples)} lines of {args.dataset} ({args.split}), position_lag {config.position_lag} frames")
    print(f"{'boxes':<36} {'spaces':>7} {'median |offset| px':>19} {'gap center inside %':>20}")
    for name, pairs in found.items():
        offsets = np.array([o for o, _ in pairs])
        inside = np.mean([abs(o) <= half for o, half in pairs])
        print(f"{name:<36} {len(pairs):7d} {np.median(np.abs(offsets)):19.1f} {100 * inside:20.1f}")
    print(f"(network pixels: lines {height} px high; offsets measured right of the gap's center)")


if __name__ == "__main__":
    main()
