"""copy / copy_all with real h5py files, both ways: HDF5 -> zarrkit, zarrkit -> HDF5, HDF5 -> HDF5.

In the zarr 2 environment run the results are compared with zarr-python 2.18's own copy.
"""

from __future__ import annotations

import io
import tracemalloc
from typing import Any

import h5py
import numpy as np
import pytest
import zarr
from numcodecs import VLenArray, VLenBytes, VLenUTF8, Zlib

import zarrkit
import zarrkit.copying
from conftest import needs_zarr2
from zarrkit.errors import CopyError


@pytest.fixture
def h5file(tmp_path: Any) -> Any:
    """The tutorial's HDF5 file: /foo/bar/baz and /spam."""
    f = h5py.File(tmp_path / "example.h5", mode="w")
    foo = f.create_group("foo")
    foo.create_dataset("bar/baz", data=np.arange(100), chunks=(50,))
    f.create_dataset("spam", data=np.arange(100, 200), chunks=(30,))
    yield f
    f.close()


def _h5_snapshot(obj: Any) -> dict:
    """Everything stored in an HDF5 group: datasets' data and layout, attributes."""
    out: dict[str, Any] = {"/attrs": {k: repr(v) for k, v in obj.attrs.items()}}

    def visit(name: str, o: Any) -> None:
        entry: dict[str, Any] = {"attrs": {k: repr(v) for k, v in o.attrs.items()}}
        if isinstance(o, h5py.Dataset):
            entry.update(
                shape=o.shape,
                dtype=str(o.dtype),
                chunks=o.chunks,
                compression=o.compression,
                compression_opts=o.compression_opts,
                shuffle=o.shuffle,
                fillvalue=repr(o.fillvalue),
                data=repr(o[()].tolist()),
            )
        out[name] = entry

    obj.visititems(visit)
    return out


def _zarr_snapshot(store: Any) -> dict:
    return {k: bytes(store[k]) for k in sorted(store)}


# -- the tutorial ---------------------------------------------------------------------------


def test_tutorial_tree_copy_and_copy_all(h5file: Any, tmp_path: Any) -> None:
    assert repr(zarrkit.tree(h5file)) == "\n".join(
        [
            "/",
            " ├── foo",
            " │   └── bar",
            " │       └── baz (100,) int64",
            " └── spam (100,) int64",
        ]
    )
    dest = zarrkit.open_group(str(tmp_path / "example.zarr"), mode="w")
    out = io.StringIO()
    assert zarrkit.copy(h5file["foo"], dest, log=out) == (3, 0, 800)
    assert out.getvalue().splitlines() == [
        "copy /foo",
        "copy /foo/bar",
        "copy /foo/bar/baz (100,) int64",
        "all done: 3 copied, 0 skipped, 800 bytes copied",
    ]
    assert repr(dest.tree()) == "\n".join(
        ["/", " └── foo", "     └── bar", "         └── baz (100,) int64"]
    )
    np.testing.assert_array_equal(dest["foo/bar/baz"][:], np.arange(100))
    assert dest["foo/bar/baz"].chunks == (50,)

    dest2 = zarrkit.open_group(str(tmp_path / "example2.zarr"), mode="w")
    out = io.StringIO()
    assert zarrkit.copy_all(h5file, dest2, log=out) == (4, 0, 1600)
    assert out.getvalue().splitlines() == [
        "copy /foo",
        "copy /foo/bar",
        "copy /foo/bar/baz (100,) int64",
        "copy /spam (100,) int64",
        "all done: 4 copied, 0 skipped, 1,600 bytes copied",
    ]
    assert repr(dest2.tree()) == repr(zarrkit.tree(h5file))
    np.testing.assert_array_equal(dest2["spam"][:], h5file["spam"][:])
    assert dest2["spam"].chunks == (30,)


def test_tree_of_h5py_levels_and_groups(h5file: Any) -> None:
    assert repr(zarrkit.tree(h5file, level=1)) == "\n".join(
        ["/", " ├── foo", " └── spam (100,) int64"]
    )
    assert repr(zarrkit.tree(h5file["foo"])) == "\n".join(
        ["foo", " └── bar", "     └── baz (100,) int64"]
    )


@needs_zarr2
@pytest.mark.parametrize("what", ["copy", "copy_all"])
def test_h5py_to_zarr_matches_zarr2(h5file: Any, what: str) -> None:
    h5file.attrs["title"] = "t"
    h5file["foo"].attrs["n"] = 3
    h5file.create_dataset("contiguous", data=np.linspace(0, 1, 1000).reshape(10, 100))
    h5file.create_dataset("filled", shape=(7, 3), dtype="f4", chunks=(2, 2), fillvalue=-1.5)
    results, logs, stores = [], [], []
    for mod in (zarr, zarrkit):
        store: dict = {}
        dest = mod.group(store)
        lines: list[str] = []
        if what == "copy":
            results.append(mod.copy(h5file["foo"], dest, log=lines.append))
        else:
            results.append(mod.copy_all(h5file, dest, log=lines.append))
        logs.append(lines)
        stores.append(_zarr_snapshot(store))
    assert results[0] == results[1] and logs[0] == logs[1]
    assert stores[0] == stores[1]


# -- zarrkit -> HDF5 --------------------------------------------------------------------------


def _zarr_source() -> Any:
    src = zarrkit.group()
    src.attrs["title"] = "from zarrkit"
    a = src.array("foo/bar/baz", np.arange(100), chunks=(50,))
    a.attrs.update(unit="s", scale=2.5, flags=[1, 2, 3])
    src.array("spam", np.arange(100, 200).reshape(10, 10), chunks=(4, 30), fill_value=7)
    src.create_group("empty").attrs["n"] = 1
    return src


def test_zarr_to_h5py_copy_all(tmp_path: Any) -> None:
    src = _zarr_source()
    with h5py.File(tmp_path / "out.h5", "w") as f:
        lines: list[str] = []
        assert zarrkit.copy_all(src, f, log=lines.append) == (5, 0, 1600)
        assert lines[-1] == "all done: 5 copied, 0 skipped, 1,600 bytes copied"
        assert repr(zarrkit.tree(f)) == repr(src.tree())
        baz, spam = f["foo/bar/baz"], f["spam"]
        np.testing.assert_array_equal(baz[:], np.arange(100))
        np.testing.assert_array_equal(spam[:], np.arange(100, 200).reshape(10, 10))
        # defaults: the zarr chunks (clipped to the shape), gzip level 1, no shuffle
        assert baz.chunks == (50,) and spam.chunks == (4, 10)
        assert (baz.compression, baz.compression_opts, baz.shuffle) == ("gzip", 1, False)
        assert spam.fillvalue == 7
        assert dict(f.attrs) == {"title": "from zarrkit"}
        assert baz.attrs["unit"] == "s" and baz.attrs["scale"] == 2.5
        np.testing.assert_array_equal(baz.attrs["flags"], [1, 2, 3])
        assert f["empty"].attrs["n"] == 1


def test_zarr_to_h5py_create_kws_and_options(tmp_path: Any) -> None:
    src = _zarr_source()
    with h5py.File(tmp_path / "out.h5", "w") as f:
        zarrkit.copy(src["spam"], f, compression="lzf", chunks=(5, 5), shuffle=True)
        assert (f["spam"].compression, f["spam"].chunks, f["spam"].shuffle) == ("lzf", (5, 5), True)
        zarrkit.copy(src["foo"], f, name="renamed", shallow=True, without_attrs=True)
        assert list(f["renamed"]) == [] and dict(f["renamed"].attrs) == {}
        zarrkit.copy(src["spam"], f, name="contiguous", chunks=None, compression=None)
        assert f["contiguous"].chunks is None
        np.testing.assert_array_equal(f["contiguous"][:], src["spam"][:])


def test_zarr_attribute_hdf5_cannot_hold_is_named(tmp_path: Any) -> None:
    src = zarrkit.group()
    src.zeros("a", shape=3).attrs["meta"] = {"nested": None}
    with h5py.File(tmp_path / "out.h5", "w") as f:
        with pytest.raises(TypeError, match="'meta'"):
            zarrkit.copy(src["a"], f)
        del f["a"]
        zarrkit.copy(src["a"], f, without_attrs=True)
        assert dict(f["a"].attrs) == {}


@needs_zarr2
def test_zarr_to_h5py_matches_zarr2(tmp_path: Any) -> None:
    snapshots = []
    for mod in (zarr, zarrkit):
        src = mod.group()
        src.attrs["title"] = "x"
        a = src.array("foo/bar/baz", np.arange(100), chunks=(50,))
        a.attrs["unit"] = "s"
        src.array("spam", np.arange(100, 200).reshape(10, 10), chunks=(4, 5), fill_value=7)
        with h5py.File(tmp_path / f"{mod.__name__}.h5", "w") as f:
            lines: list[str] = []
            n = mod.copy_all(src, f, log=lines.append)
            snapshots.append((n, lines, _h5_snapshot(f)))
    assert snapshots[0] == snapshots[1]


# -- HDF5 -> HDF5 ---------------------------------------------------------------------------


def test_h5py_to_h5py_keeps_storage_options(h5file: Any, tmp_path: Any) -> None:
    h5file.create_dataset(
        "packed",
        data=np.arange(60).reshape(6, 10),
        chunks=(3, 5),
        compression="gzip",
        compression_opts=4,
        shuffle=True,
        fletcher32=True,
        fillvalue=9,
    )
    h5file["packed"].attrs["a"] = np.arange(3)
    with h5py.File(tmp_path / "copy.h5", "w") as out:
        assert zarrkit.copy_all(h5file, out)[0] == 5
        assert _h5_snapshot(out) == _h5_snapshot(h5file)
        assert out["packed"].fletcher32


# -- dtypes and shapes -------------------------------------------------------------------


def _make_h5(f: Any, kind: str) -> np.ndarray:
    if kind == "vlen-str":
        data = np.array(["a", "b\u00e9", "", "ccc"], dtype=object)
        f.create_dataset("d", data=data, dtype=h5py.string_dtype())
        return data
    if kind == "vlen-bytes":
        data = np.array([b"x", b"", b"yz"], dtype=object)
        f.create_dataset("d", data=data, dtype=h5py.string_dtype("ascii"))
        return data
    if kind == "vlen-int":
        ds = f.create_dataset("d", shape=(3,), dtype=h5py.vlen_dtype("i4"))
        items = [np.array([1, 2], "i4"), np.array([], "i4"), np.array([3], "i4")]
        for i, item in enumerate(items):
            ds[i] = item
        data = np.empty(3, dtype=object)
        data[:] = items
        return data
    data = {
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 4), dtype="i2"),
        "bool": np.array([True, False, True]),
        "complex": np.array([1 + 2j, -3j], dtype="c16"),
        "float16": np.linspace(0, 1, 9, dtype="f2").reshape(3, 3),
        "fixed-bytes": np.array([b"ab", b"c"], dtype="S2"),
        "structured": np.array([(1, 2.5), (3, -1.0)], dtype=[("a", "<i4"), ("b", "<f8")]),
        "big-endian": np.arange(5, dtype=">i4"),
    }[kind]
    f.create_dataset("d", data=data)
    return data


KINDS = [
    "vlen-str",
    "vlen-bytes",
    "vlen-int",
    "scalar",
    "empty",
    "bool",
    "complex",
    "float16",
    "fixed-bytes",
    "structured",
    "big-endian",
]


def _assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    if want.dtype.kind == "O":
        assert len(got.ravel()) == len(want.ravel())
        for g, w in zip(got.ravel(), want.ravel()):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    else:
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype


@pytest.mark.parametrize("kind", KINDS)
def test_dtypes_round_trip_hdf5_zarr_hdf5(kind: str, tmp_path: Any) -> None:
    with h5py.File(tmp_path / "in.h5", "w") as f:
        want = _make_h5(f, kind)
        g = zarrkit.group()
        zarrkit.copy(f["d"], g)
    z = g["d"]
    _assert_same(z[...], want)
    if kind.startswith("vlen"):
        codec = {"vlen-str": VLenUTF8(), "vlen-bytes": VLenBytes(), "vlen-int": VLenArray("i4")}
        assert z.filters == [codec[kind]]
    with h5py.File(tmp_path / "out.h5", "w") as f:
        zarrkit.copy(z, f, name="d")
        ds = f["d"]
        back = ds.asstr()[()] if kind == "vlen-str" else ds[()]
        if kind == "vlen-str":
            assert h5py.check_string_dtype(ds.dtype).encoding == "utf-8"
        _assert_same(np.asarray(back), want)


def test_unsupported_object_arrays_are_clear_errors(tmp_path: Any) -> None:
    import numcodecs

    g = zarrkit.group()
    g.array("o", np.array([{"a": 1}, None], dtype=object), object_codec=numcodecs.JSON())
    with h5py.File(tmp_path / "out.h5", "w") as f:
        with pytest.raises(TypeError, match="object codec 'json2'"):
            zarrkit.copy(g["o"], f)
        f.create_dataset("ref", shape=(1,), dtype=h5py.ref_dtype)
        with pytest.raises(TypeError, match="references"):
            zarrkit.copy(f["ref"], zarrkit.group())


def test_h5py_attributes_become_json(tmp_path: Any) -> None:
    with h5py.File(tmp_path / "in.h5", "w") as f:
        ds = f.create_dataset("d", data=np.arange(3))
        ds.attrs["array"] = np.arange(3)
        ds.attrs["text"] = "caf\u00e9"
        ds.attrs["raw"] = np.bytes_(b"raw")
        ds.attrs["f32"] = np.float32(1.5)
        ds.attrs["strings"] = np.array([b"a", b"b"])
        f.attrs["root"] = np.int64(7)
        g = zarrkit.group()
        zarrkit.copy_all(f, g)
    assert g["d"].attrs.asdict() == {
        "array": [0, 1, 2],
        "text": "caf\u00e9",
        "raw": "raw",
        "f32": 1.5,
        "strings": ["a", "b"],
    }
    assert g.attrs.asdict() == {"root": 7}
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.create_dataset("d", data=[1]).attrs["latin"] = np.bytes_(b"\xe9t\xe9")
        with pytest.raises(TypeError, match="'latin'"):
            zarrkit.copy(f["d"], zarrkit.group())


# -- if_exists and dry runs with HDF5 ---------------------------------------------------------


def test_raise_copies_nothing_into_hdf5(tmp_path: Any) -> None:
    src = _zarr_source()
    with h5py.File(tmp_path / "out.h5", "w") as f:
        f.create_dataset("foo/bar/baz", data=[1, 2, 3])  # deep conflict
        f.create_dataset("keep", data=[0])
        before = _h5_snapshot(f)
        with pytest.raises(CopyError, match="'baz' already exists"):
            zarrkit.copy_all(src, f)
        with pytest.raises(CopyError, match="'baz' already exists"):
            zarrkit.copy(src["foo"], f)
        assert _h5_snapshot(f) == before
        with pytest.raises(ValueError, match="skip_initialized"):
            zarrkit.copy(src["foo"], f, if_exists="skip_initialized")
        assert zarrkit.copy(src["foo"], f, if_exists="skip") == (2, 1, 0)
        np.testing.assert_array_equal(f["foo/bar/baz"][:], [1, 2, 3])
        assert zarrkit.copy(src["foo"], f, if_exists="replace") == (3, 0, 800)
        np.testing.assert_array_equal(f["foo/bar/baz"][:], np.arange(100))
        before = _h5_snapshot(f)
        lines: list[str] = []
        assert zarrkit.copy_all(src, f, dry_run=True, if_exists="replace", log=lines.append) == (
            5,
            0,
            0,
        )
        assert lines[-1] == "dry run: 5 copied, 0 skipped"
        assert _h5_snapshot(f) == before


def test_raise_copies_nothing_from_hdf5(h5file: Any) -> None:
    dest = zarrkit.group()
    dest.zeros("foo/bar/baz", shape=2)
    before = _zarr_snapshot(dest.store)
    with pytest.raises(CopyError):
        zarrkit.copy_all(h5file, dest)
    assert _zarr_snapshot(dest.store) == before
    n = zarrkit.copy_all(h5file, dest, if_exists="skip_initialized")
    assert n == (4, 0, 1600)  # baz has no chunk written: replaced; groups merge
    n = zarrkit.copy_all(h5file, dest, if_exists="skip_initialized")
    assert n == (2, 2, 0)


# -- bounded memory with HDF5 -----------------------------------------------------------------


@pytest.mark.parametrize("direction", ["to-hdf5-contiguous", "from-hdf5-contiguous"])
def test_copy_with_hdf5_streams(
    direction: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """64 MiB move in slabs of 2 MiB even where HDF5 has no chunks to follow."""
    monkeypatch.setattr(zarrkit.copying, "COPY_BUFFER_BYTES", 2 * 2**20)
    rows, cols = 2048, 4096  # int64: 64 MiB
    nbytes = rows * cols * 8
    with h5py.File(tmp_path / "big.h5", "w") as f:
        if direction == "to-hdf5-contiguous":
            src = zarrkit.group()
            z = src.zeros("big", shape=(rows, cols), chunks=(256, 4096), dtype="i8")
            for i in range(0, rows, 256):
                z[i : i + 256] = i
            source, dest, kw = z, f, {"chunks": None, "compression": None}
        else:
            ds = f.create_dataset("big", shape=(rows, cols), dtype="i8")
            for i in range(0, rows, 256):
                ds[i : i + 256] = i
            source, dest, kw = ds, zarrkit.group(), {"chunks": (64, 4096), "compressor": Zlib(1)}
        tracemalloc.start()
        try:
            n = zarrkit.copy(source, dest, **kw)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert n == (1, 0, nbytes)
        assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"
        out = dest["big"]
        for i in (0, 700, rows - 1):
            assert (out[i] == i // 256 * 256).all()
