"""A model on disk is a directory: ``config.json`` + ``model.safetensors`` (+ an optional MODEL_CARD.md,
exported graphs ``model.onnx`` / ``model.int8.onnx``, language models).

safetensors holds only tensors, so loading a model never unpickles anything. Reading a config
needs no torch (this module imports torch only to build or save the network), so an install
without torch can read a model directory and run its ONNX graph.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkhtr.model.config import ModelConfig

if TYPE_CHECKING:
    import torch

    from sparkhtr.model.span import SpanLineModel

__all__ = [
    "ModelFileError", "save_model", "load_model", "build_model", "save_config", "load_config", "load_backends",
    "CONFIG_FILE", "WEIGHTS_FILE", "ONNX_FILE", "INT8_ONNX_FILE", "ONNX_CONFIG_KEY", "BACKENDS_KEY",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
# The exported graphs' names and the metadata key holding their config: those of
# sparkhtr.model.onnx_export (which needs torch to import; tests/packaging checks they agree).
ONNX_FILE = "model.onnx"
INT8_ONNX_FILE = "model.int8.onnx"
ONNX_CONFIG_KEY = "sparkhtr.config"
# config.json's optional record of which backends may read for the float model (see load_backends).
BACKENDS_KEY = "backends"
MAX_CONFIG_BYTES = 16 * 2**20  # a real one is a few kB (its charset and provenance); refuse before parsing


class ModelFileError(RuntimeError):
    """A model directory is missing, incomplete or corrupt; the message names the file."""


def build_model(config: ModelConfig) -> SpanLineModel:
    from sparkhtr.model.span import SpanLineModel

    return SpanLineModel(config.architecture, config.num_classes)


def save_model(
    directory: str | Path, model: SpanLineModel, config: ModelConfig, dtype: torch.dtype | None = None
) -> Path:
    """Write ``config.json`` and the weights (cast to ``dtype``, e.g. float16 to halve the size;
    default float32)."""
    import torch
    from safetensors.torch import save_file

    dtype = dtype or torch.float32
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE))
    save_config(directory, config)
    return directory


def save_config(directory: str | Path, config: ModelConfig) -> None:
    """Write ``config.json`` alone (the weights stay as they are). A ``backends`` record already
    in the file is kept: it describes files beside the config, which a new config does not change."""
    path = Path(directory) / CONFIG_FILE
    data = config.to_dict()
    kept = _raw_config(path).get(BACKENDS_KEY) if path.is_file() else None
    if kept is not None:
        data[BACKENDS_KEY] = kept
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", "utf-8")


def _raw_config(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            return {}
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def load_backends(directory: str | Path) -> dict[str, dict[str, Any]]:
    """The model directory's record of its backends, from config.json's optional ``"backends"``:
    ``{"torch": {"dev_cer": 10.00}, "onnx": {"file": "model.int8.onnx", "dev_cer": 10.14}, ...}``
    (CER in percent, measured on the dev split named by an optional ``"measured_on"``). Entries that
    are not of that form are left out (a malformed record must not stop a model from loading: it
    only loses the permission it would have given); {} when there is none."""
    path = Path(directory) / CONFIG_FILE
    record = _raw_config(path).get(BACKENDS_KEY) if path.is_file() else None
    if not isinstance(record, dict):
        return {}
    found: dict[str, dict[str, Any]] = {}
    for name, entry in record.items():
        if not isinstance(entry, dict):
            continue
        cer, file = entry.get("dev_cer"), entry.get("file")
        if isinstance(cer, bool) or not isinstance(cer, (int, float)) or not math.isfinite(cer) or cer < 0:
            continue
        if file is not None and (not isinstance(file, str) or Path(file).name != file):
            continue  # a file name beside the config, never a path out of the model directory
        found[str(name)] = {**entry, "dev_cer": float(cer)}
    return found


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
    from safetensors import SafetensorError
    from safetensors.torch import load_file

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
