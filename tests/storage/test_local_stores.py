"""What is particular to the local stores: MemoryStore and a dict's KVStore (pickling, wrapping),
DirectoryStore and NestedDirectoryStore (files on disk, keys leaving the root, crash safety,
the nested key layout, equality and repr).

What every store must do (single keys, batches, iteration, listdir / rmdir / getsize / rename,
the 'a' vs 'ab' prefix rule, pickling) is zarrkit.testing's conformance suite, run against
every store in test_store_conformance.py.
"""

from __future__ import annotations

import json
import os
import pickle
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrkit
from zarrkit.storage import DirectoryStore, KVStore, MemoryStore, NestedDirectoryStore


def as_bytes(v: Any) -> bytes:
    """Stored values may be any buffer; compare their bytes."""
    return bytes(memoryview(v).cast("B")) if not isinstance(v, bytes) else v


# -- MemoryStore, KVStore over a dict -----------------------------------------------------------


@pytest.mark.parametrize("store_kind", ["memory", "directory", "nested"])
def test_pickle_keeps_dimension_separator(store_kind: str, tmp_path: Any) -> None:
    """A separator given to the constructor (the suite pickles stores made with defaults)."""
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


def test_memory_store_pickles_its_data() -> None:
    s = MemoryStore()
    s["x"] = bytes(10_000)
    assert len(pickle.dumps(s)) > 10_000


def test_dict_is_wrapped(tmp_path: Any) -> None:
    """A plain dict given as a store is wrapped in a KVStore and holds the keys itself."""
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
