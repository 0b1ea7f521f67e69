"""Whole pages through Spark: ImageTextDetector -> the recognizer with regions -> ImageDrawRegions.

On a real CREMMA page (and its top half, so that two pages of different sizes share a job) with
the bundled model, checked against the Python API on the same files: ``find_page_lines`` for the
regions and ``Recognizer.recognize_paragraph`` for the text. The pipeline runs once (a module
fixture) and each test reads its part of the result, so the file stays quick.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lxml import etree
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from sparkhtr import Recognizer
from sparkhtr.inference.hocr_export import XHTML_NS
from sparkhtr.io.image import load_image
from sparkhtr.layout import find_page_lines
from sparkhtr.registry import UnknownModelError
from sparkhtr.spark import (
    BinaryToImage,
    Color,
    ImageDrawRegions,
    ImageHandwrittenTextRecognizer,
    ImageTextDetector,
    ImageTextDetectorV2,
    ImageToTextV2,
    ImageType,
    OcrOutputFormat,
)
from sparkhtr.spark.image_struct import encode_image, struct_to_image
from sparkhtr.spark.pages import PageOutput, read_pages_frame
from sparkhtr.spark.regions import line_to_region, page_positions

pytestmark = pytest.mark.spark

PAGES = Path(os.environ["SPARKHTR_SHARED"]) / "data" / "pages_cremma_mss19_fr" / "pages"
PAGE = "lettre-soeur-marie__01R_P1S3SS2P118_002.jpg"  # 1001 x 1500 pixels, one column of 14 lines
GOOD = ("page.jpg", "half.png")


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def page_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page, its top half, and a truncated copy of it that cannot be decoded."""
    source = PAGES / PAGE
    if not source.is_file():
        pytest.fail(f"{source} is missing: the tests read real pages from ../shared/data")
    folder = tmp_path_factory.mktemp("pages")
    shutil.copy(source, folder / "page.jpg")
    image = load_image(source)
    image.crop((0, 0, image.width, image.height // 2)).save(folder / "half.png")
    (folder / "torn.jpg").write_bytes(source.read_bytes()[:3000])
    return folder


@pytest.fixture(scope="module")
def direct(page_dir: Path) -> dict:
    """The Python API on the same files: (find_page_lines' lines, recognize_paragraph's page)."""
    recognizer = Recognizer.pretrained(decoder="greedy")
    out = {}
    for name in GOOD:
        image = load_image(page_dir / name)
        out[name] = (find_page_lines(image), recognizer.recognize_paragraph(image))
    return out


@pytest.fixture(scope="module")
def pipeline(page_dir: Path) -> PipelineModel:
    recognizer = (
        ImageHandwrittenTextRecognizer.pretrained()
        .setDecoder("greedy")
        .setInputCols(["image", "regions"])
        .setConfidenceCol("confidence")
        .setPositionsCol("positions")
    )
    # The same regions read a second time into hOCR, in the same job: cheaper than a job of its own.
    hocr = ImageToTextV2.pretrained().setDecoder("greedy").setInputCols(["image", "regions"]).setOutputFormat("HOCR")
    stages = [BinaryToImage(), ImageTextDetector(), recognizer, hocr, ImageDrawRegions().setTextCol("handwritten_text")]
    return PipelineModel(stages=stages)


@pytest.fixture(scope="module")
def rows(spark: SparkSession, page_dir: Path, pipeline: PipelineModel) -> dict:
    out = pipeline.transform(spark.read.format("binaryFile").load(str(page_dir)))
    columns = ["path", "image", "regions", "regions_error", "handwritten_text", "confidence", "positions",
               "handwritten_text_error", "text", "text_error", "image_with_regions", "image_with_regions_error"]
    return {_name(r.path): r for r in out.select(*columns).collect()}


def test_each_stage_runs_once_per_row(spark: SparkSession, page_dir: Path, pipeline: PipelineModel) -> None:
    out = pipeline.transform(spark.read.format("binaryFile").load(str(page_dir)))
    plan = out._jdf.queryExecution().executedPlan().toString()
    for udf, count in (("pages", 1), ("detect", 1), ("read_pages", 2), ("draw", 1)):
        assert plan.count(f"ArrowEvalPython [{udf}(") == count, udf


def test_regions_are_the_page_line_finders_lines(rows: dict, direct: dict) -> None:
    for name in GOOD:
        lines, _ = direct[name]
        assert len(lines) >= 5 and rows[name].regions_error is None
        assert [r.asDict(recursive=True) for r in rows[name].regions] == [
            line_to_region(line, k, 0) for k, line in enumerate(lines)
        ]


def test_pages_read_as_recognize_paragraph_reads_them(rows: dict, direct: dict) -> None:
    for name in GOOD:
        _, page = direct[name]
        row = rows[name]
        assert row.handwritten_text_error is None
        assert row.handwritten_text == page.text and page.text.count("\n") == len(page.lines) - 1
        assert row.confidence == pytest.approx(np.mean([line.result.confidence for line in page.lines]), abs=1e-4)


def test_a_broken_file_gets_errors_and_the_other_pages_go_on(rows: dict) -> None:
    row = rows["torn.jpg"]
    assert row.regions is None and row.handwritten_text is None and row.positions is None
    for error in (row.regions_error, row.handwritten_text_error, row.image_with_regions_error):
        assert error.startswith("file:") and "torn.jpg" in error
    assert all(rows[name].handwritten_text for name in GOOD)


def test_positions_hold_every_line_and_word(rows: dict, direct: dict) -> None:
    for name in GOOD:
        _, page = direct[name]
        positions = rows[name].positions
        assert [p["index"] for p in positions] == list(range(len(page.lines)))
        for position, line in zip(positions, page.lines, strict=True):
            box = line.box
            assert position.text == line.result.text
            assert (position.x, position.y, position.width, position.height) == (
                box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0
            )
            assert " ".join(w.text for w in position.words) == " ".join(line.result.text.split())
            for word in position.words:
                assert box.x0 <= word.x and word.x + word.width <= box.x1 and 0 <= word.confidence <= 1
        # Word boxes placed as the Python API places them (characters moved from crop to line box).
        expected = page_positions(page)
        assert [[(w["x"], w["width"]) for w in p["words"]] for p in expected] == [
            [(w.x, w.width) for w in p.words] for p in positions
        ]


def test_drawn_regions_keep_the_page_size_and_change_its_pixels(rows: dict) -> None:
    for name in GOOD:
        row = rows[name]
        assert row.image_with_regions_error is None and row.image_with_regions.mode == ImageType.TYPE_3BYTE_BGR
        drawn = np.asarray(struct_to_image(row.image_with_regions.asDict()))
        page = np.asarray(struct_to_image(row.image.asDict()))
        assert drawn.shape == page.shape
        changed = np.any(drawn != page, axis=2)
        # Outlines and captions, not the page: a few per cent of the pixels
        assert 0.005 < changed.mean() < 0.3


def test_hocr_of_a_page_is_xhtml_with_its_lines_and_words(rows: dict, direct: dict) -> None:
    for name in GOOD:
        assert rows[name].text_error is None
        root = etree.fromstring(rows[name].text.encode("utf-8"))
        assert root.tag == f"{{{XHTML_NS}}}html"
        lines = root.xpath("//*[@class='ocr_line']")
        _, page = direct[name]
        assert len(lines) == len(page.lines)
        for element, line in zip(lines, page.lines, strict=True):
            box = tuple(int(v) for v in re.search(r"bbox (\d+) (\d+) (\d+) (\d+)", element.get("title")).groups())
            assert box == (line.box.x0, line.box.y0, line.box.x1, line.box.y1)
            words = element.xpath("./*[@class='ocrx_word']")
            assert " ".join(w.text for w in words) == " ".join(line.result.text.split())


def test_the_reference_notebook_runs_with_only_the_import_changed(spark: SparkSession, page_dir: Path) -> None:
    """JohnSnowLabs/spark-ocr-workshop's SparkOcrImageToTextHandwritten_V2 card, its stages as written."""
    imagePath = str(page_dir / "half.png")  # noqa: N806 (the notebook's names)
    image_df = spark.read.format("binaryFile").load(imagePath)

    binary_to_image = BinaryToImage() \
        .setInputCol("content") \
        .setOutputCol("image") \
        .setImageType(ImageType.TYPE_3BYTE_BGR)

    text_detector = ImageTextDetectorV2 \
        .pretrained("image_text_detector_v2", "en", "clinical/ocr") \
        .setInputCol("image") \
        .setOutputCol("text_regions") \
        .setWithRefiner(True) \
        .setSizeThreshold(-1) \
        .setLinkThreshold(0.3) \
        .setWidth(500)

    ocr = ImageToTextV2.pretrained("ocr_small_handwritten", "en", "clinical/ocr") \
        .setInputCols(["image", "text_regions"]) \
        .setGroupImages(True) \
        .setOutputCol("text") \
        .setRegionsColumn("text_regions")

    draw_regions = ImageDrawRegions() \
        .setInputCol("image") \
        .setInputRegionsCol("text_regions") \
        .setOutputCol("image_with_regions") \
        .setRectColor(Color.green) \
        .setRotated(True)

    pipeline = PipelineModel(stages=[binary_to_image, text_detector, ocr, draw_regions])
    result = pipeline.transform(image_df).cache()
    try:
        (row,) = result.select("text", "text_error", "text_regions", "image_with_regions").collect()
    finally:
        result.unpersist()
    assert row.text_error is None and len(row.text.split("\n")) == len(row.text_regions) >= 5
    assert sum(c.isalpha() for c in row.text) > 100
    assert (row.image_with_regions.width, row.image_with_regions.height) == (1001, 750)


def test_line_images_with_positions_keep_their_texts(spark: SparkSession, model_dir: Path, line_dir: Path) -> None:
    """Formats apply to one-line images too: the same texts as line mode, one line per image."""
    images = BinaryToImage().transform(spark.read.format("binaryFile").load(str(line_dir)))
    stage = ImageHandwrittenTextRecognizer(modelPath=str(model_dir), outputFormat="text_with_positions")
    rows = stage.transform(images).select("path", "image.width", "handwritten_text", "positions").collect()
    paths = sorted(line_dir.iterdir())
    expected = {p.name: r.text for p, r in zip(paths, Recognizer.load(model_dir).recognize(paths), strict=True)}
    assert {_name(r.path): r.handwritten_text for r in rows} == expected
    for row in rows:
        (line,) = row.positions
        assert (line.text, line.x, line.width) == (row.handwritten_text, 0, row.width)


def test_a_region_outside_the_page_keeps_the_others(model_dir: Path, page_dir: Path) -> None:
    """No Spark: one Arrow batch as the worker gets it, with a region that lies off the page."""
    image = load_image(page_dir / "half.png")
    regions = [line_to_region(line, k, 0) for k, line in enumerate(find_page_lines(image)[:2])]
    regions.append({**regions[0], "index": 2, "x": 5000.0, "polygon": [], "baseline": []})
    images = pd.DataFrame([encode_image(image, "file:/x/half.png", ImageType.TYPE_BYTE_GRAY)])
    frame = read_pages_frame(
        Recognizer.load(model_dir), images, pd.Series([regions]), None, 1, "regions", PageOutput(positions=True)
    )
    text, error, positions = frame.text[0], frame.error[0], frame.positions[0]
    assert text.count("\n") == 2 and text.endswith("\n")  # one line per region, the last empty
    assert error.startswith("file:/x/half.png: region 2") and len(positions) == 3


def test_reference_params_are_accepted_and_bad_values_refused(
    spark: SparkSession, tmp_path: Path, model_dir: Path
) -> None:
    detector = ImageTextDetectorV2().setScoreThreshold(0.5).setTextThreshold(0.2).setUseGPU(True)
    assert detector.getScoreThreshold() == 0.5 and detector.getOutputCol() == "regions"
    with pytest.raises(UnknownModelError, match="image_text_detector_v2"):
        ImageTextDetectorV2.pretrained("craft_mlt_25k")
    with pytest.raises(ValueError, match="outputFormat must be one of TEXT"):
        ImageToTextV2().setOutputFormat("PDF")
    assert ImageToTextV2().setOutputFormat(OcrOutputFormat.HOCR).getOutputFormat() == "HOCR"
    with pytest.raises(ValueError, match="rectColor"):
        ImageDrawRegions().setRectColor("not a colour")
    stage = ImageToTextV2(modelPath=str(model_dir)).setInputCols(["image", "text_regions"]).setLineTolerance(20)
    stage.setOutputFormat("hocr").setKeepInput(False).setUseGPU(False).save(str(tmp_path / "v2"))
    loaded = ImageToTextV2.load(str(tmp_path / "v2"))
    assert type(loaded) is ImageToTextV2 and loaded.getOutputFormat() == "HOCR" and loaded.getKeepInput() is False
    assert loaded.regionsColumnName() == "text_regions" and loaded.getOutputCol() == "text"
