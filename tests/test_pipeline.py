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
