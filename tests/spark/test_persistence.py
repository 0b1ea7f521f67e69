"""Saving and loading: a saved pipeline carries its model and works after the original model is gone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer, ImageType

pytestmark = pytest.mark.spark


def _texts(data) -> dict[str, str | None]:
    return {r.path.rsplit("/", 1)[-1]: r.handwritten_text for r in data.select("path", "handwritten_text").collect()}


def test_saved_pipeline_loads_without_the_original_model(
    spark: SparkSession, model_dir: Path, line_dir: Path, tmp_path: Path
) -> None:
    own_model = shutil.copytree(model_dir, tmp_path / "model_to_delete")
    df = spark.read.format("binaryFile").load(str(line_dir))
    recognizer = ImageHandwrittenTextRecognizer(modelPath=str(own_model), batchSize=4, confidenceCol="conf")
    pipeline = PipelineModel(stages=[BinaryToImage(imageType=ImageType.TYPE_BYTE_GRAY), recognizer])
    before = _texts(pipeline.transform(df))
    pipeline.save(str(tmp_path / "saved" / "pipeline"))

    shutil.rmtree(own_model)  # as on another machine: the model directory is not there
    moved = shutil.move(str(tmp_path / "saved" / "pipeline"), str(tmp_path / "moved_pipeline"))
    loaded = PipelineModel.load(moved)

    binary_to_image, loaded_recognizer = loaded.stages
    assert isinstance(binary_to_image, BinaryToImage) and binary_to_image.getImageType() == 10
    assert isinstance(loaded_recognizer, ImageHandwrittenTextRecognizer)
    assert loaded_recognizer.uid == recognizer.uid
    assert (loaded_recognizer.getBatchSize(), loaded_recognizer.getConfidenceCol()) == (4, "conf")
    model_path = Path(loaded_recognizer.getModelPath())
    assert model_path.is_relative_to(Path(moved).resolve())
    assert sorted(p.name for p in model_path.iterdir() if not p.name.startswith(".")) == [
        "config.json", "model.safetensors"
    ]
    after = loaded.transform(df)
    assert "conf" in after.columns
    assert _texts(after) == before
    assert all(before.values())


def test_recognizer_alone_saves_and_loads(spark: SparkSession, model_dir: Path, tmp_path: Path) -> None:
    stage = ImageHandwrittenTextRecognizer(modelPath=str(model_dir), errorCol="why", backend="torch", numThreads=2)
    stage.write().save(str(tmp_path / "stage"))
    with pytest.raises(Exception, match="already exists"):
        stage.save(str(tmp_path / "stage"))
    stage.write().overwrite().save(str(tmp_path / "stage"))
    loaded = ImageHandwrittenTextRecognizer.load(str(tmp_path / "stage"))
    assert (loaded.getErrorCol(), loaded.getBackend(), loaded.getNumThreads()) == ("why", "torch", 2)
    saved_weights = Path(loaded.getModelPath()) / "model.safetensors"
    assert saved_weights.read_bytes() == (model_dir / "model.safetensors").read_bytes()
    assert not loaded.isSet(loaded.confidenceCol)


def test_a_stage_saved_before_a_param_existed_loads_with_its_default(
    spark: SparkSession, model_dir: Path, tmp_path: Path
) -> None:
    """Stages saved by an older sparkhtr lack the newer Params (here letterCase): they load, with the default."""
    import json

    ImageHandwrittenTextRecognizer(modelPath=str(model_dir), letterCase="upper").save(str(tmp_path / "stage"))
    (metadata_file,) = (tmp_path / "stage" / "metadata").glob("part-00000*")
    metadata = json.loads(metadata_file.read_text("utf-8"))
    for params in (metadata["paramMap"], metadata["defaultParamMap"]):
        params.pop("letterCase")
    metadata_file.write_text(json.dumps(metadata) + "\n", "utf-8")
    for checksum in metadata_file.parent.glob(".*.crc"):  # Hadoop checks these against the edited file
        checksum.unlink()
    loaded = ImageHandwrittenTextRecognizer.load(str(tmp_path / "stage"))
    assert loaded.getLetterCase() == "as_read"
    assert loaded.getModelPath()


def test_onnx_backend_with_a_one_file_model(
    spark: SparkSession, model_dir: Path, line_dir: Path, tmp_path: Path
) -> None:
    """``backend="onnx"`` goes to ``Recognizer.load``; an .onnx file alone is a model, saved and loaded as one."""
    pytest.importorskip("onnxruntime")
    from sparkhtr import Recognizer
    from sparkhtr.model.files import load_model
    from sparkhtr.model.onnx_export import export_onnx

    onnx_file = export_onnx(*load_model(model_dir), tmp_path / "exported" / "lines.onnx", verify=False).path
    paths = sorted(line_dir.iterdir())
    direct = Recognizer.load(onnx_file, backend="onnx").recognize(paths)
    expected = {p.name: r.text for p, r in zip(paths, direct, strict=True)}

    df = spark.read.format("binaryFile").load(str(line_dir))
    stage = ImageHandwrittenTextRecognizer(modelPath=str(onnx_file), backend="onnx")
    pipeline = PipelineModel(stages=[BinaryToImage(), stage])
    assert _texts(pipeline.transform(df)) == expected

    pipeline.save(str(tmp_path / "saved"))
    shutil.rmtree(tmp_path / "exported")
    loaded = PipelineModel.load(str(tmp_path / "saved"))
    model_path = Path(loaded.stages[1].getModelPath())
    assert model_path.name == "lines.onnx" and model_path.is_file()
    assert loaded.stages[1].getBackend() == "onnx"
    assert _texts(loaded.transform(df)) == expected


def test_altered_weights_fail_the_load_on_the_driver(spark: SparkSession, model_dir: Path, tmp_path: Path) -> None:
    """A saved stage whose weights were changed after saving must not load (it would read wrong texts)."""
    ImageHandwrittenTextRecognizer(modelPath=str(model_dir)).save(str(tmp_path / "stage"))
    weights = tmp_path / "stage" / "model" / "model.safetensors"
    content = bytearray(weights.read_bytes())
    content[-1] ^= 0x01  # one bit of one weight
    weights.write_bytes(bytes(content))
    for checksum in weights.parent.glob(".*.crc"):  # Hadoop's own checksums would catch it first otherwise
        checksum.unlink()
    with pytest.raises(ValueError, match=r"stage/model: the model files do not match the digest"):
        ImageHandwrittenTextRecognizer.load(str(tmp_path / "stage"))

    weights.unlink()
    with pytest.raises(FileNotFoundError, match="missing model.safetensors"):
        ImageHandwrittenTextRecognizer.load(str(tmp_path / "stage"))
