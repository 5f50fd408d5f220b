"""zarr 2 behaviours beyond the tutorial that zarr 2 applications rely on.

Creation keywords (h5py spellings, ``storage_transformers``, falsy compressors, unknown
keywords), array views, the semi-private names third-party code reads, and the errors a user
sees for missing or foreign data. Where the behaviour is about stored bytes, the same call is
made with zarr-python 2.18 and the bytes are compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr

import zarrkit
from conftest import needs_zarr2, needs_zarr3
from zarrkit.errors import (
    ArrayNotFoundError,
    ContainsArrayError,
    GroupNotFoundError,
    PathNotFoundError,
)


def _meta_bytes(lib: Any, **kwargs: Any) -> bytes:
    store: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lib.create(store=store, **kwargs)
    return store[".zarray"]


# -- creation keywords -------------------------------------------------------------------------
H5PY_CALLS = [
    dict(shape=100, chunks=10, compression="zlib", compression_opts=1),
    dict(
        shape=100, chunks=10, compression="blosc", compression_opts={"cname": "zstd", "clevel": 2}
    ),
    dict(shape=100, chunks=10, compression="gzip", compression_opts=(4,)),
    dict(shape=100, chunks=10, compression=None),
    dict(shape=100, chunks=10, compression="none"),
    dict(shape=100, chunks=10, compression=numcodecs.BZ2(level=3)),
    dict(shape=100, chunks=10, fillvalue=7, dtype="i4"),
    dict(shape=100, chunks=10, compressor=numcodecs.Zlib(2), compression="gzip"),
    dict(shape=100, chunks=10, compressor=None),
    dict(shape=100, chunks=10, compressor=""),
    dict(shape=100, chunks=10, compressor=False),
    dict(shape=100, chunks=10, compressor=0),
    dict(shape=100, chunks=10, storage_transformers=()),
    dict(shape=100, chunks=10, shuffle=True),
]


@needs_zarr2
@pytest.mark.parametrize("kwargs", H5PY_CALLS, ids=lambda k: ",".join(sorted(k)))
def test_creation_keywords_write_what_zarr2_writes(kwargs: dict) -> None:
    assert _meta_bytes(zarrkit, **kwargs) == _meta_bytes(zarr, **kwargs)


def test_h5py_compression_resolves_to_numcodecs() -> None:
    z = zarrkit.create(100, compression="zlib", compression_opts=3)
    assert z.compressor == numcodecs.Zlib(level=3)
    z = zarrkit.create(100, compression="blosc", compression_opts=dict(cname="zstd", clevel=1))
    assert z.compressor == numcodecs.Blosc(cname="zstd", clevel=1)
    assert zarrkit.create(100, fillvalue=5).fill_value == 5
    assert zarrkit.create(100, compressor=[]).compressor is None
    with pytest.raises(ValueError, match="nonsense"):
        zarrkit.create(100, compression="nonsense")


def test_unknown_keywords_warn_and_compressor_wins() -> None:
    with pytest.warns(UserWarning, match="ignoring keyword argument 'shuffle'"):
        zarrkit.create(100, shuffle=True)
    with pytest.warns(UserWarning, match="overridden by 'compressor'"):
        z = zarrkit.create(100, compressor=numcodecs.Zlib(1), compression="gzip")
    assert z.compressor == numcodecs.Zlib(1)
    g = zarrkit.group()
    with pytest.warns(UserWarning, match="ignoring keyword argument 'shuffle'"):
        a = g.create_dataset("x", shape=10, compression="gzip", compression_opts=2, shuffle=True)
    assert a.compressor == numcodecs.GZip(2)


def test_storage_transformers_must_be_empty() -> None:
    with pytest.raises(ValueError, match="Zarr v3"):
        zarrkit.create(10, storage_transformers=[object()])
    with pytest.raises(ValueError, match="Zarr v3"):
        zarrkit.storage.init_array({}, shape=10, storage_transformers=[object()])


def test_string_compressor_is_refused() -> None:
    with pytest.raises(ValueError, match="'zlib'"):
        zarrkit.create(100, compressor="zlib")


def test_whole_float_shapes_and_chunks_are_cast_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="floats"):
        z = zarrkit.zeros((10.0, 4), chunks=(5.0, 2))
    assert z.shape == (10, 4) and z.chunks == (5, 2)
    assert all(type(n) is int for n in z.shape + z.chunks)
    with pytest.raises(TypeError, match="2.5"):
        zarrkit.zeros((2.5,))


def test_bcolz_style_chunklen_is_used() -> None:
    class Chunky:
        def __init__(self, data: np.ndarray) -> None:
            self.data, self.chunklen = data, 10

        def __getattr__(self, name: str) -> Any:
            return getattr(self.data, name)

        def __getitem__(self, item: Any) -> Any:
            return self.data[item]

    src = Chunky(np.arange(1000).reshape(100, 10))
    assert zarrkit.array(src).chunks == (10, 10)
    assert zarrkit.empty_like(src).chunks == (10, 10)


def test_full_like_needs_a_fill_value() -> None:
    with pytest.raises(TypeError, match="fill_value"):
        zarrkit.full_like(np.zeros(3))


# -- views -------------------------------------------------------------------------------------
def test_astype_converts_on_read_and_is_read_only() -> None:
    data = np.arange(-50, 50, dtype="i1")
    z = zarrkit.array(data, chunks=10, filters=[numcodecs.Delta(dtype="i1")])
    v = z.astype("f4")
    np.testing.assert_array_equal(v[:], data.astype("f4"))
    np.testing.assert_array_equal(v[5:15], data[5:15].astype("f4"))
    assert v.dtype == np.dtype("f4") and z.dtype == np.dtype("i1")
    with pytest.raises(PermissionError):
        v[0] = 1
    with pytest.raises(PermissionError, match="view"):
        z.view().resize(5)
    assert json.loads(z.store[".zarray"])["dtype"] == "|i1"  # nothing written


def test_view_reinterprets_and_reshapes_in_memory_only() -> None:
    data = np.arange(20, dtype="i2")
    z = zarrkit.array(data, chunks=5, fill_value=-1)
    u = z.view(dtype="u2")
    np.testing.assert_array_equal(u[:], data.view("u2"))
    assert u.fill_value == np.array(-1, dtype="i2").view("u2")
    w = z.view(shape=30)
    np.testing.assert_array_equal(w[:20], data)
    np.testing.assert_array_equal(w[20:], -1)
    assert z.shape == (20,)
    w[25] = 3  # writes go to the shared chunks
    assert z.chunk_store["5"] is not None


# -- semi-private names --------------------------------------------------------------------------
def test_semi_private_surface() -> None:
    store = zarrkit.storage.NestedDirectoryStore  # a class with its own separator
    z = zarrkit.zeros((4, 4), chunks=(2, 2))
    assert z._version == 2 and z._store._store_version == 2 and z._store is z.store
    assert z._chunk_key((1, 0)) == "1.0" and z._dimension_separator == "."
    g = zarrkit.group()
    a = g.zeros("a/b", shape=(4, 4), chunks=2, dimension_separator="/")
    assert g._version == 2 and a._chunk_key((1, 1)) == "a/b/1/1"
    assert store is not None
    a[:] = 1
    assert a.nchunks_initialized == 4
    del a.chunk_store[a._chunk_key((0, 0))]
    assert a.nchunks_initialized == 3


def test_group_chunk_store_defaults_to_store() -> None:
    g = zarrkit.group()
    assert g.chunk_store is g.store
    chunks: dict = {}
    g2 = zarrkit.group(store={}, chunk_store=chunks)
    assert g2.chunk_store.__class__.__name__ == "KVStore"
    g2.zeros("x", shape=4, chunks=2)[:] = 1
    assert set(chunks) == {"x/0", "x/1"}


def test_group_rich_display_probes() -> None:
    g = zarrkit.group()
    g.create_group("_repr_html_")
    for name in ("html", "json", "javascript", "markdown", "svg", "png", "jpeg", "latex"):
        assert getattr(g, f"_repr_{name}_")() is None
    assert g._repr_mimebundle_() is None
    for probe in ("_ipython_display_", "_ipython_canary_method_should_not_exist_"):
        with pytest.raises(AttributeError):
            getattr(g, probe)


def test_attributes_keys_and_values() -> None:
    z = zarrkit.zeros(3)
    z.attrs.update(b=1, a="x")
    assert z.attrs._ipython_key_completions_() == ["a", "b"]
    with pytest.raises(TypeError, match="'bad'"):
        z.attrs["bad"] = {1, 2}
    with pytest.raises(TypeError, match="'obj'"):
        z.attrs.update(obj=object())
    assert dict(z.attrs) == {"a": "x", "b": 1}  # nothing written by the refused calls
    with pytest.warns(DeprecationWarning, match="'string'"):
        z.attrs[1] = "one"
    assert json.loads(z.store[".zattrs"])["1"] == "one"
    assert isinstance(zarrkit.attrs.Attributes({}).store, zarrkit.storage.KVStore)


# -- errors that name what the user gave ---------------------------------------------------------
def test_missing_paths_name_the_store_location(tmp_path: Any) -> None:
    where = str(tmp_path / "nope.zarr")
    for call, err in [
        (lambda: zarrkit.open_array(where, mode="r"), ArrayNotFoundError),
        (lambda: zarrkit.open_group(where, mode="r"), GroupNotFoundError),
        (lambda: zarrkit.open(where, mode="r"), PathNotFoundError),
        (lambda: zarrkit.load(where), PathNotFoundError),
    ]:
        with pytest.raises(err) as info:
            call()
        assert "nope.zarr" in str(info.value) and "''" not in str(info.value)
    with pytest.raises(ArrayNotFoundError, match=r"path 'a/b' in '.*nope\.zarr'"):
        zarrkit.open_array(where, mode="r", path="a/b")


def _write_v3_array(path: str) -> None:
    """The metadata document of a small Zarr v3 array (as zarr-python 3 writes it)."""
    os.makedirs(path, exist_ok=True)
    doc = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [3],
        "data_type": "int32",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [3]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0,
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
    }
    with open(os.path.join(path, "zarr.json"), "w") as f:
        json.dump(doc, f)


@pytest.mark.parametrize(
    "call",
    [
        lambda p: zarrkit.open(p, mode="r"),
        lambda p: zarrkit.open(p),
        lambda p: zarrkit.open_array(p),
        lambda p: zarrkit.open_array(p, mode="r+"),
        lambda p: zarrkit.load(p),
    ],
)
def test_zarr_v3_data_opens_in_its_format_and_is_not_written_over(tmp_path: Any, call: Any) -> None:
    path = str(tmp_path / "v3.zarr")
    _write_v3_array(path)
    found = call(path)
    if isinstance(found, zarrkit.Array):
        assert found.zarr_format == 3 and found._version == 3
        found = found[...]
    assert np.array_equal(found, np.zeros(3, dtype="i4"))
    assert sorted(os.listdir(path)) == ["zarr.json"]  # no v2 metadata written beside it


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda p: zarrkit.open_array(p, mode="w-", shape=3), ContainsArrayError),
        (lambda p: zarrkit.open_group(p), ContainsArrayError),
        (lambda p: zarrkit.open_group(p, mode="r"), ContainsArrayError),
    ],
)
def test_a_v3_array_is_an_array_to_the_checks(tmp_path: Any, call: Any, error: Any) -> None:
    path = str(tmp_path / "v3.zarr")
    _write_v3_array(path)
    with pytest.raises(error):
        call(path)
    assert sorted(os.listdir(path)) == ["zarr.json"]


@needs_zarr3
def test_zarr_v3_data_written_by_zarr3(tmp_path: Any) -> None:
    path = str(tmp_path / "real.zarr")
    zarr.create_group(path, zarr_format=3).create_array("x", shape=(2,), dtype="i4")
    g = zarrkit.open_group(path)
    assert g.zarr_format == 3 and list(g) == ["x"]
    x = zarrkit.open(os.path.join(path, "x"))
    assert x.zarr_format == 3 and x.shape == (2,)


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5"])
def test_bad_thread_count_in_environment(value: str) -> None:
    env = dict(os.environ, ZARRKIT_THREADS=value)
    r = subprocess.run(
        [sys.executable, "-c", "import zarrkit"], env=env, capture_output=True, text=True
    )
    assert r.returncode != 0
    assert f"ZARRKIT_THREADS={value!r} is not a positive integer" in r.stderr
    r = subprocess.run(
        [sys.executable, "-c", "import zarrkit; print(zarrkit.get_num_threads())"],
        env=dict(os.environ, ZARRKIT_THREADS="3"),
        capture_output=True,
        text=True,
    )
    assert r.stdout.strip() == "3"


def test_set_num_threads_checks_its_argument() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            zarrkit.set_num_threads(bad)


# -- documentation -------------------------------------------------------------------------------
def _documented(func: Any) -> list[str]:
    """Names of ``func``'s parameters that its docstring (or the one it refers to) leaves out."""
    import inspect
    import re

    doc = inspect.getdoc(func) or ""
    refs = re.findall(r"(?:those of|see) :func:`(\w+)`", doc)
    missing = []
    for name, p in inspect.signature(func).parameters.items():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or re.search(rf"\b{name}\b", doc):
            continue
        if any(
            re.search(rf"\b{name}\b", inspect.getdoc(getattr(zarrkit.creation, r)) or "")
            for r in refs
        ):
            continue
        missing.append(name)
    return missing


@pytest.mark.parametrize(
    "func",
    [getattr(zarrkit.creation, n) for n in zarrkit.creation.__all__]
    + [zarrkit.group, zarrkit.open_group],
    ids=lambda f: f.__name__,
)
def test_creation_functions_document_their_parameters(func: Any) -> None:
    assert _documented(func) == []


def test_legacy_nested_metadata_without_separator(tmp_path: Any) -> None:
    """zarr < 2.8 wrote nested arrays without ``dimension_separator``: they read as nested."""
    from zarrkit.storage import NestedDirectoryStore

    data = np.arange(24, dtype="i2").reshape(4, 6)
    path = str(tmp_path / "legacy")
    zarrkit.array(data, chunks=(2, 3), store=NestedDirectoryStore(path))
    meta_file = os.path.join(path, ".zarray")
    meta = json.load(open(meta_file))
    assert meta.pop("dimension_separator") == "/"
    json.dump(meta, open(meta_file, "w"))
    z = zarrkit.open_array(NestedDirectoryStore(path), mode="r+")
    np.testing.assert_array_equal(z[...], data)
    z[3, 5] = -1
    assert os.path.isfile(os.path.join(path, "1", "1"))
    z.resize(4, 9)  # rewritten metadata name the separator in use
    assert json.load(open(meta_file))["dimension_separator"] == "/"


def test_fsspec_mapper_becomes_fsstore(tmp_path: Any) -> None:
    fsspec = pytest.importorskip("fsspec")
    mapper = fsspec.get_mapper("file://" + str(tmp_path / "m"))
    z = zarrkit.create(10, chunks=5, store=mapper)
    assert type(z.store).__name__ == "FSStore" and z.store.map == mapper
    z[:] = 1
    assert sorted(mapper) == [".zarray", "0", "1"]


def test_meta_array_is_passed_as_getitems_context() -> None:
    seen: list = []

    class Recording(zarrkit.storage.MemoryStore):
        def getitems(self, keys: Any, *, contexts: Any) -> dict:
            seen.append(dict(contexts))
            return super().getitems(keys, contexts=contexts)

    z = zarrkit.create(10, chunks=1, store=Recording())
    z[0]
    assert seen[-1] == {}
    z._meta_array = "marker"
    z[2:4]
    assert seen[-1] == {"2": {"meta_array": "marker"}, "3": {"meta_array": "marker"}}
