"""Regression tests for bugs found in the hierarchy, convenience and storage layers.

Each test names the failure it guards against; most were written failing before the fix.
"""

from __future__ import annotations

import gc
import os
import pickle
import shutil
import threading
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import zarrkit
from conftest import needs_zarr2
from zarrkit.errors import CopyError, ReadOnlyError
from zarrkit.hierarchy import LazyLoader
from zarrkit.storage import (
    DirectoryStore,
    KVStore,
    LMDBStore,
    LRUStoreCache,
    MemoryStore,
    SQLiteStore,
    ZipStore,
)

try:
    import zarr as zarr_python

except ImportError:  # pragma: no cover - both environments have zarr-python
    zarr_python = None

KV_KINDS = ["memory", "dict", "zip", "sqlite", "lmdb", "lru", "directory"]


def _store(kind: str, tmp_path: Any) -> Any:
    if kind == "memory":
        return MemoryStore()
    if kind == "dict":
        return KVStore(dict())
    if kind == "zip":
        return ZipStore(str(tmp_path / "s.zip"), mode="w")
    if kind == "sqlite":
        return SQLiteStore(str(tmp_path / "s.sqldb"))
    if kind == "lmdb":
        return LMDBStore(str(tmp_path / "s.lmdb"))
    if kind == "lru":
        return LRUStoreCache(MemoryStore(), max_size=2**20)
    if kind == "directory":
        return DirectoryStore(str(tmp_path / "s.zarr"))
    raise ValueError(kind)


@pytest.fixture(params=KV_KINDS)
def any_store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    store = _store(request.param, tmp_path)
    yield store
    store.close()


# -- Group.move / __delitem__ ---------------------------------------------------------------


def test_move_into_own_subtree_is_refused_and_keeps_data(any_store: Any) -> None:
    # was: every key-value store renamed 'x/...' to 'x/sub/...' and then deleted every key
    # below 'x/', new ones included: the whole subtree was lost
    g = zarrkit.group(store=any_store)
    g.array("x/y", np.arange(10), chunks=3)
    for dest in ("x/sub", "x/sub/deeper", "x"):
        with pytest.raises(ValueError):
            g.move("x", dest)
    np.testing.assert_array_equal(g["x/y"][:], np.arange(10))
    assert sorted(g) == ["x"]


def test_store_rename_into_itself_is_refused() -> None:
    store = MemoryStore()
    store["a/b"] = b"1"
    with pytest.raises(ValueError):
        store.rename("a", "a/c")
    assert dict(store) == {"a/b": b"1"}


def test_move_and_delete_on_every_store_kind(any_store: Any) -> None:
    g = zarrkit.group(store=any_store)
    a = g.zeros("x/y", shape=(10,), chunks=(3,), dtype="i4")
    a[:] = np.arange(10)
    g["x"].attrs["k"] = 2
    g.move("x", "p/q/x")
    assert "x" not in g and isinstance(g["p/q"], zarrkit.hierarchy.Group)
    np.testing.assert_array_equal(g["p/q/x/y"][:], np.arange(10))
    assert g["p/q/x"].attrs["k"] == 2
    g.move("/p/q/x/y", "top")
    del g["p"]
    assert sorted(g) == ["top"]
    np.testing.assert_array_equal(g["top"][:], np.arange(10))
    with pytest.raises(KeyError):
        del g["p"]
    with pytest.raises(ValueError):
        g.move("missing", "elsewhere")


@pytest.mark.parametrize("member", ["empty_group", "unwritten_array", "array"])
def test_move_with_directory_chunk_store_and_nothing_in_it(tmp_path: Any, member: str) -> None:
    # was: FileNotFoundError from the chunk store after the metadata had been moved
    meta = DirectoryStore(str(tmp_path / "meta"))
    chunks = DirectoryStore(str(tmp_path / "chunks"))
    g = zarrkit.group(meta, chunk_store=chunks)
    if member == "empty_group":
        g.create_group(member)
    elif member == "unwritten_array":
        g.zeros(member, shape=4, chunks=2)
    else:
        g.array(member, np.arange(4), chunks=2)
    g.move(member, "moved")
    assert sorted(g) == ["moved"]
    if member == "array":
        np.testing.assert_array_equal(g["moved"][:], np.arange(4))
    del g["moved"]
    assert sorted(g) == []


def test_group_member_creation_refuses_store_path_chunk_store() -> None:
    # was: silently ignored (the array landed in the group's store, not the one given);
    # zarr 2 raises TypeError ("got multiple values for keyword argument")
    g = zarrkit.group()
    other: dict = {}
    for kw in ({"store": other}, {"chunk_store": other}, {"path": "elsewhere"}):
        with pytest.raises(TypeError):
            g.zeros("a", shape=4, **kw)
    assert other == {} and "a" not in g


@needs_zarr2
def test_group_member_creation_chunk_store_matches_zarr2() -> None:
    g = zarr_python.group()
    with pytest.raises(TypeError):
        g.zeros("a", shape=4, chunk_store={})


def test_getattr_prefers_methods_and_reports_missing_members() -> None:
    g = zarrkit.group()
    g.zeros("zeros", shape=2)
    g.zeros("foo", shape=3)
    assert callable(g.zeros) and g["zeros"].shape == (2,)
    assert g.foo.shape == (3,)
    with pytest.raises(AttributeError, match="bar"):
        _ = g.bar
    assert g._repr_html_() is None and not hasattr(g, "_ipython_display_")


# -- ZipStore --------------------------------------------------------------------------------


def test_zipstore_flush_makes_file_readable_while_still_open(tmp_path: Any) -> None:
    path = str(tmp_path / "a.zip")
    store = ZipStore(path, mode="w")
    g = zarrkit.group(store=store)
    g.array("a", np.arange(10), chunks=5)
    g["a"][:2] = 7  # a rewrite: held in memory until flush
    store.flush()
    reader = ZipStore(path, mode="r")
    try:
        expected = np.arange(10)
        expected[:2] = 7
        np.testing.assert_array_equal(zarrkit.open_group(reader, mode="r")["a"][:], expected)
        assert zipfile.ZipFile(path).testzip() is None
    finally:
        reader.close()
    g["b"] = np.ones(3)  # the first store keeps working after the flush
    store.close()
    with ZipStore(path, mode="r") as again:
        assert sorted(zarrkit.open_group(again, mode="r")) == ["a", "b"]


def test_pickle_group_on_writable_zipstore(tmp_path: Any) -> None:
    path = str(tmp_path / "a.zip")
    store = ZipStore(path, mode="w")
    g = zarrkit.group(store=store)
    g.array("a", np.arange(6), chunks=4)
    g2 = pickle.loads(pickle.dumps(g))
    try:
        assert g2.store.mode == "a"  # never 'w': reopening must not truncate the file
        np.testing.assert_array_equal(g2["a"][:], np.arange(6))
    finally:
        g2.store.close()
    np.testing.assert_array_equal(g["a"][:], np.arange(6))
    store.close()


def test_zipstore_modes_and_double_close(tmp_path: Any) -> None:
    path = str(tmp_path / "m.zip")
    with pytest.raises(FileNotFoundError):
        ZipStore(path, mode="r")
    s = ZipStore(path, mode="x")
    s["k"] = b"1"
    s.close()
    s.close()  # closing twice is harmless
    with pytest.raises(FileExistsError):
        ZipStore(path, mode="x")
    a = ZipStore(path, mode="a")
    a["k"] = b"2"
    a["j"] = b"3"
    a.close()
    with ZipStore(path, mode="r") as r:
        assert dict(r) == {"j": b"3", "k": b"2"}
    w = ZipStore(path, mode="w")  # truncates
    w.close()
    with ZipStore(path, mode="r") as r:
        assert len(r) == 0


def test_read_only_zipstore_refuses_every_write(tmp_path: Any) -> None:
    path = str(tmp_path / "ro.zip")
    with ZipStore(path, mode="w") as s:
        g = zarrkit.group(store=s)
        g.array("a", np.arange(4), chunks=2)
    r = ZipStore(path, mode="r")
    writes = [
        lambda: r.__setitem__("x", b"1"),
        lambda: r.__delitem__(".zgroup"),
        lambda: r.setitems({"x": b"1"}),
        lambda: r.delitems(["a/0"]),
        lambda: r.rmdir("a"),
        lambda: r.rename("a", "b"),
        lambda: zarrkit.open_group(r, mode="r+").zeros("b", shape=3),
        lambda: zarrkit.open_array(r, path="a", mode="r+").__setitem__(0, 1),
    ]
    for write in writes:
        with pytest.raises(ReadOnlyError):
            write()
    assert sorted(r) == [".zgroup", "a/.zarray", "a/0", "a/1"]
    r.close()


def test_zipstore_rewrites_survive_without_close(tmp_path: Any) -> None:
    # was: rewrites and deletions, held in memory until close, were lost when the store was
    # garbage collected unclosed (zarr 2 keeps them: it appends duplicate entries)
    path = str(tmp_path / "x.zip")
    z = zarrkit.open(path, mode="w", shape=10, chunks=5, dtype="i4")
    z[:] = 1
    z[:] = 2
    z.attrs["a"] = 1
    z.attrs["a"] = 2
    del z
    gc.collect()
    with ZipStore(path, mode="r") as store:
        r = zarrkit.open_array(store, mode="r")
        np.testing.assert_array_equal(r[:], np.full(10, 2))
        assert dict(r.attrs) == {"a": 2}


def _zip_of_directory(tmp_path: Any) -> tuple[str, zarrkit.hierarchy.Group]:
    src = zarrkit.open_group(str(tmp_path / "data.zarr"), mode="w")
    src.create_group("a/b").array("x", np.arange(6), chunks=3)
    src.array("y", np.arange(3))
    archive = shutil.make_archive(str(tmp_path / "data"), "zip", str(tmp_path / "data.zarr"))
    assert any(n.endswith("/") for n in zipfile.ZipFile(archive).namelist())
    return archive, src


def test_zip_made_by_zip_tools_lists_like_the_directory(tmp_path: Any) -> None:
    # was: the archive's directory entries ('a/', 'a/b/') made '' a member of every group and
    # tree() recursed until RecursionError
    archive, src = _zip_of_directory(tmp_path)
    g = zarrkit.open_group(archive, mode="r")
    try:
        assert sorted(g) == sorted(src) == ["a", "y"]
        assert sorted(g["a"]) == ["b"]
        assert repr(g.tree()) == repr(src.tree())
        assert "a/" not in g.store and all(not k.endswith("/") for k in g.store)
        np.testing.assert_array_equal(g["a/b/x"][:], np.arange(6))
    finally:
        g.store.close()
    rw = zarrkit.open_group(archive, mode="a")
    del rw["a"]
    rw.store.close()
    g = zarrkit.open_group(archive, mode="r")
    assert sorted(g) == ["y"]
    g.store.close()


def test_zipstore_listdir_agrees_with_key_scan(tmp_path: Any) -> None:
    store = ZipStore(str(tmp_path / "l.zip"), mode="w")
    keys = ["a", "a.b", "a/b", "a/b/c", "a/bc", "a/b.c/d", "a0", "a-", "b/.zarray", "b/0.0"]
    for k in keys:
        store[k] = b"v"
    store["a/b"] = b"w"  # rewritten: overlay

    def check() -> None:
        for path in ["", "a", "a/b", "b", "a/b.c", "missing"]:
            prefix = path + "/" if path else ""
            keys = [k for k in store if k.startswith(prefix)]
            assert store.listdir(path) == sorted({k[len(prefix) :].split("/")[0] for k in keys})

    check()
    del store["a/bc"]
    assert "bc" not in store.listdir("a")
    check()
    store["a/bc"] = b"again"  # back after its deletion
    assert "bc" in store.listdir("a") and "a/bc" in list(store)
    check()
    store.rmdir("a")
    assert store.listdir("a") == []
    check()
    store.close()
    with ZipStore(str(tmp_path / "l.zip"), mode="r") as again:
        assert sorted(again) == ["a", "a-", "a.b", "a0", "b/.zarray", "b/0.0"]
        assert again.listdir() == ["a", "a-", "a.b", "a0", "b"]


# -- convenience -----------------------------------------------------------------------------


def test_load_missing_zip_creates_no_file(tmp_path: Any) -> None:
    path = str(tmp_path / "missing.zip")
    with pytest.raises((FileNotFoundError, zarrkit.errors.PathNotFoundError)):
        zarrkit.load(path)
    assert not os.path.exists(path)


def test_load_zip_opens_read_only(tmp_path: Any) -> None:
    path = str(tmp_path / "a.zip")
    zarrkit.save(path, np.arange(5))
    before = os.stat(path).st_mtime_ns, os.path.getsize(path)
    np.testing.assert_array_equal(zarrkit.load(path), np.arange(5))
    gc.collect()
    assert (os.stat(path).st_mtime_ns, os.path.getsize(path)) == before


@pytest.mark.parametrize("opener", ["open_group", "open"])
def test_open_r_plus_on_missing_zip_creates_no_file(tmp_path: Any, opener: str) -> None:
    path = str(tmp_path / "missing.zip")
    with pytest.raises((FileNotFoundError, zarrkit.errors.PathNotFoundError, KeyError)):
        getattr(zarrkit, opener)(path, mode="r+")
    gc.collect()
    assert not os.path.exists(path)


@pytest.mark.parametrize("mode", ["a", "w", "w-", "x"])
@pytest.mark.parametrize("suffix", [".zip", ".n5"])
def test_open_group_creates_zip_and_n5_in_every_creating_mode(
    tmp_path: Any, mode: str, suffix: str
) -> None:
    path = str(tmp_path / f"new{suffix}")
    g = zarrkit.open_group(path, mode=mode)
    g.zeros("z", shape=4, chunks=2, dtype="u2")[:] = 3
    g.store.close()
    r = zarrkit.open(path, mode="r")
    np.testing.assert_array_equal(r["z"][:], np.full(4, 3))
    r.store.close()
    if mode in ("w-", "x"):
        with pytest.raises(zarrkit.errors.ContainsGroupError):
            zarrkit.open_group(path, mode=mode)


@pytest.mark.parametrize("how", ["save_array", "save_group"])
def test_save_to_a_pathlib_zip_closes_the_archive(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # was: only str paths were closed (zarr 2 closes os.PathLike too); the archive stayed open
    opened: list[ZipStore] = []
    init = ZipStore.__init__

    def recording_init(self: ZipStore, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(ZipStore, "__init__", recording_init)
    path = tmp_path / "saved.zip"
    getattr(zarrkit, how)(path, np.arange(4))
    assert len(opened) == 1 and opened[0].zf.fp is None  # closed
    monkeypatch.undo()
    loaded = zarrkit.load(path)
    got = loaded if how == "save_array" else loaded["arr_0"]
    np.testing.assert_array_equal(got, np.arange(4))


@pytest.mark.parametrize("opener", ["open", "open_group"])
def test_bad_mode_is_refused_before_anything_is_created(tmp_path: Any, opener: str) -> None:
    # was: zarrkit.open('x.zip', mode='q') created x.zip, then refused the mode
    path = str(tmp_path / "x.zip")
    with pytest.raises(ValueError, match="mode"):
        getattr(zarrkit, opener)(path, mode="q")
    gc.collect()
    assert not os.path.exists(path)


def test_open_consolidated_keeps_an_empty_chunk_store() -> None:
    # was: `chunk_store or store` - an empty chunk store is falsy, so chunks were written into
    # the metadata store (and len() walked the whole chunk store)
    store: dict = {}
    chunks: dict = {}
    zarrkit.group(store, chunk_store=chunks).zeros("a", shape=4, chunks=2)
    zarrkit.consolidate_metadata(store)
    g = zarrkit.open_consolidated(store, chunk_store=chunks)
    g["a"][:] = 5
    assert sorted(chunks) == ["a/0", "a/1"]
    assert not any(k in store for k in ("a/0", "a/1"))
    np.testing.assert_array_equal(g["a"][:], np.full(4, 5))


def test_consolidated_metadata_after_path_restricted_open() -> None:
    store: dict = {}
    root = zarrkit.group(store)
    root.create_group("sub/inner").array("x", np.arange(4), chunks=2)
    root["sub"].attrs["k"] = "v"
    root.array("top", np.arange(3))
    c = zarrkit.consolidate_metadata(store, path="sub")
    assert c.path == "sub" and sorted(c) == ["inner"] and dict(c.attrs) == {"k": "v"}
    np.testing.assert_array_equal(c["/top"][:], np.arange(3))
    c["inner/x"][:] = 7  # data stay writable
    np.testing.assert_array_equal(zarrkit.group(store)["sub/inner/x"][:], np.full(4, 7))
    for write in (
        lambda: c.attrs.__setitem__("z", 1),
        lambda: c.zeros("new", shape=2),
        lambda: c.__delitem__("inner"),
        lambda: c.move("inner", "inner2"),
    ):
        with pytest.raises(ReadOnlyError):
            write()
    assert sorted(zarrkit.group(store)["sub"]) == ["inner"]
    inner = zarrkit.open_consolidated(store, path="sub/inner", mode="r")
    assert inner.read_only and sorted(inner) == ["x"]


def test_lazyloader_gives_subgroups_as_loaders() -> None:
    # was: iterating gave 'sub' but loader['sub'] raised KeyError(Ellipsis)
    store: dict = {}
    g = zarrkit.group(store)
    g.array("a", np.arange(3))
    g.create_group("sub").array("b", np.arange(2))
    loader = zarrkit.load(store)
    assert sorted(loader) == ["a", "sub"]
    got = {k: loader[k] for k in loader}
    np.testing.assert_array_equal(got["a"], np.arange(3))
    assert isinstance(got["sub"], LazyLoader)
    np.testing.assert_array_equal(got["sub"]["b"], np.arange(2))
    np.testing.assert_array_equal(loader["sub/b"], np.arange(2))
    with pytest.raises(KeyError):
        loader["missing"]


# -- copy ------------------------------------------------------------------------------------


def test_copy_group_with_members_named_shape_and_dtype() -> None:
    # was: hasattr(group, 'shape') is True through member access, so the group was copied
    # as if it were an array and failed with AttributeError
    src = zarrkit.group()
    meta = src.create_group("meta")
    meta.array("shape", np.array([3, 4]))
    meta.array("dtype", np.array([1]))
    dst = zarrkit.group()
    assert zarrkit.copy(src["meta"], dst) == (3, 0, 24)
    np.testing.assert_array_equal(dst["meta/shape"][:], [3, 4])
    dst2 = zarrkit.group()
    zarrkit.copy_all(src, dst2)
    assert sorted(dst2["meta"]) == ["dtype", "shape"]


@pytest.mark.parametrize("how", ["copy_group", "copy_array", "copy_all"])
def test_copy_replace_onto_itself_keeps_the_data(how: str) -> None:
    # was: the destination (the source itself) was deleted, then "copied" from: all fill value
    g = zarrkit.group()
    g.array("a/x", np.arange(5), chunks=2)
    with pytest.raises(CopyError):
        if how == "copy_group":
            zarrkit.copy(g["a"], g, if_exists="replace")
        elif how == "copy_array":
            zarrkit.copy(g["a/x"], g["a"], if_exists="replace")
        else:
            zarrkit.copy_all(g, g, if_exists="replace")
    np.testing.assert_array_equal(g["a/x"][:], np.arange(5))


def test_copy_replace_onto_itself_through_a_second_handle(tmp_path: Any) -> None:
    path = str(tmp_path / "d.zarr")
    g = zarrkit.open_group(path, mode="w")
    g.array("x", np.arange(5))
    other = zarrkit.open_group(path, mode="a")
    with pytest.raises(CopyError):
        zarrkit.copy(g["x"], other, if_exists="replace")
    np.testing.assert_array_equal(other["x"][:], np.arange(5))


def test_copy_replace_between_equal_memory_stores_still_copies() -> None:
    a, b = zarrkit.group(), zarrkit.group()
    a.array("x", np.arange(4))
    b.array("x", np.arange(4))  # same content, different store
    assert zarrkit.copy(a["x"], b, if_exists="replace")[0] == 1
    np.testing.assert_array_equal(b["x"][:], np.arange(4))


def test_copy_edge_cases_empty_groups_and_scalars() -> None:
    src = zarrkit.group()
    src.create_group("empty").attrs["a"] = [1, 2]
    src.create_group("e2/e3")
    src.array("scalar", np.array(3.5))
    src.zeros("nothing", shape=(0, 5), chunks=(2, 2))
    src.attrs["top"] = {"nested": [1, None, "x"]}
    dst = zarrkit.group()
    n_copied, n_skipped, _ = zarrkit.copy_all(src, dst)
    assert (n_copied, n_skipped) == (5, 0)
    assert repr(dst.tree()) == repr(src.tree())
    assert dst["scalar"][()] == 3.5 and dst["nothing"].shape == (0, 5)
    assert dict(dst["empty"].attrs) == {"a": [1, 2]} and dict(dst.attrs) == dict(src.attrs)
    # a written 0-d array is fully initialised: skipped by 'skip_initialized'
    assert zarrkit.copy(src["scalar"], dst, if_exists="skip_initialized")[1] == 1


@pytest.mark.parametrize("bad", [1 + 2j, np.array([1j, 2])], ids=["complex", "array"])
@pytest.mark.parametrize("how", ["copy", "copy_all"])
def test_copy_from_hdf5_with_an_attribute_json_cannot_hold_copies_nothing(
    tmp_path: Any, bad: Any, how: str
) -> None:
    # was: the groups and arrays before the attribute were written, then a bare
    # "Object of type complex is not JSON serializable" left a partial copy behind
    h5py = pytest.importorskip("h5py")
    with h5py.File(str(tmp_path / "s.h5"), "w") as f:
        g = f.create_group("g")
        g.attrs["fine"] = np.arange(3)
        g.create_dataset("a", data=np.arange(4))
        g.create_dataset("b", data=np.arange(4)).attrs["bad"] = bad
        dst = zarrkit.group()
        with pytest.raises(TypeError, match="'bad' of /g/b"):
            if how == "copy":
                zarrkit.copy(g, dst)
            else:
                zarrkit.copy_all(f, dst)
        assert list(dst) == [] and dict(dst.attrs) == {}
        del g["b"].attrs["bad"]
        zarrkit.copy(g, dst)
        assert dict(dst["g"].attrs) == {"fine": [0, 1, 2]}
        assert sorted(dst["g"]) == ["a", "b"]


# -- LRUStoreCache ---------------------------------------------------------------------------


class _GatedStore(MemoryStore):
    """Writes of ``slow`` values land in the store, then wait for ``gate`` before returning."""

    def __init__(self, slow: bytes) -> None:
        super().__init__()
        self.slow = slow
        self.gate = threading.Event()
        self.landed = threading.Event()

    def setitems(self, values: Any) -> None:
        super().setitems(values)
        if self.slow in values.values():
            self.landed.set()
            assert self.gate.wait(10)


def test_lru_cache_agrees_with_store_after_racing_writers() -> None:
    # was: writer A's value reached the store first and writer B's second, but A updated the
    # cache last, so the cache served A's value forever while the store held B's
    inner = _GatedStore(slow=b"first")
    cache = LRUStoreCache(inner, max_size=2**20)
    t = threading.Thread(target=cache.__setitem__, args=("k", b"first"))
    t.start()
    assert inner.landed.wait(10)
    cache["k"] = b"second"  # lands in the store after b'first'
    inner.gate.set()
    t.join(10)
    assert inner["k"] == b"second"
    assert cache["k"] == inner["k"]


def test_lru_cache_agrees_with_store_after_write_racing_delete() -> None:
    inner = _GatedStore(slow=b"first")
    cache = LRUStoreCache(inner, max_size=2**20)
    t = threading.Thread(target=cache.__setitem__, args=("k", b"first"))
    t.start()
    assert inner.landed.wait(10)
    del cache["k"]
    inner.gate.set()
    t.join(10)
    assert "k" not in inner
    assert ("k" in cache) is False
    with pytest.raises(KeyError):
        cache["k"]


class _FailingStore(MemoryStore):
    def setitems(self, values: Any) -> None:
        items = list(values.items())
        super().setitems(dict(items[:1]))  # the first value lands, then the write fails
        raise OSError("disk full")


def test_lru_cache_drops_values_of_a_failed_write() -> None:
    inner = _FailingStore()
    MemoryStore.setitems(inner, {"a": b"old", "b": b"old"})
    cache = LRUStoreCache(inner, max_size=2**20)
    assert cache.getitems(["a", "b"]) == {"a": b"old", "b": b"old"}
    with pytest.raises(OSError):
        cache.setitems({"a": b"new", "b": b"new"})
    assert cache["a"] == inner["a"] == b"new"
    assert cache["b"] == inner["b"] == b"old"


def test_lru_cache_concurrent_writers_and_readers_end_consistent() -> None:
    inner = MemoryStore()
    cache = LRUStoreCache(inner, max_size=2**16)
    keys = [f"k{i}" for i in range(8)]

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(300):
            k = keys[rng.integers(len(keys))]
            op = rng.integers(4)
            if op == 0:
                cache[k] = bytes([seed]) * int(rng.integers(1, 64))
            elif op == 1:
                cache.delitems([k])
            else:
                try:
                    cache[k]
                except KeyError:
                    pass

    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in keys:
        assert (k in cache) == (k in inner)
        if k in inner:
            assert cache[k] == inner[k]
    assert sorted(cache) == sorted(inner)


def test_lru_keys_cannot_be_corrupted_by_callers() -> None:
    cache = LRUStoreCache(MemoryStore(), max_size=None)
    cache["a"] = b"1"
    listing = cache.keys()
    if isinstance(listing, list):
        listing.append("ghost")
    assert list(cache) == ["a"] and "ghost" not in cache


# -- SQLiteStore -----------------------------------------------------------------------------


def test_sqlite_store_from_many_threads(tmp_path: Any) -> None:
    store = SQLiteStore(str(tmp_path / "t.sqldb"))
    z = zarrkit.zeros((80, 40), chunks=(10, 10), dtype="i4", store=store)
    errors: list = []

    def work(i: int) -> None:
        try:
            z[i * 10 : (i + 1) * 10, :] = i
            assert int(z[i * 10 : (i + 1) * 10, :].sum()) == i * 400
            store[f"extra/{i}"] = bytes([i]) * 10
            if i % 3 == 0:
                store.close()  # closing while others work: the connection reopens lazily
            assert store[f"extra/{i}"] == bytes([i]) * 10
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    np.testing.assert_array_equal(z[:], np.repeat(np.arange(8), 10)[:, None] * np.ones(40))
    store.close()


# -- tree ------------------------------------------------------------------------------------


class _CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.read: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.read.append(key)
        return super().__getitem__(key)

    def getitems(self, keys: Any, *, contexts: Any = None) -> dict:
        keys = list(keys)
        self.read.extend(keys)
        return super().getitems(keys, contexts=contexts)


def test_tree_reads_metadata_only() -> None:
    store = _CountingStore()
    g = zarrkit.group(store)
    for i in range(5):
        for j in range(4):
            g.array(f"g{i}/a{j}", np.arange(20), chunks=2)
    deep = "/".join(f"l{i}" for i in range(50))
    g.create_group(deep).zeros("leaf", shape=3)
    store.read.clear()
    text = repr(g.tree())
    html = g.tree(expand=True)._repr_html_()
    assert "leaf (3,) float64" in text and "leaf" in html
    assert store.read and all(k.rsplit("/", 1)[-1].startswith(".z") for k in store.read)


def test_tree_on_zip_with_many_chunks_lists_each_group_cheaply(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ZipStore(str(tmp_path / "many.zip"), mode="w")
    g = zarrkit.group(store)
    for i in range(30):
        g.zeros(f"g{i}/a", shape=(300,), chunks=(1,), dtype="u1", compressor=None)[:] = 1
    listed: list[int] = []
    scan = ZipStore.__iter__

    def counting_iter(self: ZipStore) -> Iterator[str]:
        listed.append(1)
        return scan(self)

    monkeypatch.setattr(ZipStore, "__iter__", counting_iter)
    text = repr(g.tree())
    monkeypatch.undo()
    assert text.count("(300,) uint8") == 30
    assert listed == []  # listdir answered without a full key scan per group
    store.close()
