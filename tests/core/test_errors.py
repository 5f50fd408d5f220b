"""Bad input gives a clear exception of the right class, naming the problem."""

from __future__ import annotations

import json
from typing import Any

import numcodecs
import numpy as np
import pytest

import zarrkit
from zarrkit import Array
from zarrkit.errors import (
    ArrayNotFoundError,
    BadCompressorError,
    BoundsCheckError,
    ContainsArrayError,
    CorruptChunkError,
    MetadataError,
    MissingChunkError,
    NegativeStepError,
    PathNotFoundError,
    ReadOnlyError,
    ZarrkitError,
)
from zarrkit.storage import DirectoryStore, MemoryStore


@pytest.fixture
def z() -> Array:
    """A 10 x 10 int32 array in 3 x 3 chunks, every item 1."""
    arr = zarrkit.zeros((10, 10), chunks=(3, 3), dtype="i4", store=MemoryStore())
    arr[...] = 1
    return arr


def stored_chunks(store: Any) -> dict[str, bytes]:
    return {k: bytes(store[k]) for k in store if not k.split("/")[-1].startswith(".")}


# -- indexing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "selection,shown",
    [((10, 0), "10"), ((0, 10), "10"), (-11, "-11"), ((3, -12), "-12"), (100, "100")],
)
def test_out_of_bounds_integer(z: Array, selection: Any, shown: str) -> None:
    for action in (lambda: z[selection], lambda: z.__setitem__(selection, 0)):
        with pytest.raises(BoundsCheckError, match=f"index {shown} is out of bounds") as info:
            action()
        assert isinstance(info.value, IndexError)
        assert "length 10" in str(info.value)
    np.testing.assert_array_equal(z[...], np.ones((10, 10)))


def test_out_of_bounds_in_index_arrays(z: Array) -> None:
    with pytest.raises(IndexError, match="out of bounds"):
        z.oindex[[0, 10], :]
    with pytest.raises(IndexError, match="out of bounds"):
        z.vindex[[0, 1], [2, -11]]
    with pytest.raises(IndexError, match="out of bounds"):
        z.get_block_selection(4)


def test_out_of_range_slices_are_clamped_not_errors(z: Array) -> None:
    assert z[8:100, -100:2].shape == (2, 2)
    assert z[20:30].shape == (0, 10)


def test_negative_step(z: Array) -> None:
    with pytest.raises(NegativeStepError, match="step") as info:
        z[::-1]
    assert isinstance(info.value, IndexError)
    with pytest.raises(NegativeStepError):
        z[2:8, 8:2:-2] = 0
    with pytest.raises(IndexError, match="step cannot be zero"):
        z[::0]


def test_too_many_indices(z: Array) -> None:
    with pytest.raises(IndexError, match="too many indices for array; expected 2, got 3"):
        z[1, 2, 3]
    with pytest.raises(IndexError, match="too many indices"):
        z[..., 1, 2, 3] = 0
    with pytest.raises(IndexError, match="single ellipsis"):
        z[..., 0, ...]


def test_unsupported_selection_items(z: Array) -> None:
    with pytest.raises(IndexError, match="float"):
        z[1.5]
    with pytest.raises(IndexError, match="does not have any fields"):
        z["foo"]
    with pytest.raises(IndexError, match="slice"):
        z.get_basic_selection([1, 2])


def test_out_argument_checked(z: Array) -> None:
    with pytest.raises(ValueError, match=r"out has shape \(3, 3\).*\(2, 2\)"):
        z.get_basic_selection((slice(0, 2), slice(0, 2)), out=np.empty((3, 3), "i4"))
    with pytest.raises(TypeError, match="NumPy array"):
        z.get_basic_selection(0, out=[0] * 10)


# -- writes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "selection,value,shapes",
    [
        (slice(0, 5), np.ones((4, 10)), ("(5, 10)", "(4, 10)")),
        ((slice(0, 5), slice(0, 3)), np.ones((5, 4)), ("(5, 3)", "(5, 4)")),
        (slice(None), np.arange(11), ("(10, 10)", "(11,)")),
        ((0, slice(None)), np.ones((2, 10)), ("(10,)", "(2, 10)")),
    ],
)
def test_write_shape_mismatch(z: Array, selection: Any, value: Any, shapes: Any) -> None:
    before = stored_chunks(z.store)
    with pytest.raises(ValueError) as info:
        z[selection] = value
    assert all(s in str(info.value) for s in shapes)
    assert stored_chunks(z.store) == before


@pytest.mark.parametrize("value", ["abc", [1, 2, "x", 4, 5, 6, 7, 8, 9, 10], {"a": 1}])
def test_failed_cast_leaves_chunks_unchanged(z: Array, value: Any) -> None:
    before = stored_chunks(z.store)
    with pytest.raises((ValueError, TypeError), match="int32"):
        z[0] = value
    assert stored_chunks(z.store) == before
    np.testing.assert_array_equal(z[...], np.ones((10, 10)))


def test_failed_lazy_source_leaves_chunks_unchanged(z: Array) -> None:
    class Broken:
        shape, dtype, ndim = (10, 10), np.dtype("i4"), 2

        def __init__(self) -> None:
            self.calls = 0

        def __getitem__(self, sel: Any) -> Any:
            self.calls += 1
            if self.calls == 5:
                raise OSError("source went away")
            return np.full(np.empty(self.shape)[sel].shape, 7, dtype="i4")

    before = stored_chunks(z.store)
    with pytest.raises(OSError, match="source went away"):
        z[...] = Broken()
    assert stored_chunks(z.store) == before


def test_corrupt_chunk_during_partial_write(z: Array) -> None:
    z.store["1.1"] = b"not a blosc buffer"
    before = stored_chunks(z.store)
    with pytest.raises(CorruptChunkError, match="'1.1'"):
        z[2:5, 2:5] = 9  # touches chunks 0.0, 0.1, 1.0 (partly) and 1.1
    assert stored_chunks(z.store) == before


# -- creation arguments ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["foo", 42.5, "i3", object()])
def test_unknown_dtype(dtype: Any) -> None:
    with pytest.raises(TypeError, match="dtype"):
        zarrkit.zeros(5, dtype=dtype)


def test_datetime_without_unit() -> None:
    with pytest.raises(ValueError, match="unit"):
        zarrkit.zeros(3, dtype="M8")


@pytest.mark.parametrize(
    "shape,chunks,shown",
    [(5, 0, "0"), ((5, 5), (2, -3), "-3"), ((5, 5), (0, 1), "0"), ((4,), -2, "-2")],
)
def test_bad_chunk_lengths(shape: Any, chunks: Any, shown: str) -> None:
    with pytest.raises(ValueError, match=f"chunk lengths must be positive, got {shown}"):
        zarrkit.zeros(shape, chunks=chunks)


def test_chunks_with_more_dimensions_than_shape() -> None:
    with pytest.raises(ValueError, match="more dimensions"):
        zarrkit.zeros((5, 5), chunks=(2, 2, 2))


def test_bad_shape() -> None:
    with pytest.raises(ValueError, match="negative"):
        zarrkit.zeros((5, -1))
    with pytest.raises(TypeError, match="shape"):
        zarrkit.zeros("big")


def test_bad_codecs_order_and_fill_value() -> None:
    with pytest.raises(BadCompressorError, match="'zlib'") as info:
        zarrkit.zeros(3, compressor="zlib")
    assert isinstance(info.value, TypeError)
    with pytest.raises(TypeError, match="filter"):
        zarrkit.zeros(3, filters=["delta"])
    with pytest.raises(ValueError, match="order"):
        zarrkit.zeros(3, order="X")
    with pytest.raises(ValueError, match="fill_value 'abc'.*int32"):
        zarrkit.full(3, fill_value="abc", dtype="i4")


# -- read-only ----------------------------------------------------------------------------------


def test_read_only_array(z: Array) -> None:
    ro = Array(z.store, read_only=True)
    before = stored_chunks(z.store)
    actions = [
        lambda: ro.__setitem__(0, 5),
        lambda: ro.set_basic_selection(Ellipsis, 5),
        lambda: ro.oindex.__setitem__(([0], [1]), 5),
        lambda: ro.vindex.__setitem__(([0], [1]), 5),
        lambda: ro.blocks.__setitem__(0, 5),
        lambda: ro.resize(3, 3),
        lambda: ro.append(np.zeros((1, 10))),
        lambda: setattr(ro, "fill_value", 3),
    ]
    for action in actions:
        with pytest.raises(ReadOnlyError, match="read-only") as info:
            action()
        assert isinstance(info.value, PermissionError)
        assert isinstance(info.value, ZarrkitError)
    assert stored_chunks(z.store) == before
    assert ro.shape == (10, 10)
    np.testing.assert_array_equal(ro[...], np.ones((10, 10)))


def test_read_only_attributes(z: Array) -> None:
    z.attrs["a"] = 1
    ro = Array(z.store, read_only=True)
    for action in (
        lambda: ro.attrs.__setitem__("b", 2),
        lambda: ro.attrs.__delitem__("a"),
        lambda: ro.attrs.update(c=3),
        lambda: ro.attrs.put({}),
    ):
        with pytest.raises(ReadOnlyError, match="attributes") as info:
            action()
        assert isinstance(info.value, PermissionError)
    assert ro.attrs.asdict() == {"a": 1}
    # switching read_only off makes both writable again
    ro.read_only = False
    ro.attrs["b"] = 2
    ro[0, 0] = 3
    fresh = Array(z.store)
    assert fresh.attrs.asdict() == {"a": 1, "b": 2}
    assert fresh[0, 0] == 3


def test_open_mode_r_is_read_only(tmp_path: Any) -> None:
    zarrkit.open_array(str(tmp_path), mode="w", shape=(3,))
    r = zarrkit.open_array(str(tmp_path), mode="r")
    with pytest.raises(ReadOnlyError):
        r[:] = 1
    with pytest.raises(ReadOnlyError):
        r.attrs["x"] = 1


# -- not found / exists -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_open_array_missing(tmp_path: Any, mode: str) -> None:
    with pytest.raises(ArrayNotFoundError, match="not found") as info:
        zarrkit.open_array(str(tmp_path / "nope"), mode=mode)
    assert isinstance(info.value, ValueError) and isinstance(info.value, KeyError)
    with pytest.raises(ArrayNotFoundError, match="'sub/arr'"):
        zarrkit.open_array(MemoryStore(), mode=mode, path="sub/arr")


def test_open_and_load_missing(tmp_path: Any) -> None:
    for action in (
        lambda: zarrkit.open(str(tmp_path / "nope"), mode="r"),
        lambda: zarrkit.load(str(tmp_path / "nope")),
        lambda: zarrkit.open(MemoryStore(), mode="r+", path="x"),
    ):
        with pytest.raises(PathNotFoundError, match="nothing found") as info:
            action()
        assert isinstance(info.value, ValueError) and isinstance(info.value, KeyError)
    with pytest.raises(ArrayNotFoundError):
        Array(MemoryStore())
    with pytest.raises(ArrayNotFoundError, match="'a/b'"):
        Array(MemoryStore(), path="a/b")


def test_create_over_existing_array(tmp_path: Any) -> None:
    store = DirectoryStore(str(tmp_path))
    zarrkit.zeros(3, store=store, path="arr")
    for action in (
        lambda: zarrkit.open_array(store, mode="w-", shape=3, path="arr"),
        lambda: zarrkit.open_array(store, mode="x", shape=3, path="arr"),
        lambda: zarrkit.create(3, store=store, path="arr"),
    ):
        with pytest.raises(ContainsArrayError, match="'arr' contains an array") as info:
            action()
        assert isinstance(info.value, ValueError)
    zarrkit.create(4, store=store, path="arr", overwrite=True)
    assert Array(store, path="arr").shape == (4,)


def test_create_without_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        zarrkit.open_array(MemoryStore(), mode="w")


# -- broken metadata ----------------------------------------------------------------------------


def _meta() -> dict:
    return json.loads(zarrkit.zeros((4, 4), chunks=2, dtype="i4").store[".zarray"])


def _store_with(meta: Any, path: str = "a/b") -> MemoryStore:
    s = MemoryStore()
    s[f"{path}/.zarray"] = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    return s


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[1, 2]"])
def test_metadata_not_json_or_not_an_object(raw: bytes) -> None:
    with pytest.raises(MetadataError, match="'a/b/.zarray'") as info:
        Array(_store_with(raw), path="a/b")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "key", ["zarr_format", "shape", "chunks", "dtype", "compressor", "fill_value", "order"]
)
def test_metadata_missing_key(key: str) -> None:
    meta = _meta()
    del meta[key]
    with pytest.raises(MetadataError, match=f"'a/b/.zarray' is missing required key '{key}'"):
        Array(_store_with(meta), path="a/b")


@pytest.mark.parametrize(
    "key,value",
    [
        ("zarr_format", 3),
        ("shape", "big"),
        ("chunks", [2]),
        ("chunks", [0, 2]),
        ("dtype", "nonsense"),
        ("order", "Z"),
        ("compressor", "blosc"),
        ("dimension_separator", "-"),
        ("fill_value", "not a number"),
    ],
)
def test_metadata_bad_value(key: str, value: Any) -> None:
    meta = _meta()
    meta[key] = value
    with pytest.raises(MetadataError, match="'a/b/.zarray'"):
        Array(_store_with(meta), path="a/b")


@pytest.mark.parametrize("where", ["compressor", "filters"])
def test_unknown_codec_id(where: str) -> None:
    meta = _meta()
    config = {"id": "no-such-codec-xyz", "level": 1}
    meta[where] = config if where == "compressor" else [config]
    with pytest.raises(MetadataError, match="no-such-codec-xyz") as info:
        Array(_store_with(meta), path="a/b")
    assert ".zarray" in str(info.value)


# -- chunks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("compressor", ["default", None, numcodecs.Zstd()])
def test_corrupt_chunk_names_its_key(compressor: Any) -> None:
    store = MemoryStore()
    arr = zarrkit.zeros(
        (10,), chunks=(3,), dtype="i4", store=store, path="g/x", compressor=compressor
    )
    arr[:] = 1
    store["g/x/1"] = b"garbage"
    for action in (lambda: arr[:], lambda: arr[4], lambda: arr[3:6], lambda: arr.oindex[[0, 4]]):
        with pytest.raises(CorruptChunkError, match="'g/x/1'") as info:
            action()
        assert isinstance(info.value, ValueError)
        assert info.value.key == "g/x/1"
    np.testing.assert_array_equal(arr[6:], [1, 1, 1, 1])  # other chunks still read


def test_strict_missing_lists_keys() -> None:
    arr = zarrkit.zeros((10,), chunks=(3,), dtype="i4", strict_missing=True)
    arr[0:3] = 1
    np.testing.assert_array_equal(arr[0:3], [1, 1, 1])
    with pytest.raises(MissingChunkError, match="strict") as info:
        arr[:]
    assert info.value.keys == ["1", "2", "3"]
    assert all(repr(k) in str(info.value) for k in ("1", "2", "3"))
    assert isinstance(info.value, KeyError)
    lenient = Array(arr.store)
    np.testing.assert_array_equal(lenient[:], [1, 1, 1] + [0] * 7)


def test_strict_missing_many_keys_are_summarised() -> None:
    arr = zarrkit.zeros((30,), chunks=(1,), dtype="i1", strict_missing=True, path="p")
    with pytest.raises(MissingChunkError, match="and 20 more") as info:
        arr[:]
    assert len(info.value.keys) == 30
    assert "'p/0'" in str(info.value)


def test_store_errors_other_than_missing_propagate() -> None:
    """Only 'not found' means a missing chunk; any other store failure is raised."""

    class Flaky(dict):
        def __getitem__(self, key: str) -> Any:
            if key == "1":
                raise PermissionError("access denied to chunk 1")
            return super().__getitem__(key)

        def get(self, key: str, default: Any = None) -> Any:
            try:
                return self[key]
            except KeyError:
                return default

    d = Flaky()
    arr = zarrkit.zeros(6, chunks=3, dtype="i4", store=d)
    arr[:] = 5
    with pytest.raises(PermissionError, match="access denied"):
        arr[:]
