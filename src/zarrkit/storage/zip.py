"""A store inside a single Zip file."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import zipfile
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from ..errors import ReadOnlyError
from .base import Store, normalize_storage_path, prefix_of

_DELETED = object()


class ZipStore(Store):
    """Keys are members of a Zip archive.

    A Zip file cannot replace a member in place. Instead of silently appending a duplicate
    entry (which readers resolve inconsistently), a rewritten or deleted key is held in memory
    and the archive is rebuilt once, atomically, on :meth:`flush` or :meth:`close`. Close the
    store when done writing (a store dropped unclosed is flushed when garbage collected).
    Directory entries of archives made by zip tools (``'foo/'``) are not keys.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), 'x.zip')
    >>> with ZipStore(path, mode='w') as s:
    ...     s['a'] = b'1'
    ...     s['a'] = b'2'
    >>> ZipStore(path, mode='r')['a']
    b'2'
    """

    _multiprocess_safe = False  # writes from another process are lost or corrupt

    def __init__(
        self,
        path: str | os.PathLike,
        compression: int = zipfile.ZIP_STORED,
        allowZip64: bool = True,
        mode: str = "a",
        dimension_separator: str | None = None,
    ) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.compression = compression
        self.allowZip64 = allowZip64
        self.mode = mode
        self._dimension_separator = dimension_separator
        self._read_only = mode == "r"
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._overlay: dict[str, Any] = {}
        self._sorted: list[str] | None = None  # the keys, sorted; None after a change
        self._open(mode)

    def _open(self, mode: str) -> None:
        self.zf = zipfile.ZipFile(
            self.path,
            mode=mode,  # type: ignore[call-overload]  # checked in __init__
            compression=self.compression,
            allowZip64=self.allowZip64,
        )
        self._names = {n for n in self.zf.namelist() if not n.endswith("/")}
        self._sorted = None

    def __del__(self) -> None:
        # rewrites and deletions live in memory until flush: keep them if never closed (only
        # in the process that opened the store, never in a forked copy of it)
        try:
            if self._pid == os.getpid():
                self.close()
        except Exception:  # noqa: BLE001 - nothing can be reported from a finalizer
            pass

    def __getstate__(self) -> dict:
        self.flush()
        return {
            "path": self.path,
            "compression": self.compression,
            "allowZip64": self.allowZip64,
            "mode": "a" if self.mode in ("w", "x") else self.mode,
            "sep": self._dimension_separator,
        }

    def __setstate__(self, state: dict) -> None:
        ZipStore.__init__(
            self,
            state["path"],
            state["compression"],
            state["allowZip64"],
            state["mode"],
            state["sep"],
        )

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
        if self._read_only:
            raise ReadOnlyError("zip store")
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
            info = zipfile.ZipInfo(key, date_time=time.localtime(time.time())[:6])
            info.compress_type = self.compression
            info.external_attr = 0o644 << 16
            self.zf.writestr(info, value)
            self._names.add(key)
            self._sorted = None

    def _write_folder_entry(self, key: str, value: bytes) -> None:
        """``'foo/'``: a directory entry, as zip tools write them (not a key of the store)."""
        if value:
            raise ValueError(f"{key!r} names a folder of the archive; its value must be empty")
        info = zipfile.ZipInfo(key, date_time=time.localtime(time.time())[:6])
        info.compress_type = self.compression
        info.external_attr = 0o40775 << 16 | 0x10  # drwxrwxr-x, and MS-DOS's directory flag
        with self._lock:
            if key not in self.zf.NameToInfo:
                self.zf.writestr(info, b"")

    def __delitem__(self, key: str) -> None:
        if self._read_only:
            raise ReadOnlyError("zip store")
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
        if self._read_only:
            raise ReadOnlyError("zip store")
        prefix = prefix_of(normalize_storage_path(path))
        with self._lock:
            for k in list(self):
                if k.startswith(prefix):
                    self._overlay[k] = _DELETED
            self._sorted = None

    def flush(self) -> None:
        """Make the file complete and readable (rebuilding it for rewrites and deletions)."""
        with self._lock:
            if self._read_only or self.zf.fp is None:
                return
            if not self._overlay:
                # closing writes the zip directory that other readers need; keep appending after
                self.zf.close()
                self._open("a")
                return
            temp = self.path + ".rebuild"
            try:
                with zipfile.ZipFile(
                    temp, "w", compression=self.compression, allowZip64=self.allowZip64
                ) as out:
                    for key in self:
                        info = zipfile.ZipInfo(key, date_time=time.localtime(time.time())[:6])
                        info.compress_type = self.compression
                        info.external_attr = 0o644 << 16
                        out.writestr(info, self[key])
            except BaseException:
                with contextlib.suppress(OSError):
                    os.remove(temp)  # the archive and the pending changes are as they were
                raise
            self.zf.close()
            os.replace(temp, self.path)
            self._overlay.clear()
            self._open("a")

    def close(self) -> None:
        """Flush and close the archive."""
        with self._lock:
            if self.zf.fp is None:
                return
            if self._overlay:
                self.flush()
            self.zf.close()  # writes the zip directory of appended entries

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZipStore) and self.path == other.path

    __hash__ = None  # type: ignore[assignment]
