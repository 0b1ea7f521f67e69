"""PDF and multi-page TIFF: every page is a row (PdfToImage, BinaryToImage), read from real line images."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pyspark.sql import SparkSession

from sparkhtr import Recognizer
from sparkhtr.io.documents import read_pages
from sparkhtr.io.image import ImageError, ImageLimits, load_image
from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer, PdfToImage

pytestmark = pytest.mark.spark


def _lines(line_dir: Path) -> list[Image.Image]:
    return [load_image(p) for p in sorted(line_dir.iterdir())[:3]]


def _tiff(images: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    images[0].save(buffer, "TIFF", save_all=True, append_images=images[1:], compression="tiff_lzw")
    return buffer.getvalue()


def _pdf(images: list[Image.Image], dpi: int) -> bytes:
    buffer = io.BytesIO()
    rgb = [image.convert("RGB") for image in images]
    rgb[0].save(buffer, "PDF", save_all=True, append_images=rgb[1:], resolution=dpi)
    return buffer.getvalue()


def test_tiff_pages_are_the_images_written(line_dir: Path) -> None:
    images = _lines(line_dir)
    pages = list(read_pages(_tiff(images), "scan.tif"))
    assert [p.number for p in pages] == [0, 1, 2] and all(p.error is None for p in pages)
    for page, image in zip(pages, images, strict=True):
        assert np.array_equal(np.asarray(page.image), np.asarray(image))


def test_pdf_pages_render_at_the_resolution_asked(line_dir: Path) -> None:
    pytest.importorskip("pypdfium2")
    images = _lines(line_dir)
    pages = list(read_pages(_pdf(images, 150), "scan.pdf", dpi=150))
    assert len(pages) == 3 and all(p.error is None for p in pages)
    for page, image in zip(pages, images, strict=True):
        assert abs(page.image.width - image.width) <= 2 and abs(page.image.height - image.height) <= 2
        assert page.image.info["dpi"] == (150, 150)
    big = list(read_pages(_pdf(images[:1], 150), "big.pdf", ImageLimits(max_pixels=10_000), dpi=150))
    assert big[0].image is None and "big.pdf page 1" in big[0].error and "pixel limit" in big[0].error
    with pytest.raises(ImageError, match="broken.pdf: not a readable PDF"):
        list(read_pages(b"%PDF-1.4\n" + b"\0" * 200, "broken.pdf"))


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory, line_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("documents")
    images = _lines(line_dir)
    (folder / "three.tif").write_bytes(_tiff(images))
    (folder / "three.pdf").write_bytes(_pdf(images, 150))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n" + b"\0" * 200)
    (folder / "one.png").write_bytes(sorted(line_dir.iterdir())[0].read_bytes())
    return folder


def test_pdf_to_image_gives_a_row_per_page(
    spark: SparkSession, documents: Path, model_dir: Path, line_dir: Path
) -> None:
    pytest.importorskip("pypdfium2")
    df = spark.read.format("binaryFile").load(str(documents))
    pages = PdfToImage().setInputCol("content").setOutputCol("image").setResolution(150).transform(df)
    out = ImageHandwrittenTextRecognizer(modelPath=str(model_dir)).transform(pages)
    rows = out.select("path", "pagenum", "image.resolution", "handwritten_text", "handwritten_text_error").collect()
    by_file: dict[str, list] = {}
    for row in rows:
        by_file.setdefault(row.path.rsplit("/", 1)[-1], []).append(row)
    assert sorted(r.pagenum for r in by_file["three.pdf"]) == [0, 1, 2]
    assert sorted(r.pagenum for r in by_file["three.tif"]) == [0, 1, 2]
    assert [r.pagenum for r in by_file["one.png"]] == [0]
    (broken,) = by_file["broken.pdf"]
    assert broken.pagenum is None and broken.handwritten_text is None
    error = broken.handwritten_text_error
    assert error.startswith(broken.path) and "not a readable PDF" in error
    # TIFF pages are the line images themselves: the same texts as reading the lines directly.
    direct = Recognizer.load(model_dir).recognize(sorted(line_dir.iterdir())[:3])
    tiff = sorted(by_file["three.tif"], key=lambda r: r.pagenum)
    assert [r.handwritten_text for r in tiff] == [r.text for r in direct]
    assert all(r.resolution == 150 and r.handwritten_text for r in by_file["three.pdf"])


def test_binary_to_image_reads_every_tiff_page(spark: SparkSession, documents: Path) -> None:
    df = spark.read.format("binaryFile").load(str(documents))
    rows = BinaryToImage().transform(df).select("path", "pagenum", "image.width", "image_error").collect()
    tiff = [r for r in rows if r.path.endswith("three.tif")]
    assert sorted(r.pagenum for r in tiff) == [0, 1, 2] and all(r.image_error is None for r in tiff)
    pdf = [r for r in rows if r.path.endswith("three.pdf")]
    assert len(pdf) == 1 and "PdfToImage" in pdf[0].image_error and pdf[0].width == -1
