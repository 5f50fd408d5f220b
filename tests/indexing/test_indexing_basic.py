"""Basic selections (integers, slices, ``...``) checked against NumPy with hypothesis."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import zarrkit

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def array_setups(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """A shape of 0-3 dims (zero lengths allowed), a chunk shape and a memory order."""
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, 11), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, max(n, 1) + 2)) for n in shape)
    order = draw(st.sampled_from(["C", "F"]))
    return shape, chunks, order


def _dim_selection(draw: Any, n: int) -> Any:
    """An integer (negative too) or a slice with positive step and any bounds."""
    choices = ["slice"]
    if n > 0:
        choices.append("int")
    if draw(st.sampled_from(choices)) == "int":
        return draw(st.integers(-n, n - 1))
    bound = st.one_of(st.none(), st.integers(-n - 4, n + 4))
    step = st.one_of(st.none(), st.integers(1, 5))
    return slice(draw(bound), draw(bound), draw(step))


@st.composite
def basic_selections(draw: Any, shape: tuple[int, ...]) -> Any:
    """A basic selection for ``shape``: possibly short, possibly with one ``...``."""
    nitems = draw(st.integers(0, len(shape)))
    items = [_dim_selection(draw, n) for n in shape[:nitems]]
    if draw(st.booleans()):
        # an Ellipsis stands for the dimensions between the leading and the trailing items
        rest = shape[nitems:]
        ntail = draw(st.integers(0, len(rest)))
        tail = [_dim_selection(draw, n) for n in rest[len(rest) - ntail :]]
        items = items + [Ellipsis] + tail
    if len(items) == 1 and draw(st.booleans()):
        return items[0]  # a bare item rather than a 1-tuple
    return tuple(items)


def _make(
    shape: tuple[int, ...], chunks: tuple[int, ...], order: str, written: bool
) -> tuple[zarrkit.Array, np.ndarray]:
    """An array and its NumPy twin, either fully written or left at the fill value."""
    z = zarrkit.full(shape, fill_value=-1, chunks=chunks, dtype="i4", order=order)
    if written:
        a = np.arange(np.prod(shape, dtype=int), dtype="i4").reshape(shape)
        a *= 3  # in place, so that a 0-d array stays an array
        a -= 7
        z[...] = a
    else:
        a = np.full(shape, -1, dtype="i4")
    return z, a


def _assert_same(actual: Any, expected: Any) -> None:
    """Values, shape and dtype equal; a scalar and a 0-d array count as the same shape."""
    assert np.shape(actual) == np.shape(expected)
    assert np.asarray(actual).dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))


@SETTINGS
@given(setup=array_setups(), data=st.data(), written=st.booleans())
def test_get_matches_numpy(setup: Any, data: st.DataObject, written: bool) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, written)
    sel = data.draw(basic_selections(shape), label="selection")
    expected = a[sel]
    _assert_same(z[sel], expected)
    _assert_same(z.get_basic_selection(sel), expected)


@SETTINGS
@given(setup=array_setups(), data=st.data())
def test_get_with_out_matches_numpy(setup: Any, data: st.DataObject) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, written=True)
    sel = data.draw(basic_selections(shape), label="selection")
    expected = np.asarray(a[sel])
    layout = data.draw(st.sampled_from(["C", "F", "strided"]), label="out layout")
    if layout == "strided":
        # a non-contiguous view: every other item of a larger buffer along the last axis
        big_shape = expected.shape[:-1] + (2 * expected.shape[-1],) if expected.ndim else ()
        base = np.full(big_shape, 99, dtype="i4")
        out = base[..., ::2] if expected.ndim else base
    else:
        out = np.full(expected.shape, 99, dtype="i4", order=layout)
    result = z.get_basic_selection(sel, out=out)
    assert result is out
    np.testing.assert_array_equal(out, expected)
    if layout == "strided" and expected.ndim:
        # the items between the view's items are untouched
        assert np.all(base[..., 1::2] == 99)


@st.composite
def values_for(draw: Any, sel_shape: tuple[int, ...]) -> Any:
    """A value to assign: a scalar, or an array or nested list of the selection's shape."""
    kind = draw(st.sampled_from(["scalar", "pyscalar", "array", "list"]))
    size = int(np.prod(sel_shape, dtype=int))
    if kind == "scalar":
        return np.int32(draw(st.integers(-1000, 1000)))
    if kind == "pyscalar":
        return draw(st.integers(-1000, 1000))
    if kind == "array" or not sel_shape or size == 0:
        # (a nested list of an empty selection would lose its shape)
        return np.arange(size, dtype="i4").reshape(sel_shape) + draw(st.integers(100, 200))
    return (np.arange(size, dtype="i8").reshape(sel_shape) - 50).tolist()


@SETTINGS
@given(setup=array_setups(), data=st.data())
def test_values_of_another_shape_are_refused(setup: Any, data: st.DataObject) -> None:
    """As in zarr 2, values are not broadcast (NumPy would): a value of another shape than
    the selection's is a ``ValueError`` and nothing is written."""
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, written=True)
    sel = data.draw(basic_selections(shape), label="selection")
    sel_shape = np.shape(a[sel])
    assume(sel_shape)
    # only the trailing dimension, or an extra leading length-1 dimension
    value = np.arange(sel_shape[-1], dtype="i2")
    if len(sel_shape) == 1 or data.draw(st.booleans()):
        value = value.reshape((1,) * len(sel_shape) + value.shape)
    with pytest.raises(ValueError):
        z[sel] = value
    with pytest.raises(ValueError):
        z.set_basic_selection(sel, value.tolist())
    np.testing.assert_array_equal(z[...], a)


@SETTINGS
@given(setup=array_setups(), data=st.data(), written=st.booleans())
def test_set_matches_numpy(setup: Any, data: st.DataObject, written: bool) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, written)
    for _ in range(data.draw(st.integers(1, 3), label="number of writes")):
        sel = data.draw(basic_selections(shape), label="selection")
        value = data.draw(values_for(np.shape(a[sel])), label="value")
        a[sel] = value
        z[sel] = value
        np.testing.assert_array_equal(z[...], a)
    # a second Array object on the same store sees the same data
    again = zarrkit.Array(z.store)
    np.testing.assert_array_equal(again[...], a)


@SETTINGS
@given(setup=array_setups(), data=st.data())
def test_set_basic_selection_matches_numpy(setup: Any, data: st.DataObject) -> None:
    shape, chunks, order = setup
    z, a = _make(shape, chunks, order, written=False)
    sel = data.draw(basic_selections(shape), label="selection")
    value = data.draw(values_for(np.shape(a[sel])), label="value")
    a[sel] = value
    z.set_basic_selection(sel, value)
    np.testing.assert_array_equal(z.get_basic_selection(Ellipsis), a)


@pytest.mark.parametrize("order", ["C", "F"])
def test_whole_array_and_edge_chunks(order: str) -> None:
    """Edge chunks are partly outside the array; reads and writes there stay in bounds."""
    a = np.arange(7 * 5, dtype="f8").reshape(7, 5)
    z = zarrkit.array(a, chunks=(3, 2), order=order)
    np.testing.assert_array_equal(z[:], a)
    np.testing.assert_array_equal(z[5:, 3:], a[5:, 3:])
    z[6, 4] = -1.0
    a[6, 4] = -1.0
    np.testing.assert_array_equal(z[...], a)
    assert z.nchunks_initialized == z.nchunks == 9


def test_zero_dim_array_selections() -> None:
    """A 0-d array: ``()`` gives a scalar, ``...`` a 0-d array (as zarr 2)."""
    z = zarrkit.zeros((), dtype="i8")
    z[...] = 42
    assert z[()] == 42
    assert isinstance(z[()], np.int64)
    whole = z[...]
    assert isinstance(whole, np.ndarray) and whole.shape == () and whole == 42
    z[()] = np.array(7)
    assert z[()] == 7
    out = np.zeros((), dtype="i8")
    z.get_basic_selection((), out=out)
    assert out == 7


def test_integer_selection_returns_numpy_scalar() -> None:
    a = np.arange(24, dtype="u2").reshape(2, 3, 4)
    z = zarrkit.array(a, chunks=(1, 2, 3))
    v = z[1, -1, 2]
    assert isinstance(v, np.uint16)
    assert v == a[1, -1, 2]
    for i in range(-2, 2):
        np.testing.assert_array_equal(z[i], a[i])


def test_numpy_integer_types_as_indices() -> None:
    a = np.arange(50)
    z = zarrkit.array(a, chunks=7)
    assert z[np.int8(-3)] == a[-3]
    np.testing.assert_array_equal(z[np.uint16(3) : np.int64(40) : np.int32(4)], a[3:40:4])
