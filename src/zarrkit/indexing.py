"""Selections -> chunk projections.

This module is the only place that does index arithmetic. It sees only the array shape and
the chunk shape, never an array or a store. Every selection kind becomes an *indexer*: an
object with the result ``shape``, the shape of the working buffer the pipeline fills
(``buffer_shape``; it differs from ``shape`` when integer dimensions of an orthogonal
selection are dropped at the end), and an iterable of :class:`ChunkProjection`.

Semantics follow zarr 2, which differ from NumPy on purpose: ``oindex`` is orthogonal
(outer) indexing, ``vindex`` is coordinate (pointwise) or mask indexing.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from ._grid import edge_start, grid_shape, is_edge
from .errors import (
    BoundsCheckError,
    NegativeStepError,
    VindexInvalidSelectionError,
    err_too_many_indices,
)

Shape = tuple[int, ...]


class IndexShapeError(IndexError, ValueError):
    """Coordinate arrays that cannot be broadcast together.

    An ``IndexError`` as in NumPy, and a ``ValueError`` as zarr 2 raised for it.
    """


class ChunkProjection(NamedTuple):
    """How one chunk takes part in a selection.

    ``chunk_selection`` indexes the decoded chunk array; ``out_selection`` indexes the
    working buffer (or the value being written). ``complete`` is True when the selection
    covers every in-bounds item of the chunk in order, so a write needs no read first.
    ``edge`` is True for a chunk that reaches past the array's end (its rest is padding).
    """

    chunk_coords: tuple[int, ...]
    chunk_selection: Any
    out_selection: Any
    complete: bool
    edge: bool = False


# -- normalisation helpers -----------------------------------------------------------------


def is_integer(x: Any) -> bool:
    """An integer index: a Python or NumPy integer, or a 0-d integer array (as in NumPy)."""
    if isinstance(x, np.ndarray):
        return x.ndim == 0 and x.dtype.kind in "iu"
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def normalize_integer(i: Any, dim_len: int) -> int:
    """Wrap a negative index and check bounds."""
    i = int(i)
    if i < 0:
        i += dim_len
    if i < 0 or i >= dim_len:
        raise BoundsCheckError(dim_len, i if i >= 0 else i - dim_len)
    return i


def replace_ellipsis(selection: Any, shape: Shape) -> tuple:
    """Expand ``...`` and pad with full slices to one item per dimension."""
    if not isinstance(selection, tuple):
        selection = (selection,)
    n_ellipsis = sum(1 for s in selection if s is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_ellipsis == 1:
        i = next(i for i, s in enumerate(selection) if s is Ellipsis)
        fill = len(shape) - (len(selection) - 1)
        selection = selection[:i] + (slice(None),) * max(fill, 0) + selection[i + 1 :]
    if len(selection) > len(shape):
        raise err_too_many_indices(selection, shape)
    return tuple(selection) + (slice(None),) * (len(shape) - len(selection))


def _check_slice(sel: slice, dim_len: int) -> tuple[int, int, int]:
    if sel.step is not None and not is_integer(sel.step):
        raise IndexError(f"slice step must be an integer, got {sel.step!r}")
    if sel.step is not None and sel.step < 1:
        if sel.step == 0:
            raise IndexError("slice step cannot be zero")
        raise NegativeStepError()
    for v in (sel.start, sel.stop):
        if v is not None and not is_integer(v):
            raise IndexError(f"slice bounds must be integers or None, got {v!r}")
    return sel.indices(dim_len)


def _as_int_array(sel: Any, dim_len: int) -> np.ndarray:
    """Integer indices as ``intp`` with negatives wrapped and bounds checked (Booleans as is)."""
    arr = np.asarray(sel)
    if arr.dtype.kind == "b":
        return arr
    if arr.size == 0 and arr.dtype.kind not in "iu":
        arr = arr.astype(np.intp)
    if arr.dtype.kind not in "iu":
        raise IndexError(
            f"index arrays must hold integers or Booleans, got dtype {arr.dtype} "
            f"(for example {arr.ravel()[:3].tolist()!r})"
        )
    if arr.dtype.kind == "u" and arr.size and arr.max() >= dim_len:
        # checked before the cast to intp, which would wrap the largest values to negatives
        raise BoundsCheckError(dim_len, int(arr.max()))
    arr = arr.astype(np.intp, copy=False)
    if arr.size:
        neg = arr < 0
        if neg.any():
            arr = np.where(neg, arr + dim_len, arr)
        bad = (arr < 0) | (arr >= dim_len)
        if bad.any():
            first = np.asarray(sel).ravel()[np.flatnonzero(bad.ravel())[0]]
            raise BoundsCheckError(dim_len, int(first))
    return arr


def is_array_like(x: Any) -> bool:
    return isinstance(x, (list, np.ndarray)) or (
        hasattr(x, "shape") and hasattr(x, "dtype") and not np.isscalar(x)
    )


# -- per-dimension indexers ----------------------------------------------------------------


class _DimPart(NamedTuple):
    chunk: int
    chunk_sel: Any  # int, slice or int array
    out_sel: Any  # None (dropped), slice or int array
    complete: bool


class IntDim:
    def __init__(self, sel: Any, dim_len: int, chunk_len: int) -> None:
        self.index = normalize_integer(sel, dim_len)
        self.chunk_len = chunk_len
        self.nitems = 1
        self.dim_len = dim_len

    def parts(self) -> Iterator[_DimPart]:
        c, within = divmod(self.index, self.chunk_len)
        yield _DimPart(c, within, None, self.chunk_len == 1)


class SliceDim:
    def __init__(self, sel: slice, dim_len: int, chunk_len: int) -> None:
        self.start, self.stop, self.step = _check_slice(sel, dim_len)
        self.dim_len, self.chunk_len = dim_len, chunk_len
        # integer arithmetic throughout: float division is wrong past 2**53 items
        self.nitems = max(0, -((self.start - self.stop) // self.step))

    def parts(self) -> Iterator[_DimPart]:
        if self.nitems == 0:
            return
        start, stop, step, cl = self.start, self.stop, self.step, self.chunk_len
        if step > cl:
            # at most one item per chunk: visit the items, not every chunk between them
            for j in range(self.nitems):
                c, within = divmod(start + j * step, cl)
                yield _DimPart(c, slice(within, within + 1), slice(j, j + 1), False)
            return
        last = start + (self.nitems - 1) * step
        for c in range(start // cl, last // cl + 1):
            offset = c * cl
            if start >= offset:
                first = start - offset
            else:
                rem = (offset - start) % step
                first = 0 if rem == 0 else step - rem
            end = min(stop, offset + cl) - offset
            if first >= end:
                continue
            n = -((first - end) // step)
            out_start = (offset + first - start) // step
            in_bounds = min(cl, self.dim_len - offset)
            complete = step == 1 and first == 0 and end >= in_bounds
            yield _DimPart(c, slice(first, end, step), slice(out_start, out_start + n), complete)


class ArrayDim:
    """Orthogonal integer (or Boolean) array along one dimension."""

    def __init__(self, sel: Any, dim_len: int, chunk_len: int) -> None:
        arr = _as_int_array(sel, dim_len)
        if arr.ndim != 1:
            raise IndexError(
                f"orthogonal selection takes 1-D index arrays, got an array of shape {arr.shape}"
            )
        if arr.dtype.kind == "b":
            if arr.shape[0] != dim_len:
                raise IndexError(
                    f"Boolean index array has length {arr.shape[0]}, expected {dim_len}"
                )
            arr = np.flatnonzero(arr)
        self.dim_len, self.chunk_len = dim_len, chunk_len
        self.nitems = arr.shape[0]
        if self.nitems > 1 and np.any(arr[1:] < arr[:-1]):
            self.order: np.ndarray | None = np.argsort(arr, kind="stable")
            arr = arr[self.order]
        else:
            self.order = None
        self.sorted = arr

    def parts(self) -> Iterator[_DimPart]:
        if self.nitems == 0:
            return
        arr, cl = self.sorted, self.chunk_len
        chunks = arr // cl
        bounds = np.flatnonzero(np.diff(chunks)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [arr.shape[0]]))
        for a, b in zip(starts.tolist(), ends.tolist()):
            c = int(chunks[a])
            within = arr[a:b] - c * cl
            out = slice(a, b) if self.order is None else self.order[a:b]
            yield _DimPart(c, within, out, False)


# -- indexers ------------------------------------------------------------------------------


class Indexer:
    """Base: ``shape`` (result), ``buffer_shape`` (working buffer), ``drop_axes``, projections."""

    shape: Shape
    buffer_shape: Shape
    drop_axes: tuple[int, ...] = ()

    def __iter__(self) -> Iterator[ChunkProjection]:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish(self, buffer: np.ndarray) -> np.ndarray:
        """Turn the filled working buffer into the result.

        Trailing dimensions past ``buffer_shape`` (those of a subarray field such as
        ``('i2', (2,))``) are kept as they are.
        """
        if self.drop_axes:
            shape = self.shape + buffer.shape[len(self.buffer_shape) :]
            # only length-1 axes go, so order 'A' keeps a view of either memory order
            return buffer.reshape(shape, order="A") if buffer.size else buffer.reshape(shape)
        return buffer

    def value_for_buffer(self, value: np.ndarray) -> np.ndarray:
        """Shape a value of the result's shape (plus any item dimensions) like the buffer."""
        if self.drop_axes:
            return value.reshape(self.buffer_shape + value.shape[len(self.shape) :])
        return value


class _ProductIndexer(Indexer):
    """Basic and orthogonal selections: the product of per-dimension parts."""

    def __init__(self, dims: list, shape: Shape, chunks: Shape, orthogonal: bool) -> None:
        self.dims = dims
        self.array_shape = shape
        self.chunks = chunks
        self.orthogonal = orthogonal
        self.has_arrays = any(isinstance(d, ArrayDim) for d in dims)
        if self.has_arrays:
            # integers behave as length-1 arrays and their axes are dropped at the end
            self.buffer_shape = tuple(d.nitems for d in dims)
            self.drop_axes = tuple(i for i, d in enumerate(dims) if isinstance(d, IntDim))
            self.shape = tuple(d.nitems for d in dims if not isinstance(d, IntDim))
        else:
            self.shape = tuple(d.nitems for d in dims if not isinstance(d, IntDim))
            self.buffer_shape = self.shape
            self.drop_axes = ()
        self.n_arrays = sum(1 for d in dims if isinstance(d, ArrayDim))

    def __iter__(self) -> Iterator[ChunkProjection]:
        if any(d.nitems == 0 for d in self.dims):
            return
        if not self.dims:
            yield ChunkProjection((), (), (), True)
            return
        has_ints = any(isinstance(d, IntDim) for d in self.dims)
        edges = edge_start(self.array_shape, self.chunks)
        for combo in itertools.product(*(list(d.parts()) for d in self.dims)):
            # one zip transposes the parts (chunk, chunk_sel, out_sel, complete) per field:
            # this loop runs once per chunk, so it avoids per-field generator expressions
            coords, chunk_sel, out_sel, complete = zip(*combo)
            if self.has_arrays:
                chunk_sel, out_sel = self._outer(combo)
            elif has_ints:
                out_sel = tuple(s for s in out_sel if s is not None)
            yield ChunkProjection(coords, chunk_sel, out_sel, all(complete), is_edge(coords, edges))

    def _outer(self, combo: tuple[_DimPart, ...]) -> tuple[Any, Any]:
        chunk_items: list[Any] = []
        out_items: list[Any] = []
        for p in combo:
            if p.out_sel is None:  # integer kept as a length-1 axis
                chunk_items.append(np.array([p.chunk_sel], dtype=np.intp))
                out_items.append(slice(0, 1))
            else:
                chunk_items.append(p.chunk_sel)
                out_items.append(p.out_sel)
        return _ix(chunk_items), _ix(out_items)


def _ix(items: list[Any]) -> tuple:
    """Orthogonal (outer) selection of mixed slices and 1-D arrays, as a NumPy index."""
    if sum(1 for s in items if isinstance(s, np.ndarray)) <= 1:
        return tuple(items)  # NumPy keeps a single index array in place
    expanded = [
        np.arange(s.start or 0, s.stop, s.step or 1) if isinstance(s, slice) else s for s in items
    ]
    return np.ix_(*expanded)


class BasicIndexer(_ProductIndexer):
    """Integers, slices with positive steps and ``...``."""

    def __init__(self, selection: Any, shape: Shape, chunks: Shape) -> None:
        selection = replace_ellipsis(selection, shape)
        dims: list = []
        for sel, n, c in zip(selection, shape, chunks):
            if is_integer(sel):
                dims.append(IntDim(sel, n, c))
            elif isinstance(sel, slice):
                dims.append(SliceDim(sel, n, c))
            else:
                raise IndexError(
                    "unsupported selection item for basic indexing; expected integer or "
                    f"slice, got {type(sel).__name__}: {sel!r}"
                )
        super().__init__(dims, shape, chunks, orthogonal=False)


class OrthogonalIndexer(_ProductIndexer):
    """One of integer, slice, 1-D integer array or 1-D Boolean array per dimension."""

    def __init__(self, selection: Any, shape: Shape, chunks: Shape) -> None:
        selection = replace_ellipsis(selection, shape)
        dims: list = []
        for sel, n, c in zip(selection, shape, chunks):
            if is_integer(sel):
                dims.append(IntDim(sel, n, c))
            elif isinstance(sel, slice):
                dims.append(SliceDim(sel, n, c))
            elif is_array_like(sel):
                dims.append(ArrayDim(sel, n, c))
            else:
                raise IndexError(
                    "unsupported selection item for orthogonal indexing; expected integer, "
                    f"slice, integer array or Boolean array, got {type(sel).__name__}: {sel!r}"
                )
        super().__init__(dims, shape, chunks, orthogonal=True)


class CoordinateIndexer(Indexer):
    """Points given by one integer array per dimension, broadcast together.

    An integer counts as a one-item array, as in zarr 2 and 3: integers alone select one
    point and give an array of shape ``(1,)``, not a scalar.
    """

    def __init__(self, selection: Any, shape: Shape, chunks: Shape) -> None:
        if not isinstance(selection, tuple):
            selection = (selection,)
        if len(selection) != len(shape):
            raise IndexError(
                f"coordinate selection needs one index array per dimension: expected "
                f"{len(shape)}, got {len(selection)}"
            )
        arrays = []
        for sel in selection:
            if not (is_integer(sel) or is_array_like(sel)):
                raise VindexInvalidSelectionError(selection)
            arr = np.asarray(sel).reshape(1) if is_integer(sel) else np.asarray(sel)
            if arr.dtype.kind == "b":
                raise VindexInvalidSelectionError(selection)
            arrays.append(arr)
        try:
            arrays = list(np.broadcast_arrays(*arrays))
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise IndexShapeError(
                f"coordinate arrays of shapes {shapes} cannot be broadcast together"
            ) from None
        self.shape = arrays[0].shape if arrays else ()
        n = int(np.prod(self.shape, dtype=np.int64))
        self.buffer_shape = (n,)
        self.points = [_as_int_array(a.reshape(-1), d) for a, d in zip(arrays, shape)]
        self.array_shape, self.chunks = shape, chunks
        self._n = n

    def finish(self, buffer: np.ndarray) -> np.ndarray:
        return buffer.reshape(self.shape + buffer.shape[1:])

    def value_for_buffer(self, value: np.ndarray) -> np.ndarray:
        return value.reshape(self.buffer_shape + value.shape[len(self.shape) :])

    def __iter__(self) -> Iterator[ChunkProjection]:
        if self._n == 0:
            return
        cdata = grid_shape(self.array_shape, self.chunks)
        edges = edge_start(self.array_shape, self.chunks)
        chunk_idx = [p // c for p, c in zip(self.points, self.chunks)]
        ravel = np.ravel_multi_index(chunk_idx, cdata) if chunk_idx else np.zeros(self._n, np.intp)
        if self._n > 1 and np.any(ravel[1:] < ravel[:-1]):
            order = np.argsort(ravel, kind="stable")
            ravel = ravel[order]
        else:
            order = None
        bounds = np.flatnonzero(np.diff(ravel)) + 1
        starts = np.concatenate(([0], bounds)).tolist()
        ends = np.concatenate((bounds, [self._n])).tolist()
        for a, b in zip(starts, ends):
            idx = slice(a, b) if order is None else order[a:b]
            coords = tuple(int(ci[idx][0]) for ci in chunk_idx)
            chunk_sel = tuple(p[idx] - c * cl for p, c, cl in zip(self.points, coords, self.chunks))
            yield ChunkProjection(coords, chunk_sel, idx, False, is_edge(coords, edges))


class MaskIndexer(CoordinateIndexer):
    """A Boolean array of the array's shape; True items are selected."""

    def __init__(self, selection: Any, shape: Shape, chunks: Shape) -> None:
        if isinstance(selection, tuple):
            if len(selection) != 1:
                raise VindexInvalidSelectionError(selection)
            selection = selection[0]
        mask = np.asarray(selection)
        if mask.dtype.kind != "b":
            raise IndexError(f"mask selection needs a Boolean array, got dtype {mask.dtype}")
        if mask.shape != tuple(shape):
            raise IndexError(
                f"mask has shape {mask.shape}, expected the array's shape {tuple(shape)}"
            )
        super().__init__(tuple(np.nonzero(mask)), shape, chunks)


class BlockIndexer(_ProductIndexer):
    """Whole chunks chosen by chunk index (integers or step-1 slices of chunk indices)."""

    def __init__(self, selection: Any, shape: Shape, chunks: Shape) -> None:
        selection = replace_ellipsis(selection, shape)
        dims: list = []
        for sel, n, c, nblocks in zip(selection, shape, chunks, grid_shape(shape, chunks)):
            if is_integer(sel):
                b = normalize_integer(sel, nblocks)
                dim_sel = slice(b * c, min((b + 1) * c, n))
            elif isinstance(sel, slice):
                if sel.step not in (None, 1):
                    raise IndexError(
                        f"block selection takes slices with step 1 only, got step {sel.step}"
                    )
                if sel.start is not None:
                    # a block range must start at a block (zarr 2); its end is clipped
                    normalize_integer(sel.start, nblocks)
                start, stop, _ = _check_slice(sel, nblocks)
                dim_sel = slice(start * c, min(stop * c, n)) if stop > start else slice(0, 0)
            else:
                raise IndexError(
                    "unsupported selection item for block indexing; expected integer or "
                    f"slice, got {type(sel).__name__}: {sel!r}"
                )
            dims.append(SliceDim(dim_sel, n, c))
        super().__init__(dims, shape, chunks, orthogonal=False)


# -- dispatch helpers ----------------------------------------------------------------------


def is_basic_selection(selection: Any) -> bool:
    items = selection if isinstance(selection, tuple) else (selection,)
    return all(is_integer(s) or isinstance(s, slice) or s is Ellipsis for s in items)


def _index_array(x: Any) -> np.ndarray | None:
    """``x`` as an array if it is a list or ndarray (any nesting) of integers or Booleans."""
    if isinstance(x, list):
        try:
            arr = np.asarray(x)
        except ValueError:  # ragged
            return None
        if arr.size == 0:  # empty lists ([], [[]]) select nothing, as in NumPy
            arr = arr.astype(np.intp)
    elif isinstance(x, np.ndarray):
        arr = x
    else:
        return None
    return arr if arr.ndim > 0 and arr.dtype.kind in "iub" else None


def _is_int_array(x: Any) -> bool:
    arr = _index_array(x)
    return arr is not None and arr.dtype.kind in "iu"


def is_pure_fancy(selection: Any, ndim: int) -> bool:
    """True for a selection that ``z[...]`` treats as coordinate (or mask) selection.

    As in zarr 2: one integer array per dimension, integers allowed, at least one array;
    on a 1-D array also a bare integer or Boolean array. A Boolean array with the array's
    number of dimensions is a mask selection, as in NumPy.
    """
    if not isinstance(selection, tuple):
        arr = _index_array(selection)
        return arr is not None and (ndim == 1 or (arr.dtype.kind == "b" and arr.ndim == ndim))
    if len(selection) != ndim:
        return False
    return all(is_integer(e) or _is_int_array(e) for e in selection) and any(
        _is_int_array(e) for e in selection
    )


def getitem_kind(selection: Any, ndim: int) -> str:
    """How ``z[selection]`` reads or writes: ``'basic'``, ``'vindex'`` or ``'oindex'``.

    Index arrays fall back to orthogonal selection only where NumPy would give the same
    result and every dimension is named: a lone array, or one array per tuple whose other
    items are integers and slices. Arrays mixed with ``...``, with missing dimensions, or
    several arrays next to slices raise ``IndexError`` (NumPy would broadcast the arrays
    together): ``z.oindex`` and ``z.vindex`` say which is meant.
    """
    if is_basic_selection(selection):
        return "basic"
    if is_pure_fancy(selection, ndim):
        return "vindex"
    if not isinstance(selection, tuple):
        return "oindex"
    n_arrays = sum(1 for s in selection if is_array_like(s))
    implicit = len(selection) < ndim or any(s is Ellipsis for s in selection)
    if n_arrays and implicit:
        raise IndexError(
            "index arrays cannot be combined with implicit slicing ('...' or missing "
            "dimensions) in z[...]: name every dimension, or use z.oindex[...] or z.vindex[...]"
        )
    if n_arrays > 1:
        raise IndexError(
            "several index arrays next to slices are ambiguous in z[...] (NumPy broadcasts "
            "them together): use z.oindex[...] for outer or z.vindex[...] for pointwise selection"
        )
    return "oindex"


def is_mask_selection(selection: Any) -> bool:
    """A single Boolean array (checked against the shape by :class:`MaskIndexer`)."""
    if isinstance(selection, tuple):
        if len(selection) != 1:
            return False
        selection = selection[0]
    arr = _index_array(selection)
    return arr is not None and arr.dtype.kind == "b"


def pop_fields(selection: Any) -> tuple[Any, Any]:
    """Split field names (for structured dtypes) from a selection."""
    if isinstance(selection, str):
        return selection, ()
    if isinstance(selection, list) and selection and all(isinstance(s, str) for s in selection):
        return selection, ()
    if not isinstance(selection, tuple):
        return None, selection
    fields: list[str] = []
    rest = []
    for s in selection:
        if isinstance(s, str):
            fields.append(s)
        elif isinstance(s, list) and s and all(isinstance(x, str) for x in s):
            fields.extend(s)
        else:
            rest.append(s)
    out_fields: Any = None if not fields else (fields[0] if len(fields) == 1 else fields)
    rest_sel: Any = rest[0] if len(rest) == 1 else tuple(rest)
    return out_fields, rest_sel


def normalize_fields(fields: Any) -> Any:
    """``fields`` checked: None, one field name, or a list of names (an empty list is None)."""
    if fields is None or isinstance(fields, str):
        return fields
    if isinstance(fields, list | tuple) and all(isinstance(f, str) for f in fields):
        return list(fields) or None
    raise IndexError(f"fields must be a field name or a list of field names, got {fields!r}")


def check_fields(fields: Any, dtype: np.dtype) -> np.dtype:
    """The dtype of a selection of ``fields`` from ``dtype`` (``dtype`` itself for None)."""
    if fields is None:
        return dtype
    if dtype.names is None:
        raise IndexError(f"invalid 'fields' argument, array does not have any fields: {fields!r}")
    names = [fields] if isinstance(fields, str) else list(fields)
    for f in names:
        if not isinstance(f, str):
            raise IndexError(f"field names must be strings, got {f!r}")
        if f not in dtype.names:
            raise IndexError(f"no field of name {f!r}; fields are {list(dtype.names)!r}")
    if isinstance(fields, str):
        return dtype[fields]
    return np.dtype([(f, dtype[f]) for f in names])


def check_set_fields(fields: Any, dtype: np.dtype) -> Any:
    """The field selection of a write: None (all), or one field name.

    As in NumPy, a value cannot be assigned to several fields at once; a one-item list
    is its only name and an empty list selects every field.
    """
    fields = normalize_fields(fields)
    if isinstance(fields, list):
        if len(fields) > 1:
            raise IndexError(
                f"a value can be assigned to one field at a time, got fields {list(fields)!r}"
            )
        fields = fields[0]
    check_fields(fields, dtype)
    return fields


# -- zarr 2's helper names -----------------------------------------------------------------
# zarr 2 code (and its test suite) imports these from ``zarr.indexing``.


def normalize_integer_selection(dim_sel: Any, dim_len: int) -> int:
    """``dim_sel`` as an in-bounds non-negative index (zarr 2's name)."""
    return normalize_integer(dim_sel, dim_len)


def _outer_indices(a_shape: Shape, selection: Any) -> tuple[list[np.ndarray], list[int]]:
    """Orthogonal selection as one index array per dimension, and the integer axes."""
    selection = replace_ellipsis(selection, a_shape)
    indices: list[np.ndarray] = []
    int_axes: list[int] = []
    for axis, (sel, n) in enumerate(zip(selection, a_shape)):
        if is_integer(sel):
            indices.append(np.array([normalize_integer(sel, n)], dtype=np.intp))
            int_axes.append(axis)
        elif isinstance(sel, slice):
            indices.append(np.arange(*_check_slice(sel, n), dtype=np.intp))
        else:
            arr = _as_int_array(sel, n)
            indices.append(np.flatnonzero(arr) if arr.dtype.kind == "b" else arr)
    return indices, int_axes


def oindex(a: np.ndarray, selection: Any) -> np.ndarray:
    """Orthogonal (outer) selection of a NumPy array, as ``z.oindex[selection]`` gives it."""
    indices, int_axes = _outer_indices(a.shape, selection)
    result = a[np.ix_(*indices)] if indices else a[()]
    return result.squeeze(axis=tuple(int_axes)) if int_axes else result


def oindex_set(a: np.ndarray, selection: Any, value: Any) -> None:
    """Orthogonal (outer) assignment to a NumPy array, as ``z.oindex[selection] = value``."""
    indices, int_axes = _outer_indices(a.shape, selection)
    value = np.asarray(value)
    if int_axes and value.ndim:
        value = np.expand_dims(value, tuple(int_axes))
    a[np.ix_(*indices) if indices else ()] = value


def make_slice_selection(selection: Any) -> list:
    """Each integer (or one-item integer array) of ``selection`` as a one-item slice."""
    out: list = []
    for sel in selection:
        if is_integer(sel):
            out.append(slice(int(sel), int(sel) + 1, 1))
        elif isinstance(sel, np.ndarray) and sel.dtype.kind in "iu":
            if sel.size != 1:
                raise IndexError(f"an index array of {sel.size} items is not a slice")
            i = int(sel.reshape(-1)[0])
            out.append(slice(i, i + 1, 1))
        else:
            out.append(sel)
    return out


class PartialChunkIterator:
    """Contiguous runs (in C order) of a chunk of ``arr_shape`` covered by ``selection``.

    ``selection`` holds integers and slices (missing trailing dimensions are whole). Each
    item is ``(start, nitems, region)``: the flat offset of the run's first item, its
    length, and the run as one slice per dimension up to the one the run starts in (the
    whole dimensions after it are implied). This is what a codec that can decompress part
    of a chunk (zarr 2's ``partial_decompress``) needs.

    >>> list(PartialChunkIterator((slice(1, 3), slice(None)), (4, 5)))
    [(5, 10, (slice(1, 3, 1),))]
    """

    def __init__(self, selection: Any, arr_shape: Shape) -> None:
        arr_shape = tuple(arr_shape)
        ranges = []
        for sel, n in zip(replace_ellipsis(selection, arr_shape), arr_shape):
            if is_integer(sel):
                i = normalize_integer(sel, n)
                ranges.append(range(i, i + 1))
            elif isinstance(sel, slice):
                ranges.append(range(*_check_slice(sel, n)))
            else:
                raise IndexError(f"partial chunk selections take integers and slices, got {sel!r}")
        whole = [r.start == 0 and r.stop == n and r.step == 1 for r, n in zip(ranges, arr_shape)]
        # the run starts in the last dimension that is not whole (the first if all are):
        # it covers that dimension's range if its step is 1, else only the dimensions after
        last = max((d for d, w in enumerate(whole) if not w), default=0)
        run_dim = last if not ranges or ranges[last].step == 1 else last + 1
        self.ranges = ranges
        self.run_dim = run_dim
        # the run's own slice is named only for the dimension it starts in part way
        self.named = run_dim == last and bool(ranges)
        self.strides = [math.prod(arr_shape[d + 1 :]) for d in range(len(arr_shape))]
        self.nitems = math.prod(len(r) for r in ranges[run_dim:]) * math.prod(
            arr_shape[len(ranges) :]
        )

    def __iter__(self) -> Iterator[tuple[int, int, tuple[slice, ...]]]:
        ranges, run_dim = self.ranges, self.run_dim
        if any(len(r) == 0 for r in ranges):
            return
        tail: tuple[slice, ...] = ()
        first_run = 0
        if self.named:
            r = ranges[run_dim]
            tail = (slice(r.start, r.start + len(r), 1),)
            first_run = r.start * self.strides[run_dim]
        for lead in itertools.product(*ranges[:run_dim]):
            start = first_run + sum(i * s for i, s in zip(lead, self.strides))
            yield start, self.nitems, tuple(slice(i, i + 1, 1) for i in lead) + tail
