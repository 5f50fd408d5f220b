"""Object stores on a real S3 server (moto in server mode, see conftest.py): FSStore through
s3fs, ObjectStore through obstore; every opener with ``s3://`` URLs and ``storage_options``;
data written by zarrkit read by zarr-python (2.18 or 3, whichever is installed) on the same
server and the other way round; errors that are not "not found" never read as fill values."""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import multiprocessing
import operator
import pickle
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto")
import zarr  # noqa: E402

import zarrkit  # noqa: E402
from conftest import ZARR2, needs_zarr2, needs_zarr3
from zarrkit.errors import MissingChunkError  # noqa: E402
from zarrkit.storage import FSStore, ObjectStore  # noqa: E402

needs_obstore = pytest.mark.skipif(
    importlib.util.find_spec("obstore") is None,
    # deselected, not skipped, by conftest.py: obstore ships wheels for CPython >= 3.11 only
    reason="needs obstore, which is not installed in this environment run",
)

DATA = np.arange(60, dtype="i4").reshape(6, 10)


@pytest.fixture
def so(s3_server: Any) -> dict[str, Any]:
    """s3fs storage options for the test server."""
    return s3_server.storage_options


def _objects(s3_server: Any, bucket: str) -> list[str]:
    """Every object of ``bucket``, as s3fs sees them."""
    return sorted(p[len(bucket) + 1 :] for p in s3_server.filesystem().find(bucket))


# -- FSStore on S3 ---------------------------------------------------------------------------


def test_fsstore_mapping(s3_server: Any, s3_bucket: str, so: dict) -> None:
    store = FSStore(f"s3://{s3_bucket}/root", **so)
    assert len(store) == 0 and store.listdir() == []
    store["a/.zgroup"] = b"{}"
    store.setitems({"a/b/0.0": b"x" * 5, "a/b/0.1": b"yy", "c": b"z"})
    assert store["a/b/0.0"] == b"xxxxx" and "a/b/0.1" in store and "a/b" not in store
    assert store.getitems(["a/b/0.1", "a/b/9.9", "c"]) == {"a/b/0.1": b"yy", "c": b"z"}
    assert sorted(store) == ["a/.zgroup", "a/b/0.0", "a/b/0.1", "c"]
    assert store.listdir("") == ["a", "c"] and store.listdir("a") == [".zgroup", "b"]
    assert store.getsize("a/b") == 7 and store.size_below("a") == 9
    assert _objects(s3_server, s3_bucket) == [f"root/{k}" for k in sorted(store)]
    del store["c"]
    with pytest.raises(KeyError):
        store["c"]
    with pytest.raises(KeyError):
        del store["c"]
    store.delitems(["a/b/0.0", "not/there"])
    store.rmdir("a")
    assert list(store) == []
    clone = pickle.loads(pickle.dumps(store))
    assert clone == store
    clone["k"] = b"v"
    assert store["k"] == b"v"


def test_fsstore_reads_are_one_get(s3_bucket: str, so: dict, monkeypatch: Any) -> None:
    """s3fs would ask each object's size (a HEAD) before the GET: chunk reads skip that."""
    store = FSStore(f"s3://{s3_bucket}/one", **so)
    store.setitems({"a": b"1", "b": b"22"})
    infos = []
    real = store.fs._info

    async def counting_info(path: str, **kwargs: Any) -> Any:
        infos.append(path)
        return await real(path, **kwargs)

    monkeypatch.setattr(store.fs, "_info", counting_info)
    assert store.getitems(["a", "b", "c"]) == {"a": b"1", "b": b"22"} and store["a"] == b"1"
    assert infos == []


@pytest.mark.parametrize("cached", [False, True], ids=["s3", "simplecache::s3"])
def test_openers_take_urls(s3_server: Any, s3_bucket: str, so: dict, cached: bool) -> None:
    base = f"s3://{s3_bucket}"
    url, opts = (f"simplecache::{base}", {"s3": so}) if cached else (base, so)
    z = zarrkit.open_array(f"{base}/a.zarr", mode="w", shape=DATA.shape, chunks=(3, 4),
                           dtype="i4", storage_options=so)  # fmt: skip
    z[:] = DATA
    np.testing.assert_array_equal(
        zarrkit.open(f"{url}/a.zarr", mode="r", storage_options=opts)[:], DATA
    )
    np.testing.assert_array_equal(
        zarrkit.open_array(f"{url}/a.zarr", mode="r", storage_options=opts)[:], DATA
    )
    c = zarrkit.create(shape=5, chunks=2, dtype="f8", fill_value=1.5, store=f"{base}/c.zarr",
                       storage_options=so)  # fmt: skip
    c[1] = 7
    a = zarrkit.array(DATA, chunks=(2, 5), store=f"{base}/b.zarr", storage_options=so)
    assert a.nchunks_initialized == 6
    g = zarrkit.group(f"{base}/g.zarr", storage_options=so)
    g.create_dataset("x/y", data=DATA[0], chunks=4)
    g2 = zarrkit.open_group(f"{url}/g.zarr", mode="r", storage_options=opts)
    np.testing.assert_array_equal(g2["x/y"][:], DATA[0])
    assert zarrkit.open(f"{url}/c.zarr", mode="r", storage_options=opts)[:].tolist() == [
        1.5, 7, 1.5, 1.5, 1.5,
    ]  # fmt: skip

    zarrkit.consolidate_metadata(f"{base}/g.zarr", storage_options=so)
    gc = zarrkit.open_consolidated(f"{url}/g.zarr", mode="r", storage_options=opts)
    np.testing.assert_array_equal(gc["x/y"][:], DATA[0])

    n_copied, _, _ = zarrkit.copy_store(f"{base}/g.zarr", f"{base}/copy.zarr", storage_options=so)
    assert n_copied == len([k for k in _objects(s3_server, s3_bucket) if k.startswith("g.zarr/")])
    np.testing.assert_array_equal(
        zarrkit.open(f"{base}/copy.zarr", mode="r", storage_options=so)["x/y"][:], DATA[0]
    )

    zarrkit.save(f"{base}/saved.zarr", DATA, storage_options=so)
    np.testing.assert_array_equal(zarrkit.load(f"{url}/saved.zarr", storage_options=opts), DATA)
    zarrkit.save(f"{base}/saved_group.zarr", DATA, b=DATA[1], storage_options=so)
    loaded = zarrkit.load(f"{url}/saved_group.zarr", storage_options=opts)
    np.testing.assert_array_equal(loaded["b"], DATA[1])
    with pytest.raises(zarrkit.errors.ReadOnlyError):
        zarrkit.open_array(f"{base}/a.zarr", mode="r", storage_options=so)[0, 0] = 1


def test_copy_store_between_urls_and_mappings(s3_bucket: str, so: dict) -> None:
    src = zarrkit.group()
    src.create_dataset("d", data=DATA, chunks=(3, 5))
    n, skipped, nbytes = zarrkit.copy_store(
        src.store, f"s3://{s3_bucket}/d.zarr", storage_options=so
    )
    assert (n, skipped) == (len(src.store), 0) and nbytes > 0
    back: dict = {}
    zarrkit.copy_store(f"s3://{s3_bucket}/d.zarr", back, storage_options=so)
    assert back == dict(src.store)


# -- zarr-python on the same server ------------------------------------------------------------


def _write_zarrkit(url: str, so: dict, separator: str) -> None:
    g = zarrkit.open_group(url, mode="w", storage_options=so)
    a = g.create_dataset("data", data=DATA, chunks=(4, 4), dimension_separator=separator)
    a.attrs["units"] = "m"
    g.create_dataset("text", data=np.array(["ab", "cde"]), chunks=1)


@needs_zarr2
@pytest.mark.parametrize("separator", [".", "/"])
def test_zarr2_reads_and_writes_the_same_server(s3_bucket: str, so: dict, separator: str) -> None:
    url = f"s3://{s3_bucket}/zk.zarr"
    _write_zarrkit(url, so, separator)
    g = zarr.open_group(zarr.storage.FSStore(url, mode="r", **so), mode="r")
    np.testing.assert_array_equal(g["data"][:], DATA)
    assert g["data"].attrs["units"] == "m" and g["text"][:].tolist() == ["ab", "cde"]

    url2 = f"s3://{s3_bucket}/z2.zarr"
    z2 = zarr.open_group(url2, mode="w", storage_options=so)
    z2.create_dataset("data", data=DATA, chunks=(4, 4), dimension_separator=separator)
    zarr.consolidate_metadata(zarr.storage.FSStore(url2, **so))
    back = zarrkit.open_consolidated(url2, mode="r", storage_options=so)
    np.testing.assert_array_equal(back["data"][:], DATA)
    # the same bytes for the metadata, written by either library
    ours = FSStore(url, **so)
    theirs = FSStore(url2, **so)
    assert ours["data/.zarray"] == theirs["data/.zarray"]


@needs_zarr3
@pytest.mark.parametrize("separator", [".", "/"])
def test_zarr3_reads_and_writes_the_same_server(s3_bucket: str, so: dict, separator: str) -> None:
    url = f"s3://{s3_bucket}/zk.zarr"
    _write_zarrkit(url, so, separator)
    a = zarr.open_array(f"{url}/data", mode="r", zarr_format=2, storage_options=so)
    np.testing.assert_array_equal(a[:], DATA)
    assert a.attrs["units"] == "m"

    url2 = f"s3://{s3_bucket}/z3.zarr"
    z3 = zarr.create_array(url2, shape=DATA.shape, chunks=(4, 4), dtype="i4", zarr_format=2,
                           storage_options=so, chunk_key_encoding={"name": "v2", "separator": separator})  # fmt: skip
    z3[:] = DATA
    np.testing.assert_array_equal(zarrkit.open_array(url2, mode="r", storage_options=so)[:], DATA)


# -- missing means missing -----------------------------------------------------------------


def _failing_fs(s3_server: Any, bad_key: str, error: type[Exception]) -> Any:
    """An s3fs file system on the test server whose reads of one object fail with ``error``."""
    import s3fs

    class FailingS3(s3fs.S3FileSystem):
        cachable = False

        async def _cat_file(self, path: str, *args: Any, **kwargs: Any) -> Any:
            if path.rstrip("/").endswith(bad_key):
                raise error(f"denied: {path}")
            return await super()._cat_file(path, *args, **kwargs)

    return FailingS3(**s3_server.storage_options)


@pytest.mark.parametrize("error", [PermissionError, TimeoutError, OSError])
def test_failed_chunk_reads_raise(s3_server: Any, s3_bucket: str, so: dict, error: type) -> None:
    url = f"s3://{s3_bucket}/e.zarr"
    z = zarrkit.open_array(url, mode="w", shape=(8,), chunks=(2,), dtype="i4", storage_options=so)
    z[:] = np.arange(8)
    store = FSStore(f"{s3_bucket}/e.zarr", fs=_failing_fs(s3_server, "e.zarr/2", error))
    with pytest.raises(error, match=r"'2'.*FSStore"):
        store["2"]
    with pytest.raises(error, match=r"'2'.*FSStore"):
        store.getitems(["0", "1", "2", "3"])
    for strict in (False, True):
        z = zarrkit.open_array(store, mode="r", strict_missing=strict)
        assert z[:2].tolist() == [0, 1]
        with pytest.raises(error, match="'2'"):
            z[:]
        with pytest.raises(error, match="'2'"):
            z[4]


@pytest.fixture(scope="module")
def s3_gate(s3_server: Any) -> Any:
    """The session's S3 server behind a gate (tests/storage/s3_gate.py) that answers HTTP 403 as S3
    does: ``AccessDenied`` to reads of the objects ``*/2`` (chunk 2 of a 1-d array) of one
    bucket, ``InvalidAccessKeyId`` to requests signed with an unknown access key. The S3
    server's own policy engine is not used: moto's enforcement changes between releases."""
    from s3_gate import S3Gate

    bucket = s3_server.new_bucket()
    gate = S3Gate(s3_server.endpoint, key=s3_server.key, deny_reads=rf"/{bucket}/.+/2")
    gate.bucket = bucket
    gate.start()
    yield gate
    gate.stop()


def _gated_store(gate: Any, s3_server: Any, client: str, path: str, key: str | None = None) -> Any:
    url = f"s3://{gate.bucket}/{path}"
    key = s3_server.key if key is None else key
    if client == "s3fs":
        so = dict(s3_server.storage_options, key=key, client_kwargs={"endpoint_url": gate.endpoint})
        return FSStore(url, **so)
    options = dict(s3_server.obstore_options, endpoint=gate.endpoint, access_key_id=key)
    return ObjectStore(url, **options)


@pytest.mark.parametrize("client", ["s3fs", pytest.param("obstore", marks=needs_obstore)])
def test_access_denied_is_not_missing(s3_gate: Any, s3_server: Any, client: str) -> None:
    """The server answers 403 AccessDenied to reads of chunk 2: an error, never the fill value."""
    store = _gated_store(s3_gate, s3_server, client, f"{client}.zarr")
    z = zarrkit.open_array(store, mode="w", shape=(8,), chunks=(2,), dtype="i4", fill_value=-1)
    z[:] = np.arange(8)
    assert store.getitems(["0", "1", "9"]) == {"0": store["0"], "1": store["1"]}
    name = type(store).__name__
    denied = len(s3_gate.refused)
    with pytest.raises(Exception, match=rf"reading '2' from {name}") as info:
        store["2"]
    assert not isinstance(info.value, KeyError)
    # the store asked the server, and the server refused (the test is not vacuous)
    assert [(m, p.rsplit("/", 1)[-1]) for m, p, _ in s3_gate.refused[denied:]] == [("GET", "2")]
    with pytest.raises(Exception, match=rf"reading '2' from {name}") as info:
        "2" in store  # noqa: B015 - a failed check is not "absent" either
    assert not isinstance(info.value, KeyError)
    with pytest.raises(Exception, match=rf"reading '2' from {name}"):
        store.getitems(["1", "2", "3"])
    for strict in (False, True):
        z = zarrkit.open_array(store, mode="r", strict_missing=strict)
        assert z[:4].tolist() == [0, 1, 2, 3] and z[6:].tolist() == [6, 7]
        with pytest.raises(Exception, match=r"'2'") as info:
            z[:]
        assert not isinstance(info.value, KeyError)
        with pytest.raises(Exception, match=r"'2'"):
            z[5]
    if client == "s3fs":
        with pytest.raises(PermissionError):
            z[4:6]
    # an access key the server does not know: every chunk read fails, none reads as the fill value
    wrong = _gated_store(s3_gate, s3_server, client, f"{client}.zarr", key="AKIDUNKNOWN")
    for strict in (False, True):
        z = zarrkit.open_array(store, chunk_store=wrong, mode="r", strict_missing=strict)
        with pytest.raises(Exception, match=rf"reading '0' from {name}") as info:
            z[0]
        assert not isinstance(info.value, KeyError)
    assert {code for _, _, code in s3_gate.refused} == {403}


def test_absent_chunks_are_missing(s3_bucket: str, so: dict) -> None:
    url = f"s3://{s3_bucket}/m.zarr"
    z = zarrkit.open_array(url, mode="w", shape=(8,), chunks=(2,), dtype="i4", fill_value=-1,
                           storage_options=so)  # fmt: skip
    z[:2] = [5, 6]
    assert zarrkit.open_array(url, mode="r", storage_options=so)[:].tolist() == [5, 6] + [-1] * 6
    strict = zarrkit.open_array(url, mode="r", storage_options=so, strict_missing=True)
    with pytest.raises(MissingChunkError):
        strict[:]


# -- forked children and spawned processes ---------------------------------------------------


def _answer(conn: Any, fn: Any) -> None:
    try:
        conn.send(("ok", fn()))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def _in_fork(fn: Any, timeout: float = 60) -> tuple[str, Any]:
    """``fn()`` in a forked child: ``('ok', result)`` or ``('error', 'Type: message')``."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_answer, args=(child, fn), daemon=True)
    proc.start()
    child.close()
    try:
        assert parent.poll(timeout), "the forked child hangs"
        return parent.recv()
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()


def test_fsstore_on_s3fs_in_a_forked_child(s3_bucket: str, so: dict) -> None:
    """The child makes its own s3fs file system from the URL (s3fs's own refuses to run
    there: 'This class is not fork-safe'); the parent keeps its own."""
    store = FSStore(f"s3://{s3_bucket}/f.zarr", **so)
    store["a"] = b"1"
    fs = store.fs

    def child() -> Any:
        store["b"] = b"2"
        return store["a"], store.fs is not fs, store.path

    assert _in_fork(child) == ("ok", (b"1", True, f"{s3_bucket}/f.zarr"))
    assert store["b"] == b"2" and store.fs is fs


def test_fsstore_given_s3fs_in_a_forked_child(s3_server: Any, s3_bucket: str) -> None:
    """A file system given as ``fs=`` is remade in the child from fsspec's pickling recipe."""
    store = FSStore(f"{s3_bucket}/g.zarr", fs=s3_server.filesystem())
    store["a"] = b"1"
    assert _in_fork(lambda: store["a"]) == ("ok", b"1")
    assert pickle.loads(pickle.dumps(store)) == store


def test_fsstore_given_fs_that_cannot_be_remade_says_so_in_the_child(
    s3_server: Any, s3_bucket: str
) -> None:
    import s3fs

    class Unpicklable(s3fs.S3FileSystem):
        def __reduce__(self) -> Any:
            raise TypeError("this file system does not pickle")

    store = FSStore(f"{s3_bucket}/u.zarr", fs=Unpicklable(**s3_server.storage_options))
    store["a"] = b"1"
    status, message = _in_fork(lambda: store["a"])
    assert status == "error"
    assert "given as fs= (Unpicklable)" in message and "spawn" in message
    assert store["a"] == b"1"


def test_fsstore_pickles_to_its_arguments(s3_bucket: str, so: dict) -> None:
    store = FSStore(f"s3://{s3_bucket}/p.zarr", mode="r", dimension_separator="/", **so)
    again = pickle.loads(pickle.dumps(store))
    assert again == store and again.read_only and again.key_separator == "/"
    assert b"aiohttp" not in pickle.dumps(store)  # arguments, not the file system's session


@needs_obstore
def test_objectstore_in_a_forked_child_raises_instead_of_hanging(obs: ObjectStore) -> None:
    obs["a"] = b"1"  # obstore's runtime runs in this process now
    assert not obs.fork_safe
    status, message = _in_fork(lambda: obs["a"])
    assert status == "error" and message.startswith("RuntimeError:")
    assert "does not survive fork" in message and "'spawn'" in message
    assert _in_fork(lambda: "a" in obs)[0] == "error"
    assert obs["a"] == b"1"  # the parent's store still works


@needs_obstore
def test_objectstore_in_a_spawned_process(obs: ObjectStore) -> None:
    """What works instead of fork: the store pickled to a process started with 'spawn'."""
    obs["a/b"] = b"spawned"
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        assert pool.submit(operator.getitem, obs, "a/b").result(timeout=120) == b"spawned"
        pool.submit(operator.setitem, obs, "from/child", b"c").result(timeout=120)
    assert obs["from/child"] == b"c"


# -- the tutorial's S3 examples, against the test server -------------------------------------


def test_tutorial_cloud_examples(s3_server: Any, s3_bucket: str, so: dict) -> None:
    import s3fs

    # the demo store of the tutorial, made here
    root = zarrkit.group(f"s3://{s3_bucket}/store", storage_options=so)
    root.create_dataset("foo/bar/baz", data=np.frombuffer(b"Hello from the cloud!", "S1"), chunks=7)

    # Distributed/cloud storage: an S3Map as the store
    s3 = s3fs.S3FileSystem(**so)
    store = s3fs.S3Map(root=f"{s3_bucket}/store", s3=s3, check=False)
    z = zarrkit.group(store=store)["foo/bar/baz"]
    assert repr(z) == "<zarrkit.core.Array '/foo/bar/baz' (21,) |S1>"
    info = repr(z.info)
    assert "Chunks initialized : 3/3" in info and "No. bytes          : 21" in info
    assert z[:].tobytes() == b"Hello from the cloud!"
    cache = zarrkit.LRUStoreCache(store, max_size=2**28)
    z = zarrkit.group(store=cache)["foo/bar/baz"]
    assert z[:].tobytes() == z[:].tobytes() == b"Hello from the cloud!"
    assert cache.hits > 0

    # IO with fsspec: URLs, chained URLs, and a file system made outside
    g = zarrkit.open_group(f"s3://{s3_bucket}/store", storage_options=so)
    assert g["foo/bar/baz"][:].tobytes() == b"Hello from the cloud!"
    g = zarrkit.open_group(f"simplecache::s3://{s3_bucket}/store", storage_options={"s3": so})
    assert g["foo/bar/baz"][:].tobytes() == b"Hello from the cloud!"
    assert g["foo/bar/baz"][:].tobytes() == b"Hello from the cloud!"
    fs = s3fs.S3FileSystem(**so)
    g = zarrkit.open_group(zarrkit.storage.FSStore(f"/{s3_bucket}/store", fs=fs))
    assert g["foo/bar/baz"][:].tobytes() == b"Hello from the cloud!"


# -- ObjectStore (obstore) on the same server -----------------------------------------------


@pytest.fixture
def obs(s3_server: Any, s3_bucket: str) -> ObjectStore:
    return ObjectStore(f"s3://{s3_bucket}/obs.zarr", **s3_server.obstore_options)


@needs_obstore
def test_objectstore_mapping(s3_server: Any, s3_bucket: str, obs: ObjectStore) -> None:
    assert len(obs) == 0 and obs.listdir() == []
    obs["a/.zgroup"] = b"{}"
    obs.setitems({f"a/b/{i}": bytes([i]) * (i + 1) for i in range(40)} | {"c": b"z"})
    assert obs["a/b/3"] == b"\x03" * 4 and "a/b/3" in obs and "a/b" not in obs
    got = obs.getitems([f"a/b/{i}" for i in range(45)])
    assert got == {f"a/b/{i}": bytes([i]) * (i + 1) for i in range(40)}
    assert obs.listdir() == ["a", "c"] and obs.listdir("a") == [".zgroup", "b"]
    assert obs.getsize("a") == 2 and obs.getsize("a/b/3") == 4
    assert obs.size_below("a") == 2 + sum(range(1, 41))
    # s3fs sees the same objects
    assert _objects(s3_server, s3_bucket) == sorted(f"obs.zarr/{k}" for k in obs)
    with pytest.raises(KeyError):
        obs["nothing"]
    del obs["c"]
    with pytest.raises(KeyError):
        del obs["c"]
    obs.delitems([f"a/b/{i}" for i in range(0, 45, 2)])
    assert len(obs) == 21
    obs.rmdir("a")
    assert list(obs) == []
    with pytest.raises(ValueError):
        obs["../escape"] = b"x"


@needs_obstore
def test_objectstore_arrays_and_pickling(s3_server: Any, s3_bucket: str, obs: ObjectStore) -> None:
    z = zarrkit.open_array(obs, mode="w", shape=DATA.shape, chunks=(2, 3), dtype="i4")
    z[:] = DATA
    clone = pickle.loads(pickle.dumps(obs))
    assert clone == obs and clone is not obs
    np.testing.assert_array_equal(zarrkit.open_array(clone, mode="r")[:], DATA)
    # the same array through s3fs
    fss = FSStore(f"s3://{s3_bucket}/obs.zarr", **s3_server.storage_options)
    np.testing.assert_array_equal(zarrkit.open_array(fss, mode="r")[:], DATA)
    # an obstore store made by hand, and a path inside it
    from obstore.store import S3Store

    raw = S3Store(s3_bucket, **s3_server.obstore_options)
    inner = ObjectStore(raw, path="obs.zarr", mode="r")
    np.testing.assert_array_equal(zarrkit.open_array(inner)[:], DATA)
    np.testing.assert_array_equal(zarrkit.open_array(pickle.loads(pickle.dumps(inner)))[:], DATA)
    with pytest.raises(zarrkit.errors.ReadOnlyError):
        inner["x"] = b"1"
    with pytest.raises(ValueError, match="options"):
        ObjectStore(raw, region="us-east-1")


@needs_obstore
def test_objectstore_interop_with_zarr(s3_server: Any, s3_bucket: str, obs: ObjectStore) -> None:
    g = zarrkit.group(obs)
    g.create_dataset("data", data=DATA, chunks=(4, 4), dimension_separator="/")
    url = f"s3://{s3_bucket}/obs.zarr"
    so = s3_server.storage_options
    if ZARR2:
        theirs = zarr.open_group(zarr.storage.FSStore(url, mode="r", **so), mode="r")["data"]
        zarr.open_array(f"{url}/other", mode="w", shape=(7,), chunks=(2,), dtype="f4",
                        storage_options=so)[:] = np.arange(7)  # fmt: skip
    else:
        theirs = zarr.open_array(f"{url}/data", mode="r", zarr_format=2, storage_options=so)
        z3 = zarr.create_array(f"{url}/other", shape=(7,), chunks=(2,), dtype="f4",
                               zarr_format=2, storage_options=so)  # fmt: skip
        z3[:] = np.arange(7)
    np.testing.assert_array_equal(theirs[:], DATA)
    assert zarrkit.open_array(obs, path="other", mode="r")[:].tolist() == list(range(7))


@needs_obstore
def test_objectstore_io_errors_are_not_missing(s3_server: Any, s3_bucket: str) -> None:
    """A server that cannot be reached: every read raises, none reads as missing."""
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = dict(s3_server.obstore_options, endpoint=f"http://127.0.0.1:{port}")
    options["retry_config"] = {"max_retries": 0, "retry_timeout": timedelta(seconds=1)}
    dead = ObjectStore(f"s3://{s3_bucket}/obs.zarr", **options)
    with pytest.raises(Exception, match=r"reading '0' from ObjectStore"):
        dead["0"]
    with pytest.raises(Exception, match=r"reading '1' from ObjectStore"):
        dead.getitems(["1"])
    # the metadata from the live server, the chunks from the dead one
    live = ObjectStore(f"s3://{s3_bucket}/obs.zarr", **s3_server.obstore_options)
    zarrkit.open_array(live, mode="w", shape=(4,), chunks=(2,), dtype="i4")[:] = [1, 2, 3, 4]
    for strict in (False, True):
        z = zarrkit.open_array(live, chunk_store=dead, mode="r", strict_missing=strict)
        with pytest.raises(Exception, match="reading '0' from ObjectStore") as info:
            z[:]
        assert not isinstance(info.value, KeyError)


# -- the store benchmark runs (tiny sizes; no timing is asserted) ----------------------------


@needs_obstore
def test_store_benchmark_smoke(s3_server: Any, tmp_path: Any, capsys: Any) -> None:
    spec = importlib.util.spec_from_file_location(
        "zarrkit_bench_stores", Path(__file__).resolve().parents[2] / "benchmarks" / "stores.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up there
    try:
        spec.loader.exec_module(bench)
    finally:
        sys.modules.pop(spec.name, None)
    out = tmp_path / "stores.json"
    cases = bench.main(
        ["--endpoint", s3_server.endpoint, "--chunks", "1024,4096", "--total", "8192",
         "--rounds", "2", "--json", str(out)]
    )  # fmt: skip
    assert [(c.chunk_bytes, c.nchunks) for c in cases] == [(1024, 8), (4096, 2)]
    for case in cases:
        for client in ("s3fs", "obstore"):
            assert [len(case.times[client][op]) for op in ("write", "read")] == [2, 2]
    text = capsys.readouterr().out
    assert "s3fs/obstore" in text and "| 1 KiB | 8 |" in text
    doc = json.loads(out.read_text())
    assert doc["environment"]["obstore"] and len(doc["cases"]) == 2
    with pytest.raises(SystemExit):
        bench.main(["--clients", "s3fs,gcsfs"])


@needs_obstore
@pytest.mark.parametrize("separator", [".", "/"])
def test_objectstore_matches_fsstore_on_local_files(tmp_path: Any, separator: str) -> None:
    """The same hierarchy seen through obstore and through fsspec, without a server."""
    url = f"file://{tmp_path}"
    obs = ObjectStore(url, path="h.zarr", dimension_separator=separator)
    g = zarrkit.group(obs)
    g.create_dataset("a/b", data=DATA, chunks=(4, 4))
    g.attrs["x"] = 1
    fss = FSStore(f"{url}/h.zarr", dimension_separator=separator)
    assert sorted(obs) == sorted(fss)
    for path in ("", "a", "a/b"):
        assert obs.listdir(path) == fss.listdir(path)
        assert obs.getsize(path) == fss.getsize(path)
        assert obs.size_below(path) == fss.size_below(path)
    assert zarrkit.open_array(obs, path="a/b").nchunks_initialized == 6
    np.testing.assert_array_equal(zarrkit.open_group(fss, mode="r")["a/b"][:], DATA)
    obs.rename("a", "c")
    # (on local files the emptied folder 'a' stays, as with DirectoryStore; it holds no key)
    assert obs.keys_under("a") == fss.keys_under("a") == [] and "c" in obs.listdir("")
    np.testing.assert_array_equal(zarrkit.open_array(fss, path="c/b", mode="r")[:], DATA)


@pytest.mark.parametrize("client", ["s3fs", pytest.param("obstore", marks=needs_obstore)])
def test_requests_in_flight_at_the_server(s3_gate: Any, s3_server: Any, client: str) -> None:
    """Counted at the server: an array opened and read whole is GETs only (no HEAD, no
    LIST), its chunks' requests overlap up to the store's bound (64: s3fs's connection pool
    is sized to it), consolidated metadata are one GET, a group's members one batch."""
    from zarrkit.storage.base import REQUESTS_IN_FLIGHT

    store = _gated_store(s3_gate, s3_server, client, f"flight-{client}.zarr")
    g = zarrkit.group(store)
    # 400 chunks (2-d: no key ends in '/2', which the gate refuses)
    z = g.zeros("z", shape=(1, 400), chunks=(1, 1), dtype="u1")
    z[0] = np.arange(400) % 251
    for i in range(6):
        g.zeros(f"m{i}", shape=(2,), chunks=(2,), dtype="u1")
    zarrkit.consolidate_metadata(store)
    s3_gate.latency = 0.05
    try:
        s3_gate.reset()
        a = zarrkit.open_array(_gated_store(s3_gate, s3_server, client, f"flight-{client}.zarr"),
                               path="z", mode="r")  # fmt: skip
        assert (a[0] == np.arange(400) % 251).all()
        methods = {m for m, _ in s3_gate.seen}
        assert methods == {"GET"} and not any(
            p.endswith(("/", "list-type=2")) for _, p in s3_gate.seen
        )
        assert len(s3_gate.seen) == 401
        # never more than the bound, and more than half of it at once (four getitems calls
        # of 16 keys take their next 16 when their last request is answered, and a loaded
        # machine may start the last of a wave after the first has come back)
        assert REQUESTS_IN_FLIGHT // 2 < s3_gate.max_in_flight <= REQUESTS_IN_FLIGHT
        s3_gate.reset()
        c = zarrkit.open_consolidated(_gated_store(s3_gate, s3_server, client, f"flight-{client}.zarr"),
                                      mode="r")  # fmt: skip
        assert [m for m, _ in s3_gate.seen] == ["GET"]
        assert len(list(c.arrays())) == 7 and len(s3_gate.seen) == 1
        s3_gate.reset()
        assert zarrkit.read_many([(m, 0) for _, m in c.arrays() if m.shape == (2,)]) == [0] * 6
        assert len(s3_gate.seen) == 6 and 1 < s3_gate.max_in_flight <= 6
        s3_gate.reset()
        members = zarrkit.open_group(_gated_store(s3_gate, s3_server, client, f"flight-{client}.zarr"),
                                     mode="r")  # fmt: skip
        s3_gate.reset()
        assert len(list(members.arrays())) == 7
        assert s3_gate.max_in_flight > 7  # the members' documents were asked for at once
    finally:
        s3_gate.latency = 0.0


@pytest.mark.parametrize("client", ["s3fs", pytest.param("obstore", marks=needs_obstore)])
def test_large_values_are_one_put(s3_gate: Any, s3_server: Any, client: str) -> None:
    """A value of several MB (a shard) goes up as one PUT, alone or in a batch: no multipart
    upload (three round trips one after the other, parts left behind if cut off)."""
    store = _gated_store(s3_gate, s3_server, client, f"large-{client}")
    value = np.random.default_rng(5).integers(0, 255, 6 * 2**20 + 7, dtype="u1").tobytes()
    s3_gate.reset()
    store["a/0"] = value
    store.setitems({"b/0": value, "b/1": value[::-1]})
    prefix = f"/{s3_gate.bucket}/large-{client}/"
    objects = sorted(r for r in s3_gate.seen if r[1].startswith(prefix))
    assert objects == [("PUT", prefix + k) for k in ("a/0", "b/0", "b/1")]
    assert store["a/0"] == value and store["b/1"] == value[::-1]
