"""Format-neutral metadata records.

Everything past the format translators (``formats.v2``) works with these frozen records,
never with loose JSON dicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from .._grid import grid_shape


@dataclass(frozen=True, eq=False)
class ArrayMeta:
    """What an array is: shape, chunk grid, dtype, fill value, layout and codecs.

    ``compressor`` and ``filters`` are numcodecs configurations (``{"id": ..., ...}``), kept
    exactly as stored so that metadata round-trips byte for byte.

    Zarr v3 (``zarr_format=3``, read and written by ``formats.v3``) keeps its codec list as
    stored in ``codecs`` and states the same chain in the v2 terms the pipeline works with:
    ``filters`` (array-to-array codecs), ``compressor`` (the bytes-to-bytes codecs), ``order``
    (a transpose) and the dtype's byte order (the ``bytes`` codec). With sharding,
    ``shards`` is the shard shape (the stored unit: one key per shard) and ``chunks`` the
    inner chunk shape, as zarr-python 3 names them. ``chunk_key_encoding`` is ``"v2"``
    (``0.0``) or ``"default"`` (``c/0/0``).
    """

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: np.dtype
    fill_value: Any = None
    order: Literal["C", "F"] = "C"
    compressor: dict | None = None
    filters: tuple[dict, ...] | None = None
    dimension_separator: str | None = None
    zarr_format: int = 2
    extra: dict = field(default_factory=dict)
    codecs: tuple[dict, ...] | None = None
    chunk_key_encoding: Literal["v2", "default"] = "v2"
    shards: tuple[int, ...] | None = None
    dimension_names: tuple[str | None, ...] | None = None

    def __post_init__(self) -> None:
        # hold codec configs in their JSON form (lists, not tuples; Python numbers), so that a
        # record made from ``codec.get_config()`` equals the one read back from .zarray
        if self.compressor is not None:
            object.__setattr__(self, "compressor", _as_json_value(self.compressor))
        if self.filters is not None:
            object.__setattr__(self, "filters", tuple(_as_json_value(f) for f in self.filters))
        if self.codecs is not None:
            # v3 codecs in their JSON form too, but in their own key order (zarr.json keeps it)
            object.__setattr__(self, "codecs", tuple(_as_json_ordered(c) for c in self.codecs))

    @classmethod
    def _stored(
        cls,
        shape: tuple[int, ...],
        chunks: tuple[int, ...],
        dtype: np.dtype,
        fill_value: Any,
        order: Literal["C", "F"],
        compressor: dict | None,
        filters: tuple[dict, ...] | None,
        dimension_separator: str | None,
        extra: dict,
    ) -> ArrayMeta:
        """A record from normalised values (tuples of ints, a dtype, a fill value of it):
        when the codec configurations are plain JSON values too, as parsed JSON and most
        ``get_config()`` give them, nothing needs normalising and the dataclass
        ``__init__`` is skipped."""
        fields = dict(
            shape=shape,
            chunks=chunks,
            dtype=dtype,
            fill_value=fill_value,
            order=order,
            compressor=compressor,
            filters=filters,
            dimension_separator=dimension_separator,
            extra=extra,
        )
        if not _plain_codecs(compressor, filters):
            return cls(**fields)
        meta = object.__new__(cls)
        meta.__dict__.update(
            fields,
            zarr_format=2,
            codecs=None,
            chunk_key_encoding="v2",
            shards=None,
            dimension_names=None,
        )
        return meta

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def separator(self) -> str:
        """The separator used between chunk indices in chunk keys."""
        if self.dimension_separator:
            return self.dimension_separator
        return "/" if self.chunk_key_encoding == "default" else "."

    @property
    def stored_chunks(self) -> tuple[int, ...]:
        """The shape of what one key holds: the shard shape, else the chunk shape."""
        return self.shards if self.shards is not None else self.chunks

    @property
    def shard_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The shard shapes, outermost first: ``(shards,)`` for one level of sharding, one
        more per nested ``sharding_indexed`` codec (the ``chunk_shape`` of each but the
        innermost, whose ``chunk_shape`` is ``chunks``); ``()`` when not sharded."""
        if self.shards is None:
            return ()
        shapes = [tuple(self.shards)]
        codecs: Any = self.codecs or ()
        while len(codecs) == 1 and isinstance(codecs[0], dict):
            codec = codecs[0]
            if codec.get("name") != "sharding_indexed":
                break
            config = codec.get("configuration") or {}
            codecs = config.get("codecs") or ()
            nested = len(codecs) == 1 and isinstance(codecs[0], dict)
            if nested and codecs[0].get("name") == "sharding_indexed":
                shapes.append(tuple(config["chunk_shape"]))
        return tuple(shapes)

    @property
    def stored_grid(self) -> tuple[int, ...]:
        """Number of stored keys (shards, else chunks) along each dimension."""
        return grid_shape(self.shape, self.stored_chunks)

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        """Number of chunks along each dimension."""
        return grid_shape(self.shape, self.chunks)

    @property
    def nchunks(self) -> int:
        return math.prod(self.cdata_shape)

    def chunk_key(self, coords: tuple[int, ...]) -> str:
        """The key of a stored chunk (a shard when sharded) relative to the array's path
        (``"0.3"``, ``"0/3"``; Zarr v3's default encoding ``"c/0/3"``, ``"c"`` for 0-d)."""
        if not coords:
            return "c" if self.chunk_key_encoding == "default" else "0"
        return self.key_prefix + self.separator.join(map(str, coords))

    @property
    def key_prefix(self) -> str:
        """What comes before the chunk indices in a chunk key: ``"c/"`` (or ``"c."``) in
        Zarr v3's default encoding, nothing in the v2 encoding."""
        return "c" + self.separator if self.chunk_key_encoding == "default" else ""

    def parse_chunk_key(self, rel: str) -> tuple[int, ...] | None:
        """The coordinates of the stored chunk (the shard, when sharded) whose key relative
        to the array is ``rel`` (the inverse of :meth:`chunk_key`), or None when ``rel`` is
        not the key of a chunk inside the grid (another name, leading zeros, past the edge).

        >>> ArrayMeta(shape=(4, 4), chunks=(2, 2), dtype=np.dtype("i1")).parse_chunk_key("1.0")
        (1, 0)
        """
        sep = self.separator
        if self.chunk_key_encoding == "default":
            if not rel.startswith("c"):
                return None
            rest = rel[1:]
            if self.ndim == 0:
                return () if rest == "" else None
            if not rest.startswith(sep):
                return None
            parts = rest[len(sep) :].split(sep)
        else:
            if self.ndim == 0:
                return () if rel == "0" else None
            parts = rel.split(sep)
        if len(parts) != self.ndim or not all(p.isdigit() and p.isascii() for p in parts):
            return None
        coords = tuple(int(p) for p in parts)
        if self.chunk_key(coords) != rel:  # leading zeros
            return None
        if any(c >= n for c, n in zip(coords, self.stored_grid)):
            return None
        return coords

    def with_shape(self, shape: tuple[int, ...]) -> ArrayMeta:
        return replace(self, shape=tuple(shape))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArrayMeta):
            return NotImplemented
        return (
            self.shape == other.shape
            and self.chunks == other.chunks
            and self.dtype == other.dtype
            and self.order == other.order
            and self.compressor == other.compressor
            and self.filters == other.filters
            and self.dimension_separator == other.dimension_separator
            and self.zarr_format == other.zarr_format
            and self.codecs == other.codecs
            and self.chunk_key_encoding == other.chunk_key_encoding
            and self.shards == other.shards
            and self.dimension_names == other.dimension_names
            and _same_fill(self.fill_value, other.fill_value)
        )


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _plain_codecs(compressor: Any, filters: Any) -> bool:
    """True if the codec configurations are dicts of plain JSON values (nothing to convert)."""
    plain = _PLAIN.issuperset
    if compressor is not None and not (
        type(compressor) is dict and plain(map(type, compressor.values()))
    ):
        return False
    return not filters or all(type(f) is dict and plain(map(type, f.values())) for f in filters)


def _as_json_value(obj: Any) -> Any:
    """``obj`` as JSON gives it back: tuples become lists, NumPy scalars Python ones, and the
    keys of every dict in sorted order (``.zarray`` is written with sorted keys, so a codec
    built from a record shows its nested configurations as one read from the store does)."""
    if type(obj) is dict:
        keys = list(obj)
        if _PLAIN.issuperset(map(type, obj.values())):
            # a codec configuration of plain values: at most its key order to change
            return obj if keys == sorted(keys) else {k: obj[k] for k in sorted(keys)}
    if isinstance(obj, dict):
        return {k: _as_json_value(obj[k]) for k in sorted(obj)}
    if isinstance(obj, (list, tuple)):
        return [_as_json_value(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _as_json_ordered(obj: Any) -> Any:
    """``obj`` as JSON gives it back, keeping the order of dict keys."""
    if isinstance(obj, dict):
        return {k: _as_json_ordered(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_as_json_ordered(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _same_fill(a: Any, b: Any) -> bool:
    """Fill values are the same when they are stored the same (NaN and NaT equal themselves)."""
    if a is None or b is None:
        return a is b
    try:
        x, y = np.asarray(a), np.asarray(b)
        if x.dtype.kind in "fc" and y.dtype.kind in "fc":
            return bool(np.all((x == y) | (np.isnan(x) & np.isnan(y))))
        if x.dtype.kind in "mM" and y.dtype.kind in "mM":
            return bool(np.all((x == y) | (np.isnat(x) & np.isnat(y))))
        if x.dtype.kind == "V" and x.dtype == y.dtype:
            return x.tobytes() == y.tobytes()  # stored as base64 of these bytes
        return bool(np.all(x == y))
    except Exception:
        return a == b


@dataclass(frozen=True)
class GroupMeta:
    """What a group is (only the format version: a v3 group's attributes live with the
    node's attributes, not here)."""

    zarr_format: int = 2
