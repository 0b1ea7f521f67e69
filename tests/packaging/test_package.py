"""The package as installed: one version, typed, licensed, and importing it does not load torch."""

import subprocess
import sys
from pathlib import Path

import sparkhtr

REPO = Path(__file__).resolve().parents[2]


def _loads_torch(statement: str) -> bool:
    code = f"import sys; {statement}; print('torch' in sys.modules)"
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return printed.strip() == "True"


def test_importing_the_package_and_its_image_reader_does_not_load_torch():
    assert not _loads_torch("import sparkhtr")
    assert not _loads_torch("import sparkhtr.io.image, sparkhtr.registry, sparkhtr.data.splits")
    assert _loads_torch("from sparkhtr import Recognizer")  # the names still resolve, loading what they need


def test_one_version_and_the_package_files():
    from importlib.metadata import version

    assert version("sparkhtr") == sparkhtr.__version__
    assert (REPO / "sparkhtr" / "py.typed").is_file()
    assert "Apache License" in (REPO / "LICENSE").read_text("utf-8")[:200]
    assert f"## {sparkhtr.__version__}" in (REPO / "CHANGELOG.md").read_text("utf-8")
