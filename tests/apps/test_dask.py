"""Dask as the engine past one machine: from_array/store, pickling, tokens, process clusters.

The process-safety checks run everywhere; the rest needs dask (``.venv-apps``, built by
scripts/apps.sh). One LocalCluster with two worker processes serves the module.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

import zarrkit
from zarrkit.storage import (
    DBMStore,
    DirectoryStore,
    KVStore,
    LRUStoreCache,
    MemoryStore,
    ZipStore,
)

_HAS_DASK = importlib.util.find_spec("dask") is not None
_HAS_DISTRIBUTED = _HAS_DASK and importlib.util.find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(not _HAS_DASK, reason="checked in the apps environment run (dask)")
needs_distributed = pytest.mark.skipif(
    not _HAS_DISTRIBUTED, reason="checked in the apps environment run (dask.distributed)"
)

# -- stores that cannot take writes from several processes --------------------------------


def test_capability_multiprocess_safe(tmp_path):
    assert DirectoryStore(str(tmp_path / "d")).multiprocess_safe
    assert KVStore(DirectoryStore(str(tmp_path / "e"))).multiprocess_safe
    assert not MemoryStore().multiprocess_safe
    assert not KVStore(dict()).multiprocess_safe
    assert not ZipStore(str(tmp_path / "z.zip"), mode="w").multiprocess_safe
    assert not DBMStore(str(tmp_path / "x.db")).multiprocess_safe
    assert not LRUStoreCache(MemoryStore(), max_size=None).multiprocess_safe
    assert LRUStoreCache(DirectoryStore(str(tmp_path / "f")), max_size=None).multiprocess_safe


def _as_if_in_another_process(z: zarrkit.Array) -> zarrkit.Array:
    """An unpickled copy of ``z`` that believes it was opened in another process."""
    w = pickle.loads(pickle.dumps(z))
    w._owner_pid = -1
    return w


@pytest.mark.parametrize("kind", ["memory", "dict", "zip"])
def test_writes_from_another_process_refused(kind, tmp_path):
    store = {
        "memory": MemoryStore,
        "dict": dict,
        "zip": lambda: ZipStore(str(tmp_path / "z.zip"), mode="w"),
    }[kind]()
    z = zarrkit.zeros(10, chunks=5, store=store)
    w = _as_if_in_another_process(z)
    assert w[:3].tolist() == [0, 0, 0]  # reading a copy is fine
    with pytest.raises(RuntimeError, match="cannot take writes from several processes"):
        w[:] = 1
    z[:] = 2  # the opening process still writes
    assert pickle.loads(pickle.dumps(z))._owner_pid == os.getpid()


def test_writes_from_another_process_to_directory_allowed(tmp_path):
    z = zarrkit.open(str(tmp_path / "a.zarr"), mode="w", shape=10, chunks=5, dtype="i4")
    w = _as_if_in_another_process(z)
    w[:] = 5
    assert z[:].tolist() == [5] * 10


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_refused_for_memory_store():
    z = zarrkit.zeros(10, chunks=5)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            z[:] = 1
            os.write(w, b"wrote")
        except RuntimeError:
            os.write(w, b"refused")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(r, 10) == b"refused"


def test_pickles_to_parameters(tmp_path):
    z = zarrkit.open(str(tmp_path / "a.zarr"), mode="w", shape=(1000, 1000), chunks=100)
    z[:] = 1.5
    blob = pickle.dumps(z)
    assert len(blob) < 1000  # parameters, never the data
    w = pickle.loads(blob)
    assert w.store.path == z.store.path and w.chunks == z.chunks and float(w[999, 999]) == 1.5


def test_stores_reopen_in_another_process(tmp_path):
    """Arrays on persistent stores pickle small and read (and write) in a fresh process."""
    from zarrkit.storage import SQLiteStore

    stores = {
        "directory": DirectoryStore(str(tmp_path / "d.zarr")),
        "sqlite": SQLiteStore(str(tmp_path / "s.sqlite")),
    }
    try:
        from zarrkit.storage import FSStore

        stores["fsspec"] = FSStore("file://" + str(tmp_path / "f.zarr"))
    except ImportError:  # pragma: no cover - fsspec is a test dependency
        pass
    arrays = {}
    for name, store in stores.items():
        z = zarrkit.zeros((40, 40), chunks=(10, 10), dtype="i4", store=store)
        z[:] = 7
        arrays[name] = z
    blob = pickle.dumps(arrays)
    assert len(blob) < 600 * len(arrays)
    code = (
        "import pickle, sys; arrays = pickle.load(sys.stdin.buffer)\n"
        "for z in arrays.values(): z[0, :] = 9\n"
        "print(sorted((n, int(z[:].sum())) for n, z in arrays.items()))"
    )
    r = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    expected = 7 * 1560 + 9 * 40
    assert r.stdout.decode().strip() == str(sorted((n, expected) for n in arrays))
    for z in arrays.values():
        assert int(z[:].sum()) == expected  # the other process's writes are here


# -- dask ----------------------------------------------------------------------------------


@needs_dask
def test_tokenize_cheap_and_stable():
    tokenize = pytest.importorskip("dask.base").tokenize
    z = zarrkit.zeros((2000, 2000), chunks=(100, 100), dtype="f8")
    z[:] = np.random.default_rng(0).random((2000, 2000))  # 32 MB: a pickle would be slow
    t0 = time.perf_counter()
    tok = tokenize(z)
    assert time.perf_counter() - t0 < 0.05
    assert tokenize(z) == tok
    assert tokenize(zarrkit.zeros((2000, 2000), chunks=(100, 100))) != tok


@needs_dask
def test_to_dask_from_dask(tmp_path):
    da = pytest.importorskip("dask.array")
    z = zarrkit.array(np.arange(100).reshape(10, 10), chunks=(3, 4))
    x = zarrkit.to_dask(z)
    assert x.chunks == ((3, 3, 3, 1), (4, 4, 2))
    assert (x[2:5].compute() == z[2:5]).all()
    assert x[0:0].compute().shape == (0, 10)
    w = zarrkit.from_dask(x + 1, str(tmp_path / "w.zarr"))
    assert w.chunks == (3, 4) and (w[:] == z[:] + 1).all()
    # irregular dask chunks become regular array chunks
    y = da.from_array(np.arange(10), chunks=((2, 5, 3),))
    v = zarrkit.from_dask(y, str(tmp_path / "v.zarr"))
    assert v.chunks == (5,) and v[:].tolist() == list(range(10))


@needs_dask
def test_to_dask_from_dask_sharded_v3(tmp_path):
    """A task per shard when reading; writes aligned with shards need no lock, and writes
    aligned only with inner chunks take one (a shard is what one write replaces)."""
    da = pytest.importorskip("dask.array")
    a = np.arange(240, dtype="i4").reshape(12, 20)
    z = zarrkit.array(a, chunks=(3, 5), shards=(6, 10), zarr_format=3)
    x = zarrkit.to_dask(z)
    assert x.chunks == ((6, 6), (10, 10))
    assert (x[1:9, 3:17].compute() == a[1:9, 3:17]).all()
    w = zarrkit.from_dask(x + 1, str(tmp_path / "w.zarr"), shards=(6, 10), zarr_format=3)
    assert (w.chunks, w.shards, w.zarr_format) == ((6, 10), (6, 10), 3)
    assert (w[:] == a + 1).all()
    assert zarrkit.apps.dask._aligned(x.chunks, (6, 10), z.shape)
    inner = da.from_array(a, chunks=(3, 5))
    assert not zarrkit.apps.dask._aligned(inner.chunks, z.shards, z.shape)
    v = zarrkit.from_dask(
        inner, str(tmp_path / "v.zarr"), chunks=(3, 5), shards=(6, 10), zarr_format=3
    )
    assert (v[:] == a).all()


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@needs_distributed
def test_cluster_from_array_and_aligned_store(client, tmp_path):
    da = pytest.importorskip("dask.array")
    src = zarrkit.open(str(tmp_path / "src.zarr"), mode="w", shape=(60, 50), chunks=(10, 10))
    src[:] = np.arange(3000).reshape(60, 50)
    x = da.from_array(src, chunks=src.chunks)
    assert int(x.sum().compute()) == 3000 * 2999 // 2
    dst = zarrkit.open(str(tmp_path / "dst.zarr"), mode="w", shape=(60, 50), chunks=(10, 10))
    da.store(x * 2, dst, lock=False)
    assert (dst[:] == src[:] * 2).all()


@needs_distributed
@pytest.mark.parametrize("how", ["synchronizer", "dask-lock"])
def test_cluster_unaligned_writes_lose_nothing(client, tmp_path, how):
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    sync = zarrkit.ProcessSynchronizer(str(tmp_path / "locks")) if how == "synchronizer" else None
    dst = zarrkit.open(
        str(tmp_path / "u.zarr"), mode="w", shape=(120, 50), chunks=(16, 16), dtype="i8",
        synchronizer=sync,
    )  # fmt: skip
    x = da.arange(6000, chunks=250).reshape(120, 50).rechunk((7, 9))  # no chunk is aligned
    lock = False if how == "synchronizer" else distributed.Lock("zarrkit-test")
    da.store(x, dst, lock=lock)
    assert (dst[:] == np.arange(6000).reshape(120, 50)).all()


@needs_distributed
def test_cluster_refuses_memory_store_target(client):
    da = pytest.importorskip("dask.array")
    dst = zarrkit.zeros((20,), chunks=5)
    with pytest.raises(RuntimeError, match="several processes"):
        da.store(da.ones(20, chunks=5), dst, lock=False)
    assert dst[:].tolist() == [0] * 20


# -- dask and S3 (the moto server of conftest) ---------------------------------------------------
def _dropin_installed() -> bool:
    import importlib.metadata

    try:
        return importlib.metadata.version("zarr").endswith("+zarrkit")
    except importlib.metadata.PackageNotFoundError:
        return False


needs_dropin = pytest.mark.skipif(
    not (_HAS_DASK and _dropin_installed()),
    reason="checked in the apps environment run (dask with the zarr drop-in)",
)


@needs_dropin
def test_da_to_zarr_and_from_zarr_on_s3(s3_server, s3_bucket):
    """dask's own zarr functions, through the drop-in, on an S3 server."""
    import dask.array as da

    x = da.arange(1200, chunks=100).reshape(12, 100).rechunk((4, 50))
    url = f"s3://{s3_bucket}/x.zarr"
    da.to_zarr(x, url, storage_options=s3_server.storage_options)
    z = zarrkit.open_array(url, mode="r", storage_options=s3_server.storage_options)
    assert z.chunks == (4, 50)
    np.testing.assert_array_equal(z[:], np.arange(1200).reshape(12, 100))
    y = da.from_zarr(url, storage_options=s3_server.storage_options)
    assert y.chunks == x.chunks and int(y.sum().compute()) == sum(range(1200))


@needs_distributed
def test_cluster_store_to_s3(client, s3_server, s3_bucket):
    """Process workers write to S3 through unpickled FSStores and read it back."""
    import dask.array as da

    url = f"s3://{s3_bucket}/c.zarr"
    z = zarrkit.open_array(
        url, mode="w", shape=(60, 40), chunks=(10, 10), dtype="i8",
        storage_options=s3_server.storage_options,
    )  # fmt: skip
    x = da.arange(2400, chunks=400).reshape(60, 40).rechunk((10, 10))
    da.store(x, z, lock=False)
    np.testing.assert_array_equal(z[:], np.arange(2400).reshape(60, 40))
    back = da.from_array(z, chunks=z.chunks)
    assert int(back.sum().compute()) == sum(range(2400))
