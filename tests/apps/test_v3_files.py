"""Zarr v3 files written by anndata and ome-zarr-py (OME-NGFF 0.5), read with zarrkit (``.venv``).

Both libraries write through zarr-python 3; they are test dependencies of the zarr 3
environment (tests/requirements/zarr3.in). Each test writes a file with the library, then
walks the whole hierarchy with zarrkit (``visititems``) and checks, node by node, that
zarrkit sees what zarr-python sees (the same members, arrays' values, dtypes, chunks,
shards, dimension names and attributes), and that zarrkit's arrays are what the library
itself reads back (``anndata.read_zarr``; ome-zarr-py's reader).

Sharding: anndata's ``settings.auto_shard_zarr_v3`` and ome-zarr-py's ``storage_options``
``shards`` write ``sharding_indexed`` arrays (crc32c index codec).
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import zarrkit
from conftest import needs_zarr3

pytestmark = [
    needs_zarr3,
    # ome-zarr-py 0.18's write_labels passes its own deprecated ``scaler`` on
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ome_zarr"),
]


def _require(name: str) -> Any:
    """The module ``name``; the test skips where it is not installed, except in the
    environment made for these tests (scripts/v3apps.sh sets ZARRKIT_REQUIRE_V3APPS)."""
    if os.environ.get("ZARRKIT_REQUIRE_V3APPS"):
        return importlib.import_module(name)
    return pytest.importorskip(name)


# -- zarrkit against zarr-python, node by node ----------------------------------------------


def _values(a: Any) -> np.ndarray:
    """An array's values as numpy, strings as plain Python objects (zarr-python 3 reads
    Zarr v3 ``string`` as numpy's StringDType, zarrkit as object)."""
    v = np.asarray(a[...])
    if v.dtype.kind in "OTU":
        return np.array(v.tolist(), dtype=object).reshape(v.shape)
    return v


def _assert_same_values(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    assert ours.shape == theirs.shape, what
    if ours.dtype.kind == "f" or ours.dtype.kind == "c":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)  # NaN == NaN here
    else:
        assert ours.tolist() == theirs.tolist(), what


def _walk(path: str) -> dict[str, Any]:
    """Every node below the root of the file at ``path``, as zarrkit opens it."""
    root = zarrkit.open_group(path, mode="r")
    nodes: dict[str, Any] = {}
    root.visititems(lambda name, node: nodes.__setitem__(name, node))
    nodes[""] = root
    return nodes


def _assert_matches_zarr_python(path: str) -> dict[str, Any]:
    """zarrkit's view of the file at ``path`` equals zarr-python's, node by node."""
    import zarr

    ours = _walk(path)
    theirs_root = zarr.open_group(path, mode="r", zarr_format=3)
    theirs = {name: node for name, node in theirs_root.members(max_depth=None)}
    theirs[""] = theirs_root
    assert sorted(ours) == sorted(theirs)
    for name, node in ours.items():
        other = theirs[name]
        assert dict(node.attrs) == dict(other.attrs), name
        if isinstance(other, zarr.Group):
            assert isinstance(node, zarrkit.Group), name
            continue
        assert isinstance(node, zarrkit.Array), name
        assert node.shape == other.shape, name
        assert node.chunks == other.chunks, name  # the inner chunks of a sharded array
        assert node.shards == other.shards, name
        assert node.dimension_names == other.metadata.dimension_names, name
        if other.dtype.kind not in "OTU":  # strings: zarrkit reads them as object
            assert node.dtype == other.dtype, name
        _assert_same_values(_values(node), _values(other), name)
    return ours


# -- anndata --------------------------------------------------------------------------------


@contextmanager
def _anndata_settings(ad: Any, **values: Any) -> Iterator[None]:
    """anndata's settings set in this order and put back in the reverse one (the zarr format
    before sharding: anndata's own ``settings.override`` restores them in the same order, and
    refuses format 2 while sharding is still on)."""
    saved = [(k, getattr(ad.settings, k)) for k in values]
    try:
        for k, v in values.items():
            setattr(ad.settings, k, v)
        yield
    finally:
        for k, v in reversed(saved):
            setattr(ad.settings, k, v)


def _adata(ad: Any, sparse_x: bool) -> Any:
    pd = _require("pandas")
    sp = _require("scipy.sparse")
    rng = np.random.default_rng(23)
    n_obs, n_var = 40, 12
    dense = rng.poisson(0.7, (n_obs, n_var)).astype("float32")
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(rng.choice(["T", "B", "NK", "mono"], n_obs)),
            "batch": pd.Categorical(rng.choice(["b1", "b2"], n_obs), ordered=True),
            "donor": [f"donor-{i % 3}" for i in range(n_obs)],
            "n_counts": dense.sum(axis=1).astype("int64"),
            "qc": rng.random(n_obs) > 0.3,
            "barcode": [f"AC{i:04d}G" for i in range(n_obs)],  # unique: stays a string column
            # nullable columns: values and a mask
            "n_genes": pd.array([None if i % 7 == 0 else i for i in range(n_obs)], dtype="Int32"),
            "doublet": pd.array(
                [None if i % 5 == 0 else i % 2 == 0 for i in range(n_obs)], "boolean"
            ),
            "note": pd.array([None if i % 4 == 0 else f"n{i}" for i in range(n_obs)], "string"),
        },
        index=[f"cell{i}" for i in range(n_obs)],
    )
    var = pd.DataFrame(
        {
            "symbol": [f"GENE{i}" for i in range(n_var)],
            "kind": pd.Categorical(["coding", "lnc", "coding"] * (n_var // 3)),
            "mean": dense.mean(axis=0).astype("float64"),
        },
        index=[f"ENSG{i:05d}" for i in range(n_var)],
    )
    return ad.AnnData(
        X=sp.csr_matrix(dense) if sparse_x else dense,
        obs=obs,
        var=var,
        obsm={"X_pca": rng.standard_normal((n_obs, 3)), "X_umap": rng.random((n_obs, 2))},
        varm={"loadings": rng.random((n_var, 3)).astype("float32")},
        obsp={"distances": sp.csc_matrix(np.triu(rng.random((n_obs, n_obs)) > 0.9) * 1.5)},
        layers={
            "counts": sp.csr_matrix(dense.astype("int32")),
            "scaled": (dense - dense.mean()).astype("float64"),
        },
        uns={
            "method": "leiden",
            "params": {"resolution": 0.8, "n_iter": 2, "neighbors": {"k": 15, "metric": "cosine"}},
            "colors": ["#ff0000", "#00ff00", "#0000ff"],
            "counts": np.arange(5, dtype="uint16"),
            "flag": True,
            "pi": 3.25,
            "grid": np.arange(12, dtype="int8").reshape(3, 4),
            "names": np.array([["a", "bb"], ["ccc", ""]], dtype=object),
        },
    )


def _strings(group: Any) -> list[Any]:
    """An anndata string column (``string-array``, or ``nullable-string-array``: values and a
    mask) read with zarrkit, missing values as None."""
    enc = group.attrs["encoding-type"]
    if enc == "string-array":
        return list(group[...])
    assert enc == "nullable-string-array", enc
    values, mask = group["values"][...], group["mask"][...]
    return [None if m else v for v, m in zip(values.tolist(), mask.tolist())]


def _column(df_group: Any, name: str) -> Any:
    """One dataframe column read with zarrkit, as a pandas object."""
    pd = _require("pandas")
    node = df_group[name]
    enc = node.attrs["encoding-type"]
    if enc == "categorical":
        codes = node["codes"][...]
        categories = node["categories"]
        cats = _strings(categories) if isinstance(categories, zarrkit.Group) else categories[...]
        if not isinstance(categories, zarrkit.Group) and cats.dtype == object:
            cats = list(cats)
        return pd.Categorical.from_codes(codes, cats, ordered=bool(node.attrs["ordered"]))
    if enc in ("nullable-integer", "nullable-boolean"):
        values, mask = node["values"][...], node["mask"][...]
        return [None if m else v for v, m in zip(values.tolist(), mask.tolist())]
    if isinstance(node, zarrkit.Group) or enc == "string-array":
        return _strings(node)
    return node[...]


def _assert_frame(df_group: Any, expected: Any) -> None:
    pd = _require("pandas")
    attrs = df_group.attrs
    assert attrs["encoding-type"] == "dataframe"
    assert list(attrs["column-order"]) == list(expected.columns)
    assert _column(df_group, attrs["_index"]) == list(expected.index)
    for col in expected.columns:
        ours, theirs = _column(df_group, col), expected[col]
        if isinstance(theirs.dtype, pd.CategoricalDtype):
            assert isinstance(ours, pd.Categorical), col
            assert list(ours.categories) == list(theirs.cat.categories), col
            assert ours.ordered == theirs.cat.ordered, col
            assert ours.codes.tolist() == theirs.cat.codes.tolist(), col
        else:
            expected_values = [None if v is pd.NA else v for v in theirs.tolist()]
            assert list(ours) == expected_values, col


def _assert_matrix(node: Any, expected: Any, what: str) -> None:
    sp = _require("scipy.sparse")
    if isinstance(node, zarrkit.Group):
        fmt = node.attrs["encoding-type"].split("_")[0]
        assert sp.issparse(expected) and expected.format == fmt, what
        assert list(node.attrs["shape"]) == list(expected.shape), what
        for part in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(node[part][...], getattr(expected, part), err_msg=what)
        return
    assert not sp.issparse(expected), what
    ours = node[...]
    assert ours.dtype == expected.dtype, what
    np.testing.assert_array_equal(ours, expected, err_msg=what)


def _assert_uns(node: Any, expected: Any, what: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(node, zarrkit.Group), what
        assert sorted(node.keys()) == sorted(expected), what
        for key, value in expected.items():
            _assert_uns(node[key], value, f"{what}/{key}")
        return
    ours = node[...]
    if ours.shape == ():
        ours = ours.item() if hasattr(ours, "item") else ours
        assert ours == expected, what
    else:
        assert ours.tolist() == np.asarray(expected).tolist(), what


@pytest.mark.parametrize("sparse_x", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("sharded", [False, True], ids=["chunked", "sharded"])
def test_anndata_v3_file(tmp_path, sparse_x: bool, sharded: bool) -> None:
    ad = _require("anndata")
    path = str(tmp_path / "adata.zarr")
    settings: dict[str, Any] = {"zarr_write_format": 3, "auto_shard_zarr_v3": sharded}
    if hasattr(ad.settings, "allow_write_nullable_strings"):
        # pandas 3's default str dtype is a nullable string array (``nullable-string-array``)
        settings["allow_write_nullable_strings"] = True
    adata = _adata(ad, sparse_x)
    with _anndata_settings(ad, **settings), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # consolidated metadata is no part of Zarr v3 (zarr)
        adata.write_zarr(path, chunks=(16, 8))
        back = ad.read_zarr(path)

    nodes = _assert_matches_zarr_python(path)
    root = nodes[""]
    assert root.attrs["encoding-type"] == "anndata"
    assert {"X", "obs", "var", "obsm", "varm", "layers", "uns"} <= set(root.keys())
    # the arrays are what anndata reads back
    _assert_matrix(root["X"], back.X, "X")
    _assert_frame(root["obs"], back.obs)
    _assert_frame(root["var"], back.var)
    for key in back.obsm:
        _assert_matrix(root["obsm"][key], back.obsm[key], f"obsm/{key}")
    for key in back.varm:
        _assert_matrix(root["varm"][key], back.varm[key], f"varm/{key}")
    for key in back.obsp:
        _assert_matrix(root["obsp"][key], back.obsp[key], f"obsp/{key}")
    for key in back.layers:
        _assert_matrix(root["layers"][key], back.layers[key], f"layers/{key}")
    _assert_uns(root["uns"], dict(back.uns), "uns")
    # and what anndata reads back is what was written
    np.testing.assert_array_equal(
        back.X.toarray() if sparse_x else back.X,
        adata.X.toarray() if sparse_x else adata.X,
    )
    x = root["X"] if not sparse_x else root["X"]["data"]
    if sharded:
        assert x.shards is not None
        assert all(s % c == 0 for s, c in zip(x.shards, x.chunks))
    else:
        assert x.shards is None
    if not sparse_x:
        assert x.chunks == (16, 8)


# -- ome-zarr-py ----------------------------------------------------------------------------


def _image() -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.integers(0, 4000, (2, 12, 64, 48), dtype="uint16")  # c, z, y, x


def _channel(label: str, color: str) -> dict[str, Any]:
    window = {"min": 0.0, "max": 4000.0, "start": 0.0, "end": 3000.0}
    return {"label": label, "color": color, "active": True, "window": window}


@pytest.mark.parametrize("sharded", [False, True], ids=["chunked", "sharded"])
def test_ome_zarr_v05_image(tmp_path, sharded: bool) -> None:
    _require("ome_zarr")
    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader
    from ome_zarr.writer import write_image, write_labels

    path = str(tmp_path / "image.ome.zarr")
    image = _image()
    chunks = (1, 6, 16, 16)
    shards = (1, 12, 32, 48)
    options: dict[str, Any] = {"chunks": chunks}
    if sharded:
        options["shards"] = shards
    root = zarr.open_group(path, mode="w", zarr_format=3)
    units = {"z": "micrometer", "y": "micrometer", "x": "micrometer"}
    write_image(
        image,
        root,
        fmt=FormatV05(),
        axes="czyx",
        scale_factors=[2, 4],
        storage_options=options,
        scale={"c": 1.0, "z": 0.5, "y": 0.25, "x": 0.25},
        axes_units=units,
        omero={"channels": [_channel("DAPI", "0000FF"), _channel("GFP", "00FF00")]},
    )
    labels = (image[0] // 1000).astype("uint8")
    write_labels(labels, root, name="nuclei", fmt=FormatV05(), axes="zyx", scale_factors=[2])

    nodes = _assert_matches_zarr_python(path)
    ome = nodes[""].attrs["ome"]
    assert ome["version"] == "0.5"
    (multiscale,) = ome["multiscales"]
    axes = tuple(axis["name"] for axis in multiscale["axes"])
    assert axes == ("c", "z", "y", "x")
    assert [ax.get("unit") for ax in multiscale["axes"]] == [None, *units.values()]
    assert ome["omero"]["channels"][0]["label"] == "DAPI"

    # the pyramid as ome-zarr-py's reader gives it (dask arrays)
    (node,) = [n for n in Reader(parse_url(path))() if n.zarr.path.rstrip("/") == path]
    assert len(node.data) == len(multiscale["datasets"]) == 3
    for level, dataset in zip(node.data, multiscale["datasets"]):
        ours = nodes[dataset["path"]]
        assert ours.dimension_names == axes
        assert ours.dtype == np.dtype("uint16")
        assert ours.chunks == chunks
        assert ours.shards == (shards if sharded else None)
        np.testing.assert_array_equal(ours[...], np.asarray(level), err_msg=dataset["path"])
    np.testing.assert_array_equal(nodes[multiscale["datasets"][0]["path"]][...], image)
    # a region of the full resolution across shard boundaries
    full = nodes[multiscale["datasets"][0]["path"]]
    np.testing.assert_array_equal(full[1, 3:11, 20:50, 5:40], image[1, 3:11, 20:50, 5:40])

    # labels: an image-label multiscale below labels/
    assert nodes["labels"].attrs["ome"]["labels"] == ["nuclei"]
    label_ome = nodes["labels/nuclei"].attrs["ome"]
    assert "image-label" in label_ome
    (label_node,) = [
        n
        for n in Reader(parse_url(f"{path}/labels/nuclei"))()
        if n.zarr.path.rstrip("/").endswith("nuclei")
    ]
    (label_ms,) = label_ome["multiscales"]
    for level, dataset in zip(label_node.data, label_ms["datasets"]):
        ours = nodes[f"labels/nuclei/{dataset['path']}"]
        assert ours.dimension_names == ("z", "y", "x")
        np.testing.assert_array_equal(ours[...], np.asarray(level), err_msg=dataset["path"])
    np.testing.assert_array_equal(
        nodes[f"labels/nuclei/{label_ms['datasets'][0]['path']}"][...], labels
    )

    # zarrkit.open finds the same arrays by path
    level0 = zarrkit.open(f"{path}/{multiscale['datasets'][0]['path']}", mode="r")
    assert level0.shape == image.shape
    assert level0.dimension_names == axes
