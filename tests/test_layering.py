"""The dependency direction of docs/architecture.md, checked on the import statements."""

from __future__ import annotations

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parent.parent / "src" / "zarrkit"

# what each lower layer may import from zarrkit (besides itself and errors)
ALLOWED = {
    "indexing": set(),
    "formats": set(),
    "storage": {"pipeline.executor"},  # the shared thread pool, for parallel file I/O
    "pipeline": {"formats", "indexing", "storage"},
}
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
        allowed = set(ALLOWED[layer]) | {layer, "errors"}
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


def test_the_checker_sees_imports():
    assert "formats.meta" in _zarrkit_imports(SRC / "pipeline" / "chunks.py")
    assert "pipeline.executor" in _zarrkit_imports(SRC / "storage" / "directory.py")
