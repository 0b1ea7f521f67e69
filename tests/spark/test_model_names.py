"""Spark OCR's model names and ``pretrained(name, lang, remote_loc)`` calls work as written.

The reference's example runs with its import changed only, on real line images and the bundled
model, and each row gets the text the Python API gives the same file.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from sparkhtr import Recognizer
from sparkhtr.registry import (
    DEFAULT_MODEL,
    MODEL_ALIASES,
    UnknownModelError,
    bundled_dir,
    model_figures,
    resolve_model,
)
from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer
from sparkhtr.spark.recognizer import model_languages

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.spark

REFERENCE_NAMES = [
    "image_handwritten_text_recognition_span0819",
    "ocr_small_handwritten",
    "ocr_base_handwritten",
    "ocr_large_handwritten",
]


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_reference_names_resolve_with_one_logged_line(name: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="sparkhtr"):
        folder = resolve_model(name, location="public/ocr/models", lang="en")
    assert folder == bundled_dir() / DEFAULT_MODEL
    lines = [r.getMessage() for r in caplog.records if r.name == "sparkhtr.registry"]
    assert len(lines) == 1
    assert name in lines[0] and DEFAULT_MODEL in lines[0] and "lang=en" in lines[0]
    assert "MODEL_CARD.md" in lines[0] or "CER" in lines[0]  # its figures, or where they are


def test_python_api_resolves_the_reference_name() -> None:
    recognizer = Recognizer.pretrained("image_handwritten_text_recognition_span0819", decoder="greedy")
    direct = Recognizer.pretrained(decoder="greedy")
    line = sorted(EXAMPLES.glob("*.png"))[0]
    assert recognizer.recognize(line).text == direct.recognize(line).text


def test_figures_come_from_the_model_directory(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text('{"summary": "Copiste val CER 10.00 %"}', "utf-8")
    assert model_figures(tmp_path) == "Copiste val CER 10.00 %"
    (tmp_path / "metrics.json").write_text("not json", "utf-8")
    assert model_figures(tmp_path) == "no figures shipped with it"


def test_unknown_and_escaping_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match=r"'ocr_tiny_handwritten'.*available: .*span0819"):
        ImageHandwrittenTextRecognizer.pretrained("ocr_tiny_handwritten", "en", "public/ocr/models")
    # A model really exists where '..' leads: it must still not be reachable that way.
    outside = shutil.copytree(bundled_dir() / DEFAULT_MODEL, tmp_path / "outside" / "stolen", ignore=_only_config)
    (tmp_path / "inside").mkdir()
    with pytest.raises(ValueError, match=r"remote_loc .*'\.\.' parts"):
        ImageHandwrittenTextRecognizer.pretrained("stolen", "en", str(tmp_path / "inside" / ".." / "outside"))
    with pytest.raises(ValueError, match="not a model name"):
        ImageHandwrittenTextRecognizer.pretrained("../outside/stolen", "en", str(tmp_path / "inside"))
    with pytest.raises(ValueError, match="not a model name"):
        resolve_model("..")
    # The same folder, named plainly, is a legitimate remote_loc; a real model there beats an alias.
    assert resolve_model("stolen", location=tmp_path / "outside") == outside
    own = shutil.copytree(outside, tmp_path / "outside" / "ocr_base_handwritten")
    assert resolve_model("ocr_base_handwritten", location=tmp_path / "outside", lang="en") == own


def _only_config(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n != "config.json"]


def test_every_alias_names_what_it_stands_for() -> None:
    assert set(REFERENCE_NAMES) <= set(MODEL_ALIASES)
    assert all("Spark OCR" in what for what in MODEL_ALIASES.values())


def test_reference_example_with_only_its_import_changed(
    spark: SparkSession, example_dir: tuple[Path, list[Path], dict[str, str]]
) -> None:
    """The documented Spark OCR example, verbatim but for the import, plus bad files that get null + error."""
    folder, good, bad = example_dir
    imagePath = str(folder)  # noqa: N806 - the reference's own name

    df = spark.read.format("binaryFile").load(imagePath)
    binary_to_image = BinaryToImage().setInputCol("content").setOutputCol("image")
    recognizer = ImageHandwrittenTextRecognizer.pretrained(
        "image_handwritten_text_recognition_span0819", "en", "public/ocr/models"
    ).setInputCol("image").setOutputCol("handwritten_text")
    pipeline = PipelineModel(stages=[binary_to_image, recognizer])
    data = pipeline.transform(df)
    data.select("handwritten_text").show(truncate=False)

    columns = ["path", "handwritten_text", "handwritten_text_error"]
    rows = {r.path.rsplit("/", 1)[-1]: r for r in data.select(*columns).collect()}
    lang = {"lang": recognizer.getLang()} if recognizer.getLang() else {}
    direct = Recognizer.pretrained(**lang).recognize(good)
    assert set(rows) == {p.name for p in good} | set(bad)
    for path, result in zip(good, direct, strict=True):
        assert rows[path.name].handwritten_text == result.text and result.text
        assert rows[path.name].handwritten_text_error is None
    for name, word in bad.items():
        assert rows[name].handwritten_text is None and word in rows[name].handwritten_text_error


def test_unavailable_lang_is_refused_on_the_driver(spark: SparkSession, model_dir: Path, line_dir: Path) -> None:
    df = BinaryToImage().transform(spark.read.format("binaryFile").load(str(line_dir)))
    stage = ImageHandwrittenTextRecognizer(modelPath=str(model_dir)).setLang("xx")
    with pytest.raises(ValueError, match=r"lang='xx'"):
        stage.transform(df)
    assert stage.setLang("auto").getLang() is None  # the default, mixed LM
    assert stage.setLang(None).getLang() is None


def test_lang_picks_the_workers_language_model(spark: SparkSession, tmp_path: Path) -> None:
    """A model with a French LM only (the bundled one): lang='fr' decodes with it (beam), no lang
    decodes greedily, each exactly as ``Recognizer.load`` does; ``pretrained(name, 'fr', loc)``
    sets the language. (The French LM, not the mixed one renamed: each process parses it in half
    the time.)"""
    model = shutil.copytree(bundled_dir() / DEFAULT_MODEL, tmp_path / "fr_only", ignore=_weights_and_config)
    assert sorted(p.name for p in model.iterdir()) == ["config.json", "lm.fr.json.gz", "model.safetensors"]
    if "fr" not in model_languages(model):
        pytest.skip("this sparkhtr's Recognizer does not pick language models by lang yet")
    lines = sorted(EXAMPLES.glob("*.png"))
    df = BinaryToImage().transform(spark.read.format("binaryFile").load([str(p) for p in lines]))
    stage = ImageHandwrittenTextRecognizer.pretrained("fr_only", "fr", str(tmp_path))
    assert stage.getLang() == "fr"
    expected = {}
    for lang in ("fr", None):
        out = stage.setLang(lang).transform(df).select("path", "handwritten_text").collect()
        texts = {r.path.rsplit("/", 1)[-1]: r.handwritten_text for r in out}
        direct = Recognizer.load(model, **({"lang": lang} if lang else {})).recognize(lines)
        expected[lang] = {p.name: r.text for p, r in zip(lines, direct, strict=True)}
        assert texts == expected[lang]
    assert expected["fr"] != expected[None]  # the language really changed the decoding


def _weights_and_config(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n not in ("config.json", "model.safetensors", "lm.fr.json.gz")]
