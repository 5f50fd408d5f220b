"""Local stores (memory, dict, directory, nested) key by key, and DirectoryStore crash safety.

The protocol-level suite every store runs is zarrkit.testing, in test_store_conformance.py.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrkit
from zarrkit.storage import DirectoryStore, KVStore, MemoryStore, NestedDirectoryStore

Factory = Callable[[], Any]


def as_bytes(v: Any) -> bytes:
    """Stored values may be any buffer; compare their bytes."""
    return bytes(memoryview(v).cast("B")) if not isinstance(v, bytes) else v


def filled(new_store: Factory) -> Any:
    """A store holding a small hierarchy of keys."""
    s = new_store()
    s["a/.zarray"] = b"{}"
    s["a/0.0"] = b"chunk-00"
    s["a/0.1"] = b"chunk-01!"
    s["a/b/c"] = b"deep"
    s["ab/x"] = b"not below a"
    s["top"] = b"t"
    return s


KEYS = {"a/.zarray", "a/0.0", "a/0.1", "a/b/c", "ab/x", "top"}


# -- single keys --------------------------------------------------------------------------------


def test_get_set_contains_del(new_store: Factory) -> None:
    s = new_store()
    assert len(s) == 0
    assert "x" not in s
    with pytest.raises(KeyError):
        s["x"]
    assert s.get("x") is None
    assert s.get("x", b"d") == b"d"
    s["x"] = b"1"
    assert "x" in s
    assert as_bytes(s["x"]) == b"1"
    s["x"] = b"22"  # overwrite
    assert as_bytes(s["x"]) == b"22"
    s["empty"] = b""
    assert "empty" in s and as_bytes(s["empty"]) == b""
    del s["x"]
    assert "x" not in s
    with pytest.raises(KeyError):
        del s["x"]
    with pytest.raises(KeyError):
        s["x"]


@pytest.mark.parametrize(
    "value",
    [bytearray(b"abc"), memoryview(b"abc"), np.frombuffer(b"abc", dtype="u1")],
    ids=["bytearray", "memoryview", "ndarray"],
)
def test_set_accepts_buffers(new_store: Factory, value: Any) -> None:
    s = new_store()
    s["k/v"] = value
    assert as_bytes(s["k/v"]) == b"abc"


def test_iter_len_keys(new_store: Factory) -> None:
    s = filled(new_store)
    assert set(s) == KEYS
    assert set(s.keys()) == KEYS
    assert len(s) == len(KEYS)
    assert {k: as_bytes(v) for k, v in s.items()}["a/b/c"] == b"deep"


def test_nested_key_is_not_a_key_itself(new_store: Factory) -> None:
    s = filled(new_store)
    assert "a" not in s
    assert "a/b" not in s
    with pytest.raises(KeyError):
        s["a/b"]


# -- batches ------------------------------------------------------------------------------------


def test_getitems_leaves_out_absent_keys(new_store: Factory) -> None:
    s = filled(new_store)
    got = s.getitems(["a/0.0", "missing", "a/b/c", "a/9.9"], contexts={})
    assert set(got) == {"a/0.0", "a/b/c"}
    assert as_bytes(got["a/0.0"]) == b"chunk-00"
    assert s.getitems([]) == {}


def test_setitems_and_delitems(new_store: Factory) -> None:
    s = new_store()
    values = {f"arr/{i}.{j}": bytes([i, j]) * 3 for i in range(4) for j in range(3)}
    s.setitems(values)
    assert set(s) == set(values)
    assert all(as_bytes(s[k]) == v for k, v in values.items())
    s.delitems(["arr/0.0", "arr/3.2", "absent", "arr/9.9"])
    assert set(s) == set(values) - {"arr/0.0", "arr/3.2"}
    s.delitems([])
    assert len(s) == len(values) - 2


# -- hierarchy helpers --------------------------------------------------------------------------


def test_listdir(new_store: Factory) -> None:
    s = filled(new_store)
    assert s.listdir() == ["a", "ab", "top"]
    assert s.listdir("") == ["a", "ab", "top"]
    assert s.listdir("a") == [".zarray", "0.0", "0.1", "b"]
    assert s.listdir("/a/") == [".zarray", "0.0", "0.1", "b"]
    assert s.listdir("a/b") == ["c"]
    assert s.listdir("nothing") == []
    assert zarrkit.storage.listdir(s, "a/b") == ["c"]


def test_rmdir(new_store: Factory) -> None:
    s = filled(new_store)
    s.rmdir("a/b")
    assert set(s) == KEYS - {"a/b/c"}
    s.rmdir("a")
    assert set(s) == {"ab/x", "top"}  # 'ab' only shares a prefix of characters with 'a'
    s.rmdir("not/there")
    assert set(s) == {"ab/x", "top"}
    s.rmdir()
    assert len(s) == 0
    s["again"] = b"1"  # still usable after the root was emptied
    assert list(s) == ["again"]


def test_getsize(new_store: Factory) -> None:
    """zarr 2's rule: a key's size, or the sizes of the keys directly below a path."""
    s = filled(new_store)
    assert s.getsize("a/0.1") == len(b"chunk-01!")
    assert s.getsize("a") == sum(len(v) for v in (b"{}", b"chunk-00", b"chunk-01!"))
    assert s.getsize("a/b") == 4
    assert s.getsize() == len(b"t")
    assert s.getsize("missing") == 0
    assert s.getsize("a/b/c/d") == 0
    assert zarrkit.storage.getsize(s, "ab") == len(b"not below a")


def test_size_below(new_store: Factory) -> None:
    """Every depth: what an array or group takes in the store."""
    s = filled(new_store)
    assert s.size_below("a") == sum(len(v) for v in (b"{}", b"chunk-00", b"chunk-01!", b"deep"))
    assert s.size_below("a/0.1") == len(b"chunk-01!")
    assert s.size_below() == sum(len(as_bytes(s[k])) for k in KEYS)
    assert s.size_below("missing") == 0


def test_rename(new_store: Factory) -> None:
    s = filled(new_store)
    s.rename("a", "moved/here")
    assert set(s) == {
        "moved/here/.zarray",
        "moved/here/0.0",
        "moved/here/0.1",
        "moved/here/b/c",
        "ab/x",
        "top",
    }
    assert as_bytes(s["moved/here/b/c"]) == b"deep"
    s.rename("top", "renamed")
    assert "top" not in s and as_bytes(s["renamed"]) == b"t"


def test_pickle_round_trip(new_store: Factory) -> None:
    s = filled(new_store)
    s2 = pickle.loads(pickle.dumps(s))
    assert type(s2) is type(s)
    assert set(s2) == KEYS
    assert all(as_bytes(s2[k]) == as_bytes(s[k]) for k in KEYS)
    assert s2 == s
    s2["new"] = b"n"
    assert as_bytes(s2["new"]) == b"n"


@pytest.mark.parametrize("store_kind", ["memory", "directory", "nested"])
def test_pickle_keeps_dimension_separator(store_kind: str, tmp_path: Any) -> None:
    if store_kind == "memory":
        s = MemoryStore(dimension_separator="/")
    elif store_kind == "directory":
        s = DirectoryStore(str(tmp_path), dimension_separator="/")
    else:
        s = NestedDirectoryStore(str(tmp_path))
    s2 = pickle.loads(pickle.dumps(s))
    z = zarrkit.zeros((2, 2), chunks=(1, 1), store=s2, dtype="i1")
    z[1, 1] = 1
    assert "1/1" in s2


def test_clear(new_store: Factory) -> None:
    s = filled(new_store)
    s.clear()
    assert len(s) == 0 and list(s) == []


def test_array_on_every_store(new_store: Factory) -> None:
    s = new_store()
    data = np.arange(60, dtype="<i8").reshape(6, 10)
    z = zarrkit.array(data, chunks=(4, 3), store=s, path="grp/arr")
    np.testing.assert_array_equal(zarrkit.Array(s, path="grp/arr")[...], data)
    assert z.nchunks_initialized == 8
    assert s.size_below("grp/arr") == z.nbytes_stored
    assert "grp/.zgroup" in s


def test_dict_is_wrapped(tmp_path: Any) -> None:
    d: dict = {}
    z = zarrkit.zeros(5, chunks=2, store=d, dtype="u1")
    z[:] = 3
    assert isinstance(z.store, KVStore)
    assert set(d) == {".zarray", "0", "1", "2"}


# -- DirectoryStore specifics -------------------------------------------------------------------


@pytest.mark.parametrize("cls", [DirectoryStore, NestedDirectoryStore])
def test_directory_files_on_disk(cls: type, tmp_path: Any) -> None:
    s = cls(str(tmp_path))
    s["a/b/c"] = b"xyz"
    with open(tmp_path / "a" / "b" / "c", "rb") as f:
        assert f.read() == b"xyz"
    # a file written by someone else is a key
    (tmp_path / "other").write_bytes(b"o")
    assert as_bytes(s["other"]) == b"o"


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "a/./b"])
def test_directory_rejects_keys_leaving_the_root(tmp_path: Any, key: str) -> None:
    root = tmp_path / "root"
    s = DirectoryStore(str(root))
    with pytest.raises((ValueError, KeyError)):
        s[key] = b"x"
    assert not (tmp_path / "escape").exists()


def _files_below(root: Any) -> set[str]:
    out = set()
    for folder, _dirs, files in os.walk(root):
        for f in files:
            out.add(os.path.relpath(os.path.join(folder, f), root).replace(os.sep, "/"))
    return out


@pytest.mark.parametrize("cls", [DirectoryStore, NestedDirectoryStore])
def test_failed_rename_keeps_old_chunk(cls: type, tmp_path: Any, monkeypatch: Any) -> None:
    """A write that dies between temp file and rename: the old chunk stays, no temp file left."""
    store = cls(str(tmp_path))
    z = zarrkit.zeros((4, 4), chunks=(2, 2), dtype="i4", store=store)
    z[...] = 1
    before = _files_below(tmp_path)
    calls = []

    def failing_replace(src: str, dst: str) -> None:
        calls.append((src, dst))
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", failing_replace)
    # the Python path's rename (the compiled loop renames in C; its failures come back to
    # this path: tests/pipeline/test_native.py)
    monkeypatch.setattr(zarrkit.pipeline.native, "ENABLED", False)
    with pytest.raises(OSError, match="disk went away"):
        z[0:2, 0:2] = 5  # one whole chunk
    with pytest.raises(OSError, match="disk went away"):
        z[1:3, 1:3] = 7  # parts of four chunks
    monkeypatch.undo()
    assert calls  # the failure really happened at the rename
    np.testing.assert_array_equal(zarrkit.Array(store)[...], np.ones((4, 4), dtype="i4"))
    assert _files_below(tmp_path) == before  # no temporary file left behind
    # and the store still works afterwards
    z[0:2, 0:2] = 5
    assert z[0, 0] == 5 and z[3, 3] == 1


def test_failed_encode_keeps_old_chunk(tmp_path: Any, monkeypatch: Any) -> None:
    store = DirectoryStore(str(tmp_path))
    z = zarrkit.zeros((6,), chunks=(3,), dtype="f8", store=store, compressor=numcodecs.Zlib())
    z[:] = np.arange(6.0)
    before = _files_below(tmp_path)

    def failing_encode(self: Any, buf: Any) -> bytes:
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(numcodecs.zlib.Zlib, "encode", failing_encode)
    with pytest.raises(RuntimeError, match="encoder exploded"):
        z[1:5] = -1.0
    monkeypatch.undo()
    np.testing.assert_array_equal(zarrkit.Array(store)[:], np.arange(6.0))
    assert _files_below(tmp_path) == before


def test_failed_write_of_temp_file_propagates(tmp_path: Any, monkeypatch: Any) -> None:
    """An error while writing the temp file (disk full) propagates and leaves no debris."""
    store = DirectoryStore(str(tmp_path))
    store["k"] = b"old"
    real_write = os.write

    def full(fd: int, data: Any) -> int:
        real_write(fd, b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="No space left"):
        store["k"] = b"new value"
    monkeypatch.undo()
    assert store["k"] == b"old"
    assert _files_below(tmp_path) == {"k"}


def test_nested_directory_store_writes_nested_keys(tmp_path: Any) -> None:
    store = NestedDirectoryStore(str(tmp_path))
    z = zarrkit.zeros((4, 6), chunks=(2, 3), dtype="u2", store=store, path="a")
    z[2:, 3:] = 9
    assert "a/1/1" in store
    assert (tmp_path / "a" / "1" / "1").is_file()
    assert json.loads(store["a/.zarray"])["dimension_separator"] == "/"
    assert not any("." in k.split("/")[-1] for k in store if not k.split("/")[-1].startswith("."))
    z[0, 0] = 1
    assert sorted(k for k in store if k.startswith("a/") and "zarray" not in k) == [
        "a/0/0",
        "a/1/1",
    ]
    # a plain DirectoryStore opens it by its metadata, which names the separator
    expected = np.zeros((4, 6), dtype="u2")
    expected[2:, 3:] = 9
    expected[0, 0] = 1
    np.testing.assert_array_equal(
        zarrkit.Array(DirectoryStore(str(tmp_path)), path="a")[...], expected
    )


def test_dot_separated_array_read_through_nested_store(tmp_path: Any) -> None:
    data = np.arange(24, dtype="i2").reshape(4, 6)
    zarrkit.array(data, chunks=(2, 3), store=DirectoryStore(str(tmp_path)))
    assert (tmp_path / "1.1").is_file()
    nested = NestedDirectoryStore(str(tmp_path))
    z = zarrkit.open_array(nested, mode="r+")
    np.testing.assert_array_equal(z[...], data)
    z[0, 0] = -5  # writes go to the array's own keys
    assert (tmp_path / "0.0").is_file() and not (tmp_path / "0").exists()
    assert zarrkit.Array(DirectoryStore(str(tmp_path)))[0, 0] == -5


def test_directory_store_equality_and_repr(tmp_path: Any) -> None:
    a, b = DirectoryStore(str(tmp_path)), DirectoryStore(str(tmp_path))
    assert a == b
    assert a != DirectoryStore(str(tmp_path / "other"))
    assert a != NestedDirectoryStore(str(tmp_path))
    assert str(tmp_path) in repr(a)
    assert type(a).__module__ == "zarrkit.storage"
    assert small_pickle(a)


def small_pickle(store: Any) -> bool:
    """Directory stores pickle to their parameters: small whatever they hold."""
    for i in range(50):
        store[f"k{i}"] = bytes(10_000)
    return len(pickle.dumps(store)) < 1_000


def test_memory_store_pickles_its_data() -> None:
    s = MemoryStore()
    s["x"] = bytes(10_000)
    assert len(pickle.dumps(s)) > 10_000
