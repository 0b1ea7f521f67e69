"""The accuracy table of a model: CER / WER on each dev split and on the held-out test collection,
with peers beside it where they are installed (benchmarks/setup_peers.sh installs RapidOCR).

    python benchmarks/accuracy.py                       # the bundled model, default decoder, every set below
    python benchmarks/accuracy.py --model runs/s11 --decoder greedy --limit 200 --engines sparkhtr rapidocr

Sets (their splits come from configs/splits/, see configs/splits/README.md): the writer/document-
disjoint dev splits of the four training collections, on which choices are made, and the test
collection testaments_poilus_fr (58 writers, never trained or chosen on). Report the test row once
per shipped model; never choose anything by it.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import _rapidocr  # noqa: E402  (the benchmarks folder is not a package)

from sparkhtr.data.datasets import open_dataset  # noqa: E402
from sparkhtr.text.metrics import corpus_scores  # noqa: E402

DATA = REPO.parent / "shared" / "data"
SETS = [  # (dataset folder, split)
    ("copiste_dun_jour_fr", "dev"),
    ("cremma_mss19_fr", "dev"),
    ("htromance_modern_fr", "dev"),
    ("timeus_fr", "dev"),
    ("testaments_poilus_fr", "test"),
]


def _sparkhtr(args: argparse.Namespace):
    from sparkhtr import Recognizer
    from sparkhtr.registry import model_dir

    recognizer = Recognizer.load(model_dir(args.model), decoder=args.decoder, lang=args.lang, backend=args.backend)

    def read(paths: list[Path]) -> list[str]:
        return [r.text or "" for r in recognizer.recognize(paths, on_error="return")]

    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory or name (default: the bundled one)")
    parser.add_argument("--decoder", default="auto", choices=["auto", "greedy", "beam"])
    parser.add_argument("--lang", default=None, help="the model's LM for this language (default: its mixed one)")
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding the datasets (default ../shared/data)")
    parser.add_argument("--splits", type=Path, default=REPO / "configs" / "splits")
    parser.add_argument("--sets", nargs="+", default=None, help="dataset:split pairs (default: every set above)")
    parser.add_argument("--limit", type=int, default=0, help="N random lines of each set (0: all)")
    parser.add_argument("--engines", nargs="+", default=["sparkhtr", "rapidocr"])
    args = parser.parse_args()
    sets = [tuple(s.split(":", 1)) for s in args.sets] if args.sets else SETS

    engines = {}
    for name in args.engines:
        try:
            engines[name] = _sparkhtr(args) if name == "sparkhtr" else _rapidocr(2)
        except ImportError as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
    rows, dev_pairs = [], {name: [] for name in engines}
    for folder, split in sets:
        samples = [s for s in open_dataset(str(args.data / folder), split=split, splits=args.splits) if s.source]
        if args.limit and len(samples) > args.limit:
            samples = random.Random(0).sample(samples, args.limit)
        paths, references = [s.source for s in samples], [s.text for s in samples]
        cells = []
        for name, read in engines.items():
            start = time.perf_counter()
            predictions = read(paths)
            scores = corpus_scores(zip(references, predictions))
            if split == "dev":
                dev_pairs[name] += list(zip(references, predictions))
            cells.append(f"{100 * scores['cer']:.2f} / {100 * scores['wer']:.2f}")
            print(f"{folder} {split}: {name} CER {100 * scores['cer']:.2f} % "
                  f"({len(paths) / (time.perf_counter() - start):.1f} lines/s)", file=sys.stderr)
        rows.append((folder, split, len(samples), cells))
    print(f"\nmodel {args.model or 'bundled default'}, decoder {args.decoder}, lang {args.lang or 'auto'}, "
          f"backend {args.backend}; CER / WER in %")
    print("| set | split | lines | " + " | ".join(engines) + " |")
    print("| --- | --- | ---: | " + " | ".join("---:" for _ in engines) + " |")
    for folder, split, count, cells in rows:
        print(f"| {folder} | {split} | {count} | " + " | ".join(cells) + " |")
    if sum(r[1] == "dev" for r in rows) > 1:
        cells = [f"{100 * (sc := corpus_scores(p))['cer']:.2f} / {100 * sc['wer']:.2f}" for p in dev_pairs.values()]
        count = sum(r[2] for r in rows if r[1] == "dev")
        print(f"| every dev set (errors summed) | dev | {count} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
