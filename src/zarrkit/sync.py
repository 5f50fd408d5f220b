"""Synchronizers: per-key locks held across read-modify-write of chunks and metadata.

``sync[key]`` gives the lock of one key, used as ``with sync[key]:`` (or with ``acquire()``
and ``release()``). The state behind a key's lock exists only while some thread holds or
waits for it, so a synchronizer does not grow with every chunk key ever written.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["ThreadSynchronizer", "ProcessSynchronizer"]


class _KeyLocks:
    """Lock state per key, made on first use and dropped when no thread holds or awaits it."""

    def __init__(self, make: Callable[[str], Any]) -> None:
        self._make = make
        self._mutex = threading.Lock()
        self._entries: dict[str, list[Any]] = {}  # key -> [state, holders and waiters]

    def enter(self, key: str) -> Any:
        with self._mutex:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = [self._make(key), 0]
            entry[1] += 1
            return entry[0]

    def held(self, key: str) -> Any:
        with self._mutex:
            entry = self._entries.get(key)
        if entry is None:
            raise RuntimeError(f"release of the lock of {key!r}, which is not held")
        return entry[0]

    def leave(self, key: str) -> None:
        with self._mutex:
            entry = self._entries[key]
            entry[1] -= 1
            if entry[1] == 0:
                del self._entries[key]


class _KeyLock:
    """The lock of one key of a synchronizer."""

    __slots__ = ("_locks", "_key")

    def __init__(self, locks: _KeyLocks, key: str) -> None:
        self._locks, self._key = locks, key

    def acquire(self, *args: Any) -> bool:
        state = self._locks.enter(self._key)
        try:
            ok = state.acquire(*args)
        except BaseException:
            self._locks.leave(self._key)
            raise
        if not ok:
            self._locks.leave(self._key)
        return ok

    def release(self) -> None:
        self._locks.held(self._key).release()
        self._locks.leave(self._key)

    def __enter__(self) -> _KeyLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class ThreadSynchronizer:
    """One ``threading.Lock`` per key, for many threads in one process."""

    def __init__(self) -> None:
        self._locks = _KeyLocks(lambda key: threading.Lock())

    def __getitem__(self, key: str) -> _KeyLock:
        return _KeyLock(self._locks, key)

    def __getstate__(self) -> bool:
        return True

    def __setstate__(self, state: Any) -> None:
        ThreadSynchronizer.__init__(self)


_SAFE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_MAX_NAME = 200  # bytes of a lock file name; longer keys are hashed


def lock_file_name(key: str) -> str:
    """The lock file of ``key``: distinct keys never share one, on any file system.

    Bytes other than lower-case letters, digits, ``.``, ``_`` and ``-`` are written ``%XX``
    (upper-case letters too, for case-insensitive file systems); a long name becomes a hash.

    >>> lock_file_name('a/b'), lock_file_name('a__b'), lock_file_name('')
    ('k.a%2Fb', 'k.a__b', 'root')
    """
    if not key:
        return "root"
    name = "".join(chr(b) if chr(b) in _SAFE_NAME_CHARS else f"%{b:02X}" for b in key.encode())
    if len(name) + 2 > _MAX_NAME:
        return "h." + hashlib.sha256(key.encode()).hexdigest()
    return "k." + name


class _FileLock:
    """An exclusive lock on one file for this process (``filelock``), re-entrant in a thread."""

    def __init__(self, path: str) -> None:
        try:
            import filelock
        except ImportError:
            raise ImportError(
                "ProcessSynchronizer needs the 'filelock' package: pip install 'zarrkit[sync]'"
            ) from None
        self._lock = filelock.FileLock(path, thread_local=False)
        self._thread_lock = threading.RLock()
        self._depth = 0

    def acquire(self) -> bool:
        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                self._lock.acquire()
            except BaseException:
                self._thread_lock.release()  # or every other thread would wait for ever
                raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._lock.release()
        self._thread_lock.release()


class ProcessSynchronizer:
    """File locks in a directory shared by all processes (``filelock``: POSIX and Windows).

    Needs ``pip install 'zarrkit[sync]'``. Each key has its own lock file (see
    :func:`lock_file_name`).

    >>> import tempfile
    >>> sync = ProcessSynchronizer(tempfile.mkdtemp())
    >>> with sync['0.0']:
    ...     pass
    """

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._locks = _KeyLocks(self._file_lock)
        self._pid = os.getpid()

    def _file_lock(self, key: str) -> _FileLock:
        os.makedirs(self.path, exist_ok=True)
        return _FileLock(os.path.join(self.path, lock_file_name(key)))

    def __getitem__(self, key: str) -> _KeyLock:
        if self._pid != os.getpid():
            # a forked child: locks that other threads of the parent held at the fork were
            # copied held, by threads that do not exist here; start with fresh ones (the file
            # locks themselves still exclude the parent)
            ProcessSynchronizer.__init__(self, self.path)
        return _KeyLock(self._locks, key)

    def __getstate__(self) -> str:
        return self.path

    def __setstate__(self, state: str) -> None:
        ProcessSynchronizer.__init__(self, state)
