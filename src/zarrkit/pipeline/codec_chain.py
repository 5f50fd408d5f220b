"""Filters and compressor as one encode/decode object.

Every codec comes from numcodecs. An object codec (VLenUTF8, JSON, ...) is simply the first
filter, as in zarr 2, so object arrays need nothing special here beyond the object dtype.
"""

from __future__ import annotations

from typing import Any

import numcodecs
import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_ndarray_like

from ..errors import MetadataError
from ..formats.meta import ArrayMeta


def get_codec(config: dict, where: str = "") -> Codec:
    """Instantiate a numcodecs codec from its configuration, with a clear error if unknown."""
    try:
        return numcodecs.get_codec(dict(config))
    except (ValueError, KeyError, TypeError) as e:
        codec_id = config.get("id") if isinstance(config, dict) else config
        extra = f" (in {where})" if where else ""
        raise MetadataError(
            f"codec {codec_id!r}{extra} is not available: {e}. "
            "Is the package that provides it installed and registered with numcodecs?"
        ) from None


class CodecChain:
    """Encode a chunk (an ndarray of the chunk shape) to bytes and back."""

    def __init__(self, meta: ArrayMeta, where: str = "") -> None:
        self.meta = meta
        self.filters: list[Codec] = [get_codec(f, where) for f in (meta.filters or ())]
        self.compressor: Codec | None = (
            get_codec(meta.compressor, where) if meta.compressor is not None else None
        )
        self.dtype = meta.dtype
        self.order = meta.order
        self.chunk_shape = meta.chunks
        self.is_object = meta.dtype.hasobject
        # decoding straight into the caller's buffer is possible with no filters
        self.can_decode_into = self.compressor is not None and not self.filters and not self.is_object
        self.uses_blosc = isinstance(self.compressor, numcodecs.Blosc) or any(
            isinstance(f, numcodecs.Blosc) for f in self.filters
        )

    def encode(self, chunk: np.ndarray) -> bytes:
        """Chunk array (chunk shape, array dtype) -> stored bytes."""
        if self.order == "F":
            chunk = np.asfortranarray(chunk)
        else:
            chunk = np.ascontiguousarray(chunk)
        data: Any = chunk
        for f in self.filters:
            data = f.encode(data)
        if self.is_object is False and isinstance(data, np.ndarray) and data.dtype == object:
            raise TypeError("cannot encode an object chunk without an object codec")
        if self.compressor is not None:
            data = self.compressor.encode(data)
        if isinstance(data, bytes):
            return data
        arr = ensure_ndarray_like(data)
        return arr.tobytes(order="A")

    def decode(self, data: Any) -> np.ndarray:
        """Stored bytes -> chunk array of the chunk shape, in the array's memory order."""
        if self.compressor is not None:
            data = self.compressor.decode(data)
        for f in reversed(self.filters):
            data = f.decode(data)
        arr = ensure_ndarray_like(data)
        if self.is_object:
            if arr.dtype != object:
                raise TypeError("object codec did not produce objects")
        else:
            arr = arr.view(self.dtype)
        arr = arr.reshape(-1, order="A")
        expected = int(np.prod(self.chunk_shape, dtype=np.int64))
        if arr.size != expected:
            raise ValueError(f"decoded {arr.size} items, expected {expected} for chunk shape {self.chunk_shape}")
        return arr.reshape(self.chunk_shape, order=self.order)

    def decode_into(self, data: Any, dest: np.ndarray) -> None:
        """Decode straight into ``dest``: contiguous in the array's order, chunk-sized, same dtype."""
        flat = dest.reshape(-1, order=self.order)
        self.compressor.decode(data, out=flat)  # type: ignore[union-attr]
