"""Object arrays: variable-length strings and bytes, ragged arrays and any-object codecs.

zarr 2 keeps the object codec of a ``dtype=object`` array as the first filter. These tests check
round trips with every numcodecs object codec (hypothesis-generated items), every selection
kind, resize/append, fill values, copies, and that bad input fails before anything is stored.
Interop with zarr-python 2.x (both directions, byte-identical ``.zarray``) runs in the zarr 2
environment; reading by zarr-python 3.x runs in the zarr 3 environment.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import zarrkit
from conftest import needs_zarr2, needs_zarr3
from zarrkit.errors import CorruptChunkError


@contextlib.contextmanager
def pickle_decoding(allowed: bool) -> Iterator[None]:
    """Let numcodecs unpickle (or not) inside the block; it refuses by default where patched."""
    mod = numcodecs.pickles
    missing = object()
    old = getattr(mod, "ALLOW_UNSAFE_PICKLE_DECODE", missing)
    mod.ALLOW_UNSAFE_PICKLE_DECODE = allowed
    try:
        yield
    finally:
        if old is missing:
            del mod.ALLOW_UNSAFE_PICKLE_DECODE
        else:
            mod.ALLOW_UNSAFE_PICKLE_DECODE = old


# -- the codecs and their items ---------------------------------------------------------------

LABELS = ["¡Hola mundo!", "Hej Världen!", "こんにちは世界", "", "เฮลโลเวิลด์"]

texts = st.text(max_size=30) | st.text(min_size=300, max_size=3000)
blobs = st.binary(max_size=30) | st.binary(min_size=300, max_size=3000)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
pickle_values = (
    json_values
    | st.binary(max_size=20)
    | st.complex_numbers(allow_nan=False)
    | st.integers()
    | st.frozensets(st.integers(), max_size=4)
    | st.tuples(st.text(max_size=5), st.integers())
)


def ragged_rows(dtype: str) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.dtype(dtype), st.integers(0, 12))


@dataclass(frozen=True)
class Codec:
    """An object codec, a strategy for its items and the item equality it preserves."""

    make: Callable[[], numcodecs.abc.Codec]
    items: st.SearchStrategy[Any]
    same: Callable[[Any, Any], bool] = lambda a, b: type(a) is type(b) and a == b


def _same_row(a: Any, b: Any) -> bool:
    return (
        isinstance(a, np.ndarray)
        and isinstance(b, np.ndarray)
        and a.dtype == b.dtype
        and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    )


def _same_json(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


CODECS: dict[str, Codec] = {
    "vlen-utf8": Codec(numcodecs.VLenUTF8, texts),
    "vlen-bytes": Codec(numcodecs.VLenBytes, blobs),
    "vlen-array-i2": Codec(lambda: numcodecs.VLenArray("<i2"), ragged_rows("<i2"), _same_row),
    "vlen-array-f8": Codec(lambda: numcodecs.VLenArray("<f8"), ragged_rows("<f8"), _same_row),
    "json": Codec(numcodecs.JSON, json_values, _same_json),
    "msgpack": Codec(numcodecs.MsgPack, json_values, _same_json),
    "pickle": Codec(numcodecs.Pickle, pickle_values),
    "categorize": Codec(
        lambda: numcodecs.Categorize(LABELS, dtype=object), st.sampled_from(LABELS)
    ),
}


def objects(items: list[Any], shape: tuple[int, ...] | None = None) -> np.ndarray:
    """An object array holding ``items`` as items (ragged rows stay rows)."""
    out = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        out[i] = v
    return out.reshape(shape if shape is not None else (len(items),))


def assert_same_items(got: Any, expected: np.ndarray, same: Callable[[Any, Any], bool]) -> None:
    assert isinstance(got, np.ndarray) and got.dtype == object
    assert got.shape == expected.shape
    for idx in np.ndindex(expected.shape):
        assert same(got[idx], expected[idx]), (idx, got[idx], expected[idx])


def strict_same(a: Any, b: Any) -> bool:
    """Item equality that tells '' from 0 from None, and compares ragged rows."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return _same_row(a, b)
    return type(a) is type(b) and a == b


def store_snapshot(store: Any) -> dict[str, bytes]:
    return {k: bytes(store[k]) for k in store.keys()}


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CODECS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_round_trip_1d(name: str, data: st.DataObject) -> None:
    codec = CODECS[name]
    items = data.draw(st.lists(codec.items, max_size=25), label="items")
    chunks = data.draw(st.integers(1, 8), label="chunks")
    expected = objects(items)
    as_list = data.draw(st.booleans(), label="assign a list")
    store: dict[str, bytes] = {}
    with pickle_decoding(True):
        z = zarrkit.create(
            len(items), chunks=chunks, dtype=object, object_codec=codec.make(), store=store
        )
        z[:] = items if as_list else expected
        assert_same_items(z[:], expected, codec.same)
        for i in range(len(items)):
            assert codec.same(z[i], expected[i])
        reopened = zarrkit.open_array(store, mode="r")
        assert reopened.filters == [codec.make()]
        assert_same_items(reopened[:], expected, codec.same)


@pytest.mark.parametrize(
    "name", ["vlen-utf8", "vlen-bytes", "vlen-array-f8", "json", "msgpack", "pickle"]
)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_round_trip_2d_both_orders(name: str, data: st.DataObject) -> None:
    codec = CODECS[name]
    shape = data.draw(st.tuples(st.integers(1, 6), st.integers(1, 6)), label="shape")
    chunks = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4)), label="chunks")
    order = data.draw(st.sampled_from("CF"), label="order")
    n = shape[0] * shape[1]
    expected = objects(data.draw(st.lists(codec.items, min_size=n, max_size=n)), shape)
    with pickle_decoding(True):
        z = zarrkit.create(
            shape, chunks=chunks, dtype=object, object_codec=codec.make(), order=order
        )
        z[...] = expected
        assert_same_items(z[...], expected, codec.same)
        # a partial write into stored chunks keeps the other items
        row = expected[-1, ::-1].copy()
        z[0, :] = row
        expected[0, :] = row
        assert_same_items(z[...], expected, codec.same)


@pytest.mark.parametrize("text", ["", "x" * 1_000_000, "é" * 200_000, "\x00nul\x00", "😀" * 5000])
def test_extreme_strings(text: str) -> None:
    z = zarrkit.array(["a", text, "b"], dtype=str, chunks=2)
    assert z[1] == text
    assert z[:].tolist() == ["a", text, "b"]


def test_zero_dimensional_object_arrays() -> None:
    for name in ("vlen-utf8", "json", "msgpack", "vlen-array-i2"):
        codec = CODECS[name]
        value = {"vlen-utf8": "só", "json": [1, "a"], "msgpack": {"k": [1]}}.get(
            name, np.arange(3, dtype="<i2")
        )
        z = zarrkit.create((), dtype=object, object_codec=codec.make(), fill_value=None)
        assert z[()] is None
        z[...] = value
        assert codec.same(z[()], value)


def test_shorthand_dtypes() -> None:
    cases: list[tuple[Any, numcodecs.abc.Codec]] = [
        (str, numcodecs.VLenUTF8()),
        ("str", numcodecs.VLenUTF8()),
        (bytes, numcodecs.VLenBytes()),
        ("bytes", numcodecs.VLenBytes()),
        ("array:i4", numcodecs.VLenArray("<i4")),
        ("array:<f8", numcodecs.VLenArray("<f8")),
        ("array:u1", numcodecs.VLenArray("u1")),
    ]
    for dtype, codec in cases:
        z = zarrkit.empty(3, dtype=dtype)
        assert z.dtype == np.dtype(object)
        assert z.filters == [codec]
        assert json.loads(z.store[".zarray"])["filters"] == [codec.get_config()]
    # an explicit object_codec wins over the shorthand's
    z = zarrkit.empty(3, dtype=str, object_codec=numcodecs.JSON())
    assert z.filters == [numcodecs.JSON()]
    # the object codec comes first, other filters after it
    z = zarrkit.empty(3, dtype=str, filters=[numcodecs.Zlib(1)])
    assert z.filters == [numcodecs.VLenUTF8(), numcodecs.Zlib(1)]
    z[:] = ["a", "bb", ""]
    assert z[:].tolist() == ["a", "bb", ""]


@pytest.mark.parametrize("name", list(CODECS))
def test_unwritten_items_read_as_the_codecs_empty_value(name: str) -> None:
    codec = CODECS[name]
    first = {
        "vlen-utf8": "a",
        "vlen-bytes": b"a",
        "vlen-array-i2": np.array([1, 2], "<i2"),
        "vlen-array-f8": np.array([0.5], "<f8"),
        "categorize": LABELS[0],
    }.get(name, [1, "x"])
    # what the codec makes of an item nobody wrote (None in a new chunk), asked of numcodecs
    with pickle_decoding(True):
        c = codec.make()
        empty = c.decode(c.encode(objects([None])))[0]
        z = zarrkit.empty(6, chunks=3, dtype=object, object_codec=codec.make())
        z[0] = first
        got = z[:]
    assert codec.same(got[0], first)
    for i in (1, 2):
        assert strict_same(got[i], empty)
    assert got[3:].tolist() == [None, None, None]  # a chunk never written reads as fill None
    assert z.nchunks_initialized == 1


def test_ragged_example_from_the_tutorial() -> None:
    z = zarrkit.empty(4, dtype=object, object_codec=numcodecs.VLenArray(int))
    z[0] = np.array([1, 3, 5])
    z[1] = np.array([4])
    z[2] = np.array([7, 9, 14])
    got = z[:]
    assert [r.tolist() for r in got] == [[1, 3, 5], [4], [7, 9, 14], []]
    assert all(r.dtype == np.dtype(int) for r in got)
    # lists of rows are rows, also when they happen to have equal lengths
    z[:2] = [[1, 2], [3, 4]]
    z[2:] = [np.array([5, 6]), [7]]
    assert [r.tolist() for r in z[:]] == [[1, 2], [3, 4], [5, 6], [7]]


# -- selections ----------------------------------------------------------------------------------


def _words(rng: np.random.Generator, n: int) -> list[str]:
    alphabet = list("abcdeé世界 ")
    return ["".join(rng.choice(alphabet, size=rng.integers(0, 9))) for _ in range(n)]


def _block_slices(sel: tuple[Any, ...], chunks: tuple[int, ...]) -> tuple[slice, ...]:
    """NumPy slices for a block selection of whole chunks."""
    out = []
    for s, c in zip(sel, chunks):
        if isinstance(s, int):
            out.append(slice(s * c, (s + 1) * c))
        else:
            out.append(slice(s.start * c, s.stop * c))
    return tuple(out)


def _outer(sel: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[tuple[np.ndarray, ...], tuple]:
    """NumPy's ``np.ix_`` form of an orthogonal selection, and the axes integers drop."""
    idx, drop = [], []
    for d, (s, n) in enumerate(zip(sel, shape)):
        if isinstance(s, (int, np.integer)):
            idx.append(np.array([s]))
            drop.append(d)
        else:
            idx.append(np.arange(n)[s])
    return np.ix_(*idx), tuple(drop)


MASK = np.random.default_rng(1).random((7, 9)) < 0.4
ROWS = np.array([True, False, True, True, False, False, True])

SELECTIONS: list[tuple[str, Any]] = [
    ("basic", (slice(1, 6), slice(2, 8))),
    ("basic", (slice(None, None, 2), slice(1, None, 3))),
    ("basic", (3, slice(None))),
    ("basic", (-1, -2)),
    ("basic", Ellipsis),
    ("oindex", ([0, 3, 6], [1, 8])),
    ("oindex", (ROWS, slice(2, 5))),
    ("oindex", (np.array([5, 1]), 4)),
    ("vindex", ([0, 3, 6], [1, 8, 2])),
    ("vindex", MASK),
    ("mask", MASK),
    ("blocks", (1, 2)),
    ("blocks", (slice(0, 2), slice(1, 3))),
]


@pytest.mark.parametrize(("kind", "sel"), SELECTIONS)
def test_selections_get_and_set(kind: str, sel: Any) -> None:
    rng = np.random.default_rng(7)
    shape, chunks = (7, 9), (3, 4)
    expected = objects(_words(rng, 63), shape)
    z = zarrkit.array(expected, chunks=chunks, dtype=str)
    drop: tuple = ()
    if kind == "basic":
        ref, get, put = sel, z.__getitem__, z.__setitem__
    elif kind == "oindex":
        (ref, drop), get, put = _outer(sel, shape), z.oindex.__getitem__, z.oindex.__setitem__
    elif kind == "vindex":
        ref, get, put = sel, z.vindex.__getitem__, z.vindex.__setitem__
    elif kind == "mask":
        ref, get, put = sel, z.get_mask_selection, z.set_mask_selection
    else:
        ref, get, put = _block_slices(sel, chunks), z.blocks.__getitem__, z.blocks.__setitem__
    want = expected[ref]
    if drop:
        want = want.squeeze(axis=drop)
    got = get(sel)
    if isinstance(want, np.ndarray):
        assert got.dtype == object and got.shape == want.shape
        assert got.tolist() == want.tolist()
    else:
        assert got == want
    # write new strings through the same selection, then compare the whole array with NumPy
    new = objects(_words(rng, int(np.size(want))), np.shape(want))
    put(sel, new if new.shape else new[()])
    expected[ref] = new.reshape(np.shape(expected[ref]))
    assert z[...].tolist() == expected.tolist()


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_ragged_fancy_selections(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 30), label="n")
    rows = [data.draw(ragged_rows("<i4")) for _ in range(n)]
    expected = objects(rows)
    z = zarrkit.empty(n, chunks=data.draw(st.integers(1, 7)), dtype="array:i4")
    z[:] = rows
    idx = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=10), label="idx")
    assert_same_items(z.vindex[idx], expected[idx], _same_row)
    uniq = sorted(set(idx))
    assert_same_items(z.oindex[uniq], expected[uniq], _same_row)
    mask = np.zeros(n, bool)
    mask[uniq] = True
    assert_same_items(z.vindex[mask], expected[mask], _same_row)
    # writes of ragged rows through the fancy selections
    new_rows = [data.draw(ragged_rows("<i4")) for _ in uniq]
    z.oindex[uniq] = new_rows
    expected[uniq] = objects(new_rows)
    assert_same_items(z[:], expected, _same_row)
    newer = [data.draw(ragged_rows("<i4")) for _ in uniq]
    z.vindex[mask] = newer
    expected[mask] = objects(newer)
    assert_same_items(z[:], expected, _same_row)


# -- resize, append, fill values ----------------------------------------------------------------


def test_resize_and_append_strings() -> None:
    words = _words(np.random.default_rng(3), 10)
    store: dict[str, bytes] = {}
    z = zarrkit.array(words, dtype=str, chunks=3, store=store, fill_value="")
    z.resize(4)
    assert z[:].tolist() == words[:4]
    assert sorted(k for k in store if not k.startswith(".")) == ["0", "1"]
    z.resize(8)
    assert z[6:].tolist() == ["", ""]  # chunk 2 was deleted: fill value
    assert z.append(["x", "", "yy"]) == (11,)
    assert z[8:].tolist() == ["x", "", "yy"]
    two = zarrkit.array(objects(words[:6], (2, 3)), dtype=str, chunks=(1, 2))
    assert two.append(objects(["p", "q"], (2, 1)), axis=1) == (2, 4)
    assert two[:, 3].tolist() == ["p", "q"]


def test_append_ragged_rows() -> None:
    z = zarrkit.empty(2, chunks=2, dtype="array:i4")
    z[:] = [np.array([1], "i4"), np.array([2, 3], "i4")]
    assert z.append([np.array([4, 5, 6]), [], [7, 8]]) == (5,)
    assert [r.tolist() for r in z[:]] == [[1], [2, 3], [4, 5, 6], [], [7, 8]]
    assert z.append([[9, 10], [11, 12]]) == (7,)  # equal lengths: still two rows
    assert [r.tolist() for r in z[5:]] == [[9, 10], [11, 12]]


@pytest.mark.parametrize(
    ("dtype", "codec", "fill", "written"),
    [
        (str, None, None, "a"),
        (str, None, "", "a"),
        (str, None, "n/a", "a"),
        (object, numcodecs.JSON(), None, {"k": 1}),
        (object, numcodecs.JSON(), [], "a"),
        (object, numcodecs.JSON(), {"k": [1]}, "a"),
        (object, numcodecs.MsgPack(), "", 3),
        ("array:i2", None, None, [1]),
    ],
)
def test_fill_values(dtype: Any, codec: Any, fill: Any, written: Any) -> None:
    store: dict[str, bytes] = {}
    z = zarrkit.full(5, fill_value=fill, chunks=2, dtype=dtype, object_codec=codec, store=store)
    assert json.loads(store[".zarray"])["fill_value"] == fill
    assert strict_same(z.fill_value, fill)
    z[0] = written
    reopened = zarrkit.open_array(store)
    assert strict_same(reopened.fill_value, fill)
    got = reopened[:]
    for i in (2, 3, 4):  # never written chunks hold the fill value, as one item each
        assert strict_same(got[i], fill)
    # a new fill value is stored and used
    reopened.fill_value = "new" if dtype is str else None
    assert json.loads(store[".zarray"])["fill_value"] == reopened.fill_value
    assert zarrkit.open_array(store)[4] == reopened.fill_value


def test_write_empty_chunks_false() -> None:
    store: dict[str, bytes] = {}
    z = zarrkit.full(6, fill_value="", chunks=2, dtype=str, write_empty_chunks=False, store=store)
    z[:] = ["", "", "a", "", "", ""]
    assert sorted(k for k in store if not k.startswith(".")) == ["1"]
    assert z[:].tolist() == ["", "", "a", "", "", ""]
    # rows equal to 0 elementwise are data, not the fill value 0
    store = {}
    r = zarrkit.zeros(4, chunks=2, dtype="array:i4", write_empty_chunks=False, store=store)
    r[0] = np.array([0])
    r[1] = np.array([0, 0])
    assert sorted(k for k in store if not k.startswith(".")) == ["0"]
    assert [x.tolist() for x in r[:2]] == [[0], [0, 0]]
    assert r[2:].tolist() == [0, 0]


def test_info_names_the_object_codec() -> None:
    z = zarrkit.array(["a", "bb", "ccc"], dtype=str, chunks=2)
    items = dict(z.info_items())
    assert items["Data type"] == "object"
    assert items["Filter [0]"] == repr(numcodecs.VLenUTF8())
    assert "Filter [1]" not in items
    assert items["Chunks initialized"] == "2/2"


# -- copies ---------------------------------------------------------------------------------------


def test_copying_between_object_arrays() -> None:
    rows = [np.arange(i, dtype="i8") for i in range(7)]
    src = zarrkit.empty(7, chunks=3, dtype="array:i8")
    src[:] = rows
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FutureWarning about a missing object_codec
        copy = zarrkit.array(src, chunks=2)
        like = zarrkit.empty_like(src)
        zeros = zarrkit.zeros_like(src)
        full = zarrkit.full_like(src, fill_value=None)
    for z in (copy, like, zeros, full):
        assert z.dtype == object and z.filters == src.filters
    assert_same_items(copy[:], objects(rows), _same_row)
    like[:] = src  # another array as the source, read region by region
    assert_same_items(like[:], objects(rows), _same_row)
    zeros[1:5] = src[1:5]
    assert_same_items(zeros[1:5], objects(rows[1:5]), _same_row)
    # into a differently chunked string array through fancy selections
    s = zarrkit.array(["a", "b", "c", "d"], dtype=str, chunks=3)
    t = zarrkit.empty(4, dtype=str, chunks=1)
    t.oindex[[3, 2, 1, 0]] = s[:]
    assert t[:].tolist() == ["d", "c", "b", "a"]


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [object, "O", np.object_, "|O"])
def test_object_dtype_needs_an_object_codec(dtype: Any) -> None:
    store: dict[str, bytes] = {}
    with pytest.raises(ValueError, match="object_codec") as e:
        zarrkit.create(4, dtype=dtype, store=store)
    assert "VLenUTF8" in str(e.value) and "dtype=str" in str(e.value)
    assert store == {}
    # a filter that cannot encode objects is no object codec either
    with pytest.raises(ValueError, match="object_codec"):
        zarrkit.create(4, dtype=dtype, filters=[numcodecs.Zlib()], store=store)
    assert store == {}


def test_object_codec_as_first_filter_still_works_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match="object_codec"):
        z = zarrkit.empty(3, dtype=object, filters=[numcodecs.VLenUTF8()])
    z[:] = ["a", "", "b"]
    assert z[:].tolist() == ["a", "", "b"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"dtype": object, "object_codec": numcodecs.Zlib()}, ValueError),
        ({"dtype": object, "object_codec": numcodecs.Delta("i4")}, ValueError),
        ({"dtype": object, "object_codec": "vlen-utf8"}, TypeError),
        ({"dtype": "array:"}, TypeError),
        ({"dtype": "array:nope"}, TypeError),
        ({"dtype": "array"}, TypeError),
        ({"dtype": str, "fill_value": 1}, ValueError),
        ({"dtype": bytes, "fill_value": ""}, ValueError),
        ({"dtype": bytes, "fill_value": b""}, ValueError),  # not JSON: cannot go in .zarray
        ({"dtype": "array:i4", "fill_value": "x"}, ValueError),
        ({"dtype": object, "object_codec": numcodecs.JSON(), "fill_value": object()}, ValueError),
    ],
)
def test_bad_object_array_arguments(kwargs: dict[str, Any], error: type) -> None:
    store: dict[str, bytes] = {}
    with pytest.raises(error):
        zarrkit.create(4, chunks=2, store=store, **kwargs)
    assert store == {}


BAD_VALUES: list[tuple[Any, Any, type, Any]] = [
    (str, None, TypeError, 1),
    (str, None, TypeError, b"bytes"),
    (str, None, ValueError, "\ud800"),  # a lone surrogate has no UTF-8 form
    (bytes, None, TypeError, "text"),
    ("array:i4", None, ValueError, ["x"]),
    (object, numcodecs.JSON(), TypeError, object()),
    (object, numcodecs.JSON(), TypeError, {1, 2}),
    (object, numcodecs.MsgPack(), TypeError, object()),
]


@pytest.mark.parametrize(("dtype", "codec", "error", "bad"), BAD_VALUES)
@pytest.mark.parametrize("n", [1, 10, 3000])
def test_unencodable_values_store_nothing(
    dtype: Any, codec: Any, error: type, bad: Any, n: int
) -> None:
    # chunks of one item: the write of 3000 items spans several of the engine's write batches
    good = {str: "ok", bytes: b"ok", "array:i4": [1, 2]}.get(dtype, "ok")
    store: dict[str, bytes] = {}
    z = zarrkit.full(n, fill_value=None, chunks=1, dtype=dtype, object_codec=codec, store=store)
    z[0] = good
    before = store_snapshot(store)
    values = [good] * n
    values[-1] = bad
    with pytest.raises(error, match=type(z.filters[0]).__name__):
        z[:] = objects(values)
    assert store_snapshot(store) == before
    with pytest.raises(error):
        z[:] = bad  # one bad value for every item
    assert store_snapshot(store) == before
    with pytest.raises(error):
        z.vindex[[n - 1]] = objects([bad])
    assert store_snapshot(store) == before
    with pytest.raises(error):
        z.append(objects([good, bad]))
    assert store_snapshot(store) == before
    assert z.shape == (n,)


def test_pickle_decoding_refusal_is_not_corruption() -> None:
    with pickle_decoding(True):
        z = zarrkit.array(
            objects([{1, 2}, ("a", 1)]), dtype=object, object_codec=numcodecs.Pickle()
        )
        assert z[:].tolist() == [{1, 2}, ("a", 1)]
    refused = getattr(numcodecs.errors, "UnsafeDecodeError", None)
    with pickle_decoding(False):
        if refused is None:  # a numcodecs that unpickles without asking
            assert z[:].tolist() == [{1, 2}, ("a", 1)]
        else:
            with pytest.raises(refused) as e:
                z[:]
            assert not isinstance(e.value, CorruptChunkError)


# -- interop with zarr-python 2.x ----------------------------------------------------------------


@dataclass(frozen=True)
class InteropCase:
    kwargs: Callable[[], dict[str, Any]]
    data: Callable[[], np.ndarray]
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    order: str = "C"
    zarr2_misreads: bool = False  # zarr 2 reshapes JSON/MsgPack F-order chunks in memory order


def _strings(shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    return objects(_words(np.random.default_rng(n), n), shape)


def _rows(shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    return objects([np.arange(i % 5, dtype="<i4") * i for i in range(n)], shape)


def _anything(shape: tuple[int, ...]) -> np.ndarray:
    pool = [42, "foo", ["bar", 1], {"a": 1, "b": 2.5}, None, True, "", []]
    n = int(np.prod(shape))
    return objects([pool[i % len(pool)] for i in range(n)], shape)


def _interop_cases() -> dict[str, InteropCase]:
    cases: dict[str, InteropCase] = {}
    makers: dict[str, tuple[Callable[[], dict[str, Any]], Callable[..., np.ndarray]]] = {
        "utf8": (lambda: {"dtype": object, "object_codec": numcodecs.VLenUTF8()}, _strings),
        "str": (lambda: {"dtype": str}, _strings),
        "bytes": (
            lambda: {"dtype": bytes},
            lambda s: objects([w.encode() for w in _strings(s).ravel()], s),
        ),
        "array": (lambda: {"dtype": "array:i4"}, _rows),
        "vlenarray": (lambda: {"dtype": object, "object_codec": numcodecs.VLenArray("<i4")}, _rows),
        "json": (lambda: {"dtype": object, "object_codec": numcodecs.JSON()}, _anything),
        "msgpack": (lambda: {"dtype": object, "object_codec": numcodecs.MsgPack()}, _anything),
        "pickle": (lambda: {"dtype": object, "object_codec": numcodecs.Pickle()}, _anything),
        "categorize": (
            lambda: {"dtype": object, "object_codec": numcodecs.Categorize(LABELS, dtype=object)},
            lambda s: objects([LABELS[i % len(LABELS)] for i in range(int(np.prod(s)))], s),
        ),
        "utf8-zlib": (
            lambda: {"dtype": str, "filters": [numcodecs.Zlib(1)], "compressor": None},
            _strings,
        ),
    }
    for name, (kwargs, data) in makers.items():
        cases[f"{name}-1d"] = InteropCase(kwargs, lambda d=data: d((11,)), (11,), (4,))
        for order in "CF":
            cases[f"{name}-2d-{order}"] = InteropCase(
                kwargs,
                lambda d=data: d((5, 7)),
                (5, 7),
                (2, 3),
                order,
                zarr2_misreads=order == "F" and name in ("json", "msgpack"),
            )
    return cases


INTEROP = _interop_cases()
# '' is no value of bytes or of ragged rows: refused at creation (test_bad_object_array_arguments)
INTEROP_PARAMS = [
    (name, fill)
    for name in INTEROP
    for fill in (None, 0, "")
    if not (fill == "" and name.split("-")[0] in ("bytes", "array", "vlenarray"))
]


def _write_both(case: InteropCase, fill: Any) -> tuple[dict, dict, np.ndarray]:
    """The same array written by zarr 2 and by zarrkit: a partial write, then more."""
    data = case.data()
    stores: list[dict] = []
    for lib in (zarr, zarrkit):
        store: dict[str, bytes] = {}
        z = lib.create(
            case.shape,
            chunks=case.chunks,
            order=case.order,
            fill_value=fill,
            store=store,
            **case.kwargs(),
        )
        z[1:3] = data[1:3]  # chunks partly written: unwritten items take the codec's empty value
        z[-1] = data[-1]
        stores.append(store)
    return stores[0], stores[1], data


@needs_zarr2
@pytest.mark.parametrize(("name", "fill"), INTEROP_PARAMS)
def test_zarr2_interop(name: str, fill: Any) -> None:
    case = INTEROP[name]
    with pickle_decoding(True):
        theirs, ours, data = _write_both(case, fill)
        assert ours[".zarray"] == theirs[".zarray"]
        assert store_snapshot(ours) == store_snapshot(theirs)  # chunks byte for byte too
        z2 = zarr.open_array(theirs, mode="r")
        zk = zarrkit.open_array(theirs, mode="r")
        assert zk.filters == z2.filters
        if not case.zarr2_misreads:
            assert_same_items(zk[...], z2[...], strict_same)
            sel = ([0, -1], slice(1, None))[: len(case.shape)]
            assert_same_items(zk.oindex[sel], z2.oindex[sel], strict_same)
        # items written read back as written, in both libraries' stores
        same = strict_same
        for store in (theirs, ours):
            got = zarrkit.open_array(store, mode="r")[...]
            assert_same_items(got[1:3], data[1:3], same)
            assert_same_items(got[-1:], data[-1:], same)
        # and the whole array written by zarrkit reads in zarr 2 as written
        store: dict[str, bytes] = {}
        z = zarrkit.create(
            case.shape,
            chunks=case.chunks,
            order=case.order,
            fill_value=fill,
            store=store,
            **case.kwargs(),
        )
        z[...] = data
        if not case.zarr2_misreads:
            assert_same_items(zarr.open_array(store, mode="r")[...], data, same)
        assert_same_items(zarrkit.open_array(store, mode="r")[...], data, same)


@needs_zarr2
@pytest.mark.parametrize("codec", [numcodecs.JSON(), numcodecs.MsgPack()], ids=repr)
def test_zarr2_misreads_f_order_json_chunks_and_zarrkit_does_not(codec: Any) -> None:
    """Why ``zarr2_misreads`` exists: JSON and MsgPack give a chunk back in its shape, items in
    logical order, and zarr 2 reshapes it in Fortran order again. The stored bytes are the
    same from both libraries; zarrkit reads them as written."""
    data = _anything((5, 7))
    stores = []
    for lib in (zarr, zarrkit):
        store: dict[str, bytes] = {}
        z = lib.create(
            (5, 7), chunks=(2, 3), dtype=object, object_codec=codec, order="F", store=store
        )
        z[...] = data
        stores.append(store)
    assert store_snapshot(stores[0]) == store_snapshot(stores[1])
    assert_same_items(zarrkit.open_array(stores[0], mode="r")[...], data, strict_same)
    assert zarr.open_array(stores[0], mode="r")[...].tolist() != data.tolist()


@needs_zarr2
def test_zarr2_interop_resize_append_and_info() -> None:
    words = _words(np.random.default_rng(11), 20)
    stores = []
    arrays = []
    for lib in (zarr, zarrkit):
        store: dict[str, bytes] = {}
        z = lib.array(words[:9], dtype=str, chunks=4, store=store)
        z.resize(6)
        z.resize(10)
        z.append(words[9:])
        z[3] = "changed"
        stores.append(store)
        arrays.append(z)
    assert store_snapshot(stores[1]) == store_snapshot(stores[0])
    assert arrays[1][:].tolist() == arrays[0][:].tolist()
    text = str(arrays[1].info).replace("zarrkit.", "zarr.")
    assert text == str(arrays[0].info)


@needs_zarr2
def test_zarr2_interop_first_filter_without_object_codec() -> None:
    metas = []
    for lib in (zarr, zarrkit):
        store: dict[str, bytes] = {}
        with pytest.warns(FutureWarning):
            z = lib.create(5, chunks=2, dtype=object, filters=[numcodecs.VLenUTF8()], store=store)
        z[:] = objects(["a", "b", "c", "d", "e"])
        metas.append(store_snapshot(store))
    assert metas[0] == metas[1]


@needs_zarr2
def test_zarr2_zero_dimensional_interop() -> None:
    # zarr 2 writes 0-d JSON chunks with shape [] and zarrkit with [1]: each reads the other's
    for codec, value in [(numcodecs.VLenUTF8(), "abc"), (numcodecs.JSON(), {"a": [1]})]:
        for writer, reader in ((zarr, zarrkit), (zarrkit, zarr)):
            store: dict[str, bytes] = {}
            z = writer.create((), dtype=object, object_codec=codec, store=store, fill_value=None)
            z[...] = value
            assert reader.open_array(store, mode="r")[()] == value


# -- zarr-python 3.x reads zarrkit's string arrays ------------------------------------------------


@needs_zarr3
@pytest.mark.parametrize("order", "CF")
@pytest.mark.parametrize(("kind", "fill"), [(str, None), (str, ""), (bytes, None)], ids=repr)
def test_zarr3_reads_zarrkit_vlen_arrays(kind: type, fill: Any, order: str, tmp_path: Any) -> None:
    data = _strings((5, 7))
    if kind is bytes:
        data = objects([w.encode() for w in data.ravel()], data.shape)
    path = str(tmp_path / "a.zarr")
    z = zarrkit.open_array(
        path, mode="w", shape=data.shape, chunks=(2, 3), dtype=kind, order=order, fill_value=fill
    )
    z[...] = data
    theirs = zarr.open_array(path, mode="r")
    got = np.asarray(theirs[...], dtype=object)  # zarr 3 reads strings as StringDType
    assert got.tolist() == data.tolist()
    assert (
        np.asarray(theirs.oindex[[0, 4], 1:3], dtype=object).tolist()
        == data[[0, 4]][:, 1:3].tolist()
    )


@needs_zarr3
def test_zarrkit_reads_zarr3_written_v2_strings(tmp_path: Any) -> None:
    from zarr.core.dtype import VariableLengthBytes, VariableLengthUTF8

    text = _strings((9,))
    for dtype, data in [
        (VariableLengthUTF8(), text),
        (VariableLengthBytes(), objects([w.encode() for w in text])),
    ]:
        path = str(tmp_path / f"{type(dtype).__name__}.zarr")
        a = zarr.create_array(path, shape=data.shape, chunks=(4,), dtype=dtype, zarr_format=2)
        a[...] = data
        z = zarrkit.open_array(path, mode="r")
        assert z.dtype == object
        assert z[...].tolist() == data.tolist()
