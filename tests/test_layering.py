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
    # zarr 2's compatibility modules (meta, meta_v1, util, n5, codecs): names over the stores
    "compat": {"formats", "storage", "_info", "_normalize"},
}
# above the core (the facades and everything below them): applications and tools, which
# nothing of the core imports, except the zarr 2 names re-exported where zarr 2 has them
ABOVE_CORE = {"apps", "tools", "cli"}
REEXPORTS = {
    ("__init__.py", "apps.dask"),  # zarrkit.to_dask / from_dask
    ("__init__.py", "tools.rechunking"),  # zarrkit.rechunk
    ("__init__.py", "tools.converting"),  # zarrkit.convert
    ("convenience.py", "tools.copying"),  # zarr.convenience.copy, copy_all, copy_store
}
# cross-cut modules below every layer: any layer may import them, they import no layer
CROSS_CUT = {"errors", "_pool", "_grid"}
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
                if f.name == "__init__.py" and mod in ("creation", "compat.meta_v1"):
                    continue  # lazy re-exports of zarr 2 names (init_array, migrate_1to2)
                if rel == "storage/base.py" and mod == "compat.meta":
                    continue  # Store._metadata_class: zarr 2's codec, looked up when asked for
                bad.append(f"{rel} imports zarrkit.{mod}")
    assert not bad, "\n".join(bad)


def test_the_core_does_not_import_apps_or_tools():
    bad = []
    for f in sorted(SRC.rglob("*.py")):
        rel = f.relative_to(SRC).as_posix()
        if rel.split("/")[0] in ABOVE_CORE or rel == "__main__.py":  # (python -m zarrkit)
            continue
        for mod in _zarrkit_imports(f):
            top = mod.split(".")[0]
            if top in ABOVE_CORE and (rel, mod) not in REEXPORTS:
                bad.append(f"{rel} imports zarrkit.{mod}")
    assert not bad, "\n".join(bad)


def test_moved_modules_keep_their_public_paths():
    # zarrkit.meta is zarrkit.compat.meta, ...: the same module object, the old path importable
    import importlib

    import zarrkit
    from zarrkit._moved import MOVED

    for old, new in sorted(MOVED.items()):
        assert not (SRC / f"{old}.py").exists() and (SRC / f"{new.replace('.', '/')}.py").exists()
        assert (SRC / f"{old}.pyi").exists(), f"zarrkit/{old}.pyi: the old path for type checkers"
        if old == "xarray_backend" and importlib.util.find_spec("xarray") is None:
            continue
        module = importlib.import_module(f"zarrkit.{old}")
        assert module is importlib.import_module(f"zarrkit.{new}")
        assert getattr(zarrkit, old) is module and module.__spec__.name == f"zarrkit.{new}"


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
