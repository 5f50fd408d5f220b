"""Arrays cross between zarrkit and tensorstore's ``zarr`` driver through a directory on disk.

tensorstore is an independent C++ implementation of Zarr v2, so agreement with it checks the
format rather than a shared Python code path. Data are checked against NumPy.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numcodecs import BZ2, Blosc, Zlib, Zstd

import zarrkit

ts = pytest.importorskip("tensorstore")


def _spec(path: Path, **extra: Any) -> dict[str, Any]:
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}, **extra}


def _ts_open(path: Path, field: str | None = None, **kwargs: Any) -> Any:
    extra = {"field": field} if field else {}
    return ts.open(_spec(path, **extra), **kwargs).result()


def _data(dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Deterministic, varied data of ``dtype``."""
    rng = np.random.default_rng(3)
    n = int(np.prod(shape))
    if dtype.fields is not None:
        out = np.zeros(n, dtype=dtype)
        for name in dtype.names:
            sub = dtype.fields[name][0]
            out[name] = _data(sub.base, (n, *sub.shape))
        return out.reshape(shape)
    if dtype.kind == "b":
        return (rng.integers(0, 3, n) == 0).reshape(shape)
    if dtype.kind in "iu":
        return rng.integers(0, 120, n).astype(dtype).reshape(shape)
    if dtype.kind == "f":
        return (rng.normal(size=n) * 100).astype(dtype).reshape(shape)
    if dtype.kind == "c":
        return (_data(np.dtype("f8"), shape) + 1j * _data(np.dtype("f8"), shape)).astype(dtype)
    raise AssertionError(dtype)


def _fill_json(value: Any, dtype: np.dtype) -> Any:
    """The Zarr v2 JSON form of a fill value (written independently of zarrkit)."""
    if value is None:
        return None
    if dtype.fields is not None:
        return base64.b64encode(np.array(value, dtype=dtype).tobytes()).decode()
    if dtype.kind == "f":
        v = float(value)
        if np.isnan(v):
            return "NaN"
        if np.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if dtype.kind == "c":
        return [
            _fill_json(complex(value).real, np.dtype("f8")),
            _fill_json(complex(value).imag, np.dtype("f8")),
        ]
    if dtype.kind == "b":
        return bool(value)
    return int(value)


ZSTD_CHECKSUM_QUIRK = """numcodecs' Zstd config carries a "checksum" member ({"id": "zstd", "level": 3,
"checksum": false}) and zarr-python 2.18 writes it to .zarray as is, so zarrkit does too (the
bytes must equal zarr 2's). tensorstore's zarr driver knows only "level" and refuses the
metadata ("Object includes extra members: checksum"). zarr-python 3 works around it by dropping
a false checksum (zarr-python issue 2647, pull request 2655). The chunk bytes themselves are
plain zstd frames that tensorstore decodes once the member is gone."""


def _ts_compressor(codec: Any) -> dict | None:
    """A codec's config in the form tensorstore accepts (see ZSTD_CHECKSUM_QUIRK)."""
    if codec is None:
        return None
    config = codec.get_config()
    if config["id"] == "zstd" and not config.get("checksum"):
        config.pop("checksum", None)
    return config


def _drop_zstd_checksum(path: Path) -> None:
    """Rewrite ``.zarray`` without numcodecs' false zstd checksum (see ZSTD_CHECKSUM_QUIRK)."""
    meta_path = path / ".zarray"
    doc = json.loads(meta_path.read_text())
    if doc["compressor"] and doc["compressor"]["id"] == "zstd":
        assert doc["compressor"].pop("checksum") is False
        meta_path.write_text(json.dumps(doc))


class Case:
    """An array: its metadata, the region written, and what every reader must see."""

    def __init__(
        self,
        dtype: Any,
        shape: tuple[int, ...] = (17, 11),
        chunks: tuple[int, ...] = (5, 4),
        order: str = "C",
        compressor: Any = None,
        fill_value: Any = 0,
        sep: str = ".",
        region: tuple[Any, ...] | None = (slice(2, 13), slice(1, 6)),
    ) -> None:
        self.dtype = np.dtype(dtype)
        self.shape, self.chunks, self.order = shape, chunks, order
        self.compressor, self.fill_value, self.sep = compressor, fill_value, sep
        self.region = region if fill_value is not None else None

    def data(self) -> np.ndarray:
        return _data(self.dtype, self.shape)

    def expected(self) -> np.ndarray:
        data = self.data()
        if self.region is None:
            return data
        out = np.empty_like(data)
        out[...] = np.array(self.fill_value, dtype=self.dtype)
        out[self.region] = data[self.region]
        return out

    def region_or_all(self) -> tuple[Any, ...]:
        return self.region if self.region is not None else (Ellipsis,)

    def metadata(self) -> dict[str, Any]:
        """``.zarray`` contents for tensorstore to create the array from."""
        fields = self.dtype.fields
        return {
            "zarr_format": 2,
            "shape": list(self.shape),
            "chunks": list(self.chunks),
            "dtype": self.dtype.str if fields is None else [list(d) for d in self.dtype.descr],
            "compressor": _ts_compressor(self.compressor),
            "fill_value": _fill_json(self.fill_value, self.dtype),
            "order": self.order,
            "filters": None,
            "dimension_separator": self.sep,
        }


STRUCT = [("a", "<i4"), ("b", ">f8"), ("c", "u1", (3,))]

CASES: dict[str, Case] = {
    "f8-blosc-nan": Case("<f8", compressor=Blosc(), fill_value=np.nan),
    "f8-F-zlib-slash": Case("<f8", order="F", compressor=Zlib(4), sep="/", fill_value=-np.inf),
    "f4be-zstd": Case(">f4", compressor=Zstd(3), fill_value=2.5),
    "f2-none": Case("<f2", compressor=None),
    "i1-blosc-zstd-bitshuffle": Case("i1", compressor=Blosc("zstd", 5, Blosc.BITSHUFFLE)),
    "i2be-F-blosc-noshuffle-slash": Case(
        ">i2", order="F", sep="/", compressor=Blosc("lz4hc", 3, Blosc.NOSHUFFLE), fill_value=-7
    ),
    "i8-zlib-nofill": Case("<i8", compressor=Zlib(1), fill_value=None),
    "u2-F-zstd": Case("<u2", order="F", compressor=Zstd(1), fill_value=65535),
    "u8be-blosc-zlib": Case(">u8", compressor=Blosc("zlib", 1, Blosc.SHUFFLE)),
    "bool-blosc-F": Case("b1", order="F", compressor=Blosc("blosclz", 9), fill_value=True),
    "c8-zstd-slash": Case("<c8", compressor=Zstd(2), sep="/", fill_value=1 - 1j),
    "c16be-F-none": Case(">c16", order="F", compressor=None, fill_value=None),
    "u4-bz2": Case("<u4", compressor=BZ2(5)),
    "structured": Case(STRUCT, compressor=Zstd(1), fill_value=(-1, 0.5, (1, 2, 3))),
    "structured-F-slash": Case(STRUCT, order="F", sep="/", compressor=Blosc(), fill_value=0),
    "i4-3d-edges": Case(
        "<i4",
        shape=(9, 8, 7),
        chunks=(4, 3, 5),
        compressor=Zlib(2),
        region=(slice(1, 8), 4, slice(2, 7)),
        fill_value=11,
    ),
    "i4-3d-F-slash": Case(
        "<i4",
        shape=(9, 8, 7),
        chunks=(2, 8, 3),
        order="F",
        sep="/",
        compressor=Blosc(),
        region=(slice(None), slice(0, 3), slice(6, 7)),
    ),
    "u1-1d-chunk-bigger-than-array": Case("u1", shape=(10,), chunks=(64,), region=None),
}

PARAMS = [pytest.param(c, id=name) for name, c in CASES.items()]


def _fields(dtype: np.dtype) -> list[str | None]:
    return list(dtype.names) if dtype.fields is not None else [None]


def _ts_read(path: Path, case: Case) -> np.ndarray:
    """Everything tensorstore reads from the array at ``path`` (field by field)."""
    if case.dtype.fields is None:
        return _ts_open(path).read().result()
    out = np.zeros(case.shape, dtype=case.dtype)
    for name in case.dtype.names:
        out[name] = _ts_open(path, field=name).read().result()
    return out


def _check_equal(got: np.ndarray, expected: np.ndarray) -> None:
    """Same shape, same values, same dtype up to byte order (tensorstore reads native)."""
    assert got.shape == expected.shape
    if expected.dtype.fields is None:
        assert got.dtype.newbyteorder("=") == expected.dtype.newbyteorder("=")
    else:
        assert got.dtype == expected.dtype
    if expected.dtype.fields is not None:
        for name in expected.dtype.names:
            np.testing.assert_array_equal(got[name], expected[name])
    else:
        np.testing.assert_array_equal(got, expected)


# -- zarrkit writes, tensorstore reads ----------------------------------------------------------


@pytest.mark.parametrize("case", PARAMS)
def test_tensorstore_reads_zarrkit(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "a.zarr"
    z = zarrkit.open_array(
        str(path),
        mode="w",
        shape=case.shape,
        chunks=case.chunks,
        dtype=case.dtype,
        compressor=case.compressor,
        fill_value=case.fill_value,
        order=case.order,
        dimension_separator=case.sep,
    )
    region = case.region_or_all()
    z[region] = case.data()[region]
    expected = case.expected()
    np.testing.assert_array_equal(z[...], expected)

    if isinstance(case.compressor, Zstd):
        with pytest.raises(ValueError, match="extra members"):  # ZSTD_CHECKSUM_QUIRK
            _ts_open(path, field=_fields(case.dtype)[0])
        _drop_zstd_checksum(path)
    t = _ts_open(path, field=_fields(case.dtype)[0])
    assert t.shape[: len(case.shape)] == case.shape
    meta = t.spec().to_json()["metadata"]
    assert meta["chunks"] == list(case.chunks)
    assert meta["order"] == case.order
    assert meta["dimension_separator"] == case.sep
    _check_equal(_ts_read(path, case), expected)


# -- tensorstore writes, zarrkit reads ----------------------------------------------------------


@pytest.mark.parametrize("case", PARAMS)
def test_zarrkit_reads_tensorstore(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "b.zarr"
    data = case.data()
    region = case.region_or_all()
    for i, name in enumerate(_fields(case.dtype)):
        spec = _spec(path, metadata=case.metadata(), **({"field": name} if name else {}))
        t = ts.open(spec, create=i == 0, open=i > 0).result()
        t[region].write(data[name][region] if name else data[region]).result()
    expected = case.expected()

    z = zarrkit.open_array(str(path), mode="r")
    assert z.shape == case.shape
    assert z.chunks == case.chunks
    assert z.dtype == case.dtype
    assert z.order == case.order
    assert (z.compressor is None) == (case.compressor is None)
    if case.compressor is not None:
        assert z.compressor.codec_id == case.compressor.codec_id
    doc = json.loads((path / ".zarray").read_text())
    assert doc["dimension_separator"] == case.sep
    _check_equal(z[...], expected)
    _check_equal(z[...], _ts_read(path, case))
    # a few selections through zarrkit's chunk engine over tensorstore's chunks
    sel = (slice(1, None, 3),) + (slice(None),) * (len(case.shape) - 1)
    _check_equal(z[sel], expected[sel])
    if len(case.shape) >= 2:
        rows = [0, case.shape[0] - 1]
        _check_equal(z.get_orthogonal_selection((rows, slice(None))), expected[rows])


@pytest.mark.parametrize("dtype", ["<f4", "u1", "<i8", "b1"])
def test_zarrkit_reads_tensorstore_defaults(dtype: str, tmp_path: Path) -> None:
    """tensorstore's own choices (chunk shape, Blosc with shuffle -1, null fill) read back."""
    path = tmp_path / "f.zarr"
    data = _data(np.dtype(dtype), (300, 70))
    t = ts.open(_spec(path), create=True, dtype=np.dtype(dtype), shape=data.shape).result()
    t.write(data).result()
    doc = json.loads((path / ".zarray").read_text())
    assert doc["fill_value"] is None
    z = zarrkit.open_array(str(path), mode="r")
    assert z.fill_value is None
    assert z.compressor.get_config() == doc["compressor"]
    assert z.chunks == tuple(doc["chunks"])
    _check_equal(z[...], data)
    _check_equal(z[::7, 3:60:5], data[::7, 3:60:5])


def test_alternating_writers(tmp_path: Path) -> None:
    """zarrkit and tensorstore take turns updating one array; each sees the other's data."""
    path = tmp_path / "c.zarr"
    expected = np.full((30, 16), 5, dtype="<u2")
    zk = zarrkit.open_array(
        str(path),
        mode="w",
        shape=expected.shape,
        chunks=(7, 6),
        dtype="<u2",
        fill_value=5,
        compressor=Blosc("zstd", 1, Blosc.BITSHUFFLE),
        dimension_separator="/",
        order="F",
    )
    rng = np.random.default_rng(1)
    for step in range(6):
        r0, c0 = rng.integers(0, 24), rng.integers(0, 12)
        block = rng.integers(0, 60000, (6, 4)).astype("<u2")
        expected[r0 : r0 + 6, c0 : c0 + 4] = block
        if step % 2:
            zk[r0 : r0 + 6, c0 : c0 + 4] = block
        else:
            _ts_open(path)[r0 : r0 + 6, c0 : c0 + 4].write(block).result()
        np.testing.assert_array_equal(zarrkit.open_array(str(path), mode="r")[:], expected)
        np.testing.assert_array_equal(_ts_open(path).read().result(), expected)


# -- documented differences ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["<U3", ">U2", "<M8[ns]", "<m8[s]"])
def test_tensorstore_has_no_unicode_or_datetime(dtype: str, tmp_path: Path) -> None:
    """tensorstore's zarr driver supports no unicode (U) or datetime (M8/m8) dtypes.

    zarrkit writes them as zarr-python 2.x does (see test_format_v2); tensorstore refuses the
    metadata on open, naming the dtype.
    """
    path = tmp_path / "d.zarr"
    zarrkit.open_array(str(path), mode="w", shape=4, chunks=2, dtype=dtype)
    with pytest.raises(ValueError, match="Unsupported zarr dtype"):
        _ts_open(path)


def test_bytes_dtype_quirks(tmp_path: Path) -> None:
    """Fixed-length bytes (S) dtypes: two tensorstore quirks.

    1. zarr-python 2.x (and so zarrkit) encodes an S fill value as base64 of NumPy's bytes
       scalar, which drops trailing NUL bytes: b"ab" in "|S4" is stored as "YWI=" (2 bytes).
       tensorstore insists on exactly itemsize bytes and refuses such metadata.
    2. tensorstore presents "|S4" as a char array with a trailing dimension of 4; its Python
       binding turns that into a zero-size ``|S0`` NumPy array, so the values cannot be
       compared from Python (the domain can).
    """
    path = tmp_path / "e.zarr"
    zarrkit.open_array(str(path), mode="w", shape=5, chunks=2, dtype="S4", fill_value=b"ab")
    assert json.loads((path / ".zarray").read_text())["fill_value"] == "YWI="
    with pytest.raises(ValueError, match="Expected 4 base64-encoded bytes"):
        _ts_open(path)

    z = zarrkit.open_array(str(path), mode="w", shape=5, chunks=2, dtype="S4", fill_value=b"abcd")
    z[:3] = [b"x", b"yz", b"wxyz"]
    t = _ts_open(path)
    assert t.shape == (5, 4)
    assert t.dtype == ts.char
