"""BinaryToImage on a real Spark session: the struct it writes, bad files, and its persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pyspark.sql import SparkSession

from sparkhtr.spark import BinaryToImage, ImageType

pytestmark = pytest.mark.spark


def _by_name(rows: list) -> dict:
    return {row.path.rsplit("/", 1)[-1]: row for row in rows}


def test_struct_fields_match_pillow_in_bgr_order(spark: SparkSession, line_dir: Path) -> None:
    df = spark.read.format("binaryFile").load(str(line_dir))
    out = BinaryToImage().setInputCol("content").setOutputCol("image").transform(df)
    assert out.schema["image"].dataType.fieldNames() == [
        "origin", "height", "width", "nChannels", "mode", "resolution", "data"
    ]
    rows = _by_name(out.select("path", "image", "image_error").collect())
    assert len(rows) == len(list(line_dir.iterdir()))
    for name, row in rows.items():
        expected = np.asarray(Image.open(line_dir / name).convert("RGB"))
        image = row.image
        assert row.image_error is None
        assert image.origin == row.path
        assert (image.height, image.width, image.nChannels, image.mode) == (*expected.shape[:2], 3, 5)
        assert bytes(image.data) == expected[:, :, ::-1].tobytes()


def test_gray_image_type(spark: SparkSession, line_dir: Path) -> None:
    df = spark.read.format("binaryFile").load(str(line_dir))
    stage = BinaryToImage(imageType=ImageType.TYPE_BYTE_GRAY)
    row = stage.transform(df).select("path", "image").first()
    expected = np.asarray(Image.open(row.path.removeprefix("file:")).convert("L"))
    assert (row.image.mode, row.image.nChannels) == (10, 1)
    assert bytes(row.image.data) == expected.tobytes()


def test_bad_files_keep_their_rows_with_a_message(spark: SparkSession, mixed_dir: tuple[Path, dict]) -> None:
    folder, bad = mixed_dir
    df = spark.read.format("binaryFile").load(str(folder))
    rows = _by_name(BinaryToImage().transform(df).select("path", "image", "image_error").collect())
    assert set(rows) == {p.name for p in folder.iterdir()}
    for name, word in bad.items():
        row = rows[name]
        assert row.image.origin == row.path
        assert row.image.mode == -1 and row.image.data is None
        assert row.image_error.startswith(row.path) and word in row.image_error
    good = [row for name, row in rows.items() if name not in bad]
    assert good and all(row.image_error is None and row.image.data for row in good)


def test_empty_and_null_content(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("file:/x/empty.png", bytearray()), ("file:/x/null.png", None)], "path string, content binary"
    )
    rows = _by_name(BinaryToImage().transform(df).collect())
    assert "empty file" in rows["empty.png"].image_error
    assert rows["null.png"].image_error.startswith("file:/x/null.png")
    assert rows["null.png"].image.data is None


def test_wrong_input_column_type_is_a_clear_error(spark: SparkSession) -> None:
    df = spark.createDataFrame([("a",)], "content string")
    with pytest.raises(ValueError, match="not binary"):
        BinaryToImage().transform(df)


def test_save_and_load(spark: SparkSession, tmp_path: Path) -> None:
    stage = BinaryToImage(imageType=ImageType.TYPE_BYTE_GRAY, errorCol="decode_error").setOutputCol("img")
    stage.save(str(tmp_path / "b2i"))
    loaded = BinaryToImage.load(str(tmp_path / "b2i"))
    assert loaded.uid == stage.uid
    assert (loaded.getImageType(), loaded.getErrorCol(), loaded.getOutputCol()) == (10, "decode_error", "img")
    assert loaded.getInputCol() == "content" and loaded.getOriginCol() == "path"
