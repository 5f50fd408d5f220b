"""Every fixed-size dtype round-trips through an array: data, fill values and metadata."""

from __future__ import annotations

import json
from typing import Any

import numcodecs
import numpy as np
import pytest
from numpy.lib.recfunctions import repack_fields

import zarrkit
from zarrkit.storage import MemoryStore

INT_TYPES = [f"{o}{k}{n}" for k in "iu" for n in (1, 2, 4, 8) for o in ("<", ">")]
FLOAT_TYPES = [f"{o}f{n}" for n in (2, 4, 8) for o in ("<", ">")]
COMPLEX_TYPES = [f"{o}c{n}" for n in (8, 16) for o in ("<", ">")]
DATETIME_UNITS = ["Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns"]
TIME_TYPES = [f"<M8[{u}]" for u in DATETIME_UNITS] + [
    ">M8[ns]",
    ">M8[D]",
    "<m8[s]",
    "<m8[ms]",
    "<m8[ns]",
    ">m8[us]",
    "<m8[D]",
]
STRING_TYPES = ["|S1", "|S7", "<U1", "<U5", ">U5"]
NESTED = np.dtype(
    [
        ("id", "<u4"),
        ("pos", [("x", ">f8"), ("y", "<f4"), ("tag", "S3")]),
        ("grid", "<i2", (2, 3)),
        ("name", "<U3"),
        ("when", "<M8[s]"),
    ]
)
STRUCT_TYPES = [
    np.dtype([("a", "<i4"), ("b", ">f8")]),
    np.dtype([("flag", "?"), ("c", "<c8"), ("s", "S2")]),
    NESTED,
]
ALL_TYPES: list[Any] = (
    ["|b1"] + INT_TYPES + FLOAT_TYPES + COMPLEX_TYPES + TIME_TYPES + STRING_TYPES + STRUCT_TYPES
)

SHAPE = (10, 7)
CHUNKS = (4, 3)  # edge chunks in both dimensions


def sample(dtype: Any, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Varied values of ``dtype``: extremes, NaN/inf/-0.0, NaT, non-ASCII text, all fields."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=int))
    if dt.names is not None:
        out = np.zeros(shape, dtype=dt)
        for i, name in enumerate(dt.names):
            field = dt.fields[name][0]
            out[name] = sample(field.base, shape + field.shape, seed + i + 1)
        return out
    kind = dt.kind
    if kind == "b":
        flat = rng.integers(0, 2, n).astype(bool)
    elif kind in "iu":
        info = np.iinfo(dt)
        flat = rng.integers(info.min, info.max, n, endpoint=True, dtype=dt.newbyteorder("="))
        _put(flat, [info.min, info.max])
    elif kind == "f":
        flat = (rng.standard_normal(n) * 100).astype(dt)
        specials = [np.nan, np.inf, -np.inf, -0.0, np.finfo(dt).max, np.finfo(dt).tiny]
        _put(flat, specials)
    elif kind == "c":
        flat = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dt)
        specials = [complex(np.nan, 1), complex(np.inf, -np.inf), complex(-0.0, 0.0)]
        _put(flat, specials)
    elif kind == "S":
        alphabet = np.frombuffer(bytes(range(1, 256)), dtype="u1")
        flat = np.array(
            [rng.choice(alphabet, rng.integers(0, dt.itemsize + 1)).tobytes() for _ in range(n)],
            dtype=dt,
        )
    elif kind == "U":
        chars = list("abcXYZ 019-éßüΩж漢字🙂\u00a0")
        length = dt.itemsize // 4
        flat = np.array(
            ["".join(rng.choice(chars, rng.integers(0, length + 1))) for _ in range(n)], dtype=dt
        )
    elif kind in "mM":
        flat = rng.integers(-(10**6), 10**6, n).astype("i8").view(dt.newbyteorder("="))
        flat = flat.astype(dt)
        _put(flat, [np.array("NaT", dtype=dt)])
    else:  # pragma: no cover - every kind used above is handled
        raise AssertionError(dt)
    return np.asarray(flat, dtype=dt).reshape(shape)


def _put(flat: np.ndarray, specials: list[Any]) -> None:
    """Put special values at the start of ``flat`` (as many as fit)."""
    n = min(len(flat), len(specials))
    flat[:n] = specials[:n]


def assert_identical(actual: Any, expected: np.ndarray) -> None:
    """Same dtype (byte order included), same shape, same bytes (NaN payloads, -0.0)."""
    actual = np.asarray(actual)
    assert actual.dtype == expected.dtype
    assert actual.dtype.str == expected.dtype.str
    assert actual.shape == expected.shape
    assert np.ascontiguousarray(actual).tobytes() == np.ascontiguousarray(expected).tobytes()


def _ids(values: list[Any]) -> list[str]:
    return [
        str(np.dtype(v)) if np.dtype(v).names is None else f"struct{i}"
        for i, v in enumerate(values)
    ]


COMPRESSORS = {
    "default": "default",
    "none": None,
    "zstd": numcodecs.Zstd(level=1),
}


@pytest.mark.parametrize("compressor", list(COMPRESSORS))
@pytest.mark.parametrize("dtype", ALL_TYPES, ids=_ids(ALL_TYPES))
def test_roundtrip(dtype: Any, compressor: str) -> None:
    data = sample(dtype, SHAPE)
    store = MemoryStore()
    z = zarrkit.array(data, chunks=CHUNKS, store=store, compressor=COMPRESSORS[compressor])
    assert z.dtype == np.dtype(dtype)
    assert_identical(z[...], data)
    assert_identical(z[3:9, 1:6], data[3:9, 1:6])
    assert_identical(z[9], data[9])
    # a fresh Array reads the dtype back from the metadata
    again = zarrkit.Array(store)
    assert again.dtype == np.dtype(dtype)
    assert again.dtype.str == np.dtype(dtype).str
    assert_identical(again[...], data)
    meta = json.loads(store[".zarray"])
    if np.dtype(dtype).names is None:
        assert meta["dtype"] == np.dtype(dtype).str


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize(
    "dtype", ["|b1", ">i8", "<u2", ">f4", "<c16", "|S3", ">U2", ">M8[ms]", NESTED], ids=str
)
def test_roundtrip_order(dtype: Any, order: str) -> None:
    data = sample(dtype, (5, 6, 4), seed=3)
    z = zarrkit.array(data, chunks=(2, 4, 3), order=order)
    assert z.order == order
    assert_identical(z[...], data)
    assert_identical(z[1:4, 2:, ::2], data[1:4, 2:, ::2])
    # overwrite a region that cuts across chunks, then compare with NumPy
    update = sample(dtype, (3, 3, 4), seed=4)
    data[1:4, 2:5] = update
    z[1:4, 2:5] = update
    assert_identical(zarrkit.Array(z.store)[...], data)


def test_structured_fields_and_nesting() -> None:
    data = sample(NESTED, (9,), seed=7)
    z = zarrkit.array(data, chunks=4)
    assert z.dtype == NESTED
    assert_identical(z["id"], data["id"])
    assert_identical(z["grid"], data["grid"])
    assert_identical(z["pos"], data["pos"])
    # several fields come back packed (as zarr 2), not as NumPy's view with gaps
    packed = repack_fields(data[["name", "when"]])
    assert_identical(z.get_basic_selection(slice(2, 7), fields=["name", "when"]), packed[2:7])
    meta = json.loads(z.store[".zarray"])
    assert meta["dtype"] == [
        ["id", "<u4"],
        ["pos", [["x", ">f8"], ["y", "<f4"], ["tag", "|S3"]]],
        ["grid", "<i2", [2, 3]],
        ["name", "<U3"],
        ["when", "<M8[s]"],
    ]


# -- filter chains ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", INT_TYPES + ["<f8", ">f4"], ids=str)
def test_delta_filter(dtype: str) -> None:
    if np.dtype(dtype).kind == "f":
        # Delta on floats is only exact for values whose differences are exact
        data = np.arange(70, dtype=dtype).reshape(SHAPE) * 0.5
    else:
        data = sample(dtype, SHAPE, seed=1)
    for compressor in (None, "default"):
        z = zarrkit.array(
            data, chunks=CHUNKS, filters=[numcodecs.Delta(dtype=dtype)], compressor=compressor
        )
        assert z.filters == [numcodecs.Delta(dtype=dtype)]
        assert_identical(zarrkit.Array(z.store)[...], data)


@pytest.mark.parametrize(
    "dtype", ["|b1", ">i2", "<u8", ">f2", "<c8", "|S5", ">U3", "<m8[us]", NESTED], ids=str
)
def test_shuffle_then_compressor(dtype: Any) -> None:
    dt = np.dtype(dtype)
    data = sample(dt, SHAPE, seed=2)
    filters = [numcodecs.Shuffle(elementsize=dt.itemsize)]
    z = zarrkit.array(data, chunks=CHUNKS, filters=filters, compressor=numcodecs.Zlib(level=1))
    assert_identical(zarrkit.Array(z.store)[...], data)


@pytest.mark.parametrize("dtype", ["<f4", ">f8", "<f8"])
def test_quantize_is_lossy_as_numcodecs_says(dtype: str) -> None:
    data = np.linspace(-3, 7, 70, dtype=dtype).reshape(SHAPE)
    codec = numcodecs.Quantize(digits=2, dtype=dtype)
    z = zarrkit.array(data, chunks=CHUNKS, filters=[codec])
    # the reference: numcodecs applied to the whole array (Quantize works item by item)
    expected = codec.decode(codec.encode(data)).reshape(SHAPE)
    assert_identical(zarrkit.Array(z.store)[...], expected.astype(dtype))
    assert not np.array_equal(expected, data)  # it did round


def test_chain_of_several_filters() -> None:
    data = np.linspace(0, 100, 70).reshape(SHAPE)
    filters = [
        numcodecs.FixedScaleOffset(offset=50, scale=10, dtype="<f8", astype="<i4"),
        numcodecs.Delta(dtype="<i4"),
        numcodecs.Shuffle(elementsize=4),
    ]
    z = zarrkit.array(data, chunks=CHUNKS, filters=filters, compressor=numcodecs.Zstd())
    expected = np.round(data * 10) / 10
    np.testing.assert_allclose(zarrkit.Array(z.store)[...], expected, rtol=0, atol=1e-12)
    assert [f.codec_id for f in zarrkit.Array(z.store).filters] == [
        "fixedscaleoffset",
        "delta",
        "shuffle",
    ]


def test_packbits_for_bool_and_categorize_for_text() -> None:
    b = sample("|b1", SHAPE, seed=5)
    zb = zarrkit.array(b, chunks=CHUNKS, filters=[numcodecs.PackBits()])
    assert_identical(zarrkit.Array(zb.store)[...], b)
    labels = ["apfel", "birne", "kirsche"]
    u = np.array(labels * 24, dtype="<U7")[:70].reshape(SHAPE)
    zu = zarrkit.array(
        u, chunks=CHUNKS, filters=[numcodecs.Categorize(labels, dtype="<U7", astype="u1")]
    )
    assert_identical(zarrkit.Array(zu.store)[...], u)


# -- fill values -----------------------------------------------------------------------------

FILLS: list[tuple[Any, Any]] = [
    ("|b1", True),
    ("<i1", -128),
    (">i8", np.iinfo("i8").max),
    ("<u8", np.iinfo("u8").max),
    (">u2", 7),
    ("<f2", 1.5),
    ("<f4", np.nan),
    (">f8", np.nan),
    ("<f8", np.inf),
    ("<f4", -np.inf),
    ("<f8", 5e-324),  # subnormal (-0.0 is normalised to 0.0, as zarr 2 does)
    ("<c8", 1 - 2j),
    (">c16", complex(np.nan, np.inf)),
    ("|S4", b"ab"),
    ("|S3", b"\x00\xffz"),
    ("<U6", "héllo"),
    (">U2", "漢字"),
    ("<M8[D]", np.datetime64("2021-03-04")),
    (">M8[ns]", np.datetime64("NaT", "ns")),
    ("<m8[s]", np.timedelta64(-90, "s")),
    (np.dtype([("a", "<i4"), ("b", ">f8")]), (3, -1.25)),
    (NESTED, None),  # filled in below with a real record
]


def _fill_cases() -> list[tuple[Any, Any]]:
    cases = []
    for dtype, fill in FILLS:
        if fill is None:
            fill = sample(dtype, (1,), seed=11)[0]
        cases.append((dtype, fill))
    return cases


def _same_scalar(a: Any, b: Any, dtype: Any) -> bool:
    """Equal as items of ``dtype``, byte for byte (so NaN == NaN and -0.0 != 0.0)."""
    return np.array(a, dtype=dtype).tobytes() == np.array(b, dtype=dtype).tobytes()


@pytest.mark.parametrize("compressor", ["default", "none"])
@pytest.mark.parametrize("dtype,fill", _fill_cases(), ids=lambda v: str(v)[:20])
def test_fill_values(dtype: Any, fill: Any, compressor: str) -> None:
    dt = np.dtype(dtype)
    store = MemoryStore()
    z = zarrkit.full(
        SHAPE,
        fill_value=fill,
        chunks=CHUNKS,
        dtype=dt,
        store=store,
        compressor=COMPRESSORS[compressor],
    )
    expected = np.full(SHAPE, np.array(fill, dtype=dt), dtype=dt)
    assert _same_scalar(z.fill_value, fill, dt)
    assert_identical(z[...], expected)
    # writing one region leaves the unwritten ones at the fill value
    values = sample(dt, (3, 4), seed=9)
    z[2:5, 1:5] = values
    expected[2:5, 1:5] = values
    assert_identical(z[...], expected)
    assert z.nchunks_initialized == 4
    # the fill value survives the metadata round trip
    again = zarrkit.Array(store)
    assert _same_scalar(again.fill_value, fill, dt)
    assert_identical(again[...], expected)
    assert_identical(again[8:, 6], expected[8:, 6])


@pytest.mark.parametrize(
    "dtype,fill,stored",
    [
        ("<f8", np.nan, "NaN"),
        ("<f4", np.inf, "Infinity"),
        (">f8", -np.inf, "-Infinity"),
        ("<c16", 1.5 - 2j, [1.5, -2.0]),
        ("|S3", b"ab", "YWI="),
        ("<U3", "ab", "ab"),
        ("<M8[s]", np.datetime64(5, "s"), 5),
        ("|b1", True, True),
        ("<i4", None, None),
    ],
)
def test_fill_value_json_encoding(dtype: str, fill: Any, stored: Any) -> None:
    """The Zarr v2 spec's encodings: strings for non-finite floats, base64 for bytes, [re, im]."""
    z = zarrkit.full(4, fill_value=fill, dtype=dtype)
    assert json.loads(z.store[".zarray"])["fill_value"] == stored


def test_zero_fill_for_every_dtype_reads_zero_bytes() -> None:
    for dtype in ALL_TYPES:
        dt = np.dtype(dtype)
        z = zarrkit.zeros(SHAPE, chunks=CHUNKS, dtype=dt)
        assert_identical(z[...], np.zeros(SHAPE, dtype=dt))


def test_no_fill_value_is_stored_as_null_and_written_data_reads_back() -> None:
    z = zarrkit.empty(SHAPE, chunks=CHUNKS, dtype="<f8")
    assert z.fill_value is None
    assert json.loads(z.store[".zarray"])["fill_value"] is None
    data = sample("<f8", SHAPE)
    z[...] = data
    assert_identical(zarrkit.Array(z.store)[...], data)


@pytest.mark.parametrize("unit", DATETIME_UNITS)
def test_datetime_units_round_trip_values(unit: str) -> None:
    dt = np.dtype(f"M8[{unit}]")
    values = np.array(
        ["1969-12-31", "2000-02-29", "NaT", "2262-01-01", "1677-12-31"], dtype="M8[D]"
    )
    data = values.astype(dt)
    z = zarrkit.array(data, chunks=2)
    assert z.dtype == dt
    np.testing.assert_array_equal(z[:], data)
    assert np.isnat(z[2])
    td = np.array([0, -1, 3, 10**9], dtype=f"m8[{unit}]")
    zt = zarrkit.array(td, chunks=3)
    np.testing.assert_array_equal(zt[:], td)
