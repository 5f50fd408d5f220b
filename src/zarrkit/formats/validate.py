"""Strict checks of metadata documents, before anything is built from them.

Every document (``.zarray``, ``.zgroup``, ``.zattrs``, ``.zmetadata``) goes through one of the
``check_*`` functions here. The checks are strict about JSON types: a bool is not an int, a
float is not an int, a string is not a sequence. Nothing is coerced; every violation is a
:class:`~zarrkit.errors.MetadataError` naming the document (its key) and the field, e.g.
``metadata at 'foo/.zarray': field 'shape[0]' must be an integer, not 1.5``.

The checkers only look at the document; the translators in ``formats.v2`` build records from
what passed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import reprlib
import warnings
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np

from ..errors import MetadataError

#: How deeply containers may nest in a metadata document. Python's recursive helpers
#: (``copy.deepcopy``, the JSON encoder) stop near 500 levels; real documents stay far below.
MAX_DEPTH = 128
INT64_MAX = 2**63 - 1
# the most dimensions NumPy gives an array
MAX_NDIM = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32

_CONTAINERS = (dict, list, tuple)
_SEQUENCES = (list, tuple)
# the dtypes of the strings met in .zarray documents (np.dtype() parses a string every call)
_DTYPES: dict[str, np.dtype] = {}
_FLOAT_WORDS = ("NaN", "Infinity", "-Infinity")
_INT_TYPE = frozenset({int})
_STR_TYPE = frozenset({str})
_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})


_SHORT = reprlib.Repr()
_SHORT.maxlevel = 3
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlong = 40


def short(value: Any) -> str:
    """A bounded repr of a document value for messages (values may be huge or deeply nested)."""
    return _SHORT.repr(value)


def where(key: str, field: str | None = None) -> str:
    """The start of an error message: the document and, when there is one, the field."""
    text = f"metadata at {key!r}"
    return f"{text}: field {field!r}" if field is not None else text


def _fail(key: str, field: str | None, problem: str) -> MetadataError:
    return MetadataError(f"{where(key, field)} {problem}")


def is_int(value: Any) -> bool:
    """True for an integer that is not a bool (Python's or NumPy's)."""
    if type(value) is int:
        return True
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """True for an integer or a float that is not a bool."""
    return is_int(value) or isinstance(value, (float, np.floating))


# -- generic JSON --------------------------------------------------------------------------


def check_tree(
    doc: Any, key: str, string_keys: bool = True, field: str | None = None, depth: int = 1
) -> None:
    """Refuse containers nested deeper than :data:`MAX_DEPTH` and (with ``string_keys``)
    dict keys that are not strings (what JSON cannot hold). The error names the top-level
    field holding them (``field``, when ``doc`` is that field's value at level ``depth``)."""
    if not isinstance(doc, _CONTAINERS):
        return
    stack: list[tuple[Any, int, str | None]] = [(doc, depth, field)]
    while stack:
        node, level, top = stack.pop()
        if level > MAX_DEPTH:
            raise _fail(key, top, f"nests containers deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            for k, v in node.items():
                if string_keys and type(k) is not str:
                    raise _fail(key, top if top is not None else repr(k), "has a non-string key")
                if isinstance(v, _CONTAINERS):
                    stack.append((v, level + 1, k if top is None else top))
        else:
            for i, v in enumerate(node):
                if isinstance(v, _CONTAINERS):
                    stack.append((v, level + 1, f"[{i}]" if top is None else top))


def _flat(d: dict) -> bool:
    """True for a dict of string keys and values that are not containers."""
    return _LEAF_TYPES.issuperset(map(type, d.values())) and _STR_TYPE.issuperset(map(type, d))


def check_format(doc: dict, key: str, field: str, version: int) -> None:
    """The format number ``doc[field]`` is the integer ``version``."""
    found = doc[field]
    if not is_int(found) or found != version:
        raise MetadataError(
            f"{where(key)} has {field} {short(found)}; only {version} is supported "
            f"(field {field!r} must be the integer {version})"
        )


# -- .zarray -------------------------------------------------------------------------------

ARRAY_REQUIRED = ("zarr_format", "shape", "chunks", "dtype", "compressor", "fill_value", "order")
_ARRAY_REQUIRED_SET = frozenset(ARRAY_REQUIRED)
_INT_LISTS = ("shape", "chunks")  # checked item by item: no deeper containers pass


class ArrayFields(NamedTuple):
    """The checked fields of a ``.zarray`` document (the fill value is checked, not built)."""

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: np.dtype
    order: Literal["C", "F"]
    compressor: dict | None
    filters: list | None
    dimension_separator: str | None


def check_array(doc: Any, key: str) -> ArrayFields:
    """Check a parsed ``.zarray`` document: every field, and the fill value against the
    dtype. Returns the fields built so far (ints, the dtype) so nothing is parsed twice."""
    if not isinstance(doc, dict):
        raise MetadataError(f"{where(key)} is not a JSON object ({type(doc).__name__})")
    for name, value in doc.items():  # check_tree, field by field (shape and chunks below)
        if type(name) is not str:
            raise _fail(key, repr(name), "is not a string key")
        if isinstance(value, _CONTAINERS) and name not in _INT_LISTS:
            if type(value) is dict and _flat(value):
                continue  # a codec configuration of plain values
            check_tree(value, key, True, name, 2)
    if not _ARRAY_REQUIRED_SET.issubset(doc):
        missing = next(k for k in ARRAY_REQUIRED if k not in doc)
        raise MetadataError(f"{where(key)} is missing required key {missing!r}")
    check_format(doc, key, "zarr_format", 2)
    shape = _int_list(doc["shape"], key, "shape", minimum=0)
    chunks = _int_list(doc["chunks"], key, "chunks", minimum=1)
    if len(shape) != len(chunks):
        raise _fail(
            key,
            "chunks",
            f"has {len(chunks)} dimensions but 'shape' has {len(shape)}: "
            f"'shape' and 'chunks' differ in length",
        )
    if len(shape) > MAX_NDIM:
        raise _fail(key, "shape", f"has {len(shape)} dimensions; NumPy allows {MAX_NDIM}")
    if math.prod(shape) > INT64_MAX:
        raise _fail(key, "shape", f"holds more than 2**63 - 1 items: {list(shape)}")
    dtype = check_dtype(doc["dtype"], key)
    if math.prod(chunks) * dtype.itemsize > INT64_MAX:
        raise _fail(key, "chunks", f"makes chunks of more than 2**63 - 1 bytes: {list(chunks)}")
    order: Literal["C", "F"] = doc["order"]
    if type(order) is not str or order not in ("C", "F"):
        raise _fail(key, "order", f"must be 'C' or 'F', not {short(order)}")
    sep = doc.get("dimension_separator")
    if sep is not None and (type(sep) is not str or sep not in (".", "/")):
        raise _fail(key, "dimension_separator", f"must be '.' or '/', not {short(sep)}")
    compressor = doc["compressor"]
    if compressor is not None:
        _check_codec(compressor, key, "compressor")
    filters = doc.get("filters")
    if filters is not None:
        if not isinstance(filters, _SEQUENCES):
            raise _fail(key, "filters", f"must be null or a list of codecs, not {short(filters)}")
        for i, f in enumerate(filters):
            _check_codec(f, key, f"filters[{i}]")
        filters = list(filters)
    check_fill_value(doc["fill_value"], dtype, key)
    return ArrayFields(shape, chunks, dtype, order, compressor, filters, sep)


def _int_list(values: Any, key: str, field: str, minimum: int) -> tuple[int, ...]:
    """``values`` as a tuple of ints, each in ``[minimum, 2**63 - 1]``."""
    if not isinstance(values, _SEQUENCES):
        raise _fail(key, field, f"must be a list of integers, not {short(values)}")
    out = tuple(values)
    if _INT_TYPE.issuperset(map(type, out)) and (
        not out or (min(out) >= minimum and max(out) <= INT64_MAX)
    ):
        return out  # the common case: plain ints in range
    for i, v in enumerate(out):
        if not is_int(v):
            raise _fail(key, f"{field}[{i}]", f"must be an integer, not {short(v)}")
        if not minimum <= v <= INT64_MAX:
            wanted = "a non-negative" if minimum == 0 else "a positive"
            raise _fail(
                key, f"{field}[{i}]", f"must be {wanted} integer below 2**63, not {short(v)}"
            )
    if any(type(v) is not int for v in out):
        out = tuple(int(v) for v in out)
    return out


def _check_codec(config: Any, key: str, field: str) -> None:
    """A numcodecs configuration: an object with a string ``"id"``."""
    if not isinstance(config, dict):
        raise _fail(key, field, f"must be null or a codec object with an 'id', not {short(config)}")
    codec_id = config.get("id")
    if type(codec_id) is not str:
        raise _fail(key, field, f"must have a string 'id', not {short(codec_id)}")


# -- dtypes --------------------------------------------------------------------------------


def check_dtype(d: Any, key: str, field: str = "dtype") -> np.dtype:
    """The dtype of a ``.zarray`` ``dtype`` value: a NumPy type string (``'<i4'``) or a
    structured list of ``[name, type]`` / ``[name, type, shape]`` items."""
    if type(d) is str:
        dtype = _DTYPES.get(d)
        if dtype is not None:
            return dtype
    elif isinstance(d, _SEQUENCES):
        _check_fields(d, key, field)
    else:
        raise _fail(key, field, f"must be a type string or a list of fields, not {short(d)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated aliases still parse
            dtype = np.dtype(_as_descr(d))
    except Exception as e:  # numpy raises TypeError, ValueError, SyntaxError, KeyError...
        raise _fail(
            key, field, f"is not a data type: {short(d)} ({type(e).__name__}: {str(e)[:200]})"
        ) from None
    if dtype.shape != ():
        raise _fail(
            key, field, f"is a subarray type {short(d)}; the array's shape holds dimensions"
        )
    if dtype.itemsize == 0:
        raise _fail(key, field, f"has items of zero bytes: {short(d)}")
    if type(d) is str and len(_DTYPES) < 1024:
        _DTYPES[d] = dtype
    return dtype


def _check_fields(fields: Any, key: str, field: str) -> None:
    """The items of a structured dtype: ``[name, type]`` or ``[name, type, shape]``."""
    if not fields:
        raise _fail(key, field, "is an empty list of fields")
    for i, item in enumerate(fields):
        at = f"{field}[{i}]"
        if not isinstance(item, _SEQUENCES) or len(item) not in (2, 3):
            raise _fail(key, at, f"must be [name, type] or [name, type, shape], not {short(item)}")
        if type(item[0]) is not str:
            raise _fail(key, f"{at}[0]", f"must be a field name (a string), not {short(item[0])}")
        typ = item[1]
        if isinstance(typ, _SEQUENCES):
            _check_fields(typ, key, f"{at}[1]")
        elif type(typ) is not str:
            raise _fail(key, f"{at}[1]", f"must be a type string or a list, not {short(typ)}")
        if len(item) == 3:
            shape = _int_list(item[2], key, f"{at}[2]", minimum=0)
            if math.prod(shape) > INT64_MAX:
                raise _fail(key, f"{at}[2]", f"is too large: {short(item[2])}")


def _as_descr(d: Any) -> Any:
    """A checked ``dtype`` value as ``np.dtype`` takes it (lists of fields as tuples)."""
    if type(d) is str:
        return d
    out: list[tuple] = []
    for item in d:
        typ = _as_descr(item[1]) if isinstance(item[1], _SEQUENCES) else item[1]
        if len(item) == 3:
            out.append((item[0], typ, tuple(int(n) for n in item[2])))
        else:
            out.append((item[0], typ))
    return out


# -- fill values ---------------------------------------------------------------------------


def check_fill_value(v: Any, dtype: np.dtype, key: str, field: str = "fill_value") -> None:
    """The JSON form of a fill value as zarr 2 writes it for ``dtype``: an int for integer
    and datetime types, a number or ``"NaN"``/``"Infinity"``/``"-Infinity"`` for floats,
    ``[re, im]`` for complex, a bool, base64 text for bytes and structured items, a string
    for unicode, any JSON value for objects; null for none."""
    if v is None:
        return
    check = _FILL_CHECKS.get(dtype.kind)
    if check is not None:
        problem = check(v, dtype)
        if problem:
            raise _fail(key, field, f"{problem} for dtype {dtype.str}, not {short(v)}")


def _fill_int(v: Any, dtype: np.dtype) -> str | None:
    # a float with an integral value (0.0) is taken: other writers than zarr 2 store them
    # and the value is the same integer (never rounded: 2.5 is refused)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not is_int(v):
        return "must be an integer"
    low, high = _int_range(dtype)
    if not low <= v <= high:
        return f"must be an integer in [{low}, {high}]"
    return None


@functools.lru_cache(maxsize=64)
def _int_range(dtype: np.dtype) -> tuple[int, int]:
    """The smallest and largest value of an integer dtype."""
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _fill_bool(v: Any, dtype: np.dtype) -> str | None:
    if isinstance(v, (bool, np.bool_)) or (is_int(v) and v in (0, 1)):
        return None
    return "must be true or false"


def _fill_float(v: Any, dtype: np.dtype) -> str | None:
    if type(v) is str:
        return None if v in _FLOAT_WORDS else 'must be a number, "NaN", "Infinity" or "-Infinity"'
    if not is_number(v):
        return 'must be a number, "NaN", "Infinity" or "-Infinity"'
    try:
        float(v)
    except OverflowError:
        return "must be a number within the range of a float"
    return None


def _fill_complex(v: Any, dtype: np.dtype) -> str | None:
    if not isinstance(v, _SEQUENCES) or len(v) != 2:
        return "must be [real, imaginary]"
    for part in v:
        if _fill_float(part, dtype):
            return "must be [real, imaginary] of numbers or NaN/Infinity words"
    return None


def _fill_datetime(v: Any, dtype: np.dtype) -> str | None:
    if not is_int(v) or not -(2**63) <= v <= INT64_MAX:
        return "must be a 64-bit integer"
    return None


def _fill_bytes(v: Any, dtype: np.dtype) -> str | None:
    if type(v) is str:
        if not v.isascii():
            return "must be base64 text"
        return None
    if is_int(v):  # early zarr 2 versions wrote e.g. 0
        return None
    return "must be base64 text"


def _fill_void(v: Any, dtype: np.dtype) -> str | None:
    if type(v) is not str:
        return "must be base64 text"
    try:
        raw = base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return "must be base64 text"
    if not dtype.hasobject and len(raw) != dtype.itemsize:
        return f"must be base64 text of {dtype.itemsize} bytes"
    return None


def _fill_unicode(v: Any, dtype: np.dtype) -> str | None:
    # early zarr 2 versions wrote 0 (zarr 2's format-compatibility fixture has one)
    return None if type(v) is str or v == 0 and is_int(v) else "must be a string"


_FILL_CHECKS: dict[str, Callable[[Any, np.dtype], str | None]] = {
    "i": _fill_int,
    "u": _fill_int,
    "b": _fill_bool,
    "f": _fill_float,
    "c": _fill_complex,
    "m": _fill_datetime,
    "M": _fill_datetime,
    "S": _fill_bytes,
    "V": _fill_void,
    "U": _fill_unicode,
    # "O": any JSON value, stored as is
}


# -- .zgroup, .zattrs, .zmetadata ----------------------------------------------------------


def check_group(doc: Any, key: str) -> dict:
    """A ``.zgroup`` document: an object with ``"zarr_format": 2``."""
    if not isinstance(doc, dict) or "zarr_format" not in doc:
        raise MetadataError(f"{where(key)} is missing required key 'zarr_format'")
    check_tree(doc, key)
    check_format(doc, key, "zarr_format", 2)
    return doc


def check_attrs(doc: Any, key: str) -> dict:
    """A ``.zattrs`` document: a JSON object."""
    if not isinstance(doc, dict):
        raise MetadataError(f"attributes at {key!r} are not a JSON object ({type(doc).__name__})")
    check_tree(doc, key)
    return doc


_DOCUMENT_NAMES = (".zarray", ".zgroup", ".zattrs")


def check_consolidated(doc: Any, key: str) -> dict:
    """A ``.zmetadata`` document: ``"zarr_consolidated_format": 1`` and ``"metadata"``, an
    object of key -> document. Every ``.zarray``/``.zgroup``/``.zattrs`` held must be an
    object; each is checked in full by its own checker where it is read."""
    if not isinstance(doc, dict) or doc.get("zarr_consolidated_format") != 1:
        found = doc.get("zarr_consolidated_format") if isinstance(doc, dict) else None
        raise MetadataError(
            f"consolidated metadata at {key!r}: unsupported or missing "
            f"'zarr_consolidated_format' ({short(found)}; 1 expected)"
        )
    if not is_int(doc["zarr_consolidated_format"]):
        raise _fail(key, "zarr_consolidated_format", "must be the integer 1")
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        raise MetadataError(f"consolidated metadata at {key!r} is missing the 'metadata' object")
    check_tree({k: v for k, v in doc.items() if k != "metadata"}, key)
    for name, inner in meta.items():
        if type(name) is not str:
            raise _fail(key, "metadata", f"has a key that is not a string: {short(name)}")
        if name.rsplit("/", 1)[-1] in _DOCUMENT_NAMES and not isinstance(inner, dict):
            raise _fail(key, f"metadata[{name!r}]", f"must be a JSON object, not {short(inner)}")
    # (how deep each document nests is checked by its own checker when it is read: opening
    # a hierarchy of many arrays does not walk them all)
    return doc
