"""N5: the format translation, the block codec, N5Store, and interop with zarr 2 and
tensorstore."""

from __future__ import annotations

import json
import lzma
import os
import pickle
import struct
import threading
import warnings

import numcodecs
import numpy as np
import pytest
import zarr

import zarrkit
from conftest import needs_zarr2
from zarrkit.errors import MetadataError
from zarrkit.formats import n5 as fmt
from zarrkit.formats.meta import ArrayMeta
from zarrkit.n5 import N5ChunkWrapper, N5Store

N5_TYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
            "float32", "float64"]  # fmt: skip

COMPRESSORS = [
    None,
    numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE),
    numcodecs.GZip(level=4),
    numcodecs.Zlib(level=2),
    numcodecs.BZ2(level=7),
    numcodecs.LZMA(preset=2),
    numcodecs.LZ4(acceleration=2),
    numcodecs.Zstd(level=5),
]


def _attrs(path: str) -> dict:
    with open(os.path.join(path, "attributes.json")) as f:
        return json.load(f)


def _sample(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    rng = np.random.default_rng(42)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "ui" else None
    if info is not None:
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return rng.standard_normal(shape).astype(dtype)


# -- format translation --------------------------------------------------------------------


@pytest.mark.parametrize("compressor", COMPRESSORS, ids=lambda c: type(c).__name__)
def test_compression_round_trip(compressor: numcodecs.abc.Codec | None) -> None:
    config = None if compressor is None else compressor.get_config()
    n5_config = fmt.compression_to_n5(config, np.dtype("u2"))
    assert "type" in n5_config
    back = fmt.compression_from_n5(json.loads(json.dumps(n5_config)))
    if compressor is None:
        assert n5_config == {"type": "raw"} and back is None
    else:
        assert numcodecs.get_codec(back).get_config() == compressor.get_config()


def test_compression_names_follow_n5() -> None:
    # names and members as the N5 specification and its blosc extension spell them
    assert fmt.compression_to_n5(numcodecs.BZ2(3).get_config()) == {"type": "bzip2", "blockSize": 3}
    assert fmt.compression_to_n5(numcodecs.LZMA().get_config()) == {"type": "xz", "preset": 6}
    gz = fmt.compression_to_n5(numcodecs.GZip(5).get_config())
    assert gz == {"type": "gzip", "level": 5, "useZlib": False}
    auto = numcodecs.Blosc(shuffle=numcodecs.Blosc.AUTOSHUFFLE).get_config()
    assert fmt.compression_to_n5(auto, np.dtype("u1"))["shuffle"] == numcodecs.Blosc.BITSHUFFLE
    assert fmt.compression_to_n5(auto, np.dtype("f8"))["shuffle"] == numcodecs.Blosc.SHUFFLE
    # defaults of the N5 specification when members are left out
    assert fmt.compression_from_n5({"type": "bzip2"}) == {"id": "bz2", "level": 9}
    assert fmt.compression_from_n5({"type": "gzip"}) == {"id": "gzip", "level": -1}
    assert fmt.compression_from_n5({"type": "xz"})["preset"] == 6


def test_compression_refused() -> None:
    with pytest.raises(ValueError, match="xz"):
        fmt.compression_to_n5(numcodecs.LZMA(format=lzma.FORMAT_ALONE).get_config())
    with pytest.raises(ValueError, match="checksum"):
        fmt.compression_to_n5({"id": "zstd", "level": 1, "checksum": True})
    with pytest.raises(ValueError, match="no compression"):
        fmt.compression_to_n5(numcodecs.Delta(dtype="i4").get_config())
    with pytest.raises(MetadataError):
        fmt.compression_from_n5({"type": "snappy-of-the-future"})
    with pytest.raises(MetadataError):
        fmt.compression_from_n5("gzip")


def test_array_attrs_round_trip() -> None:
    meta = ArrayMeta(
        shape=(10, 20, 30),
        chunks=(4, 5, 6),
        dtype=np.dtype(">i8"),
        fill_value=0,
        compressor=numcodecs.Zstd(1).get_config(),
    )
    attrs = fmt.encode_array_attrs(meta)
    assert attrs["dimensions"] == [30, 20, 10]
    assert attrs["blockSize"] == [6, 5, 4]
    assert attrs["dataType"] == "int64"
    back = fmt.decode_array_attrs(attrs)
    assert back.shape == meta.shape and back.chunks == meta.chunks
    assert back.dtype == np.dtype("int64") and back.fill_value == 0 and back.order == "C"
    assert back.compressor["id"] == N5ChunkWrapper.codec_id
    inner = numcodecs.get_codec(back.compressor["compressor_config"])
    assert inner.get_config() == numcodecs.get_codec(meta.compressor).get_config()
    # the wrapper configuration goes back to the inner compressor (zarr 2's wrapper too)
    assert fmt.encode_array_attrs(back) == attrs
    zarr2_style = {"id": "n5_wrapper", "compressor_config": meta.compressor}
    assert fmt.compression_to_n5(zarr2_style) == attrs["compression"]


@pytest.mark.parametrize(
    "change, match",
    [
        ({"fill_value": 3}, "fill_value"),
        ({"order": "F"}, "order"),
        ({"filters": ({"id": "delta", "dtype": "<i4"},)}, "filters"),
        ({"dtype": np.dtype(bool)}, "data type"),
        ({"dtype": np.dtype("c8")}, "data type"),
        ({"shape": (), "chunks": ()}, "dimension"),
    ],
)
def test_array_attrs_refused(change: dict, match: str) -> None:
    base = {"shape": (4, 4), "chunks": (2, 2), "dtype": np.dtype("<i4"), "fill_value": 0}
    with pytest.raises(ValueError, match=match):
        fmt.encode_array_attrs(ArrayMeta(**{**base, **change}))


def test_decode_array_attrs_errors() -> None:
    with pytest.raises(MetadataError, match="blockSize"):
        fmt.decode_array_attrs({"dimensions": [3], "dataType": "uint8", "compression": {}})
    good = {
        "dimensions": [3],
        "blockSize": [2],
        "dataType": "uint8",
        "compression": {"type": "raw"},
    }
    with pytest.raises(MetadataError, match="data type"):
        fmt.decode_array_attrs({**good, "dataType": "object"})
    with pytest.raises(MetadataError):
        fmt.decode_array_attrs({**good, "blockSize": [0]})


# -- block codec ---------------------------------------------------------------------------


def test_block_matches_spec_example() -> None:
    # the N5 specification's example: a 3-d uint16 block of 1x2x3 items 1..6, raw
    expected = bytes.fromhex("00000003000000010000000200000003")
    expected += b"".join(struct.pack(">H", v) for v in range(1, 7))
    # zarrkit's axes are N5's reversed, so the block is (3, 2, 1) here, items in C order
    codec = N5ChunkWrapper("<u2", (3, 2, 1))
    block = codec.encode(np.arange(1, 7, dtype="<u2").reshape(3, 2, 1))
    assert block == expected
    np.testing.assert_array_equal(codec.decode(block).ravel(), np.arange(1, 7))


@pytest.mark.parametrize("dtype", N5_TYPES)
@pytest.mark.parametrize("compressor", COMPRESSORS, ids=lambda c: type(c).__name__)
def test_wrapper_round_trip(dtype: str, compressor: numcodecs.abc.Codec | None) -> None:
    codec = N5ChunkWrapper(np.dtype(dtype).str, (4, 3), compressor=compressor)
    chunk = _sample((4, 3), dtype)
    block = codec.encode(chunk)
    shape, start, _ = fmt.decode_block_header(block)
    assert shape == (4, 3)
    payload = block[start:] if compressor is None else compressor.decode(block[start:])
    # the items are stored big-endian
    stored = np.frombuffer(payload, dtype=np.dtype(dtype).newbyteorder(">")).reshape(4, 3)
    np.testing.assert_array_equal(stored, chunk)
    np.testing.assert_array_equal(codec.decode(block), chunk)
    out = np.empty(12, dtype=dtype)
    codec.decode(block, out=out)
    np.testing.assert_array_equal(out.reshape(4, 3), chunk)
    # through the numcodecs registry, as the chunk pipeline builds it
    again = numcodecs.get_codec(codec.get_config())
    np.testing.assert_array_equal(again.decode(block), chunk)


def test_truncated_block_is_padded_with_zeros() -> None:
    codec = N5ChunkWrapper("<i4", (4, 4), compressor=numcodecs.Zlib(1))
    part = np.arange(6, dtype="<i4").reshape(2, 3) + 1
    block = codec.encode(part)
    assert fmt.decode_block_header(block)[0] == (2, 3)
    full = codec.decode(block)
    expected = np.zeros((4, 4), dtype="<i4")
    expected[:2, :3] = part
    np.testing.assert_array_equal(full, expected)
    out = np.full(16, 99, dtype="<i4")
    codec.decode(block, out=out)
    np.testing.assert_array_equal(out.reshape(4, 4), expected)
    np.testing.assert_array_equal(
        codec.decode(codec.resize_block(codec.encode(full), (2, 3))), full
    )


def test_block_modes() -> None:
    codec = N5ChunkWrapper("<u1", (3,))
    varlength = struct.pack(">HHII", 1, 1, 3, 3) + bytes([7, 8, 9])
    np.testing.assert_array_equal(codec.decode(varlength), [7, 8, 9])
    with pytest.raises(ValueError, match="mode 2"):
        codec.decode(struct.pack(">HHI", 2, 1, 3) + bytes(3))
    with pytest.raises(ValueError, match="does not fit"):
        codec.decode(N5ChunkWrapper("<u1", (5,)).encode(np.zeros(5, "u1")))
    with pytest.raises(ValueError, match="shorter"):
        codec.decode(b"\x00\x00\x00")


# -- N5Store -------------------------------------------------------------------------------


@pytest.fixture
def n5_path(tmp_path: os.PathLike) -> str:
    return str(tmp_path / "data.n5")


def test_tutorial_example(n5_path: str) -> None:
    store = N5Store(n5_path)
    root = zarrkit.group(store=store)
    z = root.zeros("foo/bar", shape=(1000, 1000), chunks=(100, 100), dtype="i4")
    z[:] = 42
    assert _attrs(n5_path) == {"n5": fmt.N5_VERSION}
    bar = _attrs(os.path.join(n5_path, "foo", "bar"))
    assert bar["dimensions"] == [1000, 1000] and bar["dataType"] == "int32"
    assert bar["compression"]["type"] == "blosc"
    assert "n5" not in bar
    again = zarrkit.open_group(N5Store(n5_path), mode="r")["foo/bar"]
    assert again.nchunks_initialized == 100
    np.testing.assert_array_equal(again[:], np.full((1000, 1000), 42, dtype="i4"))


def test_open_path_ending_in_n5(n5_path: str) -> None:
    root = zarrkit.open(n5_path, mode="w")
    assert isinstance(root, zarrkit.Group) and isinstance(root.store, N5Store)
    assert isinstance(zarrkit.storage.normalize_store_arg(n5_path + "/"), N5Store)
    z = zarrkit.open(
        n5_path, mode="a", path="arr", shape=(5,), chunks=(2,), dtype="u1", compressor=None
    )
    z[:] = [1, 2, 3, 4, 5]
    assert os.path.isfile(os.path.join(n5_path, "arr", "attributes.json"))
    assert (
        open(os.path.join(n5_path, "arr", "2"), "rb").read()
        == struct.pack(">HHI", 0, 1, 1) + b"\x05"
    )


@pytest.mark.parametrize("dtype", N5_TYPES)
def test_layout_and_edge_blocks(n5_path: str, dtype: str) -> None:
    data = _sample((7, 5, 3), dtype)
    z = zarrkit.create(
        shape=data.shape, chunks=(3, 2, 3), dtype=dtype, store=N5Store(n5_path), compressor=None
    )
    z[:] = data
    attrs = _attrs(n5_path)
    assert attrs["dimensions"] == [3, 5, 7] and attrs["blockSize"] == [3, 2, 3]
    for i in range(3):
        for j in range(3):
            block = open(os.path.join(n5_path, "0", str(j), str(i)), "rb").read()
            shape, start, _ = fmt.decode_block_header(block)
            # edge blocks are truncated to the array, not padded
            expected = data[3 * i : 3 * i + 3, 2 * j : 2 * j + 2, :]
            assert shape == expected.shape
            stored = np.frombuffer(block[start:], np.dtype(dtype).newbyteorder(">"))
            np.testing.assert_array_equal(stored.reshape(shape), expected)
    np.testing.assert_array_equal(zarrkit.open_array(N5Store(n5_path), mode="r")[:], data)


@pytest.mark.parametrize("compressor", COMPRESSORS, ids=lambda c: type(c).__name__)
def test_array_round_trip(n5_path: str, compressor: numcodecs.abc.Codec | None) -> None:
    data = _sample((23, 17), "float32")
    z = zarrkit.create(shape=data.shape, chunks=(5, 4), dtype="f4", store=N5Store(n5_path),
                       compressor=compressor)  # fmt: skip
    z[:] = data
    z[3:9, 2:15] = -1.5
    data[3:9, 2:15] = -1.5
    z.set_orthogonal_selection(([0, 22], slice(None)), 7.0)
    data[[0, 22], :] = 7.0
    again = zarrkit.open_array(N5Store(n5_path), mode="r")
    np.testing.assert_array_equal(again[:], data)
    np.testing.assert_array_equal(again[20:, 15:], data[20:, 15:])
    np.testing.assert_array_equal(
        again.vindex[[1, 22, 5], [0, 16, 3]], data[[1, 22, 5], [0, 16, 3]]
    )
    if compressor is not None:
        stored = again.compressor.get_config()["compressor_config"]
        assert stored == compressor.get_config()


def test_resize_append_and_missing_chunks(n5_path: str) -> None:
    z = zarrkit.zeros((5, 5), chunks=(2, 2), dtype="i2", store=N5Store(n5_path))
    z[:] = np.arange(25, dtype="i2").reshape(5, 5)
    expected = np.zeros((9, 6), dtype="i2")
    expected[:5, :5] = np.arange(25).reshape(5, 5)
    z.resize(9, 6)
    assert _attrs(n5_path)["dimensions"] == [6, 9]
    # the old edge blocks are truncated; what was outside the array reads as 0
    np.testing.assert_array_equal(z[:], expected)
    z.append(np.ones((1, 6), dtype="i2"))
    expected = np.vstack([expected, np.ones((1, 6), dtype="i2")])
    np.testing.assert_array_equal(zarrkit.open_array(N5Store(n5_path), mode="r")[:], expected)
    z.resize(3, 3)
    np.testing.assert_array_equal(z[:], expected[:3, :3])
    assert not os.path.exists(os.path.join(n5_path, "0", "4"))


def test_empty_uses_fill_value_none(n5_path: str) -> None:
    z = zarrkit.empty((4,), chunks=(2,), dtype="u8", store=N5Store(n5_path))
    assert z.fill_value == 0  # N5 has no fill value: absent blocks read as 0
    np.testing.assert_array_equal(z[:], np.zeros(4, "u8"))


def test_unsupported_arrays_refused(n5_path: str) -> None:
    store = N5Store(n5_path)
    with pytest.raises(ValueError, match="fill_value"):
        zarrkit.full((4,), 5, chunks=(2,), dtype="i4", store=store)
    with pytest.raises(ValueError, match="order"):
        zarrkit.zeros((4, 4), chunks=(2, 2), order="F", store=store, overwrite=True)
    with pytest.raises(ValueError, match="data type"):
        zarrkit.zeros((4,), chunks=(2,), dtype="bool", store=store, overwrite=True)
    with pytest.raises(ValueError, match="filters"):
        zarrkit.zeros((4,), chunks=(2,), dtype="i4", store=store, overwrite=True,
                      filters=[numcodecs.Delta(dtype="i4")])  # fmt: skip


def test_attributes(n5_path: str) -> None:
    store = N5Store(n5_path)
    root = zarrkit.group(store=store)
    assert ".zattrs" not in store
    root.attrs["title"] = "hello"
    z = root.zeros("a", shape=(3,), chunks=(2,))
    z.attrs.update(units="m", scale=[1, 2])
    assert _attrs(n5_path) == {"n5": fmt.N5_VERSION, "title": "hello"}
    a = _attrs(os.path.join(n5_path, "a"))
    assert a["units"] == "m" and a["scale"] == [1, 2] and a["dimensions"] == [3]
    assert json.loads(store["a/.zattrs"]) == {"units": "m", "scale": [1, 2]}
    with pytest.raises(ValueError, match="reserved"):
        z.attrs["dimensions"] = [1]
    del z.attrs["units"]
    del z.attrs["scale"]
    assert ".zattrs" not in store.listdir("a")
    assert "a/.zarray" in store and z.shape == (3,)
    # a dataset written without attributes of ours still shows its user attributes
    assert zarrkit.open_group(N5Store(n5_path), mode="r").attrs["title"] == "hello"


def test_metadata_and_attributes_share_one_file_safely(n5_path: str) -> None:
    z = zarrkit.zeros((10, 10), chunks=(5, 5), store=N5Store(n5_path))

    def resize() -> None:
        for i in range(1, 101):
            z.resize(10 + i, 10)

    def set_attrs() -> None:
        for i in range(100):
            z.attrs[f"a{i}"] = i

    threads = [threading.Thread(target=resize), threading.Thread(target=set_attrs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    attrs = _attrs(n5_path)
    assert attrs["dimensions"] == [10, 110]
    assert all(attrs[f"a{i}"] == i for i in range(100))


def test_keys_listing_and_hierarchy(n5_path: str) -> None:
    store = N5Store(n5_path)
    root = zarrkit.group(store=store)
    g = root.create_group("g1")
    g.create_group("g2")
    z = g.zeros("arr", shape=(4, 6), chunks=(2, 4), dtype="u1")
    z[:2, :] = 1
    assert sorted(store) == sorted(
        [".zgroup", "g1/.zgroup", "g1/g2/.zgroup", "g1/arr/.zarray", "g1/arr/0.0", "g1/arr/0.1"]
    )
    assert len(store) == 6
    assert store.listdir() == [".zgroup", "g1"]
    assert store.listdir("g1") == [".zgroup", "arr", "g2"]
    assert store.listdir("g1/arr") == [".zarray", "0.0", "0.1"]
    assert store.keys_under("g1/arr") == [".zarray", "0.0", "0.1"]
    assert "g1/arr/0.1" in store and "g1/arr/1.0" not in store
    assert os.path.isfile(os.path.join(n5_path, "g1", "arr", "1", "0"))
    assert z.nchunks_initialized == 2
    assert list(root.group_keys()) == ["g1"]
    assert sorted(g) == ["arr", "g2"]
    assert store.getsize("g1/arr/0.1") == os.path.getsize(
        os.path.join(n5_path, "g1", "arr", "1", "0")
    )
    assert z.nbytes_stored == sum(
        os.path.getsize(os.path.join(d, f))
        for d, _, fs in os.walk(os.path.join(n5_path, "g1", "arr"))
        for f in fs
    )
    # batched access maps keys both ways
    found = store.getitems(["g1/arr/0.0", "g1/arr/1.1", "g1/arr/.zarray", ".zattrs"])
    assert sorted(found) == ["g1/arr/.zarray", "g1/arr/0.0"]
    store.delitems(["g1/arr/0.0", "g1/arr/1.1"])
    assert z.nchunks_initialized == 1
    g.move("arr", "moved")
    assert sorted(g) == ["g2", "moved"]
    np.testing.assert_array_equal(g["moved"][:2, 4:], 1)
    del g["moved"]
    assert sorted(g) == ["g2"]
    store.rmdir("g1")
    assert sorted(store) == [".zgroup"]


def test_directories_are_groups(n5_path: str) -> None:
    # N5: in a container (root attributes.json with "n5", as n5-java writes it) every
    # directory is a group, with or without attributes.json
    os.makedirs(os.path.join(n5_path, "plain", "deeper"))
    with open(os.path.join(n5_path, "attributes.json"), "w") as f:
        json.dump({"n5": "2.0.0"}, f)
    store = N5Store(n5_path)
    assert ".zgroup" in store and "plain/.zgroup" in store and "plain/deeper/.zgroup" in store
    root = zarrkit.open_group(store, mode="r")
    assert list(root) == ["plain"] and list(root["plain"]) == ["deeper"]
    # ... but not the block directories inside a dataset
    z = zarrkit.zeros((4, 4), chunks=(2, 2), store=store, path="plain/arr")
    z[:] = 1
    assert "plain/arr/0/.zgroup" not in store
    assert sorted(zarrkit.open_group(store, mode="r")["plain"]) == ["arr", "deeper"]
    assert ".zgroup" not in N5Store(n5_path + "-missing")


def test_plain_folders_are_not_groups(tmp_path) -> None:
    # without N5 nodes or a root "n5" member, folders of files are plain folders (zarr 2):
    # an empty or file-only directory can take a new array at its root
    store = N5Store(str(tmp_path))
    store["c/d"] = b"ddd"
    assert ".zgroup" not in store and "c/.zgroup" not in store
    assert sorted(store) == ["c/d"] and store.listdir() == ["c"]
    z = zarrkit.zeros(5, chunks=2, dtype="i4", store=N5Store(str(tmp_path / "empty")))
    z[:] = 3
    # a folder above a dataset is a group even without attributes.json (tensorstore)
    os.makedirs(tmp_path / "ts" / "a")
    zarrkit.zeros(4, chunks=2, store=N5Store(str(tmp_path / "ts" / "a")), path="b")
    os.remove(tmp_path / "ts" / "a" / "attributes.json")
    store = N5Store(str(tmp_path / "ts"))
    assert ".zgroup" in store and "a/.zgroup" in store
    assert [k for k in store if k.endswith((".zgroup", ".zarray"))] == [
        ".zgroup", "a/.zgroup", "a/b/.zarray"
    ]  # fmt: skip


def test_raw_keys_pass_through(n5_path: str) -> None:
    store = N5Store(n5_path)
    zarrkit.group(store=store)
    store["notes.txt"] = b"hello"
    assert open(os.path.join(n5_path, "notes.txt"), "rb").read() == b"hello"
    assert "notes.txt" in list(store)
    zarrkit.consolidate_metadata(store)
    root = zarrkit.open_consolidated(store)
    assert isinstance(root, zarrkit.Group)
    del store["notes.txt"]
    with pytest.raises(KeyError):
        store["notes.txt"]
    with pytest.raises(KeyError):
        del store["nothing/0.0"]


def test_pickle(n5_path: str) -> None:
    z = zarrkit.zeros((6,), chunks=(4,), dtype="i8", store=N5Store(n5_path))
    z[:] = 3
    store = pickle.loads(pickle.dumps(z.store))
    assert store == z.store and type(store).__module__ == "zarrkit.n5"
    z2 = pickle.loads(pickle.dumps(z))
    np.testing.assert_array_equal(z2[:], np.full(6, 3))
    assert zarrkit.N5Store is zarrkit.storage.N5Store is N5Store


def test_read_only_store(n5_path: str) -> None:
    zarrkit.zeros((4,), chunks=(2,), store=N5Store(n5_path))
    z = zarrkit.open_array(n5_path, mode="r")
    with pytest.raises(zarrkit.errors.ReadOnlyError):
        z[:] = 1


# -- interop -------------------------------------------------------------------------------


@needs_zarr2
def test_zarr2_reads_zarrkit(n5_path: str) -> None:
    data = _sample((13, 11), "int16")
    root = zarrkit.group(store=N5Store(n5_path))
    z = root.create_dataset("x/y", shape=data.shape, chunks=(4, 3), dtype="i2",
                            compressor=numcodecs.GZip(3))  # fmt: skip
    z[:] = data
    z.attrs["a"] = 1
    root.attrs["b"] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = zarr.open_group(zarr.N5Store(n5_path), mode="r")
    np.testing.assert_array_equal(ref["x/y"][:], data)
    assert ref["x/y"].attrs.asdict() == {"a": 1}
    assert ref.attrs.asdict() == {"b": 2}
    assert list(ref["x"]) == ["y"]


@needs_zarr2
def test_zarrkit_reads_zarr2(n5_path: str) -> None:
    data = _sample((13, 11), "float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = zarr.open_group(zarr.N5Store(n5_path), mode="w")
        z = ref.create_dataset("x/y", shape=data.shape, chunks=(4, 3), dtype="f8",
                               compressor=numcodecs.BZ2(5))  # fmt: skip
        z[:] = data  # zarr 2 writes edge blocks padded to the full block
        z.attrs["a"] = [1, 2]
    root = zarrkit.open_group(N5Store(n5_path), mode="r")
    np.testing.assert_array_equal(root["x/y"][:], data)
    assert root["x/y"].attrs.asdict() == {"a": [1, 2]}
    assert list(root) == ["x"] and list(root["x"]) == ["y"]
    # zarrkit updates zarr 2's data in place: edge blocks become truncated
    w = zarrkit.open_array(N5Store(n5_path), path="x/y", mode="r+")
    w[12, :] = -1
    data[12, :] = -1
    np.testing.assert_array_equal(ref["x/y"][:], data)


TS_COMPRESSIONS = [None, numcodecs.Blosc(), numcodecs.GZip(6), numcodecs.Zlib(3),
                   numcodecs.BZ2(4), numcodecs.LZMA(preset=1), numcodecs.Zstd(3)]  # fmt: skip


@pytest.mark.parametrize("compressor", TS_COMPRESSIONS, ids=lambda c: type(c).__name__)
def test_tensorstore_reads_zarrkit(n5_path: str, compressor: numcodecs.abc.Codec | None) -> None:
    import tensorstore as ts

    data = _sample((9, 7, 5), "uint16")
    z = zarrkit.create(shape=data.shape, chunks=(4, 3, 5), dtype="u2", compressor=compressor,
                       store=N5Store(n5_path), path="arr")  # fmt: skip
    z[:] = data
    t = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": n5_path + "/arr"}}).result()
    # tensorstore keeps N5's axis order, the reverse of zarrkit's
    assert tuple(t.shape) == data.shape[::-1]
    np.testing.assert_array_equal(t.read().result(), data.transpose())


def test_zarrkit_reads_tensorstore(n5_path: str) -> None:
    import tensorstore as ts

    data = _sample((9, 7), "int64")
    spec = {
        "driver": "n5",
        "kvstore": {"driver": "file", "path": n5_path + "/a/b"},
        "metadata": {
            "dimensions": [7, 9],
            "blockSize": [3, 4],
            "dataType": "int64",
            "compression": {"type": "gzip"},
        },  # fmt: skip
        "create": True,
    }
    t = ts.open(spec).result()
    t[...] = data.transpose()
    t[1:3, :].write(np.full((2, 9), -5, dtype="i8")).result()
    data[:, 1:3] = -5
    root = zarrkit.open(n5_path, mode="r")
    # directories without attributes.json are N5 groups
    assert list(root) == ["a"] and list(root["a"]) == ["b"]
    np.testing.assert_array_equal(root["a/b"][:], data)
    # and zarrkit's writes read back in tensorstore
    w = zarrkit.open_array(n5_path, path="a/b", mode="r+")
    w[8, :] = 99
    data[8, :] = 99
    reopened = ts.open({"driver": "n5", "kvstore": spec["kvstore"]}).result()
    np.testing.assert_array_equal(reopened.read().result(), data.transpose())
