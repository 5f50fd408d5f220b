"""Advanced selections checked against NumPy: orthogonal, coordinate, mask, block, fields.

Also: how ``z[...]`` chooses between them, which chunks a selection reads and writes, and
what bad selections raise (with nothing written).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numcodecs.abc import Codec

import zarrkit
from conftest import needs_zarr2
from zarrkit.errors import BoundsCheckError

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Shape = tuple[int, ...]


# -- arrays and their NumPy twins ------------------------------------------------------------


@st.composite
def array_setups(draw: Any, min_len: int = 0) -> tuple[Shape, Shape, str]:
    """A shape of 1-3 dims, a chunk shape and a memory order."""
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(min_len, 10), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, max(n, 1) + 2)) for n in shape)
    order = draw(st.sampled_from(["C", "F"]))
    return shape, chunks, order


def _make(
    shape: Shape, chunks: Shape, order: str, written: str = "all"
) -> tuple[zarrkit.Array, np.ndarray]:
    """An array of distinct values and its NumPy twin.

    ``written`` is 'all' (every chunk stored), 'part' (only the first half of dimension 0
    written, so later chunks are missing and read as the fill value -1) or 'none'.
    """
    z = zarrkit.full(shape, fill_value=-1, chunks=chunks, dtype="i4", order=order)
    a = np.full(shape, -1, dtype="i4")
    values = (np.arange(int(np.prod(shape)), dtype="i4") * 3 + 5).reshape(shape)
    if written == "all":
        a[...] = values
    elif written == "part":
        half = shape[0] // 2
        a[:half] = values[:half]
    if written != "none":
        z[...] = a
    return z, a


def _assert_same(actual: Any, expected: Any) -> None:
    """Shape, dtype and values equal."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)


# -- NumPy references ------------------------------------------------------------------------


def _per_dim(selection: Any, ndim: int) -> list[Any]:
    """One selection item per dimension: ``...`` expanded, missing trailing items as ``:``."""
    items = list(selection) if isinstance(selection, tuple) else [selection]
    # a 0-d integer array is an integer, as in NumPy
    items = [int(s) if isinstance(s, np.ndarray) and s.ndim == 0 else s for s in items]
    if any(s is Ellipsis for s in items):
        i = next(i for i, s in enumerate(items) if s is Ellipsis)
        items[i : i + 1] = [slice(None)] * (ndim - len(items) + 1)
    return items + [slice(None)] * (ndim - len(items))


def _outer_indices(selection: Any, shape: Shape) -> tuple[list[np.ndarray], list[bool]]:
    """Orthogonal selection as 1-D integer arrays for ``np.ix_`` plus which axes are kept."""
    indices, kept = [], []
    for item, n in zip(_per_dim(selection, len(shape)), shape):
        positions = np.arange(n)
        if isinstance(item, (int, np.integer)):
            indices.append(positions[[item]])
            kept.append(False)
        elif isinstance(item, slice):
            indices.append(positions[item])
            kept.append(True)
        else:
            arr = np.asarray(item)
            if arr.dtype == bool:
                indices.append(np.flatnonzero(arr))
            else:
                indices.append(positions[arr.astype(np.intp)])
            kept.append(True)
    return indices, kept


def orthogonal_reference(a: np.ndarray, selection: Any) -> np.ndarray:
    """``a`` indexed by each dimension independently (zarr's ``oindex``)."""
    indices, kept = _outer_indices(selection, a.shape)
    result = a[np.ix_(*indices)]
    return result.reshape([len(i) for i, k in zip(indices, kept) if k])


def orthogonal_assign(a: np.ndarray, selection: Any, value: Any) -> None:
    """``a.oindex[selection] = value`` done with NumPy."""
    indices, kept = _outer_indices(selection, a.shape)
    sel_shape = tuple(len(i) for i, k in zip(indices, kept) if k)
    full = np.broadcast_to(np.asarray(value), sel_shape).reshape([len(i) for i in indices])
    a[np.ix_(*indices)] = full


def coordinate_reference(a: np.ndarray, selection: tuple) -> np.ndarray:
    """NumPy fancy indexing (the arrays broadcast together), except that integers alone
    give a one-item array rather than a scalar, as in zarr 2 and 3."""
    if all(np.ndim(s) == 0 for s in selection):
        return np.asarray(a[selection]).reshape(1)
    return a[selection]


def block_reference(selection: Any, shape: Shape, chunks: Shape) -> tuple[slice, ...]:
    """The slices of ``shape`` covered by a block selection, from the chunk boundaries.

    As in zarr 2, a block slice must start at an existing block (its end is clipped).
    """
    out = []
    for item, n, c in zip(_per_dim(selection, len(shape)), shape, chunks):
        bounds = [(lo, min(lo + c, n)) for lo in range(0, n, c)]
        if isinstance(item, slice) and item.start is not None:
            if not -len(bounds) <= item.start < len(bounds):
                raise IndexError(f"block slice starts outside the {len(bounds)} blocks")
        chosen = [bounds[item]] if isinstance(item, int) else bounds[item]
        out.append(slice(chosen[0][0], chosen[-1][1]) if chosen else slice(0, 0))
    return tuple(out)


# -- selection strategies --------------------------------------------------------------------


def _index_values(draw: Any, n: int, size: int) -> list[int]:
    """``size`` valid indices (negative too) for a dimension of length ``n``."""
    if n == 0:
        return []
    return draw(st.lists(st.integers(-n, n - 1), min_size=size, max_size=size))


def _as_array_like(draw: Any, values: list[Any], kind: str) -> Any:
    """A Python list or an ndarray of a random integer width."""
    if draw(st.booleans()):
        return list(values)
    if kind == "bool":
        return np.array(values, dtype=bool)
    dtypes = ["i8", "i4", "i2", "int8"]
    if all(v >= 0 for v in values):
        dtypes += ["u1", "u8"]
    return np.array(values, dtype=draw(st.sampled_from(dtypes)))


def _orthogonal_item(draw: Any, n: int) -> Any:
    kinds = ["slice", "ints", "bools"] + (["int"] if n > 0 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    if kind == "slice":
        bound = st.one_of(st.none(), st.integers(-n - 3, n + 3))
        return slice(draw(bound), draw(bound), draw(st.one_of(st.none(), st.integers(1, 4))))
    if kind == "ints":
        # unsorted, repeated and negative indices
        values = _index_values(draw, n, draw(st.integers(0 if n == 0 else 1, 7)))
        return _as_array_like(draw, values, "int")
    values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return _as_array_like(draw, values, "bool")


@st.composite
def orthogonal_selections(draw: Any, shape: Shape) -> Any:
    """Any mix of integers, slices, 1-D integer arrays and 1-D Boolean arrays."""
    n_items = draw(st.integers(1, len(shape)))
    items = [_orthogonal_item(draw, n) for n in shape[:n_items]]
    if n_items < len(shape) and draw(st.booleans()):
        items.append(Ellipsis)
    if len(items) == 1 and draw(st.booleans()):
        return items[0]
    return tuple(items)


@st.composite
def coordinate_selections(draw: Any, shape: Shape) -> tuple[Any, ...]:
    """One index per dimension: integers or integer arrays that broadcast together."""
    bshape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=3)))
    items = []
    for n in shape:
        if draw(st.integers(0, 4)) == 0:
            items.append(draw(st.integers(-n, n - 1)))
            continue
        # a shape that broadcasts to bshape: a suffix of it with some lengths set to 1
        own = list(bshape[len(bshape) - draw(st.integers(0, len(bshape))) :])
        own = [1 if draw(st.booleans()) else k for k in own]
        size = int(np.prod(own, dtype=int))
        values = np.array(_index_values(draw, n, size), dtype=np.intp).reshape(own)
        if draw(st.booleans()) and values.size:
            # nested lists (an empty one would lose its shape: [] for (0, 1))
            items.append(values.tolist())
        else:
            items.append(values.astype(draw(st.sampled_from(["i8", "i4", "i2"]))))
    return tuple(items)


@st.composite
def block_selections(draw: Any, shape: Shape, chunks: Shape) -> Any:
    items: list[Any] = []
    for n, c in zip(shape, chunks):
        nblocks = -(-n // c)
        if nblocks and draw(st.booleans()):
            items.append(draw(st.integers(-nblocks, nblocks - 1)))
        else:
            bound = st.one_of(st.none(), st.integers(-nblocks - 2, nblocks + 2))
            items.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1]))))
    items = items[: draw(st.integers(1, len(items)))]
    return items[0] if len(items) == 1 and draw(st.booleans()) else tuple(items)


# -- orthogonal ------------------------------------------------------------------------------


@SETTINGS
@given(setup=array_setups(), data=st.data(), written=st.sampled_from(["all", "part", "none"]))
def test_orthogonal_get_matches_numpy(setup: Any, data: st.DataObject, written: str) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, written)
    sel = data.draw(orthogonal_selections(shape), label="selection")
    expected = orthogonal_reference(a, sel)
    _assert_same(z.get_orthogonal_selection(sel), expected)
    _assert_same(z.oindex[sel], expected)
    out = np.full(expected.shape, 99, dtype="i4", order=data.draw(st.sampled_from("CF")))
    assert z.get_orthogonal_selection(sel, out=out) is out
    _assert_same(out, expected)


@SETTINGS
@given(setup=array_setups(), data=st.data(), written=st.sampled_from(["all", "part"]))
def test_orthogonal_set_matches_numpy(setup: Any, data: st.DataObject, written: str) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, written)
    source = np.arange(a.size, dtype="i4").reshape(shape) + 1000
    for _ in range(data.draw(st.integers(1, 3), label="number of writes")):
        sel = data.draw(orthogonal_selections(shape), label="selection")
        kind = data.draw(st.sampled_from(["values", "scalar", "list"]), label="value kind")
        if kind == "scalar":
            value: Any = data.draw(st.integers(-500, 500))
        else:
            # taken from a source array at the same positions, so that a repeated index
            # receives the same value each time and the outcome does not depend on order
            value = orthogonal_reference(source, sel)
            value = value.tolist() if kind == "list" and value.ndim and value.size else value
        orthogonal_assign(a, sel, value)
        if data.draw(st.booleans()):
            z.set_orthogonal_selection(sel, value)
        else:
            z.oindex[sel] = value
        _assert_same(z[...], a)
        source += 7


@SETTINGS
@given(setup=array_setups(min_len=1), data=st.data())
def test_orthogonal_set_arbitrary_values_unique_indices(setup: Any, data: st.DataObject) -> None:
    """Unsorted negative indices without repeats take arbitrary values in the given order."""
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, "part")
    sel = tuple(
        np.array(data.draw(st.permutations(range(n)))[: data.draw(st.integers(1, n))]) - n
        for n in shape
    )
    value = data.draw(
        st.lists(
            st.integers(-(2**31), 2**31 - 1),
            min_size=int(np.prod([len(s) for s in sel])),
            max_size=int(np.prod([len(s) for s in sel])),
        )
    )
    value = np.array(value, dtype="i4").reshape([len(s) for s in sel])
    orthogonal_assign(a, sel, value)
    z.oindex[sel] = value
    _assert_same(z[...], a)


# -- coordinate and mask ---------------------------------------------------------------------


@SETTINGS
@given(
    setup=array_setups(min_len=1),
    data=st.data(),
    written=st.sampled_from(["all", "part", "none"]),
)
def test_coordinate_get_matches_numpy(setup: Any, data: st.DataObject, written: str) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, written)
    sel = data.draw(coordinate_selections(shape), label="selection")
    expected = coordinate_reference(a, sel)
    _assert_same(z.get_coordinate_selection(sel), expected)
    _assert_same(z.vindex[sel], expected)
    out = np.full(expected.shape, 99, dtype="i4")
    assert z.get_coordinate_selection(sel, out=out) is out
    _assert_same(out, expected)


@SETTINGS
@given(setup=array_setups(min_len=1), data=st.data(), written=st.sampled_from(["all", "part"]))
def test_coordinate_set_matches_numpy(setup: Any, data: st.DataObject, written: str) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, written)
    source = np.arange(a.size, dtype="i4").reshape(shape) - 5000
    for _ in range(data.draw(st.integers(1, 3), label="number of writes")):
        sel = data.draw(coordinate_selections(shape), label="selection")
        if data.draw(st.booleans(), label="scalar value"):
            value: Any = data.draw(st.integers(-500, 500))
        else:
            # a repeated point gets the same value each time, so the result is defined
            value = np.asarray(source[sel])
        a[sel] = value
        if data.draw(st.booleans()):
            z.set_coordinate_selection(sel, value)
        else:
            z.vindex[sel] = value
        _assert_same(z[...], a)
        source += 3


@SETTINGS
@given(setup=array_setups(min_len=1), data=st.data())
def test_coordinate_set_arbitrary_values_unique_points(setup: Any, data: st.DataObject) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, "part")
    flat = data.draw(st.lists(st.integers(0, a.size - 1), unique=True, min_size=1, max_size=a.size))
    sel = np.unravel_index(np.array(flat), shape)
    value = np.array(
        data.draw(st.lists(st.integers(-1000, 1000), min_size=len(flat), max_size=len(flat))),
        dtype="i4",
    )
    a[sel] = value
    z.set_coordinate_selection(sel, value)
    _assert_same(z[...], a)


@SETTINGS
@given(
    setup=array_setups(),
    data=st.data(),
    written=st.sampled_from(["all", "part", "none"]),
)
def test_mask_selection_matches_numpy(setup: Any, data: st.DataObject, written: str) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, written)
    density = data.draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]), label="density")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    mask = rng.random(shape) < density
    _assert_same(z.get_mask_selection(mask), a[mask])
    _assert_same(z.vindex[mask], a[mask])
    out = np.full(a[mask].shape, 99, dtype="i4")
    assert z.get_mask_selection(mask, out=out) is out
    _assert_same(out, a[mask])
    value: Any = np.arange(int(mask.sum()), dtype="i4") - 777
    if data.draw(st.booleans(), label="scalar value"):
        value = -9
    a[mask] = value
    if data.draw(st.booleans()):
        z.set_mask_selection(mask, value)
    else:
        z.vindex[mask] = value
    _assert_same(z[...], a)


# -- blocks ----------------------------------------------------------------------------------


@SETTINGS
@given(setup=array_setups(), data=st.data(), written=st.sampled_from(["all", "part"]))
def test_block_selection_matches_chunk_boundaries(
    setup: Any, data: st.DataObject, written: str
) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, written)
    sel = data.draw(block_selections(shape, chunks), label="selection")
    try:
        region = block_reference(sel, shape, chunks)
    except IndexError:
        with pytest.raises(IndexError):
            z.get_block_selection(sel)
        with pytest.raises(IndexError):
            z.blocks[sel] = 0
        return
    _assert_same(z.get_block_selection(sel), a[region])
    _assert_same(z.blocks[sel], a[region])
    value = np.arange(a[region].size, dtype="i4").reshape(a[region].shape) + 4000
    a[region] = value
    if data.draw(st.booleans()):
        z.set_block_selection(sel, value)
    else:
        z.blocks[sel] = value
    _assert_same(z[...], a)


def test_block_selection_example() -> None:
    a = np.arange(100).reshape(10, 10)
    z = zarrkit.array(a, chunks=(3, 4))
    _assert_same(z.blocks[1], a[3:6])
    _assert_same(z.blocks[-1, 1:], a[9:, 4:])
    _assert_same(z.blocks[..., 2], a[:, 8:])
    z.blocks[0, 0] = 0
    a[:3, :4] = 0
    _assert_same(z[...], a)


# -- z[...] dispatch -------------------------------------------------------------------------


def _dispatch_reference(a: np.ndarray, sel: Any) -> Any:
    """What ``z[sel]`` gives: basic, else coordinate (NumPy fancy), else orthogonal.

    The orthogonal fallback needs every dimension named and at most one index array
    (NumPy would broadcast several); otherwise ``IndexError``, as in zarr 2. A 1-tuple
    is its item.
    """
    if isinstance(sel, tuple) and len(sel) == 1:
        sel = sel[0]
    items = sel if isinstance(sel, tuple) else (sel,)
    if all(isinstance(s, (int, slice)) or s is Ellipsis or np.ndim(s) == 0 for s in items):
        return a[sel]
    if not isinstance(sel, tuple) and a.ndim == 1:
        return a[np.asarray(sel)]
    if (
        isinstance(sel, tuple)
        and len(sel) == a.ndim
        and all(
            isinstance(s, int) or np.asarray(s).dtype.kind in "iu" or np.size(s) == 0 for s in sel
        )
        and any(not isinstance(s, int) for s in sel)
    ):
        return a[sel]
    n_arrays = sum(1 for s in items if isinstance(s, (list, np.ndarray)))
    if isinstance(sel, tuple) and (
        len(sel) < a.ndim or any(s is Ellipsis for s in sel) or n_arrays > 1
    ):
        raise IndexError("index arrays mixed with implicit slicing or with each other")
    return orthogonal_reference(a, sel)


@SETTINGS
@given(setup=array_setups(min_len=1), data=st.data())
def test_getitem_dispatch(setup: Any, data: st.DataObject) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, "all")
    sel = data.draw(
        st.one_of(orthogonal_selections(shape), coordinate_selections(shape)), label="selection"
    )
    try:
        expected = _dispatch_reference(a, sel)
    except IndexError:
        # e.g. integer arrays of different lengths: a coordinate selection that does not
        # broadcast, an error in NumPy too
        with pytest.raises(IndexError):
            z[sel]
        return
    _assert_same(z[sel], expected)


@SETTINGS
@given(setup=array_setups(min_len=1), data=st.data())
def test_setitem_dispatch(setup: Any, data: st.DataObject) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, "all")
    sel = data.draw(
        st.one_of(orthogonal_selections(shape), coordinate_selections(shape)), label="selection"
    )
    # values from a source at the same positions: repeated indices get equal values
    source = np.arange(a.size, dtype="i4").reshape(shape) + 10_000
    try:
        value = _dispatch_reference(source, sel)
    except IndexError:
        with pytest.raises(IndexError):
            z[sel] = 1
        _assert_same(z[...], a)
        return
    reference = _dispatch_reference(np.arange(a.size).reshape(shape), sel)
    # assign through the positions the reference selected
    np.put(a, np.asarray(reference).ravel(), np.asarray(value).ravel())
    z[sel] = value
    _assert_same(z[...], a)


def test_tutorial_dispatch_answers() -> None:
    """``z[[0, 2], [1, 3]]`` is a coordinate selection; ``z[1, [1, 3]]`` broadcasts."""
    a = np.arange(15).reshape(3, 5)
    z = zarrkit.array(a)
    _assert_same(z[[0, 2], [1, 3]], np.array([1, 13]))
    _assert_same(z[[0, 2], [1, 3]], a[[0, 2], [1, 3]])
    _assert_same(z[1, [1, 3]], np.array([6, 8]))
    _assert_same(z[1, [1, 3]], z[[1, 1], [1, 3]])
    z.vindex[[0, 2], [1, 3]] = [-3, -4]
    a[[0, 2], [1, 3]] = [-3, -4]
    _assert_same(z[[0, 2], [1, 3]], np.array([-3, -4]))
    # slices mixed with arrays make the selection orthogonal
    _assert_same(z[[0, 2], 1:4], a[[0, 2], 1:4])
    _assert_same(z[:, [1, 3]], np.array([[-3, 3], [6, 8], [11, -4]]))
    # a Boolean array of the array's shape is a mask, as in NumPy
    mask = a % 4 == 0
    _assert_same(z[mask], a[mask])
    z[mask] = -7
    a[mask] = -7
    _assert_same(z[...], a)
    # 1-D: integer and Boolean arrays
    z1 = zarrkit.array(np.arange(10), chunks=3)
    _assert_same(z1[[7, 1, 1, -1]], np.array([7, 1, 1, 9]))
    _assert_same(z1[np.arange(10) % 3 == 0], np.array([0, 3, 6, 9]))
    _assert_same(z1[[[1, 2], [3, 4]]], np.array([[1, 2], [3, 4]]))


def test_zero_dim_integer_arrays_are_integers() -> None:
    """As in NumPy, a 0-d integer array indexes like the integer it holds."""
    a = np.arange(24).reshape(4, 6)
    z = zarrkit.array(a, chunks=(3, 4))
    i, j = np.array(2), np.array(-1, dtype="i2")
    _assert_same(z[i], a[i])
    _assert_same(z[i, j], a[i, j])
    _assert_same(z[i, [0, 5, 5]], a[i, [0, 5, 5]])
    _assert_same(z.oindex[[3, 0], j], a[[3, 0], j])
    _assert_same(z.vindex[i, [0, 5]], a[i, [0, 5]])
    _assert_same(z.blocks[np.array(1)], a[3:])
    z[i, j] = 100
    a[i, j] = 100
    _assert_same(z[...], a)


try:
    import zarr as _zarr_module
except ImportError:  # pragma: no cover - both test environments have zarr-python
    _zarr_module = None


def _zarr2() -> Any:
    return _zarr_module


DISPATCH_CASES = [
    ([0, 2],),
    (np.array([2, 0, 0]),),
    ([0, 2], [1, 3], 0),
    (1, [1, 3], slice(None)),
    (np.array([[0], [2]]), [1, 3], np.array([[4]])),
    (slice(1, 3), [3, 0], slice(None)),
    (Ellipsis, 1),
    (-1, slice(None, None, 2), 4),
]


@needs_zarr2
@pytest.mark.parametrize("sel", DISPATCH_CASES, ids=repr)
def test_dispatch_agrees_with_zarr2(sel: tuple) -> None:
    """Selections zarr 2 accepts in ``z[...]`` give zarr 2's answers."""
    zarr = _zarr2()
    a = np.arange(60).reshape(3, 4, 5)
    ours, theirs = zarrkit.array(a, chunks=(2, 3, 2)), zarr.array(a, chunks=(2, 3, 2))
    sel = sel[0] if len(sel) == 1 else sel
    _assert_same(ours[sel], theirs[sel])
    try:
        expected = theirs.oindex[sel]
    except IndexError:
        with pytest.raises(IndexError):
            ours.oindex[sel]
    else:
        _assert_same(ours.oindex[sel], expected)


@needs_zarr2
@pytest.mark.parametrize("order", ["C", "F"])
def test_advanced_methods_agree_with_zarr2(order: str) -> None:
    zarr = _zarr2()
    a = np.arange(7 * 6 * 5).reshape(7, 6, 5)
    ours = zarrkit.array(a, chunks=(3, 4, 2), order=order)
    theirs = zarr.array(a, chunks=(3, 4, 2), order=order)
    rng = np.random.default_rng(1)
    osel = ([6, 0, 3, 3, -1], rng.random(6) < 0.5, slice(1, None, 2))
    _assert_same(ours.oindex[osel], theirs.oindex[osel])
    csel = (rng.integers(0, 7, (4, 3)), rng.integers(0, 6, (1, 3)), rng.integers(0, 5, 3))
    _assert_same(ours.vindex[csel], theirs.vindex[csel])
    mask = rng.random(a.shape) < 0.3
    _assert_same(ours.vindex[mask], theirs.vindex[mask])
    for points in [(6, 5, 4), (np.int8(-1), [2], 0), ([[1], [2]], 0, [[4, 3]])]:
        _assert_same(ours.vindex[points], theirs.vindex[points])
        _assert_same(ours.get_coordinate_selection(points), theirs.vindex[points])
    _assert_same(ours.blocks[1:, -1], theirs.blocks[1:, -1])
    for z in (ours, theirs):
        z.oindex[osel] = -1
        z.vindex[csel] = -2
        z.blocks[0, 1, 2] = -3
    _assert_same(ours[...], theirs[...])


# -- structured arrays and fields ------------------------------------------------------------

STRUCT = np.dtype(
    [
        ("foo", "S3"),
        ("bar", "<i4"),
        ("nest", [("x", "<i2"), ("y", "<f8")]),
        ("sub", "<u2", (2, 3)),
    ]
)
FIELDS = ["foo", "bar", "nest", "sub", ["foo", "bar"], ["sub", "nest", "foo"]]


def _struct_array(shape: Shape, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.zeros(shape, dtype=STRUCT)
    a["foo"] = rng.choice([b"a", b"bb", b"ccc", b"dd"], size=shape)
    a["bar"] = rng.integers(-1000, 1000, size=shape)
    a["nest"]["x"] = rng.integers(-100, 100, size=shape)
    a["nest"]["y"] = rng.random(shape)
    a["sub"] = rng.integers(0, 60000, size=shape + (2, 3))
    return a


def _assert_same_struct(actual: Any, expected: Any) -> None:
    """Equal field by field (multi-field views of NumPy keep their offsets, ours are packed)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype.names == expected.dtype.names
    if expected.dtype.names is None:
        _assert_same(actual, expected)
        return
    for name in expected.dtype.names:
        _assert_same_struct(actual[name], expected[name])


def _fields_value(fields: Any, shape: Shape, seed: int) -> np.ndarray:
    """A value for assigning ``fields`` over a selection of ``shape``."""
    src = _struct_array(shape, seed)
    if isinstance(fields, list):
        packed = np.zeros(shape, dtype=[(f, STRUCT[f]) for f in fields])
        for f in fields:
            packed[f] = src[f]
        return packed
    return src[fields]


def _selections_2d(a: np.ndarray) -> dict[str, Any]:
    mask = (np.arange(a.size).reshape(a.shape) % 3) == 1
    return {
        "basic": (slice(1, 5), slice(None, None, 2)),
        "orthogonal": ([4, 0, -1], np.array([True, False, True, True, False])),
        "coordinate": ([[0, 5], [2, 2]], [4, 0]),
        "mask": mask,
        "block": (slice(1, None), 0),
    }


def _reference_get(kind: str, a: np.ndarray, sel: Any, chunks: Shape) -> np.ndarray:
    if kind == "basic":
        return a[sel]
    if kind == "orthogonal":
        return orthogonal_reference(a, sel)
    if kind in ("coordinate", "mask"):
        return a[sel]
    return a[block_reference(sel, a.shape, chunks)]


@pytest.mark.parametrize("fields", FIELDS, ids=repr)
@pytest.mark.parametrize("kind", ["basic", "orthogonal", "coordinate", "mask", "block"])
def test_fields_on_every_method(kind: str, fields: Any) -> None:
    chunks = (4, 2)
    a = _struct_array((6, 5))
    z = zarrkit.array(a, chunks=chunks)
    sel = _selections_2d(a)[kind]
    get = getattr(z, f"get_{kind}_selection")
    expected = _reference_get(kind, a[fields], sel, chunks)
    _assert_same_struct(get(sel, fields=fields), expected)
    # fields named inside the accessor's selection
    fnames = fields if isinstance(fields, list) else [fields]
    accessor = {"orthogonal": z.oindex, "coordinate": z.vindex, "mask": z.vindex}.get(kind)
    if kind == "block":
        accessor = z.blocks
    if accessor is not None:
        full = (*sel, *fnames) if isinstance(sel, tuple) else (sel, *fnames)
        _assert_same_struct(accessor[full], expected)
    # writes change only the named field; several at once are refused, as in NumPy and zarr 2
    item_ndim = len(STRUCT[fields].shape) if isinstance(fields, str) else 0
    value = _fields_value(fields, expected.shape[: expected.ndim - item_ndim], seed=7)
    if isinstance(fields, list):
        with pytest.raises(IndexError):
            getattr(z, f"set_{kind}_selection")(sel, value, fields=fields)
        _assert_same_struct(z[...], a)
        return
    getattr(z, f"set_{kind}_selection")(sel, value, fields=fields)
    view = a[fields]
    if kind == "orthogonal":
        orthogonal_assign(view, sel, value)
    elif kind == "block":
        view[block_reference(sel, a.shape, chunks)] = value
    else:
        view[sel] = value
    _assert_same_struct(z[...], a)


def test_field_names_in_getitem() -> None:
    a = _struct_array((7,))
    z = zarrkit.array(a, chunks=3)
    _assert_same_struct(z["foo"], a["foo"])
    _assert_same_struct(z["nest"], a["nest"])
    _assert_same_struct(z["sub"], a["sub"])
    _assert_same_struct(z[["foo", "bar"]], a[["foo", "bar"]])
    _assert_same_struct(z[["nest", "sub"]], a[["nest", "sub"]])
    _assert_same_struct(z["foo", 0:2], a["foo"][0:2])
    _assert_same_struct(z[1:6:2, "bar"], a["bar"][1:6:2])
    _assert_same_struct(z["sub", 4], a["sub"][4])
    _assert_same_struct(z["foo", "bar"], a[["foo", "bar"]])
    _assert_same_struct(z["nest", [6, 0, 2]], a["nest"][[6, 0, 2]])
    _assert_same_struct(z.vindex[[6, 0], "sub"], a["sub"][[6, 0]])
    _assert_same_struct(z.oindex[[5, 1], ["bar", "sub"]], a[["bar", "sub"]][[5, 1]])
    # a whole record
    record = z[3]
    assert isinstance(record, np.void) and record.tobytes() == a[3].tobytes()
    # writing through field names
    z["bar"] = 5
    a["bar"] = 5
    z["sub", 2] = np.arange(6).reshape(2, 3)
    a["sub"][2] = np.arange(6).reshape(2, 3)
    z["nest", [0, 6]] = np.array([(1, 0.5), (2, 1.5)], dtype=STRUCT["nest"])
    a["nest"][[0, 6]] = np.array([(1, 0.5), (2, 1.5)], dtype=STRUCT["nest"])
    # one field at a time (a one-item list is that field; an empty list is every field)
    z[["foo"], 1:3] = b"zz"
    a["foo"][1:3] = b"zz"
    with pytest.raises(IndexError):
        z[["foo", "bar"], 1:3] = (b"zz", 42)
    with pytest.raises(IndexError):
        z.set_basic_selection(slice(1, 3), (b"zz", 42), fields=["foo", "bar"])
    z.set_basic_selection(0, a[6], fields=[])
    a[0] = a[6]
    _assert_same_struct(z[...], a)
    # field arguments that are not names
    with pytest.raises(IndexError):
        z.get_basic_selection(Ellipsis, fields=slice(None))
    with pytest.raises(IndexError):
        z.get_basic_selection(Ellipsis, fields=["nofield"])


def test_tutorial_fields() -> None:
    a = np.array(
        [(b"aaa", 1, 4.2), (b"bbb", 2, 8.4), (b"ccc", 3, 12.6)],
        dtype=[("foo", "S3"), ("bar", "i4"), ("baz", "f8")],
    )
    z = zarrkit.array(a)
    _assert_same(z["foo"], np.array([b"aaa", b"bbb", b"ccc"], dtype="S3"))
    _assert_same(z.get_basic_selection(slice(0, 2), fields="bar"), np.array([1, 2], "i4"))
    got = z.get_coordinate_selection([0, 2], fields=["foo", "baz"])
    assert got.dtype == np.dtype([("foo", "S3"), ("baz", "<f8")])
    assert got.tolist() == [(b"aaa", 4.2), (b"ccc", 12.6)]


# -- which chunks a selection touches --------------------------------------------------------


class CountingStore(MutableMapping):
    """A dict-backed store that records every read and write."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.getitem_keys: list[str] = []
        self.getitems_calls: list[list[str]] = []
        self.set_keys: list[str] = []
        self.setitems_calls: list[list[str]] = []
        self.deleted: list[str] = []

    def reset(self) -> None:
        for log in (
            self.getitem_keys,
            self.getitems_calls,
            self.set_keys,
            self.setitems_calls,
            self.deleted,
        ):
            log.clear()

    def __getitem__(self, key: str) -> bytes:
        self.getitem_keys.append(key)
        return self.data[key]

    def __setitem__(self, key: str, value: bytes) -> None:
        self.set_keys.append(key)
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        self.deleted.append(key)
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def getitems(self, keys: Any, *, contexts: Any = None) -> dict[str, bytes]:
        """zarr 2's batched read: the values of the keys present."""
        keys = list(keys)
        self.getitems_calls.append(keys)
        return {k: self.data[k] for k in keys if k in self.data}

    def setitems(self, values: Any) -> None:
        self.setitems_calls.append(sorted(values))
        self.data.update(values)

    @property
    def keys_read(self) -> list[str]:
        return self.getitem_keys + [k for call in self.getitems_calls for k in call]

    @property
    def keys_written(self) -> list[str]:
        return self.set_keys + [k for call in self.setitems_calls for k in call]


def _counted(shape: Shape, chunks: Shape, **kwargs: Any) -> tuple[zarrkit.Array, CountingStore]:
    store = CountingStore()
    a = np.arange(int(np.prod(shape)), dtype="i4").reshape(shape)
    z = zarrkit.array(a, chunks=chunks, store=store, **kwargs)
    store.reset()
    return z, store


def _key(*coords: int) -> str:
    return ".".join(map(str, coords))


@pytest.mark.parametrize(
    ("method", "sel", "chunk_keys"),
    [
        # rows 7 and 0 (row chunks 1 and 0), columns 9 and 0 (column chunks 1 and 0)
        ("oindex", ([7, 0], [9, 0]), ["0.0", "0.1", "1.0", "1.1"]),
        # a single point in chunk (2, 3)
        ("oindex", (12, [18]), ["2.3"]),
        # two points, chunks (0, 0) and (3, 3)
        ("vindex", ([1, 19], [2, 19]), ["0.0", "3.3"]),
        ("blocks", (slice(1, 3), 2), ["1.2", "2.2"]),
        ("getitem", ([4, 9], [4, 9]), ["0.0", "1.1"]),
    ],
)
def test_reads_only_the_touched_chunks_in_one_batch(
    method: str, sel: Any, chunk_keys: list[str]
) -> None:
    z, store = _counted((20, 20), (5, 5))
    target = z if method == "getitem" else getattr(z, method)
    target[sel]
    assert store.getitem_keys == []  # no one-key reads
    assert len(store.getitems_calls) == 1
    assert sorted(store.getitems_calls[0]) == chunk_keys
    assert store.keys_written == []


def test_mask_reads_only_the_touched_chunks() -> None:
    z, store = _counted((20, 20), (5, 5))
    mask = np.zeros((20, 20), dtype=bool)
    mask[[0, 3, 19], [19, 0, 19]] = True
    z.vindex[mask]
    assert store.getitem_keys == []
    assert [sorted(c) for c in store.getitems_calls] == [["0.0", "0.3", "3.3"]]


def test_many_points_decode_each_chunk_once() -> None:
    """10,000 random points over 4 chunks: each chunk is fetched and decoded once."""
    CountingCodec.decoded = 0
    z, store = _counted((100, 100), (50, 50), compressor=CountingCodec())
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 100, 10_000), rng.integers(0, 100, 10_000)
    expected = np.arange(10_000, dtype="i4").reshape(100, 100)[rows, cols]
    _assert_same(z.vindex[rows, cols], expected)
    assert sorted(store.keys_read) == ["0.0", "0.1", "1.0", "1.1"]
    assert CountingCodec.decoded == 4
    # the same for an orthogonal selection with unsorted, repeated indices
    CountingCodec.decoded = 0
    store.reset()
    expected = np.arange(10_000, dtype="i4").reshape(100, 100)[np.ix_(rows[:500], cols[:300])]
    _assert_same(z.oindex[rows[:500], cols[:300]], expected)
    assert sorted(store.keys_read) == ["0.0", "0.1", "1.0", "1.1"]
    assert CountingCodec.decoded == 4


@pytest.mark.parametrize(
    "write",
    [
        lambda z: z.set_coordinate_selection(([21, 22, 24], [31, 30, 34]), [1, 2, 3]),
        lambda z: z.vindex.__setitem__(([21, 22], [31, 30]), [1, 2]),
        lambda z: z.oindex.__setitem__(([24, 20], [33, 31]), -5),
        lambda z: z.set_mask_selection(_one_chunk_mask(), 7),
        lambda z: z.__setitem__(([20, 23], [30, 31]), [8, 9]),
    ],
    ids=["coordinate", "vindex", "oindex", "mask", "setitem"],
)
def test_writing_points_touches_only_their_chunk(write: Any) -> None:
    z, store = _counted((40, 40), (5, 5))
    before = dict(store.data)
    write(z)
    key = _key(4, 6)  # rows 20-24, columns 30-34
    assert store.getitem_keys == []
    assert store.getitems_calls == [[key]]
    assert store.keys_written == [key]
    assert store.deleted == []
    assert {k for k in store.data if store.data[k] != before[k]} == {key}


def _one_chunk_mask() -> np.ndarray:
    mask = np.zeros((40, 40), dtype=bool)
    mask[[20, 24], [34, 30]] = True
    return mask


class CountingCodec(Codec):
    """A pass-through codec that counts its decodes (across threads)."""

    codec_id = "zarrkit-test-counting"
    decoded = 0
    _lock = threading.Lock()

    def encode(self, buf: Any) -> bytes:
        return np.ascontiguousarray(buf).tobytes()

    def decode(self, buf: Any, out: Any = None) -> Any:
        with CountingCodec._lock:
            CountingCodec.decoded += 1
        data = np.frombuffer(bytes(buf), dtype="u1")
        if out is not None:
            np.asarray(out).reshape(-1).view("u1")[:] = data
            return out
        return data


numcodecs.register_codec(CountingCodec)


# -- bad input -------------------------------------------------------------------------------


@pytest.fixture
def z35() -> zarrkit.Array:
    return zarrkit.array(np.arange(15).reshape(3, 5), chunks=(2, 2))


@pytest.mark.parametrize(
    "action",
    [
        lambda z: z.vindex[[0, 3], [1, 1]],
        lambda z: z.vindex[[0, 1], [1, -6]],
        lambda z: z.get_coordinate_selection(([0], [5])),
        lambda z: z.set_coordinate_selection(([0], [5]), 1),
        lambda z: z[[0, 7], [0, 1]],
        lambda z: z.oindex[[0, 3], :],
        lambda z: z.oindex[:, [-6]],
        lambda z: z.oindex[3, :],
        lambda z: z.set_orthogonal_selection(([1], [9]), 1),
        lambda z: z.blocks[2],
        lambda z: z.blocks[0, -4],
        # the largest unsigned values must not wrap around to negative indices
        lambda z: z.oindex[np.array([2**64 - 1], dtype="u8"), 0],
        lambda z: z.vindex[np.array([1], dtype="u8"), np.array([2**63], dtype="u8")],
        lambda z: z[np.uint64(2**64 - 1)],
    ],
)
def test_out_of_bounds_raise_bounds_check_error(z35: zarrkit.Array, action: Any) -> None:
    before = z35[...]
    with pytest.raises(BoundsCheckError) as info:
        action(z35)
    assert isinstance(info.value, IndexError)
    _assert_same(z35[...], before)


@pytest.mark.parametrize(
    "action",
    [
        # masks of the wrong shape or dtype
        lambda z: z.get_mask_selection(np.ones((3, 4), dtype=bool)),
        lambda z: z.get_mask_selection(np.ones((3, 5), dtype=int)),
        lambda z: z.get_mask_selection(np.ones((3, 5), dtype=float)),
        lambda z: z.vindex[np.ones((5, 3), dtype=bool)],
        lambda z: z.set_mask_selection(np.ones(15, dtype=bool), 1),
        # coordinate arrays that do not broadcast
        lambda z: z.vindex[[0, 1], [1, 2, 3]],
        lambda z: z.get_coordinate_selection(([[0, 1]], [[1], [2], [3]], [0])),
        # float index arrays
        lambda z: z.vindex[[0.0, 1.0], [1, 2]],
        lambda z: z.oindex[[0.5], :],
        lambda z: z[[1.0, 2.0]],
        lambda z: z.set_orthogonal_selection((np.array([1.0]), 0), 1),
        # 2-D arrays in an orthogonal selection
        lambda z: z.oindex[[[0, 1]], :],
        lambda z: z.get_orthogonal_selection((slice(None), np.zeros((2, 2), dtype=int))),
        lambda z: z.oindex[np.ones((3, 5), dtype=bool)],
        # Boolean arrays of the wrong length
        lambda z: z.oindex[[True, False], :],
        # too many indices, a coordinate selection with too few arrays, step in blocks
        lambda z: z.oindex[0, 0, 0],
        lambda z: z.vindex[[0, 1]],
        lambda z: z.blocks[::2],
        lambda z: z.blocks[[0, 1]],
    ],
)
def test_bad_selections_raise_index_error(z35: zarrkit.Array, action: Any) -> None:
    before = z35[...]
    with pytest.raises(IndexError):
        action(z35)
    _assert_same(z35[...], before)


def test_non_broadcasting_coordinates_are_also_value_errors(z35: zarrkit.Array) -> None:
    """zarr 2 raised ValueError here, NumPy IndexError: both handlers work."""
    with pytest.raises(ValueError):
        z35.vindex[[0, 1], [1, 2, 3]]


@pytest.mark.parametrize(
    "action",
    [
        lambda z: z["nope"],
        lambda z: z[["foo", "nope"]],
        lambda z: z.get_basic_selection(slice(None), fields="nope"),
        lambda z: z.get_orthogonal_selection([0], fields=["bar", "baz"]),
        lambda z: z.get_coordinate_selection([0], fields="x"),
        lambda z: z.get_mask_selection(np.ones(4, dtype=bool), fields="nope"),
        lambda z: z.get_block_selection(0, fields="nope"),
        lambda z: z.set_basic_selection(0, 1, fields="nope"),
        lambda z: z.set_coordinate_selection([0], 1, fields=["bar", "nope"]),
        lambda z: z.__setitem__(("nope", 0), 1),
    ],
)
def test_unknown_fields_raise(action: Any) -> None:
    store = CountingStore()
    z = zarrkit.array(np.zeros(4, dtype=[("foo", "S2"), ("bar", "i4")]), chunks=2, store=store)
    before = dict(store.data)
    with pytest.raises(IndexError, match="nope|baz|'x'"):
        action(z)
    assert store.data == before


def test_fields_on_a_plain_array_raise(z35: zarrkit.Array) -> None:
    with pytest.raises(IndexError):
        z35.get_basic_selection(0, fields="foo")
    with pytest.raises(IndexError):
        z35["foo"]


@pytest.mark.parametrize(
    "action",
    [
        lambda z: z.set_orthogonal_selection(([0, 2], [1, 3]), np.ones((2, 3))),
        lambda z: z.oindex.__setitem__(([0, 2], slice(None)), np.ones((3, 5))),
        lambda z: z.oindex.__setitem__(([0, 1, 2], 1), [1, 2]),
        lambda z: z.set_coordinate_selection(([0, 1], [1, 2]), [1, 2, 3]),
        lambda z: z.vindex.__setitem__(([[0], [1]], [1, 2]), np.ones(4)),
        lambda z: z.set_mask_selection(np.eye(3, 5, dtype=bool), [1, 2, 3, 4]),
        lambda z: z.vindex.__setitem__(np.eye(3, 5, dtype=bool), [1, 2]),
        lambda z: z.set_block_selection((0, 0), np.ones((2, 3))),
        lambda z: z.blocks.__setitem__(slice(1, None), np.ones((3, 5))),
        lambda z: z.__setitem__(([0, 1], [1, 2]), [1, 2, 3]),
        lambda z: z.__setitem__((slice(None), [0, 4]), np.ones((3, 3))),
        lambda z: z.set_basic_selection((slice(0, 2), slice(None)), np.ones((2, 4))),
    ],
)
def test_value_that_does_not_fit_raises_and_writes_nothing(action: Any) -> None:
    store = CountingStore()
    z = zarrkit.array(np.arange(15).reshape(3, 5), chunks=(2, 2), store=store)
    before = dict(store.data)
    store.reset()
    with pytest.raises(ValueError):
        action(z)
    assert store.data == before
    assert store.keys_written == [] and store.deleted == []


def test_fields_value_that_does_not_fit_writes_nothing() -> None:
    store = CountingStore()
    z = zarrkit.array(_struct_array((4,)), chunks=3, store=store)
    before = dict(store.data)
    with pytest.raises(ValueError):
        z.set_orthogonal_selection([0, 3], np.ones((2, 3, 2)), fields="sub")
    with pytest.raises(ValueError):
        z.set_coordinate_selection([0, 3], [1, 2, 3], fields="bar")
    assert store.data == before
