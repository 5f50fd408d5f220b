"""``engine="zarrkit"`` on Zarr v3 stores written by xarray on zarr-python 3 (``.venv``).

xarray writes the dimension names as the arrays' ``dimension_names`` and a ``_FillValue``
attribute in its own encoding; both readings (xarray's zarr engine and zarrkit) must be
identical, sharded variables and consolidated metadata included.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import needs_zarr3

xr = pytest.importorskip("xarray")
pd = pytest.importorskip("pandas")

import zarrkit  # noqa: E402

pytestmark = needs_zarr3


def _dataset() -> xr.Dataset:
    ds = xr.Dataset(
        {
            "temp": (("time", "x"), np.arange(48, dtype="f4").reshape(6, 8)),
            "count": (("time",), np.array([1, 0, 3, 1, 0, 5], dtype="i2")),
            "wave": (("x",), np.arange(8) * (1 + 2j)),
            "label": (("x",), np.array(["a", "bb", "ccc", "d", "", "e", "ff", "g"])),
        },
        coords={
            "time": pd.date_range("2021-03-01", periods=6, freq="12h"),
            "x": np.arange(8) * 10,
        },
        attrs={"title": "v3", "n": 3},
    )
    ds["temp"][1, 2] = np.nan
    ds["temp"].attrs["units"] = "K"
    return ds


@pytest.mark.parametrize("consolidated", [True, False])
@pytest.mark.parametrize("sharded", [True, False])
def test_xarray_v3_dataset_reads_identically(tmp_path, consolidated, sharded) -> None:
    path = str(tmp_path / "ds.zarr")
    ds = _dataset()
    encoding = {"temp": {"_FillValue": -9.0, "chunks": (2, 4)}}
    if sharded:
        encoding["temp"]["shards"] = (4, 8)
    ds.to_zarr(path, zarr_format=3, consolidated=consolidated, encoding=encoding, mode="w")
    theirs = xr.open_dataset(path, engine="zarr").load()
    ours = xr.open_dataset(path, engine="zarrkit").load()
    xr.testing.assert_identical(theirs, ours)
    assert zarrkit.open_group(path, mode="r")["temp"].shards == ((4, 8) if sharded else None)
    raw = xr.open_dataset(path, engine="zarrkit", mask_and_scale=False)
    assert raw["temp"].attrs["_FillValue"] == -9.0


def test_xarray_v3_datatree(tmp_path) -> None:
    path = str(tmp_path / "tree.zarr")
    child = xr.Dataset({"z": ("k", np.array([1.5, 2.5, 3.5]))}, attrs={"c": 1})
    tree = xr.DataTree.from_dict({"/": _dataset(), "/child": child})
    tree.to_zarr(path, zarr_format=3, mode="w")
    theirs = xr.open_datatree(path, engine="zarr").load()
    ours = xr.open_datatree(path, engine="zarrkit").load()
    xr.testing.assert_identical(theirs, ours)
