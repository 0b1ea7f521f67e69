"""``load``: a Predictor from a model directory (or an .onnx file), every part chosen and wired here.

Which backend, when ``backend="auto"`` (the default):

1. A GPU, where torch is installed and sees one (and no other device was asked for): the float
   model on it, with torch.
2. Else the exported graph the model directory's config.json permits: its ``"backends"`` record
   names an ONNX file and the dev-split CERs measured for it and for the float model, and the
   graph is used when it reads within ``AUTO_MAX_CER_GAP`` CER points of the float model and
   onnxruntime is installed. It is the fastest CPU path (the bundled int8 graph: about 6x torch
   fp32 on 2 cores, benchmarks/README.md).
3. Else torch. A model without that record keeps torch; an .onnx file given alone is read with
   onnxruntime, and so is the graph a model ships where torch is not installed (with a warning
   when it is not recorded as accurate enough: it is all such an install can read).

``Choice.reason`` says why, for ``--verbose`` and logs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sparkhtr.inference.backends import Backend
from sparkhtr.inference.line_decoder import LineDecoder
from sparkhtr.inference.predictor import Predictor
from sparkhtr.inference.preprocess import LinePreprocessor
from sparkhtr.io.image import ImageLimits
from sparkhtr.model.config import ModelConfig
from sparkhtr.model.files import INT8_ONNX_FILE, ONNX_FILE, load_backends
from sparkhtr.text.charset import check_letter_case
from sparkhtr.text.decoders import Decoder, make_decoder

__all__ = ["BACKENDS", "AUTO_MAX_CER_GAP", "Choice", "choose_backend", "load", "installed", "gpu_visible"]

BACKENDS = ("auto", "torch", "onnx")
AUTO_MAX_CER_GAP = 0.3  # CER points (percent) an exported graph may read worse than the float model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Choice:
    backend: str  # "torch" or "onnx"
    device: str | None  # None: the backend's default (the CPU)
    file: Path | None  # the ONNX file to read; None: the model directory's weights
    reason: str


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (torch takes seconds to)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def gpu_visible() -> bool:
    """Whether torch is installed and sees a GPU. Where no GPU driver shows (no /dev/nvidia* or
    /dev/kfd on Linux) torch is not even imported: that check alone costs a second and 300 MB."""
    if not installed("torch") or os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    if os.name == "posix" and not any(Path(p).exists() for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd")):
        return False
    from sparkhtr.inference.torch_backend import gpu_available

    return gpu_available()


def permitted_onnx(model_dir: Path) -> tuple[Path | None, str]:
    """The ONNX file the model directory's record lets "auto" use, or None; and why."""
    record = load_backends(model_dir)
    graph, float_model = record.get("onnx"), record.get("torch")
    if graph is None or float_model is None or not graph.get("file"):
        return None, "the model records no ONNX graph measured against the float model"
    gap = graph["dev_cer"] - float_model["dev_cer"]
    if gap > AUTO_MAX_CER_GAP:
        return None, f"its ONNX graph reads {gap:.2f} CER points worse than the float model (over {AUTO_MAX_CER_GAP})"
    file = model_dir / graph["file"]
    if not file.is_file():
        return None, f"{graph['file']}, recorded as its ONNX graph, is missing"
    measured = f"dev CER {graph['dev_cer']:.2f} % vs {float_model['dev_cer']:.2f} % for the float model"
    return file, measured


def choose_backend(path: str | Path, backend: str = "auto", device: str | None = None) -> Choice:
    """Which backend reads the model at ``path`` on ``device`` (see the module's docstring)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: use 'auto', 'torch' or 'onnx'")
    path = Path(path)
    gpu_asked = device is not None and str(device).startswith("cuda")
    if backend == "onnx" or (backend == "auto" and path.is_file()):
        return Choice("onnx", device, None, "asked for" if backend == "onnx" else "an ONNX file")
    if device is None and installed("torch") and gpu_visible():
        return Choice("torch", "cuda", None, "asked for, on the GPU torch sees" if backend == "torch" else
                      "torch sees a GPU")
    if backend == "torch":
        return Choice("torch", device, None, "asked for")
    if gpu_asked:
        return Choice("torch", device, None, f"device {device!r} asked for")
    file, why = permitted_onnx(path)
    if file is not None and installed("onnxruntime"):
        return Choice("onnx", device, file, f"{file.name}: {why}")
    if installed("torch"):
        if file is not None:
            why = f"onnxruntime is not installed (pip install 'sparkhtr[onnx]'), so {file.name} cannot run"
        return Choice("torch", device, None, why)
    if not installed("onnxruntime"):
        raise ImportError(
            "sparkhtr needs a backend: pip install 'sparkhtr[onnx]' (onnxruntime, the exported graph) "
            "or 'sparkhtr[torch]' (the float model)"
        )
    graph = _any_onnx(path)
    if graph is None:
        raise ImportError(f"{path}: {why}, and it ships no ONNX graph; its float model needs torch: pip install torch")
    # An install without torch can read nothing else: the graph it ships, though unmeasured, beats an error.
    log.warning("%s: torch is not installed, so its ONNX graph %s reads (%s)", path, graph.name, why)
    return Choice("onnx", device, graph, f"{graph.name}: torch is not installed ({why})")


def _any_onnx(model_dir: Path) -> Path | None:
    for name in (ONNX_FILE, INT8_ONNX_FILE):
        if (model_dir / name).is_file():
            return model_dir / name
    return None


def load(
    path: str | Path,
    backend: str = "auto",
    device: str | None = None,
    num_threads: int | None = None,
    decoder: str | Decoder = "auto",
    lm: str | Path | None = None,
    lang: str | None = None,
    limits: ImageLimits = ImageLimits(),
    letter_case: str = "as_read",
) -> tuple[Predictor, ModelConfig, Choice]:
    """The predictor for the model at ``path``, its config, and the backend choice made.

    Arguments as ``Recognizer.load``'s; the decoder and letter case are checked before the
    network is loaded (seconds), so a typo fails at once."""
    check_letter_case(letter_case)
    if isinstance(decoder, str):
        decoder = make_decoder(decoder, path, lm, lang=lang)
    choice = choose_backend(path, backend, device)
    runner: Backend
    if choice.backend == "onnx":
        from sparkhtr.inference.onnx_backend import load_onnx_backend

        runner, config = load_onnx_backend(choice.file or path, choice.device, num_threads=num_threads)
    else:
        from sparkhtr.inference.torch_backend import load_torch_backend

        runner, config = load_torch_backend(path, choice.device, num_threads)
    predictor = Predictor(
        LinePreprocessor(config.preprocessing, limits),
        runner,
        LineDecoder(config.charset, decoder, config.position_lag, letter_case),
    )
    return predictor, config, choice
