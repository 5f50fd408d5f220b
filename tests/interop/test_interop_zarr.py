"""Arrays cross between zarrkit and the installed zarr-python through a directory on disk.

Each direction runs in both environments: with zarr-python 2.x through its own API, with
zarr-python 3.x through its Zarr v2 support (``zarr_format=2``). Data are checked against NumPy.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
from numcodecs import BZ2, LZMA, Blosc, Delta, FixedScaleOffset, PackBits, Quantize, Zlib, Zstd

import zarrkit
from conftest import ZARR2

FORMAT2: dict[str, Any] = {} if ZARR2 else {"zarr_format": 2}

ATTRS = {
    "title": "caf\u00e9 \u2603",
    "nested": {"b": [1, 2.5, None, True], "a": {"deep": ["x", {"y": -1}]}},
    "empty": {},
}


def _data(dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Deterministic, varied data of ``dtype``."""
    rng = np.random.default_rng(7)
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
        return rng.integers(0, 100, n).astype(dt).reshape(shape)
    if dt.kind == "f":
        return np.round(np.cumsum(rng.normal(size=n)), 2).astype(dt).reshape(shape)
    if dt.kind == "c":
        return (_data("f8", shape) - 1j * _data("f8", shape)[::-1]).astype(dt)
    if dt.kind in "SU":
        words = np.array(["", "a", "bc", "def", "\u00e9t\u00e9"])
        vals = words[rng.integers(0, len(words), n)]
        if dt.kind == "S":
            vals = np.char.encode(vals, "utf-8")
        return vals.astype(dt).reshape(shape)
    if dt.kind in "mM":
        return rng.integers(-(10**6), 10**6, n).astype(dt).reshape(shape)
    if dt.kind == "O":
        words = ["", "x", "hello", "\u00fcnic\u00f8de \U0001f600", "long" * 20]
        return np.array([words[i] for i in rng.integers(0, len(words), n)], dtype=object).reshape(
            shape
        )
    raise AssertionError(dt)


class Case:
    """One array: how it is created, what is written, and what every reader must see."""

    def __init__(
        self,
        dtype: Any,
        shape: tuple[int, ...] = (13, 10),
        chunks: tuple[int, ...] = (4, 3),
        order: str = "C",
        compressor: Callable[[], Any] | None = None,
        filters: Callable[[], list[Any]] | None = None,
        fill_value: Any = 0,
        sep: str = ".",
        region: tuple[slice, ...] | None = (slice(1, 9), slice(0, 7)),
        zarr3: bool = True,
        atol: float = 0.0,
    ) -> None:
        self.dtype = np.dtype(dtype) if dtype is not str else dtype
        self.shape, self.chunks, self.order = shape, chunks, order
        self.compressor, self.filters = compressor, filters
        self.fill_value, self.sep = fill_value, sep
        # ``region`` is written; elsewhere readers see the fill value (None: write it all)
        self.region = region if fill_value is not None else None
        self.zarr3 = zarr3  # False: zarr 3 cannot open this dtype (see ZARR3_DTYPE_QUIRK)
        self.atol = atol  # lossy filters: how far from the data a reader may be

    def kwargs(self) -> dict[str, Any]:
        """Creation arguments shared by zarrkit and zarr-python."""
        return dict(
            shape=self.shape,
            chunks=self.chunks,
            dtype=self.dtype,
            order=self.order,
            compressor=self.compressor() if self.compressor else None,
            filters=self.filters() if self.filters else None,
            fill_value=self.fill_value,
            dimension_separator=self.sep,
        )

    def data(self) -> np.ndarray:
        return _data(np.dtype(object) if self.dtype is str else self.dtype, self.shape)

    def expected(self) -> np.ndarray:
        data = self.data()
        if self.region is None:
            return data
        out = np.empty_like(data)
        if data.dtype == object:
            out[...] = self.fill_value
        elif isinstance(self.fill_value, int) and self.fill_value == 0:
            out[...] = np.zeros((), data.dtype)  # 0 means all-zero bytes, also for str fields
        else:
            out[...] = np.array(self.fill_value, data.dtype)
        out[self.region] = data[self.region]
        return out

    def write(self, z: Any) -> None:
        data = self.data()
        if self.region is None:
            z[...] = data
        else:
            z[self.region] = data[self.region]
        z.attrs.update(ATTRS)


STRUCT = [("a", "<i4"), ("b", ">f8"), ("c", "S3")]
STRUCT_NESTED = [("a", "<i4", (2,)), ("b", [("x", ">u2"), ("y", "<U2")])]

ZARR3_DTYPE_QUIRK = """zarr-python 3.1 quirk: it reads structured dtypes only when they are flat with scalar
fields. v2 metadata whose structured dtype nests a structure or has a subarray field is valid
Zarr v2 (zarr-python 2.x writes and reads it, checked in the zarr 2 run), but zarr 3's data-type
registry finds no match and raises ValueError on open."""

CASES: dict[str, Case] = {
    "f8-blosc-nan": Case("<f8", compressor=Blosc, fill_value=np.nan),
    "f4be-F-zlib-slash": Case(">f4", order="F", compressor=lambda: Zlib(3), sep="/"),
    "i2be-zstd-F": Case(">i2", order="F", compressor=lambda: Zstd(2), fill_value=-3),
    "u8-raw": Case("<u8", compressor=None, fill_value=2**64 - 1),
    "i1-lzma-slash": Case("i1", compressor=lambda: LZMA(preset=1), sep="/", fill_value=None),
    "bool-packbits": Case("b1", filters=lambda: [PackBits()], fill_value=True),
    "c16-bz2-F": Case("<c16", order="F", compressor=lambda: BZ2(2), fill_value=1 - 2j),
    "c8be": Case(">c8", compressor=lambda: Blosc("zstd", 1), fill_value=None),
    "S5-blosc-bitshuffle": Case(
        "S5", compressor=lambda: Blosc("lz4hc", 5, Blosc.BITSHUFFLE), fill_value=b"ab"
    ),
    "U4-F": Case("<U4", order="F", compressor=lambda: Zstd(1), fill_value="\u00e9x"),
    "U3be-slash": Case(">U3", compressor=Blosc, sep="/", fill_value=""),
    "M8-ns": Case("<M8[ns]", compressor=lambda: Zlib(1), fill_value=np.datetime64("2001-01-01")),
    "m8-ms-F": Case("<m8[ms]", order="F", compressor=None, fill_value=-1),
    "structured": Case(STRUCT, compressor=lambda: Zstd(3), fill_value=(7, -1.5, b"xyz")),
    "structured-F-slash": Case(STRUCT, order="F", sep="/", compressor=None, fill_value=None),
    "structured-nested-subarray": Case(STRUCT_NESTED, compressor=Blosc, zarr3=False),
    "str-vlen": Case(str, compressor=lambda: Zstd(1), fill_value=""),
    "f8-delta-zstd": Case("<f8", filters=lambda: [Delta(dtype="<f8")], compressor=lambda: Zstd(3)),
    "f8-fixedscaleoffset-F": Case(
        "<f8",
        order="F",
        filters=lambda: [FixedScaleOffset(offset=10, scale=100, dtype="<f8", astype="<i4")],
        compressor=lambda: Blosc("zlib", 4, Blosc.SHUFFLE),
        fill_value=-9.5,
        atol=0.005,
    ),
    "f8-quantize-delta-slash": Case(
        "<f8",
        filters=lambda: [Quantize(digits=4, dtype="<f8"), Delta(dtype="<f8")],
        compressor=lambda: Zlib(5),
        sep="/",
        atol=1e-4,
    ),
    "i4-3d-edges": Case(
        "<i4", shape=(11, 7, 5), chunks=(4, 3, 2), region=(slice(2, 10), 3, slice(None))
    ),
    "i4-3d-edges-F-slash": Case(
        "<i4",
        shape=(11, 7, 5),
        chunks=(5, 7, 2),
        order="F",
        sep="/",
        compressor=Blosc,
        region=(slice(0, 3), slice(1, 6), slice(4, 5)),
        fill_value=42,
    ),
    "u2-1d-one-chunk-bigger-than-array": Case("<u2", shape=(9,), chunks=(20,), region=None),
    "f8-0d": Case("<f8", shape=(), chunks=(), region=None, fill_value=np.nan),
    "i8-empty-dim": Case("<i8", shape=(0, 4), chunks=(2, 2), region=None),
}

PARAMS = [pytest.param(c, id=name) for name, c in CASES.items()]


def _check_equal(got: np.ndarray, expected: np.ndarray, atol: float = 0.0) -> None:
    """Equal shape, dtype and items (NaN and NaT equal themselves); ``atol`` for lossy filters."""
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    if expected.dtype.fields is not None:
        assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(expected).tobytes()
    elif expected.dtype == object:
        assert got.tolist() == expected.tolist()
    elif atol:
        np.testing.assert_allclose(got, expected, rtol=0, atol=atol)
    else:
        np.testing.assert_array_equal(got, expected)


def _zarr_dtype(z: Any) -> np.dtype:
    dt = z.dtype
    return dt if isinstance(dt, np.dtype) else dt.to_native_dtype()


def _zarr_open(path: Path) -> Any:
    """The installed zarr-python's read-only view of the v2 array at ``path``."""
    return zarr.open_array(str(path), mode="r", **FORMAT2)


def _zarr_create(path: Path, case: Case) -> Any:
    kwargs = case.kwargs()
    if not ZARR2:
        if case.dtype is str:
            kwargs["dtype"] = str
        if kwargs["shape"] == ():
            kwargs["compressor"] = None
    return zarr.create(store=str(path), **kwargs, **FORMAT2)


def _zarr3_cannot(case: Case) -> bool:
    return not ZARR2 and not case.zarr3


# -- zarrkit writes, zarr-python reads ----------------------------------------------------------


@pytest.mark.parametrize("case", PARAMS)
def test_zarr_reads_zarrkit(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "a.zarr"
    z = zarrkit.open_array(str(path), mode="w", **case.kwargs())
    case.write(z)
    expected = case.expected()
    mine = z[...]
    _check_equal(mine, expected, case.atol)
    if _zarr3_cannot(case):
        with pytest.raises(ValueError, match="No Zarr data type"):  # ZARR3_DTYPE_QUIRK
            _zarr_open(path)
        return

    r = _zarr_open(path)
    assert r.shape == case.shape
    assert tuple(r.chunks) == case.chunks
    if case.dtype is not str:
        assert _zarr_dtype(r) == case.dtype
    if case.fill_value is None:
        assert r.fill_value is None or not ZARR2  # zarr 3 substitutes a default
    got = r[...]
    if case.dtype is str:
        got = np.asarray(got, dtype=object)  # zarr 3 reads strings as StringDType
    _check_equal(got, expected, case.atol)
    _check_equal(got, mine)  # both decode the stored bytes to the very same values
    assert dict(r.attrs) == ATTRS


# -- zarr-python writes, zarrkit reads ----------------------------------------------------------


@pytest.mark.parametrize("case", PARAMS)
def test_zarrkit_reads_zarr(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "b.zarr"
    if _zarr3_cannot(case):
        with pytest.raises((ValueError, TypeError)):  # ZARR3_DTYPE_QUIRK
            _zarr_create(path, case)
            _zarr_open(path)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = _zarr_create(path, case)
        case.write(z)
    expected = case.expected()

    r = zarrkit.open_array(str(path), mode="r")
    assert r.shape == case.shape
    assert r.chunks == case.chunks
    assert r.order == case.order
    if case.dtype is not str:
        assert r.dtype == case.dtype
    if case.compressor is not None and case.shape:
        assert r.compressor.get_config() == case.compressor().get_config()
    got = r[...]
    _check_equal(got, expected, case.atol)
    theirs = z[...]
    if case.dtype is str:
        theirs = np.asarray(theirs, dtype=object)
    _check_equal(got, theirs)  # both decode the stored bytes to the very same values
    assert r.attrs.asdict() == ATTRS
    doc = json.loads((path / ".zarray").read_text())
    assert doc.get("dimension_separator", ".") == case.sep


# -- both ways in one array ------------------------------------------------------------------


@pytest.mark.parametrize("sep", [".", "/"])
def test_alternating_writers(sep: str, tmp_path: Path) -> None:
    """zarrkit and zarr-python take turns updating the same array; each sees the other's data."""
    path = str(tmp_path / "c.zarr")
    expected = np.full((20, 12), -1, dtype="<i4")
    zk = zarrkit.open_array(
        path,
        mode="w",
        shape=expected.shape,
        chunks=(6, 5),
        dtype="<i4",
        fill_value=-1,
        compressor=Zstd(1),
        dimension_separator=sep,
    )
    zp = zarr.open_array(path, mode="r+", **FORMAT2)
    rng = np.random.default_rng(0)
    for step in range(6):
        r0, c0 = rng.integers(0, 15), rng.integers(0, 9)
        block = rng.integers(0, 1000, (5, 3)).astype("<i4")
        expected[r0 : r0 + 5, c0 : c0 + 3] = block
        writer = zk if step % 2 else zp
        writer[r0 : r0 + 5, c0 : c0 + 3] = block
        np.testing.assert_array_equal(zarrkit.open_array(path, mode="r")[:], expected)
        np.testing.assert_array_equal(zarr.open_array(path, mode="r", **FORMAT2)[:], expected)


def test_zarrkit_resize_and_append_read_by_zarr(tmp_path: Path) -> None:
    path = str(tmp_path / "d.zarr")
    z = zarrkit.open_array(path, mode="w", shape=(5, 4), chunks=(2, 3), dtype="<f4", fill_value=1)
    z[:] = np.arange(20).reshape(5, 4)
    z.resize(7, 6)
    z.append(np.zeros((3, 6), dtype="<f4"))
    z.resize(9, 5)
    expected = np.ones((9, 5), dtype="<f4")
    expected[:5, :4] = np.arange(20).reshape(5, 4)
    expected[7:9] = 0
    np.testing.assert_array_equal(z[:], expected)
    np.testing.assert_array_equal(_zarr_open(Path(path))[:], expected)


def test_nested_directory_stores(tmp_path: Path) -> None:
    """zarrkit's NestedDirectoryStore writes '/' keys that zarr-python reads, and back."""
    data = _data("<i2", (9, 8))
    path = tmp_path / "e.zarr"
    zarrkit.array(data, chunks=(4, 4), store=zarrkit.NestedDirectoryStore(str(path)))
    assert (path / "2" / "1").is_file()
    np.testing.assert_array_equal(_zarr_open(path)[:], data)

    path2 = tmp_path / "f.zarr"
    if ZARR2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecated in zarr 2.18
            zarr.array(data, chunks=(4, 4), store=zarr.NestedDirectoryStore(str(path2)))
    else:
        zarr.create_array(
            str(path2),
            data=data,
            chunks=(4, 4),
            zarr_format=2,
            chunk_key_encoding={"name": "v2", "separator": "/"},
        )
    assert (path2 / "2" / "1").is_file()
    np.testing.assert_array_equal(zarrkit.open_array(str(path2), mode="r")[:], data)


@pytest.mark.parametrize(
    "dtype",
    [
        [("a", "<i4", (2,))],
        [("a", "<i4"), ("b", [("x", ">u2")])],
        STRUCT_NESTED,
    ],
    ids=["subarray-field", "nested", "both"],
)
def test_structured_dtypes_zarr3_cannot_open(dtype: Any, tmp_path: Path) -> None:
    """zarr 2 reads nested and subarray structured dtypes; zarr 3 cannot (ZARR3_DTYPE_QUIRK)."""
    path = tmp_path / "g.zarr"
    z = zarrkit.open_array(str(path), mode="w", shape=4, chunks=2, dtype=dtype, fill_value=None)
    data = _data(dtype, (4,))
    z[:] = data
    if ZARR2:
        got = _zarr_open(path)[:]
        assert got.dtype == data.dtype
        assert got.tobytes() == data.tobytes()
    else:
        with pytest.raises(ValueError, match="No Zarr data type"):
            _zarr_open(path)


def test_zarr_array_function_read_by_zarrkit(tmp_path: Path) -> None:
    """The array-from-data call of each zarr-python (zarr 3: ``create_array``) is read too."""
    data = _data("<f8", (10, 9))
    path = tmp_path / "h.zarr"
    compressor = numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE)
    # finite fill value: Delta over NaN- or inf-padded edge chunks turns real items into NaN,
    # for every reader (the padding is part of the stored chunk)
    filters = [numcodecs.Delta(dtype="<f8")]
    if ZARR2:
        z = zarr.array(
            data,
            store=str(path),
            chunks=(3, 4),
            order="F",
            compressor=compressor,
            filters=filters,
            fill_value=-1.5,
        )
        z.attrs["unit"] = "m\u00b2"
    else:
        zarr.create_array(
            str(path),
            data=data,
            chunks=(3, 4),
            zarr_format=2,
            order="F",
            compressors=compressor,
            filters=filters,
            fill_value=-1.5,
            attributes={"unit": "m\u00b2"},
        )
    r = zarrkit.open_array(str(path), mode="r")
    assert r.order == "F"
    assert r.fill_value == -1.5
    assert r.attrs["unit"] == "m\u00b2"
    theirs = _zarr_open(path)[:]
    np.testing.assert_array_equal(r[:], theirs)  # the same bytes decode to the same values
    np.testing.assert_allclose(r[:], data, rtol=0, atol=1e-12)  # Delta on floats rounds
    np.testing.assert_array_equal(r.oindex[[0, 9], ::2], theirs[[0, 9], ::2])
