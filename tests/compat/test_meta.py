"""zarrkit.meta / zarrkit.meta_v1: zarr 2's dict view of metadata, byte for byte with zarr 2."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from numcodecs import Blosc, Zlib

from conftest import needs_zarr2
from zarrkit import meta, meta_v1
from zarrkit.errors import MetadataError
from zarrkit.storage import KVStore, MemoryStore, migrate_1to2

ARRAY_DICTS = [
    dict(
        shape=(2000,),
        chunks=(200,),
        dtype=np.dtype("u1"),
        compressor=Zlib(1).get_config(),
        fill_value=0,
        order="F",
        filters=None,
    ),
    dict(
        shape=(10, 20),
        chunks=(5, 5),
        dtype=np.dtype("<f8"),
        compressor=None,
        fill_value=float("nan"),
        order="C",
        filters=[{"id": "delta", "dtype": "<f8"}],
        dimension_separator="/",
    ),
    dict(
        shape=(3,),
        chunks=(3,),
        dtype=np.dtype([("a", "<i4"), ("b", "S2")]),
        compressor=Blosc().get_config(),
        fill_value=None,
        order="C",
        filters=None,
    ),
    dict(
        shape=(),
        chunks=(),
        dtype=np.dtype("<c16"),
        compressor=None,
        fill_value=1 + 2j,
        order="C",
        filters=None,
    ),
]


@pytest.mark.parametrize("doc", ARRAY_DICTS, ids=["u1", "f8-nested", "structured", "complex"])
def test_array_round_trip(doc: dict) -> None:
    out = meta.decode_array_metadata(meta.encode_array_metadata(doc))
    assert out["zarr_format"] == meta.ZARR_FORMAT == 2
    assert out["shape"] == doc["shape"] and isinstance(out["shape"], tuple)
    assert out["chunks"] == doc["chunks"]
    assert out["dtype"] == doc["dtype"]
    assert out["compressor"] == doc["compressor"]
    assert out["filters"] == doc["filters"]
    assert out.get("dimension_separator") == doc.get("dimension_separator")
    assert np.array_equal(out["fill_value"], doc["fill_value"], equal_nan=doc["dtype"].kind == "f")


@needs_zarr2
@pytest.mark.parametrize("doc", ARRAY_DICTS, ids=["u1", "f8-nested", "structured", "complex"])
def test_array_bytes_as_zarr2(doc: dict) -> None:
    import zarr.meta

    ours = meta.encode_array_metadata(doc)
    assert ours == zarr.meta.encode_array_metadata(dict(doc))
    theirs = zarr.meta.decode_array_metadata(ours)
    mine = meta.decode_array_metadata(ours)
    assert set(mine) == set(theirs)
    for key in set(mine) - {"fill_value"}:
        assert mine[key] == theirs[key]
    nan_ok = doc["dtype"].kind == "f"
    assert np.array_equal(mine["fill_value"], theirs["fill_value"], equal_nan=nan_ok)


def test_decode_accepts_parsed_documents() -> None:
    raw = meta.encode_array_metadata(ARRAY_DICTS[0])
    assert meta.decode_array_metadata(json.loads(raw))["shape"] == (2000,)
    assert meta.decode_group_metadata({"zarr_format": 2}) == {"zarr_format": 2}
    with pytest.raises(MetadataError):
        meta.decode_group_metadata(b'{"zarr_format": 3}')


def test_group_bytes() -> None:
    assert meta.encode_group_metadata() == b'{\n    "zarr_format": 2\n}'
    assert meta.decode_group_metadata(meta.encode_group_metadata()) == {"zarr_format": 2}


def test_store_metadata_class() -> None:
    store = MemoryStore()
    store[".zarray"] = store._metadata_class.encode_array_metadata(ARRAY_DICTS[0])
    assert store._metadata_class is meta.Metadata2
    assert store._metadata_class.decode_array_metadata(store[".zarray"])["order"] == "F"


V1 = dict(
    shape=(100,),
    chunks=(10,),
    dtype=np.dtype("f4"),
    compression="zlib",
    compression_opts=1,
    fill_value=None,
    order="C",
)


@pytest.mark.parametrize(
    "compression, opts, expected",
    [
        ("zlib", 1, Zlib(1).get_config()),
        ("blosc", dict(cname="lz4", clevel=5, shuffle=1), Blosc("lz4", 5, 1).get_config()),
        ("none", None, None),
    ],
)
@pytest.mark.parametrize("wrap", [dict, KVStore], ids=["dict", "KVStore"])
def test_migrate_1to2(compression: str, opts: Any, expected: Any, wrap: Any) -> None:
    store = wrap({})
    v1 = dict(V1, compression=compression, compression_opts=opts)
    store["meta"] = meta_v1.encode_metadata(v1)
    store["attrs"] = b'{"a": 1}'
    migrate_1to2(store)
    assert set(store) == {".zarray", ".zattrs"}
    out = meta.decode_array_metadata(store[".zarray"])
    assert out["compressor"] == expected and out["filters"] is None
    assert out["shape"] == v1["shape"] and out["dtype"] == v1["dtype"]
    assert store[".zattrs"] == b'{"a": 1}'


@needs_zarr2
def test_meta_v1_bytes_as_zarr2() -> None:
    import zarr.meta_v1

    assert meta_v1.encode_metadata(V1) == zarr.meta_v1.encode_metadata(V1)
    assert meta_v1.decode_metadata(meta_v1.encode_metadata(V1)) == zarr.meta_v1.decode_metadata(
        meta_v1.encode_metadata(V1)
    )


def test_meta_v1_rejects_other_formats() -> None:
    with pytest.raises(ValueError, match="format 1"):
        meta_v1.decode_metadata(meta.encode_group_metadata())
