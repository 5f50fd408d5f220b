"""A native xarray backend: ``xr.open_dataset(path_or_url, engine="zarrkit")``.

Reads Zarr v2 stores the way xarray writes them (``_ARRAY_DIMENSIONS`` on every array, the
``.zarray`` fill value as ``_FillValue``, consolidated ``.zmetadata`` when present) and
Zarr v3 stores the way xarray on zarr 3 writes them (the arrays' ``dimension_names``, a
``_FillValue`` attribute in xarray's encoding, consolidated metadata in ``zarr.json``) with any
xarray, including the releases whose own zarr engine needs zarr-python 3. Arrays stay lazy
(a ``BackendArray`` with outer indexing, so only the chunks a selection touches are read);
CF decoding (masking, scaling, times) is xarray's own. ``xr.open_datatree(..., engine="zarrkit")``
opens a hierarchy of groups. Declared as the ``zarrkit`` entry point of ``xarray.backends``.

>>> import xarray as xr, zarrkit, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "t.zarr")
>>> g = zarrkit.open_group(path, mode="w")
>>> a = g.array("v", [1.0, 2.0, -1.0], fill_value=-1.0)
>>> a.attrs["_ARRAY_DIMENSIONS"] = ["x"]
>>> xr.open_dataset(path, engine="zarrkit").v.values
array([ 1.,  2., nan])
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterable
from typing import Any

import numpy as np
from xarray import Dataset, DataTree, Variable
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.backends.common import AbstractDataStore
from xarray.backends.store import StoreBackendEntrypoint
from xarray.core import indexing

from ..convenience import open_consolidated
from ..core import Array
from ..hierarchy import Group, open_group

__all__ = ["ZarrkitBackendEntrypoint", "ZarrkitBackendArray", "ZarrkitDataStore"]

#: the attribute in which xarray records an array's dimension names (Zarr v2)
DIMENSIONS_KEY = "_ARRAY_DIMENSIONS"


class ZarrkitBackendArray(BackendArray):
    """A zarrkit array as xarray's lazy array; orthogonal selections go to ``oindex``."""

    def __init__(self, array: Array) -> None:
        self.array = array
        self.shape = array.shape
        self.dtype = array.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._read
        )

    def _read(self, key: tuple) -> np.ndarray:
        if any(isinstance(k, np.ndarray) for k in key):
            return self.array.oindex[key]
        return np.asarray(self.array[key])


class ZarrkitDataStore(AbstractDataStore):
    """The arrays of one group as xarray variables (data still in the store)."""

    def __init__(self, group: Group, close_store: bool = False) -> None:
        self.group = group
        self.close_store = close_store  # only a store opened here from a path or URL

    def get_variables(self) -> dict[str, Variable]:
        return {name: _variable(name, a) for name, a in self.group.arrays()}

    def get_attrs(self) -> dict[str, Any]:
        return dict(self.group.attrs.asdict())

    def get_dimensions(self) -> dict[Any, int]:
        dims: dict[Any, int] = {}
        for v in self.get_variables().values():
            dims.update(zip(v.dims, v.shape))
        return dims

    def close(self) -> None:
        if self.close_store:
            self.group.store.close()


def _variable(name: str, array: Array) -> Variable:
    attrs = dict(array.attrs.asdict())
    stored_dims = attrs.pop(DIMENSIONS_KEY, None)
    # Zarr v3: the dimension names are the array's own (xarray writes no attribute then)
    dims = array.dimension_names if array.zarr_format == 3 else None
    if dims is None or any(d is None for d in dims):
        if stored_dims is None:
            raise KeyError(
                f"array {name!r} has no {DIMENSIONS_KEY!r} attribute"
                + (" nor dimension_names" if array.zarr_format == 3 else "")
                + ": it was not written by xarray, so its dimensions have no names"
            )
        dims = tuple(stored_dims)
    if array.zarr_format == 2:
        if array.fill_value is not None:
            attrs["_FillValue"] = array.fill_value  # xarray's Zarr v2 convention
    elif "_FillValue" in attrs:  # Zarr v3: an attribute, in xarray's own encoding
        attrs["_FillValue"] = _decode_fill(attrs["_FillValue"], array.dtype)
    encoding = {
        "chunks": array.chunks,
        "preferred_chunks": dict(zip(dims, array.chunks)),
        "compressor": array.compressor,
        "filters": array.filters,
    }
    data = indexing.LazilyIndexedArray(ZarrkitBackendArray(array))
    return Variable(dims, data, attrs, encoding)


def _decode_fill(value: Any, dtype: np.dtype) -> Any:
    """A ``_FillValue`` attribute as xarray writes it for Zarr v3: floats (and the parts
    of complex numbers) as base64 of a little-endian float64, bytes as base64, the rest as
    JSON gives them."""
    if dtype.kind == "f" and isinstance(value, str):
        return struct.unpack("<d", base64.standard_b64decode(value))[0]
    if dtype.kind == "c" and isinstance(value, list) and len(value) == 2:
        re_, im = (struct.unpack("<d", base64.standard_b64decode(v))[0] for v in value)
        return complex(re_, im)
    if dtype.kind == "S" and isinstance(value, str):
        return base64.standard_b64decode(value)
    return value


def open_store_group(
    store: Any,
    group: str | None = None,
    consolidated: bool | None = None,
    storage_options: dict | None = None,
) -> Group:
    """The group at ``group`` of a path, URL or store, read-only.

    ``consolidated=None`` uses ``.zmetadata`` when it is there; ``True`` requires it.
    """
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    kwargs: dict[str, Any] = {"path": group}
    if storage_options:
        kwargs["storage_options"] = storage_options
    if consolidated is not False:
        try:
            return open_consolidated(store, mode="r", **kwargs)
        except KeyError:
            if consolidated:
                raise
    return open_group(store, mode="r", **kwargs)


class ZarrkitBackendEntrypoint(BackendEntrypoint):
    """``engine="zarrkit"``: Zarr v2 and v3 stores through zarrkit (paths, URLs, stores)."""

    description = "Open Zarr v2 and v3 stores (as written by xarray) with zarrkit"
    supports_groups = True
    open_dataset_parameters = (
        "filename_or_obj",
        "mask_and_scale",
        "decode_times",
        "concat_characters",
        "decode_coords",
        "drop_variables",
        "use_cftime",
        "decode_timedelta",
        "group",
        "consolidated",
        "storage_options",
    )

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        if isinstance(filename_or_obj, (str, os.PathLike)):
            path = os.fspath(filename_or_obj)
            return os.path.splitext(path.rstrip("/"))[1] == ".zarr"
        return False

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        mask_and_scale: bool = True,
        decode_times: Any = True,
        concat_characters: bool = True,
        decode_coords: Any = True,
        drop_variables: str | Iterable[str] | None = None,
        use_cftime: bool | None = None,
        decode_timedelta: Any = None,
        group: str | None = None,
        consolidated: bool | None = None,
        storage_options: dict | None = None,
    ) -> Dataset:
        root = open_store_group(filename_or_obj, group, consolidated, storage_options)
        return self._decode(
            root,
            close_store=_is_location(filename_or_obj),
            mask_and_scale=mask_and_scale,
            decode_times=decode_times,
            concat_characters=concat_characters,
            decode_coords=decode_coords,
            drop_variables=drop_variables,
            use_cftime=use_cftime,
            decode_timedelta=decode_timedelta,
        )

    def open_groups_as_dict(
        self,
        filename_or_obj: Any,
        *,
        group: str | None = None,
        consolidated: bool | None = None,
        storage_options: dict | None = None,
        **decode: Any,
    ) -> dict[str, Dataset]:
        root = open_store_group(filename_or_obj, group, consolidated, storage_options)
        close = _is_location(filename_or_obj)
        out = {"/": self._decode(root, close_store=close, **decode)}

        def visit(name: str, member: Any) -> None:
            if isinstance(member, Group):
                out["/" + name] = self._decode(member, **decode)

        root.visititems(visit)
        return out

    def open_datatree(self, filename_or_obj: Any, **kwargs: Any) -> DataTree:
        return DataTree.from_dict(self.open_groups_as_dict(filename_or_obj, **kwargs))

    @staticmethod
    def _decode(group: Group, close_store: bool = False, **decode: Any) -> Dataset:
        # use_cftime / decode_timedelta are only passed on when set (newer xarray warns)
        decode = {k: v for k, v in decode.items() if v is not None or k == "drop_variables"}
        data = ZarrkitDataStore(group, close_store)
        return StoreBackendEntrypoint().open_dataset(data, **decode)


def _is_location(filename_or_obj: Any) -> bool:
    """True for a path or URL (the backend opens the store, so it closes it too)."""
    return isinstance(filename_or_obj, (str, os.PathLike))
