"""Zarr v3 crosses between zarrkit and tensorstore's ``zarr3`` driver through a directory.

tensorstore is an independent C++ implementation of Zarr v3 (sharding included), so agreement
with it checks the format rather than a shared Python code path. Data are checked against
NumPy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrkit

ts = pytest.importorskip("tensorstore")

BYTES = {"name": "bytes", "configuration": {"endian": "little"}}
INDEX = [BYTES, {"name": "crc32c"}]


def _open(path: Path, **kwargs: Any) -> Any:
    spec: dict[str, Any] = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}}
    if "metadata" in kwargs:
        spec["metadata"] = kwargs.pop("metadata")
    return ts.open(spec, **kwargs).result()


def _data(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(11)
    n = int(np.prod(shape))
    if dtype == "bool":
        return (rng.integers(0, 2, n) == 1).reshape(shape)
    return (rng.normal(size=n) * 40).astype(dtype).reshape(shape)


@pytest.mark.parametrize(
    "compressor",
    ["default", numcodecs.Blosc(), numcodecs.Zstd(level=2), numcodecs.GZip(), None],
    ids=["default", "blosc", "zstd", "gzip", "none"],
)
@pytest.mark.parametrize("shards", [None, (4, 6)], ids=["chunks", "shards"])
@pytest.mark.parametrize("dtype", ["int16", "uint64", "float32", "complex64", "bool"])
def test_tensorstore_reads_zarrkit(
    tmp_path: Path, compressor: Any, shards: Any, dtype: str
) -> None:
    d = _data(dtype, (9, 11))
    kw: dict[str, Any] = {} if isinstance(compressor, str) else {"compressor": compressor}
    z = zarrkit.create(
        store=str(tmp_path / "a"), shape=d.shape, chunks=(2, 3), shards=shards, dtype=dtype,
        zarr_format=3, dimension_names=["y", "x"], **kw,
    )  # fmt: skip
    z[...] = d
    t = _open(tmp_path / "a", open=True)
    np.testing.assert_array_equal(t.read().result(), d)
    assert list(t.domain.labels) == ["y", "x"]
    np.testing.assert_array_equal(t[2:7, 3:10].read().result(), d[2:7, 3:10])


def test_tensorstore_reads_zarrkit_partial_shard_writes(tmp_path: Path) -> None:
    z = zarrkit.create(
        store=str(tmp_path / "a"), shape=(10, 10), chunks=(2, 2), shards=(6, 6), dtype="i4",
        fill_value=-1, zarr_format=3, write_empty_chunks=False,
    )  # fmt: skip
    expected = np.full((10, 10), -1, dtype="i4")
    z[1:4, 1:8] = 5
    expected[1:4, 1:8] = 5
    z[0:2, 0:2] = -1  # an inner chunk back to the fill value: not stored
    expected[0:2, 0:2] = -1
    z.resize(8, 10)
    np.testing.assert_array_equal(_open(tmp_path / "a", open=True).read().result(), expected[:8])


def _ts_metadata(sharded: bool, index_location: str = "end") -> dict[str, Any]:
    inner = [BYTES, {"name": "gzip", "configuration": {"level": 5}}]
    if not sharded:
        grid, codecs = [3, 4], inner
    else:
        shard = {
            "name": "sharding_indexed",
            "configuration": {
                "chunk_shape": [2, 3],
                "codecs": inner,
                "index_codecs": INDEX,
                "index_location": index_location,
            },
        }
        grid, codecs = [4, 6], [shard]
    return {
        "shape": [10, 9],
        "data_type": "int16",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": grid}},
        "codecs": codecs,
        "fill_value": 7,
        "dimension_names": ["t", None],
    }


@pytest.mark.parametrize(
    ("sharded", "index_location"),
    [(False, "end"), (True, "end"), (True, "start")],
    ids=["chunks", "shards-end", "shards-start"],
)
def test_zarrkit_reads_tensorstore(tmp_path: Path, sharded: bool, index_location: str) -> None:
    d = np.arange(90, dtype="i2").reshape(10, 9)
    t = _open(tmp_path / "a", metadata=_ts_metadata(sharded, index_location), create=True)
    t[0:8, 0:7] = d[0:8, 0:7]
    t[9, 8] = d[9, 8]
    expected = np.full((10, 9), 7, dtype="i2")
    expected[0:8, 0:7] = d[0:8, 0:7]
    expected[9, 8] = d[9, 8]
    z = zarrkit.open_array(str(tmp_path / "a"), mode="r+")
    assert z.shards == ((4, 6) if sharded else None)
    assert z.dimension_names == ("t", None)
    np.testing.assert_array_equal(z[...], expected)
    np.testing.assert_array_equal(z.oindex[[9, 1], [8, 0]], expected[np.ix_([9, 1], [8, 0])])
    # and back: zarrkit writes into tensorstore's chunks (shards), tensorstore reads them
    z[5:10, 4:9] = -d[5:10, 4:9]
    expected[5:10, 4:9] = -d[5:10, 4:9]
    np.testing.assert_array_equal(t.read().result(), expected)


@pytest.mark.parametrize("shards", [None, (4, 6)], ids=["chunks", "shards"])
def test_tensorstore_reads_zarrkit_order_f(tmp_path: Path, shards: Any) -> None:
    # order='F' is a transpose codec in zarr.json (outside the shards when sharded)
    d = np.arange(90, dtype="i4").reshape(10, 9)
    z = zarrkit.create(
        store=str(tmp_path / "a"), shape=d.shape, chunks=(2, 3), shards=shards, dtype="i4",
        order="F", zarr_format=3, dimension_names=["a", None],
    )  # fmt: skip
    z[...] = d
    t = _open(tmp_path / "a", open=True)
    np.testing.assert_array_equal(t.read().result(), d)
    assert list(t.domain.labels) == ["a", ""]


def _ts_nested_metadata(location: str) -> dict[str, Any]:
    """Shards of (8, 6) holding inner shards of (4, 3) holding chunks of (2, 1)."""
    inner = [BYTES, {"name": "zstd", "configuration": {"level": 2, "checksum": False}}]
    for shape in ([2, 1], [4, 3]):
        config = {
            "chunk_shape": shape,
            "codecs": inner,
            "index_codecs": INDEX,
            "index_location": location,
        }
        inner = [{"name": "sharding_indexed", "configuration": config}]
    return {
        "shape": [10, 9],
        "data_type": "int16",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [8, 6]}},
        "codecs": inner,
        "fill_value": 7,
    }


@pytest.mark.parametrize("location", ["end", "start"])
def test_nested_shards_with_tensorstore(tmp_path: Path, location: str) -> None:
    d = np.arange(90, dtype="i2").reshape(10, 9)
    t = _open(tmp_path / "a", metadata=_ts_nested_metadata(location), create=True)
    t[0:8, 0:7] = d[0:8, 0:7]
    t[9, 8] = d[9, 8]
    expected = np.full((10, 9), 7, dtype="i2")
    expected[0:8, 0:7] = d[0:8, 0:7]
    expected[9, 8] = d[9, 8]
    z = zarrkit.open_array(str(tmp_path / "a"), mode="r+")
    assert z._meta.shard_shapes == ((8, 6), (4, 3)) and z.chunks == (2, 1)
    np.testing.assert_array_equal(z[...], expected)
    np.testing.assert_array_equal(z[3:9, 2:8], expected[3:9, 2:8])
    np.testing.assert_array_equal(z.vindex[[9, 1, 5], [8, 0, 4]], expected[[9, 1, 5], [8, 0, 4]])
    # and back: zarrkit writes into tensorstore's shards, tensorstore reads them
    z[5:10, 4:9] = -d[5:10, 4:9]
    expected[5:10, 4:9] = -d[5:10, 4:9]
    np.testing.assert_array_equal(t.read().result(), expected)


def test_tensorstore_reads_zarrkit_nested_shards(tmp_path: Path) -> None:
    d = _data("int32", (13, 10))
    z = zarrkit.open_array(
        str(tmp_path / "a"), mode="w", shape=d.shape, chunks=(2, 2), shards=[(8, 8), (4, 4)],
        dtype="int32", fill_value=0, compressor=numcodecs.Blosc(), zarr_format=3,
        write_empty_chunks=False,
    )  # fmt: skip
    z[:] = d
    z[0:4, 0:4] = 0  # an inner shard of fill values: left out of its shard
    d[0:4, 0:4] = 0
    np.testing.assert_array_equal(_open(tmp_path / "a").read().result(), d)
