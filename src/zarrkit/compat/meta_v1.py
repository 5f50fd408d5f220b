"""Zarr format 1 metadata (zarr 2's ``zarr.meta_v1``), and its migration to format 2.

Format 1 kept an array's metadata under the key ``meta`` and its attributes under
``attrs``, with the compressor as a name plus options (``compression``,
``compression_opts``). :func:`migrate_1to2` rewrites such a store in place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from numcodecs import get_codec

from ..formats.v2 import decode_dtype, decode_fill_value, encode_dtype, encode_fill_value
from .meta import encode_array_metadata

__all__ = ["decode_metadata", "encode_metadata", "migrate_1to2"]

_FIELDS = ("shape", "chunks", "compression", "compression_opts", "fill_value", "order")


def encode_metadata(meta: Mapping[str, Any]) -> bytes:
    """A format 1 ``meta`` document for ``meta`` (shape, chunks, dtype, compression,
    compression_opts, fill_value, order)."""
    dtype = np.dtype(meta["dtype"])
    doc = {k: meta[k] for k in _FIELDS}
    doc.update(
        zarr_format=1,
        shape=list(meta["shape"]),
        chunks=list(meta["chunks"]),
        dtype=encode_dtype(dtype),
        fill_value=encode_fill_value(meta["fill_value"], dtype),
    )
    return json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=True).encode("ascii")


def decode_metadata(raw: bytes | str) -> dict[str, Any]:
    """Inverse of :func:`encode_metadata` (``ValueError`` unless the document is format 1)."""
    doc = json.loads(raw if isinstance(raw, str) else bytes(raw).decode("ascii"))
    if doc.get("zarr_format") != 1:
        raise ValueError(f"not Zarr format 1 metadata: zarr_format={doc.get('zarr_format')!r}")
    dtype = decode_dtype(doc["dtype"])
    out = {k: doc[k] for k in _FIELDS}
    out.update(
        zarr_format=1,
        shape=tuple(doc["shape"]),
        chunks=tuple(doc["chunks"]),
        dtype=dtype,
        fill_value=decode_fill_value(doc["fill_value"], dtype),
    )
    return out


def _compressor_config(name: str | None, opts: Any) -> dict | None:
    """Format 1's compressor name and options as a numcodecs configuration."""
    if name in (None, "none"):
        return None
    if isinstance(opts, dict):
        return get_codec({"id": name, **opts}).get_config()
    # the one positional option of format 1's codecs (zlib's level, ...)
    codec = get_codec({"id": name})
    return type(codec)(opts).get_config()


def migrate_1to2(store: Any) -> None:
    """Rewrite the format 1 array in ``store`` (a mapping) as a Zarr v2 array, in place."""
    meta = decode_metadata(store["meta"])
    v2 = {k: v for k, v in meta.items() if k not in ("compression", "compression_opts")}
    v2["compressor"] = _compressor_config(meta["compression"], meta["compression_opts"])
    v2["filters"] = None
    store[".zarray"] = encode_array_metadata(v2)
    store[".zattrs"] = store["attrs"]
    del store["meta"]
    del store["attrs"]
