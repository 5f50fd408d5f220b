"""Path and store arguments: a store given where a URL is taken means its location, and an
object that is neither a path nor a store is a TypeError naming its type (issue 21, item 2).

``FSStore(group.store, **storage_options)`` is what dask's ``to_zarr(x, url=group.store,
storage_options=...)`` does with zarr 2; zarrkit used to write into a folder named after the
store's repr, in the working directory.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest

import zarrkit
from zarrkit.errors import ReadOnlyError, StoreArgumentError
from zarrkit.storage import (
    DBMStore,
    DirectoryStore,
    FSStore,
    LMDBStore,
    MemoryStore,
    N5FSStore,
    N5Store,
    NestedDirectoryStore,
    ObjectStore,
    SQLiteStore,
    ZipStore,
)
from zarrkit.storage.base import normalize_storage_path, path_argument


class _Opaque:
    """An object whose str() looks like a file name: it must never become one."""

    def __repr__(self) -> str:
        return "opaque-object.zarr"


BAD_VALUES = [
    pytest.param(object(), "object", id="object"),
    pytest.param(5, "int", id="int"),
    pytest.param(["a.zarr"], "list", id="list"),
    pytest.param(_Opaque(), "_Opaque", id="repr-like-a-path"),
]


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory: nothing may appear in it."""
    where = tmp_path / "cwd"
    where.mkdir()
    monkeypatch.chdir(where)
    return where


def _write_array(store: Any, path: str = "img/0") -> zarrkit.Array:
    z = zarrkit.create(shape=(10, 10), chunks=(5, 5), dtype="i4", store=store, path=path)
    z[:] = np.arange(100).reshape(10, 10)
    return z


# -- a store or mapper given as FSStore's url: its location -------------------------------


def test_fsstore_over_fsstore_writes_into_its_location(tmp_path: Path, cwd: Path) -> None:
    inner = FSStore(str(tmp_path / "data.zarr"))
    outer = FSStore(inner, chunks=(5, 5))  # dask passes storage_options on to FSStore
    assert outer.path == inner.path
    _write_array(outer)
    assert os.listdir(cwd) == []
    assert sorted(os.listdir(tmp_path / "data.zarr" / "img" / "0")) == [
        ".zarray",
        "0.0",
        "0.1",
        "1.0",
        "1.1",
    ]
    np.testing.assert_array_equal(
        zarrkit.open_array(inner, path="img/0", mode="r")[:], np.arange(100).reshape(10, 10)
    )


def test_fsstore_over_fsstore_keeps_the_url_and_its_options() -> None:
    inner = FSStore("memory://path-args/a.zarr", skip_instance_cache=False)
    outer = FSStore(inner, chunks=(5, 5))
    assert outer.url == "memory://path-args/a.zarr"
    assert outer._storage_options == {"skip_instance_cache": False, "chunks": (5, 5)}
    outer["k"] = b"v"
    assert inner["k"] == b"v"
    again = pickle.loads(pickle.dumps(outer))
    assert again["k"] == b"v" and again.url == outer.url
    inner.clear()


def test_fsstore_over_fsstore_with_a_given_fs(tmp_path: Path, cwd: Path) -> None:
    local = fsspec.filesystem("file", auto_mkdir=True)
    inner = FSStore(str(tmp_path / "f.zarr"), fs=local)
    assert FSStore(inner).fs is local
    outer = FSStore(inner, chunks=(5, 5))  # the same kind of file system, with the option
    assert type(outer.fs) is type(local) and outer.fs.storage_options["chunks"] == (5, 5)
    _write_array(outer)
    assert os.listdir(cwd) == []
    assert (tmp_path / "f.zarr" / "img" / "0" / ".zarray").is_file()


def test_fsstore_over_fsstore_keeps_its_keying_and_read_only(tmp_path: Path) -> None:
    inner = FSStore(str(tmp_path / "k.zarr"), normalize_keys=True, dimension_separator="/")
    outer = FSStore(inner)
    assert outer.normalize_keys and outer.key_separator == "/"
    assert FSStore(inner, dimension_separator=".").key_separator == "."
    reader = FSStore(FSStore(str(tmp_path / "k.zarr"), mode="r"))
    assert reader.read_only
    with pytest.raises(ReadOnlyError):
        reader["a"] = b"1"


def test_fsstore_over_fsstore_refuses_conflicting_options(tmp_path: Path) -> None:
    inner = FSStore(str(tmp_path / "c.zarr"))  # local: made with auto_mkdir=True
    with pytest.raises(ValueError, match="auto_mkdir"):
        FSStore(inner, auto_mkdir=False)
    assert FSStore(inner, auto_mkdir=True).path == inner.path  # the same value is no conflict
    with pytest.raises(ValueError, match="fs="):
        FSStore(inner, fs=fsspec.filesystem("file"))


def test_fsstore_over_an_fsspec_mapper(tmp_path: Path, cwd: Path) -> None:
    mapper = fsspec.get_mapper(str(tmp_path / "m.zarr"), auto_mkdir=True)
    store = FSStore(mapper)
    assert store.fs is mapper.fs and store.path == mapper.root
    _write_array(store)
    assert os.listdir(cwd) == []
    assert (tmp_path / "m.zarr" / "img" / "0" / ".zarray").is_file()
    assert ".zgroup" in mapper and "img/0/0.0" in mapper
    with_options = FSStore(mapper, chunks=(5, 5))
    assert with_options.path == mapper.root
    assert "img/0/.zarray" in with_options


@pytest.mark.parametrize("cls, separator", [(DirectoryStore, "."), (NestedDirectoryStore, "/")])
def test_fsstore_over_a_directory_store(
    tmp_path: Path, cwd: Path, cls: type[DirectoryStore], separator: str
) -> None:
    inner = cls(str(tmp_path / "d.zarr"))
    store = FSStore(inner, chunks=(5, 5))
    assert store.path == inner.path and store.key_separator == separator
    _write_array(store)
    assert os.listdir(cwd) == []
    np.testing.assert_array_equal(
        zarrkit.open_array(inner, path="img/0", mode="r")[:], np.arange(100).reshape(10, 10)
    )


def test_n5fsstore_over_n5_stores(tmp_path: Path, cwd: Path) -> None:
    n5 = N5Store(str(tmp_path / "x.n5"))
    z = zarrkit.zeros((4, 6), chunks=(3, 4), dtype="u2", store=N5FSStore(n5))
    z[:] = 7
    assert os.listdir(cwd) == []
    assert zarrkit.open_array(n5, mode="r")[:].sum() == 7 * 24
    assert N5FSStore(N5FSStore(str(tmp_path / "x.n5"))).path == n5.path


def test_dask_to_zarr_steps_on_fsstore(tmp_path: Path, cwd: Path) -> None:
    """What dask's ``to_zarr(x, url=group.store, component=..., storage_options=...)`` does
    on zarr 2, step by step: an FSStore over the url, then ``create(store=, path=)``."""
    group = zarrkit.open_group(FSStore(str(tmp_path / "image.zarr")), mode="w")
    storage_options = {"chunks": (5, 5), "dimension_separator": "/"}
    store = FSStore(group.store, **storage_options)
    z = zarrkit.create(
        store=store, path="scale/0", shape=(10, 10), chunks=(5, 5), dtype="i4", overwrite=True
    )
    z[:] = 3
    assert os.listdir(cwd) == []
    assert group["scale/0"][:].sum() == 300
    assert (tmp_path / "image.zarr" / "scale" / "0" / "1" / "1").is_file()


def _dropin_with_dask() -> bool:
    if importlib.util.find_spec("dask") is None or importlib.util.find_spec("zarr") is None:
        return False
    import zarr

    return "zarrkit" in str(getattr(zarr, "__version__", ""))


@pytest.mark.skipif(
    not _dropin_with_dask(), reason="needs dask and the zarr drop-in (scripts/apps.sh)"
)
def test_dask_to_zarr_into_a_group_store(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, zarr, dask.array as da
        os.chdir({str(tmp_path / "cwd")!r})
        group = zarr.open_group(zarr.storage.FSStore({str(tmp_path / "img.zarr")!r}), mode="w")
        x = da.arange(100, chunks=10).reshape(10, 10).rechunk((5, 5))
        da.to_zarr(x, url=group.store, component="0", storage_options={{"chunks": (5, 5)}})
        assert os.listdir(".") == [], os.listdir(".")
        assert zarr.open_group(group.store)["0"][:].sum() == 4950
        """
    )
    (tmp_path / "cwd").mkdir()
    subprocess.run([sys.executable, "-c", script], check=True)
    assert (tmp_path / "img.zarr" / "0" / ".zarray").is_file()


# -- anything else: a TypeError naming its type, and nothing made --------------------------


@pytest.mark.parametrize("value, type_name", BAD_VALUES)
def test_path_argument_refuses_objects(value: Any, type_name: str) -> None:
    with pytest.raises(TypeError, match=rf"where must be a path or URL .* not {type_name}$"):
        path_argument(value, "where")


def test_path_argument_takes_paths() -> None:
    assert path_argument("a/b") == "a/b"
    assert path_argument(Path("a") / "b") == os.path.join("a", "b")
    assert path_argument(b"/x") == "/x"
    assert type(path_argument(np.str_("q"))) is str


STORES = {
    "DirectoryStore": lambda p: DirectoryStore(p),
    "NestedDirectoryStore": lambda p: NestedDirectoryStore(p),
    "ZipStore": lambda p: ZipStore(p, mode="w"),
    "DBMStore": lambda p: DBMStore(p, flag="c"),
    "LMDBStore": lambda p: LMDBStore(p),
    "SQLiteStore": lambda p: SQLiteStore(p),
    "N5Store": lambda p: N5Store(p),
    "N5FSStore": lambda p: N5FSStore(p),
    "FSStore": lambda p: FSStore(p),
    "ObjectStore": lambda p: ObjectStore(p),
}


@pytest.mark.parametrize("value, type_name", BAD_VALUES)
@pytest.mark.parametrize("name", sorted(STORES))
def test_store_constructors_refuse_objects(
    cwd: Path, name: str, value: Any, type_name: str
) -> None:
    needs = {"LMDBStore": "lmdb", "ObjectStore": "obstore"}
    if name in needs:
        pytest.importorskip(needs[name])
    with pytest.raises(
        TypeError, match=rf"\b(FSStore url|{name} path|{name} store)\b.*{type_name}"
    ):
        STORES[name](value)
    assert os.listdir(cwd) == []


def test_fsstore_refuses_stores_without_a_folder(cwd: Path, tmp_path: Path) -> None:
    for store in (MemoryStore(), ZipStore(str(tmp_path / "z.zip"), mode="w"), {}):
        with pytest.raises(TypeError, match=rf"not {type(store).__name__}\b"):
            FSStore(store, chunks=(5, 5))
    with pytest.raises(StoreArgumentError, match="pass the store itself"):
        FSStore(MemoryStore())
    assert os.listdir(cwd) == []


ENTRY_POINTS = {
    "open": lambda v: zarrkit.open(v, mode="w", shape=3),
    "open_array": lambda v: zarrkit.open_array(v, mode="w", shape=3),
    "open_group": lambda v: zarrkit.open_group(v, mode="w"),
    "open_consolidated": lambda v: zarrkit.open_consolidated(v),
    "consolidate_metadata": lambda v: zarrkit.consolidate_metadata(v),
    "group": lambda v: zarrkit.group(v),
    "create": lambda v: zarrkit.create(3, store=v),
    "save": lambda v: zarrkit.save(v, np.arange(3)),
    "save_array": lambda v: zarrkit.save_array(v, np.arange(3)),
    "save_group": lambda v: zarrkit.save_group(v, np.arange(3)),
    "load": lambda v: zarrkit.load(v),
    "copy_store source": lambda v: zarrkit.copy_store(v, {}),
    "copy_store dest": lambda v: zarrkit.copy_store({".zgroup": b"{}"}, v),
}


@pytest.mark.parametrize("value, type_name", BAD_VALUES)
@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_entry_points_refuse_objects(cwd: Path, name: str, value: Any, type_name: str) -> None:
    with pytest.raises(TypeError, match=rf"\b{type_name}\b") as info:
        ENTRY_POINTS[name](value)
    assert isinstance(info.value, ValueError)  # what zarr 2 raised for such objects
    assert os.listdir(cwd) == []


@pytest.mark.parametrize("value, type_name", BAD_VALUES)
def test_xarray_backend_refuses_objects(cwd: Path, value: Any, type_name: str) -> None:
    xr = pytest.importorskip("xarray")
    with pytest.raises(TypeError, match=rf"\b{type_name}\b"):
        xr.open_dataset(value, engine="zarrkit")
    assert os.listdir(cwd) == []


@pytest.mark.parametrize("value, type_name", BAD_VALUES)
def test_hierarchy_paths_refuse_objects(tmp_path: Path, value: Any, type_name: str) -> None:
    store = DirectoryStore(str(tmp_path / "h.zarr"))
    root = zarrkit.group(store)
    with pytest.raises(TypeError, match=rf"not {type_name}$"):
        normalize_storage_path(value)
    with pytest.raises(TypeError, match=type_name):
        zarrkit.open_group(store, path=value, mode="a")
    with pytest.raises(TypeError, match=type_name):
        root.create_group(value)
    with pytest.raises(TypeError, match=type_name):
        root.zeros(value, shape=3)
    assert value not in root
    assert os.listdir(tmp_path / "h.zarr") == [".zgroup"]


class _Named:
    """An object with its own ``__str__``: zarr 2 takes it as a hierarchy path."""

    def __init__(self, s: str) -> None:
        self.s = s

    def __str__(self) -> str:
        return self.s


def test_hierarchy_paths_take_objects_that_name_themselves(tmp_path: Path) -> None:
    root = zarrkit.group(DirectoryStore(str(tmp_path / "h.zarr")))
    assert root.create_group(_Named("test/object")).path == "test/object"
    assert root.zeros(_Named("x/y"), shape=3).path == "x/y"
    assert (tmp_path / "h.zarr" / "test" / "object" / ".zgroup").is_file()
