"""Save and load the recognizer stage with its model files, so a saved pipeline is self-contained.

Spark ML's default persistence keeps Params only, so a saved stage would hold a path to weights
that another machine does not have. The writer here saves the Params (metadata, as
``DefaultParamsWriter`` does) and copies the model directory's files into ``<stage>/model``
through Hadoop's FileSystem, the same way Spark writes the metadata: any path Spark can save to
works (local, HDFS, S3 with its connector). On load, a local stage folder is used in place;
a remote one is copied to a local temp folder first, because the model is read with plain file I/O.
Either way the files must hash to the ``modelSha256`` saved with them, or the load fails.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReader, MLWriter
from pyspark.sql import SparkSession

from sparkhtr.spark.model_store import check_model_digest, model_digest, read_model_files

__all__ = ["MODEL_SUBDIR", "RecognizerWriter", "RecognizerReader", "copy_model_to", "localize_model"]

MODEL_SUBDIR = "model"


def _filesystem(spark: SparkSession, path: str) -> tuple[Any, Any, Any]:
    sc = spark.sparkContext
    jvm = sc._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(sc._jsc.hadoopConfiguration())
    return jvm, fs, fs.makeQualified(hadoop_path)


def _local_hadoop_path(jvm: Any, path: str | Path) -> Any:
    return jvm.org.apache.hadoop.fs.Path(jvm.java.io.File(str(Path(path).resolve())).toURI())


def copy_model_to(spark: SparkSession, model_dir: str | Path, names: list[str], target: str) -> None:
    """Copy ``names`` from the local ``model_dir`` into ``target`` (any Hadoop path) as plain files."""
    jvm, fs, target_path = _filesystem(spark, target)
    fs.mkdirs(target_path)
    for name in names:
        destination = jvm.org.apache.hadoop.fs.Path(target_path, name)
        fs.copyFromLocalFile(False, True, _local_hadoop_path(jvm, Path(model_dir) / name), destination)


def localize_model(spark: SparkSession, source: str, names: list[str]) -> str:
    """A local directory holding the saved model files: ``source`` itself when local, else a temp copy."""
    jvm, fs, source_path = _filesystem(spark, source)
    if fs.getScheme() == "file":
        return source_path.toUri().getPath()  # its files are checked with the digest (check_model_digest)
    local = tempfile.mkdtemp(prefix="sparkhtr-saved-model-")
    for name in names:
        source_file = jvm.org.apache.hadoop.fs.Path(source_path, name)
        fs.copyToLocalFile(False, source_file, _local_hadoop_path(jvm, Path(local) / name), True)
    return local


class RecognizerWriter(MLWriter):
    """Params as JSON metadata plus a copy of the model files under ``<path>/model``."""

    def __init__(self, instance: Any) -> None:
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        source = self.instance.resolvedModelPath()
        files = read_model_files(source)
        extra = {
            "modelDir": MODEL_SUBDIR,
            "modelFiles": sorted(files),
            "modelEntry": source.name if source.is_file() else None,  # a one-file model (.onnx)
            "modelSha256": model_digest(files),
        }
        DefaultParamsWriter.saveMetadata(self.instance, path, self.sparkSession, extraMetadata=extra)
        folder = source.parent if source.is_file() else source
        copy_model_to(self.sparkSession, folder, sorted(files), os.path.join(path, MODEL_SUBDIR))


class RecognizerReader(MLReader):
    """Rebuild the stage from its metadata and point ``modelPath`` at the files saved beside it."""

    def __init__(self, cls: type) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> Any:
        metadata = DefaultParamsReader.loadMetadata(path, self.sparkSession)
        instance = self.cls()
        instance._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(instance, metadata, skipParams=["modelPath"])
        source = os.path.join(path, metadata.get("modelDir", MODEL_SUBDIR))
        local = localize_model(self.sparkSession, source, list(metadata["modelFiles"]))
        expected = metadata.get("modelSha256")
        if expected is None:
            raise ValueError(f"{path}: the saved stage has no modelSha256; save the pipeline again with sparkhtr")
        # Checked here, on the driver, so that altered weights fail the load with one clear
        # message instead of reading wrong texts (or failing inside every task).
        check_model_digest(local, list(metadata["modelFiles"]), expected)
        entry = metadata.get("modelEntry")
        instance._set(modelPath=os.path.join(local, entry) if entry else local)
        return instance
