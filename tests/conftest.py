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


@pytest.fixture(scope="session")
def trained_model_dir(small_dataset: Path, tmp_path_factory) -> Path:
    """A model trained for a few steps on real lines through the library's own training loop."""
    from sparkhtr.train.config import load_train_config
    from sparkhtr.train.loop import train

    out = tmp_path_factory.mktemp("trained") / "model"
    config = load_train_config(
        None, out=str(out), train=[str(small_dataset)], val=str(small_dataset), architecture="span_quarter",
        line_height=32, steps=40, batch_size=4, eval_every=40, checkpoint_every=20, augment_p=0.0, workers=0,
        warmup_steps=5, lr=2e-3, charset="data", seed=3,
    )
    return train(config, progress=False)
