"""zarr 2's selection rules and helper names, checked against NumPy.

``zarrkit.indexing`` also carries the helpers zarr 2 code imports from ``zarr.indexing``
(``oindex``, ``oindex_set``, ``PartialChunkIterator``, ...), and ``z[...]`` follows zarr 2
where it differs from NumPy: index arrays never mix with implicit slicing, values are not
broadcast, and a write names at most one field.
"""

from __future__ import annotations

import collections
import json
import math
from typing import Any

import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarrkit
from zarrkit import indexing as ix
from zarrkit.errors import BoundsCheckError
from zarrkit.storage import Store

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

Shape = tuple[int, ...]


# -- strategies ------------------------------------------------------------------------------


@st.composite
def shapes(draw: Any, max_dims: int = 3) -> Shape:
    return tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=max_dims)))


@st.composite
def slice_or_int(draw: Any, n: int) -> Any:
    if draw(st.booleans()):
        return draw(st.integers(-n, n - 1))
    bound = st.one_of(st.none(), st.integers(-n - 1, n + 1))
    return slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 1, 2, 3])))


@st.composite
def orthogonal_items(draw: Any, shape: Shape) -> tuple:
    items = []
    for n in shape:
        kind = draw(st.sampled_from(["basic", "ints", "bools"]))
        if kind == "basic":
            items.append(draw(slice_or_int(n)))
        elif kind == "ints":
            values = draw(st.lists(st.integers(-n, n - 1), max_size=5))
            items.append(np.array(values, dtype=np.intp) if draw(st.booleans()) else values)
        else:
            items.append(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))))
    return tuple(items)


def outer_reference(a: np.ndarray, selection: tuple) -> np.ndarray:
    """Orthogonal selection done one axis at a time with NumPy ``take``."""
    result = a
    axis = 0
    for sel, n in zip(selection, a.shape):
        if isinstance(sel, slice):
            result = result[(slice(None),) * axis + (sel,)]
            axis += 1
        elif np.ndim(sel) == 0:
            result = np.take(result, int(sel) % n, axis=axis)
        else:
            arr = np.asarray(sel)
            idx = np.flatnonzero(arr) if arr.dtype == bool else arr.astype(np.intp)
            result = np.take(result, idx, axis=axis)
            axis += 1
    return result


# -- oindex / oindex_set ---------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_oindex_matches_a_per_axis_reference(data: st.DataObject) -> None:
    shape = data.draw(shapes())
    a = np.arange(math.prod(shape)).reshape(shape)
    sel = data.draw(orthogonal_items(shape))
    expected = outer_reference(a, sel)
    np.testing.assert_array_equal(ix.oindex(a, sel), expected)
    assert ix.oindex(a, sel).shape == expected.shape
    # the same as an Array's orthogonal selection
    z = zarrkit.array(a, chunks=tuple(max(1, n // 2) for n in shape))
    np.testing.assert_array_equal(z.oindex[sel], expected)


@SETTINGS
@given(data=st.data(), as_list=st.booleans())
def test_oindex_set_matches_array_oindex(data: st.DataObject, as_list: bool) -> None:
    shape = data.draw(shapes())
    sel = data.draw(orthogonal_items(shape))
    a = np.zeros(shape, dtype="i4")
    z = zarrkit.zeros(shape, chunks=tuple(max(1, n // 2) for n in shape), dtype="i4")
    sel_shape = ix.oindex(a, sel).shape
    value: Any = np.arange(math.prod(sel_shape), dtype="i4").reshape(sel_shape) + 1
    if as_list and value.size:
        value = value.tolist()
    # repeated indices: NumPy and zarrkit keep one of the values, compare the unique case
    if any(np.ndim(s) == 1 and len(set(np.asarray(s).tolist())) < len(s) for s in sel):
        value = 7
    ix.oindex_set(a, sel, value)
    z.oindex[sel] = value
    np.testing.assert_array_equal(z[...], a)


def test_oindex_examples() -> None:
    a = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(
        ix.oindex(a, (1, [2, 0], slice(None, None, 3))), [[20, 23], [12, 15]]
    )
    np.testing.assert_array_equal(
        ix.oindex(a, (Ellipsis, [True, False, False, True])), a[..., [0, 3]]
    )
    b = np.zeros((2, 3), dtype=int)
    ix.oindex_set(b, (1, [0, 2]), [5, 6])
    np.testing.assert_array_equal(b, [[0, 0, 0], [5, 0, 6]])


# -- small helpers ---------------------------------------------------------------------------


def test_normalize_integer_selection() -> None:
    assert ix.normalize_integer_selection(3, 10) == 3
    assert ix.normalize_integer_selection(np.int8(-1), 10) == 9
    for bad in (10, -11, 10**6):
        with pytest.raises(BoundsCheckError):
            ix.normalize_integer_selection(bad, 10)


def test_make_slice_selection() -> None:
    a = np.arange(20).reshape(4, 5)
    sel = ix.make_slice_selection((np.uint64(2), np.array([3]), slice(1, 3)))
    assert sel == [slice(2, 3, 1), slice(3, 4, 1), slice(1, 3)]
    assert a[tuple(sel[:2])].shape == (1, 1)
    with pytest.raises(IndexError):
        ix.make_slice_selection((np.array([1, 2]),))


# -- PartialChunkIterator --------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_partial_chunk_iterator_covers_the_selection_in_order(data: st.DataObject) -> None:
    """The runs, in order, are exactly the selected items of a C-order chunk; each run's
    region (with the omitted whole dimensions) holds the run's items."""
    shape = data.draw(shapes(4))
    n_items = data.draw(st.integers(0, len(shape)))
    sel = tuple(data.draw(slice_or_int(n)) for n in shape[:n_items])
    flat = np.arange(math.prod(shape)).reshape(shape)
    basic = tuple(slice(s % n, s % n + 1) if isinstance(s, int) else s for s, n in zip(sel, shape))
    expected = flat[basic].ravel()
    runs = list(ix.PartialChunkIterator(sel, shape))
    covered = [np.arange(start, start + n) for start, n, _ in runs]
    got = np.concatenate(covered) if covered else np.array([], dtype=int)
    np.testing.assert_array_equal(got, expected)
    for start, n, region in runs:
        assert n > 0
        assert all(isinstance(s, slice) and s.step == 1 for s in region)
        np.testing.assert_array_equal(flat[region].ravel(), np.arange(start, start + n))


def test_partial_chunk_iterator_examples() -> None:
    # whole trailing dimensions join the run
    assert list(ix.PartialChunkIterator((slice(1, 3), slice(2, 4)), (4, 6, 10))) == [
        (80, 20, (slice(1, 2, 1), slice(2, 4, 1))),
        (140, 20, (slice(2, 3, 1), slice(2, 4, 1))),
    ]
    # a partial last dimension: one run per row
    assert list(ix.PartialChunkIterator((1, slice(0, 2)), (3, 5))) == [
        (5, 2, (slice(1, 2, 1), slice(0, 2, 1)))
    ]
    # everything: one run
    assert list(ix.PartialChunkIterator((), (3, 5))) == [(0, 15, (slice(0, 3, 1),))]
    # a step: one item per run along that dimension
    assert list(ix.PartialChunkIterator((slice(0, 5, 2),), (5,))) == [
        (0, 1, (slice(0, 1, 1),)),
        (2, 1, (slice(2, 3, 1),)),
        (4, 1, (slice(4, 5, 1),)),
    ]
    with pytest.raises(IndexError):
        list(ix.PartialChunkIterator((0, 0, 0), (3, 5)))


# -- z[...] dispatch -------------------------------------------------------------------------


def test_index_arrays_do_not_mix_with_implicit_slicing() -> None:
    a = np.arange(60).reshape(3, 4, 5)
    z = zarrkit.array(a, chunks=(2, 2, 2))
    for sel in [
        ([0, 1], [1, 2]),
        (Ellipsis, [1, 2]),
        ([0, 1], Ellipsis),
        ([0, 2], slice(None), [1, 3]),
    ]:
        with pytest.raises(IndexError, match="oindex"):
            z[sel]
        with pytest.raises(IndexError, match="oindex"):
            z[sel] = 1
    np.testing.assert_array_equal(z[...], a)
    # every dimension named, one array: orthogonal, the same as NumPy
    np.testing.assert_array_equal(z[[2, 0], 1:3, 4], a[[2, 0], 1:3, 4])
    np.testing.assert_array_equal(z[[2, 0]], a[[2, 0]])
    # explicit accessors take what z[...] refuses
    np.testing.assert_array_equal(z.oindex[..., [1, 2]], a[..., [1, 2]])
    np.testing.assert_array_equal(z.oindex[[0, 1], [1, 2]], a[[0, 1]][:, [1, 2]])


# -- values ----------------------------------------------------------------------------------


def test_values_are_not_broadcast() -> None:
    z = zarrkit.zeros((6, 4), chunks=(2, 2), dtype="i4")
    row = np.arange(4)
    with pytest.raises(ValueError, match="expected array with shape"):
        z[2:3] = row
    with pytest.raises(ValueError):
        z[:, 1:2] = np.arange(6)
    with pytest.raises(ValueError):
        z.oindex[[0, 1], :] = row
    z[2:3] = row[None, :]
    z[0, :] = row  # the selection's own shape
    z[5, 3] = [9]  # one item takes a one-item value
    np.testing.assert_array_equal(z[0], row)
    np.testing.assert_array_equal(z[2], row)
    assert z[5, 3] == 9


# -- out= ------------------------------------------------------------------------------------


def test_out_may_be_another_array() -> None:
    a = np.arange(100)
    z = zarrkit.array(a, chunks=7)
    out = zarrkit.zeros(30, chunks=4, dtype=a.dtype)
    assert z.get_basic_selection(slice(10, 40), out=out) is out
    np.testing.assert_array_equal(out[...], a[10:40])
    out2 = zarrkit.zeros(3, chunks=2, dtype=a.dtype)
    z.get_coordinate_selection([5, 1, 99], out=out2)
    np.testing.assert_array_equal(out2[...], [5, 1, 99])
    with pytest.raises(TypeError):
        z.get_basic_selection(Ellipsis, out=[])
    with pytest.raises(ValueError):
        z.get_basic_selection(slice(0, 5), out=zarrkit.zeros(4, dtype=a.dtype))


# -- fields ----------------------------------------------------------------------------------

REC = np.dtype([("foo", "S3"), ("bar", "i4"), ("baz", "f8")])


def test_one_field_per_write() -> None:
    v = np.array([(b"aaa", 1, 4.2), (b"bbb", 2, 8.4), (b"ccc", 3, 12.6)], dtype=REC)
    z = zarrkit.zeros(3, chunks=2, dtype=REC)
    a = np.zeros(3, dtype=REC)
    z.set_orthogonal_selection([0, 2], v["bar"][[0, 2]], fields=["bar"])
    a["bar"][[0, 2]] = v["bar"][[0, 2]]
    z.set_basic_selection(Ellipsis, v, fields=[])
    a[...] = v
    z.set_mask_selection([True, False, True], v["foo"][[0, 2]], fields="foo")
    np.testing.assert_array_equal(z[...], a)
    for fields in (["foo", "bar"], ["baz", "foo", "bar"]):
        with pytest.raises(IndexError):
            z.set_basic_selection(Ellipsis, v, fields=fields)
        with pytest.raises(IndexError):
            z.set_coordinate_selection([0, 2], v[[0, 2]], fields=fields)
    with pytest.raises(IndexError):
        z.get_basic_selection(Ellipsis, fields=slice(None))
    with pytest.raises(IndexError):
        z.get_basic_selection(Ellipsis, fields=[1])


def test_structured_items_with_object_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    # numcodecs >= 0.16 unpickles only when allowed
    monkeypatch.setattr(numcodecs.pickles, "ALLOW_UNSAFE_PICKLE_DECODE", True, raising=False)
    dt = np.dtype([("obj", object), ("n", "i8")])
    a = np.array([(b"aaa", 1), ([1, 2], 2), ("x", 3)], dtype=dt)
    z = zarrkit.create(shape=3, chunks=2, dtype=dt, object_codec=numcodecs.Pickle())
    z[:] = a
    for i in range(3):
        assert z[i] == a[i]
    z[1] = ("new", 7)
    z["obj", 2] = b"ggg"
    a[1] = ("new", 7)
    a["obj"][2] = b"ggg"
    got = z[:]
    assert got.dtype == dt
    assert got.tolist() == a.tolist()
    assert z[2, "n"] == 3


def test_object_array_without_object_codec_is_refused() -> None:
    """Metadata of an object array with no filters: no item can be read or written
    (a ``RuntimeError`` as in zarr 2, and a ``TypeError``)."""
    meta = dict(
        zarr_format=2,
        shape=[4],
        chunks=[2],
        dtype="|O",
        compressor=None,
        fill_value=0,
        order="C",
        filters=None,
    )
    store = {".zarray": json.dumps(meta).encode(), "0": b"\x00" * 16}
    z = zarrkit.Array(store)
    with pytest.raises(RuntimeError, match="no object codec"):
        z[:2]
    with pytest.raises(TypeError, match="no object codec"):
        z[2:] = ["a", "b"]
    assert "1" not in store


# -- chunk access ----------------------------------------------------------------------------


class CountingStore(Store):
    """A store of zarr 2's protocol (``getitems`` takes ``contexts``) counting accesses."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.counts: collections.Counter = collections.Counter()

    def __getitem__(self, key: str) -> bytes:
        self.counts["get", key] += 1
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.counts["set", key] += 1
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        self.counts["del", key] += 1
        del self.data[key]

    def __iter__(self) -> Any:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def getitems(self, keys: Any, *, contexts: Any) -> dict[str, bytes]:
        for k in keys:
            self.counts["get", k] += 1
        return {k: self.data[k] for k in keys if k in self.data}


@SETTINGS
@given(data=st.data())
def test_each_touched_chunk_is_accessed_once(data: st.DataObject) -> None:
    shape = data.draw(shapes())
    chunks = tuple(data.draw(st.integers(1, n)) for n in shape)
    store = CountingStore()
    z = zarrkit.create(shape=shape, chunks=chunks, store=store, dtype="i2")
    sel = tuple(data.draw(slice_or_int(n)) for n in shape)
    # chunks the selection touches, from NumPy
    grid = np.zeros(shape, dtype=bool)
    grid[sel] = True
    touched = {
        ".".join(str(c // k) for c, k in zip(coords, chunks)) for coords in zip(*np.nonzero(grid))
    }
    store.counts.clear()
    z[sel]
    assert store.counts == collections.Counter({("get", k): 1 for k in touched})
    store.counts.clear()
    z[sel] = 3
    sets = {k: n for (op, k), n in store.counts.items() if op == "set"}
    gets = {k: n for (op, k), n in store.counts.items() if op == "get"}
    assert sets == {k: 1 for k in touched}
    assert set(gets) <= touched and all(n == 1 for n in gets.values())
    assert not [op for op, _ in store.counts if op not in ("get", "set")]
