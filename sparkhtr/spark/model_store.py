"""A model's files as bytes, their digest, and the one local copy of them that an executor's workers share.

Why a shared copy: the driver broadcasts the model's files, and every Python worker must load them
from disk. Each worker writing its own temp folder left one model copy per worker in /tmp (workers
are killed, so an ``atexit`` cleanup does not run). Inside Spark, the copy goes into the
executor's SparkFiles folder instead, which Spark deletes when the application ends, under a name
that is the files' SHA-256: the workers of one executor write it once (atomically, by renaming a
finished folder) and all load from it. A folder found there is used only if its files hash to
that digest, so a half-written or altered copy is never loaded.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["model_file_paths", "read_model_files", "model_digest", "check_model_digest", "materialize_model"]

_log = logging.getLogger(__name__)
_MODEL_DIRS: dict[str, Path] = {}
SHARED_SUBDIR = "sparkhtr-models"


def model_file_paths(source: str | Path) -> list[Path]:
    """The files that make up a model: a directory's plain files (hidden ones skipped), or one file."""
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no such model directory or file")
    paths = [p for p in sorted(source.iterdir()) if p.is_file() and not p.name.startswith(".")]
    if not paths:
        raise FileNotFoundError(f"{source}: the model directory is empty")
    return paths


def read_model_files(source: str | Path) -> dict[str, bytes]:
    """The model's files (config, weights, card... or a single .onnx) by name, with their bytes."""
    return {p.name: p.read_bytes() for p in model_file_paths(source)}


def model_digest(files: Mapping[str, bytes]) -> str:
    """SHA-256 over the files' names, sizes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode("utf-8") + b"\0" + len(files[name]).to_bytes(8, "little"))
        digest.update(files[name])
    return digest.hexdigest()


def check_model_digest(folder: str | Path, names: list[str], expected: str) -> None:
    """Raise ValueError naming ``folder`` unless its files ``names`` hash to ``expected``."""
    folder = Path(folder)
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: the saved model is incomplete, missing {', '.join(missing)}")
    actual = model_digest({name: (folder / name).read_bytes() for name in names})
    if actual != expected:
        raise ValueError(
            f"{folder}: the model files do not match the digest saved with them "
            f"(modelSha256 {expected[:16]}..., found {actual[:16]}...): they were altered or damaged "
            "after the pipeline was saved; save the pipeline again from a trusted model"
        )


def _executor_root() -> Path | None:
    """The executor's SparkFiles folder when running inside a Spark Python worker, else None."""
    try:
        from pyspark import SparkFiles
    except ImportError:
        return None
    if not getattr(SparkFiles, "_is_running_on_worker", False):
        return None
    try:
        return Path(SparkFiles.getRootDirectory())
    except Exception:  # no files folder set up for this worker: fall back to a private copy
        return None


def _folder_digest(folder: Path) -> str | None:
    try:
        return model_digest(read_model_files(folder))
    except OSError:
        return None


def _write(folder: Path, files: Mapping[str, bytes]) -> None:
    for name, content in files.items():
        (folder / name).write_bytes(content)


def _private_copy(digest: str, files: Mapping[str, bytes]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"sparkhtr-model-{digest[:12]}-"))
    atexit.register(shutil.rmtree, folder, True)
    _write(folder, files)
    return folder


def _shared_copy(root: Path, digest: str, files: Callable[[], Mapping[str, bytes]]) -> Path:
    final = root / SHARED_SUBDIR / digest
    if final.is_dir() and _folder_digest(final) == digest:
        return final  # another worker of this executor wrote it
    final.parent.mkdir(parents=True, exist_ok=True)
    content = files()
    partial = Path(tempfile.mkdtemp(prefix=f".partial-{digest[:12]}-", dir=final.parent))
    _write(partial, content)
    try:
        os.rename(partial, final)  # atomic: other workers see no folder or a whole one
        return final
    except OSError:  # another worker renamed first (or a stale folder is in the way)
        shutil.rmtree(partial, ignore_errors=True)
    if _folder_digest(final) == digest:
        return final
    _log.warning("%s does not hold the model it is named after; this worker uses a private copy", final)
    return _private_copy(digest, content)


def materialize_model(digest: str, files: Callable[[], Mapping[str, bytes]]) -> Path:
    """A local folder holding the model files whose digest is ``digest``, written at most once per process.

    ``files`` is called (reading the broadcast) only when no good copy exists yet.
    """
    if digest not in _MODEL_DIRS:
        root = _executor_root()
        _MODEL_DIRS[digest] = _shared_copy(root, digest, files) if root else _private_copy(digest, files())
    return _MODEL_DIRS[digest]
