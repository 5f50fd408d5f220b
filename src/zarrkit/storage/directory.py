"""Stores on a local file system: one file per key, written atomically."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from .._pool import run_parallel
from .base import Store, normalize_storage_path, path_argument, range_slice
from .files import (
    LocalFiles,
    _open_regular,
    is_temp,
    make_folder,
    read_file,
    remove_file,
    write_file,
)

#: temporary files older than this (seconds) belong to no live writer: clean_partial's default
PARTIAL_MAX_AGE = 3600.0


_SLASH_PATHS = os.sep == "/" and os.altsep is None


def _pread(fd: int, n: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, n, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # (Windows: the descriptor is this call's own)
    return os.read(fd, n)


def _pread_upto(fd: int, n: int, offset: int) -> bytes:
    """``n`` bytes of ``fd`` from ``offset``, fewer if the file ends first (cut meanwhile)."""
    data = _pread(fd, n, offset) if n else b""
    if len(data) == n:
        return data
    parts = [data]
    got = len(data)
    while got < n and (block := _pread(fd, n - got, offset + got)):
        parts.append(block)
        got += len(block)
    return b"".join(parts)


class DirectoryStore(Store):
    """Keys are files below a directory; ``'a/b/0.0'`` is the file ``a/b/0.0``.

    Every write goes to a temporary file next to its target, then an atomic rename, so a
    crash or an error never leaves a torn chunk: readers see the old value or the new one.
    The temporary files (``.<name>.<hex>.partial``) are never keys: they are not listed and
    not counted by ``getsize`` / ``nbytes_stored``. One left by a killed writer is removed
    by :meth:`clean_partial` (those older than an hour, by default) and with its folder by
    ``rmdir``.

    >>> import tempfile
    >>> store = DirectoryStore(tempfile.mkdtemp())
    >>> store['foo/.zgroup'] = b'{}'
    >>> store['foo/.zgroup']
    b'{}'
    """

    verbatim = True  # values are the files' bytes
    _default_separator: str | None = None
    _init_params = ("path", "normalize_keys", "dimension_separator")
    partial_reads = True
    #: the class offers its keys as plain files (:meth:`local_files_at`): True here and for
    #: subclasses that override none of ``_FILE_METHODS`` (the one rule, applied at class
    #: creation)
    local_files: ClassVar[bool] = True
    # methods whose override in a subclass means its keys are not plain files any more, or
    # that the subclass wants to see every access: the chunk pipeline then goes through the
    # store's own methods
    _FILE_METHODS: ClassVar[tuple[str, ...]] = (
        "__getitem__",
        "__setitem__",
        "__delitem__",
        "__contains__",
        "__iter__",
        "keys",
        "_file",
        "getitems",
        "setitems",
        "delitems",
        "getrange",
        "getranges",
        "local_files_at",
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if any(name in cls.__dict__ for name in cls._FILE_METHODS):
            cls.local_files = False

    def __init__(
        self,
        path: str | os.PathLike,
        normalize_keys: bool = False,
        dimension_separator: str | None = None,
    ) -> None:
        self.path = os.path.abspath(path_argument(path, f"{type(self).__name__} path"))
        if os.path.isfile(self.path):
            raise ValueError(f"path {self.path!r} is a file, not a directory")
        self.normalize_keys = normalize_keys
        self._dimension_separator = dimension_separator

    def _file(self, key: str) -> str:
        if self.normalize_keys:
            key = key.lower()
        key = normalize_storage_path(key)
        if not key:
            raise KeyError(key)
        if _SLASH_PATHS:  # a normal key's '/' are the file system's separators
            return self.path + key if self.path.endswith("/") else self.path + "/" + key
        return os.path.join(self.path, *key.split("/"))

    def _path_of(self, path: str | None) -> str:
        """A normalised hierarchy path, lower-cased like the keys with ``normalize_keys``."""
        path = normalize_storage_path(path)
        return path.lower() if self.normalize_keys else path

    def local_files_at(self, path: str) -> LocalFiles | None:
        """The keys below the hierarchy path ``path`` as files in their folder, for the
        chunk pipeline; None for a subclass that maps keys its own way (``local_files``)."""
        if not self.local_files:
            return None
        path = self._path_of(path)
        return LocalFiles(os.path.join(self.path, *path.split("/")) if path else self.path)

    def __getitem__(self, key: str) -> bytes:
        data = read_file(self._file(key))
        if data is None:
            raise KeyError(key)
        return data

    def getrange(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        range_slice(start, length)  # (checks the arguments)
        got = self._read_ranges(key, [(start, length)])
        if got is None:
            raise KeyError(key)
        return got[0]

    def getranges(self, requests: Sequence[tuple[str, int, int | None]]) -> list[bytes | None]:
        """The ranges, each file opened once and read with ``pread`` (files in the pool)."""
        by_key: dict[str, list[int]] = {}
        for i, (key, start, length) in enumerate(requests):
            range_slice(start, length)
            by_key.setdefault(key, []).append(i)
        out: list[bytes | None] = [None] * len(requests)

        def read(key: str) -> None:
            where = by_key[key]
            got = self._read_ranges(key, [(requests[i][1], requests[i][2]) for i in where])
            if got is not None:
                for i, data in zip(where, got):
                    out[i] = data

        keys = list(by_key)
        run_parallel(read, keys, inline=len(keys) <= 2)
        return out

    def _read_ranges(self, key: str, ranges: list[tuple[int, int | None]]) -> list[bytes] | None:
        """The byte ranges of the file of ``key`` (as ``getrange`` reads them), or None when
        there is no such file."""
        opened = _open_regular(self._file(key), None)  # (never waits on a FIFO)
        if opened is None:
            return None
        fd, size = opened
        try:
            out = []
            for start, length in ranges:
                if start < 0:
                    start = max(0, size + start)
                n = max(0, size - start) if length is None else max(0, min(length, size - start))
                out.append(_pread_upto(fd, n, start))
            return out
        finally:
            os.close(fd)

    def __setitem__(self, key: str, value: Any) -> None:
        # the folder is made when the first open finds none (write_file)
        self._write_file(key, self._file(key), value)

    def claim_empty(self, path: str) -> bool:
        if not self.local_files or self.read_only:
            return False  # (a subclass that maps keys to files its own way)
        path = normalize_storage_path(path)
        if not path:
            return False
        try:
            os.mkdir(os.path.dirname(self._file(path + "/.zarray")))
        except (OSError, KeyError, ValueError):
            return False
        return True

    def _write_file(self, key: str, target: str, value: Any) -> None:
        """Write through a temporary file and an atomic rename; the folder exists."""
        try:
            write_file(target, value, key)
        except KeyError:
            raise KeyError(f"{key!r} is a directory in {self.path!r}") from None

    def __delitem__(self, key: str) -> None:
        target = self._file(key)
        if os.path.isdir(target):
            shutil.rmtree(target)
            return
        try:
            os.remove(target)
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        try:
            return os.path.isfile(self._file(str(key)))
        except (KeyError, ValueError):
            return False

    def __iter__(self) -> Iterator[str]:
        return self._keys_fast(self.path)

    @staticmethod
    def _keys_fast(path: str, walker: Callable = os.walk) -> Iterator[str]:
        """Every key below the folder ``path`` (zarr 2's name), by walking it with ``walker``
        (``os.walk`` or a function yielding the same triples)."""
        root = path.rstrip("/" + os.sep) if path not in ("/", os.sep) else path
        for folder, dirs, files in walker(path):
            dirs.sort()
            rel = os.path.relpath(folder.rstrip("/" + os.sep) or folder, root)
            rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            for name in sorted(files):
                if not is_temp(name):
                    yield rel + name

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        keys = list(keys)

        def read(key: str) -> tuple[str, bytes | None]:
            return key, read_file(self._file(key))

        # a couple of files from the page cache read faster than a hop to the pool
        results = run_parallel(read, keys, fewest=3)
        return {k: v for k, v in results if v is not None}

    def setitems(self, values: Mapping[str, Any]) -> None:
        items = [(k, self._file(k), v) for k, v in values.items()]
        for folder, key in {os.path.dirname(t): k for k, t, _ in items}.items():
            make_folder(key, folder)
        run_parallel(lambda item: self._write_file(*item), items)

    def delitems(self, keys: Iterable[str]) -> None:
        def remove(key: str) -> None:
            remove_file(self._file(key))

        run_parallel(remove, list(keys))

    def listdir(self, path: str = "") -> list[str]:
        folder = os.path.join(self.path, *self._path_of(path).split("/"))
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if not is_temp(n))

    def keys_under(self, path: str = "") -> list[str]:
        path = self._path_of(path)
        folder = os.path.join(self.path, *path.split("/")) if path else self.path
        out: list[str] = []
        for sub, _dirs, files in os.walk(folder):
            rel = os.path.relpath(sub, folder)
            rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            out.extend(rel + f for f in files if not is_temp(f))
        return sorted(out)

    def rmdir(self, path: str = "") -> None:
        path = self._path_of(path)
        folder = os.path.join(self.path, *path.split("/")) if path else self.path
        if os.path.isdir(folder):
            shutil.rmtree(folder)

    def getsize(self, path: str = "") -> int:
        path = self._path_of(path)
        target = os.path.join(self.path, *path.split("/")) if path else self.path
        if os.path.isfile(target):
            return os.path.getsize(target)
        if not os.path.isdir(target):
            return 0
        with os.scandir(target) as entries:
            return sum(e.stat().st_size for e in entries if e.is_file() and not is_temp(e.name))

    def size_below(self, path: str = "") -> int:
        path = self._path_of(path)
        target = os.path.join(self.path, *path.split("/")) if path else self.path
        if os.path.isfile(target):
            return os.path.getsize(target)
        if not os.path.isdir(target):
            return 0
        total = 0
        for sub, _dirs, files in os.walk(target):
            total += sum(os.path.getsize(os.path.join(sub, f)) for f in files if not is_temp(f))
        return total

    def rename(self, src_path: str, dst_path: str) -> None:
        src = os.path.join(self.path, *self._path_of(src_path).split("/"))
        dst = os.path.join(self.path, *self._path_of(dst_path).split("/"))
        if not os.path.exists(src):
            return  # nothing below src_path (as for the other stores): nothing to move
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.rename(src, dst)

    def clear(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def clean_partial(self, path: str = "", max_age: float = PARTIAL_MAX_AGE) -> list[str]:
        """Remove the temporary files of writes below ``path`` older than ``max_age``
        seconds (a killed writer's leftovers; a live write takes far less) and return their
        paths relative to the store. ``max_age=0`` removes them all: only when no other
        process is writing here.
        """
        self._check_writable()
        path = self._path_of(path)
        top = os.path.join(self.path, *path.split("/")) if path else self.path
        cutoff = time.time() - max_age
        removed = []
        for folder, _dirs, files in os.walk(top):
            for name in files:
                if not is_temp(name):
                    continue
                file = os.path.join(folder, name)
                try:
                    if os.stat(file).st_mtime <= cutoff:
                        os.remove(file)
                        removed.append(os.path.relpath(file, self.path).replace(os.sep, "/"))
                except FileNotFoundError:
                    pass  # finished (renamed) or removed meanwhile
        return sorted(removed)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.path == other.path

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


class NestedDirectoryStore(DirectoryStore):
    """A :class:`DirectoryStore` whose new arrays use ``'/'`` between chunk indices.

    The separator only sets the default for arrays created here; an existing array always
    uses the ``dimension_separator`` of its own metadata.
    """

    _default_separator = "/"

    def __init__(
        self,
        path: str | os.PathLike,
        normalize_keys: bool = False,
        dimension_separator: str | None = "/",
    ) -> None:
        if dimension_separator is None:
            dimension_separator = "/"
        if dimension_separator != "/":
            raise ValueError("NestedDirectoryStore only supports '/' as dimension_separator")
        super().__init__(path, normalize_keys=normalize_keys, dimension_separator="/")

    def listdir(self, path: str = "") -> list[str]:
        """Names below ``path``; in an array's folder, chunk keys rather than the folders of
        their first index (zarr 2's listing: ``['.zarray', '0/0', '0/1', ...]``)."""
        names = super().listdir(path)
        if ".zarray" not in names:
            return names
        folder = os.path.join(self.path, *self._path_of(path).split("/"))
        out: list[str] = []
        for name in names:
            sub = os.path.join(folder, name)
            if name.isdigit() and os.path.isdir(sub):
                out.extend(name + "/" + k for k in self._keys_fast(sub))
            else:
                out.append(name)
        return sorted(out)
