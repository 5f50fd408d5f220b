"""The N5 format: ``attributes.json`` <-> records, and the N5 block layout.

N5 keeps one ``attributes.json`` per group or dataset. A dataset's attributes hold the
keywords ``dimensions``, ``blockSize``, ``dataType`` and ``compression``, with the axes in
the reverse of zarrkit's (C) order; every other member is a user attribute. The root holds
the format version under ``"n5"``.

A block (chunk) is a file that starts with a header -- mode (uint16), number of dimensions
(uint16), then each dimension of the block (uint32), all big-endian and in N5 axis order --
followed by the (compressed) big-endian items. Blocks at the upper edge of a dataset are
truncated to the part inside it.

zarrkit presents N5 to the rest of the library as Zarr v2 metadata whose compressor is
:class:`N5ChunkWrapper`, a numcodecs codec that adds/strips the block header, swaps bytes and
calls the inner compressor; so the chunk pipeline needs no N5 knowledge.
"""

from __future__ import annotations

import struct
from typing import Any

import numcodecs
import numpy as np
from numcodecs.abc import Codec

from ..errors import MetadataError
from .meta import ArrayMeta

__all__ = [
    "N5_VERSION",
    "N5_KEYWORDS",
    "ATTRS_FILE",
    "N5ChunkWrapper",
    "encode_array_attrs",
    "decode_array_attrs",
    "is_array_attrs",
    "user_attrs",
    "compression_to_n5",
    "compression_from_n5",
    "encode_block_header",
    "decode_block_header",
]

#: Version written under ``"n5"`` in the root ``attributes.json``.
N5_VERSION = "2.0.0"
#: Members of ``attributes.json`` that belong to N5, not to the user.
N5_KEYWORDS = ("n5", "dimensions", "blockSize", "dataType", "compression")
ATTRS_FILE = "attributes.json"

_DATA_TYPES = (
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int8",
    "int16",
    "int32",
    "int64",
    "float32",
    "float64",
)

_MODE_DEFAULT = 0
# configurations of a block wrapper (ours, or zarr 2's) around the real compressor
_WRAPPER_IDS = ("zarrkit.n5_wrapper", "n5_wrapper")
_MODE_VARLENGTH = 1


# -- compression ---------------------------------------------------------------------------


def compression_to_n5(config: dict | None, dtype: np.dtype | None = None) -> dict:
    """N5 ``compression`` member for a numcodecs compressor configuration (None: raw).

    Supported: Blosc, GZip, Zlib (N5 gzip with ``useZlib``), BZ2 (bzip2), LZMA in the xz
    format (xz), LZ4 and Zstd. An :class:`N5ChunkWrapper` configuration is unwrapped first.

    >>> compression_to_n5({'id': 'bz2', 'level': 5})
    {'type': 'bzip2', 'blockSize': 5}
    """
    if config is None:
        return {"type": "raw"}
    if config.get("id") in _WRAPPER_IDS:
        return compression_to_n5(config.get("compressor_config"), dtype)
    cid = config["id"]
    if cid == "blosc":
        shuffle = int(config.get("shuffle", 1))
        if shuffle == -1:  # numcodecs' AUTOSHUFFLE: resolve it, N5 readers do not know it
            itemsize = 1 if dtype is None else dtype.itemsize
            shuffle = 2 if itemsize == 1 else 1
        return {
            "type": "blosc",
            "cname": config.get("cname", "lz4"),
            "clevel": int(config.get("clevel", 5)),
            "shuffle": shuffle,
            "blocksize": int(config.get("blocksize", 0)),
        }
    if cid in ("gzip", "zlib"):
        return {"type": "gzip", "level": int(config.get("level", 1)), "useZlib": cid == "zlib"}
    if cid == "bz2":
        return {"type": "bzip2", "blockSize": int(config.get("level", 1))}
    if cid == "lzma":
        xz = config.get("format", 1) == 1 and config.get("check", -1) in (-1, 4)
        if not xz or config.get("filters") is not None:
            raise ValueError(
                "N5 stores LZMA only as xz with default checks and no custom filters "
                f"(LZMA(format=1)); got {config!r}"
            )
        preset = config.get("preset")
        return {"type": "xz", "preset": 6 if preset is None else int(preset)}
    if cid == "lz4":
        return {"type": "lz4", "acceleration": int(config.get("acceleration", 1))}
    if cid == "zstd":
        if config.get("checksum"):
            raise ValueError("N5 zstd compression has no checksum option: use Zstd(checksum=False)")
        return {"type": "zstd", "level": int(config.get("level", 0))}
    raise ValueError(
        f"N5 has no compression for the codec {cid!r}; use Blosc, GZip, Zlib, BZ2, "
        "LZMA (xz), LZ4, Zstd or no compressor"
    )


def compression_from_n5(comp: Any, key: str = ATTRS_FILE) -> dict | None:
    """numcodecs configuration (None for raw) for an N5 ``compression`` member.

    >>> compression_from_n5({'type': 'xz', 'preset': 3})['preset']
    3
    """
    if not isinstance(comp, dict) or "type" not in comp:
        raise MetadataError(f"N5 attributes at {key!r} have a bad 'compression': {comp!r}")
    kind = comp["type"]
    if kind == "raw":
        return None
    if kind == "gzip":
        level = int(comp.get("level", -1))
        return {"id": "zlib" if comp.get("useZlib") else "gzip", "level": level}
    if kind == "bzip2":
        return {"id": "bz2", "level": int(comp.get("blockSize", 9))}
    if kind == "xz":
        return {
            "id": "lzma",
            "format": 1,
            "check": -1,
            "preset": int(comp.get("preset", 6)),
            "filters": None,
        }
    if kind == "blosc":
        return {
            "id": "blosc",
            "cname": comp.get("cname", "lz4"),
            "clevel": int(comp.get("clevel", 5)),
            "shuffle": int(comp.get("shuffle", 1)),
            "blocksize": int(comp.get("blocksize", 0)),
        }
    if kind == "lz4":
        return {"id": "lz4", "acceleration": int(comp.get("acceleration", 1))}
    if kind == "zstd":
        return {"id": "zstd", "level": int(comp.get("level", 0))}
    raise MetadataError(f"N5 compression {kind!r} at {key!r} is not supported by zarrkit")


# -- array attributes <-> records ----------------------------------------------------------


def is_array_attrs(attrs: dict | None) -> bool:
    """True when N5 attributes describe a dataset (they hold ``dimensions``)."""
    return bool(attrs) and "dimensions" in attrs  # type: ignore[operator]


def user_attrs(attrs: dict | None) -> dict:
    """The user's part of N5 attributes (everything but the N5 keywords)."""
    return {k: v for k, v in (attrs or {}).items() if k not in N5_KEYWORDS}


def _n5_data_type(dtype: np.dtype) -> str:
    name = dtype.name if dtype.kind in "uif" else ""
    if name not in _DATA_TYPES:
        raise ValueError(
            f"N5 cannot store the data type {dtype.str!r}; it supports {', '.join(_DATA_TYPES)}"
        )
    return name


def encode_array_attrs(meta: ArrayMeta) -> dict:
    """The N5 keywords of a dataset for a record (axes reversed; no ``"n5"`` member).

    N5 has no fill value (blocks not stored read as 0), keeps items in C order of its reversed
    axes and has no filters, so a record must have fill value 0 or None, order 'C' and no
    filters.
    """
    if meta.ndim == 0:
        raise ValueError("N5 datasets need at least one dimension")
    dtype_name = _n5_data_type(meta.dtype)
    fill = meta.fill_value
    if fill is not None and not (np.ndim(fill) == 0 and fill == 0):
        raise ValueError(f"N5 only supports fill_value=0 (or None), got {fill!r}")
    if meta.order != "C":
        raise ValueError(f"N5 only supports order='C', got {meta.order!r}")
    if meta.filters:
        raise ValueError("N5 does not support filters")
    return {
        "dimensions": list(meta.shape[::-1]),
        "blockSize": list(meta.chunks[::-1]),
        "dataType": dtype_name,
        "compression": compression_to_n5(meta.compressor, meta.dtype),
    }


def decode_array_attrs(attrs: dict, key: str = ATTRS_FILE) -> ArrayMeta:
    """The record of a dataset, as zarrkit sees it: C order of the reversed axes, fill value
    0, ``'.'`` between chunk indices and an :class:`N5ChunkWrapper` compressor."""
    missing = [k for k in ("dimensions", "blockSize", "dataType", "compression") if k not in attrs]
    if missing:
        raise MetadataError(f"N5 attributes at {key!r} are missing {', '.join(missing)}")
    try:
        shape = tuple(int(d) for d in attrs["dimensions"])[::-1]
        chunks = tuple(int(b) for b in attrs["blockSize"])[::-1]
    except (TypeError, ValueError):
        raise MetadataError(f"N5 attributes at {key!r} have bad 'dimensions'/'blockSize'") from None
    if len(shape) != len(chunks) or any(c <= 0 for c in chunks) or any(s < 0 for s in shape):
        raise MetadataError(f"N5 attributes at {key!r} have bad 'dimensions'/'blockSize'")
    if attrs["dataType"] not in _DATA_TYPES:
        raise MetadataError(f"N5 data type {attrs['dataType']!r} at {key!r} is not supported")
    dtype = np.dtype(attrs["dataType"])
    inner = compression_from_n5(attrs["compression"], key)
    wrapper = {
        "id": N5ChunkWrapper.codec_id,
        "compressor_config": inner,
        "dtype": dtype.str,
        "chunk_shape": list(chunks),
    }
    return ArrayMeta(
        shape=shape,
        chunks=chunks,
        dtype=dtype,
        fill_value=dtype.type(0),
        order="C",
        compressor=wrapper,
        filters=None,
        dimension_separator=".",
    )


# -- blocks --------------------------------------------------------------------------------


def encode_block_header(shape: tuple[int, ...]) -> bytes:
    """Header of a default-mode block whose items have ``shape`` (zarrkit's axis order)."""
    return struct.pack(f">HH{len(shape)}I", _MODE_DEFAULT, len(shape), *shape[::-1])


def decode_block_header(buf: Any) -> tuple[tuple[int, ...], int, int | None]:
    """``(shape in zarrkit's axis order, header length, element count or None)`` of a block."""
    view = memoryview(buf).cast("B")
    if len(view) < 4:
        raise ValueError("N5 block is shorter than its header")
    mode, ndim = struct.unpack_from(">HH", view, 0)
    end = 4 + 4 * ndim
    if len(view) < end:
        raise ValueError("N5 block is shorter than its header")
    shape = struct.unpack_from(f">{ndim}I", view, 4)[::-1]
    if mode == _MODE_DEFAULT:
        return tuple(shape), end, None
    if mode == _MODE_VARLENGTH:
        if len(view) < end + 4:
            raise ValueError("N5 block is shorter than its header")
        (count,) = struct.unpack_from(">I", view, end)
        return tuple(shape), end + 4, count
    raise ValueError(f"N5 block mode {mode} (object blocks) is not supported")


class N5ChunkWrapper(Codec):
    """A chunk as an N5 block: block header, big-endian items, inner compressor.

    ``decode`` returns the full chunk; a truncated edge block is padded with zeros.
    ``encode`` writes a block of the shape of the array it is given.

    >>> import numpy as np
    >>> codec = N5ChunkWrapper('<u2', (2, 3))
    >>> block = codec.encode(np.arange(6, dtype='<u2').reshape(2, 3))
    >>> block[:16].hex()
    '00000002000000030000000200000001'
    >>> codec.decode(block)[1]
    array([3, 4, 5], dtype=uint16)
    """

    # not zarr 2's "n5_wrapper": both register with numcodecs, and whichever module is
    # imported last would otherwise decide which class zarrkit's arrays get
    codec_id = "zarrkit.n5_wrapper"

    def __init__(
        self,
        dtype: Any,
        chunk_shape: Any,
        compressor_config: dict | None = None,
        compressor: Codec | None = None,
    ) -> None:
        self.dtype = np.dtype(dtype)
        self.chunk_shape = tuple(int(c) for c in chunk_shape)
        if compressor is not None:
            if compressor_config is not None:
                raise ValueError("give compressor_config or compressor, not both")
            compressor_config = compressor.get_config()
        if compressor_config is None or compressor_config.get("id") == "raw":
            self._compressor: Codec | None = None
            self.compressor_config: dict | None = None
        else:
            self._compressor = numcodecs.get_codec(dict(compressor_config))
            self.compressor_config = self._compressor.get_config()
        self._big = self.dtype.newbyteorder(">")
        self._swap = self.dtype.itemsize > 1 and self._big != self.dtype

    def get_config(self) -> dict:
        return {
            "id": self.codec_id,
            "compressor_config": self.compressor_config,
            "dtype": self.dtype.str,
            "chunk_shape": list(self.chunk_shape),
        }

    def __repr__(self) -> str:
        inner = self._compressor if self._compressor is not None else "raw"
        return f"{type(self).__name__}(dtype={self.dtype.str!r}, chunk_shape={self.chunk_shape}, compressor={inner!r})"

    def encode(self, buf: Any) -> bytes:
        """A chunk (an ndarray; a flat buffer is taken as one full chunk) -> an N5 block."""
        arr = buf if isinstance(buf, np.ndarray) else np.frombuffer(buf, dtype=self.dtype)
        if arr.ndim <= 1 and len(self.chunk_shape) != 1 and arr.size == _prod(self.chunk_shape):
            arr = arr.reshape(self.chunk_shape)
        big = np.ascontiguousarray(arr, dtype=self._big)
        header = encode_block_header(tuple(big.shape))
        if self._compressor is None:
            return header + big.tobytes()
        data = self._compressor.encode(big)
        return header + bytes(memoryview(data).cast("B") if not isinstance(data, bytes) else data)

    def decode(self, buf: Any, out: Any = None) -> Any:
        """An N5 block -> the full chunk (ndarray of the chunk shape), or into ``out``."""
        shape, start, count = decode_block_header(buf)
        n = _prod(shape) if count is None else count
        if count is not None and count != _prod(shape):
            raise ValueError(f"N5 varlength block holds {count} items, its shape {shape}")
        if len(shape) != len(self.chunk_shape) or any(
            s > c for s, c in zip(shape, self.chunk_shape)
        ):
            raise ValueError(f"N5 block of shape {shape} does not fit chunks {self.chunk_shape}")
        payload = memoryview(buf).cast("B")[start:]
        full = shape == self.chunk_shape
        if full and out is not None:
            dest = _flat(out, self.dtype)
            if self._compressor is None:
                dest.view(np.uint8)[...] = np.frombuffer(payload, np.uint8, dest.nbytes)
            else:
                self._compressor.decode(payload, out=dest)
            if self._swap:
                dest.byteswap(inplace=True)
            return out
        raw = payload if self._compressor is None else self._compressor.decode(payload)
        items = np.frombuffer(raw, dtype=self._big, count=n).reshape(shape)
        if full:
            chunk = items.astype(self.dtype)
        else:
            chunk = np.zeros(self.chunk_shape, dtype=self.dtype)
            chunk[tuple(slice(0, s) for s in shape)] = items
        if out is not None:
            _flat(out, self.dtype)[...] = chunk.reshape(-1)
            return out
        return chunk

    def resize_block(self, block: Any, shape: tuple[int, ...]) -> bytes:
        """``block`` re-encoded holding only its first ``shape`` items (a truncated edge
        block); returned as it is when it already has that shape."""
        have, _, _ = decode_block_header(block)
        if tuple(have) == tuple(shape):
            return bytes(block)
        chunk = self.decode(block)
        return self.encode(chunk[tuple(slice(0, s) for s in shape)])


def _prod(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _flat(out: Any, dtype: np.dtype) -> np.ndarray:
    if isinstance(out, np.ndarray):
        flat = out.reshape(-1)
        if flat.dtype != dtype:
            flat = flat.view(dtype)
        return flat
    return np.frombuffer(out, dtype=dtype)


numcodecs.register_codec(N5ChunkWrapper)
