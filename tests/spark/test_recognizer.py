"""ImageHandwrittenTextRecognizer on a real local Spark session, checked against ``Recognizer.recognize``.

The model has random weights, so the texts are gibberish; what is checked is that Spark gives
each row exactly the text (and confidence) the Python API gives the same file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession
from pyspark.sql.types import FloatType, StringType

from sparkhtr import Recognizer
from sparkhtr.registry import UnknownModelError
from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer, ImageType
from sparkhtr.spark.worker import set_task_threads

pytestmark = pytest.mark.spark


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _direct(model_dir: Path, paths: list[Path]) -> dict[str, tuple[str | None, float | None]]:
    results = Recognizer.load(model_dir).recognize(paths, on_error="return")
    return {path.name: (r.text, r.confidence) for path, r in zip(paths, results, strict=True)}


def test_pipeline_on_mixed_files(spark: SparkSession, model_dir: Path, mixed_dir: tuple[Path, dict]) -> None:
    """The issue's pipeline, verbatim but for the model: good lines recognized, bad files reported, no row lost."""
    folder, bad = mixed_dir
    df = spark.read.format("binaryFile").load(str(folder))
    binary_to_image = BinaryToImage().setInputCol("content").setOutputCol("image")
    recognizer = (
        ImageHandwrittenTextRecognizer(modelPath=str(model_dir), confidenceCol="confidence")
        .setInputCol("image")
        .setOutputCol("handwritten_text")
    )
    data = PipelineModel(stages=[binary_to_image, recognizer]).transform(df)
    assert isinstance(data.schema["handwritten_text"].dataType, StringType)
    assert isinstance(data.schema["confidence"].dataType, FloatType)
    columns = ["path", "handwritten_text", "confidence", "handwritten_text_error"]
    rows = {_name(r.path): r for r in data.select(*columns).collect()}

    files = sorted(folder.iterdir())
    assert set(rows) == {p.name for p in files}  # no row lost
    expected = _direct(model_dir, [p for p in files if p.name not in bad])
    assert len(expected) == 6
    for name, (text, confidence) in expected.items():
        row = rows[name]
        assert row.handwritten_text_error is None
        assert row.handwritten_text == text and text
        assert row.confidence == pytest.approx(confidence, abs=1e-4)
    for name, word in bad.items():
        row = rows[name]
        assert row.handwritten_text is None and row.confidence is None
        assert row.handwritten_text_error.startswith(row.path) and word in row.handwritten_text_error


def test_spark_image_source(spark: SparkSession, model_dir: Path, line_dir: Path) -> None:
    """``spark.read.format("image")`` structs (OpenCV modes, no resolution) give the same texts."""
    df = spark.read.format("image").load(str(line_dir))
    assert "resolution" not in df.schema["image"].dataType.fieldNames()
    out = ImageHandwrittenTextRecognizer(modelPath=str(model_dir)).transform(df)
    rows = out.select("image.origin", "handwritten_text", "handwritten_text_error").collect()
    expected = _direct(model_dir, sorted(line_dir.iterdir()))
    assert {_name(r.origin): r.handwritten_text for r in rows} == {k: v[0] for k, v in expected.items()}
    assert all(r.handwritten_text_error is None for r in rows)
    assert "confidence" not in out.columns  # no confidenceCol set


def test_gray_images_and_batch_size_do_not_change_texts(spark: SparkSession, model_dir: Path, line_dir: Path) -> None:
    df = spark.read.format("binaryFile").load(str(line_dir))
    gray = BinaryToImage(imageType=ImageType.TYPE_BYTE_GRAY).transform(df)
    out = ImageHandwrittenTextRecognizer(modelPath=str(model_dir), batchSize=8).transform(gray)
    texts = {_name(r.path): r.handwritten_text for r in out.select("path", "handwritten_text").collect()}
    assert texts == {k: v[0] for k, v in _direct(model_dir, sorted(line_dir.iterdir())).items()}


def test_empty_null_and_missing_images(spark: SparkSession, model_dir: Path, line_dir: Path) -> None:
    good = sorted(line_dir.iterdir())[0]
    df = spark.createDataFrame(
        [
            ("file:/x/empty.png", bytearray()),
            ("file:/x/null.png", None),
            (f"file:{good}", bytearray(good.read_bytes())),
        ],
        "path string, content binary",
    )
    images = BinaryToImage().transform(df)
    out = ImageHandwrittenTextRecognizer(modelPath=str(model_dir)).transform(images)
    rows = {_name(r.path): r for r in out.collect()}
    assert "empty file" in rows["empty.png"].handwritten_text_error
    assert rows["null.png"].handwritten_text_error.startswith("file:/x/null.png")
    assert rows[good.name].handwritten_text == _direct(model_dir, [good])[good.name][0]
    # Without BinaryToImage's error column the recognizer still names the file.
    out = ImageHandwrittenTextRecognizer(modelPath=str(model_dir)).transform(images.drop("image_error"))
    row = out.where("path = 'file:/x/empty.png'").first()
    assert row.handwritten_text is None and row.handwritten_text_error.startswith("file:/x/empty.png: no image data")


def test_the_udf_runs_once_per_row(spark: SparkSession, model_dir: Path, line_dir: Path) -> None:
    df = spark.read.format("binaryFile").load(str(line_dir))
    recognizer = ImageHandwrittenTextRecognizer(modelPath=str(model_dir), confidenceCol="c")
    out = recognizer.transform(BinaryToImage().transform(df))
    plan = out._jdf.queryExecution().executedPlan().toString()
    assert plan.count("ArrowEvalPython [recognize(") == 1
    assert plan.count("ArrowEvalPython [pages(") == 1  # BinaryToImage decodes (and splits pages) once


def test_a_binary_column_is_refused_with_a_hint(spark: SparkSession, model_dir: Path, line_dir: Path) -> None:
    df = spark.read.format("binaryFile").load(str(line_dir))
    with pytest.raises(ValueError, match="BinaryToImage"):
        ImageHandwrittenTextRecognizer(modelPath=str(model_dir)).setInputCol("content").transform(df)


def test_one_torch_thread_per_task(spark: SparkSession) -> None:
    """spark.task.cpus defaults to 1, so each task's torch runs one thread."""
    threads = spark.sparkContext.parallelize(range(2), 2).map(lambda _: set_task_threads(0)).collect()
    assert threads == [1, 1]
    assert spark.sparkContext.parallelize([0], 1).map(lambda _: set_task_threads(3)).collect() == [3]


def test_pretrained_resolves_names_and_lists_the_known_ones(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(model_dir, tmp_path / "cache" / "my_lines")
    monkeypatch.setenv("SPARKHTR_CACHE", str(tmp_path / "cache"))
    stage = ImageHandwrittenTextRecognizer.pretrained("my_lines", "en")
    assert stage.resolvedModelPath() == tmp_path / "cache" / "my_lines"
    assert stage.getInputCol() == "image" and stage.getOutputCol() == "handwritten_text"
    shutil.copytree(model_dir, tmp_path / "elsewhere" / "other")
    remote = ImageHandwrittenTextRecognizer.pretrained("other", remote_loc=str(tmp_path / "elsewhere"))
    assert remote.resolvedModelPath() == tmp_path / "elsewhere" / "other"
    with pytest.raises(UnknownModelError, match=r"no_such_model.*available: .*my_lines"):
        ImageHandwrittenTextRecognizer.pretrained("no_such_model")


def test_file_uri_model_path(model_dir: Path) -> None:
    for path in (f"file:{model_dir}", model_dir.as_uri()):
        assert ImageHandwrittenTextRecognizer(modelPath=path).resolvedModelPath() == model_dir


def test_a_missing_model_fails_on_the_driver(spark: SparkSession, line_dir: Path, tmp_path: Path) -> None:
    from sparkhtr.model.files import ModelFileError

    images = BinaryToImage().transform(spark.read.format("binaryFile").load(str(line_dir)))
    with pytest.raises(ModelFileError, match="no such model directory"):
        ImageHandwrittenTextRecognizer(modelPath=str(tmp_path / "nope")).transform(images)


def test_pretrained_model_on_its_bundled_onnx_graph(spark: SparkSession) -> None:
    """The README pipeline with `.setBackend("onnx")`: the bundled single-line int8 graph, on the
    example lines, gives the Python API's texts, and real words (trained weights here)."""
    pytest.importorskip("onnxruntime")
    examples = Path(__file__).resolve().parents[2] / "examples"
    paths = sorted(examples.glob("*.png"))
    direct = Recognizer.pretrained(backend="onnx", num_threads=1).recognize(paths)
    df = spark.read.format("binaryFile").load(str(examples / "*.png"))
    binary_to_image = BinaryToImage().setInputCol("content").setOutputCol("image")
    stage = ImageHandwrittenTextRecognizer.pretrained().setInputCol("image").setOutputCol("handwritten_text")
    pipeline = PipelineModel(stages=[binary_to_image, stage.setBackend("onnx")])
    rows = pipeline.transform(df).select("path", "handwritten_text").collect()
    assert {_name(r.path): r.handwritten_text for r in rows} == {p.name: r.text for p, r in zip(paths, direct)}
    assert all(len(r.text) > 10 for r in direct)


def test_beam_decoder_with_the_bundled_language_model(spark: SparkSession) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    paths = sorted(examples.glob("*.png"))
    direct = Recognizer.pretrained(decoder="beam").recognize(paths)
    df = BinaryToImage().transform(spark.read.format("binaryFile").load(str(examples / "*.png")))
    out = ImageHandwrittenTextRecognizer.pretrained().setDecoder("beam").transform(df)
    rows = out.select("path", "handwritten_text").collect()
    assert {_name(r.path): r.handwritten_text for r in rows} == {p.name: r.text for p, r in zip(paths, direct)}
    assert ImageHandwrittenTextRecognizer().getDecoder() == "auto"  # beam here: the model has an LM
    with pytest.raises(ValueError, match="decoder must be 'auto' or 'greedy' or 'beam'"):
        ImageHandwrittenTextRecognizer().setDecoder("viterbi")


def test_letter_case_upper_for_block_capitals(spark: SparkSession, tmp_path: Path) -> None:
    """setLetterCase("upper") reads as the Recognizer does with letter_case="upper", and survives save and load."""
    line = Path(__file__).resolve().parents[2] / "examples" / "block_capitals" / "cdj_w_0235_1_l08.png"
    direct = Recognizer.pretrained(decoder="greedy", letter_case="upper").recognize(line).text
    stage = ImageHandwrittenTextRecognizer.pretrained().setDecoder("greedy").setLetterCase("upper")
    stage.save(str(tmp_path / "stage"))
    stage = ImageHandwrittenTextRecognizer.load(str(tmp_path / "stage"))
    assert stage.getLetterCase() == "upper"
    images = BinaryToImage().transform(spark.read.format("binaryFile").load(str(line)))
    assert stage.transform(images).select("handwritten_text").first().handwritten_text == direct
    assert ImageHandwrittenTextRecognizer().getLetterCase() == "as_read"
    with pytest.raises(ValueError, match="letterCase must be 'as_read' or 'upper' or 'lower'"):
        ImageHandwrittenTextRecognizer().setLetterCase("title")


def test_paragraph_images(spark: SparkSession, make_paragraph, tmp_path: Path) -> None:
    """setParagraph(True): each row's lines are found and read, as recognize_paragraph does; a
    broken file gets its error and the other rows go on; the setting survives save and load."""
    for count in (3, 5):
        make_paragraph(count, 4)[0].save(tmp_path / f"page{count}.png")
    (tmp_path / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n torn off")
    direct = Recognizer.pretrained(decoder="greedy")
    want = {f"page{n}.png": direct.recognize_paragraph(tmp_path / f"page{n}.png").text for n in (3, 5)}
    stage = ImageHandwrittenTextRecognizer.pretrained().setDecoder("greedy").setParagraph(True)
    stage.save(str(tmp_path / "stage"))
    stage = ImageHandwrittenTextRecognizer.load(str(tmp_path / "stage"))
    assert stage.getParagraph() is True
    images = BinaryToImage().transform(spark.read.format("binaryFile").load(str(tmp_path / "*.png")))
    rows = {_name(r.path): r for r in stage.setConfidenceCol("confidence").transform(images).collect()}
    assert {name: rows[name].handwritten_text for name in want} == want
    assert [len(want[f"page{n}.png"].split("\n")) for n in (3, 5)] == [3, 5]
    assert all(0 < rows[name].confidence <= 1 for name in want)
    assert rows["torn.png"].handwritten_text is None and "torn.png" in rows["torn.png"].handwritten_text_error


@pytest.mark.parametrize(
    ("keywords", "message"),
    [({"batchSize": 0}, "batchSize must be at least 1, got 0"), ({"numThreads": -1}, "numThreads must be 0"),
     ({"maxPixels": 0}, "maxPixels must be positive"), ({"decoder": "viterbi"}, "decoder must be 'auto'"),
     ({"letterCase": "title"}, "letterCase must be 'as_read'")],
)
def test_bad_params_fail_on_the_driver_through_every_way_of_setting_them(keywords: dict, message: str) -> None:
    """The keyword constructor and the setter both check, before any Spark job exists."""
    (name, value), = keywords.items()
    with pytest.raises(ValueError, match=message):
        ImageHandwrittenTextRecognizer(**keywords)
    with pytest.raises(ValueError, match=message):
        getattr(ImageHandwrittenTextRecognizer(), "set" + name[0].upper() + name[1:])(value)
