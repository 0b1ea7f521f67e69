"""A real Spark standalone cluster on 127.0.0.1: a master and two workers started from the pyspark
install, a saved PipelineModel loaded by a job sent with ``spark-submit``, every row checked.

Everything binds to loopback on ports chosen free; every process is started in a session of its
own and its whole group is stopped in a ``finally``, so an executor or Python worker cannot
outlive the test. Each wait has a deadline, so a broken cluster fails the test instead of hanging CI.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest

from sparkhtr import Recognizer

pytestmark = pytest.mark.spark

SPARK_HOME = Path(pyspark.__file__).parent
START_DEADLINE_S = 120  # master up and both workers registered
JOB_DEADLINE_S = 420  # one spark-submit, JVM start to exit, on a busy 2-core machine
SYSTEM_PYTHON = "/usr/bin/python3"  # a Python without torch, as `python3` on PATH is outside a venv

JOB = """
import json, os, sys
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession
from sparkhtr.spark import BinaryToImage, ImageHandwrittenTextRecognizer

model_dir, pipeline_dir, images, out = sys.argv[1:5]
spark = SparkSession.builder.appName("sparkhtr-standalone-test").getOrCreate()
# The documented pipeline, saved with its model; the model directory then goes away, so what runs
# next comes from the saved pipeline alone.
recognizer = ImageHandwrittenTextRecognizer(modelPath=model_dir, confidenceCol="confidence")
PipelineModel(stages=[BinaryToImage(), recognizer]).write().overwrite().save(pipeline_dir)
os.rename(model_dir, model_dir + ".gone")
model = PipelineModel.load(pipeline_dir)
df = spark.read.format("binaryFile").load(images).repartition(4)  # rows for both executors
rows = model.transform(df).select("path", "handwritten_text", "confidence", "handwritten_text_error").collect()
executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1  # minus the driver
result = {"master": spark.sparkContext.master, "executors": executors, "rows": [r.asDict() for r in rows]}
if len(sys.argv) > 5:  # then executors told to run a Python without sparkhtr: the stage must refuse first
    spark.sparkContext.pythonExec = sys.argv[5]
    try:
        model.transform(df)  # raises here, before any task of the pipeline runs
        result["without_sparkhtr"] = None
    except Exception as exc:
        result["without_sparkhtr"] = type(exc).__name__ + ": " + str(exc)
with open(out, "w") as f:
    json.dump(result, f)
spark.stop()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spark_class() -> str:
    """pyspark's bin/spark-class: it sets what the daemons and their executors need (SPARK_SCALA_VERSION...)."""
    script = SPARK_HOME / "bin" / "spark-class"
    if shutil.which("java") is None or not script.is_file() or not (SPARK_HOME / "bin" / "spark-submit").is_file():
        pytest.skip("needs java on PATH and pyspark's bin/spark-class and bin/spark-submit")
    return str(script)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_")}
    env.update(
        SPARK_HOME=str(SPARK_HOME),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_DAEMON_MEMORY="256m",  # master and workers only schedule; the executors get their own heap
        SPARK_DAEMON_JAVA_OPTS="-Dspark.master.rest.enabled=false",  # no REST submission port
    )
    return env


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    """Stop the process and everything it started (executors, their Python workers)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; children left in its group get the same signal
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as response:
            return int(json.load(response).get("aliveworkers", 0))
    except (OSError, ValueError):
        return 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:<port>`` of a master with two 1-core workers, stopped at the end."""
    daemon = [_spark_class()]
    folder = tmp_path_factory.mktemp("standalone")
    port, ui_port = _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    processes: list[subprocess.Popen] = []
    try:
        master = ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port)]
        processes.append(_start([*daemon, *master, "--webui-port", str(ui_port)], folder / "master.log"))
        for i in range(2):
            work = folder / f"worker{i}"
            work.mkdir()
            worker = [
                "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--port", str(_free_port()),
                "--webui-port", str(_free_port()), "--cores", "1", "--memory", "1500m", "--work-dir", str(work), url,
            ]
            processes.append(_start([*daemon, *worker], folder / f"worker{i}.log"))
        deadline = time.monotonic() + START_DEADLINE_S
        while _alive_workers(ui_port) < 2:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                logs = "\n".join(p.read_text(errors="replace")[-1500:] for p in sorted(folder.glob("*.log")))
                pytest.fail(f"the standalone cluster did not start within {START_DEADLINE_S} s:\n{logs}")
            time.sleep(1)
        yield url
    finally:
        for process in reversed(processes):
            _stop(process)


def _submit(url: str, job: Path, args: list[str], log: Path) -> tuple[int, str]:
    """spark-submit ``job`` to the cluster on two 1-core executors running this Python; (exit code,
    its output). Killed whole at the deadline."""
    submit = [
        str(SPARK_HOME / "bin" / "spark-submit"), "--master", url,
        "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
        "--conf", "spark.ui.enabled=false", "--conf", "spark.executor.memory=768m",
        "--conf", "spark.executor.cores=1", "--conf", "spark.task.cpus=1", "--conf", "spark.cores.max=2",
        "--conf", f"spark.pyspark.driver.python={sys.executable}", "--conf", f"spark.pyspark.python={sys.executable}",
        str(job), *args,
    ]
    process = _start(submit, log)
    try:
        code = process.wait(timeout=JOB_DEADLINE_S)
    except subprocess.TimeoutExpired:
        code = -1
    finally:
        _stop(process)
    return code, log.read_text(errors="replace")


def test_spark_submit_to_a_standalone_cluster(
    cluster: str, model_dir: Path, mixed_dir: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """A saved pipeline loaded and run on two executors, every row checked; then, in the same
    application (a second spark-submit would cost two more JVMs), executors told to run a Python
    without sparkhtr: the stage says so, naming the setting, before any task of the pipeline.

    The job saves the pipeline itself, so this test needs no local session and can run beside the
    tests that share one (tests/conftest.py)."""
    folder, bad = mixed_dir
    job = tmp_path / "job.py"
    job.write_text(textwrap.dedent(JOB), "utf-8")
    out = tmp_path / "rows.json"
    without = SYSTEM_PYTHON if Path(SYSTEM_PYTHON).is_file() else "/nonexistent/bin/python3"
    shipped = shutil.copytree(model_dir, tmp_path / "model")  # the job removes it once saved
    args = [str(shipped), str(tmp_path / "htr_pipeline"), str(folder), str(out), without]
    code, log = _submit(cluster, job, args, tmp_path / "job.log")
    assert code == 0, log[-4000:]
    result = json.loads(out.read_text("utf-8"))
    assert result["master"] == cluster and result["executors"] == 2
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in result["rows"]}
    assert set(rows) == {p.name for p in folder.iterdir()}  # no row lost
    good = [p for p in sorted(folder.iterdir()) if p.name not in bad]
    for path, expected in zip(good, Recognizer.load(model_dir).recognize(good), strict=True):
        row = rows[path.name]
        assert row["handwritten_text"] == expected.text and expected.text and row["handwritten_text_error"] is None
        assert row["confidence"] == pytest.approx(expected.confidence, abs=1e-4)
    for name, word in bad.items():
        assert rows[name]["handwritten_text"] is None and word in rows[name]["handwritten_text_error"]
        assert rows[name]["handwritten_text_error"].startswith(rows[name]["path"])
    refused = result["without_sparkhtr"]
    assert refused is not None
    assert refused.startswith("WorkerPythonError: sparkhtr cannot run on this cluster's executors"), refused
    assert f"PYSPARK_PYTHON={without}" in refused and "spark.pyspark.python" in refused
    assert len(refused.splitlines()) == 1
