"""Normalising user arguments: shapes, chunk shapes, dtypes, orders, codecs."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Literal

import numpy as np
from numcodecs.abc import Codec

from .errors import BadCompressorError

_CHUNK_BASE = 256 * 1024  # sizes are adjusted in steps of this many bytes
_CHUNK_MIN = 128 * 1024  # soft lower bound
_CHUNK_MAX = 64 * 1024 * 1024  # hard upper bound


def normalize_shape(shape: Any) -> tuple[int, ...]:
    """``100`` -> ``(100,)``; checks every length is a non-negative integer."""
    if shape is None:
        raise TypeError("shape is None; give the array's shape, e.g. shape=(100, 100)")
    if type(shape) is int:
        shape = (shape,)
    elif isinstance(shape, numbers.Number):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be an integer or a tuple of integers, got {shape!r}") from None
    out = _whole_numbers(shape, "shape")
    if any(s < 0 for s in out):
        raise ValueError(f"shape must not have negative lengths, got {out!r}")
    return out


_INT = frozenset({int})


def _whole_numbers(values: tuple, what: str) -> tuple[int, ...]:
    """Integers from ``values``; whole floats (``10.0``) are accepted with a warning, as zarr 2."""
    if _INT.issuperset(map(type, values)):  # the common case, without the ABC checks
        return tuple(values)
    out = []
    floats = False
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{what} must hold integers, got {values!r}")
        if not isinstance(v, numbers.Integral):
            if not float(v).is_integer():
                raise TypeError(f"{what} must hold integers, got {v!r} in {values!r}")
            floats = True
        out.append(int(v))  # type: ignore[call-overload]  # a Real that is whole
    if floats:
        warnings.warn(
            f"{what} {values!r} holds floats; they were converted to integers {tuple(out)!r}",
            UserWarning,
            stacklevel=4,
        )
    return tuple(out)


def guess_chunks(shape: tuple[int, ...], typesize: int) -> tuple[int, ...]:
    """A chunk shape of roughly 128 KiB to 64 MiB, scaled with the array's size.

    Halves the dimensions in turn, first to last, until the chunk is below (or within half
    of) a target that grows with the log of the array size: the heuristic HDF5 tools use.

    >>> guess_chunks((10000, 10000), 4)
    (625, 625)
    """
    ndim = len(shape)
    chunks = [float(max(s, 1)) for s in shape]
    total = math.prod(chunks) * typesize
    target = _CHUNK_BASE * 2 ** math.log10(total / 2**20)
    target = min(max(target, _CHUNK_MIN), _CHUNK_MAX)
    axis = 0
    while ndim:
        nbytes = math.prod(chunks) * typesize
        small_enough = nbytes < target or abs(nbytes - target) / target < 0.5
        if (small_enough and nbytes < _CHUNK_MAX) or math.prod(chunks) == 1:
            break
        chunks[axis % ndim] = math.ceil(chunks[axis % ndim] / 2.0)
        axis += 1
    return tuple(int(c) for c in chunks)


def normalize_chunks(chunks: Any, shape: tuple[int, ...], typesize: int) -> tuple[int, ...]:
    """Chunk shape from the user's ``chunks`` argument.

    ``True``/``None`` guess, ``False`` means one chunk, an integer applies to every
    dimension, ``None`` or ``-1`` in a dimension means the whole dimension, and missing
    trailing dimensions are whole.
    """
    if (
        type(chunks) is tuple
        and len(chunks) == len(shape)
        and _INT.issuperset(map(type, chunks))
        and (not chunks or min(chunks) > 0)
    ):
        return chunks  # a whole chunk shape of positive ints, as given
    if chunks is None or chunks is True:
        return guess_chunks(shape, typesize)
    if chunks is False:
        return tuple(max(s, 1) for s in shape)
    if isinstance(chunks, numbers.Number):
        chunks = (chunks,) * len(shape)
    try:
        chunks = tuple(chunks)
    except TypeError:
        raise TypeError(
            f"chunks must be an integer, a tuple, True or False, got {chunks!r}"
        ) from None
    if len(chunks) > len(shape):
        raise ValueError(
            f"chunks {chunks!r} have more dimensions ({len(chunks)}) than shape {shape!r}"
        )
    chunks = chunks + tuple(shape[len(chunks) :])
    out = []
    for s, c in zip(shape, chunks):
        if c is None or (isinstance(c, numbers.Integral) and c == -1):
            out.append(max(s, 1))
            continue
        (c,) = _whole_numbers((c,), "chunks")
        if c <= 0:
            raise ValueError(f"chunk lengths must be positive, got {c} in {chunks!r}")
        out.append(int(c))
    return tuple(out)


def normalize_order(order: str) -> Literal["C", "F"]:
    order = str(order).upper()
    if order == "C":
        return "C"
    if order == "F":
        return "F"
    raise ValueError(f"order must be 'C' or 'F', got {order!r}")


def normalize_dimension_separator(sep: str | None) -> str | None:
    if sep in (None, ".", "/"):
        return sep
    raise ValueError(f"dimension_separator must be '.' or '/', got {sep!r}")


def normalize_dtype(dtype: Any, object_codec: Any = None) -> tuple[np.dtype, Any]:
    """Return ``(dtype, object_codec)``; handles the object-array shorthands as zarr 2 does.

    ``str`` (or ``'str'``) is ``object`` + ``VLenUTF8()``, ``bytes`` is ``object`` +
    ``VLenBytes()`` and ``'array:T'`` is ``object`` + ``VLenArray(T)``; an ``object_codec``
    given by the caller wins over the shorthand's codec.
    """
    import numcodecs

    if dtype is str or (isinstance(dtype, str) and dtype == "str"):
        return np.dtype(object), numcodecs.VLenUTF8() if object_codec is None else object_codec
    if dtype is bytes or (isinstance(dtype, str) and dtype == "bytes"):
        return np.dtype(object), numcodecs.VLenBytes() if object_codec is None else object_codec
    if isinstance(dtype, str) and (dtype == "array" or dtype.startswith("array:")):
        inner = dtype[len("array:") :]
        try:
            item = np.dtype(inner) if inner else None
        except TypeError:
            item = None
        if item is None or item.hasobject or item.fields is not None or item.shape:
            raise TypeError(
                f"bad dtype {dtype!r}: 'array:T' needs a NumPy primitive item dtype T, "
                "e.g. 'array:i4' or 'array:f8'"
            )
        if object_codec is None:
            object_codec = numcodecs.VLenArray(inner)
        return np.dtype(object), object_codec
    try:
        out = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"unknown dtype {dtype!r}: {e}") from None
    if out.kind in "mM" and np.datetime_data(out)[0] == "generic":
        raise ValueError(f"datetime and timedelta dtypes need a unit, e.g. 'M8[ns]'; got {out}")
    return out, object_codec


def check_codec(codec: Any, what: str = "compressor") -> None:
    if codec is not None and not isinstance(codec, Codec):
        if what == "compressor":
            raise BadCompressorError(codec)
        raise TypeError(f"bad {what}; expected a numcodecs Codec object, found {codec!r}")
