"""RedisStore, MongoDBStore and ABSStore against real servers (and DBMStore on Berkeley DB).

The servers are started by the session fixtures of conftest.py: Redis (redis-server), Azure
Blob Storage (Azurite) and, for MongoDB, the nx-27017 wire-protocol emulator (plus a real
MongoDB server when ZARRKIT_TEST_MONGODB_URL is set). Arrays cross to and from real
zarr-python 2.18 on the same server in the zarr 2 environment run.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import zarr
from numcodecs import Zlib

import servers
import zarrkit
from conftest import needs_zarr2
from zarrkit.storage import ABSStore, DBMStore, MongoDBStore, RedisStore

_names = (f"t{os.getpid()}x{i}" for i in itertools.count())

# "mongodb" is the nx-27017 emulator; "mongodb-server" a real server (ZARRKIT_TEST_MONGODB_URL)
KINDS = ["redis", "mongodb", "mongodb-server", "abs"]


def _container_client(azurite: Any, retry: bool = True) -> Any:
    blob = pytest.importorskip("azure.storage.blob")
    from azure.core.exceptions import ResourceExistsError

    service = blob.BlobServiceClient.from_connection_string(
        azurite.azure_connection_string, **({} if retry else {"retry_total": 0})
    )
    try:
        return service.create_container("zarrkit")
    except ResourceExistsError:
        return service.get_container_client("zarrkit")


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def _mongodb_url(kind: str, request: pytest.FixtureRequest) -> str:
    if kind == "mongodb-server":
        return request.getfixturevalue("mongodb_server_url")
    return request.getfixturevalue("mongodb_emulator").url


@pytest.fixture
def new_server_store(kind: str, request: pytest.FixtureRequest) -> Callable[..., Any]:
    """A factory of empty stores of ``kind``, each in its own namespace on the server."""
    made: list[Any] = []

    def factory() -> Any:
        name = next(_names)
        if kind == "redis":
            pytest.importorskip("redis")
            server = request.getfixturevalue("redis_server")
            store = RedisStore(prefix=name, host=servers.HOST, port=server.port)
        elif kind.startswith("mongodb"):
            pytest.importorskip("pymongo")
            url = _mongodb_url(kind, request)
            store = MongoDBStore(database="zarrkit", collection=name, host=url)
        else:
            client = _container_client(request.getfixturevalue("azurite_server"))
            store = ABSStore(client=client, prefix=name)
        made.append(store)
        return store

    yield factory
    for store in made:
        store.clear()
        store.close()


# -- the store protocol ----------------------------------------------------------------------
def test_get_set_delete(new_server_store):
    store = new_server_store()
    assert "a" not in store
    with pytest.raises(KeyError):
        store["a"]
    store["a"] = b"1"
    store["b/c"] = np.arange(3, dtype="u1")  # any buffer
    assert store["a"] == b"1" and store["b/c"] == b"\x00\x01\x02"
    assert "a" in store and "b" not in store and 1 not in store
    del store["a"]
    assert "a" not in store
    with pytest.raises(KeyError):
        del store["a"]
    with pytest.raises(TypeError):
        store["x"] = [1, 2]
    assert store.pop("b/c") == b"\x00\x01\x02" and len(store) == 0


def test_batches(new_server_store):
    store = new_server_store()
    values = {f"x/{i}": bytes([i]) * (i + 1) for i in range(40)}
    store.setitems(values)
    got = store.getitems([*values, "x/missing", "nothere"])
    assert got == values
    store.delitems(["x/0", "x/1", "x/missing"])
    assert sorted(store) == sorted(set(values) - {"x/0", "x/1"})
    assert store.getitems([]) == {}


def test_listing_and_sizes(new_server_store):
    store = new_server_store()
    store.setitems({"a": b"aaa", "b": b"bb", "c/d": b"d", "c/e/f": b"ff", "c/e/g": b"g"})
    assert sorted(store.keys()) == ["a", "b", "c/d", "c/e/f", "c/e/g"] and len(store) == 5
    assert store.listdir() == ["a", "b", "c"] and store.listdir("c") == ["d", "e"]
    assert sorted(store.keys_under("c/e")) == ["f", "g"]
    assert store.getsize() == 5 and store.getsize("c") == 1 and store.getsize("c/e/f") == 2
    assert store.size_below() == 9 and store.size_below("c") == 4
    assert store.getsize("nothing") == 0
    store.rmdir("c/e")
    assert sorted(store) == ["a", "b", "c/d"]
    store.rmdir()
    assert len(store) == 0


def test_stores_of_one_server_do_not_see_each_other(new_server_store):
    one, two = new_server_store(), new_server_store()
    one["k"] = b"1"
    two["k"] = b"2"
    two.clear()
    assert dict(one) == {"k": b"1"} and len(two) == 0


def test_keys_with_pattern_characters(new_server_store):
    store = new_server_store()
    store.setitems({"a*/[b]?": b"1", "a/x": b"2", "a*x": b"3"})
    assert store.keys_under("a*") == ["[b]?"]
    assert store.listdir("a") == ["x"]


def test_pickles_to_its_arguments_and_reconnects(new_server_store):
    store = new_server_store()
    store["foo"] = b"bar"
    dump = pickle.dumps(store)
    store.close()
    assert pickle.dumps(store) == dump  # the state is the arguments, not a connection
    assert b"Connection" not in dump and b"socket" not in dump
    assert store["foo"] == b"bar"  # reconnects after close
    again = pickle.loads(dump)
    assert again == store and again["foo"] == b"bar"
    again.close()


def _write_in_child(store: Any, value: int) -> None:
    store[f"child/{value}"] = bytes([value])
    store.close()


def test_used_from_other_processes(new_server_store):
    store = new_server_store()
    store["parent"] = b"p"  # the parent's client exists before the children start
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_in_child, args=(store, i)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert store.getitems(["child/0", "child/1"]) == {"child/0": b"\x00", "child/1": b"\x01"}


def test_arrays_and_groups(new_server_store):
    store = new_server_store()
    root = zarrkit.group(store=store)
    a = root.zeros("foo/bar", shape=(30, 20), chunks=(7, 6), dtype="i4")
    a[:] = np.arange(600).reshape(30, 20)
    root.attrs["title"] = "t"
    again = zarrkit.open_group(pickle.loads(pickle.dumps(store)), mode="r")
    assert again.attrs["title"] == "t"
    np.testing.assert_array_equal(again["foo/bar"][:], np.arange(600).reshape(30, 20))
    assert again["foo/bar"].nchunks_initialized == 20
    assert a.nbytes_stored == store.size_below("foo/bar") > 0


# -- missing means missing ---------------------------------------------------------------
def _dead_store(kind: str, azurite: Any = None) -> Any:
    port = servers.free_port()  # nothing listens there
    if kind == "redis":
        redis = pytest.importorskip("redis")
        from redis.backoff import NoBackoff

        no_retry = redis.retry.Retry(NoBackoff(), 0)
        return RedisStore(prefix="dead", host=servers.HOST, port=port, retry=no_retry)
    if kind.startswith("mongodb"):
        pytest.importorskip("pymongo")
        url = f"mongodb://{servers.HOST}:{port}"
        return MongoDBStore(host=url, serverSelectionTimeoutMS=300, connectTimeoutMS=300)
    blob = pytest.importorskip("azure.storage.blob")
    conn = servers.Server("azurite", port).azure_connection_string
    client = blob.ContainerClient.from_connection_string(conn, "dead", retry_total=0)
    return ABSStore(client=client)


@pytest.mark.parametrize("kind", ["redis", "mongodb", "abs"])
def test_errors_other_than_not_found_raise_naming_store_and_key(kind):
    store = _dead_store(kind)
    for call in (
        lambda: store["chunk/0.0"],
        lambda: store.getitems(["chunk/0.0"]),
        lambda: "chunk/0.0" in store,
    ):
        with pytest.raises(Exception) as info:
            call()
        assert not isinstance(info.value, KeyError)
        assert "chunk/0.0" in str(info.value) and type(store).__name__ in str(info.value)
    with pytest.raises(Exception, match="chunk/0.0") as info:
        store["chunk/0.0"] = b"x"
    assert not isinstance(info.value, KeyError)


def test_an_unreachable_server_is_not_a_missing_chunk(new_server_store, kind):
    store = new_server_store()
    z = zarrkit.full(10, 7, chunks=5, store=store)
    z[:] = 1
    meta = {k: store[k] for k in store}
    dead = _dead_store(kind)
    # the array's metadata is readable, its chunks are on a server that does not answer
    dead_z = zarrkit.Array(zarrkit.storage.KVStore(_MetaOnly(meta, dead)), read_only=True)
    with pytest.raises(Exception) as info:
        dead_z[:]
    assert not isinstance(info.value, KeyError)


class _MetaOnly(zarrkit.storage.Store):
    """Metadata from a dict, everything else from ``store``."""

    def __init__(self, meta: dict, store: Any) -> None:
        self.meta, self.store = meta, store

    def __getitem__(self, key: str) -> Any:
        return self.meta[key] if key.startswith(".z") else self.store[key]

    def getitems(self, keys: Any, *, contexts: Any = None) -> dict:
        return self.store.getitems(list(keys))

    def __contains__(self, key: object) -> bool:
        return key in self.meta

    def __setitem__(self, key: str, value: Any) -> None:
        raise NotImplementedError

    def __delitem__(self, key: str) -> None:
        raise NotImplementedError

    def __iter__(self) -> Any:
        return iter(self.meta)

    def __len__(self) -> int:
        return len(self.meta)


def test_mongodb_document_without_a_value_is_an_error(mongodb_emulator):
    pytest.importorskip("pymongo")
    store = MongoDBStore(database="zarrkit", collection=next(_names), host=mongodb_emulator.url)
    try:
        store.collection.insert_one({"key": "chunk/0", "other": 1})
        for read in (lambda: store["chunk/0"], lambda: store.getitems(["chunk/0"])):
            with pytest.raises(ValueError, match="chunk/0"):
                read()
    finally:
        store.clear()
        store.close()


# -- zarr 2's arguments ----------------------------------------------------------------------
def test_redis_refuses_text_responses():
    pytest.importorskip("redis")
    with pytest.raises(ValueError, match="decode_responses"):
        RedisStore(decode_responses=True)


def test_abs_legacy_arguments_warn_as_zarr2_did():
    pytest.importorskip("azure.storage.blob")
    with pytest.warns(FutureWarning, match="Providing"):
        store = ABSStore("container", account_name="account", account_key="a2V5")
    with pytest.warns(FutureWarning, match="container"):
        assert store.container == "container"
    again = pickle.loads(pickle.dumps(store))  # to its arguments: no client is made
    assert not again._handle.is_open and again == store


def test_abs_given_client_is_used_here_and_left_open(azurite_server):
    client = _container_client(azurite_server)
    closed: list[Any] = []
    client.close = lambda: closed.append(client)  # the user's: never closed by the store
    store = ABSStore(client=client, prefix=next(_names))
    assert store.client is client
    store["a"] = b"1"
    store.close()
    assert closed == []
    assert store["a"] == b"1" and store.client is not client  # its own client now
    copy = pickle.loads(pickle.dumps(store))
    assert copy.client is not client and copy["a"] == b"1"
    store.clear()
    for s in (store, copy):
        s.close()
    assert closed == []


def test_reprs_hide_credentials():
    pytest.importorskip("pymongo")
    store = MongoDBStore(host="mongodb://user:secret@db.example:27017")
    assert "secret" not in repr(store) and "db.example" in repr(store)


def test_mongodb_defaults_are_zarr2s():
    pytest.importorskip("pymongo")
    store = MongoDBStore()
    assert (store._database, store._collection) == ("mongodb_zarr", "zarr_collection")


# -- interop with zarr-python 2.18 on the same server ------------------------------------------
def _zarr2_store(kind: str, store: Any, request: pytest.FixtureRequest) -> Any:
    """zarr 2's store class over the same data as zarrkit's ``store``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # zarr 2 deprecated them for zarr 3
        if kind == "redis":
            return zarr.storage.RedisStore(prefix=store._prefix, **store._kwargs)
        if kind.startswith("mongodb"):
            return zarr.storage.MongoDBStore(
                database=store._database, collection=store._collection, **store._kwargs
            )
        return zarr.storage.ABSStore(client=store.client, prefix=store.prefix)


DATA = np.arange(35 * 12, dtype="<f8").reshape(35, 12) / 7


@needs_zarr2
def test_zarrkit_writes_zarr2_reads(new_server_store, kind, request):
    store = new_server_store()
    root = zarrkit.group(store=store)
    a = root.create_dataset("g/a", data=DATA, chunks=(10, 5), compressor=Zlib(1))
    a.attrs["unit"] = "m"
    theirs = zarr.open_group(_zarr2_store(kind, store, request), mode="r")
    np.testing.assert_array_equal(theirs["g/a"][:], DATA)
    assert theirs["g/a"].attrs["unit"] == "m" and theirs["g/a"].chunks == (10, 5)


@needs_zarr2
def test_zarr2_writes_zarrkit_reads(new_server_store, kind, request):
    store = new_server_store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        root = zarr.group(store=_zarr2_store(kind, store, request))
        a = root.create_dataset("g/a", data=DATA, chunks=(10, 5), compressor=Zlib(1))
        a.attrs["unit"] = "m"
    mine = zarrkit.open_group(store, mode="r")
    np.testing.assert_array_equal(mine["g/a"][:], DATA)
    assert mine["g/a"].attrs["unit"] == "m" and mine["g/a"].chunks == (10, 5)


# -- DBMStore: every dbm flavour that imports, and Berkeley DB ---------------------------------
def _dbm_open(name: str) -> Any:
    module = pytest.importorskip(name, reason=f"{name} does not import in this Python")
    return module.btopen if name in ("berkeleydb", "bsddb3") else module.open


@pytest.mark.parametrize("name", ["dbm.dumb", "dbm.gnu", "dbm.ndbm", "berkeleydb", "bsddb3"])
def test_dbm_flavours(name, tmp_path):
    opener = _dbm_open(name)
    path = str(tmp_path / "x.db")
    store = DBMStore(path, open=opener)
    root = zarrkit.group(store=store)
    z = root.zeros("foo/bar", shape=(100, 100), chunks=(10, 10), dtype="i4")
    z[:] = 42
    store.setitems({"k/1": b"1", "k/2": b"2"})
    assert store.getitems(["k/1", "k/2", "k/3"]) == {"k/1": b"1", "k/2": b"2"}
    store.delitems(["k/1", "k/3"])
    assert "k/1" not in store and store.listdir("k") == ["2"]
    again = pickle.loads(pickle.dumps(store))
    store.close()
    np.testing.assert_array_equal(zarrkit.open_group(again, mode="r")["foo/bar"][:], 42)
    again.close()
    ro = DBMStore(path, open=opener, flag="r")
    assert ro["foo/bar/.zarray"] and ro.read_only
    ro.close()


@needs_zarr2
@pytest.mark.filterwarnings("ignore:The DBMStore is deprecated:FutureWarning")
@pytest.mark.parametrize("name", ["berkeleydb", "bsddb3"])
def test_dbm_berkeley_db_with_zarr2(name, tmp_path):
    opener = _dbm_open(name)
    path = str(tmp_path / "x.bdb")
    with DBMStore(path, open=opener) as store:
        zarrkit.array(DATA, chunks=(10, 5), store=store, path="a")
    theirs = zarr.storage.DBMStore(path, open=opener, flag="r")
    np.testing.assert_array_equal(zarr.open_array(theirs, path="a", mode="r")[:], DATA)
    theirs.close()


def test_dbm_errors_other_than_not_found_name_store_and_key(tmp_path):
    class Broken(dict):
        def __getitem__(self, key: Any) -> Any:
            raise OSError("disk on fire")

        def close(self) -> None:
            pass

    store = DBMStore(str(tmp_path / "b.db"), open=lambda *a, **k: Broken())
    with pytest.raises(OSError, match="chunk/0") as info:
        store["chunk/0"]
    assert "DBMStore" in str(info.value)
    with pytest.raises(OSError, match="chunk/0"):
        store.getitems(["chunk/0"])
