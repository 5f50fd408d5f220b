"""Zarr v3 ``zarr.json`` documents: ``zarrkit.formats.v3`` against zarr-python 3.

Arrays are created with zarr-python 3 on a ``MemoryStore``; their ``zarr.json`` is decoded
(the record's v2 terms checked) and encoded back, which must parse equal to zarr's bytes.
Records from v2 terms are compared with zarr-python 3's own conversion of the same v2 array
(``zarr.metadata.migrate_v3``). Bad documents are ``MetadataError`` naming the field.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from dataclasses import replace
from typing import Any

import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import needs_zarr3
from zarrkit.errors import MetadataError
from zarrkit.formats import v2, v3
from zarrkit.formats.meta import ArrayMeta, GroupMeta

# -- helpers -------------------------------------------------------------------------------


def _get(store: Any, key: str) -> bytes:
    import asyncio

    from zarr.core.buffer import default_buffer_prototype

    buf = asyncio.run(store.get(key, prototype=default_buffer_prototype()))
    assert buf is not None, key
    return bytes(buf.to_bytes())


def _zarr3_doc(**kwargs: Any) -> bytes:
    """The zarr.json bytes zarr-python 3 writes for ``zarr.create_array(**kwargs)``."""
    import zarr

    store = zarr.storage.MemoryStore()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unstable data types, numcodecs codecs
        zarr.create_array(store=store, zarr_format=3, **kwargs)
    return _get(store, "zarr.json")


def _codecs() -> Any:
    import zarr.codecs

    return zarr.codecs


def _numcodecs3() -> Any:
    import zarr.codecs.numcodecs

    return zarr.codecs.numcodecs


BASE = {"shape": (10, 6), "chunks": (5, 3)}


def _made(make: Any) -> dict[str, Any]:
    """The create_array arguments of a case (numcodecs codecs for zarr 3 warn when made)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {**BASE, **make()}


# label, create_array arguments (a callable for the ones needing zarr's classes), expected
# record fields
CASES: list[tuple[str, Any, dict[str, Any]]] = [
    (
        "int32",
        lambda: dict(dtype="i4"),
        dict(dtype="<i4", compressor={"id": "zstd", "level": 0, "checksum": False}),
    ),
    ("bool", lambda: dict(dtype="bool", fill_value=True), dict(dtype="|b1", fill_value=True)),
    ("int8", lambda: dict(dtype="i1", fill_value=-3), dict(dtype="|i1", fill_value=-3)),
    ("uint8", lambda: dict(dtype="u1"), dict(dtype="|u1")),
    ("int16", lambda: dict(dtype="i2"), dict(dtype="<i2")),
    ("uint16", lambda: dict(dtype="u2"), dict(dtype="<u2")),
    (
        "int64",
        lambda: dict(dtype="i8", fill_value=-(2**63)),
        dict(dtype="<i8", fill_value=-(2**63)),
    ),
    ("uint32", lambda: dict(dtype="u4"), dict(dtype="<u4")),
    (
        "uint64",
        lambda: dict(dtype="u8", fill_value=2**64 - 1),
        dict(dtype="<u8", fill_value=2**64 - 1),
    ),
    (
        "float16",
        lambda: dict(dtype="f2", fill_value=-np.inf),
        dict(dtype="<f2", fill_value=-np.inf),
    ),
    ("float32", lambda: dict(dtype="f4", fill_value=np.nan), dict(dtype="<f4", fill_value=np.nan)),
    ("float64", lambda: dict(dtype="f8", fill_value=1.5), dict(dtype="<f8", fill_value=1.5)),
    (
        "complex64",
        lambda: dict(dtype="c8", fill_value=1 - 2j),
        dict(dtype="<c8", fill_value=1 - 2j),
    ),
    (
        "complex128",
        lambda: dict(dtype="c16", fill_value=complex(np.nan, np.inf)),
        dict(dtype="<c16"),
    ),
    (
        "string",
        lambda: dict(dtype=str, fill_value="ab"),
        dict(dtype="|O", fill_value="ab", filters=({"id": "vlen-utf8"},)),
    ),
    (
        "bytes",
        lambda: dict(dtype="bytes", fill_value=b"ab"),
        dict(dtype="|O", fill_value=b"ab", filters=({"id": "vlen-bytes"},)),
    ),
    ("datetime64", lambda: dict(dtype="M8[10s]"), dict(dtype="<M8[10s]")),
    (
        "datetime64 value",
        lambda: dict(dtype="M8[ns]", fill_value=np.datetime64("2020-01-01", "ns")),
        dict(dtype="<M8[ns]", fill_value=np.datetime64("2020-01-01", "ns")),
    ),
    (
        "timedelta64",
        lambda: dict(dtype="m8[ms]", fill_value=np.timedelta64(5, "ms")),
        dict(dtype="<m8[ms]"),
    ),
    ("fixed utf32", lambda: dict(dtype="U3", fill_value="ab"), dict(dtype="<U3", fill_value="ab")),
    (
        "null terminated bytes",
        lambda: dict(dtype="S5", fill_value=b"ab"),
        dict(dtype="|S5", fill_value=b"ab"),
    ),
    ("raw bytes", lambda: dict(dtype="V4", fill_value=b"abcd"), dict(dtype="|V4")),
    (
        "no compressor",
        lambda: dict(dtype="i4", compressors=None),
        dict(compressor=None, filters=None),
    ),
    (
        "big endian",
        lambda: dict(dtype="f8", serializer=_codecs().BytesCodec(endian="big")),
        dict(dtype=">f8"),
    ),
    (
        "blosc",
        lambda: dict(
            dtype="i4",
            compressors=_codecs().BloscCodec(cname="lz4", clevel=3, shuffle="bitshuffle"),
        ),
        dict(compressor={"id": "blosc", "cname": "lz4", "clevel": 3, "shuffle": 2, "blocksize": 0}),
    ),
    (
        "blosc noshuffle",
        lambda: dict(dtype="u1", compressors=_codecs().BloscCodec(shuffle="noshuffle")),
        dict(
            compressor={"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 0, "blocksize": 0}
        ),
    ),
    (
        "gzip",
        lambda: dict(dtype="i4", compressors=_codecs().GzipCodec(level=4)),
        dict(compressor={"id": "gzip", "level": 4}),
    ),
    (
        "zstd checksum",
        lambda: dict(dtype="i4", compressors=_codecs().ZstdCodec(level=3, checksum=True)),
        dict(compressor={"id": "zstd", "level": 3, "checksum": True}),
    ),
    (
        "crc32c",
        lambda: dict(dtype="i4", compressors=_codecs().Crc32cCodec()),
        dict(compressor={"id": "crc32c", "location": "end"}),
    ),
    (
        "gzip then crc32c",
        lambda: dict(
            dtype="i4", compressors=[_codecs().GzipCodec(level=1), _codecs().Crc32cCodec()]
        ),
        dict(filters=({"id": "gzip", "level": 1},), compressor={"id": "crc32c", "location": "end"}),
    ),
    (
        "numcodecs zlib",
        lambda: dict(dtype="i4", compressors=_numcodecs3().Zlib(level=4)),
        dict(compressor={"id": "zlib", "level": 4}),
    ),
    (
        "numcodecs filters",
        lambda: dict(
            dtype="f8",
            filters=[
                _numcodecs3().Delta(dtype="<f8"),
                _numcodecs3().FixedScaleOffset(offset=1, scale=10, dtype="<f8", astype="<i4"),
            ],
            compressors=_codecs().GzipCodec(level=1),
        ),
        dict(
            dtype="<f8",
            filters=(
                {"id": "delta", "dtype": "<f8"},
                {
                    "id": "fixedscaleoffset",
                    "offset": 1,
                    "scale": 10,
                    "dtype": "<f8",
                    "astype": "<i4",
                },
            ),
            compressor={"id": "gzip", "level": 1},
        ),
    ),
    (
        "filters and two bytes codecs",
        lambda: dict(
            dtype="f4",
            filters=[_numcodecs3().Quantize(digits=3, dtype="<f4")],
            compressors=[_numcodecs3().Shuffle(elementsize=4), _codecs().ZstdCodec(level=1)],
        ),
        dict(
            filters=(
                {"id": "quantize", "digits": 3, "dtype": "<f4"},
                {"id": "shuffle", "elementsize": 4},
            ),
            compressor={"id": "zstd", "level": 1, "checksum": False},
        ),
    ),
    (
        "transpose F",
        lambda: dict(dtype="i4", filters=[_codecs().TransposeCodec(order=(1, 0))]),
        dict(order="F"),
    ),
    (
        "transpose identity",
        lambda: dict(dtype="i4", filters=[_codecs().TransposeCodec(order=(0, 1))]),
        dict(order="C"),
    ),
    ("sharded", lambda: dict(dtype="i4", shards=(10, 6)), dict(shards=(10, 6), chunks=(5, 3))),
    (
        "sharded big endian blosc",
        lambda: dict(
            dtype="u2",
            shards=(10, 6),
            serializer=_codecs().BytesCodec(endian="big"),
            compressors=_codecs().BloscCodec(cname="zstd", clevel=1, shuffle="shuffle"),
        ),
        dict(
            dtype=">u2",
            shards=(10, 6),
            chunks=(5, 3),
            compressor={"id": "blosc", "cname": "zstd", "clevel": 1, "shuffle": 1, "blocksize": 0},
        ),
    ),
    (
        "sharded transpose",
        lambda: dict(dtype="i4", shards=(10, 6), filters=[_codecs().TransposeCodec(order=(1, 0))]),
        dict(order="F", shards=(10, 6)),
    ),
    (
        "sharded string",
        lambda: dict(dtype=str, shards=(10, 6)),
        dict(dtype="|O", filters=({"id": "vlen-utf8"},), shards=(10, 6)),
    ),
    (
        "v2 keys",
        lambda: dict(dtype="i4", chunk_key_encoding={"name": "v2", "separator": "."}),
        dict(chunk_key_encoding="v2", dimension_separator="."),
    ),
    (
        "v2 keys slash",
        lambda: dict(dtype="i4", chunk_key_encoding={"name": "v2", "separator": "/"}),
        dict(chunk_key_encoding="v2", dimension_separator="/"),
    ),
    (
        "default keys dot",
        lambda: dict(dtype="i4", chunk_key_encoding={"name": "default", "separator": "."}),
        dict(chunk_key_encoding="default", dimension_separator="."),
    ),
    (
        "dimension names",
        lambda: dict(dtype="i4", dimension_names=["x", None]),
        dict(dimension_names=("x", None)),
    ),
    (
        "attributes",
        lambda: dict(dtype="i4", attributes={"a": 1, "b": [1, "é"], "c": {"d": None}}),
        {},
    ),
]


@needs_zarr3
@pytest.mark.parametrize("label, make, expected", CASES, ids=[c[0] for c in CASES])
def test_zarr3_documents_decode_and_round_trip(label: str, make: Any, expected: dict) -> None:
    kwargs = _made(make)
    raw = _zarr3_doc(**kwargs)
    stored = json.loads(raw)
    meta, attrs = v3.decode_array_doc(raw, "a/zarr.json")
    assert meta.zarr_format == 3
    assert meta.shape == kwargs["shape"]
    assert attrs == kwargs.get("attributes", {})
    assert meta.codecs == tuple(stored["codecs"])
    want = {
        "chunks": kwargs["chunks"],
        "shards": None,
        "order": "C",
        "filters": None,
        "chunk_key_encoding": "default",
        "dimension_separator": "/",
        "dimension_names": None,
        **expected,
    }
    for name, value in want.items():
        if name == "dtype":
            assert meta.dtype.str == value, (name, meta.dtype.str)
        elif name == "fill_value":
            assert ArrayMeta((1,), (1,), meta.dtype, fill_value=value) == ArrayMeta(
                (1,), (1,), meta.dtype, fill_value=meta.fill_value
            ), (meta.fill_value, value)
        else:
            assert getattr(meta, name) == value, (name, getattr(meta, name))
    # the compressor and filters name codecs numcodecs has
    for config in (meta.compressor, *(meta.filters or ())):
        if config is not None:
            numcodecs.get_codec(dict(config))
    # written back: parses equal, and laid out the same
    out = v3.encode_array_doc(meta, attrs)
    assert json.loads(out) == stored
    assert out == raw
    # the record from the document read back is the same record
    assert v3.decode_array_doc(out)[0] == meta


@needs_zarr3
@pytest.mark.parametrize("label, make, expected", CASES, ids=[c[0] for c in CASES])
def test_v2_terms_of_zarr3_documents_encode_to_the_same_document(
    label: str, make: Any, expected: dict
) -> None:
    """The record without ``codecs`` (only its v2 terms) is written as zarr-python 3
    wrote it, where the v2 terms say the same (zarr-python 3 writes a transpose for order
    'F', a ``bytes`` codec without endian for 1-byte items)."""
    kwargs = _made(make)
    raw = _zarr3_doc(**kwargs)
    meta, attrs = v3.decode_array_doc(raw)
    bare = ArrayMeta(
        shape=meta.shape,
        chunks=meta.chunks,
        dtype=meta.dtype,
        fill_value=meta.fill_value,
        order=meta.order,
        compressor=meta.compressor,
        filters=meta.filters,
        dimension_separator=meta.dimension_separator,
        zarr_format=3,
        chunk_key_encoding=meta.chunk_key_encoding,
        shards=meta.shards,
        dimension_names=meta.dimension_names,
    )
    if label in ("transpose identity",):
        pytest.skip("an identity transpose has no v2 term")
    got = json.loads(v3.encode_array_doc(bare, attrs))
    assert got == json.loads(raw)


# -- records from v2 terms against zarr-python 3's conversion of the same v2 array -----------


def _migrated(**kwargs: Any) -> tuple[bytes, bytes]:
    """(.zarray, zarr.json) of a v2 array made by zarr-python 3 and converted to v3 by
    zarr-python 3 (``zarr.metadata.migrate_v3``)."""
    import zarr
    from zarr.core.buffer import default_buffer_prototype
    from zarr.metadata.migrate_v3 import _convert_array_metadata

    store = zarr.storage.MemoryStore()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        array = zarr.create(store=store, zarr_format=2, **kwargs)
        converted = _convert_array_metadata(array.metadata)
        doc = converted.to_buffer_dict(default_buffer_prototype())["zarr.json"].to_bytes()
    return _get(store, ".zarray"), bytes(doc)


V2_CASES: list[tuple[str, dict[str, Any]]] = [
    ("blosc", dict(dtype="i4", compressor=numcodecs.Blosc(cname="lz4", clevel=3, shuffle=2))),
    ("blosc 1-byte", dict(dtype="u1", compressor=numcodecs.Blosc())),
    ("blosc blocksize", dict(dtype="f8", compressor=numcodecs.Blosc(cname="zstd", blocksize=256))),
    ("zstd", dict(dtype="i4", compressor=numcodecs.Zstd(level=3, checksum=True))),
    ("zstd default", dict(dtype="i2", compressor=numcodecs.Zstd())),
    ("gzip", dict(dtype="i4", compressor=numcodecs.GZip(level=5))),
    ("zlib", dict(dtype="i4", compressor=numcodecs.Zlib(level=5))),
    ("lz4", dict(dtype="i4", compressor=numcodecs.LZ4())),
    ("crc32c", dict(dtype="i4", compressor=numcodecs.CRC32C())),
    ("none", dict(dtype="i4", compressor=None)),
    (
        "filters F",
        dict(
            dtype="f8",
            filters=[numcodecs.Delta(dtype="f8"), numcodecs.Quantize(digits=2, dtype="f8")],
            order="F",
        ),
    ),
    ("astype", dict(dtype="f8", filters=[numcodecs.AsType(encode_dtype="f4", decode_dtype="f8")])),
    ("bitround", dict(dtype="f4", filters=[numcodecs.BitRound(keepbits=4)])),
    ("big endian", dict(dtype=">f8", fill_value=np.nan)),
    ("big endian F", dict(dtype=">i2", order="F", fill_value=7)),
    ("slash", dict(dtype="i4", dimension_separator="/")),
    ("bool", dict(dtype="bool", fill_value=True)),
    ("datetime", dict(dtype="M8[s]", fill_value=np.datetime64(5, "s"))),
    ("complex", dict(dtype="c16", fill_value=complex(1, np.nan))),
    ("S5", dict(dtype="S5", fill_value=b"ab")),
    ("U3", dict(dtype="<U3", fill_value="ab")),
]


@needs_zarr3
@pytest.mark.parametrize("label, kwargs", V2_CASES, ids=[c[0] for c in V2_CASES])
def test_v2_terms_encode_as_zarr3_converts_them(label: str, kwargs: dict[str, Any]) -> None:
    zarray, expected = _migrated(shape=(10, 6), chunks=(5, 3), **kwargs)
    meta = v2.decode_array_meta(zarray)
    assert meta.codecs is None
    got = v3.encode_array_doc(meta, {})
    assert json.loads(got) == json.loads(expected)
    # and reading it back gives the v2 terms again
    back, _ = v3.decode_array_doc(got)
    assert back.dtype == meta.dtype and back.order == meta.order
    assert back.filters == meta.filters
    compressor = meta.compressor
    if compressor is not None and compressor["id"] == "zstd":
        compressor = {"checksum": False, **compressor}
    if compressor is not None and compressor["id"] == "crc32c":
        compressor = {"id": "crc32c"}  # written as numcodecs.crc32c, as zarr 3 does
    assert back.compressor == compressor


@needs_zarr3
@pytest.mark.parametrize("shape, chunks", [((10,), (3,)), ((4, 5, 6), (2, 5, 3))])
def test_order_f_in_other_dimensions(shape: tuple, chunks: tuple) -> None:
    zarray, expected = _migrated(shape=shape, chunks=chunks, dtype="<i8", order="F")
    meta = v2.decode_array_meta(zarray)
    assert json.loads(v3.encode_array_doc(meta, {})) == json.loads(expected)
    back, _ = v3.decode_array_doc(expected)
    assert back.order == ("F" if len(shape) > 1 else "C")  # one dimension: the same layout


def test_blosc_autoshuffle_is_numcodecs_choice() -> None:
    meta = ArrayMeta(
        (4,),
        (2,),
        np.dtype("<i4"),
        0,
        compressor={"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": -1, "blocksize": 0},
    )
    (_, blosc) = v3.v3_codecs_from(meta)
    assert blosc["configuration"]["shuffle"] == "shuffle"
    meta = ArrayMeta((4,), (2,), np.dtype("u1"), 0, compressor=meta.compressor)
    assert v3.v3_codecs_from(meta)[1]["configuration"]["shuffle"] == "bitshuffle"


def test_vlen_utf8_filter_is_the_string_type() -> None:
    meta = ArrayMeta(
        (4,),
        (2,),
        np.dtype(object),
        "",
        filters=({"id": "vlen-utf8"},),
        compressor={"id": "zstd", "level": 1},
    )
    doc = json.loads(v3.encode_array_doc(meta, {}))
    assert doc["data_type"] == "string"
    assert doc["codecs"] == [
        {"name": "vlen-utf8", "configuration": {}},
        {"name": "zstd", "configuration": {"level": 1, "checksum": False}},
    ]
    back, _ = v3.decode_array_doc(doc)
    assert back.filters == ({"id": "vlen-utf8"},) and back.dtype == object


def test_sharded_v2_terms() -> None:
    meta = ArrayMeta(
        (8, 8),
        (2, 2),
        np.dtype("<f4"),
        0.0,
        compressor={"id": "gzip", "level": 1},
        zarr_format=3,
        chunk_key_encoding="default",
        shards=(4, 8),
    )
    doc = json.loads(v3.encode_array_doc(meta, {}))
    assert doc["chunk_grid"]["configuration"]["chunk_shape"] == [4, 8]
    assert doc["codecs"] == [
        {
            "name": "sharding_indexed",
            "configuration": {
                "chunk_shape": [2, 2],
                "codecs": [
                    {"name": "bytes", "configuration": {"endian": "little"}},
                    {"name": "gzip", "configuration": {"level": 1}},
                ],
                "index_codecs": [
                    {"name": "bytes", "configuration": {"endian": "little"}},
                    {"name": "crc32c"},
                ],
                "index_location": "end",
            },
        }
    ]
    back, _ = v3.decode_array_doc(doc)
    assert back.shards == (4, 8) and back.chunks == (2, 2) and back.chunk_key((1, 0)) == "c/1/0"


@needs_zarr3
def test_crc32c_matches_zarr3() -> None:
    """numcodecs' CRC32C at the end of the data is zarr-python 3's crc32c codec."""
    from zarr.codecs import Crc32cCodec
    from zarr.core.buffer import cpu, default_buffer_prototype

    class _Spec:
        prototype = default_buffer_prototype()

    data = np.arange(1000, dtype="<i4").tobytes()
    ours = numcodecs.get_codec({"id": "crc32c", "location": "end"}).encode(data)
    theirs = Crc32cCodec()._encode_sync(cpu.Buffer.from_bytes(data), _Spec())  # type: ignore[arg-type]
    assert bytes(ours) == theirs.to_bytes()


# -- groups --------------------------------------------------------------------------------


@needs_zarr3
def test_group_documents() -> None:
    import zarr

    store = zarr.storage.MemoryStore()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = zarr.group(store=store, zarr_format=3, attributes={"x": 1})
        root.create_array("a", shape=(2,), chunks=(1,), dtype="i2", attributes={"q": 2})
        root.create_group("sub").create_array("b", shape=(3,), dtype="f4")
    raw = _get(store, "zarr.json")
    meta, attrs, consolidated = v3.decode_group_doc(raw)
    assert meta == GroupMeta(zarr_format=3) and attrs == {"x": 1} and consolidated is None
    assert v3.encode_group_doc(attrs) == raw
    assert isinstance(v3.decode_node(raw)[0], GroupMeta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(store)
    raw = _get(store, "zarr.json")
    meta, attrs, consolidated = v3.decode_group_doc(raw)
    assert consolidated is not None and set(consolidated) == {"a", "sub", "sub/b"}
    a, a_attrs = v3.decode_array_doc(consolidated["a"], "zarr.json/a")
    assert a.dtype == np.dtype("<i2") and a_attrs == {"q": 2}
    assert v3.decode_group_doc(consolidated["sub"])[2] == {}
    assert json.loads(v3.encode_group_doc(attrs, consolidated)) == json.loads(raw)
    assert isinstance(v3.decode_node(_get(store, "a/zarr.json"))[0], ArrayMeta)


def test_group_must_understand_extension() -> None:
    doc = {"zarr_format": 3, "node_type": "group", "ext": {"must_understand": False}}
    assert v3.decode_group_doc(doc)[1] == {}
    doc["ext"] = {"must_understand": True}
    with pytest.raises(MetadataError, match="'ext'"):
        v3.decode_group_doc(doc)


# -- fill values ---------------------------------------------------------------------------


def _dt(name: Any) -> v3.DataType:
    return v3.decode_data_type(name, "zarr.json")


@pytest.mark.parametrize(
    "name, stored, bits",
    [
        ("float32", "NaN", "7fc00000"),
        ("float32", "0x7fc00000", "7fc00000"),
        ("float32", "0x7fc00001", "7fc00001"),
        ("float32", "0xffc00000", "ffc00000"),
        ("float64", "0x7ff8000000000001", "7ff8000000000001"),
        ("float16", "0x7e00", "7e00"),
        ("float16", "0x3c00", "3c00"),
        ("float64", "Infinity", "7ff0000000000000"),
        ("float64", "-Infinity", "fff0000000000000"),
        ("float32", 1.5, "3fc00000"),
        ("float32", 0, "00000000"),
    ],
)
def test_float_fill_values_round_trip(name: str, stored: Any, bits: str) -> None:
    dt = _dt(name)
    v = v3.decode_fill_value(stored, dt, "zarr.json")
    assert np.asarray(v, dtype=dt.dtype.newbyteorder(">")).tobytes().hex() == bits
    again = v3.encode_fill_value(v, dt.dtype)
    assert v3.decode_fill_value(again, dt, "zarr.json").tobytes() == v.tobytes()
    if stored in ("NaN", "Infinity", "-Infinity", 1.5):
        assert again == stored
    if stored == "0x7fc00000":
        assert again == "NaN"  # the canonical NaN is written as zarr-python 3 does


@pytest.mark.parametrize(
    "name, stored",
    [
        ("complex64", [1.0, -2.0]),
        ("complex128", ["NaN", "Infinity"]),
        ("complex64", ["0x7fc00001", 0.5]),
        ("complex128", ["-Infinity", "0x7ff8000000000000"]),
    ],
)
def test_complex_fill_values_round_trip(name: str, stored: list) -> None:
    dt = _dt(name)
    v = v3.decode_fill_value(stored, dt, "zarr.json")
    again = v3.encode_fill_value(v, dt.dtype)
    assert v3.decode_fill_value(again, dt, "zarr.json").tobytes() == v.tobytes()
    canonical = ["NaN" if s == "0x7ff8000000000000" else s for s in stored]
    assert again == canonical


@pytest.mark.parametrize(
    "name, stored",
    [
        ("bool", False),
        ("int8", -128),
        ("uint64", 2**64 - 1),
        (
            {"name": "numpy.datetime64", "configuration": {"unit": "ns", "scale_factor": 1}},
            -(2**63),
        ),
        ({"name": "numpy.timedelta64", "configuration": {"unit": "generic", "scale_factor": 1}}, 3),
        ({"name": "null_terminated_bytes", "configuration": {"length_bytes": 3}}, "YWI="),
        ({"name": "raw_bytes", "configuration": {"length_bytes": 2}}, "YWI="),
        ({"name": "fixed_length_utf32", "configuration": {"length_bytes": 8}}, "é!"),
        ("string", "héllo"),
        ("variable_length_bytes", "AAE="),
    ],
)
def test_other_fill_values_round_trip(name: Any, stored: Any) -> None:
    dt = _dt(name)
    v = v3.decode_fill_value(stored, dt, "zarr.json")
    assert v3.encode_fill_value(v, dt.dtype, dt.object_codec) == stored


def test_raw_bits_type() -> None:
    dt = _dt("r16")
    assert dt.dtype == np.dtype("V2")
    v = v3.decode_fill_value([1, 255], dt, "zarr.json")
    assert v.tobytes() == b"\x01\xff"


@pytest.mark.parametrize(
    "name, stored",
    [
        ("bool", 0),
        ("int8", 128),
        ("int32", True),
        ("int32", "1"),
        ("int32", 1.5),
        ("float32", "nan"),
        ("float32", "0x7fc0"),
        ("float32", "0xzzzzzzzz"),
        ("float32", None),
        ("float32", 1e999),
        ("complex64", [1.0]),
        ("complex64", 1.0),
        ("string", 1),
        ("variable_length_bytes", "***"),
        ({"name": "raw_bytes", "configuration": {"length_bytes": 2}}, "YQ=="),
        ({"name": "numpy.datetime64", "configuration": {"unit": "s", "scale_factor": 1}}, "NaT"),
    ],
)
def test_bad_fill_values(name: Any, stored: Any) -> None:
    with pytest.raises(MetadataError, match="field 'fill_value'"):
        v3.decode_fill_value(stored, _dt(name), "zarr.json")


# -- invalid documents ---------------------------------------------------------------------

DOC: dict[str, Any] = {
    "shape": [10, 6],
    "data_type": "int32",
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [5, 3]}},
    "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
    "fill_value": 0,
    "codecs": [
        {"name": "bytes", "configuration": {"endian": "little"}},
        {"name": "zstd", "configuration": {"level": 0, "checksum": False}},
    ],
    "attributes": {},
    "zarr_format": 3,
    "node_type": "array",
    "storage_transformers": [],
}

SHARDED: dict[str, Any] = {
    **DOC,
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [10, 6]}},
    "codecs": [
        {
            "name": "sharding_indexed",
            "configuration": {
                "chunk_shape": [5, 3],
                "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
                "index_codecs": [
                    {"name": "bytes", "configuration": {"endian": "little"}},
                    {"name": "crc32c"},
                ],
                "index_location": "end",
            },
        }
    ],
}


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``base`` with the value at a dotted path (list items by number) replaced
    (``...`` deletes it)."""
    doc = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = doc
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if isinstance(node, list):
        if value is ...:
            del node[int(last)]
        else:
            node[int(last)] = value
    elif value is ...:
        del node[last]
    else:
        node[last] = value
    return doc


BAD: list[tuple[dict[str, Any], str, str]] = [
    (_with(DOC, "zarr_format", 2), "zarr_format", "only 3"),
    (_with(DOC, "zarr_format", True), "zarr_format", "only 3"),
    (_with(DOC, "node_type", "group"), "node_type", ""),
    (_with(DOC, "shape", ...), "shape", "missing required key 'shape'"),
    (_with(DOC, "shape", [10, True]), "shape[1]", "integer"),
    (_with(DOC, "shape", [10, 1.0]), "shape[1]", "integer"),
    (_with(DOC, "shape", [10]), "chunk_grid.configuration.chunk_shape", "dimensions"),
    (_with(DOC, "chunk_grid.name", "rectilinear"), "chunk_grid", "not supported"),
    (
        _with(DOC, "chunk_grid.configuration.chunk_shape", [5, 0]),
        "chunk_grid.configuration.chunk_shape[1]",
        "positive",
    ),
    (_with(DOC, "chunk_key_encoding.name", "v1"), "chunk_key_encoding", "'v1'"),
    (
        _with(DOC, "chunk_key_encoding.configuration.separator", "-"),
        "chunk_key_encoding.configuration.separator",
        "",
    ),
    (_with(DOC, "data_type", "int128"), "data_type", "int128"),
    (_with(DOC, "data_type", 5), "data_type", ""),
    (
        _with(DOC, "data_type", {"name": "numpy.datetime64", "configuration": {"unit": "s"}}),
        "data_type.configuration",
        "scale_factor",
    ),
    (
        _with(
            DOC,
            "data_type",
            {"name": "numpy.datetime64", "configuration": {"unit": "parsec", "scale_factor": 1}},
        ),
        "data_type.configuration.unit",
        "",
    ),
    (
        _with(
            DOC, "data_type", {"name": "fixed_length_utf32", "configuration": {"length_bytes": 6}}
        ),
        "data_type.configuration.length_bytes",
        "multiple of 4",
    ),
    (
        _with(DOC, "data_type", {"name": "structured", "configuration": {"fields": []}}),
        "data_type",
        "not supported yet",
    ),
    (_with(DOC, "fill_value", "x"), "fill_value", "integer"),
    (_with(DOC, "fill_value", None), "fill_value", ""),
    (_with(DOC, "codecs", []), "codecs", "non-empty"),
    (_with(DOC, "codecs.0.name", "zfp"), "codecs[0].name", "unknown codec: 'zfp'"),
    (_with(DOC, "codecs.1.name", "lzma"), "codecs[1].name", "unknown codec: 'lzma'"),
    (
        _with(DOC, "codecs.0.configuration", {"endian": "middle"}),
        "codecs[0].configuration.endian",
        "",
    ),
    (_with(DOC, "codecs.0.configuration", {}), "codecs[0].configuration", "endian"),
    (
        _with(DOC, "codecs.0.configuration", {"endian": "little", "x": 1}),
        "codecs[0].configuration",
        "'x'",
    ),
    (_with(DOC, "codecs.1.configuration.checksum", 0), "codecs[1].configuration.checksum", ""),
    (_with(DOC, "codecs.1.configuration.level", True), "codecs[1].configuration.level", ""),
    (
        _with(DOC, "codecs", [DOC["codecs"][1], DOC["codecs"][0]]),
        "codecs[0]",
        "before the array-to-bytes",
    ),
    (
        _with(
            DOC,
            "codecs",
            [*DOC["codecs"], {"name": "transpose", "configuration": {"order": [1, 0]}}],
        ),
        "codecs[2]",
        "after the array-to-bytes",
    ),
    (
        _with(DOC, "codecs", [DOC["codecs"][0], DOC["codecs"][0]]),
        "codecs[1]",
        "second array-to-bytes",
    ),
    (_with(DOC, "codecs", [DOC["codecs"][1]]), "codecs[0]", ""),
    (
        _with(
            DOC,
            "codecs",
            [{"name": "transpose", "configuration": {"order": [0, 0]}}, *DOC["codecs"]],
        ),
        "codecs[0].configuration.order",
        "permutation",
    ),
    (_with(DOC, "codecs", [{"name": "vlen-utf8"}, DOC["codecs"][1]]), "codecs[0]", "int32"),
    (_with(DOC, "codecs", [{"name": "gzip", "configuration": {"level": 10}}]), "codecs[0]", ""),
    (
        _with(
            DOC,
            "codecs.1",
            {"name": "blosc", "configuration": {"cname": "lz5", "clevel": 1, "shuffle": "shuffle"}},
        ),
        "codecs[1].configuration.cname",
        "",
    ),
    (
        _with(
            DOC,
            "codecs.1",
            {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 1, "shuffle": 1}},
        ),
        "codecs[1].configuration.shuffle",
        "",
    ),
    (
        _with(DOC, "codecs.1", {"name": "numcodecs.zlib", "configuration": {"id": "gzip"}}),
        "codecs[1].configuration.id",
        "",
    ),
    (_with(DOC, "storage_transformers", [{"name": "x"}]), "storage_transformers", "not supported"),
    (_with(DOC, "dimension_names", ["x"]), "dimension_names", "1 names for 2"),
    (_with(DOC, "dimension_names", ["x", 1]), "dimension_names", ""),
    (_with(DOC, "attributes", []), "attributes", ""),
    (_with(DOC, "unknown", {"must_understand": True}), "unknown", "unknown field"),
    (_with(DOC, "unknown", 1), "unknown", "unknown field"),
    (
        _with(SHARDED, "codecs.0.configuration.chunk_shape", [4, 3]),
        "codecs[0].configuration.chunk_shape",
        "does not divide",
    ),
    (
        _with(SHARDED, "codecs.0.configuration.chunk_shape", [5]),
        "codecs[0].configuration.chunk_shape",
        "dimensions",
    ),
    (
        _with(SHARDED, "codecs.0.configuration.index_location", "middle"),
        "codecs[0].configuration.index_location",
        "",
    ),
    (
        _with(SHARDED, "codecs.0.configuration.index_codecs", [{"name": "crc32c"}]),
        "codecs[0].configuration.index_codecs[0]",
        "bytes",
    ),
    (
        _with(
            SHARDED,
            "codecs.0.configuration.index_codecs.1",
            {"name": "gzip", "configuration": {"level": 1}},
        ),
        "codecs[0].configuration.index_codecs[1]",
        "crc32c",
    ),
    (
        _with(
            SHARDED,
            "codecs.0.configuration.codecs",
            [_with(SHARDED, "codecs.0.configuration.chunk_shape", [2, 3])["codecs"][0]],
        ),
        "codecs[0].configuration.codecs[0].configuration.chunk_shape",
        "[2, 3] does not divide the shard shape [5, 3]",
    ),
    (
        _with(
            SHARDED,
            "codecs.0.configuration.codecs",
            [SHARDED["codecs"][0], {"name": "crc32c"}],
        ),
        "codecs[0].configuration.codecs",
        "around 'sharding_indexed'",
    ),
    (
        _with(SHARDED, "codecs", [*SHARDED["codecs"], {"name": "crc32c"}]),
        "codecs",
        "around 'sharding_indexed'",
    ),
]


@pytest.mark.parametrize("doc, field, text", BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_invalid_documents(doc: dict, field: str, text: str) -> None:
    with pytest.raises(MetadataError) as info:
        v3.decode_array_doc(json.dumps(doc).encode(), "a/zarr.json")
    message = str(info.value)
    assert "'a/zarr.json'" in message, message
    assert f"field {field!r}" in message or f"key {field!r}" in message, message
    assert text in message, message


def test_unsupported_transpose() -> None:
    doc = _with(
        DOC,
        "codecs",
        [{"name": "transpose", "configuration": {"order": [1, 2, 0]}}, *DOC["codecs"]],
    )
    doc["shape"] = [2, 3, 4]
    doc["chunk_grid"]["configuration"]["chunk_shape"] = [2, 3, 4]
    with pytest.raises(MetadataError, match=r"transpose order \[1, 2, 0\] is not supported yet"):
        v3.decode_array_doc(doc)
    # two transposes that together reverse the axes are order F
    doc["codecs"] = [
        {"name": "transpose", "configuration": {"order": [1, 2, 0]}},
        {"name": "transpose", "configuration": {"order": [1, 0, 2]}},
        *DOC["codecs"],
    ]
    assert v3.decode_array_doc(doc)[0].order == "F"
    # a transpose after an order-dependent filter
    doc["codecs"] = [
        {"name": "numcodecs.delta", "configuration": {"dtype": "<i4"}},
        {"name": "transpose", "configuration": {"order": [2, 1, 0]}},
        *DOC["codecs"],
    ]
    with pytest.raises(MetadataError, match="follows 'numcodecs.delta'"):
        v3.decode_array_doc(doc)


def test_extensions_and_unknown_numcodecs() -> None:
    doc = _with(DOC, "ext", {"must_understand": False, "x": [1]})
    meta, _ = v3.decode_array_doc(doc)
    assert meta.extra == {"ext": {"must_understand": False, "x": [1]}}
    assert json.loads(v3.encode_array_doc(meta, {})) == doc
    # an id numcodecs does not know is left to the codec chain
    doc = _with(DOC, "codecs.1", {"name": "numcodecs.nosuch", "configuration": {"a": 1}})
    assert v3.decode_array_doc(doc)[0].compressor == {"id": "nosuch", "a": 1}
    # a bare codec name and defaults
    doc = _with(DOC, "codecs", [{"name": "bytes", "configuration": {"endian": "big"}}, "crc32c"])
    doc["chunk_key_encoding"] = {"name": "v2"}
    meta, _ = v3.decode_array_doc(doc)
    assert meta.dtype.str == ">i4" and meta.compressor == {"id": "crc32c", "location": "end"}
    assert meta.chunk_key((1, 2)) == "1.2"


def test_not_json() -> None:
    with pytest.raises(MetadataError, match="'x/zarr.json' is not valid JSON"):
        v3.decode_array_doc(b"{", "x/zarr.json")
    with pytest.raises(MetadataError, match="not a JSON object"):
        v3.decode_array_doc(b"[]", "x/zarr.json")
    with pytest.raises(MetadataError, match="'node_type'"):
        v3.decode_node(b'{"zarr_format": 3}', "x/zarr.json")


# -- fuzz: every mutation either decodes or is a MetadataError ------------------------------

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.sampled_from(["NaN", "0x7fc00000", "little", "big", "bytes", "regular", "v2", "/", "."]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(doc: Any, prefix: str = "") -> list[str]:
    out = []
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for k, v in items:
        path = f"{prefix}{k}"
        out.append(path)
        out.extend(_paths(v, path + "."))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_array_documents(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from([DOC, SHARDED])))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        kind = data.draw(st.sampled_from(["replace", "delete", "retype"]))
        try:
            if kind == "delete":
                doc = _with(doc, path, ...)
            else:
                value: Any = data.draw(JSON_VALUES)
                if kind == "retype":
                    value = data.draw(st.sampled_from([str(value), [value], {"v": value}, True]))
                doc = _with(doc, path, value)
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    try:
        meta, attrs = v3.decode_array_doc(json.dumps(doc).encode(), "f/zarr.json")
    except MetadataError as e:
        assert "'f/zarr.json'" in str(e)
        return
    assert meta.shape == tuple(doc["shape"])
    assert math.prod(meta.stored_chunks) >= 1
    again = v3.encode_array_doc(meta, attrs)
    assert v3.decode_array_doc(again)[0] == meta


def _decode_chunk(meta: ArrayMeta, raw: bytes) -> np.ndarray:
    """A stored chunk decoded with numcodecs from the record's v2 terms alone."""
    data: Any = raw
    if meta.compressor is not None:
        data = numcodecs.get_codec(dict(meta.compressor)).decode(data)
    for config in reversed(meta.filters or ()):
        data = numcodecs.get_codec(dict(config)).decode(data)
    if meta.dtype.kind == "O":
        return np.asarray(data, dtype=object).reshape(meta.chunks, order=meta.order)
    return np.frombuffer(bytes(data), dtype=meta.dtype).reshape(meta.chunks, order=meta.order)


@needs_zarr3
@pytest.mark.parametrize(
    "label, make, expected",
    [c for c in CASES if "shards" not in c[2] and c[0] not in ("raw bytes",)],
    ids=[c[0] for c in CASES if "shards" not in c[2] and c[0] not in ("raw bytes",)],
)
def test_derived_terms_decode_zarr3_chunks(label: str, make: Any, expected: dict) -> None:
    """The v2 terms state the same chain: zarr-python 3's chunk bytes decode with them."""
    import zarr

    kwargs = _made(make)
    store = zarr.storage.MemoryStore()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = zarr.create_array(store=store, zarr_format=3, **kwargs)
        dtype = z.dtype.to_native_dtype() if hasattr(z.dtype, "to_native_dtype") else z.dtype
        n = math.prod(kwargs["shape"])
        if dtype.kind in "OTU" or str(dtype).startswith("StringDType"):
            values: Any = np.array([str(i) * (i % 4) for i in range(n)], dtype=object)
            if "bytes" in label:
                values = np.array([v.encode() for v in values], dtype=object)
            elif dtype.kind == "U":
                values = values.astype(dtype)
        elif dtype.kind == "S":
            values = np.array([str(i).encode() for i in range(n)], dtype=dtype)
        elif dtype.kind in "mM":
            values = np.arange(n).astype("i8").view(dtype)
        elif dtype.kind == "b":
            values = np.arange(n) % 3 == 0
        else:
            values = (np.arange(n) % 100).astype(dtype)
        z[...] = values.reshape(kwargs["shape"])
        expected_chunk = z[5:10, 3:6]
    meta, _ = v3.decode_array_doc(_get(store, "zarr.json"))
    raw = _get(store, meta.chunk_key((1, 1)))
    got = _decode_chunk(meta, raw)
    np.testing.assert_array_equal(got, np.asarray(expected_chunk))


@needs_zarr3
@pytest.mark.parametrize(
    "meta",
    [
        ArrayMeta(
            (8, 8),
            (2, 2),
            np.dtype(">f4"),
            np.nan,
            "F",
            {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": -1, "blocksize": 0},
            zarr_format=3,
            chunk_key_encoding="default",
            shards=(4, 8),
            dimension_names=("y", "x"),
        ),
        ArrayMeta(
            (5,),
            (2,),
            np.dtype(object),
            "x",
            filters=({"id": "vlen-utf8"},),
            compressor={"id": "zstd", "level": 1},
        ),
        ArrayMeta((5,), (2,), np.dtype("M8[ms]"), None, dimension_separator="/"),
    ],
    ids=["sharded F blosc", "string", "datetime"],
)
def test_zarr3_reads_documents_from_v2_terms(meta: ArrayMeta) -> None:
    """zarr-python 3 opens what is written and writes the same document back."""
    import asyncio

    import zarr
    from zarr.core.buffer import cpu, default_buffer_prototype

    raw = v3.encode_array_doc(meta, {"a": [1]})
    store = zarr.storage.MemoryStore()
    asyncio.run(store.set("zarr.json", cpu.Buffer.from_bytes(raw)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = zarr.open_array(store=store, mode="r")
        again = z.metadata.to_buffer_dict(default_buffer_prototype())["zarr.json"].to_bytes()
    assert json.loads(again) == json.loads(raw)
    assert z.shape == meta.shape and z.attrs.asdict() == {"a": [1]}


def test_nested_sharding_document() -> None:
    """A sharding_indexed inside another: ``shards`` the outer shard shape, ``chunks`` the
    innermost chunk shape, ``shard_shapes`` every level's; written back as read."""
    inner = _with(SHARDED, "codecs.0.configuration.chunk_shape", [5, 1])["codecs"][0]
    doc = _with(SHARDED, "codecs.0.configuration.codecs", [inner])
    meta, _ = v3.decode_array_doc(json.dumps(doc).encode())
    assert meta.shards == (10, 6) and meta.chunks == (5, 1)
    assert meta.shard_shapes == ((10, 6), (5, 3))
    assert v3.array_doc(meta)["codecs"] == doc["codecs"]
    built = v3.v3_codecs_from(replace(meta, codecs=None), nested=((5, 3),))
    assert built == doc["codecs"]
