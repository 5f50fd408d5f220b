"""Stores on a local file system: one file per key, written atomically."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from .._pool import run_parallel
from ..errors import CorruptChunkError
from .base import Store, normalize_storage_path, path_argument

_TEMP_SUFFIX = ".partial"
# '.<name>.<32 hex digits>.partial': a write in progress, or left by a killed writer
_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{32}\.partial\Z", re.DOTALL)

#: temporary files older than this (seconds) belong to no live writer: clean_partial's default
PARTIAL_MAX_AGE = 3600.0


_SLASH_PATHS = os.sep == "/" and os.altsep is None


def _is_temp(name: str) -> bool:
    """True for the name of a temporary file of a write (never a key)."""
    return name.endswith(_TEMP_SUFFIX) and _TEMP_NAME.match(name) is not None


# -- file operations (also called by the chunk pipeline from its pool tasks) ---------------

# without O_NONBLOCK a FIFO at a key's path would block its reader until a writer comes
_O_READ = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_O_CREATE = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)
# readv/writev take at most this many buffers per call
_IOV_MAX = min(1024, os.sysconf("SC_IOV_MAX")) if hasattr(os, "sysconf") else 1024
_HAS_VECTORED = hasattr(os, "readv") and hasattr(os, "writev")


def _new_temp_tokens() -> None:
    # a process-unique random half and a counter: 32 hex digits per temporary file name,
    # cheaper than a uuid4 per write; a forked child draws its own random half
    global _temp_prefix, _temp_counter
    _temp_prefix = os.urandom(8).hex()
    _temp_counter = itertools.count()


_temp_prefix = ""
_temp_counter = itertools.count()
_new_temp_tokens()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_temp_tokens)


def _chunk_file_error(key: str, file: str, mode: int) -> CorruptChunkError:
    """The error for something other than a regular file (``mode``) at the path of the
    chunk ``key``."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    kind = next((name for test, name in kinds if test(mode)), "something other than a file")
    return CorruptChunkError(key, f"{kind} is at its path {file!r}, not a chunk file")


def _open_regular(file: str, key: str | None) -> tuple[int, int] | None:
    """An open descriptor of ``file`` and its size, or None when there is no such file.

    The file is opened without blocking (a FIFO would wait for a writer forever) and only a
    regular file counts: anything else is None too (not a key, as zarr 2's ``isfile``), or
    with ``key`` (a chunk's key) a :class:`CorruptChunkError` naming it."""
    try:
        fd = os.open(file, _O_READ)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:  # a directory (on some systems), a socket, a device without its driver
        try:
            mode = os.stat(file).st_mode
        except OSError:
            mode = stat.S_IFREG
        if stat.S_ISREG(mode):
            raise  # e.g. no permission: the system's error
        if key is not None:
            raise _chunk_file_error(key, file, mode) from None
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            if key is not None:
                raise _chunk_file_error(key, file, st.st_mode)
            os.close(fd)
            return None
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def read_file(file: str, *, key: str | None = None, limit: int | None = None) -> bytes | None:
    """The bytes of ``file``, or None when there is no such file (or, without ``key``, it
    is not a regular file: a directory, a FIFO, a device).

    ``key``: the chunk key ``file`` holds (the chunk pipeline's reads): anything but a
    regular file there is a :class:`CorruptChunkError` naming it, and so is a file of more
    than ``limit`` bytes (the longest valid chunk), which is not read at all."""
    opened = _open_regular(file, key)
    if opened is None:
        return None
    fd, size = opened
    try:
        if limit is not None and size > limit:
            raise CorruptChunkError(
                key or file, f"its file holds {size} bytes, more than any valid chunk ({limit})"
            )
        return _read_upto(fd, size)
    finally:
        os.close(fd)


def _read_upto(fd: int, n: int) -> bytes:
    """``n`` bytes from ``fd``'s position, fewer if the file ends first (cut meanwhile)."""
    data = os.read(fd, n) if n else b""
    if len(data) == n:
        return data
    parts = [data]
    got = len(data)
    while got < n and (block := os.read(fd, n - got)):
        parts.append(block)
        got += len(block)
    return b"".join(parts)


def readinto_file(
    file: str, buffers: Sequence[memoryview], nbytes: int, *, key: str | None = None
) -> int | None:
    """Read ``file`` straight into ``buffers`` (writable byte views, ``nbytes`` in all) when
    its size is ``nbytes``. Returns the file's size (nothing is read when it differs), or
    None when there is no such file. Something other than a regular file there is None
    too, or with ``key`` (the chunk key ``file`` holds) a :class:`CorruptChunkError`."""
    opened = _open_regular(file, key)
    if opened is None:
        return None
    fd, size = opened
    try:
        if size != nbytes:
            return size
        if not _HAS_VECTORED:
            for b in buffers:
                _read_exactly(fd, b)
            return size
        for start in range(0, len(buffers), _IOV_MAX):
            group = buffers[start : start + _IOV_MAX]
            got = os.readv(fd, group)
            if got < sum(b.nbytes for b in group):  # short read: finish buffer by buffer
                for b in group:
                    if got >= b.nbytes:
                        got -= b.nbytes
                        continue
                    _read_exactly(fd, b[got:])
                    got = 0
        return size
    finally:
        os.close(fd)


def _read_exactly(fd: int, view: memoryview) -> None:
    while view.nbytes:
        n = os.readv(fd, [view]) if _HAS_VECTORED else _read_into(fd, view)
        if n == 0:
            raise OSError(f"file descriptor {fd}: the file ended before {view.nbytes} bytes")
        view = view[n:]


def _read_into(fd: int, view: memoryview) -> int:
    data = os.read(fd, view.nbytes)
    view[: len(data)] = data
    return len(data)


def write_file(file: str, data: Any, key: str | None = None, parts: bool = False) -> None:
    """Write ``data`` (a bytes-like object; with ``parts``, a list of byte views written in
    order) to ``file`` through a temporary file and an atomic rename. A missing folder is created;
    a folder at ``file`` (or a file in the way of its folder) is a ``KeyError``."""
    if not parts and type(data) is not bytes:
        data = memoryview(data).cast("B")  # anything else is a TypeError, before any file
    folder, name = os.path.split(file)
    temp = f"{folder}{os.sep}.{name}.{_temp_prefix}{next(_temp_counter):016x}{_TEMP_SUFFIX}"
    try:
        fd = os.open(temp, _O_CREATE, 0o666)
    except FileNotFoundError:
        DirectoryStore._make_folder(key or file, folder)
        fd = os.open(temp, _O_CREATE, 0o666)
    except NotADirectoryError:
        raise KeyError(f"{key or file!r}: a key is in the way of its folder") from None
    try:
        try:
            if type(data) is bytes:
                done = os.write(fd, data)
                if done < len(data):  # a short write: the rest
                    _write_all(fd, [memoryview(data)[done:]])
            else:
                _write_all(fd, data if parts else [data])
        finally:
            os.close(fd)
        os.replace(temp, file)
    except BaseException as e:
        try:
            os.remove(temp)
        except OSError:
            pass
        if isinstance(e, IsADirectoryError):
            raise KeyError(f"{key or file!r} is a directory") from None
        raise


def _write_all(fd: int, buffers: list) -> None:
    for start in range(0, len(buffers), _IOV_MAX):
        group = buffers[start : start + _IOV_MAX]
        total = sum(len(b) if isinstance(b, bytes) else b.nbytes for b in group)
        done = os.writev(fd, group) if _HAS_VECTORED else _write_each(fd, group)
        if done < total:  # short write: finish byte by byte range
            view = memoryview(b"".join(bytes(b) for b in group))[done:]
            while view.nbytes:
                view = view[os.write(fd, view) :]


def _write_each(fd: int, group: list) -> int:
    done = 0
    for b in group:
        view = memoryview(b)
        while view.nbytes:
            n = os.write(fd, view)
            view = view[n:]
            done += n
    return done


def remove_file(file: str) -> None:
    """Remove ``file``; a missing one is no error."""
    try:
        os.remove(file)
    except (FileNotFoundError, NotADirectoryError):
        pass


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
    local_files = True
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
        "chunk_folder",
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

    def chunk_folder(self, path: str) -> str:
        """The folder holding the keys below the hierarchy path ``path``: the chunk
        pipeline reads and writes ``folder + os.sep + chunk key`` (see ``local_files``)."""
        path = self._path_of(path)
        return os.path.join(self.path, *path.split("/")) if path else self.path

    def __getitem__(self, key: str) -> bytes:
        data = read_file(self._file(key))
        if data is None:
            raise KeyError(key)
        return data

    def getrange(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        opened = _open_regular(self._file(key), None)  # (never waits on a FIFO)
        if opened is None:
            raise KeyError(key)
        fd, size = opened
        try:
            n = max(0, size - start) if length is None else max(0, min(length, size - start))
            os.lseek(fd, start, os.SEEK_SET)
            return _read_upto(fd, n)
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

    @staticmethod
    def _make_folder(key: str, folder: str) -> None:
        """Create the folder of ``key``; a file in its way is a ``KeyError``."""
        try:
            os.mkdir(folder)  # the usual case: its parent is there
            return
        except OSError:
            pass
        try:
            os.makedirs(folder, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise KeyError(f"{key!r}: a key is in the way of its folder") from None

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
                if not _is_temp(name):
                    yield rel + name

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, bytes]:
        keys = list(keys)

        def read(key: str) -> tuple[str, bytes | None]:
            return key, read_file(self._file(key))

        # a couple of files from the page cache read faster than a hop to the pool
        results = run_parallel(read, keys, inline=len(keys) <= 2)
        return {k: v for k, v in results if v is not None}

    def setitems(self, values: Mapping[str, Any]) -> None:
        items = [(k, self._file(k), v) for k, v in values.items()]
        for folder, key in {os.path.dirname(t): k for k, t, _ in items}.items():
            self._make_folder(key, folder)
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
        return sorted(n for n in names if not _is_temp(n))

    def keys_under(self, path: str = "") -> list[str]:
        path = self._path_of(path)
        folder = os.path.join(self.path, *path.split("/")) if path else self.path
        out: list[str] = []
        for sub, _dirs, files in os.walk(folder):
            rel = os.path.relpath(sub, folder)
            rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            out.extend(rel + f for f in files if not _is_temp(f))
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
            return sum(e.stat().st_size for e in entries if e.is_file() and not _is_temp(e.name))

    def size_below(self, path: str = "") -> int:
        path = self._path_of(path)
        target = os.path.join(self.path, *path.split("/")) if path else self.path
        if os.path.isfile(target):
            return os.path.getsize(target)
        if not os.path.isdir(target):
            return 0
        total = 0
        for sub, _dirs, files in os.walk(target):
            total += sum(os.path.getsize(os.path.join(sub, f)) for f in files if not _is_temp(f))
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
                if not _is_temp(name):
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
