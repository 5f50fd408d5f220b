"""The store protocol of storage/base.py: read-only check, pickling to parameters, lazy
handles and declared capabilities, as a user's own store gets them."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import posix_only
from zarrkit.errors import ReadOnlyError
from zarrkit.storage import (
    ConsolidatedMetadataStore,
    DirectoryStore,
    LRUStoreCache,
    MemoryStore,
    SQLiteStore,
    Store,
)
from zarrkit.storage.base import KVStore, LazyHandle


class Connection:
    opened = 0

    def __init__(self) -> None:
        Connection.opened += 1
        self.pid = os.getpid()
        self.closed = False

    def close(self) -> None:
        self.closed = True


class UserStore(Store):
    """A store as a user writes one: single-key methods, parameters, a lazy handle."""

    _init_params = ("name", "read_only")

    def __init__(self, name: str, read_only: bool = False) -> None:
        self.name = name
        self._read_only = read_only
        self.data: dict[str, bytes] = {}
        self._conn = LazyHandle(Connection)

    @property
    def conn(self) -> Connection:
        return self._conn.get()

    def __getitem__(self, key: str) -> bytes:
        assert self.conn is not None  # opens the handle
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = bytes(value)

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def close(self) -> None:
        self._conn.close()


def test_read_only_check_is_given_to_every_writer() -> None:
    s = UserStore("x", read_only=True)
    for write in (
        lambda: s.__setitem__("a", b"1"),
        lambda: s.__delitem__("a"),
        lambda: s.setitems({"a": b"1"}),
        lambda: s.delitems(["a"]),
        lambda: s.rmdir(""),
        lambda: s.rename("a", "b"),
    ):
        with pytest.raises(ReadOnlyError, match="UserStore"):
            write()
    assert isinstance(ReadOnlyError(), PermissionError)
    assert not s.is_writeable() and not s.is_erasable() and s.is_listable()


def test_pickles_to_its_parameters_and_reopens_lazily() -> None:
    s = UserStore("x")
    s["a"] = b"1"
    s["a"]
    assert s._conn.is_open
    copy = pickle.loads(pickle.dumps(s))
    assert type(copy) is UserStore and copy.name == "x"
    assert copy.data == {}  # parameters only, never the state or the handle
    assert not copy._conn.is_open
    with pytest.raises(TypeError):
        pickle.dumps(s._conn)


def test_read_only_survives_pickling(tmp_path: Any) -> None:
    d = DirectoryStore(str(tmp_path))
    d._read_only = True
    assert pickle.loads(pickle.dumps(d)).read_only
    assert pickle.loads(pickle.dumps(UserStore("x", read_only=True))).read_only


def test_lazy_handle_closes_only_its_own() -> None:
    h = LazyHandle(Connection)
    first = h.get()
    assert h.get() is first and h.is_open
    h.close()
    assert first.closed and not h.is_open
    assert h.get() is not first


def _child(h: LazyHandle, conn: Any) -> None:
    mine = h.get()
    conn.send((mine.pid == os.getpid(), h.is_open))
    h.close()  # closes the child's own handle only


@posix_only
def test_lazy_handle_reopens_in_a_forked_child() -> None:
    h = LazyHandle(Connection)
    parents = h.get()
    ctx = multiprocessing.get_context("fork")
    a, b = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(h, b))
    proc.start()
    assert a.recv() == (True, True)
    proc.join(30)
    assert h.get() is parents and not parents.closed


def test_declared_capabilities(tmp_path: Any) -> None:
    assert DirectoryStore(str(tmp_path)).partial_reads
    assert MemoryStore().partial_reads and MemoryStore().erasable
    assert not KVStore(dict()).partial_reads
    inner = MemoryStore()
    inner[".zmetadata"] = b'{"zarr_consolidated_format": 1, "metadata": {}}'
    consolidated = ConsolidatedMetadataStore(inner)
    assert not consolidated.erasable and consolidated.read_only
    assert LRUStoreCache(DirectoryStore(str(tmp_path)), max_size=None).partial_reads
    s = KVStore(dict())
    s["k"] = b"0123456789"
    assert s.getrange("k", 2, 3) == b"234"  # the default reads the whole value
    assert s.getrange("k", -3) == b"789" and s.getranges([("k", 8, 5), ("x", 0, 1)]) == [
        b"89",
        None,
    ]


def test_sqlite_connection_is_lazy_and_per_process(tmp_path: Any) -> None:
    s = SQLiteStore(str(tmp_path / "x.sqlite"))
    assert not s._conn.is_open
    s["a"] = b"1"
    assert s._conn.is_open
    copy = pickle.loads(pickle.dumps(s))
    assert not copy._conn.is_open and copy["a"] == b"1"
    s.close()
    copy.close()
