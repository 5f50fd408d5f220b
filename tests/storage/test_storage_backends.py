"""DBMStore, LMDBStore, LRUStoreCache and SQLiteStore: arrays and groups through each, then what
is particular to each of them. What every store must do is zarrkit.testing's conformance
suite (test_store_conformance.py runs it against these stores too)."""

from __future__ import annotations

import dbm.dumb
import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import zarr

import zarrkit
from conftest import needs_zarr2, posix_only
from zarrkit.errors import ReadOnlyError
from zarrkit.storage import DBMStore, LMDBStore, LRUStoreCache, MemoryStore, SQLiteStore

BACKENDS = ["dbm", "lmdb", "lru", "sqlite"]


def make_backend(kind: str, folder: str) -> Any:
    if kind == "dbm":
        return DBMStore(os.path.join(folder, "store.db"), open=dbm.dumb.open)
    if kind == "lmdb":
        return LMDBStore(os.path.join(folder, "store.lmdb"), map_size=2**26)
    if kind == "lru":
        return LRUStoreCache(MemoryStore(), max_size=2**16)
    if kind == "sqlite":
        return SQLiteStore(os.path.join(folder, "store.sqldb"))
    raise ValueError(kind)


@pytest.fixture(params=BACKENDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def new_store(store_kind: str, tmp_path: Any) -> Iterator[Callable[[], Any]]:
    made: list[Any] = []
    counter = iter(range(10**6))

    def factory() -> Any:
        folder = tmp_path / f"s{next(counter)}"
        folder.mkdir()
        store = make_backend(store_kind, str(folder))
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()


# -- every backend -------------------------------------------------------------------------


def test_array_and_group_round_trip(new_store: Callable[[], Any]) -> None:
    store = new_store()
    root = zarrkit.group(store=store)
    data = np.arange(1000, dtype="<f8").reshape(25, 40)
    z = root.create_dataset("g/arr", data=data, chunks=(7, 9))
    z[3:20, 5:11] = -1
    data[3:20, 5:11] = -1
    z.attrs["unit"] = "m"
    strings = root.array("s", np.array(["a", "bb", "ccc"]), chunks=2)
    again = zarrkit.open_group(store, mode="r")
    np.testing.assert_array_equal(again["g/arr"][:], data)
    assert again["g/arr"].attrs["unit"] == "m"
    assert list(again["s"][:]) == list(strings[:])
    assert sorted(again.group_keys()) == ["g"]
    assert again["g/arr"].nchunks_initialized == z.nchunks == 20
    del root["g"]
    assert list(zarrkit.open_group(store, mode="r")) == ["s"]


@pytest.mark.parametrize("store_kind", ["dbm", "lmdb", "sqlite"])
def test_data_survives_close_and_reopen(new_store: Callable[[], Any]) -> None:
    store = new_store()
    z = zarrkit.zeros((10, 10), chunks=(3, 3), dtype="i4", store=store)
    z[:] = 42
    store.close()
    reopened = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(zarrkit.open_array(reopened, mode="r")[:], np.full((10, 10), 42))
    reopened.close()
    # a closed store opens again on its next use
    assert store["0.0"] == reopened["0.0"]


# -- DBMStore ------------------------------------------------------------------------------


def test_dbm_keys_and_values_are_bytes(tmp_path: Any) -> None:
    path = str(tmp_path / "x.db")
    with DBMStore(path, open=dbm.dumb.open) as store:
        store["foo/.zgroup"] = b"{}"
        store["foo/0.0"] = np.arange(3, dtype="u1")
    db = dbm.dumb.open(path, "r")
    try:
        assert sorted(db.keys()) == [b"foo/.zgroup", b"foo/0.0"]
        assert db[b"foo/0.0"] == b"\x00\x01\x02"
    finally:
        db.close()


def test_dbm_default_open_and_flags(tmp_path: Any) -> None:
    path = str(tmp_path / "default.db")
    store = DBMStore(path)  # dbm.open picks the best module this Python has
    assert store.open is __import__("dbm").open
    store["a"] = b"1"
    store.close()
    ro = DBMStore(path, flag="r")
    assert ro["a"] == b"1" and ro.read_only
    with pytest.raises(ReadOnlyError):
        ro["b"] = b"2"
    ro.close()
    fresh = DBMStore(path, flag="n")
    assert len(fresh) == 0
    fresh["c"] = b"3"
    again = pickle.loads(pickle.dumps(fresh))  # reopening must not empty it a second time
    assert again["c"] == b"3"
    again.close()
    fresh.close()


def test_dbm_shares_one_handle_per_process(tmp_path: Any) -> None:
    # two stores of one dbm.dumb file in a process must not overwrite each other's index
    path = str(tmp_path / "shared.db")
    a = DBMStore(path, open=dbm.dumb.open)
    b = DBMStore(path, open=dbm.dumb.open)
    a["x"] = b"1"
    b["y"] = b"2"
    a.close()
    b.close()
    c = DBMStore(path, open=dbm.dumb.open, flag="r")
    assert sorted(c) == ["x", "y"]
    c.close()


def test_dbm_writes_reach_the_disk_without_close(tmp_path: Any) -> None:
    path = str(tmp_path / "unclosed.db")
    code = (
        "import dbm.dumb, zarrkit\n"
        f"s = zarrkit.DBMStore({path!r}, open=dbm.dumb.open)\n"
        "z = zarrkit.zeros(1000, chunks=500, dtype='u8', store=s)\n"
        "z[:] = 0\n"
        "z[:] = range(1000)  # larger values: dbm.dumb moves them, its index must be saved\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    store = DBMStore(path, open=dbm.dumb.open, flag="r")
    np.testing.assert_array_equal(zarrkit.open_array(store, mode="r")[:], np.arange(1000))
    store.close()


def _write_in_child(store: DBMStore, queue: Any) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store["from-child"] = b"1"
        store.close()
    queue.put([str(w.message) for w in caught if w.category is RuntimeWarning])


@posix_only
def test_dbm_warns_about_a_second_writing_process(tmp_path: Any) -> None:
    store = DBMStore(str(tmp_path / "mp.db"), open=dbm.dumb.open)
    store["parent"] = b"0"
    store.flush()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_write_in_child, args=(store, queue))
    proc.start()
    messages = queue.get(timeout=30)
    proc.join(30)
    assert proc.exitcode == 0
    assert any("not safe for concurrent writers" in m for m in messages)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store["parent-again"] = b"1"  # the creating process writes without a warning
    store.close()


def test_dbm_tutorial_example(tmp_path: Any) -> None:
    store = DBMStore(str(tmp_path / "example.db"), open=dbm.dumb.open)
    root = zarrkit.group(store=store, overwrite=True)
    z = root.zeros("foo/bar", shape=(1000, 1000), chunks=(100, 100), dtype="i4")
    z[:] = 42
    store.close()
    root = zarrkit.open_group(DBMStore(str(tmp_path / "example.db"), open=dbm.dumb.open), "r")
    assert root["foo/bar"][:].sum() == 42 * 10**6


# -- LMDBStore -----------------------------------------------------------------------------


class _CountingEnv:
    """An LMDB environment that counts its transactions."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.begins = 0

    def begin(self, *args: Any, **kwargs: Any) -> Any:
        self.begins += 1
        return self.env.begin(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


def test_lmdb_batches_use_one_transaction(tmp_path: Any, monkeypatch: Any) -> None:
    store = LMDBStore(str(tmp_path / "x.lmdb"), map_size=2**24)
    counting = _CountingEnv(store.env)
    monkeypatch.setattr(LMDBStore, "env", property(lambda self: counting))
    store.setitems({f"k{i}": bytes([i]) for i in range(50)})
    assert counting.begins == 1
    got = store.getitems([f"k{i}" for i in range(60)])
    assert counting.begins == 2 and len(got) == 50 and got["k7"] == b"\x07"
    store.delitems([f"k{i}" for i in range(10)])
    assert counting.begins == 3 and len(store) == 40
    monkeypatch.undo()
    store.close()


def test_lmdb_pickles_to_parameters_and_opens_lazily(tmp_path: Any) -> None:
    store = LMDBStore(str(tmp_path / "x.lmdb"), map_size=2**24)
    store["a"] = b"1"
    copy = pickle.loads(pickle.dumps(store))
    assert not copy._env.is_open  # nothing opened until it is used
    assert copy.kwargs["map_size"] == 2**24 and copy == store
    assert copy["a"] == b"1"
    copy["b"] = b"2"
    assert store["b"] == b"2"  # one environment per path in a process
    copy.close()
    assert store["a"] == b"1"  # still open for the other store
    store.close()


def _lmdb_child(store: LMDBStore, queue: Any) -> None:
    store["child"] = store["parent"] + b"!"
    store.close()
    queue.put(True)


@posix_only
def test_lmdb_in_a_forked_process(tmp_path: Any) -> None:
    store = LMDBStore(str(tmp_path / "mp.lmdb"), map_size=2**24)
    store["parent"] = b"p"
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_lmdb_child, args=(store, queue))
    proc.start()
    assert queue.get(timeout=30)
    proc.join(30)
    assert proc.exitcode == 0
    assert store["child"] == b"p!"
    store.close()


def test_lmdb_read_only(tmp_path: Any) -> None:
    path = str(tmp_path / "ro.lmdb")
    w = LMDBStore(path, map_size=2**24)
    w["a"] = b"1"
    w.close()
    ro = LMDBStore(path, readonly=True)
    assert ro["a"] == b"1" and ro.read_only
    with pytest.raises(ReadOnlyError):
        ro["b"] = b"2"
    ro.close()


def test_lmdb_missing_package_names_the_extra(monkeypatch: Any, tmp_path: Any) -> None:
    monkeypatch.setitem(sys.modules, "lmdb", None)
    with pytest.raises(ImportError, match=r"zarrkit\[lmdb\]"):
        LMDBStore(str(tmp_path / "x.lmdb"))


# -- LRUStoreCache -------------------------------------------------------------------------


class SpyStore(MemoryStore):
    """A MemoryStore that records the calls it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    def __getitem__(self, key: str) -> Any:
        self.calls.append(("get", key))
        return super().__getitem__(key)

    def getitems(self, keys: Any, *, contexts: Any = None) -> dict:
        keys = list(keys)
        self.calls.append(("getitems", keys))
        return super().getitems(keys)

    def __contains__(self, key: object) -> bool:
        self.calls.append(("contains", key))
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.calls.append(("iter", None))
        return super().__iter__()

    def listdir(self, path: str = "") -> list[str]:
        self.calls.append(("listdir", path))
        return super().listdir(path)


def test_lru_counts_hits_and_misses() -> None:
    inner = SpyStore()
    inner.setitems({"a": b"1", "b": b"22"})
    cache = LRUStoreCache(inner, max_size=None)
    assert cache["a"] == b"1" and (cache.hits, cache.misses) == (0, 1)
    assert cache["a"] == b"1" and (cache.hits, cache.misses) == (1, 1)
    assert [c for c in inner.calls if c[0] == "get"] == [("get", "a")]
    with pytest.raises(KeyError):
        cache["missing"]
    assert cache.misses == 2


def test_lru_getitems_fetches_only_the_misses_in_one_call() -> None:
    inner = SpyStore()
    inner.setitems({f"k{i}": bytes([i]) * 10 for i in range(10)})
    cache = LRUStoreCache(inner, max_size=None)
    cache.getitems(["k1", "k2"])
    inner.calls.clear()
    got = cache.getitems(["k1", "k2", "k3", "k4", "absent"])
    assert inner.calls == [("getitems", ["k3", "k4", "absent"])]
    assert sorted(got) == ["k1", "k2", "k3", "k4"] and got["k4"] == b"\x04" * 10
    assert (cache.hits, cache.misses) == (2, 5)


def test_lru_evicts_least_recently_used() -> None:
    inner = MemoryStore()
    inner.setitems({k: k.encode() * 10 for k in "abcde"})  # 10 bytes each
    cache = LRUStoreCache(inner, max_size=30)
    for k in "abc":
        cache[k]
    cache["a"]  # now 'b' is the least recently used
    cache["d"]
    assert list(cache._values) == ["c", "a", "d"] and cache._current_size == 30
    inner["big"] = b"x" * 31  # larger than the whole cache: never cached
    assert cache["big"] == b"x" * 31 and "big" not in cache._values
    assert cache._current_size == 30


def test_lru_writes_go_through_and_update_the_cache() -> None:
    inner = SpyStore()
    cache = LRUStoreCache(inner, max_size=2**10)
    cache["a/x"] = b"1"
    assert inner._data["a/x"] == b"1"
    assert sorted(cache) == ["a/x"] and cache.listdir("a") == ["x"]
    cache.setitems({"a/y": b"2", "b": bytearray(b"3")})
    assert sorted(cache) == ["a/x", "a/y", "b"] and cache.listdir("a") == ["x", "y"]
    assert cache["b"] == b"3"
    del cache["a/x"]
    assert "a/x" not in cache and "a/x" not in inner._data
    cache.delitems(["a/y", "absent"])
    assert sorted(cache) == ["b"]
    cache.rmdir("")
    assert len(cache) == 0 and cache.getitems(["b"]) == {}


def test_lru_caches_listings_until_invalidated() -> None:
    inner = SpyStore()
    inner.setitems({"g/.zgroup": b"{}", "g/a/.zarray": b"{}"})
    cache = LRUStoreCache(inner, max_size=2**10)
    calls_after_first_round = 0
    for round_ in range(3):
        assert sorted(cache) == ["g/.zgroup", "g/a/.zarray"]
        assert cache.listdir("g") == [".zgroup", "a"]
        assert "g/.zgroup" in cache
        if round_ == 0:
            calls_after_first_round = len(inner.calls)
    assert len(inner.calls) == calls_after_first_round  # later rounds asked nothing
    inner["g/b/.zgroup"] = b"{}"  # written behind the cache's back
    assert cache.listdir("g") == [".zgroup", "a"]
    cache.invalidate_keys()
    assert cache.listdir("g") == [".zgroup", "a", "b"]
    assert cache["g/.zgroup"] == b"{}"
    inner["g/.zgroup"] = b"changed"
    assert cache["g/.zgroup"] == b"{}"
    cache.invalidate_values()
    assert cache["g/.zgroup"] == b"changed"
    cache.invalidate()
    assert cache._current_size == 0 and cache._keys is None


def test_lru_values_stay_stale_until_invalidated() -> None:
    inner = MemoryStore()
    inner["k"] = b"old"
    cache = LRUStoreCache(inner, max_size=2**10)
    assert cache["k"] == b"old"
    inner["k"] = b"new"
    assert cache["k"] == b"old"  # documented: others' writes are not seen
    cache.invalidate()
    assert cache["k"] == b"new"


def test_lru_under_threads() -> None:
    inner = MemoryStore()
    inner.setitems({f"k{i}": bytes([i % 256]) * 100 for i in range(200)})
    cache = LRUStoreCache(inner, max_size=5000)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(500):
                i = int(rng.integers(200))
                key = f"k{i}"
                if rng.random() < 0.1:
                    cache[key] = bytes([i % 256]) * 100
                elif rng.random() < 0.5:
                    assert cache[key] == bytes([i % 256]) * 100
                else:
                    got = cache.getitems([key, f"k{(i + 1) % 200}"])
                    assert got[key] == bytes([i % 256]) * 100
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert cache._current_size == sum(len(v) for v in cache._values.values()) <= 5000
    assert cache.hits + cache.misses > 0


def test_lru_array_reads_hit_the_cache() -> None:
    inner = SpyStore()
    zarrkit.array(np.arange(100), chunks=10, store=inner)
    cache = LRUStoreCache(inner, max_size=2**20)
    cached = zarrkit.open_array(cache, mode="r")
    np.testing.assert_array_equal(cached[:], np.arange(100))
    inner.calls.clear()
    np.testing.assert_array_equal(cached[:], np.arange(100))
    assert not [c for c in inner.calls if c[0] in ("get", "getitems")]
    assert cache.hits >= 10


def test_lru_pickles_its_store_not_its_cache() -> None:
    cache = LRUStoreCache(MemoryStore(), max_size=100)
    cache["a"] = b"1"
    copy = pickle.loads(pickle.dumps(cache))
    assert copy["a"] == b"1" and copy._max_size == 100
    assert (copy.hits, copy.misses) == (0, 1)


# -- interop with zarr 2's stores ----------------------------------------------------------


@needs_zarr2
@pytest.mark.parametrize("kind", ["dbm", "lmdb"])
def test_zarr2_reads_and_writes_the_same_files(kind: str, tmp_path: Any) -> None:
    path = str(tmp_path / f"x.{kind}")
    ours = DBMStore(path, open=dbm.dumb.open) if kind == "dbm" else LMDBStore(path, map_size=2**24)
    data = np.arange(60, dtype="<i2").reshape(6, 10)
    zarrkit.array(data, chunks=(4, 4), store=ours, path="a")
    ours.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # zarr 2.18 deprecates these stores
        ref_store = (
            zarr.DBMStore(path, open=dbm.dumb.open) if kind == "dbm" else zarr.LMDBStore(path)
        )
        ref = zarr.open_array(ref_store, path="a", mode="r+")
        np.testing.assert_array_equal(ref[:], data)
        ref[0, :] = -7
        data[0, :] = -7
        ref_store.close()
    again = DBMStore(path, open=dbm.dumb.open) if kind == "dbm" else LMDBStore(path)
    np.testing.assert_array_equal(zarrkit.open_array(again, path="a", mode="r")[:], data)
    again.close()
