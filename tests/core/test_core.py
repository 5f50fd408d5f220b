"""The Array facade: properties, info, resize/append, digests, pickling, creation and modes."""

from __future__ import annotations

import hashlib
import itertools
import json
import pickle
from collections.abc import Iterator, MutableMapping
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrkit
from zarrkit import Array
from zarrkit.errors import ContainsArrayError, ReadOnlyError
from zarrkit.storage import DirectoryStore, KVStore, MemoryStore, NestedDirectoryStore


class CountingDict(MutableMapping):
    """A plain mapping that counts how often each key is read."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.reads: dict[str, int] = {}

    def __getitem__(self, key: str) -> bytes:
        self.reads[key] = self.reads.get(key, 0) + 1
        return self.data[key]

    def __setitem__(self, key: str, value: bytes) -> None:
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def chunk_keys(store: Any, prefix: str = "") -> set[str]:
    """Keys below ``prefix`` that are not metadata."""
    return {
        k[len(prefix) :]
        for k in store
        if k.startswith(prefix) and not k[len(prefix) :].split("/")[-1].startswith(".")
    }


# -- properties ---------------------------------------------------------------------------------


def test_properties_of_a_root_array() -> None:
    store = MemoryStore()
    z = zarrkit.zeros((100, 50), chunks=(30, 20), dtype="<i4", store=store)
    assert z.store is store
    assert z.chunk_store is store
    assert z.shape == (100, 50)
    assert z.chunks == (30, 20)
    assert z.dtype == np.dtype("i4")
    assert z.compressor == numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    assert z.filters is None
    assert z.fill_value == 0
    assert z.order == "C"
    assert z.path == ""
    assert z.name is None
    assert z.basename is None
    assert z.read_only is False
    assert z.ndim == 2
    assert z.size == 5000
    assert z.itemsize == 4
    assert z.nbytes == 20000
    assert z.cdata_shape == (4, 3)
    assert z.nchunks == 12
    assert z.nchunks_initialized == 0
    assert z.nbytes_stored == len(store[".zarray"])
    z[:40, :] = 1
    assert z.nchunks_initialized == 6
    assert z.nbytes_stored == sum(len(v) for v in store.values())
    z.attrs["units"] = "m"
    assert z.nbytes_stored == sum(len(v) for v in store.values())
    assert json.loads(store[".zattrs"]) == {"units": "m"}
    assert dict(z.attrs) == {"units": "m"}


def test_properties_of_an_array_in_a_hierarchy(tmp_path: Any) -> None:
    store = DirectoryStore(str(tmp_path))
    z = zarrkit.create(
        (10, 4, 3),
        chunks=(4, 2, 3),
        dtype=">f8",
        store=store,
        path="foo/bar",
        order="F",
        fill_value=np.nan,
        filters=[numcodecs.Delta(dtype=">f8")],
        compressor=numcodecs.Zlib(level=2),
    )
    assert z.path == "foo/bar"
    assert z.name == "/foo/bar"
    assert z.basename == "bar"
    assert z.order == "F"
    assert np.isnan(z.fill_value)
    assert z.filters == [numcodecs.Delta(dtype=">f8")]
    assert z.compressor == numcodecs.Zlib(level=2)
    assert z.cdata_shape == (3, 2, 1)
    assert z.nchunks == 6
    z[0] = 1.5
    assert z.nchunks_initialized == 2
    # files that are not chunks of this array do not count
    store["foo/bar/notes.txt"] = b"hello"
    store["foo/other/0.0.0"] = b"x"
    assert z.nchunks_initialized == 2
    assert z.nbytes_stored == store.size_below("foo/bar")


def test_nchunks_initialized_with_nested_keys(tmp_path: Any) -> None:
    z = zarrkit.zeros((6, 6), chunks=(2, 3), store=NestedDirectoryStore(str(tmp_path)), path="x")
    z[:3, :] = 1
    assert chunk_keys(z.store, "x/") == {"0/0", "0/1", "1/0", "1/1"}
    assert z.nchunks_initialized == 4


def test_zero_dimensional_array_properties() -> None:
    z = zarrkit.full((), fill_value=3.5, dtype="f4")
    assert z.shape == () and z.chunks == () and z.ndim == 0
    assert z.size == 1 and z.nbytes == 4
    assert z.nchunks == 1 and z.cdata_shape == (1,)
    assert z[()] == 3.5
    z[...] = 2
    assert z.nchunks_initialized == 1
    assert "0" in z.store


def test_info_text_layout() -> None:
    store = MemoryStore()
    z = zarrkit.zeros(
        (100, 50),
        chunks=(30, 20),
        dtype="i4",
        store=store,
        path="foo/bar",
        filters=[numcodecs.Delta(dtype="<i4")],
    )
    z[:] = np.arange(5000, dtype="i4").reshape(100, 50)
    stored = z.nbytes_stored
    ratio = 20000 / stored
    human = f"{stored / 1024:.1f}K" if stored > 1024 else ""
    stored_text = f"{stored} ({human})" if stored > 1024 else str(stored)
    expected = (
        "Name               : /foo/bar\n"
        "Type               : zarrkit.core.Array\n"
        "Data type          : int32\n"
        "Shape              : (100, 50)\n"
        "Chunk shape        : (30, 20)\n"
        "Order              : C\n"
        "Read-only          : False\n"
        "Filter [0]         : Delta(dtype='<i4')\n"
        "Compressor         : Blosc(cname='lz4', clevel=5, shuffle=SHUFFLE, blocksize=0)\n"
        "Store type         : zarrkit.storage.MemoryStore\n"
        "No. bytes          : 20000 (19.5K)\n"
        f"No. bytes stored   : {stored_text}\n"
        f"Storage ratio      : {ratio:.1f}\n"
        "Chunks initialized : 12/12\n"
    )
    assert repr(z.info) == expected
    html = z.info._repr_html_()
    assert "<table" in html and "zarrkit.core.Array" in html and "Chunks initialized" in html


def test_info_wraps_long_values_like_the_tutorial() -> None:
    compressor = numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE)
    z = zarrkit.zeros((10, 10), chunks=(5, 5), dtype="i4", compressor=compressor)
    lines = repr(z.info).splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("Compressor"))
    assert lines[i] == "Compressor         : Blosc(cname='zstd', clevel=3, shuffle=BITSHUFFLE,"
    assert lines[i + 1] == "                   : blocksize=0)"
    assert lines[i + 2] == "Store type         : zarrkit.storage.KVStore"
    assert "Name" not in repr(z.info)
    assert lines[-1] == "Chunks initialized : 0/4"


def test_repr() -> None:
    z = zarrkit.zeros((10, 3), dtype="f8")
    assert repr(z) == "<zarrkit.core.Array (10, 3) float64>"
    g = zarrkit.zeros(5, dtype="|S3", path="a/b", store=MemoryStore())
    assert repr(g) == "<zarrkit.core.Array '/a/b' (5,) |S3>"
    ro = Array(g.store, path="a/b", read_only=True)
    assert repr(ro) == "<zarrkit.core.Array '/a/b' (5,) |S3 read-only>"


# -- resize and append --------------------------------------------------------------------------


@pytest.mark.parametrize("store_kind", ["memory", "directory", "nested"])
def test_resize_shrink_and_grow(store_kind: str, tmp_path: Any) -> None:
    store = {
        "memory": MemoryStore(),
        "directory": DirectoryStore(str(tmp_path)),
        "nested": NestedDirectoryStore(str(tmp_path)),
    }[store_kind]
    sep = "/" if store_kind == "nested" else "."
    a = np.arange(100, dtype="i4").reshape(10, 10)
    z = zarrkit.full((10, 10), fill_value=-1, chunks=(3, 3), dtype="i4", store=store)
    z[:] = a
    z.resize(5, 12)  # rows shrink, columns grow
    assert z.shape == (5, 12)
    assert json.loads(store[".zarray"])["shape"] == [5, 12]
    expected = np.full((5, 12), -1, dtype="i4")
    expected[:, :10] = a[:5]
    np.testing.assert_array_equal(z[...], expected)
    # chunks wholly outside the new shape are gone, the others kept
    kept = {f"{i}{sep}{j}" for i in range(2) for j in range(4)}
    assert chunk_keys(store) == kept
    z.resize((5, 2))
    assert chunk_keys(store) == {f"{i}{sep}0" for i in range(2)}
    np.testing.assert_array_equal(z[...], a[:5, :2])
    z.shape = (20, 20)  # setting the shape resizes too
    assert z.shape == (20, 20)
    assert np.all(z[6:, :] == -1) and np.all(z[:, 3:] == -1)
    np.testing.assert_array_equal(z[:5, :2], a[:5, :2])


def test_resize_rejects_other_number_of_dimensions() -> None:
    z = zarrkit.zeros((4, 4), chunks=2)
    with pytest.raises(ValueError, match="dimensions"):
        z.resize(16)
    assert z.shape == (4, 4)


def test_append_axis_0_and_1() -> None:
    a = np.arange(50, dtype="i8").reshape(10, 5)
    z = zarrkit.array(a, chunks=(3, 3))
    b = np.arange(20, dtype="i8").reshape(4, 5) + 1000
    assert z.append(b) == (14, 5)
    np.testing.assert_array_equal(z[...], np.vstack([a, b]))
    c = np.arange(28, dtype="i8").reshape(14, 2) - 500
    assert z.append(c, axis=1) == (14, 7)
    np.testing.assert_array_equal(z[...], np.hstack([np.vstack([a, b]), c]))
    assert zarrkit.Array(z.store).shape == (14, 7)
    z.append(np.ones((1, 7)), axis=-2)
    assert z.shape == (15, 7)


def test_append_incompatible_shape_leaves_array_unchanged() -> None:
    a = np.arange(12).reshape(4, 3)
    z = zarrkit.array(a, chunks=2)
    with pytest.raises(ValueError, match="not compatible"):
        z.append(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="not compatible"):
        z.append(np.zeros(3))
    assert z.shape == (4, 3)
    np.testing.assert_array_equal(z[...], a)


# -- digests ------------------------------------------------------------------------------------


def _reference_digest(z: Array, hashname: str) -> str:
    """The zarr 2 recipe: every chunk in index order, then .zarray, then .zattrs."""
    h = hashlib.new(hashname)
    prefix = z.path + "/" if z.path else ""
    for idx in itertools.product(*map(range, z.cdata_shape)):
        key = prefix + ".".join(map(str, idx))
        h.update(z.store.get(key, b""))
    h.update(z.store.get(prefix + ".zarray", b""))
    h.update(z.store.get(prefix + ".zattrs", b""))
    return h.hexdigest()


def test_hexdigest_and_digest() -> None:
    z1 = zarrkit.zeros((10, 10), chunks=(4, 4), dtype="i4")
    z2 = zarrkit.zeros((10, 10), chunks=(4, 4), dtype="i4", store=MemoryStore(), path="p")
    assert z1.hexdigest() == z2.hexdigest() == _reference_digest(z1, "sha1")
    assert z1.digest() == bytes.fromhex(z1.hexdigest())
    assert z1.hexdigest("sha256") == _reference_digest(z1, "sha256")
    before = z1.hexdigest()
    z1[3, 3] = 1
    changed = z1.hexdigest()
    assert changed != before and changed == _reference_digest(z1, "sha1")
    assert z1.hexdigest() == changed  # stable
    z1.attrs["a"] = 1
    assert z1.hexdigest() != changed
    z1[3, 3] = 0
    z2[3, 3] = 0
    assert z1.hexdigest() == _reference_digest(z1, "sha1")


# -- python protocols ---------------------------------------------------------------------------


def test_iteration_and_len() -> None:
    a = np.arange(40).reshape(10, 4)
    z = zarrkit.array(a, chunks=(3, 2))
    assert len(z) == 10
    rows = list(z)
    assert len(rows) == 10
    for got, want in zip(rows, a):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.array(list(z.islice(2, 7))), a[2:7])
    np.testing.assert_array_equal(np.array(list(z.islice(8, 100))), a[8:])
    assert list(z.islice(5, 5)) == []
    one_d = zarrkit.array(np.arange(7), chunks=3)
    assert [int(v) for v in one_d] == list(range(7))
    zero_d = zarrkit.zeros(())
    with pytest.raises(TypeError):
        len(zero_d)
    with pytest.raises(TypeError):
        list(zero_d)


def test_islice_decodes_each_chunk_once() -> None:
    d = CountingDict()
    z = zarrkit.array(np.arange(100), chunks=7, store=d)
    d.reads.clear()
    assert [int(v) for v in z.islice(3, 60)] == list(range(3, 60))
    chunk_reads = {k: n for k, n in d.reads.items() if not k.startswith(".")}
    assert set(chunk_reads) == {str(i) for i in range(0, 9)}
    assert all(n == 1 for n in chunk_reads.values())


def test_array_protocol() -> None:
    a = np.arange(12, dtype="i2").reshape(3, 4)
    z = zarrkit.array(a, chunks=2)
    np.testing.assert_array_equal(np.asarray(z), a)
    assert np.asarray(z).dtype == np.dtype("i2")
    as_float = np.asarray(z, dtype="f8")
    assert as_float.dtype == np.dtype("f8")
    np.testing.assert_array_equal(as_float, a.astype("f8"))
    assert np.sum(z) == a.sum()


def test_equality() -> None:
    store = MemoryStore()
    z = zarrkit.zeros(5, store=store, path="a")
    zarrkit.zeros(5, store=store, path="b")
    assert z == Array(store, path="a")
    assert z != Array(store, path="b")
    assert z != Array(store, path="a", read_only=True)
    assert z != "not an array"


# -- pickling -----------------------------------------------------------------------------------


@pytest.mark.parametrize("store", [None, "memory"])
def test_pickle_in_memory_array_carries_data(store: Any) -> None:
    a = np.arange(30, dtype="f4").reshape(5, 6)
    z = zarrkit.array(a, chunks=(2, 5), store=MemoryStore() if store else None)
    z.attrs["k"] = "v"
    z2 = pickle.loads(pickle.dumps(z))
    np.testing.assert_array_equal(z2[...], a)
    assert z2.chunks == (2, 5) and z2.attrs["k"] == "v"
    z2[0, 0] = -1  # an independent copy
    assert z[0, 0] == 0


def test_pickle_directory_array_carries_only_parameters(tmp_path: Any) -> None:
    a = np.random.default_rng(0).standard_normal((200, 200))
    z = zarrkit.array(a, chunks=(50, 50), store=DirectoryStore(str(tmp_path)), path="x")
    z.read_only = True
    blob = pickle.dumps(z)
    assert len(blob) < 1500  # the 320 kB of data stay on disk
    z2 = pickle.loads(blob)
    assert z2.read_only and z2.path == "x"
    np.testing.assert_array_equal(z2[...], a)
    with pytest.raises(ReadOnlyError):
        z2[0, 0] = 1


# -- write_empty_chunks, cache_metadata ---------------------------------------------------------


def test_write_empty_chunks_false() -> None:
    store = MemoryStore()
    z = zarrkit.zeros((9,), chunks=(3,), dtype="i4", store=store, write_empty_chunks=False)
    assert z.write_empty_chunks is False
    z[:] = 0
    assert chunk_keys(store) == set()
    z[0:4] = 1
    assert chunk_keys(store) == {"0", "1"}
    z[0:3] = 0  # a whole stored chunk back to the fill value: deleted
    assert chunk_keys(store) == {"1"}
    z[3] = 0  # a partial write that makes the chunk all fill: deleted too
    assert chunk_keys(store) == set()
    np.testing.assert_array_equal(z[:], np.zeros(9, dtype="i4"))
    # the default stores every chunk written, even when empty
    z_all = zarrkit.zeros((9,), chunks=(3,), dtype="i4")
    z_all[:] = 0
    assert z_all.nchunks_initialized == 3


def test_write_empty_chunks_false_nan_fill() -> None:
    z = zarrkit.full(6, fill_value=np.nan, chunks=2, dtype="f8", write_empty_chunks=False)
    z[:] = np.array([np.nan, np.nan, 1.0, np.nan, np.nan, np.nan])
    assert chunk_keys(z.store) == {"1"}
    np.testing.assert_array_equal(z[:], [np.nan, np.nan, 1.0, np.nan, np.nan, np.nan])


def test_cache_metadata_false_sees_resize_from_another_object() -> None:
    store = MemoryStore()
    z = zarrkit.zeros(10, chunks=4, dtype="i4", store=store)
    fresh = Array(store, cache_metadata=False)
    cached = Array(store, cache_metadata=True)
    z.resize(20)
    z[15] = 7
    assert fresh.shape == (20,)
    assert fresh.nchunks == 5
    assert fresh[15] == 7
    fresh[19] = 3  # writes use the new shape too
    assert z[19] == 3
    assert cached.shape == (10,)  # a cached array keeps the shape it read


# -- copying and special values ---------------------------------------------------------------


def test_copy_between_arrays_chunk_by_chunk() -> None:
    a = np.arange(200, dtype="i4").reshape(20, 10)
    src = zarrkit.array(a, chunks=(6, 4))
    dst = zarrkit.zeros((20, 10), chunks=(7, 3), dtype="i4")
    reads: list[tuple[int, ...]] = []

    class Spy:
        """Looks like an array; records the size of every region read."""

        shape, dtype, ndim = src.shape, src.dtype, src.ndim

        def __getitem__(self, sel: Any) -> Any:
            out = src[sel]
            reads.append(np.shape(out))
            return out

    dst[:] = Spy()
    np.testing.assert_array_equal(dst[...], a)
    assert len(reads) == dst.nchunks  # one region per destination chunk
    assert all(np.prod(r) <= 7 * 3 for r in reads)
    dst2 = zarrkit.zeros((20, 10), chunks=(7, 3), dtype="i4")
    dst2[:] = src
    np.testing.assert_array_equal(dst2[...], a)
    dst2[2:9, 1:4] = src[0:7, 0:3]
    expected = a.copy()
    expected[2:9, 1:4] = a[0:7, 0:3]
    np.testing.assert_array_equal(dst2[...], expected)


def test_datetime_arrays() -> None:
    z = zarrkit.zeros(4, chunks=3, dtype="M8[ns]")
    assert z[0] == np.datetime64(0, "ns")
    z[0] = np.datetime64("2020-01-02T03:04:05")
    z[1] = "2021-06-01"
    z[2] = np.datetime64("NaT", "ns")
    z[3] = np.datetime64("1999-12-31", "D")  # another unit is converted
    expected = np.array(["2020-01-02T03:04:05", "2021-06-01", "NaT", "1999-12-31"], dtype="M8[ns]")
    np.testing.assert_array_equal(z[:], expected)
    td = zarrkit.array(np.array([1, -2, 3], dtype="m8[h]"), chunks=2)
    assert td.dtype == np.dtype("m8[h]")
    np.testing.assert_array_equal(td[:] * 2, np.array([2, -4, 6], dtype="m8[h]"))


@pytest.mark.parametrize("use_threads", [True, False, None])
def test_blosc_use_threads(use_threads: Any) -> None:
    saved = numcodecs.blosc.use_threads
    numcodecs.blosc.use_threads = use_threads
    try:
        a = np.random.default_rng(1).integers(0, 1000, (400, 300)).astype("i4")
        z = zarrkit.array(a, chunks=(50, 40))
        np.testing.assert_array_equal(z[...], a)
        np.testing.assert_array_equal(z[13:377:3, 7:290], a[13:377:3, 7:290])
        z[100:200] = 5
        a[100:200] = 5
        np.testing.assert_array_equal(Array(z.store)[...], a)
    finally:
        numcodecs.blosc.use_threads = saved


# -- creation functions -------------------------------------------------------------------------


def test_creation_functions() -> None:
    e = zarrkit.empty((10, 10), chunks=5, dtype="i4")
    assert e.fill_value is None and e.shape == (10, 10)
    np.testing.assert_array_equal(zarrkit.zeros(7, chunks=3)[:], np.zeros(7))
    np.testing.assert_array_equal(zarrkit.ones(7, chunks=3, dtype="u1")[:], np.ones(7, "u1"))
    f = zarrkit.full((3, 3), fill_value=42, chunks=2, dtype="i2")
    np.testing.assert_array_equal(f[...], np.full((3, 3), 42, dtype="i2"))
    assert zarrkit.zeros(5).dtype == np.dtype("f8")  # float64 unless told
    c = zarrkit.create((6, 4), chunks=(3, 2), dtype="u2", fill_value=9, order="F")
    assert (c.fill_value, c.order, c.dtype) == (9, "F", np.dtype("u2"))
    a = zarrkit.array([[1, 2], [3, 4]])
    assert a.dtype == np.array([[1, 2], [3, 4]]).dtype
    np.testing.assert_array_equal(a[...], [[1, 2], [3, 4]])
    b = zarrkit.array(np.arange(10), chunks=4, dtype="f4")
    assert b.dtype == np.dtype("f4") and b.chunks == (4,)
    ro = zarrkit.array(np.arange(3), read_only=True)
    assert ro.read_only
    np.testing.assert_array_equal(ro[:], np.arange(3))


def test_like_functions(tmp_path: Any) -> None:
    proto = zarrkit.create(
        (8, 6),
        chunks=(4, 3),
        dtype=">i4",
        order="F",
        fill_value=5,
        filters=[numcodecs.Delta(dtype=">i4")],
        compressor=numcodecs.Zlib(1),
    )
    for fn in (zarrkit.empty_like, zarrkit.zeros_like, zarrkit.ones_like, zarrkit.full_like):
        z = fn(proto)
        assert z.shape == proto.shape and z.chunks == proto.chunks
        assert z.dtype == proto.dtype and z.order == "F"
        assert z.compressor == proto.compressor and z.filters == proto.filters
    assert zarrkit.empty_like(proto).fill_value is None
    assert zarrkit.zeros_like(proto)[0, 0] == 0
    assert zarrkit.ones_like(proto)[0, 0] == 1
    assert zarrkit.full_like(proto)[0, 0] == 5
    assert zarrkit.full_like(proto, fill_value=8)[7, 5] == 8
    n = zarrkit.zeros_like(np.ones((3, 4), dtype="u1"))
    assert n.shape == (3, 4) and n.dtype == np.dtype("u1")
    opened = zarrkit.open_like(proto, str(tmp_path / "like.zarr"))
    assert opened.shape == proto.shape and opened.chunks == proto.chunks
    assert opened.fill_value == 5 and isinstance(opened.store, DirectoryStore)
    assert (tmp_path / "like.zarr" / ".zarray").is_file()


@pytest.mark.parametrize(
    "shape,chunks,dtype,expected",
    [
        ((10000, 10000), True, "i4", (625, 625)),
        ((10000, 10000), None, "i4", (625, 625)),
        ((10000, 10000), False, "i4", (10000, 10000)),
        ((100, 100), 7, "i4", (7, 7)),
        ((100, 100), (None, -1), "i4", (100, 100)),
        ((100, 100), (10, None), "i4", (10, 100)),
        ((100, 100), (-1, 10), "i4", (100, 10)),
        ((100, 100), (10,), "i4", (10, 100)),
        ((100, 100, 5), [10, 20], "i4", (10, 20, 5)),
        ((50,), 100, "i4", (100,)),
    ],
)
def test_chunks_normalisation(shape: Any, chunks: Any, dtype: str, expected: Any) -> None:
    z = zarrkit.create(shape, chunks=chunks, dtype=dtype)
    assert z.chunks == expected
    assert json.loads(z.store[".zarray"])["chunks"] == list(expected)


def test_guessed_chunks_are_reasonable() -> None:
    for shape, dtype in [((10**6,), "f8"), ((1000, 1000, 10), "u1"), ((3,), "i2"), ((0, 5), "f4")]:
        z = zarrkit.create(shape, dtype=dtype)
        assert len(z.chunks) == len(shape)
        assert all(1 <= c <= max(s, 1) for c, s in zip(z.chunks, shape))
        assert np.prod(z.chunks) * np.dtype(dtype).itemsize <= 64 * 2**20


# -- open modes, save and load -------------------------------------------------------------------


def test_open_array_modes(tmp_path: Any) -> None:
    path = str(tmp_path / "a.zarr")
    z = zarrkit.open_array(path, mode="w", shape=(4,), chunks=2, dtype="i4")
    z[:] = [1, 2, 3, 4]
    r = zarrkit.open_array(path, mode="r")
    assert r.read_only
    np.testing.assert_array_equal(r[:], [1, 2, 3, 4])
    with pytest.raises(ReadOnlyError):
        r[0] = 9
    rp = zarrkit.open_array(path, mode="r+")
    rp[0] = 9
    assert not rp.read_only
    a = zarrkit.open_array(path, mode="a", shape=(100,))  # exists: shape is ignored
    assert a.shape == (4,)
    np.testing.assert_array_equal(a[:], [9, 2, 3, 4])
    created = zarrkit.open_array(str(tmp_path / "new.zarr"), mode="a", shape=(3,), dtype="u1")
    assert created.shape == (3,) and created.dtype == np.dtype("u1")
    for mode in ("w-", "x"):
        with pytest.raises(ContainsArrayError):
            zarrkit.open_array(path, mode=mode, shape=(4,))
        fresh = zarrkit.open_array(str(tmp_path / f"{mode}.zarr"), mode=mode, shape=(2,))
        assert fresh.shape == (2,)
    w = zarrkit.open_array(path, mode="w", shape=(3, 3), chunks=2, dtype="f4")
    assert w.shape == (3, 3)
    np.testing.assert_array_equal(w[...], np.zeros((3, 3)))
    assert sorted(p.name for p in (tmp_path / "a.zarr").iterdir()) == [".zarray"]
    with pytest.raises(ValueError, match="mode"):
        zarrkit.open_array(path, mode="q")


def test_open_dispatches_to_arrays(tmp_path: Any) -> None:
    path = str(tmp_path / "o.zarr")
    z = zarrkit.open(path, mode="w", shape=(5,), chunks=2, dtype="i8")
    assert isinstance(z, Array)
    z[:] = 3
    again = zarrkit.open(path, mode="r")
    assert isinstance(again, Array) and again.read_only
    np.testing.assert_array_equal(again[:], np.full(5, 3))
    a = zarrkit.open(path)  # default mode 'a' on an existing array
    assert isinstance(a, Array) and not a.read_only
    store = MemoryStore()
    zarrkit.open(store, mode="w", shape=(2, 2), path="sub/arr")
    assert isinstance(zarrkit.open(store, mode="r+", path="sub/arr"), Array)


def test_save_and_load(tmp_path: Any) -> None:
    a = np.arange(24, dtype="<u4").reshape(2, 3, 4)
    path = str(tmp_path / "s.zarr")
    zarrkit.save(path, a)
    loaded = zarrkit.load(path)
    assert isinstance(loaded, np.ndarray)
    np.testing.assert_array_equal(loaded, a)
    assert loaded.dtype == a.dtype
    zarrkit.save_array(path, a * 2)  # replaces
    np.testing.assert_array_equal(zarrkit.load(path), a * 2)
    store = MemoryStore()
    zarrkit.save_array(store, a, path="deep/x")
    np.testing.assert_array_equal(zarrkit.load(store, path="deep/x"), a)


def test_default_compressor_is_read_at_creation_time() -> None:
    zarrkit.storage.default_compressor = numcodecs.Zstd(level=1)
    z = zarrkit.zeros(10)
    assert z.compressor == numcodecs.Zstd(level=1)
    assert json.loads(z.store[".zarray"])["compressor"]["id"] == "zstd"
    assert zarrkit.zeros(10, compressor=None).compressor is None
    assert zarrkit.zeros(10, compressor=numcodecs.Zlib()).compressor == numcodecs.Zlib()
    z[:] = np.arange(10)
    np.testing.assert_array_equal(Array(z.store)[:], np.arange(10))
    zarrkit.storage.default_compressor = None
    assert zarrkit.zeros(10).compressor is None


def test_store_argument_forms(tmp_path: Any) -> None:
    d: dict = {}
    z = zarrkit.zeros(4, chunks=2, store=d)
    assert isinstance(z.store, KVStore) and ".zarray" in d
    p = zarrkit.zeros(4, chunks=2, store=str(tmp_path / "p.zarr"))
    assert isinstance(p.store, DirectoryStore)
    q = zarrkit.zeros(4, chunks=2, store=tmp_path / "q.zarr")  # a PathLike
    assert isinstance(q.store, DirectoryStore)
    assert (tmp_path / "q.zarr" / ".zarray").is_file()


def test_edge_chunks_are_padded_with_the_fill_value() -> None:
    """The part of an edge chunk outside the array holds the fill value, whatever was written."""
    store = MemoryStore()
    z = zarrkit.full((5, 4), fill_value=-1, chunks=(3, 3), dtype="i2", store=store)
    z[:] = 7  # a scalar over every chunk
    z[0:3, 3] = np.arange(3)  # an array into an edge chunk
    codec = numcodecs.Blosc()
    corner = np.frombuffer(codec.decode(store["1.1"]), dtype="i2").reshape(3, 3)
    np.testing.assert_array_equal(corner, [[7, -1, -1], [7, -1, -1], [-1, -1, -1]])
    right = np.frombuffer(codec.decode(store["0.1"]), dtype="i2").reshape(3, 3)
    np.testing.assert_array_equal(right, [[0, -1, -1], [1, -1, -1], [2, -1, -1]])


class NoListing(dict):
    """A mapping that refuses to be listed, to prove an operation never lists the store."""

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the store was listed")

    def keys(self) -> Any:
        raise AssertionError("the store was listed")


def test_resize_and_append_never_list_the_store() -> None:
    d = NoListing()
    z = zarrkit.zeros((100, 10), chunks=(10, 10), dtype="u1", store=d)
    z[:] = 1
    z.resize(35, 10)
    assert dict.__contains__(d, "3.0") and not dict.__contains__(d, "4.0")
    z.append(np.full((20, 10), 2, dtype="u1"))
    assert z.shape == (55, 10)
    assert z[54, 9] == 2 and z[34, 0] == 1 and z[35, 0] == 2
