"""Byte-for-byte agreement of zarrkit's Zarr v2 metadata and chunks with zarr-python 2.x.

The same creation call is made with ``zarr`` (2.18) and ``zarrkit`` on fresh ``dict`` stores and
the stored bytes are compared exactly. Those comparisons run in the zarr 2 environment; the
metadata round trips through ``zarrkit.formats.v2`` run everywhere.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
from numcodecs import (
    BZ2,
    LZMA,
    AsType,
    BitRound,
    Blosc,
    Categorize,
    Delta,
    FixedScaleOffset,
    PackBits,
    Quantize,
    Shuffle,
    Zlib,
    Zstd,
)

import zarrkit
from conftest import ZARR2, needs_zarr2
from zarrkit.formats.meta import ArrayMeta
from zarrkit.formats.v2 import (
    decode_array_meta,
    decode_attrs,
    encode_array_meta,
    encode_attrs,
    encode_group_meta,
)

Kwargs = Callable[[], dict[str, Any]]

# -- the creation matrix ---------------------------------------------------------------------
# Each case is a factory of keyword arguments for ``create`` (fresh codec objects per call).

DTYPES: list[Any] = [
    "b1",
    "i1",
    "u1",
    "<i2",
    ">i2",
    "<i4",
    ">i4",
    "<i8",
    ">i8",
    "<u2",
    ">u4",
    "<u8",
    ">u8",
    "<f2",
    ">f2",
    "<f4",
    ">f4",
    "<f8",
    ">f8",
    "<c8",
    ">c8",
    "<c16",
    ">c16",
    "S1",
    "S7",
    "<U1",
    "<U5",
    ">U5",
    "<M8[Y]",
    "<M8[M]",
    "<M8[W]",
    "<M8[D]",
    ">M8[h]",
    "<M8[m]",
    "<M8[s]",
    "<M8[ms]",
    ">M8[us]",
    "<M8[ns]",
    "<M8[ps]",
    "<M8[fs]",
    "<M8[as]",
    "<m8[D]",
    ">m8[h]",
    "<m8[s]",
    "<m8[ms]",
    "<m8[us]",
    ">m8[ns]",
    "<m8[as]",
    [("a", "<i4"), ("b", ">f8")],
    [("a", "u1"), ("b", [("x", "<i2"), ("y", "S3")])],
    [("a", "<i4", (2, 3)), ("b", "S2")],
    [("p", [("q", ">f4", (2,)), ("r", "b1")]), ("s", "<U2")],
    ("<i4", (3,)),  # a subarray dtype adds trailing dimensions
    ("<f8", (2, 2)),
]

FILLS: list[tuple[Any, Any]] = [
    ("<f8", np.nan),
    ("<f8", np.inf),
    ("<f8", -np.inf),
    ("<f8", "NaN"),
    ("<f8", "-Infinity"),
    ("<f8", -0.0),
    ("<f8", 0.1),
    ("<f8", 1e300),
    ("<f8", 3),
    ("<f8", True),
    ("<f8", np.float32(1.1)),
    ("<f4", 1.1),
    ("<f4", np.nan),
    (">f2", -np.inf),
    ("<f2", 0.333),
    ("<i4", -7),
    ("<i4", True),
    (">i2", 2.0),
    ("<i8", -(2**63)),
    ("<u8", 2**64 - 1),
    ("u1", np.uint8(200)),
    ("<c16", 1 + 2j),
    ("<c16", complex(-np.inf, 0)),
    ("<c8", complex(np.nan, np.inf)),
    (">c8", 3),
    ("<c8", 0j),
    ("S5", b"ab"),
    ("S3", b"\x00\xff\x7f"),
    ("S2", b""),
    ("S4", "txt"),
    ("<U4", "h\u00e9\u00e9"),
    ("<U3", "\u4e2d\u6587"),
    ("<U2", ""),
    ("<U2", 0),
    ("b1", True),
    ("b1", False),
    ("b1", 1),
    ("<M8[ns]", np.datetime64("2020-01-01", "ns")),
    ("<M8[D]", "2001-02-03"),
    ("<M8[s]", 0),
    ("<M8[ns]", np.datetime64("NaT")),
    ("<m8[s]", np.timedelta64(5, "s")),
    (">m8[ms]", -3),
    ([("a", "<i4"), ("b", ">f8")], (1, 2.5)),
    ([("a", "<i4"), ("b", ">f8")], (0, np.nan)),
    ([("a", "<i4"), ("b", "S2")], b"\x01\x00\x00\x00ab"),
    ([("a", "u1"), ("b", [("x", "<i2"), ("y", "S3")])], (7, (-1, b"xyz"))),
    ([("a", "<i4", (2,)), ("b", "b1")], ([1, 2], True)),
]

COMPRESSORS: dict[str, Callable[[], Any]] = {
    "none": lambda: None,
    "none-string": lambda: "none",  # accepted by zarr 2 for compatibility
    "default": lambda: "default",
    "blosc-default": Blosc,
    "blosc-zstd-bitshuffle": lambda: Blosc("zstd", 3, Blosc.BITSHUFFLE),
    "blosc-lz4hc-noshuffle-blocksize": lambda: Blosc("lz4hc", 9, Blosc.NOSHUFFLE, 256),
    "blosc-zlib-autoshuffle": lambda: Blosc("zlib", 1, Blosc.AUTOSHUFFLE),
    "blosc-blosclz": lambda: Blosc("blosclz", 0),
    "zstd": lambda: Zstd(level=3),
    "zstd-checksum": lambda: Zstd(level=1, checksum=True),
    "zlib": lambda: Zlib(level=1),
    "lzma": lambda: LZMA(preset=1),
    "lzma-raw-filters": lambda: LZMA(
        format=3, check=-1, filters=[dict(id=3, dist=4), dict(id=33, preset=1)]
    ),
    "bz2": lambda: BZ2(level=3),
}

FILTERS: dict[str, Callable[[], list[Any]]] = {
    "empty-list": lambda: [],
    "delta": lambda: [Delta(dtype="<f8")],
    "delta-astype": lambda: [Delta(dtype="<f8", astype="<f4")],
    "fixedscaleoffset": lambda: [FixedScaleOffset(offset=1000, scale=10, dtype="<f8", astype="u2")],
    "quantize": lambda: [Quantize(digits=2, dtype="<f8")],
    "quantize-astype": lambda: [Quantize(digits=3, dtype="<f8", astype="<f4")],
    "astype": lambda: [AsType(encode_dtype="<f4", decode_dtype="<f8")],
    "shuffle": lambda: [Shuffle(elementsize=8)],
    "bitround": lambda: [BitRound(keepbits=10)],
    "several": lambda: [Delta(dtype="<f8"), Quantize(digits=3, dtype="<f8"), Shuffle(8)],
}

CHUNKS: list[Any] = [True, None, 3, (3,), (3, None), (3, -1), (-1, -1), (1, 1), (100, 100)]
SHAPES: list[tuple[Any, Any]] = [
    ((), True),
    ((), None),
    ((0,), True),
    ((0, 5), 2),
    ((5,), 5),
    (7, 3),
    ((2, 3, 4, 5), (1, 2, 3, 4)),
    ((10000, 10000), True),
    ((1000000,), True),
    ((100, 100, 100), True),
    ((3, 1, 200000), True),
]


def _cases() -> list[Any]:
    out: list[Any] = []

    def add(name: str, factory: Kwargs) -> None:
        out.append(pytest.param(factory, id=name))

    for dt in DTYPES:
        add(f"dtype-{dt}", lambda dt=dt: dict(shape=(10, 7), chunks=(4, 3), dtype=dt))
        add(
            f"dtype-{dt}-nofill",
            lambda dt=dt: dict(shape=(10, 7), chunks=(4, 3), dtype=dt, fill_value=None),
        )
    for dt, fv in FILLS:
        add(
            f"fill-{dt}-{fv!r}",
            lambda dt=dt, fv=fv: dict(shape=5, chunks=2, dtype=dt, fill_value=fv),
        )
    for order in "CF":
        for dt in ("<i4", ">f8", [("a", "<i2"), ("b", "S3")]):
            add(
                f"order-{order}-{dt}",
                lambda order=order, dt=dt: dict(shape=(6, 5), chunks=(4, 2), dtype=dt, order=order),
            )
    for name, comp in COMPRESSORS.items():
        add(f"compressor-{name}", lambda comp=comp: dict(shape=20, chunks=7, compressor=comp()))
    for name, filt in FILTERS.items():
        add(
            f"filters-{name}",
            lambda filt=filt: dict(shape=20, chunks=7, filters=filt(), compressor=Zlib(1)),
        )
        add(
            f"filters-{name}-blosc",
            lambda filt=filt: dict(shape=20, chunks=7, filters=filt(), compressor=Blosc("zstd")),
        )
    add("filters-packbits", lambda: dict(shape=20, chunks=7, dtype="b1", filters=[PackBits()]))
    add(
        "filters-categorize",
        lambda: dict(
            shape=20,
            chunks=7,
            dtype="<U3",
            fill_value="a",
            filters=[Categorize(["a", "bb"], dtype="<U3", astype="u1")],
        ),
    )
    for sep in (None, ".", "/"):
        add(
            f"separator-{sep}",
            lambda sep=sep: dict(shape=(4, 4), chunks=(2, 2), dimension_separator=sep),
        )
    for ch in CHUNKS:
        add(f"chunks-{ch!r}", lambda ch=ch: dict(shape=(10, 9), chunks=ch, dtype="<i4"))
    add("chunks-numpy-ints", lambda: dict(shape=(10, 9), chunks=(np.int64(2), np.int32(3))))
    add("shape-numpy-ints", lambda: dict(shape=(np.int64(10), np.uint8(9)), chunks=4))
    for sh, ch in SHAPES:
        add(
            f"shape-{sh!r}-chunks-{ch!r}",
            lambda sh=sh, ch=ch: dict(shape=sh, chunks=ch, dtype="<f4"),
        )
    add("object-str", lambda: dict(shape=5, chunks=2, dtype=str))
    add("object-str-fill", lambda: dict(shape=5, chunks=2, dtype=str, fill_value="x\u00e9"))
    add("object-bytes", lambda: dict(shape=5, chunks=2, dtype=bytes))
    add(
        "object-json",
        lambda: dict(shape=5, chunks=2, dtype=object, object_codec=numcodecs.JSON()),
    )
    add(
        "object-msgpack-filters",
        lambda: dict(
            shape=5,
            chunks=2,
            dtype=object,
            object_codec=numcodecs.MsgPack(),
            filters=[Zlib(1)],
            compressor=None,
        ),
    )
    add("object-vlen-array", lambda: dict(shape=5, chunks=2, dtype="array:i4"))
    add("path-nested", lambda: dict(shape=5, chunks=2, dtype="<i4", path="a/b/c"))
    add(
        "everything",
        lambda: dict(
            shape=(30, 20, 3),
            chunks=(7, 6, -1),
            dtype=">f4",
            fill_value=-np.inf,
            order="F",
            compressor=Blosc("zstd", 7, Blosc.BITSHUFFLE),
            filters=[Quantize(digits=4, dtype=">f4"), Delta(dtype=">f4")],
            dimension_separator="/",
        ),
    )
    return out


CASES = _cases()


def _create(lib: Any, kwargs: Kwargs, func: str = "create") -> dict:
    """Run ``lib.<func>`` on a fresh dict store; return the dict."""
    store: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(lib, func)(store=store, **kwargs())
    return store


def _only_metadata(store: dict) -> dict:
    return {k: v for k, v in store.items() if k.rsplit("/", 1)[-1].startswith(".z")}


# -- .zarray bytes -----------------------------------------------------------------------------


@needs_zarr2
@pytest.mark.parametrize("kwargs", CASES)
def test_zarray_bytes_equal_zarr2(kwargs: Kwargs) -> None:
    expected = _create(zarr, kwargs)
    got = _create(zarrkit, kwargs)
    assert _only_metadata(got) == _only_metadata(expected)
    assert any(k.endswith(".zarray") for k in got)


@needs_zarr2
@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param(lambda: dict(shape=5, dtype="<U2", fill_value=3), id="unicode-non-str-fill"),
        pytest.param(lambda: dict(shape=5, dtype="<i4", fill_value="x"), id="int-str-fill"),
        pytest.param(lambda: dict(shape=5, dtype="<i4", fill_value=np.nan), id="int-nan-fill"),
        pytest.param(lambda: dict(shape=5, dtype="M8"), id="generic-datetime"),
        pytest.param(lambda: dict(shape=5, dtype="m8"), id="generic-timedelta"),
        pytest.param(lambda: dict(shape=5, dtype=object), id="object-without-codec"),
        pytest.param(lambda: dict(shape=5, compressor="zlib"), id="compressor-string"),
        pytest.param(lambda: dict(shape=5, dimension_separator="-"), id="bad-separator"),
        pytest.param(lambda: dict(shape=(5, 5), chunks=(2, 2, 2)), id="too-many-chunk-dims"),
        pytest.param(lambda: dict(shape=5, order="K"), id="bad-order"),
        # an object fill value is written as plain JSON: bytes are not JSON serialisable
        pytest.param(lambda: dict(shape=5, dtype=bytes, fill_value=b"ab"), id="object-bytes-fill"),
    ],
)
def test_both_refuse_the_same_calls(kwargs: Kwargs) -> None:
    """Calls zarr 2 rejects are rejected by zarrkit too (nothing half-written)."""
    with pytest.raises((ValueError, TypeError)):
        _create(zarr, kwargs)
    store: dict = {}
    with pytest.raises((ValueError, TypeError)):
        zarrkit.create(store=store, **kwargs())
    assert store == {}


def test_chunks_of_an_empty_dimension_are_one() -> None:
    """zarr 2 quirk: ``chunks=False`` (or -1) on a zero-length dimension writes chunk length 0.

    zarr 2 then fails on every read of that array (it divides by the chunk length), and
    tensorstore refuses such metadata. zarrkit writes 1 instead, which every reader accepts.
    This is the one creation call whose ``.zarray`` differs from zarr 2's on purpose.
    """
    for chunks in (False, -1, (None, 2)):
        store: dict = {}
        z = zarrkit.create(shape=(0, 4), chunks=chunks, dtype="<i2", store=store)
        assert decode_array_meta(store[".zarray"]).chunks[0] == 1
        assert z[:].shape == (0, 4)
    if ZARR2:
        store = _create(zarr, lambda: dict(shape=(0, 4), chunks=False, dtype="<i2"))
        assert json.loads(store[".zarray"])["chunks"] == [0, 4]
        with pytest.raises(ZeroDivisionError):
            zarr.open_array(store, mode="r")[:]


# -- other creation functions --------------------------------------------------------------------

CREATION_CALLS: list[Any] = [
    pytest.param("zeros", lambda: dict(shape=(9, 4), chunks=(2, 3), dtype=">u2"), id="zeros"),
    pytest.param("ones", lambda: dict(shape=(9, 4), chunks=3, dtype="<c8"), id="ones"),
    pytest.param("ones", lambda: dict(shape=7, dtype="S3"), id="ones-bytes"),
    pytest.param("empty", lambda: dict(shape=(9, 4), chunks=3, dtype="<M8[s]"), id="empty"),
    pytest.param("full", lambda: dict(shape=9, fill_value=np.nan, dtype="<f4"), id="full-nan"),
    pytest.param("full", lambda: dict(shape=9, fill_value="\u00fc", dtype="<U1"), id="full-u"),
    pytest.param(
        "array",
        lambda: dict(data=np.arange(30, dtype=">i4").reshape(5, 6), chunks=(2, 4)),
        id="array",
    ),
    pytest.param(
        "array",
        lambda: dict(data=np.linspace(0, 1, 50).reshape(5, 10), order="F", fill_value=None),
        id="array-F-nofill",
    ),
    pytest.param(
        "array",
        lambda: dict(data=np.array([b"a", b"bcd"] * 5), chunks=4, compressor=Zstd(2)),
        id="array-bytes",
    ),
    pytest.param(
        "open_array",
        lambda: dict(mode="w", shape=(4, 4), chunks=2, dtype="<f8", fill_value=-1),
        id="open_array-w",
    ),
    pytest.param(
        "open_array",
        lambda: dict(mode="a", shape=10, chunks=4, dtype="b1", dimension_separator="/"),
        id="open_array-a",
    ),
    pytest.param(
        "zeros_like",
        lambda: dict(a=np.zeros((6, 3), dtype="<i8"), chunks=(2, 2)),
        id="zeros_like-ndarray",
    ),
    pytest.param(
        "full_like",
        lambda: dict(a=np.zeros((6, 3), dtype="<f4"), fill_value=np.inf),
        id="full_like-ndarray",
    ),
]


@needs_zarr2
@pytest.mark.parametrize(("func", "kwargs"), CREATION_CALLS)
def test_creation_functions_write_zarr2_bytes(func: str, kwargs: Kwargs) -> None:
    assert _create(zarrkit, kwargs, func) == _create(zarr, kwargs, func)


@needs_zarr2
def test_like_an_existing_array_writes_zarr2_bytes() -> None:
    def make(lib: Any) -> dict:
        src = lib.create(
            shape=(8, 5),
            chunks=(3, 2),
            dtype=">f4",
            order="F",
            fill_value=2.5,
            compressor=Zstd(4),
            filters=[Delta(dtype=">f4")],
            store={},
        )
        out: dict = {}
        lib.zeros_like(src, store=out, path="zeros")
        lib.full_like(src, store=out, path="full")
        lib.empty_like(src, store=out, path="empty")
        return out

    assert make(zarrkit) == make(zarr)


@needs_zarr2
def test_group_bytes_equal_zarr2() -> None:
    expected: dict = {}
    zarr.storage.init_group(expected)
    assert encode_group_meta() == expected[".zgroup"]
    got: dict = {}
    zarrkit.creation.init_group(got, path="x/y")
    zarr.storage.init_group(expected, path="x/y")
    assert got == expected


@needs_zarr2
def test_resize_and_append_rewrite_the_same_zarray() -> None:
    def make(lib: Any) -> dict:
        store: dict = {}
        z = lib.create(shape=(5, 4), chunks=(2, 3), dtype="<i2", fill_value=3, store=store)
        z[:] = np.arange(20).reshape(5, 4)
        z.resize(7, 6)
        z.append(np.ones((2, 6), dtype="<i2"))
        z.append(np.full((9, 1), 5, dtype="<i2"), axis=1)
        return store

    assert make(zarrkit) == make(zarr)


# -- .zattrs bytes -----------------------------------------------------------------------------

ATTRS_STEPS: list[tuple[str, Any]] = [
    ("set", ("title", "A title")),
    ("set", ("unicode", "caf\u00e9 \u2603 \U0001f600 \u4e2d")),
    ("set", ("nested", {"b": [1, 2.5, None, True], "a": {"z": "deep", "y": []}})),
    ("set", ("list", [[1, 2], [3, [4, "five"]], {}])),
    ("set", ("numbers", [0, -1, 2**62, 1e-300, 0.1, -0.0])),
    ("set", ("numpy", [np.int64(3), np.float32(0.1), np.uint8(255)])),
    ("set", ("nan", float("nan"))),
    ("set", ("inf", [float("inf"), float("-inf")])),
    ("set", ("\u00fcml\u00e4ut key", "x")),
    ("update", {"b": 1, "a": 2, "A": 3, "_": None}),
    ("del", "title"),
    ("set", ("nested", {"replaced": True})),
    ("put", {"only": ["this", 1]}),
]


def _attrs_snapshots(lib: Any, path: str = "") -> list[bytes]:
    store: dict = {}
    z = lib.zeros(shape=3, store=store, path=path or None)
    key = (path + "/" if path else "") + ".zattrs"
    out = []
    for op, arg in ATTRS_STEPS:
        if op == "set":
            z.attrs[arg[0]] = arg[1]
        elif op == "update":
            z.attrs.update(arg)
        elif op == "del":
            del z.attrs[arg]
        else:
            z.attrs.put(arg)
        out.append(store[key])
    return out


@needs_zarr2
@pytest.mark.parametrize("path", ["", "sub/arr"])
def test_zattrs_bytes_equal_zarr2(path: str) -> None:
    got = _attrs_snapshots(zarrkit, path)
    expected = _attrs_snapshots(zarr, path)
    for (op, _), g, e in zip(ATTRS_STEPS, got, expected):
        assert g == e, op


def test_zattrs_are_ascii_json() -> None:
    raw = _attrs_snapshots(zarrkit)[8]
    raw.decode("ascii")  # ensure_ascii: non-ASCII text is escaped
    assert b"\\u00fcml\\u00e4ut key" in raw
    assert b"\\ud83d\\ude00" in raw  # astral characters as surrogate pairs
    doc = decode_attrs(raw)
    assert doc["unicode"] == "caf\u00e9 \u2603 \U0001f600 \u4e2d"
    assert doc["numpy"] == [3, float(np.float32(0.1)), 255]
    assert encode_attrs(doc) == raw


# -- decode(encode(meta)) round trips ------------------------------------------------------------


@pytest.mark.parametrize("kwargs", CASES)
def test_array_meta_round_trips(kwargs: Kwargs) -> None:
    """record -> .zarray -> record gives the record back, and .zarray bytes are a fixed point."""
    store: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = zarrkit.creation.init_array(store, **kwargs())
    raw = next(v for k, v in store.items() if k.endswith(".zarray"))
    assert isinstance(meta, ArrayMeta)
    again = decode_array_meta(encode_array_meta(meta))
    assert again == meta
    assert again.dtype == meta.dtype
    if meta.fill_value is not None and meta.dtype.kind not in "UO":
        assert type(again.fill_value) is type(meta.fill_value)
    assert encode_array_meta(meta) == raw
    assert encode_array_meta(again) == raw
    assert encode_array_meta(decode_array_meta(raw)) == raw


@needs_zarr2
@pytest.mark.parametrize("kwargs", CASES)
def test_zarrkit_decodes_what_zarr2_means(kwargs: Kwargs) -> None:
    """zarrkit's record of a zarr-2-written array agrees with zarr 2's own view of it."""
    store = _create(zarr, kwargs)
    path = kwargs().get("path")
    ref = zarr.open_array(store, mode="r", path=path)
    got = zarrkit.open_array(store, mode="r", path=path)
    assert got.shape == ref.shape
    assert got.chunks == ref.chunks
    assert got.dtype == ref.dtype
    assert got.order == ref.order
    assert got.compressor == ref.compressor
    assert got.filters == ref.filters
    if ref.fill_value is None:
        assert got.fill_value is None
    elif ref.dtype.kind in "fc":
        np.testing.assert_array_equal(np.asarray(got.fill_value), np.asarray(ref.fill_value))
    elif ref.dtype.hasobject:
        assert got.fill_value == ref.fill_value
    else:
        as_bytes = [
            np.array(v, dtype=ref.dtype).tobytes() for v in (got.fill_value, ref.fill_value)
        ]
        assert as_bytes[0] == as_bytes[1]


# -- chunk bytes -----------------------------------------------------------------------------


def _data(dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Deterministic, varied data of ``dtype``."""
    rng = np.random.default_rng(42)
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    if dt.fields is not None:
        out = np.zeros(n, dtype=dt)
        for name in dt.names:
            sub = dt.fields[name][0]
            out[name] = _data(sub.base, (n, *sub.shape))
        return out.reshape(shape)
    if dt.kind == "b":
        return (rng.integers(0, 3, n) == 0).reshape(shape)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        vals = rng.integers(max(info.min, -1000), min(info.max, 1000), n, endpoint=True)
        return np.arange(n).astype(dt).reshape(shape) + vals.astype(dt).reshape(shape)
    if dt.kind == "f":
        vals = np.cumsum(rng.normal(size=n)).astype(dt)
        vals[::17] = np.nan
        return vals.reshape(shape)
    if dt.kind == "c":
        return (_data("f8", shape) + 1j * _data("f8", shape)[::-1]).astype(dt)
    if dt.kind in "SU":
        words = np.array(["", "a", "bc", "def", "\u00e9t\u00e9"[: dt.itemsize]])
        vals = words[rng.integers(0, len(words), n)]
        if dt.kind == "S":
            vals = np.char.encode(vals, "utf-8")
        return vals.astype(dt).reshape(shape)
    if dt.kind in "mM":
        return rng.integers(-(10**6), 10**6, n).astype(dt).reshape(shape)
    if dt.kind == "O":
        words = ["", "x", "hello", "\u00fcnic\u00f8de", "long" * 20]
        return np.array([words[i] for i in rng.integers(0, len(words), n)], dtype=object).reshape(
            shape
        )
    raise AssertionError(dt)


CHUNK_CASES: list[Any] = [
    pytest.param(dict(dtype="<f8"), id="f8-default"),
    pytest.param(dict(dtype=">i2", compressor=Zlib(5)), id="i2be-zlib"),
    pytest.param(dict(dtype="<u8", compressor=None), id="u8-raw"),
    pytest.param(dict(dtype="b1", compressor=Zstd(1), filters=[PackBits()]), id="bool-packbits"),
    pytest.param(dict(dtype="<c16", compressor=LZMA(preset=0)), id="c16-lzma"),
    pytest.param(dict(dtype=">f4", compressor=BZ2(1)), id="f4be-bz2"),
    pytest.param(dict(dtype="S4", compressor=Blosc("zstd", 2, Blosc.BITSHUFFLE)), id="S4-blosc"),
    pytest.param(dict(dtype=">U3", compressor=Blosc("lz4hc", 4, Blosc.NOSHUFFLE)), id="U3-blosc"),
    pytest.param(dict(dtype="<M8[ms]", compressor=Zstd(3)), id="M8-zstd"),
    pytest.param(dict(dtype=">m8[us]", fill_value=None), id="m8-nofill"),
    pytest.param(
        dict(dtype=[("a", "<i4"), ("b", ">f8", (2,)), ("c", "S2")], compressor=Zlib(1)),
        id="structured",
    ),
    pytest.param(
        dict(dtype="<f8", filters=[Delta(dtype="<f8"), Quantize(digits=3, dtype="<f8")]),
        id="f8-delta-quantize",
    ),
    pytest.param(
        dict(
            dtype="<f8",
            filters=[FixedScaleOffset(offset=0, scale=100, dtype="<f8", astype="<i4")],
            compressor=Blosc("zlib", 5, Blosc.SHUFFLE),
            fill_value=np.nan,
        ),
        id="f8-fixedscaleoffset",
    ),
    pytest.param(dict(dtype="<i4", filters=[Shuffle(4)], compressor=Zstd(5)), id="i4-shuffle"),
    pytest.param(dict(dtype=str), id="object-vlenutf8"),
    pytest.param(dict(dtype=object, object_codec=numcodecs.JSON(), compressor=None), id="json"),
]


@needs_zarr2
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("sep", [".", "/"])
@pytest.mark.parametrize("case", CHUNK_CASES)
def test_chunk_bytes_equal_zarr2(case: dict, order: str, sep: str) -> None:
    """Whole-array writes with edge chunks store the same bytes under the same keys."""
    data = _data(case["dtype"], (13, 10))

    def write(lib: Any) -> dict:
        store: dict = {}
        kwargs = dict(case, order=order, dimension_separator=sep, chunks=(4, 3))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lib.array(data, store=store, **kwargs)
        return store

    got, expected = write(zarrkit), write(zarr)
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key] == expected[key], key


@needs_zarr2
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("write_empty_chunks", [True, False])
def test_partial_writes_store_the_same_chunks(order: str, write_empty_chunks: bool) -> None:
    def write(lib: Any) -> dict:
        store: dict = {}
        z = lib.create(
            shape=(20, 15, 3),
            chunks=(6, 4, 2),
            dtype=">i4",
            fill_value=-1,
            order=order,
            compressor=Blosc("lz4", 5, Blosc.SHUFFLE),
            store=store,
            write_empty_chunks=write_empty_chunks,
        )
        z[2:9, 1:13, 1] = np.arange(84, dtype="i4").reshape(7, 12)
        z[19, :, :] = 7
        z[0:6, 0:4, 0:2] = -1  # a whole chunk of fill values
        z.set_orthogonal_selection(([0, 5, 17], slice(None), 2), 9)
        return store

    assert write(zarrkit) == write(zarr)
