"""Import a line-model checkpoint written by the official SPAN code into a sparkhtr model directory.

Why: published SPAN weights (IAM, RIMES, READ 2016) are ``torch.save`` pickles that hold only the
network; the charset and the input normalisation live elsewhere. This module joins the three into a
self-contained sparkhtr model (``config.json`` + ``model.safetensors``) that gives the same
log-probabilities as the official implementation, so they can be used and compared without the
original training code.

Safety: the checkpoint is read with ``torch.load(weights_only=True)``, which only rebuilds tensors and
plain containers. The one widening is numpy scalars and arrays (the official code may store metrics
such as ``best`` as numpy floats); those are data, never code. Anything else is refused.

Charset files (``read_charset_file``) come in two forms:

* a JSON list of strings, e.g. ``[" ", "!", "a"]`` (the file's first non-blank character is ``[``);
* one character per line, in class-index order. Only the line terminator (``\\n`` or ``\\r\\n``) is
  removed, nothing else: a line that is exactly one space IS the space character, a line holding a tab
  is the tab. A line with zero or more than one character (e.g. a stray trailing space) is an error
  naming the line, rather than a silently shifted charset. Newline itself cannot be written this way;
  use the JSON form for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from sparkhtr.model.config import ArchitectureConfig, ModelConfig, PreprocessingConfig, architecture
from sparkhtr.model.files import CONFIG_FILE, build_model, save_model
from sparkhtr.model.span import SpanLineModel

__all__ = [
    "SpanImportError",
    "import_span_checkpoint",
    "load_span_checkpoint",
    "read_charset_file",
    "SPAN_ENCODER_KEY",
    "SPAN_DECODER_KEY",
]

SPAN_ENCODER_KEY = "encoder_state_dict"
SPAN_DECODER_KEY = "decoder_state_dict"
_HEAD_PREFIX = "end_conv."  # the decoder's keys; everything else in SpanLineModel is the encoder
_DDP_PREFIX = "module."


class SpanImportError(ValueError):
    """A checkpoint or charset file cannot be imported; the message names the file (and the key)."""


# ---------------------------------------------------------------------------------------------- charset


def read_charset_file(path: str | os.PathLike[str]) -> list[str]:
    """The characters of a charset file, in class-index order (see the module docstring for the format)."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise SpanImportError(f"{path}: no such charset file") from None
    except UnicodeDecodeError as exc:
        raise SpanImportError(f"{path}: a charset file must be UTF-8 text ({exc})") from None
    text = text.removeprefix("\ufeff")
    if not text:
        raise SpanImportError(f"{path}: empty charset file")
    json_error = None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            json_error = exc  # may still be a one-per-line file whose first character is "["
        else:
            if not isinstance(data, list) or not all(isinstance(c, str) for c in data):
                raise SpanImportError(f"{path}: a JSON charset must be a list of strings")
            return _checked_charset(data, path, lambda i: f"entry {i}")
    if text.endswith("\n"):
        text = text[:-1]  # the last line's terminator ends the line, it does not start an empty one
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    try:
        return _checked_charset(lines, path, lambda i: f"line {i + 1}")
    except SpanImportError as exc:
        if json_error is not None:
            raise SpanImportError(f"{exc} (and it is not valid JSON either: {json_error})") from None
        raise


def _checked_charset(chars: Sequence[str], source: Path | str, where: Any) -> list[str]:
    seen: dict[str, int] = {}
    for i, char in enumerate(chars):
        if len(char) != 1:
            hint = " (a line that is exactly one space is the space character)" if char.strip() != char else ""
            raise SpanImportError(
                f"{source}: {where(i)} is {char!r}, {len(char)} characters; each must be exactly one{hint}"
            )
        if char in seen:
            raise SpanImportError(f"{source}: {where(i)} repeats {char!r}, already {where(seen[char])}")
        seen[char] = i
    if not chars:
        raise SpanImportError(f"{source}: the charset is empty")
    return list(chars)


# ---------------------------------------------------------------------------------------------- checkpoint


def _numpy_safe_globals() -> list[Any]:
    """numpy scalar/array reconstruction, under both numpy 1 and numpy 2 module names: data only.

    (function, name) aliases need torch >= 2.6; before that only the running numpy's names are allowed.
    """
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return []
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1
        from numpy.core import multiarray
    allowed: list[Any] = [np.ndarray, np.dtype]
    allowed += [type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_)]
    for name in ("scalar", "_reconstruct"):
        function = getattr(multiarray, name)
        allowed.append(function)
        if torch.__version__ >= (2, 6):
            for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
                allowed.append((function, f"{module}.{name}"))
    return allowed


def _first_line(exc: BaseException) -> str:
    message = str(exc)
    for line in message.splitlines():
        if "WeightsUnpickler error" in line:  # the useful part of torch's long weights-only message
            return line.strip().split(". Please use")[0]
    return message.splitlines()[0] if message else type(exc).__name__


def load_span_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint file safely (tensors and plain data only) and return its top-level dict."""
    path = Path(path)
    if not path.is_file():
        raise SpanImportError(f"{path}: no such checkpoint file")
    safe_globals = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    allowed = contextlib.nullcontext() if safe_globals is None else safe_globals(_numpy_safe_globals())
    try:
        with allowed:
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises anything from KeyError to UnpicklingError on a bad file
        raise SpanImportError(
            f"{path}: not a readable PyTorch checkpoint, or it holds objects other than tensors and plain data "
            f"({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    if not isinstance(data, Mapping):
        raise SpanImportError(f"{path}: not a SPAN checkpoint: it holds a {type(data).__name__}, not a dict")
    missing = [key for key in (SPAN_ENCODER_KEY, SPAN_DECODER_KEY) if key not in data]
    if missing:
        found = ", ".join(repr(k) for k in list(data)[:10]) or "none"
        raise SpanImportError(f"{path}: not a SPAN checkpoint: no {' or '.join(map(repr, missing))} (keys: {found})")
    return dict(data)


def _state_dict(data: Mapping[str, Any], key: str, path: Path) -> dict[str, Tensor]:
    state = data[key]
    if not isinstance(state, Mapping):
        raise SpanImportError(f"{path}: {key} is a {type(state).__name__}, not a state dict")
    if state and all(isinstance(k, str) and k.startswith(_DDP_PREFIX) for k in state):
        state = {k[len(_DDP_PREFIX) :]: v for k, v in state.items()}  # saved from a DistributedDataParallel
    for name, value in state.items():
        if not isinstance(value, Tensor):
            raise SpanImportError(f"{path}: {key}[{name!r}] is a {type(value).__name__}, not a tensor")
        if not value.is_floating_point():
            raise SpanImportError(f"{path}: {key}[{name!r}] has dtype {value.dtype}, expected floating point")
    return dict(state)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _floats(values: Sequence[float], name: str) -> tuple[float, ...]:
    values = tuple(float(v) for v in values)
    if not all(math.isfinite(v) for v in values):
        raise SpanImportError(f"{name} must be finite numbers, got {values}")
    return values


def import_span_checkpoint(
    checkpoint: str | os.PathLike[str],
    charset: Sequence[str] | str | os.PathLike[str],
    mean: Sequence[float],
    std: Sequence[float],
    rescale: float = 0.5,
    out: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
) -> tuple[SpanLineModel, ModelConfig]:
    """Convert an official SPAN line-model checkpoint into a sparkhtr model (in eval mode).

    Args:
        checkpoint: the ``.pt`` file the official code wrote (``encoder_state_dict`` +
            ``decoder_state_dict``; keys may carry DDP's ``module.`` prefix).
        charset: the characters in class-index order (a list), or the path of a charset file
            (``str`` or ``Path``; see ``read_charset_file``). The CTC blank is the extra last class.
        mean, std: the training set's per-channel normalisation, in 0-255 units, one value per
            input channel (3 for the published models).
        rescale: factor applied to both image axes before the network; SPAN's default is 0.5,
            1.0 means none. No height normalisation, as in SPAN.
        out: if given, the model directory to write (``config.json`` + ``model.safetensors``).
        overwrite: replace a model already in ``out`` instead of refusing.

    Raises:
        SpanImportError: a file is unreadable, a key is missing, a tensor has the wrong shape, or the
            charset size does not match the head's rows; the message names the file and the key.
    """
    path = Path(checkpoint)
    charset_source: Path | None = None
    if isinstance(charset, (str, os.PathLike)):
        charset_source = Path(charset)
        chars = read_charset_file(charset_source)
    else:
        chars = _checked_charset(list(charset), "charset", lambda i: f"entry {i}")
    if not (isinstance(rescale, (int, float)) and math.isfinite(rescale) and rescale > 0):
        raise SpanImportError(f"rescale must be a positive number, got {rescale!r}")
    mean, std = _floats(mean, "mean"), _floats(std, "std")
    if out is not None and not overwrite and (Path(out) / CONFIG_FILE).exists():
        raise SpanImportError(f"{out}: already holds a model (--force, or overwrite=True, replaces it)")

    data = load_span_checkpoint(path)
    encoder = _state_dict(data, SPAN_ENCODER_KEY, path)
    decoder = _state_dict(data, SPAN_DECODER_KEY, path)

    first = "init_blocks.0.conv1.weight"
    if first not in encoder:
        raise SpanImportError(f"{path}: {SPAN_ENCODER_KEY} is missing {first!r}")
    if encoder[first].dim() != 4:
        raise SpanImportError(
            f"{path}: {SPAN_ENCODER_KEY}[{first!r}] has shape {_shape(encoder[first].shape)}, not 4-D"
        )
    input_channels = int(encoder[first].shape[1])
    if input_channels not in (1, 3):
        raise SpanImportError(f"{path}: {SPAN_ENCODER_KEY}[{first!r}] takes {input_channels} input channels; 1 or 3")
    head = _HEAD_PREFIX + "weight"
    if head not in decoder:
        raise SpanImportError(f"{path}: {SPAN_DECODER_KEY} is missing {head!r}")
    rows = int(decoder[head].shape[0]) if decoder[head].dim() > 0 else 0
    if rows != len(chars) + 1:
        where = f"the charset file {charset_source}" if charset_source else "the charset"
        raise SpanImportError(
            f"{path}: {SPAN_DECODER_KEY}[{head!r}] has {rows} rows ({rows - 1} characters + the CTC blank) "
            f"but {where} has {len(chars)} characters; the charset must list exactly the training characters, "
            f"in class-index order"
        )
    if len(mean) != input_channels or len(std) != input_channels:
        raise SpanImportError(
            f"{path}: the network takes {input_channels} channels, so mean and std need {input_channels} values "
            f"each (got {len(mean)} and {len(std)})"
        )
    if any(s <= 0 for s in std):
        raise SpanImportError(f"std must be positive, got {std}")
    if max(mean) <= 1.0 and max(std) <= 1.0:
        warnings.warn(
            f"mean {mean} and std {std} look like 0-1 units; SPAN normalises 0-255 pixel values", stacklevel=2
        )

    arch: ArchitectureConfig = architecture("span", input_channels=input_channels)
    config = ModelConfig(
        architecture=arch,
        charset=chars,
        preprocessing=PreprocessingConfig(
            channels=input_channels, line_height=None, rescale=float(rescale), mean=mean, std=std
        ),
        provenance=_provenance(path, data, charset_source),
    )
    model = build_model(config)
    expected = model.state_dict()
    state: dict[str, Tensor] = {}
    for name, target in expected.items():
        group, source = (SPAN_DECODER_KEY, decoder) if name.startswith(_HEAD_PREFIX) else (SPAN_ENCODER_KEY, encoder)
        if name not in source:
            raise SpanImportError(f"{path}: {group} is missing {name!r}")
        tensor = source[name]
        if tensor.shape != target.shape:
            raise SpanImportError(
                f"{path}: {group}[{name!r}] has shape {_shape(tensor.shape)}, expected {_shape(target.shape)} "
                f"(the SPAN line model)"
            )
        if not torch.isfinite(tensor).all():
            raise SpanImportError(f"{path}: {group}[{name!r}] holds NaN or infinite values")
        state[name] = tensor.float()
    unexpected = [(SPAN_ENCODER_KEY, k) for k in encoder if k not in expected or k.startswith(_HEAD_PREFIX)]
    unexpected += [(SPAN_DECODER_KEY, k) for k in decoder if k not in expected or not k.startswith(_HEAD_PREFIX)]
    if unexpected:
        group, name = unexpected[0]
        raise SpanImportError(f"{path}: {group} has unexpected key {name!r} (not part of the SPAN line model)")
    model.load_state_dict(state)
    model.eval()
    if out is not None:
        save_model(out, model, config)
    return model, config


def _provenance(path: Path, data: Mapping[str, Any], charset_source: Path | None) -> dict[str, Any]:
    from sparkhtr import __version__

    provenance: dict[str, Any] = {
        "source": "official SPAN (FactoDeepLearning/SPAN, Coquenet et al. 2021) line-model checkpoint",
        "weights": "trained by the official SPAN implementation; converted to sparkhtr's format, not retrained",
        "checkpoint_file": path.name,
        "checkpoint_sha256": _sha256(path),
        "imported_with": f"sparkhtr {__version__} import-span",
    }
    for key in ("epoch", "best"):  # plain numbers only (numpy and 0-d tensors via .item())
        value = data.get(key)
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            value = value.item()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            provenance[f"checkpoint_{key}"] = value
    if charset_source is not None:
        provenance["charset_file"] = charset_source.name
    return provenance
