"""zarr 2 behaviours of the stores: duck-typed mappings, the getitems protocol, getsize's
rule, hierarchy checks, zarr 2's helper names; and where zarrkit is safer than zarr 2."""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import zarrkit
from zarrkit.storage import (
    DictStore,
    DirectoryStore,
    KVStore,
    LRUStoreCache,
    MemoryStore,
    NestedDirectoryStore,
    SQLiteStore,
    Store,
    TempStore,
    ZipStore,
    array_meta_key,
    atexit_rmglob,
    atexit_rmtree,
    attrs_key,
    getsize,
    group_meta_key,
    listdir,
    normalize_store_arg,
    rename,
)


class DuckMapping:
    """Not a MutableMapping: no __len__, no update, no get."""

    def __init__(self) -> None:
        self.inner: dict = {}

    def keys(self) -> Any:
        return self.inner.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self.inner)

    def __getitem__(self, key: str) -> Any:
        return self.inner[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.inner[key] = bytes(value)

    def __delitem__(self, key: str) -> None:
        del self.inner[key]

    def __contains__(self, key: object) -> bool:
        return key in self.inner


def test_duck_typed_mapping_is_a_store() -> None:
    m = DuckMapping()
    z = zarrkit.zeros((4, 4), chunks=(2, 2), dtype="i2", store=m)
    z[1:3, 1:3] = 7
    assert isinstance(z.store, KVStore) and z.store.map is m
    assert len(z.store) == 5
    assert zarrkit.open_array(m, mode="r")[2, 2] == 7
    assert z.nbytes_stored == sum(len(v) for v in m.inner.values())
    z.store.delitems(["0.0", "absent"])
    assert "0.0" not in m.inner


@pytest.mark.parametrize("bad", [None, object(), 42])
def test_ensure_store_refuses_non_mappings(bad: Any) -> None:
    with pytest.raises(ValueError):
        Store._ensure_store(bad)


def test_ensure_store_keeps_ours_and_wraps_dicts() -> None:
    s = MemoryStore()
    assert Store._ensure_store(s) is s
    d: dict = {}
    assert Store._ensure_store(d).map is d


class RequiredContexts(Store):
    """A zarr 2.18 store: ``contexts`` keyword required."""

    def __init__(self) -> None:
        self.d: dict = {}
        self.seen: list = []

    def __getitem__(self, k: str) -> Any:
        return self.d[k]

    def __setitem__(self, k: str, v: Any) -> None:
        self.d[k] = v

    def __delitem__(self, k: str) -> None:
        del self.d[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self.d)

    def __len__(self) -> int:
        return len(self.d)

    def getitems(self, keys: Any, *, contexts: Any) -> dict:
        self.seen.append(contexts)
        return {k: self.d[k] for k in keys if k in self.d}


class NoContexts(RequiredContexts):
    """An older store: no ``contexts`` at all."""

    def getitems(self, keys: Any) -> dict:  # type: ignore[override]
        self.seen.append("none")
        return {k: self.d[k] for k in keys if k in self.d}


@pytest.mark.parametrize("cls", [RequiredContexts, NoContexts])
def test_getitems_with_or_without_contexts(cls: type) -> None:
    s = cls()
    s["a"] = b"1"
    assert s.getitems(["a", "b"]) == {"a": b"1"}
    assert s.getitems(["a"], contexts={"a": {}}) == {"a": b"1"}
    z = zarrkit.zeros(6, chunks=2, dtype="u1", store=s)
    z[:] = 5
    assert list(z[:]) == [5] * 6
    assert s.seen and (s.seen[0] == {} or s.seen[0] == "none")
    # the same through a KVStore and an LRU cache in front of it
    assert KVStore(s).getitems(["a"]) == {"a": b"1"}
    assert LRUStoreCache(s, max_size=None).getitems(["a", "zz"]) == {"a": b"1"}


class Batched(dict):
    """A foreign mapping with zarr 2's batch methods."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list = []

    def getitems(self, keys: Any, *, contexts: Any) -> dict:
        self.calls.append(("get", tuple(keys), contexts))
        return {k: self[k] for k in keys if k in self}

    def setitems(self, values: Any) -> None:
        self.calls.append(("set", tuple(values)))
        self.update(values)


def test_kvstore_uses_the_batch_methods_of_a_foreign_mapping() -> None:
    b = Batched()
    s = KVStore(b)
    s.setitems({"x": b"1"})
    assert s.getitems(["x", "y"]) == {"x": b"1"}
    assert b.calls == [("set", ("x",)), ("get", ("x", "y"), {})]
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.getitems(["x"]) == {"x": b"1"}


# -- getsize --------------------------------------------------------------------------------


def test_getsize_of_unknown_sizes() -> None:
    assert getsize(object()) == -1
    s = KVStore(dict())
    s["a"] = b"aaa"
    s["b/c"] = b"cc"
    assert getsize(s) == 3 and getsize(s, "b") == 2
    s["none"] = None
    assert getsize(s) == -1
    assert getsize({"x": b"12"}) == 2


def test_nbytes_stored_counts_nested_chunks(tmp_path: Any) -> None:
    """zarr 2 counted only the files directly in an array's folder (getsize); zarrkit counts
    every chunk of a '/'-separated array."""
    s = NestedDirectoryStore(str(tmp_path))
    z = zarrkit.zeros((4, 4), chunks=(2, 2), dtype="u1", store=s, compressor=None)
    z[:] = 1
    files = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path) for f in fs]
    assert z.nbytes_stored == sum(os.path.getsize(f) for f in files)
    assert s.getsize() == os.path.getsize(tmp_path / ".zarray")


# -- hierarchy rules ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_keys_and_directories_do_not_mix(kind: str, tmp_path: Any) -> None:
    s = MemoryStore() if kind == "memory" else DirectoryStore(str(tmp_path))
    s["a/b"] = b"aaa"
    with pytest.raises(KeyError):
        s["a/b/c"] = b"x"  # a key is in the way
    with pytest.raises(KeyError):
        del s["a/b/c"]
    s["x/y/z"] = b"xxx"
    with pytest.raises(KeyError):
        s["x/y"] = b"yyy"  # zarr 2 silently deleted x/y/z here
    assert s["x/y/z"] == b"xxx"
    del s["x/y"]  # deleting a 'directory' deletes what is below it
    assert "x/y/z" not in s
    s["x/y"] = b"yyy"
    assert s["x/y"] == b"yyy"
    assert s.listdir("a/b") == [] and s.listdir("nothing") == []


def test_memory_store_refuses_values_that_are_not_buffers() -> None:
    s = MemoryStore()
    with pytest.raises(TypeError):
        s["k"] = [1, 2, 3]
    with pytest.raises(TypeError):
        s.setitems({"a": b"1", "b": object()})
    assert len(s) == 0
    s["k"] = np.array([97, 98], dtype="u1")
    assert s["k"] == b"ab"


def test_memory_store_keeps_its_index_through_pickle_and_rmdir() -> None:
    s = MemoryStore()
    s.setitems({"g/a/0": b"1", "g/a/1": b"2", "g/b": b"3"})
    s2 = pickle.loads(pickle.dumps(s))
    with pytest.raises(KeyError):
        s2["g/a"] = b"x"
    s2.rmdir("g/a")
    s2["g/a"] = b"x"
    assert sorted(s2) == ["g/a", "g/b"]


def test_directory_store_refuses_a_file_path(tmp_path: Any) -> None:
    f = tmp_path / "file"
    f.write_bytes(b"")
    with pytest.raises(ValueError):
        DirectoryStore(str(f))


def test_directory_store_keys_fast(tmp_path: Any) -> None:
    s = DirectoryStore(str(tmp_path))
    s.setitems({"a/.zarray": b"{}", "a/0": b"0", ".zgroup": b"{}"})
    assert set(DirectoryStore._keys_fast(str(tmp_path))) == {"a/.zarray", "a/0", ".zgroup"}


def test_nested_listdir_in_an_array_lists_chunk_keys(tmp_path: Any) -> None:
    s = NestedDirectoryStore(str(tmp_path))
    z = zarrkit.zeros((4, 4), chunks=(2, 2), store=s, path="g/arr")
    z[:] = 1
    assert s.listdir("g/arr") == [".zarray", "0/0", "0/1", "1/0", "1/1"]
    assert all(s.get("g/arr/" + k) is not None for k in s.listdir("g/arr"))
    assert s.listdir("g") == [".zgroup", "arr"]


# -- zarr 2's helper names ------------------------------------------------------------------


def test_key_names() -> None:
    assert (array_meta_key, group_meta_key, attrs_key) == (".zarray", ".zgroup", ".zattrs")


def test_dict_store_is_a_deprecated_memory_store() -> None:
    with pytest.warns(DeprecationWarning):
        s = DictStore()
    assert isinstance(s, MemoryStore)
    s["a"] = b"1"
    with pytest.warns(DeprecationWarning):
        s2 = pickle.loads(pickle.dumps(s))
    assert s2["a"] == b"1"


def test_temp_store(tmp_path: Any) -> None:
    s = TempStore(dir=str(tmp_path), prefix="zk")
    assert os.path.isdir(s.path) and os.path.basename(s.path).startswith("zk")
    s["a/b"] = b"1"
    s2 = pickle.loads(pickle.dumps(s))
    assert isinstance(s2, TempStore) and s2.path == s.path and s2["a/b"] == b"1"


def test_atexit_helpers(tmp_path: Any) -> None:
    d = tmp_path / "d"
    d.mkdir()
    atexit_rmtree(str(d))
    atexit_rmtree(str(d))  # already gone: nothing to do
    assert not d.exists()
    (tmp_path / "x.db").write_bytes(b"")
    (tmp_path / "x.db.dir").mkdir()
    atexit_rmglob(str(tmp_path / "x.db*"))
    assert list(tmp_path.iterdir()) == []


def test_module_functions_on_plain_dicts() -> None:
    d = {"a": 1, "c/d": b"x"}
    rename(d, "a", "b")
    assert d == {"b": 1, "c/d": b"x"}
    with pytest.warns(UserWarning, match="has no `listdir`"):
        assert listdir(d) == ["b", "c"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert listdir(MemoryStore()) == []


def test_normalize_store_arg_zarr_version(tmp_path: Any) -> None:
    with pytest.raises(ValueError):
        normalize_store_arg({}, zarr_version=3)
    s = normalize_store_arg(str(tmp_path / "x.zip"), zarr_version=2, mode="w")
    assert isinstance(s, ZipStore)
    s.close()


def test_zip_folder_entries(tmp_path: Any) -> None:
    path = str(tmp_path / "x.zip")
    with ZipStore(path, mode="w") as s:
        s["foo"] = b"bar"
        s["baz/"] = b""
        assert list(s) == ["foo"]  # a folder entry is not a key
        with pytest.raises(ValueError):
            s["qux/"] = b"data"
    with zipfile.ZipFile(path) as z:
        assert oct(z.getinfo("foo").external_attr >> 16) == "0o644"
        assert oct(z.getinfo("baz/").external_attr >> 16) == "0o40775"


def test_in_memory_sqlite_does_not_pickle() -> None:
    s = SQLiteStore(":memory:")
    s["a"] = b"1"
    with pytest.raises(pickle.PicklingError):
        pickle.dumps(s)


def test_lru_cache_asks_the_store_once_per_key() -> None:
    class Counting(dict):
        contains = 0

        def __contains__(self, k: object) -> bool:
            type(self).contains += 1
            return super().__contains__(k)

    inner = Counting(a=b"1")
    cache = LRUStoreCache(inner, max_size=None)
    assert sorted(cache.keys()) == ["a"]
    assert "a" in cache and "a" in cache
    assert Counting.contains == 1
    with pytest.raises(TypeError):
        cache["b"] = [1, 2]
    assert "b" not in inner
