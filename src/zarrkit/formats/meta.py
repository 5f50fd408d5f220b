"""Format-neutral metadata records.

Everything past the format translators (``formats.v2``) works with these frozen records,
never with loose JSON dicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class ArrayMeta:
    """What an array is: shape, chunk grid, dtype, fill value, layout and codecs.

    ``compressor`` and ``filters`` are numcodecs configurations (``{"id": ..., ...}``), kept
    exactly as stored so that metadata round-trips byte for byte.
    """

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: np.dtype
    fill_value: Any = None
    order: str = "C"
    compressor: dict | None = None
    filters: tuple[dict, ...] | None = None
    dimension_separator: str | None = None
    zarr_format: int = 2
    extra: dict = field(default_factory=dict)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def separator(self) -> str:
        """The separator used between chunk indices in chunk keys."""
        return self.dimension_separator or "."

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        """Number of chunks along each dimension."""
        return tuple(math.ceil(s / c) if c else 0 for s, c in zip(self.shape, self.chunks))

    @property
    def nchunks(self) -> int:
        return math.prod(self.cdata_shape)

    def chunk_key(self, coords: tuple[int, ...]) -> str:
        """The key of a chunk relative to the array's path (``"0.3"`` or ``"0/3"``)."""
        if not coords:
            return "0"
        return self.separator.join(map(str, coords))

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
            and _same_fill(self.fill_value, other.fill_value)
        )


def _same_fill(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    try:
        if np.asarray(a).dtype.kind in "fc" and np.asarray(b).dtype.kind in "fc":
            return bool(np.all((np.asarray(a) == np.asarray(b)) | (np.isnan(a) & np.isnan(b))))
        return bool(np.all(np.asarray(a) == np.asarray(b)))
    except Exception:
        return a == b


@dataclass(frozen=True)
class GroupMeta:
    """What a group is (only the format version in Zarr v2)."""

    zarr_format: int = 2
