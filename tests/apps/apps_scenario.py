"""What a zarr 2 application does with dask and xarray, run as a script.

``python apps_scenario.py OUTDIR`` writes stores below OUTDIR through ``import zarr`` (real
zarr 2.18 or the zarrkit drop-in, whichever is installed), then prints a JSON report of what
reading them back gave. tests/apps/test_dropin.py runs it under both and compares the reports and
the bytes of the stores.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
import zarr


def digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16] + str(a.dtype)


def dask_part(out: str, report: dict) -> None:
    x = da.arange(1000, chunks=100).reshape(10, 100).rechunk((5, 50)).astype("f8")
    da.to_zarr(x, os.path.join(out, "dask.zarr"))
    y = da.from_zarr(os.path.join(out, "dask.zarr"))
    report["dask_from_zarr"] = [y.chunks, digest(y.compute())]
    # a component inside a group, and to_zarr into an existing array (region-free overwrite)
    g = zarr.open_group(os.path.join(out, "dask_group.zarr"), mode="w")
    z = g.create_dataset("sub/a", shape=(20, 30), chunks=(7, 11), dtype="i4", fill_value=-1)
    da.to_zarr(da.ones((20, 30), chunks=(7, 11), dtype="i4") * 3, z)
    w = da.from_zarr(os.path.join(out, "dask_group.zarr"), component="sub/a")
    report["dask_component"] = [w.shape, w.chunks, int(w.sum().compute())]
    report["dask_isinstance"] = isinstance(z, zarr.Array)
    # through fsspec URLs (zarr.storage.FSStore) with storage_options
    url = "file://" + os.path.join(out, "dask_url.zarr")
    da.to_zarr(x[:, :60], url, storage_options={"auto_mkdir": True}, overwrite=True)
    u = da.from_zarr(url, storage_options={"auto_mkdir": True})
    report["dask_url"] = [u.chunks, digest(u.compute())]


def xarray_part(out: str, report: dict) -> None:
    times = pd.date_range("2020-01-01", periods=6, freq="D")
    ds = xr.Dataset(
        {
            "temp": (("time", "x"), np.arange(24, dtype="f4").reshape(6, 4)),
            "flag": (("time",), np.array([1, 0, 1, 1, 0, 1], dtype="i1")),
            "name": (("x",), np.array(["a", "bb", "ccc", "d"])),
        },
        coords={"time": times, "x": [10, 20, 30, 40], "lat": ("x", [1.5, 2.5, 3.5, 4.5])},
        attrs={"title": "scenario"},
    )
    ds["temp"].attrs["units"] = "K"
    ds["temp"].encoding = {"chunks": (2, 2), "_FillValue": -9999.0, "dtype": "f4"}
    path = os.path.join(out, "xr.zarr")
    ds.isel(time=slice(0, 3)).to_zarr(path, mode="w", zarr_format=2, consolidated=True)
    ds.isel(time=slice(3, 6)).to_zarr(path, append_dim="time", zarr_format=2)
    # a region write
    patch = ds.isel(time=slice(1, 3))[["temp"]] * 0 + 7
    patch.drop_vars(["lat", "x"]).to_zarr(path, region={"time": slice(1, 3)}, zarr_format=2)
    back = xr.open_zarr(path, consolidated=True)
    report["xr_vars"] = sorted(back.data_vars)
    report["xr_coords"] = sorted(back.coords)
    report["xr_time"] = [str(t) for t in back.time.values]
    report["xr_temp"] = back.temp.values.tolist()
    report["xr_temp_encoding"] = {
        k: (v if not isinstance(v, (tuple, list)) else list(v))
        for k, v in back.temp.encoding.items()
        if k in ("chunks", "_FillValue", "dtype", "preferred_chunks")
    }
    report["xr_temp_encoding"] = json.loads(json.dumps(report["xr_temp_encoding"], default=str))
    report["xr_name"] = back.name.values.tolist()
    report["xr_attrs"] = dict(back.attrs)
    report["xr_time_units"] = back.time.encoding.get("units")
    # masked: a NaN written becomes the _FillValue on disk and NaN again on reading
    masked = ds.isel(time=slice(0, 2))[["temp"]].copy(deep=True)
    masked["temp"][0, 0] = np.nan
    masked.to_zarr(os.path.join(out, "masked.zarr"), mode="w", zarr_format=2)
    m = xr.open_zarr(os.path.join(out, "masked.zarr"))
    report["xr_masked"] = [bool(np.isnan(m.temp.values[0, 0])), float(m.temp.values[0, 1])]
    raw = zarr.open(os.path.join(out, "masked.zarr"), mode="r")
    report["raw_fill"] = float(raw["temp"][0, 0])
    # a new variable added with mode="a", an auto region, explicit encodings
    import numcodecs

    extra = xr.Dataset({"rain": (("time",), np.linspace(0, 1, 6))}, coords={"time": times})
    extra["rain"].encoding = {"compressor": numcodecs.Zstd(level=3), "dtype": "f4"}
    extra.to_zarr(path, mode="a", zarr_format=2)
    extra2 = extra.isel(time=slice(2, 4)) * 10
    extra2.to_zarr(path, region="auto", mode="r+", zarr_format=2)
    t = xr.Dataset(coords={"t": pd.date_range("1999-12-31", periods=3, freq="6h")})
    t["t"].encoding = {"units": "hours since 2000-01-01", "calendar": "proleptic_gregorian"}
    t.to_zarr(os.path.join(out, "times.zarr"), mode="w", zarr_format=2)
    tt = xr.open_zarr(os.path.join(out, "times.zarr"))
    report["xr_times_explicit"] = [str(v) for v in tt.t.values] + [tt.t.encoding["units"]]
    back = xr.open_zarr(path, chunks={"time": 4})
    report["xr_rain"] = back.rain.values.tolist()
    report["xr_rain_dtype"] = str(back.rain.dtype)
    report["xr_rain_chunks"] = [list(c) for c in back.rain.chunks]
    report["xr_rain_compressor"] = back.rain.encoding["compressor"].get_config()
    # without consolidated metadata
    ds.to_zarr(os.path.join(out, "plain.zarr"), mode="w", zarr_format=2, consolidated=False)
    p = xr.open_zarr(os.path.join(out, "plain.zarr"), consolidated=False)
    report["xr_plain"] = digest(p.temp.values)


def store_bytes(out: str) -> dict:
    """Every file below ``out`` (key -> sha256), for a byte comparison."""
    files = {}
    for root, _dirs, names in os.walk(out):
        for n in names:
            full = os.path.join(root, n)
            with open(full, "rb") as f:
                files[os.path.relpath(full, out)] = hashlib.sha256(f.read()).hexdigest()
    return files


def main(out: str) -> None:
    report: dict = {"zarr": zarr.__version__}
    dask_part(out, report)
    xarray_part(out, report)
    report["files"] = store_bytes(out)
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
