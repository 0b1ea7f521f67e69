"""Average the weights of several trained model directories into one (a "model soup").

    python scripts/average_models.py runs/s16 runs/s16b runs/soup16

Why: on this CPU one training run gets one core, so two runs from the same weights (different
seeds, data order) can use both cores at once; runs fine-tuned from one starting point stay close
enough in weight space that their uniform average reads as well as either, often better. Whether
it does is measured on the dev split before anything ships (MODEL_CARD.md). The models must share
architecture and charset; the first one's config is kept, with the sources in its provenance.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from sparkhtr.model.files import load_model, save_model


def average_models(sources: list[Path], out: Path) -> Path:
    """Write the uniform average of ``sources``' weights (float32) to ``out``."""
    models = [load_model(source) for source in sources]
    first_model, first_config = models[0]
    for source, (_, config) in zip(sources[1:], models[1:]):
        if config.architecture != first_config.architecture or config.charset != first_config.charset:
            raise SystemExit(f"{source}: another architecture or charset than {sources[0]}: cannot average")
    states = [model.state_dict() for model, _ in models]
    averaged = {}
    for name, value in states[0].items():
        if value.is_floating_point():
            averaged[name] = torch.stack([state[name].float() for state in states]).mean(0)
        else:  # counters (e.g. batch-norm steps) are not weights: the first model's are kept
            averaged[name] = value
    first_model.load_state_dict(averaged)
    provenance = {**first_config.provenance, "averaged_from": [str(s) for s in sources]}
    return save_model(out, first_model, replace(first_config, provenance=provenance))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path, help="model directories (two or more)")
    parser.add_argument("out", type=Path, help="directory to write the averaged model to")
    args = parser.parse_args()
    if len(args.sources) < 2:
        parser.error("give at least two model directories to average")
    print(f"{' + '.join(map(str, args.sources))} -> {average_models(args.sources, args.out)}")


if __name__ == "__main__":
    main()
