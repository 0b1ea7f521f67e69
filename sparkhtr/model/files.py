"""A model on disk is a directory: ``config.json`` + ``model.safetensors`` (+ an optional MODEL_CARD.md).

safetensors holds only tensors, so loading a model never unpickles anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from sparkhtr.model.config import ModelConfig
from sparkhtr.model.span import SpanLineModel

__all__ = ["ModelFileError", "save_model", "load_model", "build_model", "CONFIG_FILE", "WEIGHTS_FILE"]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MAX_CONFIG_BYTES = 16 * 2**20  # a real one is a few kB (its charset and provenance); refuse before parsing


class ModelFileError(RuntimeError):
    """A model directory is missing, incomplete or corrupt; the message names the file."""


def build_model(config: ModelConfig) -> SpanLineModel:
    return SpanLineModel(config.architecture, config.num_classes)


def save_model(
    directory: str | Path, model: SpanLineModel, config: ModelConfig, dtype: torch.dtype = torch.float32
) -> Path:
    """Write ``config.json`` and the weights (cast to ``dtype``, e.g. float16 to halve the size)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE))
    save_config(directory, config)
    return directory


def save_config(directory: str | Path, config: ModelConfig) -> None:
    """Write ``config.json`` alone (the weights stay as they are)."""
    text = json.dumps(config.to_dict(), ensure_ascii=False, indent=1) + "\n"
    (Path(directory) / CONFIG_FILE).write_text(text, "utf-8")


def load_config(directory: str | Path) -> ModelConfig:
    path = Path(directory) / CONFIG_FILE
    if not Path(directory).is_dir():
        raise ModelFileError(f"{directory}: no such model directory")
    if not path.is_file():
        raise ModelFileError(f"{path}: missing (a model directory holds {CONFIG_FILE} and {WEIGHTS_FILE})")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ModelFileError(f"{path}: {size:,} bytes, over the {MAX_CONFIG_BYTES:,} a model config may have")
    try:
        return ModelConfig.from_dict(json.loads(path.read_text("utf-8")))
    except (ValueError, KeyError, TypeError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        raise ModelFileError(f"{path}: not a valid model config: {exc}") from exc


def load_model(directory: str | Path) -> tuple[SpanLineModel, ModelConfig]:
    """Rebuild the network from a model directory, in float32 and eval mode."""
    config = load_config(directory)
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFileError(f"{weights}: missing")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{weights}: corrupt or unreadable: {exc}") from exc
    model = build_model(config)
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        raise ModelFileError(f"{weights}: weights do not fit {CONFIG_FILE}: {exc}") from exc
    state = model.state_dict()
    bad = [name for name, value in state.items() if value.is_floating_point() and not value.isfinite().all()]
    if bad:  # a NaN weight reads every line as the same garbage: refuse the model instead
        raise ModelFileError(f"{weights}: {len(bad)} tensor(s) hold NaN or infinite values, e.g. {bad[0]}")
    return model.eval(), config
