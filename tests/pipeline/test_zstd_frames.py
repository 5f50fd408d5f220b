"""Zstd chunks are decoded straight into the output when their frame records the chunk's
size; frames without a recorded size are decoded whole and checked; wrong sizes and cut
headers are corrupt chunks naming the key."""

from __future__ import annotations

import numcodecs
import numpy as np
import pytest

import zarrkit
from zarrkit.errors import CorruptChunkError
from zarrkit.pipeline import codec_chain
from zarrkit.storage import MemoryStore


def _array(tmp_path, store_kind: str, zarr_format: int = 2):
    store = MemoryStore() if store_kind == "memory" else str(tmp_path / "a")
    z = zarrkit.open_array(
        store, mode="w", shape=(20, 30), chunks=(10, 10), dtype="<i4",
        compressor=numcodecs.Zstd(level=1), zarr_format=zarr_format,
    )  # fmt: skip
    a = np.arange(600, dtype="<i4").reshape(20, 30)
    z[...] = a
    return z, a


def test_the_frame_size_is_read_from_the_header() -> None:
    raw = np.arange(1000, dtype="<i4")
    for level in (1, 5):
        frame = numcodecs.Zstd(level=level).encode(raw)
        assert codec_chain._zstd_size(frame) == raw.nbytes
    small = numcodecs.Zstd().encode(np.arange(10, dtype="u1"))
    assert codec_chain._zstd_size(small) == 10
    chain = codec_chain.CodecChain(zarrkit.zeros(10, chunks=10, compressor=numcodecs.Zstd())._meta)
    assert chain.can_decode_into


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("store_kind", ["memory", "directory"])
def test_a_skippable_frame_first_is_decoded_whole_or_refused(
    tmp_path, store_kind, zarr_format
) -> None:
    z, a = _array(tmp_path, store_kind, zarr_format)
    key = z._pipeline.key((1, 2))
    frame = bytes(z.chunk_store[key])
    skippable = (0x184D2A50).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"abc"
    z.chunk_store[key] = skippable + frame
    assert codec_chain._zstd_size(skippable + frame) == -1
    try:  # numcodecs >= 0.16 reads skippable frames; 0.15's decoder refuses them
        numcodecs.Zstd().decode(skippable + frame)
    except RuntimeError:
        with pytest.raises(CorruptChunkError, match=key.replace(".", r"\.")):
            zarrkit.open_array(z.store, mode="r")[...]
    else:
        assert np.array_equal(zarrkit.open_array(z.store, mode="r")[...], a)


@pytest.mark.parametrize("store_kind", ["memory", "directory"])
def test_a_frame_of_another_size_or_cut_is_corrupt(tmp_path, store_kind) -> None:
    z, a = _array(tmp_path, store_kind)
    key = z._pipeline.key((0, 0))
    z.chunk_store[key] = numcodecs.Zstd(level=1).encode(np.arange(99, dtype="<i4"))
    with pytest.raises(CorruptChunkError, match="0.0"):
        zarrkit.open_array(z.store, mode="r")[...]
    z.chunk_store[key] = numcodecs.Zstd(level=1).encode(a[:10, :10].copy())[:4]
    with pytest.raises(CorruptChunkError, match="0.0"):
        zarrkit.open_array(z.store, mode="r")[:5, :5]
