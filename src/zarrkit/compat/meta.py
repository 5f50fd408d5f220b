"""zarr 2's ``zarr.meta``: metadata documents as plain dicts.

zarrkit itself works with the records of :mod:`zarrkit.formats.meta`; this module is for code
written against zarr 2 that reads or writes ``.zarray`` / ``.zgroup`` documents as dicts
(``store._metadata_class.decode_array_metadata(store['.zarray'])``). Every conversion goes
through the one translator, :mod:`zarrkit.formats.v2`, so the bytes are those zarrkit writes.

>>> meta = decode_array_metadata(encode_array_metadata(
...     dict(shape=(4,), chunks=(2,), dtype='<i2', compressor=None, fill_value=0,
...          order='C', filters=None)))
>>> meta['shape'], meta['dtype'], meta['fill_value']
((4,), dtype('int16'), np.int16(0))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..formats import v2
from ..formats.meta import ArrayMeta
from ..formats.v2 import (
    ZARR_FORMAT,
    decode_dtype,
    decode_fill_value,
    encode_dtype,
    encode_fill_value,
    json_dumps,
    json_loads,
)

__all__ = [
    "ZARR_FORMAT",
    "Metadata2",
    "decode_array_metadata",
    "encode_array_metadata",
    "decode_group_metadata",
    "encode_group_metadata",
    "decode_dtype",
    "encode_dtype",
    "decode_fill_value",
    "encode_fill_value",
    "json_dumps",
    "json_loads",
]


def _document(s: bytes | str | Mapping) -> Any:
    """A parsed document: JSON text parsed, a mapping taken as it is."""
    return dict(s) if isinstance(s, Mapping) else s


def decode_array_metadata(s: bytes | str | Mapping) -> dict[str, Any]:
    """``.zarray`` (JSON or an already parsed dict) -> zarr 2's dict: tuples for ``shape`` and
    ``chunks``, a NumPy ``dtype``, the fill value decoded; ``dimension_separator`` only when
    the document has one."""
    meta = v2.decode_array_meta(_document(s))
    out: dict[str, Any] = {
        "zarr_format": ZARR_FORMAT,
        "shape": meta.shape,
        "chunks": meta.chunks,
        "dtype": meta.dtype,
        "compressor": meta.compressor,
        "fill_value": meta.fill_value,
        "order": meta.order,
        "filters": list(meta.filters) if meta.filters else None,
    }
    if meta.dimension_separator:
        out["dimension_separator"] = meta.dimension_separator
    return out


def encode_array_metadata(meta: Mapping[str, Any]) -> bytes:
    """zarr 2's dict (as :func:`decode_array_metadata` returns it) -> ``.zarray`` bytes."""
    record = ArrayMeta(
        shape=tuple(int(n) for n in meta["shape"]),
        chunks=tuple(int(n) for n in meta["chunks"]),
        dtype=np.dtype(meta["dtype"]),
        fill_value=meta.get("fill_value"),
        order=meta.get("order", "C"),
        compressor=meta.get("compressor"),
        filters=tuple(meta["filters"]) if meta.get("filters") else None,
        dimension_separator=meta.get("dimension_separator") or None,
    )
    return v2.encode_array_meta(record)


def decode_group_metadata(s: bytes | str | Mapping) -> dict[str, Any]:
    """``.zgroup`` -> ``{'zarr_format': 2}`` (checking the version)."""
    v2.decode_group_meta(_document(s))
    return {"zarr_format": ZARR_FORMAT}


def encode_group_metadata(meta: Mapping[str, Any] | None = None) -> bytes:
    """``.zgroup`` bytes (a v2 group document holds only the format version)."""
    return v2.encode_group_meta()


class Metadata2:
    """What zarr 2 stores give as ``store._metadata_class``: the codec of v2 documents."""

    ZARR_FORMAT = ZARR_FORMAT
    decode_array_metadata = staticmethod(decode_array_metadata)
    encode_array_metadata = staticmethod(encode_array_metadata)
    decode_group_metadata = staticmethod(decode_group_metadata)
    encode_group_metadata = staticmethod(encode_group_metadata)
    decode_dtype = staticmethod(decode_dtype)
    encode_dtype = staticmethod(encode_dtype)
    decode_fill_value = staticmethod(decode_fill_value)
    encode_fill_value = staticmethod(encode_fill_value)
