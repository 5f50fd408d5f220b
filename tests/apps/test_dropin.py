"""The ``zarr`` drop-in (dropin/): zarr 2 applications running unmodified on zarrkit.

Runs where the drop-in is installed (``.venv-apps``, built by scripts/apps.sh); skipped
elsewhere. ``ZARRKIT_REF_PYTHON`` names a Python with real zarr 2.18.7 and the same dask and
xarray (``.venv-apps-ref``): the application scenario then runs under both and the results and
the bytes written must be identical.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    _ZARR_DIST = importlib.metadata.version("zarr")
except importlib.metadata.PackageNotFoundError:
    _ZARR_DIST = ""
pytestmark = pytest.mark.skipif(
    not _ZARR_DIST.endswith("+zarrkit"),
    reason="checked in the apps environment run (the zarr drop-in is installed there)",
)

HERE = Path(__file__).parent
ZARR2_MODULES = (
    "attrs codecs convenience core creation errors hierarchy indexing meta meta_v1 n5 storage "
    "sync util"
).split()


def test_versions_satisfy_zarr2_pins():
    import zarr
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    assert zarr.__version__ == _ZARR_DIST == "2.18.7+zarrkit"
    v = Version(zarr.__version__)
    assert v.major == 2
    for pin in ("<3", ">=2.18", ">=2.11,<3", "~=2.18", ">=2.18.7,!=3.0.*", "<=2.18.7"):
        assert v in SpecifierSet(pin), pin
    assert zarr.version.version_tuple[:3] == (2, 18, 7)


def test_dependencies_cover_what_zarr2_api_needs(tmp_path):
    """Installing the drop-in installs what zarr 2's API needs: ProcessSynchronizer's locks."""
    import zarr
    from packaging.requirements import Requirement

    reqs = [Requirement(r) for r in importlib.metadata.requires("zarr") or []]
    kit = [r for r in reqs if r.name == "zarrkit" and r.marker is None]
    assert kit and "sync" in kit[0].extras, reqs
    for extra_req in importlib.metadata.requires("zarrkit") or []:
        r = Requirement(extra_req)
        if r.marker is not None and r.marker.evaluate({"extra": "sync"}):
            importlib.metadata.version(r.name)  # installed (raises PackageNotFoundError if not)
    sync = zarr.ProcessSynchronizer(str(tmp_path / "locks"))
    z = zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=10, chunks=5, synchronizer=sync)
    z[:] = 7
    assert z[:].tolist() == [7] * 10


@pytest.mark.parametrize("name", ZARR2_MODULES)
def test_submodules_are_zarrkits(name):
    import zarr

    module = importlib.import_module("zarr." + name)
    assert module is importlib.import_module("zarrkit." + name)
    assert getattr(zarr, name) is module


def test_objects_are_zarrkits(tmp_path, monkeypatch):
    import zarr
    import zarr.storage
    from zarr.core import Array
    from zarr.storage import DirectoryStore, FSStore

    import zarrkit

    assert zarr.Array is Array is zarrkit.Array and zarr.Group is zarrkit.Group
    assert FSStore is zarrkit.storage.FSStore
    z = zarrkit.zeros(10)
    assert isinstance(z, zarr.Array)
    g = zarr.open_group(DirectoryStore(str(tmp_path / "g.zarr")), mode="w")
    assert isinstance(g, zarrkit.Group)
    # zarr 2 gives a group without a separate chunk store its store as chunk_store, and
    # applications pass it on
    assert g.chunk_store is g.store
    g.zeros("a", shape=3)
    assert zarr.open(store=g.chunk_store, path="a", mode="r").shape == (3,)
    # monkeypatching through zarr's names patches zarrkit
    monkeypatch.setattr(zarr.storage, "default_compressor", None)
    assert zarrkit.zeros(4).compressor is None


def test_zarr2_extras():
    from zarr.context import Context
    from zarr.types import DIMENSION_SEPARATOR  # noqa: F401

    assert "meta_array" in Context.__annotations__
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("zarr.no_such_module")


def _copy_dropin(tmp_path: Path) -> Path:
    """The installed drop-in package copied to ``tmp_path/site/zarr``; returns ``site``."""
    import zarr

    site = tmp_path / "site"
    shutil.copytree(Path(zarr.__file__).parent, site / "zarr")
    return site


def _import_zarr(site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run(
        [sys.executable, "-c", "import zarr"], env=env, capture_output=True, text=True
    )


def test_refuses_foreign_files(tmp_path):
    site = _copy_dropin(tmp_path)
    assert _import_zarr(site).returncode == 0
    (site / "zarr" / "core.py").write_text("# left behind by another zarr\n")
    r = _import_zarr(site)
    assert r.returncode != 0
    assert "holds files of another zarr distribution (core.py)" in r.stderr
    assert "pip uninstall -y zarr" in r.stderr


def test_refuses_foreign_metadata(tmp_path):
    site = _copy_dropin(tmp_path)
    info = site / "zarr-3.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zarr\nVersion: 3.1.0\n")
    r = _import_zarr(site)
    assert r.returncode != 0 and "the installed zarr distribution is zarr 3.1.0" in r.stderr


def _scenario(python: str, out: Path) -> dict:
    out.mkdir()
    r = subprocess.run(
        [python, str(HERE / "apps_scenario.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def test_dask_and_xarray_as_on_zarr2(tmp_path):
    ours = _scenario(sys.executable, tmp_path / "zarrkit")
    # what the calls must give, whichever zarr runs them
    assert ours["dask_from_zarr"][0] == [[5, 5], [50, 50]]
    assert ours["dask_component"] == [[20, 30], [[7, 7, 6], [11, 11, 8]], 1800]
    assert ours["dask_isinstance"] is True
    assert ours["xr_time"][0].startswith("2020-01-01") and len(ours["xr_time"]) == 6
    assert ours["xr_temp"][1] == [7.0] * 4 and ours["xr_temp"][5] == [20.0, 21.0, 22.0, 23.0]
    assert ours["xr_temp_encoding"]["chunks"] == [2, 2]
    assert ours["xr_masked"] == [True, 1.0] and ours["raw_fill"] == -9999.0
    assert ours["xr_name"] == ["a", "bb", "ccc", "d"]
    assert ours["dask_url"][0] == [[5, 5], [50, 10]]
    assert ours["xr_rain"][2:4] == [4.0, 6.0] and ours["xr_rain_dtype"] == "float32"
    assert ours["xr_rain_chunks"] == [[4, 2]] and ours["xr_rain_compressor"]["id"] == "zstd"
    assert ours["xr_times_explicit"][1].startswith("1999-12-31T06")
    assert ours["xr_times_explicit"][-1] == "hours since 2000-01-01"
    ref_python = os.environ.get("ZARRKIT_REF_PYTHON")
    if not ref_python:
        pytest.skip("ZARRKIT_REF_PYTHON (real zarr 2.18 with dask and xarray) not set")
    ref = _scenario(ref_python, tmp_path / "zarr2")
    assert ref.pop("zarr") == "2.18.7" and ours.pop("zarr") == "2.18.7+zarrkit"
    assert ours == ref  # the same results and the same bytes in every file
