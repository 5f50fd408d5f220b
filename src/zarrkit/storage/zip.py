"""A store inside a single Zip file."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import time
import uuid
import zipfile
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import Any

from .base import Store, normalize_storage_path, path_argument, prefix_of

_DELETED = object()
_DRIVE = re.compile(r"[A-Za-z]:")


def check_member_name(key: str) -> None:
    """Refuse a key that would not stay inside the folder an archive is unpacked to
    (``'..'`` segments, an absolute path or a drive) or that Zip cannot hold (a NUL byte,
    at which Zip readers cut the name: ``'.zarray\\x00x'`` would be a second ``.zarray``)."""
    if "\x00" in key:
        raise ValueError(f"ZipStore key {key!r} contains a NUL byte")
    if key.startswith(("/", "\\")) or _DRIVE.match(key):
        raise ValueError(f"ZipStore key {key!r} is an absolute path")
    if ".." in key.replace("\\", "/").split("/"):
        raise ValueError(f"ZipStore key {key!r} has a '..' segment (it would leave the archive)")


def _member(key: str, compression: int, mode: int = 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(key, date_time=time.localtime(time.time())[:6])
    info.compress_type = compression
    info.external_attr = mode << 16
    return info


class ZipStore(Store):
    """Keys are members of a Zip archive.

    A Zip file cannot replace a member in place. Instead of silently appending a duplicate
    entry (which readers resolve inconsistently), a rewritten or deleted key is held in memory
    and the archive is rebuilt once on :meth:`flush` or :meth:`close`. Close the store when
    done writing (a store dropped unclosed is flushed when garbage collected). Directory
    entries of archives made by zip tools (``'foo/'``) are not keys. Keys that would unpack
    outside the archive's folder (``'..'`` segments, absolute paths) or hold a NUL byte are
    refused with a ``ValueError``.

    With ``atomic=True`` (the default) writes go to a temporary archive beside ``path``
    (``<path>.<hex>.partial``) that replaces ``path`` on :meth:`flush` / :meth:`close`: a
    crash while adding entries leaves the archive as it was at the last flush (and the
    temporary file, which :meth:`clean_partial` removes). Opening an existing archive with ``mode='a'`` copies it on the first
    write. With ``atomic=False`` entries are appended to ``path`` itself (no copy), and an
    archive whose writer dies before closing has no central directory: it is unreadable,
    entries written before included.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), 'x.zip')
    >>> with ZipStore(path, mode='w') as s:
    ...     s['a'] = b'1'
    ...     s['a'] = b'2'
    >>> ZipStore(path, mode='r')['a']
    b'2'
    """

    _init_params = ("path", "compression", "allowZip64", "mode", "dimension_separator", "atomic")
    multiprocess_safe = False  # writes from another process are lost or corrupt

    def __init__(
        self,
        path: str | os.PathLike,
        compression: int = zipfile.ZIP_STORED,
        allowZip64: bool = True,
        mode: str = "a",
        dimension_separator: str | None = None,
        atomic: bool = True,
    ) -> None:
        if mode not in ("r", "w", "a", "x"):
            raise ValueError(f"ZipStore mode must be 'r', 'w', 'a' or 'x', not {mode!r}")
        self.path = os.path.abspath(path_argument(path, f"{type(self).__name__} path"))
        self.compression = compression
        self.allowZip64 = allowZip64
        self.mode = mode
        self.atomic = atomic
        self._dimension_separator = dimension_separator
        self._read_only = mode == "r"
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._overlay: dict[str, Any] = {}
        self._sorted: list[str] | None = None  # the keys, sorted; None after a change
        self._temp: str | None = None  # the temporary archive being written (atomic mode)
        if not atomic or mode == "r":
            self._open(self.path, mode)
        elif mode == "x" and os.path.exists(self.path):
            raise FileExistsError(self.path)
        elif mode == "a" and os.path.exists(self.path):
            self._open(self.path, "r")  # copied to a temporary archive on the first write
        else:
            self._start_temp(copy=False)

    def _open(self, file: str, mode: str) -> None:
        self.zf = zipfile.ZipFile(  # type: ignore[call-overload]
            file,
            mode=mode,  # checked in __init__
            compression=self.compression,
            allowZip64=self.allowZip64,
        )
        self._names = {n for n in self.zf.namelist() if not n.endswith("/")}
        self._sorted = None

    def _start_temp(self, copy: bool) -> None:
        """Write from now on to a new temporary archive (a copy of ``path`` if ``copy``)."""
        temp = f"{self.path}.{uuid.uuid4().hex}.partial"
        if copy:
            self.zf.close()
            shutil.copyfile(self.path, temp)
        self._temp = temp
        self._open(temp, "a" if copy else "w")

    def _writer(self) -> zipfile.ZipFile:
        """The archive new entries go to (the lock is held)."""
        if self.atomic and self._temp is None:
            self._start_temp(copy=True)
        return self.zf

    def __del__(self) -> None:
        # rewrites and deletions live in memory until flush: keep them if never closed (only
        # in the process that opened the store, never in a forked copy of it)
        try:
            if self._pid == os.getpid():
                self.close()
        except Exception:  # noqa: BLE001 - nothing can be reported from a finalizer
            pass

    def _init_args(self) -> dict[str, Any]:
        self.flush()  # the copy reads the archive from disk
        kwargs = super()._init_args()
        if kwargs["mode"] in ("w", "x"):
            kwargs["mode"] = "a"  # the copy must not empty the archive again
        return kwargs

    def __getitem__(self, key: str) -> bytes:
        with self._lock:
            v = self._overlay.get(key)
            if v is _DELETED:
                raise KeyError(key)
            if v is not None:
                return v
            if key not in self._names:
                raise KeyError(key)
            return self.zf.read(key)

    def __setitem__(self, key: str, value: Any) -> None:
        check_member_name(key)
        value = value if isinstance(value, bytes) else memoryview(value).tobytes()
        if key.endswith("/"):
            self._write_folder_entry(key, value)
            return
        with self._lock:
            if key in self._names or key in self._overlay:
                if self._overlay.get(key) is _DELETED:
                    self._sorted = None  # the key is back
                self._overlay[key] = value  # rewritten on flush/close
                return
            self._writer().writestr(_member(key, self.compression), value)
            self._names.add(key)
            self._sorted = None

    def setitems(self, values: Mapping[str, Any]) -> None:
        for key in values:
            check_member_name(key)  # all of them first: a refused batch writes nothing
        for key, value in values.items():
            self[key] = value

    def _write_folder_entry(self, key: str, value: bytes) -> None:
        """``'foo/'``: a directory entry, as zip tools write them (not a key of the store)."""
        if value:
            raise ValueError(f"{key!r} names a folder of the archive; its value must be empty")
        info = _member(key, self.compression, 0o40775)  # drwxrwxr-x
        info.external_attr |= 0x10  # MS-DOS's directory flag
        with self._lock:
            if key not in self.zf.NameToInfo:
                self._writer().writestr(info, b"")

    def __delitem__(self, key: str) -> None:
        with self._lock:
            if key not in self:
                raise KeyError(key)
            self._overlay[key] = _DELETED
            self._sorted = None

    def __contains__(self, key: object) -> bool:
        with self._lock:
            v = self._overlay.get(key)  # type: ignore[call-overload]
            if v is _DELETED:
                return False
            return v is not None or key in self._names

    def _keys(self) -> list[str]:
        """Every key, sorted (the lock is held); the list is replaced, never changed."""
        if self._sorted is None:
            keys = (self._names | set(self._overlay)) - {
                k for k, v in self._overlay.items() if v is _DELETED
            }
            self._sorted = sorted(keys)
        return self._sorted

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(self._keys())

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys())

    def listdir(self, path: str = "") -> list[str]:
        """Names directly below ``path``, found by bisection in the sorted keys (no scan)."""
        prefix = prefix_of(normalize_storage_path(path))
        with self._lock:
            keys = self._keys()
        names = []
        i = bisect_left(keys, prefix)
        while i < len(keys) and keys[i].startswith(prefix):
            name, sep, _ = keys[i][len(prefix) :].partition("/")
            names.append(name)
            # skip the rest of this child: its keys sort before prefix + name + '0'
            i = bisect_left(keys, prefix + name + "0", i + 1) if sep else i + 1
        return sorted(set(names))

    def rmdir(self, path: str = "") -> None:
        prefix = prefix_of(normalize_storage_path(path))
        with self._lock:
            for k in list(self):
                if k.startswith(prefix):
                    self._overlay[k] = _DELETED
            self._sorted = None

    def _rebuild(self, target: str) -> None:
        """Write the store's current content (folder entries included) to a new archive."""
        with zipfile.ZipFile(
            target, "w", compression=self.compression, allowZip64=self.allowZip64
        ) as out:
            keys = self._keys()
            deleted = [k for k, v in self._overlay.items() if v is _DELETED]
            for info in self.zf.infolist():
                folder = info.filename
                # a folder emptied by deletions goes; one that still holds keys, or that
                # nothing was deleted from (an empty folder written on purpose), stays
                if folder.endswith("/") and (
                    any(k.startswith(folder) for k in keys)
                    or not any(k.startswith(folder) for k in deleted)
                ):
                    entry = _member(folder, info.compress_type)
                    entry.external_attr = info.external_attr
                    out.writestr(entry, b"")
            for key in keys:
                out.writestr(_member(key, self.compression), self[key])

    def flush(self) -> None:
        """Make the file at ``path`` complete and readable (rebuilding it for rewrites and
        deletions; in atomic mode, replacing it with the temporary archive)."""
        with self._lock:
            if self._read_only or self.zf.fp is None:
                return
            if self.atomic:
                self._flush_atomic()
            elif self._overlay:
                temp = f"{self.path}.{uuid.uuid4().hex}.partial"
                try:
                    self._rebuild(temp)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.remove(temp)  # the archive and the pending changes are as they were
                    raise
                self.zf.close()
                os.replace(temp, self.path)
                self._overlay.clear()
                self._open(self.path, "a")
            else:
                # closing writes the zip directory that other readers need; keep appending after
                self.zf.close()
                self._open(self.path, "a")

    def _flush_atomic(self) -> None:
        """Replace ``path`` with the temporary archive (the lock is held)."""
        if self._temp is None and not self._overlay:
            return  # nothing changed since the last flush
        temp = self._temp
        if self._overlay:
            final = f"{self.path}.{uuid.uuid4().hex}.partial"
            try:
                self._rebuild(final)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.remove(final)
                raise
            self.zf.close()
            if temp is not None:
                os.remove(temp)
        else:
            assert temp is not None
            self.zf.close()  # writes the zip directory
            final = temp
        os.replace(final, self.path)
        self._temp = None
        self._overlay.clear()
        self._open(self.path, "r")  # until the next write starts a new temporary archive

    def close(self) -> None:
        """Flush and close the archive."""
        with self._lock:
            if self.zf.fp is None:
                return
            if self._overlay or self._temp is not None:
                self.flush()
            self.zf.close()  # writes the zip directory of appended entries

    def clean_partial(self, max_age: float = 3600.0) -> list[str]:
        """Remove the temporary archives of this archive's writers older than ``max_age``
        seconds (left by a writer that died before its flush) and return their paths."""
        folder, name = os.path.split(self.path)
        pattern = re.compile(re.escape(name) + r"\.[0-9a-f]{32}\.partial\Z")
        cutoff = time.time() - max_age
        removed = []
        for entry in os.scandir(folder):
            if pattern.match(entry.name) and entry.path != self._temp:
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat().st_mtime <= cutoff:
                        os.remove(entry.path)
                        removed.append(entry.path)
        return sorted(removed)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZipStore) and self.path == other.path

    __hash__ = None  # type: ignore[assignment]
