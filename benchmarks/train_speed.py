"""Training throughput (lines/s) of each model size on this machine, on real Copiste lines.

    python benchmarks/train_speed.py [--steps 15] [--line-height 64] [--threads 2]

Runs forward + CTC + backward + Adam on batches of real lines (resized to the line height,
widths bucketed as in training) and prints lines/s per architecture and precision, with the
ratio against the first row, measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import torch

from sparkhtr.data.datasets import open_dataset
from sparkhtr.model.config import ModelConfig, PreprocessingConfig, architecture
from sparkhtr.model.files import build_model
from sparkhtr.text.charset import LATIN_CHARSET, Charset
from sparkhtr.train.batches import TrainingBatches

DATA = "../shared/data/copiste_dun_jour_fr"


def measure(arch: str, precision: str, batches: list, steps: int, charset: Charset) -> float:
    config = ModelConfig(architecture(arch, input_channels=1), charset.chars)
    model = build_model(config).train()
    channels_last = precision.endswith("+cl")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), 1e-4)
    ctc = torch.nn.CTCLoss(blank=charset.blank, reduction="sum", zero_infinity=True)
    lines, start = 0, 0.0
    for i, batch in enumerate(batches[: steps + 2]):
        if i == 2:  # two warm-up steps
            start, lines = time.perf_counter(), 0
        images = batch.images.contiguous(memory_format=torch.channels_last) if channels_last else batch.images
        with torch.autocast("cpu", torch.bfloat16, enabled=precision.startswith("bf16")):
            log_probs = model(images, batch.sizes)
        loss = ctc(log_probs.transpose(0, 1), batch.targets, batch.input_lengths, batch.target_lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        lines += len(batch.target_lengths)
    return lines / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--line-height", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--architectures", default="span_quarter,span_small,span_half")
    parser.add_argument("--precisions", default="bf16,bf16+cl,fp32")  # +cl: channels_last
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    charset = Charset(LATIN_CHARSET)
    samples = [s for s in open_dataset(args.data, split="train") if not charset.missing(s.text)]
    prep = PreprocessingConfig(channels=1, line_height=args.line_height)
    stream = iter(TrainingBatches([(samples, 1.0)], charset, prep, args.batch_size, seed=1))
    batches = [next(stream) for _ in range(args.steps + 2)]
    print(f"threads {torch.get_num_threads()}, line height {args.line_height}, batch {args.batch_size}")
    print(f"{'architecture':<14}{'precision':<10}{'params':>10}{'lines/s':>10}{'ratio':>8}")
    baseline = None
    for arch in args.architectures.split(","):
        params = sum(
            p.numel()
            for p in build_model(ModelConfig(architecture(arch, input_channels=1), charset.chars)).parameters()
        )
        for precision in args.precisions.split(","):
            rate = measure(arch, precision, batches, args.steps, charset)
            baseline = baseline or rate
            print(f"{arch:<14}{precision:<10}{params:>10,}{rate:>10.1f}{rate / baseline:>8.2f}")


if __name__ == "__main__":
    main()
