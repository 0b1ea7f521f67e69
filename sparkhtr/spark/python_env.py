"""Which Python runs the stages' UDFs on the workers, and a check that it can import sparkhtr.

Why: Spark starts its Python workers with ``PYSPARK_PYTHON`` as it was when the SparkContext
was created, else ``python3`` from ``PATH``. A script run as ``.venv/bin/python job.py`` from a
venv that is not activated, which creates its session before importing ``sparkhtr.spark`` (as
notebooks do), sends every task to a ``python3`` without torch, and the whole job dies on the
workers with ``ModuleNotFoundError``.

- In local mode (``local``, ``local[N]``, ``local-cluster[...]``) the workers run on this machine,
  so the stages' UDFs are built with this interpreter, the driver's, whatever came first,
  session or import. Only the stages' own UDFs: the context's setting is restored at once, so
  the user's other UDFs keep the Python they were given.
- Elsewhere, the driver cannot know the executors' paths. Before the first task of the pipeline,
  one small probe job imports what the stages need on the executors, once per application and
  Python; if that fails, the stage raises one ``WorkerPythonError`` that says what was missing
  and names ``PYSPARK_PYTHON`` / ``spark.pyspark.python``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyspark.sql import SparkSession

__all__ = ["WorkerPythonError", "is_local_master", "stage_python", "check_executor_python"]

# Modules a worker imports to run the stages; probed in this order so the message names the first missing one.
NEEDED_MODULES = ("numpy", "pandas", "pyarrow", "PIL", "torch", "sparkhtr")

# (application id, python executable) already probed successfully: probe once per application.
_CHECKED: set[tuple[str, str]] = set()

# The probe's source. It is compiled into a module of its own name, which does not exist on the
# executors, so cloudpickle ships the function by value: a probe imported from sparkhtr could
# not even be unpickled where sparkhtr is missing, which is the very case it must report.
_PROBE_SOURCE = '''
def probe(_rows):
    import importlib, socket, sys
    missing = []
    for name in NEEDED:
        try:
            importlib.import_module(name)
        except Exception as exc:
            missing.append(name + " (" + type(exc).__name__ + ": " + str(exc) + ")")
    version = None
    if not missing:
        version = getattr(sys.modules["sparkhtr"], "__version__", None)
    yield (socket.gethostname(), sys.executable, "%d.%d" % sys.version_info[:2], version, missing)
'''


class WorkerPythonError(RuntimeError):
    """The executors' Python cannot run the stages (no sparkhtr, torch... there)."""


def is_local_master(master: str) -> bool:
    """True when executors run on the driver's machine and can use its interpreter."""
    return master.startswith("local")


def _probe() -> Any:
    namespace: dict[str, Any] = {"__name__": "sparkhtr_worker_probe", "NEEDED": NEEDED_MODULES}
    exec(compile(_PROBE_SOURCE, "<sparkhtr worker probe>", "exec"), namespace)  # noqa: S102 - fixed source above
    return namespace["probe"]


def _failure(spark: SparkSession, python: str, detail: str) -> WorkerPythonError:
    # Name the setting that chose this Python: the conf when it is the one running, else the variable
    # (or a pythonExec changed at run time, which PYSPARK_PYTHON also sets).
    conf = spark.sparkContext.getConf().get("spark.pyspark.python")
    setting = f"spark.pyspark.python={conf}" if conf == python else f"PYSPARK_PYTHON={python}"
    return WorkerPythonError(
        f"sparkhtr cannot run on this cluster's executors: their Python ({setting}) {detail}. "
        "Point PYSPARK_PYTHON (or spark.pyspark.python) at a Python that has sparkhtr and its "
        "dependencies on every node: install it there, or ship a packed environment with --archives "
        "(docs/spark.md, 'On a cluster')"
    )


def check_executor_python(spark: SparkSession) -> None:
    """Import what the stages need on the executors, once per application; raise one clear error if it fails."""
    sc = spark.sparkContext
    python = sc.pythonExec
    key = (sc.applicationId, python)
    if key in _CHECKED:
        return
    slots = max(1, sc.defaultParallelism)  # a few tasks, so that most executors get one
    try:
        reports = sc.parallelize(range(slots), slots).mapPartitions(_probe()).collect()
    except Exception as exc:  # the worker could not even start (no such file, wrong Python version)
        lines = [line for line in str(exc).splitlines() if line.strip()]
        reason = next((line for line in lines if "Error" in line or "error" in line), lines[0] if lines else "")
        raise _failure(spark, python, f"could not start: {reason.strip()[:400]}") from exc
    for host, executable, version, _, missing in reports:
        if missing:
            raise _failure(spark, python, f"on {host} ({executable}, Python {version}) cannot import {missing[0]}")
    _CHECKED.add(key)


@contextmanager
def stage_python(spark: SparkSession) -> Iterator[None]:
    """Build a stage's UDF inside this block: workers get a Python that can import sparkhtr.

    The UDF's Java object captures ``sc.pythonExec`` when it is created (when the UDF is called
    on its columns), so that call must happen inside the block.
    """
    sc = spark.sparkContext
    if not is_local_master(sc.master):
        check_executor_python(spark)
        yield
        return
    saved = sc.pythonExec
    sc.pythonExec = sys.executable
    try:
        yield
    finally:
        sc.pythonExec = saved
