"""Shared fixtures: real Copiste line images from ../shared, and real model directories."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sparkhtr.model.config import ModelConfig, PreprocessingConfig, architecture
from sparkhtr.model.files import build_model, save_model
from sparkhtr.text.charset import LATIN_CHARSET

REPO = Path(__file__).resolve().parents[1]

# Under pytest-xdist (`make test` runs two workers on CI's two cores) each worker's torch and ONNX
# Runtime get one thread: two workers of two threads each on two busy cores made training steps
# about 3 times as costly in CPU time as one thread did (OpenMP threads waiting on descheduled
# peers). Set before anything imports torch; a test that wants more threads still asks for them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


FIXTURES = REPO / "tests" / "fixtures" / "shared"  # a few attributed lines, pages and the fonts


def _shared_dir() -> Path:
    """The read-only data folder: $SPARKHTR_SHARED, else ../shared beside this checkout, else
    ../shared beside the checkout this one was cloned from (a scratch clone made elsewhere), else
    the small copy in tests/fixtures/shared."""
    if os.environ.get("SPARKHTR_SHARED"):
        return Path(os.environ["SPARKHTR_SHARED"])
    beside = REPO.parent / "shared"
    if beside.is_dir():
        return beside
    origin = subprocess.run(
        ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"], capture_output=True, text=True
    ).stdout.strip()
    if origin and Path(origin).is_dir() and (Path(origin).resolve().parent / "shared").is_dir():
        return Path(origin).resolve().parent / "shared"
    return FIXTURES


SHARED = _shared_dir()
# Test modules that need ../shared at import time (skip marks, constants) read it from here: pytest
# imports this conftest before it collects them.
os.environ["SPARKHTR_SHARED"] = str(SHARED)
COPISTE = SHARED / "data" / "copiste_dun_jour_fr"
FULL_SHARED = SHARED.resolve() != FIXTURES.resolve()


def pytest_report_header() -> str:
    return f"sparkhtr test data: {SHARED}" + ("" if FULL_SHARED else " (the fixture subset: full_shared tests skip)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if FULL_SHARED:
        return
    skip = pytest.mark.skip(reason=f"needs the whole collections of ../shared/data; this run reads {FIXTURES}")
    for item in items:
        if item.get_closest_marker("full_shared"):
            item.add_marker(skip)


# Under xdist (`make test`: ``-n 2 --dist loadgroup``) the tests on the shared Spark session run on
# one worker, so that one JVM starts and its Python workers load each model once; the other worker
# takes the rest, and both share what is left once the Spark tests are done. Tests under
# tests/spark that start Spark apps of their own, without the session, may run on either worker.
# Why not xdist's own loadgroup: it marks a group by rewriting the node id, which pytest 9 ignores.
SPARK_TESTS = "tests/spark/"
OWN_SPARK_APP = (
    "tests/spark/test_worker_python.py::test_session_first_script_from_an_unactivated_venv",
    "tests/spark/test_standalone_cluster.py",
)


def _work_unit(nodeid: str) -> str:
    """What xdist hands to one worker at once: the Spark session's tests together, else each test."""
    if nodeid.startswith(SPARK_TESTS) and not nodeid.startswith(OWN_SPARK_APP):
        return "spark-session"
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    if config.getvalue("dist") != "loadgroup":
        return None  # xdist's own schedulers
    from xdist.scheduler import LoadScopeScheduling

    class SparkTogether(LoadScopeScheduling):
        # Units go out largest first (xdist's --loadscope-reorder default): the Spark tests at once.
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid)

    return SparkTogether(config, log)


def _manifest() -> list[dict[str, str]]:
    with (COPISTE / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture(scope="session")
def copiste_dir() -> Path:
    if not COPISTE.is_dir():
        pytest.fail(
            f"{COPISTE} is missing: the tests read real line images from ../shared/data "
            "(or set SPARKHTR_SHARED to the folder holding data/)"
        )
    return COPISTE


@pytest.fixture(scope="session")
def val_lines(copiste_dir: Path) -> list[Path]:
    """Twelve real validation line images."""
    rows = [r for r in _manifest() if r["split"] == "val"][:12]
    return [copiste_dir / "lines" / f"{r['id']}.png" for r in rows]


@pytest.fixture(scope="session")
def make_paragraph(copiste_dir: Path):
    """make(count, gap) -> (image, y spans, texts): ``count`` consecutive val lines of one page
    (the first group that has that many) one under the other, ``gap`` pixels apart (overlapping,
    ink kept, when negative), shifted a little sideways as handwriting is."""

    def make(count: int, gap: int) -> tuple[Image.Image, list[tuple[int, int]], list[str]]:
        groups: dict[str, list[dict[str, str]]] = {}
        for row in _manifest():
            if row["split"] == "val":
                groups.setdefault(row["group"], []).append(row)
        rows = sorted(next(g for g in groups.values() if len(g) >= count), key=lambda r: r["id"])[:count]
        lines = [np.asarray(Image.open(copiste_dir / "lines" / f"{r['id']}.png").convert("L")) for r in rows]
        width = max(line.shape[1] for line in lines) + 60
        page = np.full((sum(line.shape[0] for line in lines) + gap * (count - 1) + 60, width), 255, np.uint8)
        spans, y = [], 30
        for i, line in enumerate(lines):
            x = 20 + 7 * (i % 3)
            region = page[y : y + line.shape[0], x : x + line.shape[1]]
            region[...] = np.minimum(region, line)
            spans.append((y, y + line.shape[0]))
            y += line.shape[0] + gap
        return Image.fromarray(page), spans, [r["text"] for r in rows]

    return make


@pytest.fixture(scope="session")
def small_dataset(copiste_dir: Path, tmp_path_factory) -> Path:
    """A folder dataset of 48 train and 8 val Copiste lines, with its manifest."""
    root = tmp_path_factory.mktemp("copiste_small")
    (root / "lines").mkdir()
    rows = [r for r in _manifest() if r["split"] == "train"][:48] + [r for r in _manifest() if r["split"] == "val"][:8]
    for row in rows:
        for suffix in (".png", ".txt"):
            shutil.copy(copiste_dir / "lines" / f"{row['id']}{suffix}", root / "lines")
    with (root / "manifest.tsv").open("w", encoding="utf-8") as handle:
        handle.write("id\tsplit\n" + "".join(f"{r['id']}\t{r['split']}\n" for r in rows))
    return root


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory) -> Path:
    """A real model directory: a quarter-width SPAN with random weights and the Latin charset."""
    config = ModelConfig(architecture("span_quarter"), list(LATIN_CHARSET), PreprocessingConfig(line_height=48))
    return save_model(tmp_path_factory.mktemp("random_model"), build_model(config), config)


def _train_small_model(small_dataset: Path, out: Path) -> Path:
    from sparkhtr.train.config import load_train_config
    from sparkhtr.train.loop import train

    config = load_train_config(
        None, out=str(out), train=[str(small_dataset)], val=str(small_dataset), architecture="span_quarter",
        line_height=32, steps=40, batch_size=4, eval_every=40, checkpoint_every=20, augment_p=0.0, workers=0,
        warmup_steps=5, lr=2e-3, charset="data", seed=3,
    )
    return train(config, progress=False)


@pytest.fixture(scope="session")
def trained_model_dir(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained for a few steps on real lines through the library's own training loop.

    Under xdist the workers share one: the first that needs it trains it while holding a lock on
    the run's common temporary folder, the other waits and reads it (tests only copy it)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return _train_small_model(small_dataset, tmp_path_factory.mktemp("trained") / "model")
    import fcntl

    shared = tmp_path_factory.getbasetemp().parent / "trained_model"
    done = shared / "trained"
    with open(tmp_path_factory.getbasetemp().parent / "trained_model.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.is_file():
            shutil.rmtree(shared, ignore_errors=True)  # what a worker that died while training left
            model = _train_small_model(small_dataset, shared / "model")
            done.write_text(str(model), "utf-8")
    return Path(done.read_text("utf-8"))
