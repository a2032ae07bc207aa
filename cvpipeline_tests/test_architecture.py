"""The package's layers point one way: no import circle, and no layer imports a layer above it.

The import graph is read from the source (every `import` and `from … import`, at module top or
inside a function), so that a circle dodged by an import inside a function is found too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cvpipeline"

# From the bottom up: a module may import its own layer and the layers below it, never above. The
# warehouse's schema is the contract every layer maps to (the catalog names its columns): it sits at
# the bottom with the settings, and the rest of warehouse/ (engine, writer, slices, views) above.
LAYERS = [
    ["settings", "text", "warehouse.schema"],
    ["catalog"],
    ["ingest"],
    ["validate"],
    ["warehouse"],
    ["load"],
    ["metrics"],
    ["report"],
    ["replay", "sample", "editions"],
    ["defs", "instance_storage", "local_storage"],
    ["definitions", "cli", "__main__", "backfill"],
]


def module_name(path: Path) -> str:
    """The dotted name of a module of the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that a module imports, anywhere in it."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = name.split(".") if is_package else name.split(".")[:-1]
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith("cvpipeline") and target not in (name, "cvpipeline"):
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = package_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
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


def layer_of(module: str) -> int:
    """The layer of a module: the rank of the longest name of LAYERS its dotted name starts with."""
    inside = module.removeprefix("cvpipeline.")
    ranks = {
        name: rank
        for rank, names in enumerate(LAYERS)
        for name in names
        if inside == name or inside.startswith(name + ".")
    }
    if not ranks:
        raise AssertionError(f"{module} belongs to no layer: add its folder to LAYERS")
    return ranks[max(ranks, key=len)]


def test_the_graph_is_read_from_the_code() -> None:
    graph = import_graph()
    # Known arrows, so that a reader that finds nothing cannot pass the tests below.
    assert "cvpipeline.load.delivery" in graph
    assert "cvpipeline.warehouse.engine" in graph["cvpipeline.load.delivery"]
    assert "cvpipeline.catalog" in graph["cvpipeline.ingest.source"]


def test_no_import_circle() -> None:
    found = circles(import_graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_circles_are_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_layer_imports_a_layer_above_it() -> None:
    upward = [
        f"{module} -> {imported}"
        for module, imported_modules in import_graph().items()
        for imported in sorted(imported_modules)
        if layer_of(imported) > layer_of(module)
    ]
    assert not upward, "imports that point up: " + ", ".join(upward)


def test_only_the_edges_read_the_environment() -> None:
    edges = ("cvpipeline.cli", "cvpipeline.definitions", "cvpipeline.sample.__main__")
    readers = []
    for name, path in package_modules().items():
        if name in edges or name.startswith("cvpipeline.defs"):
            continue
        source = path.read_text(encoding="utf-8")
        if "os.environ" in source or "getenv(" in source:
            readers.append(name)
    assert not readers, f"modules below the edges that read the environment: {readers}"
