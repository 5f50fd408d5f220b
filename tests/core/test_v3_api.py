"""Zarr v3 through the zarr 2 API: choosing the format, members, attributes, consolidation.

What zarr-python 3 and tensorstore make of these files is tested in tests/interop.
"""

from __future__ import annotations

import json
import os
import pickle
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrkit
from zarrkit.errors import ContainsGroupError, MetadataError, ReadOnlyError
from zarrkit.storage import MemoryStore


def doc(store: Any, key: str = "zarr.json") -> dict:
    return json.loads(bytes(store[key]))


@pytest.fixture
def default_format():
    yield zarrkit.set_default_zarr_format
    zarrkit.set_default_zarr_format(2)


def test_the_default_stays_v2_and_one_setting_switches_it(default_format) -> None:
    assert zarrkit.default_zarr_format() == 2
    s = MemoryStore()
    zarrkit.zeros(3, store=s)
    assert ".zarray" in s and "zarr.json" not in s
    default_format(3)
    s = MemoryStore()
    z = zarrkit.zeros(3, store=s)
    assert z.zarr_format == 3 and "zarr.json" in s and ".zarray" not in s
    g = zarrkit.group()
    assert g.zarr_format == 3
    with pytest.raises(ValueError, match="2 or 3"):
        default_format(4)


def test_the_environment_sets_the_default(tmp_path) -> None:
    import subprocess
    import sys

    code = "import zarrkit; print(zarrkit.default_zarr_format())"
    env = dict(os.environ, ZARRKIT_ZARR_FORMAT="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "3", out.stderr
    env["ZARRKIT_ZARR_FORMAT"] = "v3"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "ZARRKIT_ZARR_FORMAT" in out.stderr


@pytest.mark.parametrize(
    "kwargs",
    [
        {"zarr_format": 4},
        {"zarr_version": 1},
        {"zarr_format": True},
        {"zarr_version": 2, "zarr_format": 3},
    ],
)
def test_bad_format_arguments(kwargs) -> None:
    with pytest.raises(ValueError):
        zarrkit.zeros(3, **kwargs)


def test_zarr_version_3_is_zarr_format_3() -> None:
    assert zarrkit.zeros(3, zarr_version=3).zarr_format == 3
    assert zarrkit.open(MemoryStore(), mode="w", shape=3, zarr_version=3)._version == 3


def test_shards_and_dimension_names_need_v3_and_must_fit() -> None:
    with pytest.raises(ValueError, match="zarr_format=3"):
        zarrkit.zeros((4, 4), chunks=(2, 2), shards=(4, 4))
    with pytest.raises(ValueError, match="zarr_format=3"):
        zarrkit.zeros(4, dimension_names=["x"])
    with pytest.raises(ValueError, match="multiple"):
        zarrkit.zeros((8, 8), chunks=(3, 3), shards=(4, 4), zarr_format=3)
    with pytest.raises(ValueError, match="one length per dimension"):
        zarrkit.zeros((8, 8), chunks=(2, 2), shards=(4,), zarr_format=3)
    with pytest.raises(ValueError, match="dimension_names"):
        zarrkit.zeros((8, 8), dimension_names=["x"], zarr_format=3)


def test_sharded_array_round_trip_and_layout() -> None:
    s = MemoryStore()
    z = zarrkit.zeros(
        (10, 9), chunks=(2, 3), shards=(4, 9), dtype="i4", zarr_format=3, store=s,
        dimension_names=["y", "x"],
    )  # fmt: skip
    assert (z.chunks, z.shards, z.dimension_names) == ((2, 3), (4, 9), ("y", "x"))
    a = np.arange(90, dtype="i4").reshape(10, 9)
    z[...] = a
    assert sorted(k for k in s if k.startswith("c/")) == ["c/0/0", "c/1/0", "c/2/0"]
    assert np.array_equal(z[...], a)
    assert np.array_equal(z.oindex[[1, 8], [0, 5]], a[np.ix_([1, 8], [0, 5])])
    assert np.array_equal(z.vindex[[1, 8], [0, 5]], a[[1, 8], [0, 5]])
    assert z.nchunks_initialized == 3
    text = repr(z.info)
    assert "Shard shape        : (4, 9)" in text and "Zarr format        : 3" in text
    assert "Shards initialized : 3/3" in text
    codec = doc(s)["codecs"][0]
    assert codec["name"] == "sharding_indexed"
    assert codec["configuration"]["chunk_shape"] == [2, 3]


def test_nested_shards_creation_and_like() -> None:
    """``shards=[outer, inner]``: nested sharding_indexed codecs; ``*_like`` keeps them."""
    s = MemoryStore()
    z = zarrkit.zeros(
        (10, 9), chunks=(1, 3), shards=[(4, 9), (2, 3)], dtype="i4", zarr_format=3, store=s
    )
    assert (z.chunks, z.shards, z._meta.shard_shapes) == ((1, 3), (4, 9), ((4, 9), (2, 3)))
    outer = doc(s)["codecs"][0]["configuration"]
    assert outer["chunk_shape"] == [2, 3]
    inner = outer["codecs"][0]
    assert inner["name"] == "sharding_indexed"
    assert inner["configuration"]["chunk_shape"] == [1, 3]
    a = np.arange(90, dtype="i4").reshape(10, 9)
    z[...] = a
    assert sorted(k for k in s if k.startswith("c/")) == ["c/0/0", "c/1/0", "c/2/0"]
    assert np.array_equal(z[...], a) and np.array_equal(z[3:7, 2:8], a[3:7, 2:8])
    text = repr(z.info)
    assert "Shard shape        : (4, 9)" in text and "Inner shard shape  : (2, 3)" in text
    like = zarrkit.zeros_like(z, store=MemoryStore())
    assert like._meta.shard_shapes == ((4, 9), (2, 3)) and like.chunks == (1, 3)
    with pytest.raises(ValueError, match="inner shard shape"):
        zarrkit.zeros((8, 8), chunks=(2, 2), shards=[(8, 8), (3, 4)], zarr_format=3)
    with pytest.raises(ValueError, match="chunk shape"):
        zarrkit.zeros((8, 8), chunks=(2, 3), shards=[(8, 8), (4, 4)], zarr_format=3)
    with pytest.raises(ValueError, match="one length per dimension"):
        zarrkit.zeros((8, 8), chunks=(2, 2), shards=[(8, 8), (4,)], zarr_format=3)


def test_resize_and_append_keep_attributes_and_cut_shards() -> None:
    s = MemoryStore()
    z = zarrkit.zeros((8, 4), chunks=(2, 2), shards=(4, 4), dtype="f8", zarr_format=3, store=s)
    z[...] = 1.0
    z.attrs["units"] = "m"
    z.resize(4, 4)
    assert "c/1/0" not in s and "c/0/0" in s
    assert doc(s)["attributes"] == {"units": "m"} and doc(s)["shape"] == [4, 4]
    z.append(np.full((2, 4), 2.0))
    assert z.shape == (6, 4) and doc(s)["attributes"] == {"units": "m"}
    assert np.array_equal(z[4:], np.full((2, 4), 2.0))
    reopened = zarrkit.open_array(s, mode="r")
    assert reopened.shape == (6, 4) and reopened.attrs["units"] == "m"


def test_attributes_live_in_zarr_json_and_leave_the_metadata_alone() -> None:
    s = MemoryStore()
    z = zarrkit.zeros((4,), chunks=(2,), zarr_format=3, store=s)
    before = {k: v for k, v in doc(s).items() if k != "attributes"}
    z.attrs.update(a=1, b=[1, 2])
    del z.attrs["a"]
    assert doc(s)["attributes"] == {"b": [1, 2]}
    assert {k: v for k, v in doc(s).items() if k != "attributes"} == before
    assert ".zattrs" not in s
    with pytest.raises(TypeError):
        z.attrs["bad"] = object()
    assert doc(s)["attributes"] == {"b": [1, 2]}


def test_members_of_a_v3_group_are_v3() -> None:
    s = MemoryStore()
    g = zarrkit.group(s, zarr_format=3)
    a = g.create_dataset("a/b", shape=(3,), chunks=(2,), dtype="u1")
    sub = g.require_group("c")
    assert a.zarr_format == sub.zarr_format == g["a"].zarr_format == 3
    assert sorted(s) == ["a/b/zarr.json", "a/zarr.json", "c/zarr.json", "zarr.json"]
    assert doc(s, "a/zarr.json")["node_type"] == "group"
    with pytest.raises(ValueError, match="v3 group"):
        g.zeros("v2", shape=3, zarr_format=2)
    assert sorted(g) == ["a", "c"] and "a/b" in g and g["a/b"].shape == (3,)
    assert sorted(g.array_keys(recurse=True)) == ["b"] or list(g.arrays(recurse=True))
    reopened = zarrkit.open_group(s, mode="r")
    assert reopened.zarr_format == 3 and isinstance(reopened["a/b"], zarrkit.Array)
    with pytest.raises(ContainsGroupError):
        zarrkit.open_array(s, path="a", mode="a", shape=3)
    # a v2 group beside: each opens in its own format
    zarrkit.group(s, path="old", zarr_format=2).zeros("z", shape=2)
    assert zarrkit.open_group(s, path="old")["z"].zarr_format == 2


def test_strings_and_order_and_filters_in_v3() -> None:
    s = MemoryStore()
    zarrkit.array(np.array(["a", "bcd", ""], dtype=object), dtype=str, zarr_format=3, store=s)
    assert doc(s)["data_type"] == "string"
    assert list(zarrkit.open_array(s)[...]) == ["a", "bcd", ""]
    f = zarrkit.array(
        np.arange(12, dtype="<i2").reshape(3, 4),
        chunks=(2, 2),
        order="F",
        filters=[numcodecs.Delta(dtype="<i2")],
        compressor=numcodecs.GZip(level=1),
        zarr_format=3,
    )
    assert np.array_equal(f[...], np.arange(12).reshape(3, 4))
    names = [c["name"] for c in doc(f.store)["codecs"]]
    assert names == ["transpose", "numcodecs.delta", "bytes", "gzip"]


def test_consolidated_v3_is_inside_the_group_document() -> None:
    s = MemoryStore()
    g = zarrkit.group(s, zarr_format=3)
    g.attrs["title"] = "t"
    g.create_group("sub").zeros("y", shape=(4,), chunks=(2,), dtype="i4")[...] = 5
    c = zarrkit.consolidate_metadata(s)
    meta = doc(s)["consolidated_metadata"]
    assert meta["kind"] == "inline" and sorted(meta["metadata"]) == ["sub", "sub/y"]
    assert doc(s)["attributes"] == {"title": "t"}
    assert ".zmetadata" not in s
    assert c.attrs["title"] == "t" and np.array_equal(c["sub/y"][...], [5, 5, 5, 5])
    with pytest.raises(ReadOnlyError):
        c.attrs["x"] = 1
    c["sub/y"][0] = 9  # data stay writable
    assert zarrkit.open_group(s)["sub/y"][0] == 9


def test_bad_v3_metadata_is_a_clear_error() -> None:
    s = MemoryStore()
    zarrkit.zeros(3, zarr_format=3, store=s)
    d = doc(s)
    d["shape"] = [3, "x"]
    s["zarr.json"] = json.dumps(d).encode()
    with pytest.raises(MetadataError, match="shape"):
        zarrkit.open_array(s)


def test_pickles_keep_the_format(tmp_path) -> None:
    z = zarrkit.open_array(
        str(tmp_path / "a"), mode="w", shape=(6,), chunks=(2,), shards=(4,), zarr_format=3
    )
    z[...] = np.arange(6)
    z2 = pickle.loads(pickle.dumps(z))
    assert z2.zarr_format == 3 and z2.shards == (4,) and np.array_equal(z2[...], np.arange(6))
    g = zarrkit.open_group(str(tmp_path / "g"), mode="w", zarr_format=3)
    g2 = pickle.loads(pickle.dumps(g))
    assert g2.zarr_format == 3
    assert g2.zeros("m", shape=2).zarr_format == 3


def test_open_array_mode_a_on_v3_writes_no_v2_metadata(tmp_path) -> None:
    path = str(tmp_path / "v3")
    zarrkit.open_array(path, mode="w", shape=(3,), zarr_format=3)
    z = zarrkit.open_array(path, mode="a", shape=(3,))
    assert z.zarr_format == 3
    assert sorted(os.listdir(path)) == ["zarr.json"]


@pytest.mark.parametrize("native_on", [True, False])
@pytest.mark.parametrize(
    "shape, chunks, sep", [((20, 30), (10, 7), None), ((25,), (4,), None), ((9, 8), (3, 3), ".")]
)
def test_v3_chunk_files_land_at_v3_keys_on_every_pipeline(
    tmp_path, monkeypatch, native_on, shape, chunks, sep
) -> None:
    """The compiled loop and the Python path write and read ``c/...`` keys (the loop once
    wrote v2 names for v3 arrays)."""
    from zarrkit.pipeline import native

    monkeypatch.setattr(native, "ENABLED", native_on)
    path = str(tmp_path / "a")
    a = np.arange(np.prod(shape), dtype="i4").reshape(shape)
    z = zarrkit.open_array(
        path, mode="w", shape=shape, chunks=chunks, dtype="i4", zarr_format=3,
        compressor=numcodecs.Blosc(), dimension_separator=sep,
    )  # fmt: skip
    z[...] = a
    grid = [range(-(-s // c)) for s, c in zip(shape, chunks)]
    sep = sep or "/"
    import itertools

    expected = {"c" + sep + sep.join(map(str, t)) for t in itertools.product(*grid)}
    found = {
        os.path.relpath(os.path.join(root, f), path).replace(os.sep, "/")
        for root, _, files in os.walk(path)
        for f in files
        if f != "zarr.json"
    }
    assert found == expected
    assert np.array_equal(zarrkit.open_array(path, mode="r")[...], a)
    z[1:3] = 7  # partial writes too
    a[1:3] = 7
    assert np.array_equal(zarrkit.open_array(path, mode="r")[...], a)


def test_consolidating_at_a_v3_array_is_refused_and_changes_nothing() -> None:
    from zarrkit.errors import ContainsArrayError

    s = MemoryStore()
    g = zarrkit.group(s, zarr_format=3)
    g.zeros("a", shape=(3,), chunks=(2,))
    before = dict(s)
    with pytest.raises(ContainsArrayError):
        zarrkit.consolidate_metadata(s, path="a")
    assert dict(s) == before


def test_an_array_opened_where_a_v3_group_is_is_not_found() -> None:
    from zarrkit.errors import ArrayNotFoundError

    s = MemoryStore()
    zarrkit.group(s, zarr_format=3)
    with pytest.raises(ArrayNotFoundError):
        zarrkit.Array(s)


def test_rechunk_keeps_the_v3_format_names_and_fitting_shards(tmp_path) -> None:
    a = np.arange(24 * 16, dtype="i4").reshape(24, 16)
    src = zarrkit.group(str(tmp_path / "src"), zarr_format=3)
    src.attrs["k"] = 1
    src.array("x", a, chunks=(4, 4), shards=(8, 8), dimension_names=["y", "x"])
    src.array("plain", a, chunks=(6, 8))
    out = zarrkit.rechunk(str(tmp_path / "src"), str(tmp_path / "dst"), chunks=(2, 8))
    assert out.zarr_format == 3 and out.attrs["k"] == 1
    x = out["x"]
    assert (x.zarr_format, x.chunks, x.shards, x.dimension_names) == (3, (2, 8), (8, 8), ("y", "x"))
    assert np.array_equal(x[...], a) and np.array_equal(out["plain"][...], a)
    odd = zarrkit.rechunk(src["x"], str(tmp_path / "odd"), chunks=(3, 3))
    assert (odd.zarr_format, odd.chunks, odd.shards) == (3, (3, 3), None)
    assert np.array_equal(odd[...], a)
