"""Copy a trained model directory into the package as fp16 safetensors (the bundled models).

    python scripts/package_model.py runs/s4 sparkhtr/pretrained/span_small_latin --splits configs/splits \
        --int8-calibration ../shared/data/{copiste_dun_jour_fr,cremma_mss19_fr,htromance_modern_fr,timeus_fr}

Keeps config.json (the training settings stay in its provenance) and writes the weights in float16,
which halves the size; fp16 weights give the same texts as fp32 within the rounding of the
greedy path (checked by `sparkhtr evaluate` on the packaged copy, whose figures go in the card).
With --int8-calibration it also writes model.int8.onnx beside them (`sparkhtr export-onnx
--single-line --int8 --record-dev`: the default recipe, calibrated on train lines shared out
between the datasets given, then the float model and the graph read the dev lines of the same
datasets and both CERs go into config.json "backends"): `--backend onnx` then works offline with
the bundled model, on its fastest CPU variant, and `backend="auto"` uses it when it reads within
0.3 CER points. With --examples DATASET it draws examples.png for the
model card: lines spread over DATASET's val split, each with its transcription and what the
packaged model read. With --positions DATASET it measures how far the packaged model's CTC spikes
trail the characters (sparkhtr.calibrate.position_lag.estimate_position_lag, on 300 lines of
DATASET's train split) and stores it in config.json (and in the .onnx files beside it),
so that character positions are shifted back by it.
"""

from __future__ import annotations

import argparse

import torch

from sparkhtr.model.files import load_model, save_model
from sparkhtr.model.onnx_export import INT8_ONNX_FILE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("out_dir")
    parser.add_argument(
        "--int8-calibration", metavar="DATASET", nargs="+",
        help="also write model.int8.onnx, calibrated on these datasets' train lines, measured on their dev lines",
    )
    parser.add_argument("--splits", default=None, help="split maps for the datasets (e.g. configs/splits)")
    parser.add_argument("--examples", metavar="DATASET", help="also draw examples.png from this val split")
    parser.add_argument("--example-lines", type=int, default=8)
    parser.add_argument("--positions", metavar="DATASET", help="measure the position lag on this train split")
    args = parser.parse_args()
    model, config = load_model(args.run_dir)
    save_model(args.out_dir, model, config, dtype=torch.float16)
    print(f"{args.run_dir} -> {args.out_dir} (float16)")
    if args.positions:  # before the int8 export below, which then embeds the measured lag
        measure_position_lag(args.out_dir, args.positions)
    if args.int8_calibration:
        from sparkhtr.cli.main import main as cli

        # From the packaged fp16 weights, so the ONNX file holds exactly the bundled model.
        int8 = f"{args.out_dir}/{INT8_ONNX_FILE}"
        splits = ["--splits", args.splits] if args.splits else []
        cli(["export-onnx", args.out_dir, int8, "--single-line", "--int8", "--record-dev", *splits,
             "--calibration", *args.int8_calibration])
    if args.examples:
        draw_examples(args.out_dir, args.examples, args.example_lines)


def measure_position_lag(model_dir: str, dataset: str, lines: int = 300) -> None:
    from sparkhtr import Recognizer
    from sparkhtr.calibrate.position_lag import estimate_position_lag, write_position_lag
    from sparkhtr.data.datasets import open_dataset

    recognizer = Recognizer.load(model_dir)  # its default decoder: the one whose positions users get
    samples = open_dataset(dataset, split="train")[:lines]
    lag = estimate_position_lag(recognizer, (sample.load() for sample in samples))
    write_position_lag(model_dir, recognizer.config, lag.frames)
    print(f"position lag {lag.frames:.3f} frames ({lag.spaces} spaces on {lag.lines} lines) -> {model_dir}")


def draw_examples(model_dir: str, dataset: str, count: int) -> None:
    from sparkhtr import Recognizer
    from sparkhtr.data.datasets import open_dataset
    from sparkhtr.train.pictures import lines_with_text

    samples = open_dataset(dataset, split="val")
    chosen = samples[:: max(1, len(samples) // count)][:count]
    images = [sample.load() for sample in chosen]
    results = Recognizer.load(model_dir).recognize(images)
    captions = [
        [f"truth: {sample.text}", f"read:  {result.text}   (confidence {result.confidence:.2f})"]
        for sample, result in zip(chosen, results)
    ]
    print(lines_with_text(images, captions, f"{model_dir}/examples.png"))


if __name__ == "__main__":
    main()
