"""The training loop: CTC + Adam with warmup and cosine decay, periodic validation keeping the best
model, checkpoints for ``--resume``, a JSONL log and a PNG curve.

Output directory layout:
    OUT/config.json, OUT/model.safetensors   the best model so far (a model directory)
    OUT/last.ckpt                            weights (+ their moving average) + optimizer + step, for resuming
    OUT/log.jsonl, OUT/curve.png             what happened

With ``ema_decay`` set, validation and the saved model use an exponential moving average of the
weights instead of the last step's.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from sparkhtr.data.datasets import open_dataset
from sparkhtr.data.sample import LineSample
from sparkhtr.inference.preprocess import resize_line
from sparkhtr.inference.recognizer import Recognizer
from sparkhtr.io.image import ImageError
from sparkhtr.model.config import ModelConfig, PreprocessingConfig, architecture
from sparkhtr.model.files import build_model, load_model, save_model
from sparkhtr.model.span import SpanLineModel
from sparkhtr.text.charset import LATIN_CHARSET, Charset
from sparkhtr.train.batches import TrainBatch, TrainingBatches
from sparkhtr.train.config import TrainConfig
from sparkhtr.train.evaluate import evaluate
from sparkhtr.train.pictures import training_curve

__all__ = ["train", "open_sources"]

CHECKPOINT = "last.ckpt"


def open_sources(config: TrainConfig, charset: Charset | None, log) -> list[tuple[Sequence[LineSample], float]]:
    """Each training source as a sample sequence; lines the charset cannot encode are reported and left out."""
    sources = []
    for source in config.train:
        if source.spec.startswith("synthetic:"):
            from sparkhtr.data.synthetic import SyntheticLines

            samples: Sequence[LineSample] = SyntheticLines(
                source.spec.removeprefix("synthetic:"),
                size=config.synthetic_size,
                seed=config.seed,
                charset=set(charset.chars) if charset else None,
                caps_ratio=config.synthetic_caps_ratio,
            )
        else:
            report: list[str] = []
            samples = open_dataset(source.spec, split=source.split, report=report, splits=config.splits)
            for line in report:
                log({"kind": "skipped", "source": source.spec, "reason": line})
            if charset is not None:
                kept = [s for s in samples if not charset.missing(s.text)]
                for s in samples:
                    if charset.missing(s.text):
                        missing = "".join(sorted(charset.missing(s.text)))
                        log({"kind": "skipped", "id": s.id, "reason": f"characters not in the charset: {missing!r}"})
                samples = kept
        if not len(samples):
            raise ValueError(f"training source {source.spec!r} has no usable lines")
        sources.append((samples, source.weight))
    return sources


def estimate_normalization(
    samples: Sequence[LineSample], preprocessing: PreprocessingConfig, count: int = 200, seed: int = 0
) -> tuple[float, float]:
    """Mean and std of the resized training pixels (0-255 units), from a random subset of lines."""
    rng = random.Random(seed)
    values = []
    for sample in rng.sample(list(samples), min(count, len(samples))):
        values.append(np.asarray(resize_line(sample.image(), preprocessing), dtype=np.float32).ravel())
    pixels = np.concatenate(values)
    return float(pixels.mean()), float(pixels.std())


def _resolve_charset(config: TrainConfig) -> Charset | None:
    if config.charset == "latin":
        return Charset(LATIN_CHARSET)
    if isinstance(config.charset, list):
        return Charset(config.charset)
    return None  # "data": built from the training texts


def _build(config: TrainConfig, charset: Charset, sources) -> tuple[SpanLineModel, ModelConfig]:
    geometry = {"channels": 1, "line_height": config.line_height, "min_ink_share": config.min_ink_share}
    real = next((s for s, _ in sources if not type(s).__name__.startswith("Synthetic")), sources[0][0])
    mean, std = estimate_normalization(real, PreprocessingConfig(**geometry), seed=config.seed)
    preprocessing = PreprocessingConfig(**geometry, mean=(mean,), std=(std,))
    overrides = {"input_channels": 1} if config.dropout is None else {"input_channels": 1, "dropout": config.dropout}
    model_config = ModelConfig(architecture(config.architecture, **overrides), charset.chars, preprocessing)
    model = build_model(model_config)
    if config.init_from:
        base, base_config = load_model(config.init_from)
        # the base's pixel statistics are what its weights expect; the crop rule is this run's choice
        model_config.preprocessing = replace(base_config.preprocessing, min_ink_share=config.min_ink_share)
        state = base.state_dict()
        if base_config.charset != charset.chars:  # new charset: keep the encoder, re-initialise the head
            state = {k: v for k, v in state.items() if not k.startswith("end_conv.")}
        missing, _ = model.load_state_dict(state, strict=False)
        if any(not k.startswith("end_conv.") for k in missing):
            raise ValueError(f"{config.init_from}: architecture differs from {config.architecture!r}")
    return model, model_config


def _learning_rate(config: TrainConfig, step: int, minutes: float) -> float:
    """Linear warmup, then cosine decay over whichever budget, steps or minutes, runs out first."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    if config.max_minutes:
        progress = max(progress, minutes / config.max_minutes)
    progress = min(1.0, progress)
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train as ``config`` says; returns the output model directory (the best validated model)."""
    if config.ema_decay and not 0 < config.ema_decay < 1:
        raise ValueError(f"ema_decay must be between 0 and 1 (e.g. 0.999; 0 or none: off), not {config.ema_decay}")
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    log_file = (out / "log.jsonl").open("a", encoding="utf-8")

    skipped = 0

    def log(record: dict) -> None:
        nonlocal skipped
        skipped += record.get("kind") == "skipped"
        log_file.write(json.dumps(record, ensure_ascii=False) + "\n")
        log_file.flush()

    random.seed(config.seed)
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    charset = _resolve_charset(config)
    sources = open_sources(config, charset, log)
    if charset is None:
        charset = Charset.from_texts(s.text for samples, _ in sources for s in samples)
    checkpoint = out / CHECKPOINT
    state = torch.load(checkpoint, map_location="cpu", weights_only=True) if resume and checkpoint.exists() else None
    if state is not None:
        model_config = ModelConfig.from_dict(json.loads(state["model_config"]))
        model = build_model(model_config)
        model.load_state_dict(state["model"])
    else:
        model, model_config = _build(config, charset, sources)
    model_config.provenance = {"training": config.to_dict(), "sources": [s.spec for s in config.train]}
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    step, best_cer, seconds = 0, float("inf"), 0.0
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        step, best_cer, seconds = int(state["step"]), float(state["best_cer"]), float(state["seconds"])
    ema = _moving_average(model, config.ema_decay, state)
    evaluated = model if ema is None else ema.module
    log(
        {
            "kind": "start",
            "step": step,
            "parameters": sum(p.numel() for p in model.parameters()),
            "charset_size": len(charset),
            "config": config.to_dict(),
        }
    )

    augment = None
    if config.augment_p > 0 or config.writer_augment_p > 0:
        from sparkhtr.data.augment import Compose, span_augmentation, writer_style_augmentation

        steps = [span_augmentation(config.augment_p)] if config.augment_p > 0 else []
        if config.writer_augment_p > 0:
            steps.append(writer_style_augmentation(config.writer_augment_p))
        augment = steps[0] if len(steps) == 1 else Compose(steps)
    batches = TrainingBatches(
        sources,
        charset,
        model_config.preprocessing,
        config.batch_size,
        augment=augment,
        seed=config.seed + step,
    )
    loader = DataLoader(
        batches,
        batch_size=None,
        num_workers=config.workers,
        persistent_workers=config.workers > 0,
        prefetch_factor=4 if config.workers else None,
    )
    val_samples = _validation_samples(config)
    ctc = torch.nn.CTCLoss(blank=charset.blank, reduction="sum", zero_infinity=True)
    autocast = config.precision == "bf16"

    bar = tqdm(total=config.steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True)
    clock = time.process_time if config.clock == "cpu" else time.time  # what the time budget counts
    started, lines, window_start, window_lines = clock() - seconds, 0, time.time(), 0
    model.train()
    for batch in loader:
        if step >= config.steps:
            break
        batch: TrainBatch
        for reason in batch.skipped:
            log({"kind": "skipped", "reason": reason})
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, step, (clock() - started) / 60)
        with torch.autocast(device.type, torch.bfloat16, enabled=autocast):
            log_probs = model(batch.images.to(device), batch.sizes.to(device))
        loss = ctc(log_probs.transpose(0, 1), batch.targets, batch.input_lengths, batch.target_lengths)
        loss = loss / len(batch.target_lengths)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        if ema is not None:
            ema.update_parameters(model)
        step += 1
        lines += len(batch.target_lengths)
        window_lines += len(batch.target_lengths)
        bar.update(1)
        if step % 20 == 0:
            rate = window_lines / max(1e-6, time.time() - window_start)
            window_start, window_lines = time.time(), 0
            bar.set_postfix(loss=f"{loss.item():.2f}", lines_s=f"{rate:.1f}")
            log(
                {
                    "kind": "train",
                    "step": step,
                    "loss": loss.item(),
                    "lr": optimizer.param_groups[0]["lr"],
                    "lines_per_s": rate,
                    "minutes": (clock() - started) / 60,
                }
            )
        out_of_time = config.max_minutes is not None and clock() - started > config.max_minutes * 60
        done = step >= config.steps or out_of_time
        if val_samples and (step % config.eval_every == 0 or done):
            cer = _validate(evaluated, model_config, val_samples, step, clock() - started, log)
            model.train()
            if cer < best_cer:
                best_cer = cer
                save_model(out, evaluated, model_config)
        if step % config.checkpoint_every == 0 or done:
            if not val_samples:
                save_model(out, evaluated, model_config)
            saved = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "best_cer": best_cer,
                "seconds": clock() - started,
                "model_config": json.dumps(model_config.to_dict()),
            }
            if ema is not None:
                saved["ema"] = ema.state_dict()
            torch.save(saved, checkpoint)
            training_curve(out / "log.jsonl", out / "curve.png")
        if done:
            break
    bar.close()
    log(
        {
            "kind": "end",
            "step": step,
            "best_cer": best_cer,
            "minutes": (clock() - started) / 60,
            "skipped_lines": skipped,
        }
    )
    if val_samples:
        _store_position_lag(out, val_samples, log)  # each run that ends measures it anew
    log_file.close()
    training_curve(out / "log.jsonl", out / "curve.png")
    return out


def _moving_average(model: SpanLineModel, decay: float | None, state: dict | None) -> AveragedModel | None:
    """The exponential moving average of ``model``'s weights (None without a decay), resumed from a
    checkpoint's when it has one; otherwise it starts at the weights after the first step."""
    if not decay:
        return None
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))
    if state is not None and "ema" in state:
        ema.load_state_dict(state["ema"])
    return ema


def _store_position_lag(
    out: Path, samples: Sequence[LineSample], log: Callable[[dict], None], lines: int = 200
) -> None:
    """Measure the saved model's position lag (sparkhtr.calibrate.position_lag) on up to ``lines`` of
    ``samples`` (their images only; unreadable ones are skipped, as validation skips them), write
    it into its config.json; a model that reads too few spaces near word gaps yet
    gets 0, and the log says why."""
    from sparkhtr.calibrate.position_lag import TooFewSpaces, estimate_position_lag, write_position_lag

    recognizer = Recognizer.load(out, decoder="greedy")
    record: dict = {"kind": "position_lag"}
    try:
        lag = estimate_position_lag(recognizer, _readable_images(samples[:lines]))
        record.update(frames=round(lag.frames, 3), spaces=lag.spaces, lines=lag.lines)
    except TooFewSpaces as exc:
        record.update(frames=0.0, error=str(exc))
        tqdm.write(f"position lag kept at 0: {exc}")
    write_position_lag(out, recognizer.config, record["frames"])
    log(record)


def _readable_images(samples: Sequence[LineSample]) -> Iterator[Image.Image]:
    for sample in samples:
        try:
            yield sample.image()
        except ImageError:
            continue


def _validation_samples(config: TrainConfig) -> list[LineSample]:
    if not config.val:
        return []
    specs = [config.val] if isinstance(config.val, str) else config.val
    samples = [s for spec in specs for s in open_dataset(spec, split=config.val_split, splits=config.splits)]
    if config.val_limit:
        samples = random.Random(0).sample(samples, min(config.val_limit, len(samples)))
    return samples


def _validate(model, model_config, samples, step, seconds: float, log) -> float:
    model.eval()
    recognizer = Recognizer.from_model(model, model_config, device=str(next(model.parameters()).device))
    result = evaluate(recognizer, samples)
    log(
        {
            "kind": "val",
            "step": step,
            "cer": result.summary["cer"],
            "wer": result.summary["wer"],
            "lines": result.summary["lines"],
            "minutes": seconds / 60,
        }
    )
    tqdm.write(f"step {step}: val CER {100 * result.summary['cer']:.2f} %  WER {100 * result.summary['wer']:.2f} %")
    return result.summary["cer"]
