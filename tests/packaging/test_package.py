"""The package as installed: one version, typed, licensed, and importing it does not load torch."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sparkhtr

REPO = Path(__file__).resolve().parents[2]


def _loads_torch(statement: str) -> bool:
    code = f"import sys; {statement}; print('torch' in sys.modules)"
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return printed.strip() == "True"


def test_importing_the_package_and_its_image_reader_does_not_load_torch():
    assert not _loads_torch("import sparkhtr")
    assert not _loads_torch("import sparkhtr.io.image, sparkhtr.registry, sparkhtr.data.splits")
    # The names still resolve, loading what they need: torch only once a torch backend is built.
    assert not _loads_torch("from sparkhtr import Recognizer")


def test_one_version_and_the_package_files():
    from importlib.metadata import version

    assert version("sparkhtr") == sparkhtr.__version__
    assert (REPO / "sparkhtr" / "py.typed").is_file()
    assert "Apache License" in (REPO / "LICENSE").read_text("utf-8")[:200]
    assert f"## {sparkhtr.__version__}" in (REPO / "CHANGELOG.md").read_text("utf-8")


def _loaded(statement: str) -> dict[str, bool]:
    code = f"import sys; {statement}; print('torch' in sys.modules, 'onnxruntime' in sys.modules)"
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    torch, onnxruntime = printed.split()[-2:]
    return {"torch": torch == "True", "onnxruntime": onnxruntime == "True"}


def test_the_runtime_imports_neither_torch_nor_onnxruntime_until_a_backend_is_built():
    modules = [
        "sparkhtr.inference.recognizer", "sparkhtr.inference.predictor", "sparkhtr.inference.loader",
        "sparkhtr.inference.onnx_backend", "sparkhtr.inference.backends", "sparkhtr.inference.positions",
        "sparkhtr.model.files", "sparkhtr.cli.main", "sparkhtr.cli.recognize", "sparkhtr.calibrate.lm_build",
        "sparkhtr.calibrate.tuning",
    ]
    assert _loaded(f"import {', '.join(modules)}; from sparkhtr import Recognizer") == {
        "torch": False, "onnxruntime": False
    }


def test_an_onnx_recognizer_reads_lines_and_paragraphs_without_torch():
    """What an install without torch does (benchmarks/footprint.py checks it in such a venv)."""
    pytest.importorskip("onnxruntime")
    example = REPO / "examples" / "cdj_imp_0123_l01.png"
    code = (
        "from sparkhtr import Recognizer; "
        "r = Recognizer.pretrained(backend='onnx', num_threads=1); "
        f"result = r.recognize({str(example)!r}); assert result.text and result.backend == 'onnx'; "
        f"assert r.recognize_paragraph({str(example)!r}).lines"
    )
    assert _loaded(code) == {"torch": False, "onnxruntime": True}


def test_names_shared_with_torch_modules_agree():
    """model.files and onnx_backend repeat what onnx_export and span say, so that reading a model
    needs no torch: the copies must not drift."""
    from sparkhtr.inference.onnx_backend import FRAME_STRIDE
    from sparkhtr.model import files, onnx_export
    from sparkhtr.model.span import SpanLineModel

    assert (files.ONNX_FILE, files.INT8_ONNX_FILE) == (onnx_export.ONNX_FILE, onnx_export.INT8_ONNX_FILE)
    assert files.ONNX_CONFIG_KEY == onnx_export.CONFIG_METADATA_KEY
    assert FRAME_STRIDE == SpanLineModel.WIDTH_REDUCTION


# Modules that may import torch when imported: the torch backend, the model definition and its
# export and import, training. Everything else imports it inside the functions that need it.
TORCH_MODULES = {
    "sparkhtr.inference.torch_backend", "sparkhtr.model.span", "sparkhtr.model.onnx_export",
    "sparkhtr.model.span_import",
}


def _module_imports() -> dict[str, set[str]]:
    """Each sparkhtr module's imports made at import time (not under TYPE_CHECKING, not in functions)."""
    files = {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (REPO / "sparkhtr").rglob("*.py")
    }

    def found(statements: list[ast.stmt], into: set[str]) -> None:
        for st in statements:
            if isinstance(st, ast.Import):
                into.update(alias.name for alias in st.names)
            elif isinstance(st, ast.ImportFrom) and st.module and st.level == 0:
                for alias in st.names:
                    full = f"{st.module}.{alias.name}"
                    into.add(full if full in files else st.module)
            elif isinstance(st, ast.If) and "TYPE_CHECKING" not in ast.unparse(st.test):
                found(st.body, into)
                found(st.orelse, into)
            elif isinstance(st, ast.Try):
                found(st.body, into)

    imports: dict[str, set[str]] = {}
    for name, path in files.items():
        imports[name] = set()
        found(ast.parse(path.read_text("utf-8")).body, imports[name])
    return imports


def test_only_the_torch_modules_import_torch_and_no_modules_import_each_other():
    imports = _module_imports()
    with_torch = {m for m, names in imports.items() if any(n == "torch" or n.startswith("torch.") for n in names)}
    assert {m for m in with_torch if not m.startswith("sparkhtr.train.")} == TORCH_MODULES
    graph = {m: {n for n in names if n in imports and n != m} for m, names in imports.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                if nxt == goal:
                    return True
                seen.add(nxt)
                todo.append(nxt)
        return False

    assert [(a, b) for a in graph for b in graph[a] if reaches(b, a)] == []
    # Data flows one way: the runtime never imports the offline work or the command line.
    runtime = [m for m in graph if m.startswith("sparkhtr.inference.")]
    assert not [(m, n) for m in runtime for n in graph[m] if n.startswith(("sparkhtr.calibrate", "sparkhtr.cli"))]
