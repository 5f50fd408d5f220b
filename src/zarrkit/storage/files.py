"""Local files as keys: the file operations of the file stores and the chunk pipeline.

A store whose keys are plain files offers them to the chunk pipeline through
:meth:`~zarrkit.storage.base.Store.local_files_at`, which hands it a :class:`LocalFiles`:
the folder of an array's chunk keys, the path of a chunk key, reads and writes of chunk
files (atomic: a temporary file renamed into place) and the temporary files' name rule. The
pipeline calls that object's methods; it imports nothing from a particular store.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import CorruptChunkError

# -- the temporary files of writes -----------------------------------------------------------

#: hex digits of the token that makes a temporary file's name unique
TEMP_TOKEN_DIGITS = 32


def temp_name(name: str, token: str) -> str:
    """The name of the temporary file a write of the file ``name`` goes through before its
    rename, in the same folder: ``.<name>.<token>.partial`` (``token``: 32 lower-case hex
    digits). The one definition of the rule: :func:`is_temp` and the compiled loop's names
    (:meth:`LocalFiles.native_temp_rule`) are derived from it."""
    return f".{name}.{token}.partial"


# the parts of the rule around the name and the token: '.', '.', '.partial'
_TEMP_LEAD, _TEMP_MIDDLE, _TEMP_SUFFIX = temp_name("\0", "\0").split("\0")
# a write in progress, or left by a killed writer
_TEMP_NAME = re.compile(
    f"{re.escape(_TEMP_LEAD)}.+{re.escape(_TEMP_MIDDLE)}[0-9a-f]{{{TEMP_TOKEN_DIGITS}}}"
    f"{re.escape(_TEMP_SUFFIX)}\\Z",
    re.DOTALL,
)


def is_temp(name: str) -> bool:
    """True for the name of a temporary file of a write (never a key)."""
    return name.endswith(_TEMP_SUFFIX) and _TEMP_NAME.match(name) is not None


# -- file operations (the stores' and, through LocalFiles, the chunk pipeline's) ------------

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
    temp = folder + os.sep + temp_name(name, f"{_temp_prefix}{next(_temp_counter):016x}")
    try:
        fd = os.open(temp, _O_CREATE, 0o666)
    except FileNotFoundError:
        make_folder(key or file, folder)
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


def make_folder(key: str, folder: str) -> None:
    """Create the folder of ``key``; a file in its way is a ``KeyError``."""
    try:
        os.mkdir(folder)  # the usual case: its parent is there
        return
    except FileExistsError:
        if os.path.isdir(folder):
            return  # (a batch's folders are often there already)
    except OSError:
        pass
    try:
        os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise KeyError(f"{key!r}: a key is in the way of its folder") from None


# chunk keys name nested files with '/': the system's separator where it is another
_OTHER_SEPARATOR = os.sep != "/"


class LocalFiles:
    """The chunk keys below one folder as files (a store's offer to the chunk pipeline, see
    :meth:`~zarrkit.storage.base.Store.local_files_at`).

    ``name`` arguments are chunk keys relative to the folder (``'0.1'``, ``'0/1'``); ``key``
    is the key to name in errors (the chunk's full key in the store). Reads open only
    regular files, without blocking; writes go through a temporary file (:func:`temp_name`)
    renamed into place, making a missing folder first.
    """

    __slots__ = ("folder",)

    def __init__(self, folder: str) -> None:
        #: the folder, ending with the system's separator (``folder + name`` is a path)
        self.folder = folder if folder.endswith(os.sep) else folder + os.sep

    def path(self, name: str) -> str:
        """The file of the chunk key ``name``."""
        return self.folder + (name.replace("/", os.sep) if _OTHER_SEPARATOR else name)

    def read(self, name: str, *, key: str | None = None, limit: int | None = None) -> bytes | None:
        """The bytes of chunk ``name``, or None when it is missing (see :func:`read_file`)."""
        return read_file(self.path(name), key=key, limit=limit)

    def readinto(
        self, name: str, buffers: Sequence[memoryview], nbytes: int, *, key: str | None = None
    ) -> int | None:
        """Read chunk ``name`` straight into ``buffers`` (see :func:`readinto_file`)."""
        return readinto_file(self.path(name), buffers, nbytes, key=key)

    def write(self, name: str, data: Any, *, key: str | None = None, parts: bool = False) -> None:
        """Write chunk ``name`` atomically (see :func:`write_file`)."""
        write_file(self.path(name), data, key, parts)

    def remove(self, name: str) -> None:
        """Remove chunk ``name``; a missing one is no error."""
        remove_file(self.path(name))

    def make_folders(self, names: Iterable[str]) -> None:
        """Make the folders of the nested chunk keys ``names`` where they are missing; a
        failure is left to the write that needs the folder."""
        for folder in {name.rpartition("/")[0] for name in names if "/" in name}:
            try:
                os.makedirs(self.path(folder), exist_ok=True)
            except OSError:
                pass

    @staticmethod
    def native_temp_rule(tag: str) -> tuple[bytes, bytes, bytes]:
        """:func:`temp_name` as the compiled loop builds it: ``(lead, middle, end)`` with
        the temporary file of ``name`` written by chunk ``i`` of a call being
        ``lead + name + middle + <i as 16 hex digits> + end`` in its folder. ``tag``: the
        call's 16 hex digits (the first half of the token)."""
        if len(tag) != TEMP_TOKEN_DIGITS - 16:
            raise ValueError(f"a tag of {TEMP_TOKEN_DIGITS - 16} hex digits, got {tag!r}")
        lead, middle, end = temp_name("\0", tag + "\0").split("\0")
        return os.fsencode(lead), os.fsencode(middle), os.fsencode(end)

    def __repr__(self) -> str:
        return f"LocalFiles({self.folder!r})"
