"""Recording which exported graph may read for a model: config.json's ``"backends"`` entry.

``backend="auto"`` reads with a model's ONNX graph only where this record says the graph reads
within ``sparkhtr.inference.loader.AUTO_MAX_CER_GAP`` CER points of the float model on a dev split
(sparkhtr.inference.loader). ``measure_backends`` reads the dev lines with both (the default
decoder), as ``sparkhtr export-onnx ... --record-dev`` does after writing a graph; or measure both
with ``sparkhtr evaluate`` (``--backend torch`` and ``--backend onnx``, the same split) and write
the figures here::

    record_backends("sparkhtr/pretrained/span_small_latin", "model.int8.onnx", onnx_cer=10.14,
                    float_cer=10.00, measured_on="copiste_dun_jour_fr val, default decoder")
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkhtr.model.files import BACKENDS_KEY, CONFIG_FILE, WEIGHTS_FILE, load_backends, load_config

__all__ = ["record_backends", "measure_backends", "BackendsMeasure"]


def record_backends(
    model_dir: str | Path, onnx_file: str, onnx_cer: float, float_cer: float, measured_on: str
) -> dict[str, Any]:
    """Write the dev CERs (percent) of the graph ``onnx_file`` (a file in ``model_dir``) and of the
    float model into ``model_dir``'s config.json, every other key kept; return the entry written."""
    model_dir = Path(model_dir)
    load_config(model_dir)  # a model directory with a valid config, or ModelFileError
    if Path(onnx_file).name != onnx_file or not (model_dir / onnx_file).is_file():
        raise ValueError(f"{onnx_file!r}: not a file of {model_dir}")
    for name, value in (("onnx_cer", onnx_cer), ("float_cer", float_cer)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 100):
            raise ValueError(f"{name} is a CER in percent (0-100), got {value!r}")
    entry = {
        "measured_on": measured_on,
        "torch": {"file": WEIGHTS_FILE, "dev_cer": round(float(float_cer), 3)},
        "onnx": {"file": onnx_file, "dev_cer": round(float(onnx_cer), 3)},
    }
    path = model_dir / CONFIG_FILE
    data = json.loads(path.read_text("utf-8"))
    data[BACKENDS_KEY] = entry
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", "utf-8")
    if not load_backends(model_dir).keys() >= {"torch", "onnx"}:  # the loader must read back what was written
        raise RuntimeError(f"{path}: the backends record written does not read back")
    return entry


@dataclass(frozen=True)
class BackendsMeasure:
    float_cer: float  # percent, the float model (torch) with the model's default decoder
    onnx_cer: float  # percent, the graph, same lines, same decoder
    lines: int
    measured_on: str  # for the record: which lines, which decoder

    @property
    def gap(self) -> float:
        return self.onnx_cer - self.float_cer


def measure_backends(
    model_dir: str | Path,
    onnx_file: str,
    datasets: Sequence[str],
    split: str = "dev",
    splits: str | Path | None = None,
    progress: bool = True,
) -> BackendsMeasure:
    """CER of the float model and of its graph ``onnx_file`` (a file in ``model_dir``) on every
    ``split`` line of ``datasets`` (split maps from ``splits``), both with the model's default
    decoder (beam search with its LM when it ships one): what ``record_backends`` writes."""
    from sparkhtr.data.datasets import open_dataset
    from sparkhtr.inference.recognizer import Recognizer
    from sparkhtr.text.decoders import make_decoder
    from sparkhtr.train.evaluate import evaluate

    model_dir = Path(model_dir)
    samples = [s for spec in datasets for s in open_dataset(spec, split=split, splits=splits)]
    if not samples:
        raise ValueError(f"no {split!r} lines in {', '.join(datasets)} to measure the backends on")
    decoder = make_decoder("auto", model_dir)  # one LM in memory for both
    cers = {}
    for backend, path in (("torch", model_dir), ("onnx", model_dir / onnx_file)):
        recognizer = Recognizer.load(path, backend=backend, decoder=decoder)
        result = evaluate(recognizer, samples, progress=progress)
        if result.skipped:  # both must read the same lines, or the gap means nothing
            raise RuntimeError(f"{len(result.skipped)} {split} line(s) could not be read: {result.skipped[0]}")
        cers[backend] = 100 * result.summary["cer"]
    where = f"split maps {splits}" if splits else "the datasets' own splits"
    names = ", ".join(Path(spec.split(":", 1)[-1]).name for spec in datasets)
    measured_on = f"every {split} line of {names} ({where}; {len(samples):,} lines), default decoder ({decoder.name})"
    return BackendsMeasure(cers["torch"], cers["onnx"], len(samples), measured_on)
