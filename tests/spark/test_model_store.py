"""The executor-wide model copy: written once, shared by the workers, never trusted unchecked."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pyspark import SparkFiles
from pyspark.sql import SparkSession

from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer
from sparkhtr.spark.model_store import SHARED_SUBDIR, _shared_copy, model_digest, read_model_files


def test_workers_of_one_executor_share_one_copy(tmp_path: Path, model_dir: Path) -> None:
    files = read_model_files(model_dir)
    digest = model_digest(files)
    reads: list[int] = []

    def fetch() -> dict[str, bytes]:
        reads.append(1)
        return files

    first = _shared_copy(tmp_path, digest, fetch)
    assert first == tmp_path / SHARED_SUBDIR / digest
    assert read_model_files(first) == files
    assert _shared_copy(tmp_path, digest, fetch) == first  # as a second worker: found, not written again
    assert len(reads) == 1
    assert [p.name for p in (tmp_path / SHARED_SUBDIR).iterdir()] == [digest]  # no partial folder left


def test_an_altered_shared_copy_is_not_loaded(
    tmp_path: Path, model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = read_model_files(model_dir)
    digest = model_digest(files)
    planted = tmp_path / SHARED_SUBDIR / digest
    planted.mkdir(parents=True)
    for name, content in files.items():
        (planted / name).write_bytes(content)
    (planted / "config.json").write_text("{}", "utf-8")  # someone else's file under the model's name
    with caplog.at_level(logging.WARNING):
        folder = _shared_copy(tmp_path, digest, lambda: files)
    assert folder != planted and read_model_files(folder) == files
    assert "does not hold the model" in caplog.text


@pytest.mark.spark
def test_spark_workers_copy_the_model_into_the_executor_files_folder(
    spark: SparkSession, model_dir: Path, line_dir: Path
) -> None:
    df = spark.read.format("binaryFile").load(str(line_dir))
    images = BinaryToImage().transform(df)
    texts = ImageHandwrittenTextRecognizer(modelPath=str(model_dir)).transform(images).select("handwritten_text")
    assert all(row.handwritten_text for row in texts.collect())
    shared = Path(SparkFiles.getRootDirectory()) / SHARED_SUBDIR / model_digest(read_model_files(model_dir))
    assert read_model_files(shared) == read_model_files(model_dir)
