"""A store subclass's own methods are called for every chunk: no fast path goes around them.

Applications subclass a store to count accesses (checking that lazy reads touch only the
chunks they need), log, cache, decrypt or refuse keys. Whichever mapping or batch method the
subclass overrides, chunk reads, writes, deletes and ``nchunks_initialized`` go through it,
with the compiled loop on and off.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
import pytest

import zarrkit
from zarrkit.pipeline import native
from zarrkit.storage import DirectoryStore, FSStore, MemoryStore, NestedDirectoryStore

pytest.importorskip("fsspec")

SHAPE, CHUNKS = (100, 100), (10, 10)
ALL_CHUNKS = {f"{i}.{j}" for i in range(10) for j in range(10)}


def _counting(base: type, method: str) -> type:
    """A subclass of ``base`` whose ``method`` records the keys it is called with."""

    def record(self: Any, arg: Any) -> None:
        if isinstance(arg, str):
            self.seen[method].append(arg)
        else:  # a batch: an iterable of keys or a mapping of key -> value
            self.seen[method].extend(list(arg))

    if method in ("__iter__", "keys"):

        def counted(self: Any) -> Any:
            self.seen[method].append("")
            return getattr(super(cls, self), method)()

    elif method == "getitems":

        def counted(self: Any, keys: Any, *, contexts: Any = None) -> Any:
            keys = list(keys)
            record(self, keys)
            return super(cls, self).getitems(keys, contexts=contexts)

    elif method == "__setitem__":

        def counted(self: Any, key: Any, value: Any) -> Any:
            record(self, key)
            return super(cls, self).__setitem__(key, value)

    elif method == "listdir":

        def counted(self: Any, path: str = "") -> Any:
            names = super(cls, self).listdir(path)
            self.seen[method].extend(names)
            return names

    else:

        def counted(self: Any, arg: Any) -> Any:
            record(self, arg)
            return getattr(super(cls, self), method)(arg)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        base.__init__(self, *args, **kwargs)
        self.seen = collections.defaultdict(list)

    cls = type(f"Counting{base.__name__}", (base,), {"__init__": init, method: counted})
    cls.__module__ = __name__
    return cls


def _make(base: type, tmp_path: Any, method: str) -> tuple[Any, Any]:
    """A plain store and a counting subclass over the same place."""
    if base is MemoryStore:  # one store in memory: the subclass is the plain store too
        sub = _counting(base, method)()
        return sub, sub
    if base is FSStore:
        url = str(tmp_path / "fs.zarr")
        return FSStore(url), _counting(base, method)(url)
    path = str(tmp_path / "d.zarr")
    return base(path), _counting(base, method)(path)


BASES = [DirectoryStore, NestedDirectoryStore, MemoryStore, FSStore]


@pytest.fixture(params=[True, False], ids=["native", "python"])
def loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(native, "ENABLED", request.param and native._native is not None)
    return request.param


def _chunk_names(keys: list[str]) -> set[str]:
    """The chunk keys among ``keys``, as ``i.j`` whatever the separator."""
    return {k.replace("/", ".") for k in keys if k.replace("/", ".") in ALL_CHUNKS}


@pytest.mark.parametrize("base", BASES, ids=lambda b: b.__name__)
@pytest.mark.parametrize("method", ["__getitem__", "getitems"])
def test_reads_go_through_the_subclass(base, method, tmp_path, loop):
    plain, sub = _make(base, tmp_path, method)
    data = np.arange(10_000, dtype="i4").reshape(SHAPE)
    zarrkit.array(data, store=plain, chunks=CHUNKS)
    z = zarrkit.open_array(sub, mode="r")
    sub.seen.clear()
    np.testing.assert_array_equal(z[:], data)
    assert _chunk_names(sub.seen[method]) == ALL_CHUNKS
    # a lazy read touches only the chunks it needs
    sub.seen.clear()
    assert z[5, 15] == data[5, 15] and z[25:35, 0].tolist() == data[25:35, 0].tolist()
    assert _chunk_names(sub.seen[method]) == {"0.1", "2.0", "3.0"}


@pytest.mark.parametrize("base", BASES, ids=lambda b: b.__name__)
@pytest.mark.parametrize("method", ["__setitem__", "setitems"])
def test_writes_go_through_the_subclass(base, method, tmp_path, loop):
    plain, sub = _make(base, tmp_path, method)
    z = zarrkit.zeros(SHAPE, chunks=CHUNKS, dtype="f8", store=sub)
    sub.seen.clear()
    data = np.random.default_rng(1).random(SHAPE)
    z[:] = data
    assert _chunk_names(sub.seen[method]) == ALL_CHUNKS
    sub.seen.clear()
    z[3, 3:25] = -1.0  # partly covered chunks: read, merged and written through the store
    data[3, 3:25] = -1.0
    assert _chunk_names(sub.seen[method]) == {"0.0", "0.1", "0.2"}
    np.testing.assert_array_equal(zarrkit.open_array(plain, mode="r")[:], data)


@pytest.mark.parametrize("base", BASES, ids=lambda b: b.__name__)
@pytest.mark.parametrize("method", ["__delitem__", "delitems"])
def test_deletes_go_through_the_subclass(base, method, tmp_path, loop):
    plain, sub = _make(base, tmp_path, method)
    z = zarrkit.zeros(SHAPE, chunks=CHUNKS, dtype="i4", store=sub, write_empty_chunks=False)
    z[:] = 1
    sub.seen.clear()
    z[:20, :] = 0  # chunks that become all fill value are deleted
    assert _chunk_names(sub.seen[method]) == {f"{i}.{j}" for i in range(2) for j in range(10)}
    sub.seen.clear()
    z.resize(50, 100)  # chunks outside the new shape are deleted
    assert _chunk_names(sub.seen[method]) == {f"{i}.{j}" for i in range(5, 10) for j in range(10)}
    assert zarrkit.open_array(plain, mode="r").nchunks_initialized == 30


@pytest.mark.parametrize("base", [DirectoryStore, MemoryStore], ids=lambda b: b.__name__)
def test_nchunks_initialized_lists_through_the_subclass(base, tmp_path):
    plain, sub = _make(base, tmp_path, "listdir")
    z = zarrkit.zeros(SHAPE, chunks=CHUNKS, dtype="i4", store=plain)
    z[:30] = 1
    sub.seen.clear()
    assert zarrkit.open_array(sub, mode="r").nchunks_initialized == 30
    assert _chunk_names(sub.seen["listdir"]) == {f"{i}.{j}" for i in range(3) for j in range(10)}


@pytest.mark.parametrize("method", ["__iter__", "keys"])
def test_nchunks_initialized_of_nested_keys_walks_through_the_subclass(method, tmp_path):
    plain, sub = _make(NestedDirectoryStore, tmp_path, method)
    z = zarrkit.zeros(SHAPE, chunks=CHUNKS, dtype="i4", store=plain)
    z[:30] = 1
    sub.seen.clear()
    assert zarrkit.open_array(sub, mode="r").nchunks_initialized == 30
    assert sub.seen[method]


class Refusing(DirectoryStore):
    """Refuses one chunk key: its error reaches the reader, never a fill value."""

    def __getitem__(self, key: str) -> bytes:
        if key == "1.1":
            raise PermissionError(f"{key} is not yours")
        return super().__getitem__(key)


def test_a_refusing_subclass_is_obeyed(tmp_path, loop):
    path = str(tmp_path / "r.zarr")
    zarrkit.full(SHAPE, 3, chunks=CHUNKS, dtype="i4", store=DirectoryStore(path))[:] = 5
    z = zarrkit.open_array(Refusing(path), mode="r")
    assert z[:10, :10].sum() == 500
    with pytest.raises(PermissionError, match="1.1 is not yours"):
        z[:]


class Transforming(DirectoryStore):
    """Keeps every value reversed on disk: the files are not the chunk's bytes."""

    def __getitem__(self, key: str) -> bytes:
        value = super().__getitem__(key)
        return value if key.endswith((".zarray", ".zattrs", ".zgroup")) else value[::-1]

    def __setitem__(self, key: str, value: Any) -> None:
        if not key.endswith((".zarray", ".zattrs", ".zgroup")):
            value = bytes(memoryview(value).cast("B"))[::-1]
        super().__setitem__(key, value)


def test_a_subclass_that_changes_the_bytes_round_trips(tmp_path, loop):
    path = str(tmp_path / "t.zarr")
    data = np.arange(10_000, dtype="u2").reshape(SHAPE)
    zarrkit.array(data, store=Transforming(path), chunks=CHUNKS)
    np.testing.assert_array_equal(zarrkit.open_array(Transforming(path), mode="r")[:], data)
    with pytest.raises(zarrkit.errors.CorruptChunkError):  # the plain files are not chunks
        zarrkit.open_array(DirectoryStore(path), mode="r")[:]


def test_zarrkit_own_stores_keep_their_shortcuts():
    # the rule applies to subclasses written outside zarrkit; zarrkit's own pair them
    assert DirectoryStore.local_files and NestedDirectoryStore.local_files
    assert _counting(DirectoryStore, "__getitem__").local_files is False
    sub = _counting(DirectoryStore, "__getitem__")
    assert sub.getitems is not DirectoryStore.getitems
    assert _counting(DirectoryStore, "listdir").getitems is DirectoryStore.getitems


def test_local_files_are_a_declared_capability(tmp_path):
    """Only a store whose keys are the files of a folder offers them to the pipeline; the
    one rule (``DirectoryStore._FILE_METHODS``) takes the offer away from a subclass."""
    from zarrkit.storage.files import LocalFiles

    files = DirectoryStore(str(tmp_path)).local_files_at("a/b")
    assert isinstance(files, LocalFiles)
    assert files.path("0.1") == str(tmp_path / "a" / "b" / "0.1")
    assert NestedDirectoryStore(str(tmp_path)).local_files_at("") is not None
    assert MemoryStore().local_files_at("a") is None
    assert FSStore(str(tmp_path)).local_files_at("a") is None
    for method in DirectoryStore._FILE_METHODS:
        sub = type("Sub", (DirectoryStore,), {method: getattr(DirectoryStore, method)})
        assert sub(str(tmp_path)).local_files_at("a") is None, method
