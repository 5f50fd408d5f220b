"""Metadata documents are checked strictly before anything is built from them.

Every bad ``.zarray``/``.zgroup``/``.zattrs``/``.zmetadata`` is a ``MetadataError`` naming the
document and the field; nothing is coerced (a bool, a float or a string is not an int). The
fuzz tests mutate valid documents and open them: each either opens (and then it was valid) or
raises ``MetadataError``, never another exception.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarrkit
from zarrkit.errors import MetadataError
from zarrkit.storage import DirectoryStore, MemoryStore

BASE: dict[str, Any] = {
    "zarr_format": 2,
    "shape": [10, 30],
    "chunks": [5, 30],
    "dtype": "<i4",
    "compressor": None,
    "fill_value": 0,
    "order": "C",
    "filters": None,
}


def _doc(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE), **changes}


def _text(doc: Any) -> bytes:
    return doc if isinstance(doc, bytes) else json.dumps(doc).encode()


def _open(doc: Any, store: Any = None, path: str = "foo") -> zarrkit.Array:
    store = {} if store is None else store
    store[f"{path}/.zarray"] = _text(doc)
    return zarrkit.open_array(store, path=path, mode="r")


def _refused(doc: Any, field: str | None, store: Any = None) -> MetadataError:
    """Open ``doc`` as 'foo/.zarray': a MetadataError naming the document and the field."""
    with pytest.raises(MetadataError) as info:
        _open(doc, store)
    message = str(info.value)
    assert "'foo/.zarray'" in message, message
    if field is not None:
        assert f"field {field!r}" in message, message
    return info.value


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


# -- the cases of the issue (each opened or failed with a bare exception before) --------------


def test_infinite_shape_is_refused() -> None:
    raw = _text(BASE).replace(b'"shape": [10, 30]', b'"shape": [1e999, 30]')
    assert b"1e999" in raw
    _refused(raw, "shape[0]")  # was a bare OverflowError


def test_filters_not_a_list_is_refused() -> None:
    _refused(_doc(filters=5), "filters")  # was a bare TypeError


@pytest.mark.parametrize("filters", [[5], ["zlib"], [{"level": 1}], [{"id": 3}], {"id": "zlib"}])
def test_filters_must_be_codec_objects(filters: Any) -> None:
    _refused(_doc(filters=filters), None)


def test_dtype_that_numpy_cannot_parse_is_refused() -> None:
    _refused(_doc(dtype=",<i4"), "dtype")  # was a bare SyntaxError


@pytest.mark.parametrize(
    "dtype, field",
    [
        ("nonsense", "dtype"),
        (5, "dtype"),
        (None, "dtype"),
        ({"a": "<i4"}, "dtype"),
        ("(2,)<i4", "dtype"),  # a subarray type: its dimensions belong in the shape
        ("|S0", "dtype"),  # items of zero bytes
        ("<U0", "dtype"),
        ([], "dtype"),
        ([["a", 5]], "dtype[0][1]"),
        ([[1, "<i4"]], "dtype[0][0]"),
        ([["a"]], "dtype[0]"),
        ([["a", "<i4", [1.5]]], "dtype[0][2][0]"),
        ([["a", "<i4", "2"]], "dtype[0][2]"),
        ([["a", "<i4"], ["a", "<f8"]], "dtype"),  # a repeated name
        ([["a", [["b", ",<i4"]]]], "dtype"),
    ],
)
def test_bad_dtypes_are_refused(dtype: Any, field: str) -> None:
    _refused(_doc(dtype=dtype), field)


@pytest.mark.parametrize("shape", [[2**63, 30], [2**64, 1], [2**62, 2**62], [2**40, 2**40]])
def test_shapes_beyond_int64_are_refused_at_open(shape: list[int]) -> None:
    _refused(_doc(shape=shape, chunks=[1, 1]), "shape[0]" if shape[0] >= 2**63 else "shape")


def test_chunks_beyond_int64_bytes_are_refused() -> None:
    _refused(_doc(shape=[4, 4], chunks=[2**62, 2]), "chunks")


def test_largest_int64_shape_opens_and_reads() -> None:
    z = _open(_doc(shape=[2**63 - 1], chunks=[2**40], fill_value=7))
    assert z.shape == (2**63 - 1,)
    assert z[2**63 - 2] == 7


@pytest.mark.parametrize("depth", [129, 1000, 100_000])
@pytest.mark.parametrize("name", [".zarray", ".zgroup", ".zattrs"])
def test_deep_json_is_refused(name: str, depth: int) -> None:
    """100,000 levels raised a bare RecursionError; a few hundred broke deepcopy later."""
    store: dict[str, bytes] = {}
    zarrkit.open_group(store, mode="w").zeros("foo", shape=3)
    doc = b'{"zarr_format": 2, "deep": ' + _deep(depth) + b"}"
    if name == ".zarray":
        doc = _text(BASE)[:-1] + b', "deep": ' + _deep(depth) + b"}"
        store["foo/.zarray"] = doc
    elif name == ".zgroup":
        store["foo/.zarray"] = _text(BASE)
        store["bar/.zgroup"] = doc
    else:
        store["foo/.zattrs"] = doc
    with pytest.raises(MetadataError) as info:
        if name == ".zarray":
            zarrkit.open_array(store, path="foo", mode="r")
        elif name == ".zgroup":
            zarrkit.open_group(store, path="bar", mode="r")
        else:
            zarrkit.open_array(store, path="foo", mode="r").attrs.asdict()
    where = "'bar/.zgroup'" if name == ".zgroup" else f"'foo/{name}'"
    assert where in str(info.value)
    if depth < 1000:  # parsed, then refused by the depth check, which names the field
        assert "field 'deep'" in str(info.value)


def test_nesting_up_to_the_limit_works() -> None:
    store: dict[str, bytes] = {}
    z = zarrkit.open_group(store, mode="w").zeros("foo", shape=3)
    deep: Any = []
    for _ in range(126):
        deep = [deep]  # 127 lists below the document: 128 levels
    z.attrs["deep"] = deep
    with pytest.raises(TypeError, match="deeper than 128"):
        z.attrs["deeper"] = [deep]  # refused before writing: it could not be read back
    again = zarrkit.open_array(store, path="foo", mode="r")
    assert again.attrs["deep"] == deep
    zarrkit.consolidate_metadata(store)
    assert zarrkit.open_consolidated(store, mode="r")["foo"].attrs["deep"] == deep


@pytest.mark.parametrize(
    "shape, chunks, field",
    [
        ("99", [5, 5], "shape"),  # opened as (9, 9)
        ([1.5, 30], [5, 30], "shape[0]"),  # opened as (1, 30)
        ([True, 30], [5, 30], "shape[0]"),  # opened as (1, 30)
        ([10, 30], "55", "chunks"),
        ([10, 30], [5.0, 30], "chunks[0]"),
        ([10, 30], [True, 30], "chunks[0]"),
        ([10, "30"], [5, 30], "shape[1]"),
        ({"0": 10}, [5], "shape"),
        (10, [5], "shape"),
        (None, [5], "shape"),
        ([-1, 30], [5, 30], "shape[0]"),
        ([10, 30], [0, 30], "chunks[0]"),
        ([10, 30], [5], "chunks"),
        ([1] * 65, [1] * 65, "shape"),
    ],
)
def test_shape_and_chunks_are_lists_of_ints(shape: Any, chunks: Any, field: str) -> None:
    _refused(_doc(shape=shape, chunks=chunks), field)


def test_list_fill_value_of_an_int_array_is_refused() -> None:
    # was accepted, then failed inside the compiled loop with "unsupported layout"
    _refused(_doc(fill_value=[1, 2]), "fill_value")


@pytest.mark.parametrize(
    "dtype, fill",
    [
        ("<i4", 1.5),
        ("<i4", 1e300),
        ("<i4", True),
        ("<i4", "5"),
        ("<i4", "NaN"),
        ("|u1", 256),
        ("|u1", -1),
        ("<i8", 2**63),
        ("<f8", "nan"),
        ("<f8", "1.5"),
        ("<f8", True),
        ("<f8", [1.0]),
        ("<f8", 10**400),
        ("|b1", 2),
        ("|b1", "true"),
        ("<c16", 1.0),
        ("<c16", [1.0]),
        ("<c16", [1.0, "x"]),
        ("<M8[ns]", 1.5),
        ("<M8[ns]", "NaT"),
        ("<m8[s]", 2**64),
        ("<U3", 5),
        ("<U3", ["a"]),
        ("|S3", [1]),
        ("|S3", 1.5),
        ("|V3", "not base64!"),
        ("|V3", "AAAAAAAA"),  # six bytes for items of three
        ("|V3", 0),
        ([["a", "<i4"]], [0]),
    ],
)
def test_fill_value_is_checked_against_the_dtype(dtype: Any, fill: Any) -> None:
    _refused(_doc(dtype=dtype, fill_value=fill), "fill_value")


@pytest.mark.parametrize(
    "dtype, fill, expected",
    [
        ("<i4", -5, -5),
        ("<i4", 2.0, 2),  # written by other tools: the same integer
        ("|u1", 255, 255),
        ("<i8", -(2**63), -(2**63)),
        ("<f8", 1.5, 1.5),
        ("<f4", 3, 3.0),
        ("<f8", "Infinity", np.inf),
        ("<f8", "-Infinity", -np.inf),
        ("<f8", "NaN", np.nan),
        ("|b1", True, True),
        ("|b1", False, False),
        ("<c16", [1.0, "NaN"], complex(1, np.nan)),
        ("<c8", [0, -2.5], complex(0, -2.5)),
        ("|S3", "YWJj", b"abc"),
        ("|S3", 0, b"0"),  # what early zarr 2 versions wrote
        ("<U3", "xyz", "xyz"),
        ("<M8[ns]", -(2**63), np.datetime64("NaT", "ns")),
        ("<M8[s]", 60, np.datetime64(60, "s")),
        ("<m8[ms]", 5, np.timedelta64(5, "ms")),
        ("|V3", "YWJj", np.void(b"abc")),
        ("<i4", None, None),
        ("<f8", None, None),
    ],
)
def test_fill_values_zarr2_writes_are_accepted(dtype: Any, fill: Any, expected: Any) -> None:
    z = _open(_doc(dtype=dtype, fill_value=fill))
    if expected is None:
        assert z.fill_value is None
    elif isinstance(expected, float) and math.isnan(expected):
        assert np.isnan(z.fill_value)
    elif isinstance(expected, np.datetime64) and np.isnat(expected):
        assert np.isnat(z.fill_value) and z.fill_value.dtype == z.dtype
    elif isinstance(expected, complex):
        np.testing.assert_equal(complex(z.fill_value), expected)
    else:
        assert z.fill_value == expected
    if fill is not None:
        np.testing.assert_array_equal(z[0, :2], np.array([z.fill_value] * 2, dtype=z.dtype))


def test_structured_fill_value_is_base64_of_the_item() -> None:
    dtype = [["a", "<i4"], ["b", "<f8", [2]]]
    item = np.array((3, [1.0, 2.0]), dtype=[("a", "<i4"), ("b", "<f8", (2,))])
    import base64

    z = _open(_doc(dtype=dtype, fill_value=base64.b64encode(item.tobytes()).decode()))
    assert z[0, 0]["a"] == 3
    assert z[0, 0]["b"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("fill", [None, 0, "", "x", [1, 2], {"a": [1]}, 1.5, True])
def test_object_fill_values_are_any_json_value(fill: Any) -> None:
    z = _open(_doc(dtype="|O", filters=[{"id": "json2"}], fill_value=fill))
    assert z.fill_value == fill


@pytest.mark.parametrize(
    "field, value",
    [
        ("zarr_format", 2.0),
        ("zarr_format", True),
        ("zarr_format", "2"),
        ("order", "c"),
        ("order", ["C"]),
        ("compressor", {"level": 1}),
        ("compressor", {"id": None}),
        ("compressor", ["zlib"]),
        ("dimension_separator", ""),
        ("dimension_separator", 0),
    ],
)
def test_other_fields_are_strict(field: str, value: Any) -> None:
    _refused(_doc(**{field: value}), None if field == "zarr_format" else field)


def test_zarr_format_error_names_the_field() -> None:
    error = _refused(_doc(zarr_format=2.0), None)
    assert "zarr_format" in str(error)


@pytest.mark.parametrize("store_kind", ["dict", "memory", "directory"])
def test_every_store_kind_refuses(store_kind: str, tmp_path: Any) -> None:
    store: Any = {
        "dict": lambda: {},
        "memory": MemoryStore,
        "directory": lambda: DirectoryStore(str(tmp_path)),
    }[store_kind]()
    _refused(_doc(shape=[True, 30]), "shape[0]", store)


def test_zero_dimensional_arrays_still_open() -> None:
    z = _open(_doc(shape=[], chunks=[], fill_value=4))
    assert z.shape == ()
    assert z[()] == 4


# -- .zgroup, .zattrs, .zmetadata ----------------------------------------------------------


@pytest.mark.parametrize("doc", [{"zarr_format": 2.0}, {"zarr_format": True}, {}, [2], 2])
def test_zgroup_is_strict(doc: Any) -> None:
    store = {"g/.zgroup": json.dumps(doc).encode()}
    with pytest.raises(MetadataError, match="'g/.zgroup'") as info:
        zarrkit.open_group(store, path="g", mode="r")
    assert "zarr_format" in str(info.value)


@pytest.mark.parametrize("doc", [[1, 2], "a", 5, None])
def test_zattrs_must_be_an_object(doc: Any) -> None:
    store: dict[str, bytes] = {}
    zarrkit.open_group(store, mode="w")
    store[".zattrs"] = json.dumps(doc).encode()
    with pytest.raises(MetadataError, match="'.zattrs'"):
        zarrkit.open_group(store, mode="r").attrs.asdict()


def _consolidated_store() -> dict[str, bytes]:
    store: dict[str, bytes] = {}
    root = zarrkit.open_group(store, mode="w")
    root.zeros("foo", shape=3).attrs["a"] = 1
    zarrkit.consolidate_metadata(store)
    return store


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d.update(zarr_consolidated_format=True), "zarr_consolidated_format"),
        (lambda d: d.update(zarr_consolidated_format=1.0), "zarr_consolidated_format"),
        (lambda d: d.update(metadata=[]), "metadata"),
        (lambda d: d["metadata"].update({"foo/.zarray": 5}), "metadata['foo/.zarray']"),
        (lambda d: d["metadata"].update({"foo/.zattrs": [1]}), "metadata['foo/.zattrs']"),
        (lambda d: d["metadata"].update({".zgroup": "x"}), "metadata['.zgroup']"),
    ],
)
def test_zmetadata_is_strict(change: Any, field: str) -> None:
    store = _consolidated_store()
    doc = json.loads(store[".zmetadata"])
    change(doc)
    store[".zmetadata"] = json.dumps(doc).encode()
    with pytest.raises(MetadataError, match="'.zmetadata'") as info:
        zarrkit.open_consolidated(store, mode="r")
    assert field in str(info.value)


def test_documents_inside_zmetadata_are_checked_where_read() -> None:
    store = _consolidated_store()
    doc = json.loads(store[".zmetadata"])
    doc["metadata"]["foo/.zarray"]["shape"] = [True]
    store[".zmetadata"] = json.dumps(doc).encode()
    root = zarrkit.open_consolidated(store, mode="r")
    with pytest.raises(MetadataError, match=r"'foo/\.zarray': field 'shape\[0\]'"):
        root["foo"]


def test_deep_zmetadata_is_refused() -> None:
    store = _consolidated_store()
    raw = store[".zmetadata"]
    for depth in (200, 100_000):
        store[".zmetadata"] = raw[:-1] + b', "deep": ' + _deep(depth) + b"}"
        with pytest.raises(MetadataError, match="'.zmetadata'"):
            zarrkit.open_consolidated(store, mode="r")


# -- fuzzing -------------------------------------------------------------------------------

VALID_ARRAYS: list[dict[str, Any]] = [
    BASE,
    _doc(dtype="<f8", fill_value="NaN", compressor={"id": "zlib", "level": 1}),
    _doc(dtype="|b1", fill_value=True, order="F", dimension_separator="/"),
    _doc(dtype="<c16", fill_value=[1.0, "-Infinity"]),
    _doc(dtype="|S3", fill_value="YWJj", filters=[{"id": "delta", "dtype": "|S3"}]),
    _doc(dtype=[["a", "<i4"], ["b", "<f8", [2]]], fill_value=None),
    _doc(dtype="<M8[ns]", fill_value=-(2**63)),
    _doc(dtype="<U2", fill_value="ab"),
    _doc(dtype="|O", fill_value="", filters=[{"id": "vlen-utf8"}]),
    _doc(shape=[], chunks=[], fill_value=3),
    _doc(shape=[0, 2**40], chunks=[1, 2**20], dtype="<u2", fill_value=65535),
]

_WORDS = [
    "<i4", "|u1", "<f8", "|b1", "|O", "|S3", "<U2", "|V3", "<M8[ns]", ",<i4", "(2,)<i4", "S0",
    "C", "F", ".", "/", "NaN", "Infinity", "-Infinity", "99", "id", "zlib", "blosc", "delta",
    "YWJj", "",
]  # fmt: skip
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**66), max_value=2**66)
    | st.sampled_from([0, 1, 2, 5, 30, 2**31, 2**62, 2**63 - 1, 2**63, -1])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
    | st.sampled_from(_WORDS)
)
JSON_VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "level", "dtype", "a"]) | st.text(max_size=3), inner
        )
    ),
    max_leaves=8,
)
_DEEP = "__deep_nesting__"


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], fields: list[str]) -> tuple[Any, bytes]:
    """A mutation of ``base``: its parsed form (None if not JSON-representable) and text."""
    doc: Any = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "delete", "deep", "retype", "element", "whole"]))
        field = draw(st.sampled_from(fields))
        if not isinstance(doc, dict):
            break
        if kind == "whole":
            doc = draw(JSON_VALUES)
        elif kind == "replace":
            doc[field] = draw(JSON_VALUES)
        elif kind == "delete":
            doc.pop(field, None)
        elif kind == "deep":
            doc[field] = _DEEP
        elif kind == "retype" and field in doc:
            value = doc[field]
            doc[field] = draw(
                st.sampled_from(
                    [str(value), [value], {"v": value}, True, 1.0 * bool(value), json.dumps(value)]
                )
            )
        elif kind == "element" and isinstance(doc.get(field), list) and doc[field]:
            i = draw(st.integers(0, len(doc[field]) - 1))
            doc[field][i] = draw(JSON_VALUES)
    text = json.dumps(doc)
    if json.dumps(_DEEP) in text:  # (the placeholder as a value, not inside another string)
        depth = draw(st.sampled_from([MAX_OK, MAX_OK + 1, 600, 5000]))
        text = text.replace(json.dumps(_DEEP), "[" * depth + "]" * depth)
        doc = json.loads(text) if depth < 900 else None  # past that the parser gives up
    return doc, text.encode()


MAX_OK = 127  # containers below a top-level field: 128 levels with the document itself


def _depth(doc: Any) -> int:
    """How deeply containers nest in ``doc`` (the document itself is level 1)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, level)
            values = node.values() if isinstance(node, dict) else node
            stack.extend((v, level + 1) for v in values)
    return deepest


def _is_int(v: Any) -> bool:
    return type(v) is int


def _expect_valid_array(doc: Any, z: zarrkit.Array) -> None:
    """An array opened: the document must have been what a valid .zarray holds."""
    assert isinstance(doc, dict) and _depth(doc) <= MAX_OK + 1
    assert type(doc["zarr_format"]) is int and doc["zarr_format"] == 2
    for name in ("shape", "chunks"):
        assert isinstance(doc[name], list) and all(map(_is_int, doc[name])), doc[name]
    assert z.shape == tuple(doc["shape"]) and all(type(s) is int for s in z.shape)
    assert z.chunks == tuple(doc["chunks"]) and all(type(c) is int for c in z.chunks)
    assert doc["order"] in ("C", "F") and z.order == doc["order"]
    assert doc.get("dimension_separator") in (None, ".", "/")
    fill = doc["fill_value"]
    kind = z.dtype.kind
    if fill is None:
        assert z.fill_value is None
    elif kind in "iu":  # an integer, or a float holding one exactly (other writers' 0.0)
        assert _is_int(fill) or (type(fill) is float and fill.is_integer())
        assert z.fill_value == fill
    elif kind in "mM":
        assert _is_int(fill)
    elif kind == "f":
        assert fill in ("NaN", "Infinity", "-Infinity") or type(fill) in (int, float)
    elif kind == "b":
        assert type(fill) is bool or fill in (0, 1)
    elif kind == "c":
        assert isinstance(fill, list) and len(fill) == 2
    elif kind in "SVU":
        assert isinstance(fill, (str, int)) and type(fill) is not bool
    region = tuple(slice(0, min(s, 3)) for s in z.shape)
    got = z[region]
    assert got.shape == tuple(min(s, 3) for s in z.shape)


def _check_array_doc(doc: Any, text: bytes) -> None:
    store = {".zarray": text, "sub/.zarray": text}
    try:
        z = zarrkit.open_array(store, mode="r")
    except MetadataError as e:
        assert "'.zarray'" in str(e)
        return
    _expect_valid_array(doc, z)
    # through a group too (a parsed document handed over)
    store[".zgroup"] = b'{"zarr_format": 2}'
    del store[".zarray"]
    _expect_valid_array(doc, zarrkit.open_group(store, mode="r")["sub"])


_FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_FUZZ
@given(data=st.data())
def test_fuzz_zarray(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(VALID_ARRAYS))
    fields = [*base, "filters", "dimension_separator", "extra"]
    doc, text = data.draw(mutated(base, fields))
    _check_array_doc(doc, text)


@pytest.mark.parametrize("base", VALID_ARRAYS, ids=lambda d: str(d["dtype"]))
def test_valid_fuzz_bases_open(base: dict[str, Any]) -> None:
    _check_array_doc(base, _text(base))
    z = zarrkit.open_array({".zarray": _text(base)}, mode="r")
    assert z.shape == tuple(base["shape"])


@_FUZZ
@given(data=st.data())
def test_fuzz_zgroup_and_zattrs(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from([".zgroup", ".zattrs"]))
    base: dict[str, Any] = (
        {"zarr_format": 2} if name == ".zgroup" else {"a": 1, "b": [1, "x"], "c": {"d": None}}
    )
    doc, text = data.draw(mutated(base, [*base, "zarr_format", "e"]))
    store = {".zgroup": b'{"zarr_format": 2}', name: text}
    try:
        g = zarrkit.open_group(store, mode="r")
        attrs = g.attrs.asdict()
    except MetadataError as e:
        assert f"'{name}'" in str(e)
        return
    assert isinstance(doc, dict) and _depth(doc) <= MAX_OK + 1
    if name == ".zgroup":
        assert type(doc["zarr_format"]) is int and doc["zarr_format"] == 2
    else:  # (compared as JSON text: a NaN attribute equals itself there)
        assert json.dumps(attrs, sort_keys=True) == json.dumps(doc, sort_keys=True)


@_FUZZ
@given(data=st.data())
def test_fuzz_zmetadata(data: st.DataObject) -> None:
    store = _consolidated_store()
    base = json.loads(store[".zmetadata"])
    where = data.draw(st.sampled_from(["top", ".zgroup", "foo/.zarray", "foo/.zattrs"]))
    doc: Any
    if where == "top":
        doc, text = data.draw(mutated(base, [*base, "x"]))
    else:
        # the mutated document spliced in as text (it may nest too deeply for json.dumps)
        inner = base["metadata"][where]
        inner_doc, inner_text = data.draw(mutated(inner, [*inner, "x"]))
        outer = copy.deepcopy(base)
        outer["metadata"][where] = _DEEP
        text = json.dumps(outer).encode().replace(json.dumps(_DEEP).encode(), inner_text)
        doc = None if inner_doc is None else json.loads(text)
    store[".zmetadata"] = text
    names = (".zmetadata", ".zgroup", ".zattrs", "foo/.zarray", "foo/.zattrs")
    try:
        root = zarrkit.open_consolidated(store, mode="r")
        foo = root["foo"]
        foo[...]  # (0-d arrays too)
        attrs = foo.attrs.asdict()
        root.attrs.asdict()
    except MetadataError as e:
        assert any(f"'{name}'" in str(e) for name in names), str(e)
        return
    except KeyError:
        # a valid document that holds no group at the root or no array 'foo'
        assert isinstance(doc, dict)
        held = doc["metadata"]
        assert ".zgroup" not in held or "foo/.zarray" not in held
        return
    assert isinstance(doc, dict)
    for inner in doc["metadata"].values():
        assert _depth(inner) <= MAX_OK + 1
    assert type(doc["zarr_consolidated_format"]) is int and doc["zarr_consolidated_format"] == 1
    assert isinstance(foo, zarrkit.Array)
    _expect_valid_array(doc["metadata"]["foo/.zarray"], foo)
    expected = doc["metadata"].get("foo/.zattrs", {})
    assert json.dumps(attrs, sort_keys=True) == json.dumps(expected, sort_keys=True)
