"""The package's shape (issue #19): no import cycle among sparkhtr's modules, and no module over
400 lines, so that each module can be read, tested and replaced alone.

The graph is built from the source with ``ast``, without importing anything: every ``import`` and
``from ... import`` counts, at module level or inside a function (a function-level import is a
cycle postponed, not removed), relative ones resolved. Imports under ``if TYPE_CHECKING:`` never
run and are left out. Importing ``a.b.c`` also runs the packages ``a.b`` and ``a`` first, so those
count too, except the importer's own enclosing packages, which Python has already started by then.
Names built at run time (``importlib.import_module`` of a string, as in ``sparkhtr/__init__.py``)
are not seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sparkhtr"
MAX_LINES = 400
# Modules allowed over MAX_LINES, each with why. Empty: every module fits.
LONG_MODULES: dict[str, str] = {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, at any depth."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)  # the body is for type checkers only
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def _targets(node: ast.Import | ast.ImportFrom, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """The sparkhtr modules one import statement in module ``name`` names directly."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:  # relative: from the importer's package, one level up per extra dot
        package = name.split(".") if is_package else name.split(".")[:-1]
        base = package[: len(package) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    found = {source}
    found.update(f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in modules)
    return found


def import_graph() -> dict[str, set[str]]:
    """sparkhtr module -> the sparkhtr modules importing it runs (see the module docstring)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text("utf-8"), str(path))
        is_package = path.name == "__init__.py"
        own = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1 + is_package)}
        edges: set[str] = set()
        for node in _import_nodes(tree):
            for target in _targets(node, name, is_package, set(modules)):
                parts = target.split(".")
                runs = {".".join(parts[:k]) for k in range(1, len(parts) + 1)}  # the target and its packages
                edges |= {m for m in runs if m in modules and m not in own and m != name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_of_every_kind():
    graph = import_graph()
    assert "sparkhtr.io.image" in graph["sparkhtr.io.documents"]  # module level
    assert "sparkhtr.data.augment" in graph["sparkhtr.train.loop"]  # inside a function
    # layout.geometry's package runs first; the importer's own packages do not count
    assert {"sparkhtr.layout", "sparkhtr.layout.geometry"} <= graph["sparkhtr.data.readers.line_images"]
    assert "sparkhtr.data.readers" not in graph["sparkhtr.data.readers.line_images"]
    assert "sparkhtr.inference.recognizer" not in graph["sparkhtr.calibrate.tuning"]  # TYPE_CHECKING only
    modules = set(_modules())
    relative = ast.parse("from ..io import image").body[0]
    assert _targets(relative, "sparkhtr.data.folder", False, modules) == {"sparkhtr.io", "sparkhtr.io.image"}
    assert _targets(relative, "sparkhtr.data", True, modules) == {"sparkhtr.io", "sparkhtr.io.image"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(component) for component in found)


def test_no_module_is_too_long():
    lengths = {name: len(path.read_text("utf-8").splitlines()) for name, path in _modules().items()}
    too_long = {name: n for name, n in lengths.items() if n > MAX_LINES and name not in LONG_MODULES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them, or say why in LONG_MODULES): {too_long}"
    stale = [name for name in LONG_MODULES if lengths.get(name, 0) <= MAX_LINES]
    assert not stale, f"LONG_MODULES lists modules that fit now: {stale}"
