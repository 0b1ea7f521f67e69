"""Workers find sparkhtr: in local mode the stages run the driver's interpreter whatever Spark was
told; elsewhere a probe fails first with one message naming PYSPARK_PYTHON / spark.pyspark.python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from sparkhtr import Recognizer
from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer
from sparkhtr.spark.python_env import WorkerPythonError, check_executor_python, is_local_master

pytestmark = pytest.mark.spark

SYSTEM_PYTHON = "/usr/bin/python3"  # a Python without torch, as `python3` on PATH is outside the venv


def test_local_stages_ignore_a_python_that_cannot_run_them(
    spark: SparkSession, model_dir: Path, line_dir: Path
) -> None:
    """What a session created before the import gets: workers told to run a Python without sparkhtr."""
    sc = spark.sparkContext
    saved = sc.pythonExec
    sc.pythonExec = "/nonexistent/bin/python3"
    try:
        df = spark.read.format("binaryFile").load(str(line_dir))
        stages = [BinaryToImage(), ImageHandwrittenTextRecognizer(modelPath=str(model_dir))]
        rows = PipelineModel(stages=stages).transform(df).select("path", "handwritten_text").collect()
        assert sc.pythonExec == "/nonexistent/bin/python3"  # only the stages' own UDFs were changed
    finally:
        sc.pythonExec = saved
    paths = sorted(line_dir.iterdir())
    direct = Recognizer.load(model_dir).recognize(paths)
    assert {r.path.rsplit("/", 1)[-1]: r.handwritten_text for r in rows} == {
        p.name: r.text for p, r in zip(paths, direct, strict=True)
    }


@pytest.mark.parametrize(
    ("python", "says"), [(SYSTEM_PYTHON, "cannot import numpy"), ("/nonexistent/bin/python3", "could not start")]
)
def test_probe_names_the_setting_to_fix(spark: SparkSession, python: str, says: str) -> None:
    if python == SYSTEM_PYTHON and not Path(SYSTEM_PYTHON).is_file():
        pytest.skip(f"no {SYSTEM_PYTHON} here")
    sc = spark.sparkContext
    saved = sc.pythonExec
    sc.pythonExec = python
    try:
        with pytest.raises(WorkerPythonError, match="PYSPARK_PYTHON") as caught:
            check_executor_python(spark)
    finally:
        sc.pythonExec = saved
    message = str(caught.value)
    assert says in message and python in message and "spark.pyspark.python" in message
    assert len(message.splitlines()) == 1
    check_executor_python(spark)  # this interpreter passes


def test_local_masters() -> None:
    assert all(is_local_master(m) for m in ("local", "local[2]", "local[*]", "local-cluster[2,1,1024]"))
    assert not any(is_local_master(m) for m in ("spark://127.0.0.1:7077", "yarn", "k8s://https://h:443"))


JOB = """
import json, os, sys
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
from pyspark.sql import SparkSession

spark = (
    SparkSession.builder.master("local[2]").config("spark.driver.host", "127.0.0.1")
    .config("spark.driver.bindAddress", "127.0.0.1").config("spark.ui.enabled", "false").getOrCreate()
)
imagePath = sys.argv[1]

from pyspark.ml import PipelineModel
from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer

df = spark.read.format("binaryFile").load(imagePath)
binary_to_image = BinaryToImage().setInputCol("content").setOutputCol("image")
recognizer = ImageHandwrittenTextRecognizer.pretrained(
    "image_handwritten_text_recognition_span0819", "en", "public/ocr/models"
).setInputCol("image").setOutputCol("handwritten_text")
pipeline = PipelineModel(stages=[binary_to_image, recognizer])
data = pipeline.transform(df)
data.select("handwritten_text").show(truncate=False)
rows = data.select("path", "handwritten_text", "handwritten_text_error").collect()
print("ROWS " + json.dumps([r.asDict() for r in rows]))
spark.stop()
"""


def test_session_first_script_from_an_unactivated_venv(
    tmp_path: Path, example_dir: tuple[Path, list[Path], dict[str, str]]
) -> None:
    """`.venv/bin/python job.py`, venv not activated, session created before the import: every row read."""
    folder, good, bad = example_dir
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB), "utf-8")
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir)
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    done = subprocess.run(
        [sys.executable, str(script), str(folder)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(done.stdout.split("ROWS ", 1)[1].splitlines()[0])}
    direct = Recognizer.pretrained(lang="en").recognize(good)  # the job asks for the reference's "en"
    assert set(rows) == {p.name for p in good} | set(bad)
    for path, result in zip(good, direct, strict=True):
        assert rows[path.name]["handwritten_text"] == result.text and result.text
    for name, word in bad.items():
        assert rows[name]["handwritten_text"] is None and word in rows[name]["handwritten_text_error"]
    assert "served by sparkhtr's span_small_latin" in done.stderr  # the one logged line
