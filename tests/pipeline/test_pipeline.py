"""The chunk pipeline: corrupt and short chunks, batching, inline and pooled paths."""

from __future__ import annotations

import numcodecs
import numpy as np
import pytest
from numcodecs import Blosc, Zstd

import zarrkit
from zarrkit.errors import CorruptChunkError


@pytest.mark.parametrize("selection", [np.s_[:2], np.s_[:2, 1:3], np.s_[...]])
def test_short_blosc_chunk_is_reported_not_read_as_garbage(selection):
    """A Blosc chunk holding fewer bytes than the chunk shape needs is corrupt."""
    store = {}
    z = zarrkit.zeros((4, 4), chunks=(2, 4), dtype="i4", store=store, compressor=Blosc())
    z[:] = 1
    store["0.0"] = Blosc().encode(np.arange(4, dtype="i4"))  # 16 bytes instead of 32
    with pytest.raises(CorruptChunkError, match=r"'0\.0'"):
        z[selection]


@pytest.mark.parametrize("compressor", [Blosc(), Zstd(), None])
def test_garbage_bytes_name_the_chunk(compressor):
    store = {}
    z = zarrkit.zeros((6,), chunks=(3,), dtype="f8", store=store, compressor=compressor)
    z[:] = 2.5
    store["1"] = b"not a chunk at all"
    assert z[:3].tolist() == [2.5] * 3  # the good chunk still reads
    with pytest.raises(CorruptChunkError, match="'1'"):
        z[:]


@pytest.mark.parametrize("use_threads", [None, True, False])
@pytest.mark.parametrize("nchunks", [1, 2, 3, 64])
def test_inline_and_pooled_paths_agree(use_threads, nchunks, monkeypatch):
    """Small Blosc batches run on the calling thread, larger ones in the pool: same data."""
    monkeypatch.setattr(numcodecs.blosc, "use_threads", use_threads)
    a = np.arange(nchunks * 1000, dtype="i8").reshape(nchunks, 1000) * 3
    z = zarrkit.array(a, chunks=(1, 1000), compressor=Blosc(cname="zstd"))
    assert np.array_equal(z[:], a)
    z[:, 10:20] = -1
    a[:, 10:20] = -1
    assert np.array_equal(z[:], a)


def test_batches_cover_every_chunk(monkeypatch):
    """Reads and writes larger than one batch touch every chunk exactly once."""
    from zarrkit.pipeline import chunks as chunks_module

    monkeypatch.setattr(chunks_module, "_BATCH_BYTES", 64)  # a few chunks per batch
    calls = []

    class Counting(dict):
        def getitems(self, keys, *, contexts=None):
            keys = list(keys)
            calls.append(len(keys))
            return {k: self[k] for k in keys if k in self}

    a = np.arange(10_000, dtype="i4").reshape(100, 100)
    z = zarrkit.array(a, chunks=(10, 10), store=zarrkit.KVStore(Counting()))
    calls.clear()
    assert np.array_equal(z[:], a)
    assert sum(calls) == 100 and len(calls) > 1


# -- frames cut short, for every codec -------------------------------------------------------

_CODECS = [
    numcodecs.Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE),
    numcodecs.Blosc(cname="zstd", clevel=1, shuffle=Blosc.BITSHUFFLE),
    numcodecs.LZ4(),
    numcodecs.Zstd(),
    numcodecs.Zlib(),
    numcodecs.GZip(),
    numcodecs.BZ2(),
    numcodecs.LZMA(),
]


def _stores(tmp_path):
    return {"dict": {}, "directory": zarrkit.DirectoryStore(str(tmp_path / "d"))}


@pytest.mark.parametrize("codec", _CODECS, ids=lambda c: repr(c)[:30])
@pytest.mark.parametrize("kind", ["dict", "directory"])
@pytest.mark.parametrize("cut", [1, 0.5, 15, 3])
def test_truncated_chunk_is_corrupt_for_every_codec(codec, kind, cut, tmp_path):
    """A chunk cut short raises CorruptChunkError naming the key, whatever the codec."""
    store = _stores(tmp_path)[kind]
    a = np.arange(40_000, dtype="i4").reshape(200, 200)
    z = zarrkit.array(a, chunks=(100, 100), compressor=codec, store=store)
    whole = bytes(store["0.1"])
    n = int(len(whole) * cut) if isinstance(cut, float) else len(whole) - cut
    store["0.1"] = whole[: max(0, min(n, len(whole) - 1))]
    assert np.array_equal(z[100:, :], a[100:, :])  # the other chunks still read
    for sel in (np.s_[:], np.s_[:100, 100:], np.s_[5:10, 150:160]):
        with pytest.raises(CorruptChunkError, match=r"'0\.1'"):
            z[sel]
    with pytest.raises(CorruptChunkError, match=r"'0\.1'"):
        z[5, 150] = 1  # a partial write reads the chunk first


@pytest.mark.parametrize("kind", ["dict", "directory"])
def test_blosc_header_with_a_huge_size_is_corrupt(kind, tmp_path):
    """A Blosc header claiming a huge decoded or compressed size is refused before decoding."""
    store = _stores(tmp_path)[kind]
    z = zarrkit.zeros((10, 10), chunks=(5, 5), dtype="f8", store=store, compressor=Blosc())
    z[:] = 1.0
    good = bytearray(store["0.0"])
    for offset in (4, 12):  # nbytes, cbytes
        bad = bytearray(good)
        bad[offset : offset + 4] = (2**31 - 1).to_bytes(4, "little")
        store["0.0"] = bytes(bad)
        with pytest.raises(CorruptChunkError, match=r"'0\.0'"):
            z[:]


def test_lz4_size_prefix_other_than_the_chunk_is_corrupt():
    store = {}
    z = zarrkit.zeros((10,), chunks=(5,), dtype="i8", store=store, compressor=numcodecs.LZ4())
    z[:] = 3
    bad = bytearray(store["1"])
    bad[:4] = (2**30).to_bytes(4, "little")
    store["1"] = bytes(bad)
    with pytest.raises(CorruptChunkError, match="'1'"):
        z[:]


# -- uncompressed chunks read and written straight from/into the array ------------------------


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize(
    "shape,chunks",
    [((37, 23), (10, 23)), ((40, 30), (10, 10)), ((7, 9, 11), (3, 9, 4)), ((50,), (7,)), ((), ())],
)
def test_uncompressed_directory_round_trip(tmp_path, order, shape, chunks):
    rng = np.random.default_rng(1)
    a = rng.integers(-1000, 1000, size=shape).astype(">i4" if order == "F" else "<i4")
    store = zarrkit.DirectoryStore(str(tmp_path / "d"))
    z = zarrkit.create(
        shape,
        chunks=chunks,
        dtype=a.dtype,
        order=order,
        compressor=None,
        store=store,
        fill_value=-7,
    )
    z[...] = a
    assert np.array_equal(z[...], a)
    sel = tuple(slice(1, max(2, n - 2)) for n in shape)
    if shape:
        b = a.copy()
        b[sel] = 5
        z[sel] = 5
        assert np.array_equal(z[...], b)
        assert np.array_equal(z[sel], b[sel])
        # what zarr 2 would store: the same bytes
        ref = zarrkit.create(
            shape,
            chunks=chunks,
            dtype=a.dtype,
            order=order,
            compressor=None,
            fill_value=-7,
            store={},
        )
        ref[...] = b
        for k, v in ref.store.items():
            if not k.startswith("."):
                assert store[k] == v, k


def test_uncompressed_short_file_is_corrupt_and_missing_reads_fill(tmp_path):
    store = zarrkit.DirectoryStore(str(tmp_path / "d"))
    z = zarrkit.create(
        (20, 20), chunks=(10, 10), dtype="u2", compressor=None, store=store, fill_value=9
    )
    z[:] = 1
    del store["1.1"]
    assert (z[10:, 10:] == 9).all() and (z[:10] == 1).all()
    store["0.1"] = store["0.0"][:-2]
    with pytest.raises(CorruptChunkError, match=r"'0\.1'"):
        z[:]
    store["0.1"] = store["0.0"]
    with pytest.raises(zarrkit.errors.MissingChunkError):
        zarrkit.open_array(store, mode="r", strict_missing=True)[:]


@pytest.mark.parametrize("compressor", [None, Blosc()])
def test_write_empty_chunks_false_removes_fill_chunks(tmp_path, compressor):
    store = zarrkit.DirectoryStore(str(tmp_path / "d"))
    z = zarrkit.create(
        (20, 20),
        chunks=(10, 10),
        dtype="i4",
        compressor=compressor,
        store=store,
        write_empty_chunks=False,
    )
    z[:] = 1
    assert sorted(k for k in store if not k.startswith(".")) == ["0.0", "0.1", "1.0", "1.1"]
    a = np.ones((20, 20), "i4")
    a[:10, :10] = 0
    z[:] = a
    assert "0.0" not in store and "1.1" in store
    z[:] = 0
    assert not [k for k in store if not k.startswith(".")]
    assert (z[:] == 0).all()


def test_scratch_buffers_shared_by_arrays_of_other_layouts(tmp_path):
    """Pool threads reuse one scratch buffer across arrays of different chunk layouts."""
    arrays = []
    for i, (chunks, dtype) in enumerate([((7, 5), "f8"), ((3, 11), "u1"), ((10, 10), "i2")]):
        a = np.arange(600).reshape(20, 30).astype(dtype)
        store = zarrkit.DirectoryStore(str(tmp_path / str(i)))
        arrays.append((zarrkit.array(a, chunks=chunks, store=store), a))
    for _ in range(3):
        for z, a in arrays:
            assert np.array_equal(z[1:19, 2:29], a[1:19, 2:29])
            assert np.array_equal(z[:], a)


# -- metadata loads --------------------------------------------------------------------------


def test_one_metadata_load_per_access_without_cache(tmp_path):
    """With cache_metadata=False each access loads .zarray once, whatever the selection kind."""
    loads = []

    class Counting(zarrkit.MemoryStore):
        def __getitem__(self, key):
            if key.endswith(".zarray"):
                loads.append(key)
            return super().__getitem__(key)

    store = Counting()
    zarrkit.zeros((10, 10), chunks=(5, 5), dtype="i4", store=store)
    z = zarrkit.open_array(store, cache_metadata=False)
    rows = np.array([1, 3])
    for access in (
        lambda: z[:],
        lambda: z[rows, rows],  # coordinate selection through __getitem__
        lambda: z.vindex[rows, rows],
        lambda: z.oindex[rows, :],
        lambda: z[rows],
        lambda: z.__setitem__((rows, rows), 1),
        lambda: z.__setitem__(np.s_[:2], 1),
    ):
        loads.clear()
        access()
        assert len(loads) == 1


@pytest.mark.parametrize("compressor", [None, Blosc()])
def test_reads_into_a_caller_out_of_either_order(tmp_path, compressor):
    """The direct paths only take destinations they can address; others are filled too."""
    a = np.arange(24 * 30, dtype="<f4").reshape(24, 30)
    store = zarrkit.DirectoryStore(str(tmp_path / "d"))
    z = zarrkit.array(a, chunks=(8, 10), compressor=compressor, store=store)
    for order in "CF":
        out = np.zeros((24, 30), dtype="<f4", order=order)
        z.get_basic_selection(Ellipsis, out=out)
        assert np.array_equal(out, a)
        part = np.zeros((8, 20), dtype="<f4", order=order)
        z.get_basic_selection(np.s_[8:16, 10:30], out=part)
        assert np.array_equal(part, a[8:16, 10:30])


def test_blosc_context_decoder_matches_numcodecs(tmp_path):
    """Pool threads decode Blosc chunk files with c-blosc's context decoder (through ctypes)
    where numcodecs' library exports it: the same items as numcodecs, every compressor."""
    from zarrkit.pipeline.codec_chain import _blosc_context_decoder

    assert _blosc_context_decoder() is not None  # numcodecs' wheels export it
    rng = np.random.default_rng(5)
    for cname in ("lz4", "lz4hc", "zstd", "zlib", "blosclz"):
        for shuffle in (Blosc.NOSHUFFLE, Blosc.SHUFFLE, Blosc.BITSHUFFLE):
            a = rng.normal(size=(64, 48)).astype("f8")
            store = zarrkit.DirectoryStore(str(tmp_path / f"{cname}{shuffle}"))
            z = zarrkit.array(a, chunks=(16, 16), store=store, compressor=Blosc(cname, 3, shuffle))
            assert np.array_equal(z[:], a)
            assert np.array_equal(z[3:61, 5:40], a[3:61, 5:40])
