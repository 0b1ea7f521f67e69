"""Copy a trained model directory into the package as fp16 safetensors (the bundled models).

    python scripts/package_model.py runs/span_small_latin_s2 sparkhtr/pretrained/span_small_latin

Keeps config.json (the training settings stay in its provenance) and writes the weights in float16,
which halves the size; fp16 weights give the same texts as fp32 within the rounding of the
greedy path (checked by `sparkhtr evaluate` on the packaged copy, whose figures go in the card).
"""

from __future__ import annotations

import argparse

import torch

from sparkhtr.model.files import load_model, save_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("out_dir")
    args = parser.parse_args()
    model, config = load_model(args.run_dir)
    save_model(args.out_dir, model, config, dtype=torch.float16)
    print(f"{args.run_dir} -> {args.out_dir} (float16)")


if __name__ == "__main__":
    main()
