"""Synchronizers: per-key locks held across read-modify-write of chunks and metadata."""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from typing import Any

__all__ = ["ThreadSynchronizer", "ProcessSynchronizer"]


class ThreadSynchronizer:
    """One ``threading.Lock`` per key, for many threads in one process."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    def __getitem__(self, key: str) -> threading.Lock:
        with self.mutex:
            return self.locks[key]

    def __getstate__(self) -> bool:
        return True

    def __setstate__(self, state: Any) -> None:
        self.__init__()


class _FileLock:
    """An exclusive ``flock`` on one file, re-entrant within a thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._thread_lock = threading.RLock()
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> _FileLock:
        import fcntl

        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except BaseException:
                self._thread_lock.release()  # or every other thread would wait for ever
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                self._thread_lock.release()
                raise
            self._fd = fd
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        import fcntl

        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._thread_lock.release()


class ProcessSynchronizer:
    """File locks in a directory shared by all processes (needs a file system with flock).

    >>> import tempfile
    >>> sync = ProcessSynchronizer(tempfile.mkdtemp())
    >>> with sync['0.0']:
    ...     pass
    """

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._mutex = threading.Lock()
        self._locks: dict[str, _FileLock] = {}
        self._pid = os.getpid()

    def __getitem__(self, key: str) -> _FileLock:
        if self._pid != os.getpid():
            # a forked child: locks that other threads of the parent held at the fork were
            # copied held, by threads that do not exist here; start with fresh ones (the file
            # locks themselves still exclude the parent)
            self.__init__(self.path)
        with self._mutex:
            lock = self._locks.get(key)
            if lock is None:
                name = key.replace("/", "__") or "__root__"
                lock = self._locks[key] = _FileLock(os.path.join(self.path, name))
            return lock

    def __getstate__(self) -> str:
        return self.path

    def __setstate__(self, state: str) -> None:
        self.__init__(state)
