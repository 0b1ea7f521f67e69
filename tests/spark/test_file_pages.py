"""The recognizer reads files (content, page number) instead of image structs when its image column
comes straight from BinaryToImage / PdfToImage (sparkhtr/spark/file_pages.py): both ways must give
every row the same text, confidence and error message."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkhtr.io.image import load_image
from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer, ImageType, PdfToImage
from sparkhtr.spark.file_pages import page_source

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, mixed_dir: tuple[Path, dict], line_dir: Path) -> Path:
    """Good lines, the corrupt/non-image/oversized files, a color line, a 2-page TIFF
    whose second page is color, and a PDF (an error row for BinaryToImage, pages for PdfToImage).
    (Spark's binaryFile source skips empty files; test_recognizer.py covers empty and null content.)"""
    source, bad = mixed_dir
    folder = tmp_path_factory.mktemp("file_pages")
    good = sorted(line_dir.iterdir())[:3]
    for path in good + [source / name for name in bad]:
        shutil.copy(path, folder / path.name)
    gray = load_image(good[0])
    tinted = gray.convert("RGB")
    tinted.putpixel((3, 3), (200, 10, 10))  # one pixel makes it a color image
    tinted.copy().save(folder / "color.png")  # a copy: saving leaves encoder settings on the image
    buffer = io.BytesIO()
    gray.convert("RGB").save(buffer, "TIFF", save_all=True, append_images=[tinted], compression="tiff_lzw")
    (folder / "two.tif").write_bytes(buffer.getvalue())
    buffer = io.BytesIO()
    tinted.copy().save(buffer, "PDF", resolution=150)
    (folder / "one.pdf").write_bytes(buffer.getvalue())
    return folder


def _rows(out: DataFrame) -> dict[tuple[str, int | None], tuple]:
    columns = ["path", "pagenum", "handwritten_text", "confidence", "handwritten_text_error"]
    return {(r.path.rsplit("/", 1)[-1], r.pagenum): tuple(r)[2:] for r in out.select(*columns).collect()}


@pytest.mark.parametrize(
    "stage",
    [BinaryToImage(), BinaryToImage(imageType=ImageType.TYPE_BYTE_GRAY), PdfToImage().setResolution(150)],
    ids=["BinaryToImage", "gray", "PdfToImage"],
)
def test_files_and_structs_read_alike(spark: SparkSession, model_dir: Path, files: Path, stage: object) -> None:
    if isinstance(stage, PdfToImage):
        pytest.importorskip("pypdfium2")
    pages = stage.transform(spark.read.format("binaryFile").load(str(files)))  # type: ignore[attr-defined]
    assert page_source(pages.schema, "image") is not None
    recognizer = ImageHandwrittenTextRecognizer(modelPath=str(model_dir), confidenceCol="confidence")
    from_files = recognizer.transform(pages)
    # A copy of the content column is not the stage's any more: the structs are read.
    from_structs = recognizer.transform(pages.withColumn("content", F.concat(F.col("content"))))
    plan = from_structs.select("handwritten_text")._jdf.queryExecution().executedPlan().toString()
    assert "page_images(" in plan
    rows = _rows(from_files)
    assert rows == _rows(from_structs)
    assert sum(text is not None for text, _, _ in rows.values()) >= 5  # lines, TIFF pages, color line
    assert rows[("two.tif", 1)][0] is not None and rows[("color.png", 0)][0] is not None
    for (name, _), (text, _, error) in rows.items():
        assert (text is None) == (error is not None) and (error is None or name in error)
    assert "PdfToImage" in rows[("one.pdf", None)][2] if isinstance(stage, BinaryToImage) else rows[("one.pdf", 0)][0]


def test_binarized_images_are_read_from_the_structs(spark: SparkSession, files: Path) -> None:
    df = spark.read.format("binaryFile").load(str(files))
    assert page_source(BinaryToImage(imageType=ImageType.TYPE_BYTE_BINARY).transform(df).schema, "image") is None
    pages = BinaryToImage().transform(df)
    assert page_source(pages.drop("pagenum").schema, "image") is None
    assert page_source(pages.withColumn("content", F.lit(b"x")).schema, "image") is None
    renamed = pages.withColumnRenamed("image", "picture")
    assert page_source(renamed.schema, "picture") == page_source(pages.schema, "image")
