"""The dependency direction of docs/architecture.md, checked on the import statements."""

from __future__ import annotations

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parent.parent / "src" / "zarrkit"

# what each lower layer may import from zarrkit (besides itself and the cross-cut modules)
ALLOWED = {
    "indexing": set(),
    "formats": set(),
    "storage": set(),
    "pipeline": {"formats", "indexing", "storage"},
}
# cross-cut modules below every layer: any layer may import them, they import no layer
CROSS_CUT = {"errors", "_pool"}
# cycles of explicit imports between zarrkit modules that exist on purpose (none today):
# each entry is the sorted tuple of the modules of one strongly connected component
KNOWN_CYCLES: set[tuple[str, ...]] = set()
# stores that translate a format (consolidated metadata, N5) read the format modules
FORMAT_STORES = {"storage/consolidated.py", "storage/n5.py"}


def _zarrkit_imports(path: pathlib.Path) -> set[str]:
    """Dotted names (relative to zarrkit) of every zarrkit module ``path`` imports."""
    rel_parts = path.relative_to(SRC).with_suffix("").parts
    package = list(rel_parts[:-1]) if rel_parts[-1] != "__init__" else list(rel_parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.startswith("zarrkit"):
                    out.add(node.module[len("zarrkit.") :])
                continue
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            mod = ".".join([*base, node.module] if node.module else base)
            if node.module is None:
                out.update(f"{mod}.{a.name}".lstrip(".") for a in node.names)
            else:
                out.add(mod)
        elif isinstance(node, ast.Import):
            out.update(
                a.name[len("zarrkit.") :] for a in node.names if a.name.startswith("zarrkit.")
            )
    return out


def _layer_files(layer: str) -> list[pathlib.Path]:
    p = SRC / layer
    return sorted(p.glob("*.py")) if p.is_dir() else [SRC / f"{layer}.py"]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_do_not_import_upper_ones(layer):
    bad = []
    for f in _layer_files(layer):
        rel = f.relative_to(SRC).as_posix()
        allowed = set(ALLOWED[layer]) | {layer} | CROSS_CUT
        if rel in FORMAT_STORES:
            allowed.add("formats")
        for mod in _zarrkit_imports(f):
            if not any(mod == a or mod.startswith(a + ".") for a in allowed):
                if f.name == "__init__.py" and mod in ("creation", "meta_v1"):
                    continue  # lazy re-exports of zarr 2 names (init_array, migrate_1to2)
                if rel == "storage/base.py" and mod == "meta":
                    continue  # Store._metadata_class: zarr 2's codec, looked up when asked for
                bad.append(f"{rel} imports zarrkit.{mod}")
    assert not bad, "\n".join(bad)


def test_the_pipeline_knows_no_particular_store():
    # the store protocol and the local-files capability only: chunk files come through
    # ``Store.local_files_at``, never from a store's module
    bad = []
    for f in _layer_files("pipeline"):
        for mod in _zarrkit_imports(f):
            if mod.startswith("storage") and mod not in ("storage.base", "storage.files"):
                bad.append(f"{f.relative_to(SRC).as_posix()} imports zarrkit.{mod}")
    assert not bad, "\n".join(bad)


def test_cross_cut_modules_import_no_layer():
    for name in sorted(CROSS_CUT):
        imported = _zarrkit_imports(SRC / f"{name}.py") - CROSS_CUT
        assert not imported, f"{name}.py imports {sorted(imported)}"


def _modules() -> dict[str, pathlib.Path]:
    """Every zarrkit module by dotted name relative to zarrkit (a package by its own name,
    the top package as '')."""
    out = {}
    for f in SRC.rglob("*.py"):
        parts = f.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _import_graph() -> dict[str, set[str]]:
    """Module -> the zarrkit modules it imports explicitly (any import statement, lazy ones
    in functions included; ``from pkg import name`` counts as ``pkg`` when ``name`` is no
    module). A submodule's implicit import of its own package is not an edge: a package's
    ``__init__`` gathering its submodules is no circle."""
    modules = _modules()

    def resolve(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    return {m: {resolve(i) for i in _zarrkit_imports(f)} - {m} for m, f in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    new = _cycles(_import_graph()) - KNOWN_CYCLES
    assert not new, "import cycles: " + "; ".join(" <-> ".join(c) for c in sorted(new))


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert _cycles(graph) == {("a", "b", "c")}


def test_the_checker_sees_imports():
    assert "formats.meta" in _zarrkit_imports(SRC / "pipeline" / "chunks.py")
    assert "_pool" in _zarrkit_imports(SRC / "storage" / "directory.py")
    graph = _import_graph()
    assert "storage.base" in graph["pipeline.chunks"] and "formats" in graph["storage.n5"]


def test_the_pool_keeps_its_older_name():
    import zarrkit
    import zarrkit._pool
    import zarrkit.pipeline.executor

    assert zarrkit.pipeline.executor is zarrkit._pool
    assert zarrkit.set_num_threads is zarrkit._pool.set_num_threads
