"""FSStore (fsspec) and N5FSStore: round trips on local files and fsspec's memory file
system, fsspec's batched calls, missing-versus-failed reads, and interop with zarr 2."""

from __future__ import annotations

import json
import os
import pickle
import sys
import uuid
from typing import Any

import numpy as np
import pytest

fsspec = pytest.importorskip("fsspec")
import zarr  # noqa: E402

import zarrkit  # noqa: E402
from conftest import needs_zarr2, posix_only  # noqa: E402
from zarrkit.n5 import N5FSStore, N5Store  # noqa: E402
from zarrkit.storage import FSStore  # noqa: E402


@pytest.fixture(params=["local", "memory"])
def url(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """A fresh store location: a file:// URL of a local folder, or a memory:// URL."""
    if request.param == "local":
        yield "file://" + str(tmp_path / "data.zarr")
        return
    name = f"memory://zarrkit-test-{uuid.uuid4().hex}"
    yield name
    fs = fsspec.filesystem("memory")
    if fs.exists(name):
        fs.rm(name, recursive=True)


def _count(monkeypatch: pytest.MonkeyPatch, fs: Any, name: str) -> list:
    """Record the arguments of every call of ``fs.<name>`` (still calling it)."""
    calls: list = []
    real = getattr(fs, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0] if args else kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(fs, name, spy)
    return calls


# -- the store ------------------------------------------------------------------------------


def test_mapping_round_trip(url: str) -> None:
    store = FSStore(url)
    assert len(store) == 0 and list(store) == []
    store["a"] = b"1"
    store["c/d"] = bytearray(b"22")
    store["c/e/f"] = np.frombuffer(b"333", dtype="u1")
    assert sorted(store) == ["a", "c/d", "c/e/f"]
    assert store["c/e/f"] == b"333" and "c/d" in store and "c" not in store
    assert store.listdir() == ["a", "c"] and store.listdir("c") == ["d", "e"]
    assert store.listdir("a") == [] and store.listdir("nope") == []
    assert store.getsize("a") == 1 and store.getsize("c") == 2 and store.getsize("x") == 0
    with pytest.raises(KeyError):
        store["nope"]
    with pytest.raises(TypeError):
        store["bad"] = [1, 2, 3]
    del store["c"]  # a 'directory' of keys
    assert sorted(store) == ["a"]
    store.clear()
    assert len(store) == 0


def test_array_and_group_round_trip(url: str) -> None:
    data = np.arange(35 * 12, dtype="i4").reshape(35, 12)
    root = zarrkit.open_group(url, mode="w")
    z = root.create_dataset("x/y", data=data, chunks=(10, 5))
    z.attrs["units"] = "m"
    again = zarrkit.open_group(url, mode="r")
    np.testing.assert_array_equal(again["x/y"][:], data)
    assert again["x/y"].attrs["units"] == "m"
    assert isinstance(again.store, FSStore)
    # nested chunk keys, as the array's metadata say
    n = zarrkit.open_array(url, path="n", mode="w", shape=(4, 4), chunks=(2, 2),
                           dtype="u1", dimension_separator="/")  # fmt: skip
    n[:] = 5
    assert "n/1/1" in FSStore(url)
    np.testing.assert_array_equal(zarrkit.open(url, mode="r")["n"][:], 5)


@needs_zarr2
def test_readable_by_zarr2(url: str) -> None:
    data = np.arange(100, dtype="f8").reshape(10, 10)
    zarrkit.open_array(url, mode="w", shape=data.shape, chunks=(3, 4), dtype="f8")[:] = data
    theirs = zarr.open_array(zarr.storage.FSStore(url), mode="r")
    np.testing.assert_array_equal(theirs[:], data)
    # and back: zarr 2 writes, zarrkit reads
    other = url + "-z2"
    zarr.open_array(zarr.storage.FSStore(other), mode="w", shape=(6,), chunks=(4,), dtype="i2")[
        :
    ] = 7
    np.testing.assert_array_equal(zarrkit.open_array(other, mode="r")[:], 7)


def test_batched_calls(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    z = zarrkit.open_array(url, mode="w", shape=(8, 8), chunks=(4, 4), dtype="u2")
    fs = z.store.fs
    pipes = _count(monkeypatch, fs, "pipe")
    cats = _count(monkeypatch, fs, "cat")
    rms = _count(monkeypatch, fs, "rm")
    z[:] = 3
    assert len(pipes) == 1 and len(pipes[0]) == 4  # one fs.pipe of the four chunks
    np.testing.assert_array_equal(z[:], 3)
    assert len(cats) == 1 and len(cats[0]) == 4  # one fs.cat of a list
    z.store.delitems(["0.0", "0.1", "9.9"])  # absent keys are ignored
    assert len(rms) >= 1 and sorted(z.store.listdir()) == [".zarray", "1.0", "1.1"]
    got = z.store.getitems(["1.0", "0.0", "weird*key"], contexts={})
    assert sorted(got) == ["1.0"]


@pytest.mark.parametrize("error", [PermissionError, TimeoutError, ConnectionError, OSError])
def test_failed_reads_raise(url: str, monkeypatch: pytest.MonkeyPatch, error: type) -> None:
    z = zarrkit.open_array(url, mode="w", shape=(4, 4), chunks=(2, 2), dtype="i4")
    z[:] = 1
    store = z.store
    real = store.fs.cat_file

    def flaky(path: str, *args: Any, **kwargs: Any) -> Any:
        if path.endswith("/1.0"):
            raise error("the service said no")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(store.fs, "cat_file", flaky)
    for read in (lambda: z[:], lambda: store.getitems(["0.0", "1.0"]), lambda: store["1.0"]):
        with pytest.raises(error) as info:
            read()
        assert "'1.0'" in str(info.value) and "FSStore" in str(info.value)
    np.testing.assert_array_equal(z[:2], 1)  # chunks that read fine still do


def test_missing_exceptions_are_missing(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    class Gone(Exception):
        pass

    z = zarrkit.open_array(url, mode="w", shape=(4,), chunks=(2,), dtype="i4", fill_value=-1)
    z[:] = 1
    store = FSStore(url, missing_exceptions=(Gone,))
    real = store.fs.cat_file

    def gone(path: str, *args: Any, **kwargs: Any) -> Any:
        if path.endswith("/1"):
            raise Gone(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(store.fs, "cat_file", gone)
    np.testing.assert_array_equal(zarrkit.open_array(store, mode="r")[:], [1, 1, -1, -1])
    assert store.getitems(["0", "1"]) == {"0": store["0"]}


def test_url_options_and_modes(tmp_path: Any) -> None:
    path = str(tmp_path / "a")
    with pytest.raises(ValueError, match="storage_options"):
        zarrkit.open_array(path, mode="w", shape=(1,), storage_options={"some": "kwargs"})
    with pytest.raises(ValueError, match="storage_options"):
        zarrkit.open_group(path, mode="w", storage_options={"some": "kwargs"})
    g = zarrkit.open_group("file://" + path, mode="w", storage_options={"auto_mkdir": True})
    g.zeros("z", shape=(3,), dtype="i1")[:] = 4
    assert sorted(os.listdir(path)) == [".zgroup", "z"]
    ro = zarrkit.open_group("file://" + path, mode="r")
    assert ro.store.read_only
    with pytest.raises(PermissionError):
        ro["z"][:] = 1
    with pytest.raises(PermissionError):
        FSStore(path, mode="r")["k"] = b"v"
    with pytest.raises(ValueError):
        FSStore(path, fs=fsspec.filesystem("file"), auto_mkdir=True)
    via_fs = FSStore(path, fs=fsspec.filesystem("file"))
    assert zarrkit.open_array(via_fs, path="z", mode="r")[:].tolist() == [4, 4, 4]
    # chained URLs go through fsspec too
    cached = zarrkit.open_group(f"simplecache::file://{path}", mode="r",
                                storage_options={"cache_storage": str(tmp_path / "c")})  # fmt: skip
    assert cached["z"][:].tolist() == [4, 4, 4]
    zarrkit.consolidate_metadata("file://" + path)
    assert zarrkit.open_consolidated("file://" + path)["z"][:].tolist() == [4, 4, 4]


def test_pickle_and_equality(url: str) -> None:
    store = FSStore(url)
    store["k"] = b"v"
    back = pickle.loads(pickle.dumps(store))
    assert back == store and back["k"] == b"v"
    assert FSStore(url, mode="r") != store


def test_pickles_to_arguments_and_given_fs(url: str, tmp_path: Any) -> None:
    """The pickle holds the constructor's arguments (a given ``fs`` too), and the copy is
    made by the constructor, read-only kept."""
    store = FSStore(url, mode="r", key_separator="/", normalize_keys=True)
    back = pickle.loads(pickle.dumps(store))
    assert (back.url, back.read_only, back.key_separator, back.normalize_keys) == (
        url, True, "/", True
    )  # fmt: skip
    local = fsspec.filesystem("file", auto_mkdir=True)
    given = FSStore(str(tmp_path / "given"), fs=local)
    given["a/b"] = b"1"
    copy = pickle.loads(pickle.dumps(given))
    assert copy == given and copy["a/b"] == b"1" and copy.fs == local


def _read_in_child(store: FSStore, key: str, conn: Any) -> None:
    conn.send(bytes(store[key]))
    conn.close()


@posix_only
def test_given_synchronous_fs_in_a_forked_child(tmp_path: Any) -> None:
    import multiprocessing

    store = FSStore(str(tmp_path / "f"), fs=fsspec.filesystem("file", auto_mkdir=True))
    store["x/y"] = b"forked"
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_read_in_child, args=(store, "x/y", child), daemon=True)
    proc.start()
    try:
        assert parent.poll(60) and parent.recv() == b"forked"
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()


def test_missing_fsspec_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ImportError, match=r"zarrkit\[fsspec\]"):
        FSStore("memory://anything")


# -- N5 over fsspec ------------------------------------------------------------------------


def test_n5fsstore_round_trip(url: str) -> None:
    store = N5FSStore(url)
    root = zarrkit.group(store=store)
    z = root.zeros("g/arr", shape=(7, 9), chunks=(3, 4), dtype="i8")
    data = np.arange(63, dtype="i8").reshape(7, 9)
    z[:] = data
    z.attrs["note"] = "hi"
    assert store["g/arr/2.1"] == store._files["g/arr/1/2"]  # N5 block paths, axes reversed
    attrs = json.loads(store._files["g/arr/attributes.json"])
    assert attrs["dimensions"] == [9, 7] and attrs["note"] == "hi"
    assert json.loads(store._files["attributes.json"])["n5"] == "2.0.0"
    again = zarrkit.open_group(N5FSStore(url), mode="r")
    np.testing.assert_array_equal(again["g/arr"][:], data)
    assert [k for k in store if k.endswith((".zgroup", ".zarray"))] == [
        ".zgroup", "g/.zgroup", "g/arr/.zarray"
    ]  # fmt: skip
    assert pickle.loads(pickle.dumps(store)) == store


def test_n5fsstore_matches_n5store(tmp_path: Any) -> None:
    data = np.arange(50, dtype="u2").reshape(5, 10)
    for kind, make in (("fs", N5FSStore), ("dir", N5Store)):
        z = zarrkit.zeros((5, 10), chunks=(2, 4), dtype="u2", store=make(str(tmp_path / kind)))
        z[:] = data
    files = {}
    for kind in ("fs", "dir"):
        base = tmp_path / kind
        files[kind] = {
            os.path.relpath(os.path.join(d, f), base): open(os.path.join(d, f), "rb").read()
            for d, _, fs in os.walk(base)
            for f in fs
        }
    assert files["fs"] == files["dir"]
    with pytest.warns(UserWarning, match="dimension_separator"):
        N5FSStore(str(tmp_path / "w"), dimension_separator="/")


@needs_zarr2
def test_n5fsstore_readable_by_zarr2(tmp_path: Any) -> None:
    import warnings

    path = str(tmp_path / "c.n5")
    z = zarrkit.zeros((6, 5), chunks=(4, 2), dtype="f4", store=N5FSStore(path))
    z[:] = np.arange(30, dtype="f4").reshape(6, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = zarr.open_array(zarr.n5.N5FSStore(path), mode="r")
    np.testing.assert_array_equal(theirs[:], z[:])


def test_fsmap_as_store_raises_failed_reads(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # an fsspec FSMap passed as a store: batched, and failures are not read as missing
    mapper = fsspec.get_mapper(url)
    z = zarrkit.open_array(mapper, mode="w", shape=(4,), chunks=(2,), dtype="i4", fill_value=-1)
    z[:2] = 1
    np.testing.assert_array_equal(z[:], [1, 1, -1, -1])
    real = mapper.fs.cat_file

    def denied(path: str, *args: Any, **kwargs: Any) -> Any:
        if path.endswith("/0"):
            raise PermissionError("denied")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(mapper.fs, "cat_file", denied)
    with pytest.raises(PermissionError, match="'0'"):
        z[:]


def test_n5_urls_open_as_n5(tmp_path: Any) -> None:
    url = "file://" + str(tmp_path / "c.n5")
    z = zarrkit.open_array(url, mode="w", shape=(4,), chunks=(2,), dtype="u1")
    assert isinstance(z.store, N5FSStore)
    z[:] = 9
    assert json.loads((tmp_path / "c.n5" / "attributes.json").read_text())["dimensions"] == [4]
    assert zarrkit.open(url, mode="r")[:].tolist() == [9, 9, 9, 9]


def test_separator_given_to_the_store_is_kept(tmp_path: Any) -> None:
    store = FSStore(str(tmp_path / "s"), key_separator="/")
    g = zarrkit.open_group(store, mode="w")
    with pytest.raises(ValueError, match="conflicts with the store"):
        g.create_dataset("x", shape=(4, 4), chunks=2, dimension_separator=".")
    a = g.create_dataset("y", shape=(4, 4), chunks=2, dimension_separator="/")
    a[:] = 1
    assert "y/1/1" in store
    plain = FSStore(str(tmp_path / "t"))  # no separator given: arrays choose their own
    zarrkit.open_group(plain, mode="w").zeros("z", shape=(2, 2), chunks=1, dimension_separator="/")


def test_nested_listdir_lists_chunk_keys(tmp_path: Any) -> None:
    store = FSStore(str(tmp_path / "n"), dimension_separator="/")
    z = zarrkit.zeros((4, 4), chunks=(2, 2), store=store)
    z[:] = 1
    names = store.listdir()
    assert names == [".zarray", "0/0", "0/1", "1/0", "1/1"]
    assert all(store.get(k) is not None for k in names)
    g = zarrkit.group(FSStore(str(tmp_path / "g"), dimension_separator="/"))
    g.zeros("0", shape=2)  # a group's numbered members stay members
    assert g.store.listdir() == [".zgroup", "0"]
