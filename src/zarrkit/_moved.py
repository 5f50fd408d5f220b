"""The public module paths of modules that live in a subpackage now.

``zarrkit.meta`` is ``zarrkit.compat.meta``, ``zarrkit.dask`` is ``zarrkit.apps.dask``, ...:
importing an old path imports the module where it lives and registers that same module object
under the old name in ``sys.modules`` (so ``zarrkit.meta is zarrkit.compat.meta``, and
monkeypatching, ``isinstance`` and the drop-in's ``zarr.meta is zarrkit.meta`` agree). Nothing is
imported before it is asked for: ``import zarrkit`` does not load xarray. The ``.pyi`` files at
the old paths give type checkers the same names.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

#: old path -> where the module lives (both relative to zarrkit)
MOVED = {
    # zarr 2's compatibility modules
    "meta": "compat.meta",
    "meta_v1": "compat.meta_v1",
    "util": "compat.util",
    "n5": "compat.n5",
    "codecs": "compat.codecs",
    # applications
    "dask": "apps.dask",
    "xarray_backend": "apps.xarray_backend",
    # tools
    "verify": "tools.verify",
    "rechunking": "tools.rechunking",
    "copying": "tools.copying",
}

_PACKAGE = __name__.rpartition(".")[0]


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``zarrkit.<old path>`` and loads it as the module where it lives."""

    def __init__(self, package: str, moved: dict[str, str]) -> None:
        self._targets = {f"{package}.{old}": f"{package}.{new}" for old, new in moved.items()}
        self._own_specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._targets:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self._targets[spec.name])
        # the import system sets ``__spec__`` of what this returns: keep the module's own
        self._own_specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # already executed where it lives; its ``__spec__`` is the alias's now: put it back
        assert module.__spec__ is not None
        module.__spec__ = self._own_specs.pop(module.__spec__.name)


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder(_PACKAGE, MOVED))


install()
