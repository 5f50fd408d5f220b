"""A :class:`DirectoryStore` in a temporary directory, and the clean-up helpers at exit."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import tempfile

from .directory import DirectoryStore


def atexit_rmtree(path: str, isdir=os.path.isdir, rmtree=shutil.rmtree) -> None:  # noqa: ANN001
    """Remove the directory ``path`` if it (still) exists; meant for ``atexit.register``."""
    if isdir(path):
        rmtree(path)


def atexit_rmglob(
    path: str,
    glob=glob.glob,  # noqa: ANN001
    isdir=os.path.isdir,  # noqa: ANN001
    isfile=os.path.isfile,  # noqa: ANN001
    remove=os.remove,  # noqa: ANN001
    rmtree=shutil.rmtree,  # noqa: ANN001
) -> None:
    """Remove every file and directory matching the pattern ``path``; for ``atexit``."""
    for p in glob(path):
        if isfile(p):
            remove(p)
        elif isdir(p):
            rmtree(p)


class TempStore(DirectoryStore):
    """A :class:`DirectoryStore` in a new temporary directory, removed when Python exits.

    >>> s = TempStore()
    >>> s['a'] = b'1'
    >>> os.path.isdir(s.path)
    True
    """

    def __init__(
        self,
        suffix: str = "",
        prefix: str = "zarr",
        dir: str | None = None,  # noqa: A002 - tempfile's name
        normalize_keys: bool = False,
        dimension_separator: str | None = None,
    ) -> None:
        path = tempfile.mkdtemp(suffix=suffix, prefix=prefix, dir=dir)
        atexit.register(atexit_rmtree, path)
        super().__init__(
            path, normalize_keys=normalize_keys, dimension_separator=dimension_separator
        )

    @classmethod
    def _from_init_args(cls, kwargs: dict) -> TempStore:
        # the same directory in the unpickled store (a new TempStore would make another one)
        store = cls.__new__(cls)
        DirectoryStore.__init__(store, **kwargs)
        return store
