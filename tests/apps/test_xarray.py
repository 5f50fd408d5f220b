"""The native xarray backend, ``engine="zarrkit"`` (src/zarrkit/apps/xarray_backend.py).

The stores are written by xarray itself with ``zarr_format=2`` (through zarr-python 3 in
``.venv``, through the zarr drop-in in ``.venv-apps``); where xarray's own zarr engine can read
them too, both readings must be identical. Skipped where xarray cannot write Zarr v2 (newest
xarray with zarr-python 2 installed).
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
pd = pytest.importorskip("pandas")

import zarrkit  # noqa: E402
from zarrkit.xarray_backend import ZarrkitBackendArray, ZarrkitBackendEntrypoint  # noqa: E402


def _dataset() -> xr.Dataset:
    ds = xr.Dataset(
        {
            "temp": (("time", "x"), np.arange(24, dtype="f4").reshape(6, 4)),
            "count": (("time",), np.array([1, 0, 3, 1, 0, 5], dtype="f4")),
            "label": (("x",), np.array(["a", "bb", "ccc", "d"])),
        },
        coords={
            "time": pd.date_range("2021-03-01", periods=6, freq="12h"),
            "x": [10, 20, 30, 40],
            "lat": ("x", [1.5, 2.5, 3.5, 4.5]),
        },
        attrs={"title": "test", "n": 3},
    )
    ds["temp"][1, 2] = np.nan
    ds["temp"].attrs["units"] = "K"
    ds["temp"].encoding = {"chunks": (2, 3)}
    ds["count"].encoding = {"scale_factor": 0.5, "dtype": "i2", "_FillValue": -1}
    return ds


def _write(ds: xr.Dataset, path: str, **kwargs) -> None:
    ds.to_zarr(path, zarr_format=2, **kwargs)


def _xarray_writes_zarr_v2() -> bool:
    """Whether this environment's xarray and zarr write Zarr v2 (newest xarray with zarr 2.18
    cannot: the zarr 3 and apps environments run the tests that need it)."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as d:
            xr.Dataset({"a": ("x", [1, 2])}).to_zarr(d + "/p.zarr", zarr_format=2)
    except (ImportError, ValueError, TypeError, AttributeError) as e:
        if "zarr" not in str(e).lower():
            raise
        return False
    return True


needs_v2_writer = pytest.mark.skipif(
    not _xarray_writes_zarr_v2(), reason="checked in the zarr 3 environment run (and apps)"
)


@pytest.fixture
def store(tmp_path) -> str:
    path = str(tmp_path / "ds.zarr")
    _write(_dataset(), path, mode="w", consolidated=True)
    return path


def _xarray_can_read_v2() -> bool:
    try:
        return "zarr" in xr.backends.list_engines()
    except Exception:  # noqa: BLE001
        return False


def test_entry_point_and_guess():
    assert "zarrkit" in xr.backends.list_engines()
    ep = ZarrkitBackendEntrypoint()
    assert ep.guess_can_open("a/b.zarr") and ep.guess_can_open("b.zarr/")
    assert not ep.guess_can_open("b.nc")


@needs_v2_writer
def test_reads_as_written(store):
    ds = xr.open_dataset(store, engine="zarrkit")
    src = _dataset()
    assert ds.attrs == {"title": "test", "n": 3}
    assert ds.time.dtype == np.dtype("datetime64[ns]")
    assert (ds.time.values == src.time.values).all()
    assert "lat" in ds.coords and "lat" not in ds.data_vars
    np.testing.assert_array_equal(ds.temp.values, src.temp.values)  # NaN masked back
    assert ds.temp.attrs == {"units": "K"} and ds.temp.encoding["chunks"] == (2, 3)
    assert ds["count"].values.tolist() == [1, 0, 3, 1, 0, 5]
    assert ds["count"].encoding["scale_factor"] == 0.5
    assert ds.label.values.tolist() == ["a", "bb", "ccc", "d"]
    if _xarray_can_read_v2():
        xr.testing.assert_identical(ds.load(), xr.open_dataset(store, engine="zarr").load())


@needs_v2_writer
def test_undecoded(store):
    raw = xr.open_dataset(store, engine="zarrkit", decode_times=False, mask_and_scale=False)
    assert raw.time.dtype.kind == "i" and "since" in raw.time.attrs["units"]
    assert raw["count"].dtype == np.dtype("i2") and raw["count"].values[2] == 6


@needs_v2_writer
def test_lazy_with_outer_indexing(store):
    ds = xr.open_dataset(store, engine="zarrkit")
    assert not ds.temp.variable._in_memory
    # written after opening: a lazy reader sees the new values
    zarrkit.open(store, mode="r+")["temp"][0, :] = 100
    sel = ds.temp.isel(time=[0, 2, 5], x=[3, 1]).values
    assert sel.tolist() == [[100.0, 100.0], [11.0, 9.0], [23.0, 21.0]]
    assert ds.temp.isel(time=slice(None, None, 2), x=1).values.tolist() == [100.0, 9.0, 17.0]
    a = ZarrkitBackendArray(zarrkit.open(store, mode="r")["temp"])
    assert a.shape == (6, 4) and a.dtype == np.dtype("f4")


@needs_v2_writer
def test_consolidated(tmp_path, store):
    ds = xr.open_dataset(store, engine="zarrkit", consolidated=True)
    assert ds.temp.shape == (6, 4)
    plain = str(tmp_path / "plain.zarr")
    _write(_dataset(), plain, mode="w", consolidated=False)
    assert not os.path.exists(os.path.join(plain, ".zmetadata"))
    xr.testing.assert_identical(
        xr.open_dataset(plain, engine="zarrkit").load(), ds.load()
    )  # fmt: skip
    with pytest.raises(KeyError, match="consolidated"):
        xr.open_dataset(plain, engine="zarrkit", consolidated=True)


@needs_v2_writer
def test_appended_and_region(tmp_path):
    path = str(tmp_path / "app.zarr")
    src = _dataset()
    _write(src.isel(time=slice(0, 4)), path, mode="w")
    _write(src.isel(time=slice(4, 6)), path, append_dim="time")
    ds = xr.open_dataset(path, engine="zarrkit")
    assert ds.sizes["time"] == 6 and (ds.time.values == src.time.values).all()


@needs_v2_writer
def test_a_given_store_stays_open(store):
    s = zarrkit.storage.DirectoryStore(store)
    closed = []
    s.close = lambda: closed.append(True)  # type: ignore[method-assign]
    ds = xr.open_dataset(s, engine="zarrkit")
    assert ds.temp.values.shape == (6, 4)
    ds.close()
    assert closed == []


@needs_v2_writer
def test_storage_options_and_urls(tmp_path, store):
    pytest.importorskip("fsspec")
    cache = tmp_path / "cache"
    ds = xr.open_dataset(
        "simplecache::file://" + store,
        engine="zarrkit",
        storage_options={"simplecache": {"cache_storage": str(cache)}},
    )
    assert ds.temp.values[0, 0] == 0.0
    assert any(cache.iterdir())  # the options reached fsspec's cache layer


@needs_v2_writer
def test_groups_and_datatree(tmp_path):
    path = str(tmp_path / "tree.zarr")
    src = _dataset()
    _write(src[["temp"]], path, mode="w")
    _write(src[["count"]].rename(time="t"), path, group="child", mode="w")
    _write(src[["label"]], path, group="child/leaf", mode="w")
    child = xr.open_dataset(path, engine="zarrkit", group="child")
    assert list(child.data_vars) == ["count"]
    tree = xr.open_datatree(path, engine="zarrkit")
    assert set(tree.children) == {"child"}
    assert tree["child/leaf"].dataset.label.values.tolist() == ["a", "bb", "ccc", "d"]
    assert tree["child"].dataset["count"].values.tolist() == [1, 0, 3, 1, 0, 5]
    np.testing.assert_array_equal(tree.dataset.temp.values, src.temp.values)


@pytest.mark.skipif(
    importlib.util.find_spec("dask") is None, reason="checked in the apps environment run (dask)"
)
@needs_v2_writer
def test_chunks_follow_the_store(store):
    ds = xr.open_dataset(store, engine="zarrkit", chunks={})
    assert ds.temp.chunks == ((2, 2, 2), (3, 1))
    assert float(ds.temp.sum()) == float(_dataset().temp.sum())
