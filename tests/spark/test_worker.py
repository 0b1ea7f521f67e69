"""The worker side without Spark: the per-process model cache and the recognition of one Arrow batch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from sparkhtr import Recognizer
from sparkhtr.io.image import load_image
from sparkhtr.spark.image_struct import ImageType, encode_image, invalid_image
from sparkhtr.spark.model_store import model_digest, read_model_files
from sparkhtr.spark.worker import ModelSpec, get_recognizer, recognize_frame


def test_the_model_is_loaded_once_per_process(model_dir: Path) -> None:
    files = read_model_files(model_dir)
    assert sorted(files) == ["config.json", "model.safetensors"]
    calls = []

    def fetch() -> dict[str, bytes]:
        calls.append(1)
        return files

    spec = ModelSpec(model_digest(files))
    first = get_recognizer(spec, fetch)
    assert get_recognizer(spec, fetch) is first
    assert len(calls) == 1
    assert first.config.charset == Recognizer.load(model_dir).config.charset


def test_digest_depends_on_content() -> None:
    assert model_digest({"a": b"1"}) != model_digest({"a": b"2"})
    assert model_digest({"a": b"1", "b": b""}) != model_digest({"a": b"1b"})


def test_recognize_frame_keeps_rows_and_order(model_dir: Path, line_dir: Path) -> None:
    paths = sorted(line_dir.iterdir())[:3]
    recognizer = Recognizer.load(model_dir)
    structs = [encode_image(load_image(p), f"file:{p}", ImageType.TYPE_3BYTE_BGR) for p in paths]
    rows = [structs[0], invalid_image("file:/bad.png"), {k: None for k in structs[0]}, structs[1], structs[2]]
    upstream = pd.Series([None, "file:/bad.png: not a readable image (unknown format)", None, None, None])
    frame = recognize_frame(recognizer, pd.DataFrame(rows), upstream, batch_size=2, chunk_size=2)
    expected = recognizer.recognize([Image.open(p) for p in paths])
    assert list(frame["text"]) == [expected[0].text, None, None, expected[1].text, expected[2].text]
    assert frame["error"][1] == "file:/bad.png: not a readable image (unknown format)"
    assert "no image in this row" in frame["error"][2]
    assert frame["error"][[0, 3, 4]].isna().all()
    assert frame["confidence"][0] == pytest.approx(expected[0].confidence, abs=1e-4)
