"""Zarr v3 sharding (``sharding_indexed``) through :class:`ShardedPipeline`.

Records are built by hand here (``meta_from_zarr``: the v3 codec list as stored, the inner
chain in v2 terms), and selections are planned with ``zarrkit.indexing`` over the inner
chunk grid as ``core.Array`` does.
"""

from __future__ import annotations

import json
import shutil
import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_pipelines_agree import np_get, np_set, numpy_index, operations, random_values
from zarrkit import indexing as ix
from zarrkit.errors import CorruptChunkError, MissingChunkError
from zarrkit.formats.meta import ArrayMeta
from zarrkit.pipeline import compiled, native
from zarrkit.pipeline.base import PipelineOptions
from zarrkit.pipeline.codec_chain import CodecChain
from zarrkit.pipeline.factory import pipeline_for
from zarrkit.pipeline.sharding import ABSENT, ShardedPipeline, ShardLayout
from zarrkit.storage import DirectoryStore, MemoryStore
from zarrkit.storage.base import KVStore
from zarrkit.sync import ThreadSynchronizer

zarr = pytest.importorskip("zarr")


@pytest.fixture(autouse=True, scope="module")
def _loop_for_every_plan() -> Any:
    """Shards on a DirectoryStore are read through the compiled loop whatever the plan's
    size (the small arrays here have plans of a few inner chunks)."""
    saved = compiled.SHARD_LOOP_MIN
    compiled.SHARD_LOOP_MIN = 1
    yield
    compiled.SHARD_LOOP_MIN = saved


if not zarr.__version__.startswith("3"):  # pragma: no cover - the environment
    pytest.skip("zarr-python 3 is needed", allow_module_level=True)

# -- records by hand ----------------------------------------------------------------------------
_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
INDEX_CODECS = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]


def _v2_compressor(codec: dict) -> dict:
    name, config = codec["name"], codec.get("configuration", {})
    if name == "zstd":
        return {"id": "zstd", "level": config["level"], "checksum": config["checksum"]}
    if name == "blosc":
        return {
            "id": "blosc",
            "cname": config["cname"],
            "clevel": config["clevel"],
            "shuffle": _SHUFFLE[config["shuffle"]],
            "blocksize": config["blocksize"],
        }
    if name == "crc32c":
        return {"id": "crc32c", "location": "end"}
    raise NotImplementedError(name)


def meta_from_zarr(doc: dict) -> ArrayMeta:
    """The record of a sharded zarr.json (one sharding codec; bytes + at most one
    bytes-to-bytes codec inside)."""
    (sharding,) = doc["codecs"]
    assert sharding["name"] == "sharding_indexed"
    while sharding["configuration"]["codecs"][0]["name"] == "sharding_indexed":
        (sharding,) = sharding["configuration"]["codecs"]  # nested: down to the innermost
    inner = sharding["configuration"]["codecs"]
    dtype = np.dtype(doc["data_type"])
    if dtype.itemsize > 1:
        little = inner[0]["configuration"]["endian"] == "little"
        dtype = dtype.newbyteorder("<" if little else ">")
    compressors = [_v2_compressor(c) for c in inner[1:]]
    assert len(compressors) <= 1
    return ArrayMeta(
        shape=tuple(doc["shape"]),
        chunks=tuple(sharding["configuration"]["chunk_shape"]),
        dtype=dtype,
        fill_value=dtype.type(doc["fill_value"]),
        compressor=compressors[0] if compressors else None,
        zarr_format=3,
        codecs=tuple(doc["codecs"]),
        chunk_key_encoding="default",
        shards=tuple(doc["chunk_grid"]["configuration"]["chunk_shape"]),
    )


def sharded_meta(
    shape: tuple[int, ...],
    shards: tuple[int, ...],
    chunks: tuple[int, ...],
    dtype: str = "<i4",
    fill_value: Any = 0,
    compressor: str | None = "zstd",
    index_location: str = "end",
    nested: tuple[tuple[int, ...], ...] = (),
) -> ArrayMeta:
    """A record as ``formats.v3`` makes it for such an array (``nested``: the shapes of
    the inner shards, outermost first, each a sharding_indexed inside the one above)."""
    inner: list[dict] = [{"name": "bytes", "configuration": {"endian": "little"}}]
    if compressor == "zstd":
        inner.append({"name": "zstd", "configuration": {"level": 1, "checksum": False}})
    elif compressor == "blosc":
        config = {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "blocksize": 0}
        inner.append({"name": "blosc", "configuration": config})
    elif compressor == "crc32c":
        inner.append({"name": "crc32c"})
    for level in reversed((*nested, chunks)):
        config = {
            "chunk_shape": list(level),
            "codecs": inner,
            "index_codecs": INDEX_CODECS,
            "index_location": index_location,
        }
        inner = [{"name": "sharding_indexed", "configuration": config}]
    doc = {
        "shape": list(shape),
        "data_type": np.dtype(dtype).name,
        "fill_value": fill_value,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shards)}},
        "codecs": inner,
    }
    return meta_from_zarr(doc)


def pipe(meta: ArrayMeta, store: Any, path: str = "", **options: Any) -> ShardedPipeline:
    p = pipeline_for(meta, CodecChain(meta), store, path, PipelineOptions(**options))
    assert isinstance(p, ShardedPipeline)
    return p


INDEXERS = {
    "basic": ix.BasicIndexer,
    "orthogonal": ix.OrthogonalIndexer,
    "coordinate": ix.CoordinateIndexer,
    "mask": ix.MaskIndexer,
    "block": ix.BlockIndexer,
}


def read(p: ShardedPipeline, sel: Any = Ellipsis, kind: str = "basic") -> np.ndarray:
    meta = p.meta
    indexer = INDEXERS[kind](sel, meta.shape, meta.chunks)
    buffer = np.empty(indexer.buffer_shape, dtype=meta.dtype)
    p.read(indexer, buffer)
    return indexer.finish(buffer)


def write(p: ShardedPipeline, value: Any, sel: Any = Ellipsis, kind: str = "basic") -> None:
    meta = p.meta
    indexer = INDEXERS[kind](sel, meta.shape, meta.chunks)
    value = np.asarray(value, dtype=meta.dtype)
    if value.ndim:
        value = indexer.value_for_buffer(np.broadcast_to(value, indexer.shape))
    p.write(indexer, value)


def chunk_files(folder: Any) -> dict[str, bytes]:
    store = DirectoryStore(str(folder))
    return {k: store[k] for k in store if k != "zarr.json"}


# -- (a) interop with zarr-python 3 -------------------------------------------------------------
def _zarr_compressor(name: str) -> Any:
    if name == "zstd":
        return zarr.codecs.ZstdCodec(level=3)
    return zarr.codecs.BloscCodec(cname="zstd", clevel=2, shuffle="shuffle")


def _data(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    data = (np.arange(int(np.prod(shape))) % 251).reshape(shape).astype(dtype)
    data[: shape[0] // 3] = 0  # some inner chunks (and a shard) hold only the fill value
    return data


CASES = [
    ((10, 7), (4, 6), (2, 3)),  # edge shards and edge inner chunks
    ((7,), (10,), (2,)),  # one shard, its last inner chunk wholly past the array
    ((5, 6, 7), (4, 4, 4), (2, 2, 2)),
]


@pytest.mark.parametrize("index_location", ["end", "start"])
@pytest.mark.parametrize("compressor", ["zstd", "blosc"])
@pytest.mark.parametrize("dtype", ["uint8", "int32", "float64"])
@pytest.mark.parametrize("write_empty", [False, True])
@pytest.mark.parametrize("shape, shards, chunks", CASES)
def test_interop_with_zarr_python(
    tmp_path: Any,
    index_location: str,
    compressor: str,
    dtype: str,
    write_empty: bool,
    shape: tuple[int, ...],
    shards: tuple[int, ...],
    chunks: tuple[int, ...],
) -> None:
    data = _data(shape, dtype)
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    with zarr.config.set({"array.write_empty_chunks": write_empty}):
        z = zarr.create_array(
            zarr.storage.LocalStore(str(theirs)),
            shape=shape,
            chunks=shards,  # the stored unit: the sharding codec holds the inner chunks
            dtype=dtype,
            fill_value=0,
            compressors=None,
            serializer=zarr.codecs.ShardingCodec(
                chunk_shape=chunks,
                codecs=[zarr.codecs.BytesCodec(), _zarr_compressor(compressor)],
                index_location=index_location,
            ),
        )
        z[...] = data
    doc = json.loads((theirs / "zarr.json").read_text())
    meta = meta_from_zarr(doc)
    assert meta.shards == shards and meta.chunks == chunks
    # zarrkit reads what zarr-python wrote
    for store in (DirectoryStore(str(theirs)), KVStore(dict(chunk_files(theirs)))):
        p = pipe(meta, store)
        np.testing.assert_array_equal(read(p), data)
        region = tuple(slice(1, n - 1) for n in shape)
        np.testing.assert_array_equal(read(p, region), data[region])
        sel = tuple(np.array([0, n - 1]) for n in shape)
        np.testing.assert_array_equal(read(p, sel, "orthogonal"), data[np.ix_(*sel)])
    # zarr-python reads what zarrkit wrote
    ours.mkdir()
    shutil.copy(theirs / "zarr.json", ours / "zarr.json")
    write(pipe(meta, DirectoryStore(str(ours)), write_empty_chunks=write_empty), data)
    np.testing.assert_array_equal(zarr.open_array(zarr.storage.LocalStore(str(ours)))[...], data)
    mine, reference = chunk_files(ours), chunk_files(theirs)
    assert sorted(mine) == sorted(reference)
    if compressor == "zstd":  # deterministic: the very same bytes
        for key, value in reference.items():
            assert mine[key] == value, key


def test_partial_writes_read_by_zarr_python(tmp_path: Any) -> None:
    """Partly covered shards keep their untouched inner chunks' bytes."""
    z = zarr.create_array(
        zarr.storage.LocalStore(str(tmp_path)),
        shape=(12, 12),
        shards=(6, 6),
        chunks=(3, 3),
        dtype="int32",
        fill_value=-1,
        compressors=[zarr.codecs.ZstdCodec(level=1)],
    )
    expected = np.arange(144, dtype="int32").reshape(12, 12)
    z[...] = expected
    meta = meta_from_zarr(json.loads((tmp_path / "zarr.json").read_text()))
    store = DirectoryStore(str(tmp_path))
    before = store["c/0/0"]
    p = pipe(meta, store, write_empty_chunks=False)
    write(p, 5, (slice(4, 5), slice(2, 8)))
    expected[4, 2:8] = 5
    write(p, -1, (slice(6, 12), slice(6, 12)))  # a whole shard of fill values: deleted
    expected[6:, 6:] = -1
    write(p, -1, (slice(0, 3), slice(6, 9)))  # one inner chunk of fill values: left out
    expected[0:3, 6:9] = -1
    assert "c/1/1" not in store
    np.testing.assert_array_equal(
        zarr.open_array(zarr.storage.LocalStore(str(tmp_path)))[...], expected
    )
    np.testing.assert_array_equal(read(p), expected)
    layout = p.layout
    old = layout.decode_index(layout.index_of(before), "c/0/0")
    new = layout.decode_index(layout.index_of(store["c/0/0"]), "c/0/0")
    # the inner chunk (0, 0) was not touched: its bytes are the same
    o, n = old[0], new[0]
    assert before[int(o[0]) : int(o[0] + o[1])] == store["c/0/0"][int(n[0]) : int(n[0] + n[1])]


def test_morton_order_and_index_location() -> None:
    layout = ShardLayout.of(sharded_meta((8, 8), (8, 8), (2, 2), index_location="start"))
    assert layout.per_shard == (4, 4) and layout.index_at_start
    assert layout.index_nbytes == 16 * 16 + 4
    order = sorted(range(16), key=layout.morton.__getitem__)
    assert [layout.coords(j) for j in order[:6]] == [(0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (3, 0)]
    # a dimension with fewer bits leaves the interleaving when they run out
    uneven = ShardLayout.of(sharded_meta((2, 8), (2, 8), (1, 2)))
    order = sorted(range(8), key=uneven.morton.__getitem__)
    assert [uneven.coords(j) for j in order] == [
        (0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2), (0, 3), (1, 3)
    ]  # fmt: skip


# -- (b) hypothesis: against NumPy, on several stores ------------------------------------------
@st.composite
def sharded_arrays(draw: st.DrawFn) -> dict:
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 9)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, max(1, s // 2 + 1))) for s in shape)
    shards = tuple(c * draw(st.integers(1, 3)) for c in chunks)
    nested: tuple[tuple[int, ...], ...] = ()
    if draw(st.booleans()):  # nested sharding: inner shards of a few chunks each
        nested = (shards,)
        shards = tuple(s * draw(st.integers(1, 3)) for s in shards)
    return dict(
        shape=shape,
        chunks=chunks,
        shards=shards,
        nested=nested,
        dtype=draw(st.sampled_from(["<i4", "<f8", "|u1"])),
        compressor=draw(st.sampled_from([None, "zstd", "blosc"])),
        fill_value=draw(st.sampled_from([0, 7])),
        index_location=draw(st.sampled_from(["end", "start"])),
    )


STORES = ["memory", "directory", "whole"]  # "whole": a store without partial reads


def _store(kind: str, folder: Any) -> Any:
    if kind == "memory":
        return MemoryStore()
    if kind == "directory":
        return DirectoryStore(str(folder / "d"))
    return KVStore(dict())


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_against_numpy(tmp_path_factory: Any, data: st.DataObject) -> None:
    spec = data.draw(sharded_arrays(), label="array")
    write_empty = data.draw(st.booleans(), label="write_empty_chunks")
    ops = data.draw(operations(spec["shape"], spec["chunks"]), label="ops")
    meta = sharded_meta(**spec)
    shape, chunks = spec["shape"], spec["chunks"]
    folder = tmp_path_factory.mktemp("s")
    stored = {}
    for kind in STORES:
        store = _store(kind, folder)
        assert store.partial_reads == (kind != "whole")
        p = pipe(meta, store, write_empty_chunks=write_empty)
        expected = np.full(shape, spec["fill_value"], dtype=meta.dtype)
        for op_kind, sel, is_write, seed in ops:
            index = numpy_index(op_kind, sel, shape, chunks)
            if is_write:
                value = random_values(seed, meta.dtype, np_get(expected, index).shape)
                write(p, value, sel, op_kind)
                np_set(expected, index, value)
            else:
                got = read(p, sel, op_kind)
                np.testing.assert_array_equal(got, np_get(expected, index))
        np.testing.assert_array_equal(read(p), expected)
        stored[kind] = {k: bytes(store[k]) for k in store}
        if not write_empty:  # no shard holds only fill values
            for key, value in stored[kind].items():
                chunks_of = p._parse(key, value)
                assert chunks_of, key
    assert stored["memory"] == stored["directory"] == stored["whole"]


# -- (c) corrupt shards --------------------------------------------------------------------------
def _written(store: Any, **kw: Any) -> tuple[ShardedPipeline, np.ndarray]:
    meta = sharded_meta((8, 8), (4, 4), (2, 2), **kw)
    p = pipe(meta, store)
    data = np.arange(64, dtype="<i4").reshape(8, 8) + 1
    write(p, data)
    return p, data


@pytest.mark.parametrize("partial", [True, False])
@pytest.mark.parametrize("location", ["end", "start"])
def test_corrupt_shards(partial: bool, location: str) -> None:
    def fresh() -> tuple[Any, ShardedPipeline]:
        store = MemoryStore() if partial else KVStore(dict())
        p, _ = _written(store, index_location=location)
        return store, p

    # a truncated shard
    store, p = fresh()
    raw = store["c/0/1"]
    store["c/0/1"] = raw[:-7] if location == "end" else raw[:100]
    with pytest.raises(CorruptChunkError, match="c/0/1"):
        read(p)
    # a bad checksum in the index
    store, p = fresh()
    raw = bytearray(store["c/1/0"])
    at = len(raw) - 10 if location == "end" else 5
    raw[at] ^= 0xFF
    store["c/1/0"] = bytes(raw)
    with pytest.raises(CorruptChunkError, match="c/1/0.*crc32c|c/1/0.*checksum"):
        read(p, (slice(4, 8), slice(0, 4)))
    # an offset past the end (a valid checksum)
    store, p = fresh()
    layout = p.layout
    raw = store["c/1/1"]
    table = layout.decode_index(layout.index_of(raw), "c/1/1").copy()
    table[3] = (len(raw) + 100, 8)
    index = layout.encode_index(table)
    store["c/1/1"] = (
        index + raw[len(index) :] if location == "start" else raw[: -len(index)] + index
    )
    with pytest.raises(CorruptChunkError, match=r"c/1/1.*inner chunk \(1, 1\)"):
        read(p, (slice(6, 8), slice(6, 8)))
    # a half-absent entry
    table[3] = (ABSENT, 8)
    index = layout.encode_index(table)
    store["c/1/1"] = (
        index + raw[len(index) :] if location == "start" else raw[: -len(index)] + index
    )
    with pytest.raises(CorruptChunkError, match="c/1/1"):
        read(p, (slice(0, 8), slice(6, 8)))
    # the other shards still read
    np.testing.assert_array_equal(
        read(p, (slice(0, 4), slice(0, 4))), _written(MemoryStore())[1][:4, :4]
    )


def test_corrupt_inner_chunk_names_shard_and_chunk() -> None:
    """An inner crc32c mismatch, or an inner chunk that does not decode."""
    store = MemoryStore()
    p, _ = _written(store, compressor="crc32c")
    layout = p.layout
    raw = bytearray(store["c/0/0"])
    table = layout.decode_index(layout.index_of(raw), "c/0/0")
    raw[int(table[2, 0]) + 3] ^= 0xFF  # inner chunk (1, 0)
    store["c/0/0"] = bytes(raw)
    with pytest.raises(CorruptChunkError, match=r"c/0/0.*inner chunk \(1, 0\)") as e:
        read(p, (slice(2, 3), slice(0, 1)))
    assert e.value.key == "c/0/0"
    read(p, (slice(0, 2), slice(0, 2)))  # inner chunk (0, 0) is fine
    # a write that must merge the corrupt chunk refuses too
    with pytest.raises(CorruptChunkError, match=r"inner chunk \(1, 0\)"):
        write(p, 3, (slice(2, 3), slice(0, 1)))


def test_missing_shards() -> None:
    store = MemoryStore()
    meta = sharded_meta((8, 8), (4, 4), (2, 2), fill_value=9)
    p = pipe(meta, store, write_empty_chunks=False)
    assert (read(p) == 9).all() and len(store) == 0
    write(p, 1, (slice(0, 1), slice(0, 1)))
    assert list(store) == ["c/0/0"]
    strict = pipe(meta, store, strict=True)
    with pytest.raises(MissingChunkError):
        read(strict, (slice(4, 5), slice(0, 1)))  # no shard
    with pytest.raises(MissingChunkError, match="c/0/0"):
        read(strict, (slice(2, 3), slice(0, 1)))  # the shard, not this inner chunk
    assert read(strict, (slice(0, 1), slice(0, 1))) == 1
    p.delete_chunks(iter([(0, 0), (1, 1)]))
    assert len(store) == 0 and p.key((1, 0)) == "c/1/0"


# -- (d) only the index and the chunk are read ------------------------------------------------------
class CountingStore(MemoryStore):
    """A user's store that counts what is read (its own ``getrange``: ranges stay native)."""

    def __init__(self) -> None:
        super().__init__()
        self.ranges: list[tuple[str, int, int | None]] = []
        self.whole: list[str] = []

    def getrange(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        self.ranges.append((key, start, length))
        return super().getrange(key, start, length)

    def getitems(self, keys: Any, *, contexts: Any = None) -> dict[str, Any]:
        keys = list(keys)
        self.whole.extend(keys)
        return super().getitems(keys, contexts=contexts)

    def __getitem__(self, key: str) -> bytes:  # (noted, but the ranges do not come here)
        self.whole.append(key)
        return super().__getitem__(key)


@pytest.mark.parametrize("location", ["end", "start"])
def test_region_read_fetches_index_and_chunk_only(location: str) -> None:
    store = CountingStore()
    assert store.partial_reads
    meta = sharded_meta((16, 16), (16, 16), (4, 4), compressor=None, index_location=location)
    p = pipe(meta, store)
    data = np.arange(256, dtype="<i4").reshape(16, 16)
    write(p, data)
    store.ranges.clear()
    store.whole.clear()
    np.testing.assert_array_equal(read(p, (slice(5, 7), slice(9, 11))), data[5:7, 9:11])
    assert store.whole == []
    index = p.layout.index_nbytes
    assert len(store.ranges) == 2
    assert store.ranges[0] == (
        ("c/0/0", -index, None) if location == "end" else ("c/0/0", 0, index)
    )
    key, start, length = store.ranges[1]
    assert key == "c/0/0" and length == 4 * 4 * 4  # one inner chunk of 16 int32
    assert len(MemoryStore.__getitem__(store, "c/0/0")) == index + 16 * 64


def test_lazy_value_is_read_once_per_shard() -> None:
    meta = sharded_meta((8, 8), (4, 8), (2, 2))
    p = pipe(meta, MemoryStore())
    data = np.arange(64, dtype="<i4").reshape(8, 8)

    class Source:
        shape = data.shape
        reads: list[Any] = []

        def __getitem__(self, sel: Any) -> np.ndarray:
            self.reads.append(sel)
            return data[sel]

    source = Source()
    indexer = ix.BasicIndexer(Ellipsis, meta.shape, meta.chunks)
    p.write(indexer, source, lazy=True)
    assert len(source.reads) == 2  # two shards
    np.testing.assert_array_equal(read(p), data)


def test_synchronized_writes_to_one_shard() -> None:
    """Threads writing different inner chunks of the same shard lose nothing."""
    meta = sharded_meta((4, 32), (4, 32), (4, 1), compressor=None)
    store = MemoryStore()
    p = pipe(meta, store, synchronizer=ThreadSynchronizer())

    def one(j: int) -> None:
        write(p, j + 1, (slice(None), slice(j, j + 1)))

    threads = [threading.Thread(target=one, args=(j,)) for j in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(read(p), np.broadcast_to(np.arange(1, 33), (4, 32)))


def test_unsupported_layouts() -> None:
    from zarrkit.errors import MetadataError

    with pytest.raises(MetadataError, match="multiple"):
        sharded = sharded_meta((8,), (4,), (2,))
        ShardLayout.of(ArrayMeta(**{**sharded.__dict__, "shards": (5,)}))
    doc_codecs = list(sharded_meta((8,), (4,), (2,)).codecs or ())
    config = dict(doc_codecs[0]["configuration"], index_codecs=[{"name": "gzip"}])
    meta = ArrayMeta(
        **{
            **sharded_meta((8,), (4,), (2,)).__dict__,
            "codecs": ({**doc_codecs[0], "configuration": config},),
        }
    )
    with pytest.raises(MetadataError, match="index_codecs"):
        ShardLayout.of(meta)


# -- (e) byte ranges of the stores -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_getrange_suffixes(tmp_path: Any, kind: str) -> None:
    store = MemoryStore() if kind == "memory" else DirectoryStore(str(tmp_path))
    store["a/k"] = b"0123456789"
    assert store.partial_reads
    assert store.getrange("a/k", -3) == b"789"
    assert store.getrange("a/k", -30) == b"0123456789"
    assert store.getrange("a/k", 7, 10) == b"789"
    assert store.getrange("a/k", 11) == b""
    with pytest.raises(KeyError):
        store.getrange("a/missing", -1)
    with pytest.raises(ValueError):
        store.getrange("a/k", -1, 1)
    with pytest.raises(ValueError):
        store.getrange("a/k", 1, -1)
    assert store.getranges([("a/k", -2, None), ("a/nope", 0, 1), ("a/k", 0, 3), ("a/k", 9, 9)]) == [
        b"89",
        None,
        b"012",
        b"9",
    ]


def test_user_subclasses_are_not_gone_around(tmp_path: Any) -> None:
    seen: list[str] = []

    class Logged(DirectoryStore):  # overrides __getitem__: ranges go through it
        def __getitem__(self, key: str) -> bytes:
            seen.append(key)
            return super().__getitem__(key)

    class OwnRanges(DirectoryStore):  # its own getrange: getranges goes through it
        def getrange(self, key: str, start: int = 0, length: int | None = None) -> bytes:
            seen.append("range " + key)
            return super().getrange(key, start, length)

    logged = Logged(str(tmp_path))
    logged["k"] = b"abcdef"
    assert not logged.partial_reads and logged.local_files_at("") is None
    assert logged.getranges([("k", -2, None), ("x", 0, 1)]) == [b"ef", None]
    assert seen == ["k", "x"]
    seen.clear()
    own = OwnRanges(str(tmp_path))
    assert own.partial_reads and own.local_files_at("") is None
    assert own.getranges([("k", 1, 2)]) == [b"bc"]
    assert seen == ["range k"]


# -- (f) nested sharding -----------------------------------------------------------------------------
@pytest.mark.parametrize("location", ["end", "start"])
def test_nested_region_read_fetches_indexes_and_chunk_only(location: str) -> None:
    """A small region of nested shards: the shard's index, the inner shard's index, the
    chunk: three ranges, nothing whole."""
    store = CountingStore()
    meta = sharded_meta(
        (16, 16), (16, 16), (2, 2), compressor=None, index_location=location, nested=((8, 8),)
    )
    p = pipe(meta, store)
    assert [level.per_shard for level in p.levels] == [(2, 2), (4, 4)]
    data = np.arange(256, dtype="<i4").reshape(16, 16)
    write(p, data)
    store.ranges.clear()
    store.whole.clear()
    np.testing.assert_array_equal(read(p, (slice(9, 10), slice(2, 4))), data[9:10, 2:4])
    assert store.whole == []
    outer, inner = (level.index_nbytes for level in p.levels)
    assert len(store.ranges) == 3
    assert store.ranges[0] == (
        ("c/0/0", -outer, None) if location == "end" else ("c/0/0", 0, outer)
    )
    assert store.ranges[1][0] == "c/0/0" and store.ranges[1][2] == inner
    assert store.ranges[2][0] == "c/0/0" and store.ranges[2][2] == 2 * 2 * 4
    # the middle shard (1, 0) holds 16 chunks of 16 bytes and its index
    shard = bytes(MemoryStore.__getitem__(store, "c/0/0"))
    table = p.layout.decode_index(p.layout.index_of(shard), "c/0/0")
    offset, size = (int(v) for v in table[2])
    assert size == inner + 16 * 16
    start = offset if location == "start" else offset + size - inner
    assert store.ranges[1][1] == start


@pytest.mark.parametrize("partial", [True, False])
def test_nested_corrupt_inner_shard_is_named(partial: bool) -> None:
    store = MemoryStore() if partial else KVStore(dict())
    meta = sharded_meta((8, 8), (8, 8), (2, 2), compressor=None, nested=((4, 4),))
    p = pipe(meta, store)
    data = np.arange(64, dtype="<i4").reshape(8, 8)
    write(p, data)
    shard = bytearray(store["c/0/0"])
    table = p.layout.decode_index(p.layout.index_of(shard), "c/0/0")
    offset, size = (int(v) for v in table[3])  # the inner shard (1, 1)
    shard[offset + size - 1] ^= 0xFF  # its index's checksum
    store["c/0/0"] = bytes(shard)
    if partial:  # the other inner shards are read through ranges; a whole shard is parsed whole
        np.testing.assert_array_equal(read(p, (slice(0, 4), slice(0, 4))), data[:4, :4])
    with pytest.raises(CorruptChunkError, match=r"c/0/0.*inner shard \[3\]"):
        read(p, (slice(5, 6), slice(5, 6)))


def test_nested_absent_inner_shard_and_strict() -> None:
    meta = sharded_meta((8, 8), (8, 8), (2, 2), compressor=None, nested=((4, 4),))
    store = MemoryStore()
    p = pipe(meta, store, write_empty_chunks=False)
    write(p, 5, (slice(0, 4), slice(0, 4)))
    table = p.layout.decode_index(p.layout.index_of(store["c/0/0"]), "c/0/0")
    assert int(table[0, 0]) != ABSENT and (table[1:] == ABSENT).all()
    expected = np.zeros((8, 8), dtype="<i4")
    expected[:4, :4] = 5
    np.testing.assert_array_equal(read(p), expected)
    strict = pipe(meta, store, strict=True)
    np.testing.assert_array_equal(read(strict, (slice(0, 4), slice(0, 4))), expected[:4, :4])
    with pytest.raises(MissingChunkError):
        read(strict, (slice(4, 5), slice(0, 1)))
    write(p, 0, (slice(0, 4), slice(0, 4)))
    assert "c/0/0" not in store


# -- (g) the compiled loop reads shards on local files --------------------------------------------
needs_native = pytest.mark.skipif(native._native is None, reason="the extension is not built")


class _Counting:
    """``_native`` with ``read_ranges`` counted (rows read and their reasons)."""

    def __init__(self, real: Any) -> None:
        self.real, self.rows, self.reasons = real, 0, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def read_ranges(self, codec, table, paths, ranges, out, strides, status, a, b):  # type: ignore[no-untyped-def]
        self.real.read_ranges(codec, table, paths, ranges, out, strides, status, a, b)
        self.rows += b - a
        self.reasons.extend(status[0, a:b].tolist())


@needs_native
@pytest.mark.parametrize("nested", [(), ((4, 4),)], ids=["shards", "nested"])
@pytest.mark.parametrize("compressor", [None, "blosc"])
@pytest.mark.parametrize("location", ["end", "start"])
def test_compiled_loop_reads_shard_files(
    tmp_path: Any, monkeypatch: Any, nested: Any, compressor: Any, location: str
) -> None:
    meta = sharded_meta(
        (13, 11), (8, 8), (2, 2), compressor=compressor, index_location=location, nested=nested
    )
    p = pipe(meta, DirectoryStore(str(tmp_path)), write_empty_chunks=False)
    assert type(p) is compiled.NativeShardedPipeline
    data = np.arange(143, dtype="<i4").reshape(13, 11)
    data[:4, :4] = 0  # (nested: an inner shard left out; else inner chunks left out)
    write(p, data)
    counting = _Counting(native._native)
    monkeypatch.setattr(native, "_native", counting)
    for sel in [Ellipsis, (slice(1, 12), slice(3, 10)), (5, slice(None)), (slice(0, 3), 10)]:
        np.testing.assert_array_equal(read(p, sel), data[sel])
    assert counting.rows > 0 and set(counting.reasons) <= {
        native.Reason.DONE,
        native.Reason.MISSING,
    }
    assert native.Reason.MISSING in counting.reasons
    # the other selections go through the Python path, the same results
    rows = counting.rows
    np.testing.assert_array_equal(
        read(p, ([1, 12], [0, 10]), "orthogonal"), data[np.ix_([1, 12], [0, 10])]
    )
    assert counting.rows == rows


@needs_native
@pytest.mark.parametrize("compressor", [None, "blosc"])
def test_compiled_loop_leaves_a_bad_inner_chunk_to_python(
    tmp_path: Any, monkeypatch: Any, compressor: Any
) -> None:
    """An inner chunk whose range lies past the shard file's end, or whose bytes do not
    decode, is left by the loop; the Python path names the shard and the inner chunk."""
    meta = sharded_meta((8, 8), (8, 8), (4, 4), compressor=compressor, index_location="start")
    store = DirectoryStore(str(tmp_path))
    p = pipe(meta, store)
    data = np.arange(64, dtype="<i4").reshape(8, 8)
    write(p, data)
    shard = bytes(store["c/0/0"])
    table = p.layout.decode_index(p.layout.index_of(shard), "c/0/0")
    counting = _Counting(native._native)
    monkeypatch.setattr(native, "_native", counting)
    last = int(np.argmax(table[:, 0]))  # the inner chunk stored last: cut off
    store["c/0/0"] = shard[: int(table[last, 0]) + 3]
    if last:  # the first inner chunk is whole: read
        np.testing.assert_array_equal(read(p, (slice(0, 4), slice(0, 4))), data[:4, :4])
    with pytest.raises(CorruptChunkError, match="c/0/0.*past the end"):
        read(p)
    assert native.Reason.RANGE_OUT_OF_FILE in counting.reasons
    broken = bytearray(shard)
    first = int(np.argmin(table[:, 0]))
    offset, n = int(table[first, 0]), int(table[first, 1])
    broken[offset : offset + n] = b"\xff" * n
    if compressor is None:  # raw bytes are never wrong: a shorter range instead
        table[first, 1] -= 1
        broken[: p.layout.index_nbytes] = p.layout.encode_index(table)
    store["c/0/0"] = bytes(broken)
    with pytest.raises(CorruptChunkError, match="c/0/0"):
        read(p)


@needs_native
def test_small_reads_of_shards_stay_in_python(tmp_path: Any, monkeypatch: Any) -> None:
    """Reads touching fewer than ``SHARD_LOOP_MIN`` inner chunks take the Python path."""
    monkeypatch.setattr(compiled, "SHARD_LOOP_MIN", 8)
    meta = sharded_meta((16, 16), (16, 16), (2, 2), compressor="blosc")
    p = pipe(meta, DirectoryStore(str(tmp_path)))
    data = np.arange(256, dtype="<i4").reshape(16, 16)
    write(p, data)
    counting = _Counting(native._native)
    monkeypatch.setattr(native, "_native", counting)
    np.testing.assert_array_equal(read(p, (slice(1, 5), slice(3, 6))), data[1:5, 3:6])  # 6
    np.testing.assert_array_equal(read(p, (3, slice(None))), data[3])  # 8 chunks
    assert counting.rows == 8
    np.testing.assert_array_equal(read(p), data)
    assert counting.rows == 8 + 64
