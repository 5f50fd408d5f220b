"""Zarr v2 metadata: ``.zarray`` / ``.zgroup`` / ``.zattrs`` JSON to records and back.

The JSON is written exactly as zarr-python 2.x writes it (indent 4, sorted keys, ASCII only),
so that the bytes are identical for the same call.
"""

from __future__ import annotations

import base64
import json
import math
import numbers
import warnings
from typing import Any

import numpy as np

from ..errors import MetadataError
from . import validate
from .meta import ArrayMeta, GroupMeta

ZARR_FORMAT = 2
ARRAY_KEY = ".zarray"
GROUP_KEY = ".zgroup"
ATTRS_KEY = ".zattrs"
CONSOLIDATED_KEY = ".zmetadata"


class _NumberEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, np.bool_):
            return bool(o)
        if isinstance(o, numbers.Integral):
            return int(o)
        if isinstance(o, numbers.Real):
            return float(o)
        if isinstance(o, np.ndarray):
            return o.tolist()
        return super().default(o)


def json_dumps(obj: Any) -> bytes:
    """Serialise ``obj`` the way zarr-python 2.x does (for .zarray, .zattrs, .zmetadata).

    That is ``json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=True,
    separators=(",", ": "))`` with NumPy numbers as Python ones. The standard library runs its
    pure-Python encoder whenever ``indent`` is set; documents made of plain ``dict``,
    ``list``, ``tuple``, ``str``, ``int``, ``float``, ``bool`` and None (string keys) take a
    direct encoder here instead, giving the same bytes several times faster.
    """
    parts: list[str] = []
    try:
        _encode(obj, parts, "\n")
        text = "".join(parts)
    except (_Unplain, RecursionError):
        text = json.dumps(
            obj,
            indent=4,
            sort_keys=True,
            ensure_ascii=True,
            separators=(",", ": "),
            cls=_NumberEncoder,
        )
    return text.encode("ascii")


class _Unplain(Exception):
    """A value :func:`_encode` leaves to the standard library's encoder."""


_quote = json.encoder.encode_basestring_ascii
_INDENT = "    "


def _encode(o: Any, parts: list[str], newline: str) -> None:
    """Append the JSON of ``o`` to ``parts`` as ``json.dumps`` with zarr 2's options does."""
    t = type(o)
    if t is str:
        parts.append(_quote(o))
    elif o is None:
        parts.append("null")
    elif o is True:
        parts.append("true")
    elif o is False:
        parts.append("false")
    elif t is int:
        parts.append(int.__repr__(o))
    elif t is float:
        if o != o:
            parts.append("NaN")
        elif o == math.inf:
            parts.append("Infinity")
        elif o == -math.inf:
            parts.append("-Infinity")
        else:
            parts.append(float.__repr__(o))
    elif t is dict:
        if not o:
            parts.append("{}")
            return
        inner = newline + _INDENT
        opening = "{" + inner
        for k in o:
            if type(k) is not str:
                raise _Unplain  # the standard library converts other keys first
        for k in sorted(o):
            v = o[k]
            tv = type(v)
            if tv is str:  # the common leaves, without a call each
                parts.append(opening + _quote(k) + ": " + _quote(v))
            elif tv is int:
                parts.append(opening + _quote(k) + ": " + int.__repr__(v))
            else:
                parts.append(opening + _quote(k) + ": ")
                _encode(v, parts, inner)
            opening = "," + inner
        parts.append(newline + "}")
    elif t is list or t is tuple:
        if not o:
            parts.append("[]")
            return
        inner = newline + _INDENT
        if all(type(v) is int for v in o):  # shapes and chunks
            parts.append("[" + inner + ("," + inner).join(map(int.__repr__, o)) + newline + "]")
            return
        opening = "[" + inner
        for v in o:
            parts.append(opening)
            _encode(v, parts, inner)
            opening = "," + inner
        parts.append(newline + "]")
    else:
        raise _Unplain


def json_loads(raw: bytes | bytearray | memoryview | str, key: str = "") -> Any:
    """Parse JSON metadata, naming ``key`` in the error when it is not valid JSON (or nests
    deeper than the parser goes)."""
    try:
        if isinstance(raw, (bytes, bytearray, memoryview)):
            raw = bytes(raw).decode("utf-8")
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise MetadataError(f"metadata at {key!r} is not valid JSON: {e}") from None
    except RecursionError:
        raise MetadataError(
            f"metadata at {key!r} is not valid metadata: it nests containers deeper than "
            f"{validate.MAX_DEPTH} levels"
        ) from None


# -- dtypes --------------------------------------------------------------------------------


def encode_dtype(dtype: np.dtype) -> Any:
    """``'<i4'`` for simple dtypes, a list of ``[name, type(, shape)]`` for structured ones."""
    if dtype.fields is None:
        return dtype.str
    return [list(_jsonable_descr(d)) for d in dtype.descr]


def _jsonable_descr(d: tuple) -> tuple:
    name, typ = d[0], d[1]
    if isinstance(typ, list):
        typ = [list(_jsonable_descr(x)) for x in typ]
    if len(d) == 3:
        return (name, typ, list(d[2]))
    return (name, typ)


def _descr_to_tuples(d: Any) -> Any:
    if isinstance(d, list):
        out = []
        for item in d:
            if isinstance(item, list):
                name, typ, *shape = item
                typ = _descr_to_tuples(typ) if isinstance(typ, list) else typ
                out.append((name, typ, tuple(shape[0])) if shape else (name, typ))
            else:
                out.append(item)
        return out
    return d


def decode_dtype(d: Any) -> np.dtype:
    """Inverse of :func:`encode_dtype` (no checks: :func:`decode_array_meta` checks a
    document's ``dtype`` with ``validate.check_dtype``)."""
    if isinstance(d, list):
        return np.dtype(_descr_to_tuples(d))
    return np.dtype(d)


# -- fill values ---------------------------------------------------------------------------


def normalize_fill_value(fill_value: Any, dtype: np.dtype) -> Any:
    """Turn a user fill value into a NumPy scalar of ``dtype`` (None stays None)."""
    if type(fill_value) is int and dtype.kind in "biufc":
        return _as_scalar(fill_value, dtype)  # the common case: no zero test needed
    if fill_value is None or dtype.hasobject:
        if fill_value is not None and dtype.kind == "O":
            # zarr 2 stores an object array's fill value as is in the JSON of .zarray
            try:
                json.dumps(fill_value, cls=_NumberEncoder)
            except (TypeError, ValueError) as e:
                raise ValueError(
                    f"fill_value {fill_value!r} of an object array must be a JSON value "
                    f"(it is stored as is in .zarray), e.g. None, '' or 0: {e}"
                ) from None
        return fill_value
    if not isinstance(fill_value, (np.void, str, bytes)):
        try:
            with warnings.catch_warnings():
                # numpy < 2 warns (rather than answers False) for e.g. a datetime64 == 0
                warnings.simplefilter("ignore", DeprecationWarning)
                is_zero = bool(np.all(fill_value == 0))
        except Exception:
            is_zero = False
        if is_zero and not isinstance(fill_value, np.ndarray):
            return np.zeros((), dtype=dtype)[()]
    if dtype.kind == "U":
        if not isinstance(fill_value, str):
            raise ValueError(
                f"fill_value {fill_value!r} is not valid for dtype {dtype}; "
                "nested fill values or non-string values are not supported for unicode arrays"
            )
        return fill_value
    return _as_scalar(fill_value, dtype)


def _as_scalar(fill_value: Any, dtype: np.dtype) -> Any:
    try:
        if isinstance(fill_value, bytes) and dtype.kind == "V":
            return np.array(fill_value, dtype=dtype.str).view(dtype)[()]
        return np.array(fill_value, dtype=dtype)[()]
    except Exception as e:
        raise ValueError(f"fill_value {fill_value!r} is not valid for dtype {dtype}: {e}") from None


def encode_fill_value(v: Any, dtype: np.dtype, object_codec: Any = None) -> Any:
    """The JSON form of a fill value, as zarr-python 2.x writes it."""
    if v is None:
        return None
    if dtype.kind == "V" and dtype.hasobject:
        if object_codec is None:
            raise ValueError("missing object_codec for object array")
        return base64.standard_b64encode(object_codec.encode(v)).decode("ascii")
    kind = dtype.kind
    if kind == "f":
        if np.isnan(v):
            return "NaN"
        if np.isposinf(v):
            return "Infinity"
        if np.isneginf(v):
            return "-Infinity"
        return float(v)
    if kind == "c":
        f8 = np.dtype("f8")
        return [encode_fill_value(v.real, f8), encode_fill_value(v.imag, f8)]
    if kind in "SV":
        # a structured item's raw bytes (bytes(v) fails for datetime fields)
        raw = np.asarray(v, dtype=dtype).tobytes() if kind == "V" else v
        return base64.standard_b64encode(raw).decode("ascii")
    if kind in "mM":
        return int(np.asarray(v).view("i8"))
    if kind == "b":
        return bool(v)
    if kind in "iu":
        return int(v)
    return v


def decode_fill_value(v: Any, dtype: np.dtype, object_codec: Any = None) -> Any:
    """Inverse of :func:`encode_fill_value`."""
    if v is None:
        return None
    kind = dtype.kind
    if kind == "O":
        return v  # the JSON value itself; np.array() would turn a list into an array
    if kind == "V" and dtype.hasobject:
        if object_codec is None:
            raise ValueError("missing object_codec for object array")
        return np.array(object_codec.decode(base64.standard_b64decode(v)), dtype=dtype)[()]
    if kind == "f":
        if v == "NaN":
            return dtype.type(np.nan)
        if v == "Infinity":
            return dtype.type(np.inf)
        if v == "-Infinity":
            return dtype.type(-np.inf)
        return np.array(v, dtype=dtype)[()]
    if kind == "c":
        f8 = np.dtype("f8")
        re, im = decode_fill_value(v[0], f8), decode_fill_value(v[1], f8)
        return np.array(complex(re, im), dtype=dtype)[()]
    if kind == "S":
        try:
            v = base64.standard_b64decode(v)
        except Exception:
            pass  # be lenient: early writers stored e.g. 0
        return np.array(v, dtype=dtype.str).view(dtype)[()]
    if kind == "V":
        return np.array(base64.standard_b64decode(v), dtype=dtype.str).view(dtype)[()]
    if kind == "U":
        return v
    return np.array(v, dtype=dtype)[()]


# -- arrays --------------------------------------------------------------------------------

_RAW = (bytes, bytearray, memoryview, str)  # JSON text; anything else is a parsed document


# decoded integer fill values (NumPy scalars, immutable) by (value, dtype)
_INT_FILLS: dict[tuple[int, np.dtype], Any] = {}
_KNOWN = frozenset(validate.ARRAY_REQUIRED) | {"filters", "dimension_separator"}


def encode_array_meta(meta: ArrayMeta, object_codec: Any = None) -> bytes:
    """``.zarray`` bytes for a record.

    For object arrays the fill value is encoded with ``object_codec``, which defaults to the
    first filter (where zarr 2 keeps the object codec), as zarr-python 2.x does.
    """
    if object_codec is None and meta.dtype.hasobject and meta.filters:
        from numcodecs import get_codec

        object_codec = get_codec(dict(meta.filters[0]))
    doc: dict[str, Any] = {
        "zarr_format": ZARR_FORMAT,
        "shape": list(meta.shape),
        "chunks": list(meta.chunks),
        "dtype": encode_dtype(meta.dtype),
        "compressor": meta.compressor,
        "fill_value": encode_fill_value(meta.fill_value, meta.dtype, object_codec),
        "order": meta.order,
        "filters": list(meta.filters) if meta.filters else None,
    }
    if meta.dimension_separator:
        doc["dimension_separator"] = meta.dimension_separator
    if not meta.extra:
        try:
            return _encode_zarray(doc).encode("ascii")
        except (_Unplain, RecursionError):
            pass
    doc.update(meta.extra)
    return json_dumps(doc)


_TOP = "\n" + _INDENT


def _int_list(values: list) -> str:
    """A list of ints as :func:`json_dumps` lays it out one level down."""
    if not values:
        return "[]"
    if not _INT_TYPE.issuperset(map(type, values)):
        raise _Unplain
    inner = _TOP + _INDENT
    return "[" + inner + ("," + inner).join(map(int.__repr__, values)) + _TOP + "]"


_INT_TYPE = frozenset({int})
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
# the JSON text of compressor configurations met (a few per process), by items and their types
# (1, 1.0 and True are equal keys but different JSON)
_COMPRESSORS: dict[tuple, str] = {}


def _compressor_text(config: dict[str, Any]) -> str:
    """The JSON of a compressor configuration of plain values, as :func:`_encode_zarray`
    lays it out (encoded once per configuration)."""
    key = (*config.items(), *map(type, config.values()))
    text = _COMPRESSORS.get(key)
    if text is None:
        parts: list[str] = []
        _encode(config, parts, _TOP)
        text = "".join(parts)
        if len(_COMPRESSORS) < 256:
            _COMPRESSORS[key] = text
    return text


def _encode_zarray(doc: dict[str, Any]) -> str:
    """:func:`json_dumps` of a ``.zarray`` document with no extra keys, its keys in sorted
    order without sorting them (``_Unplain`` if a value needs the standard library)."""
    parts = ['{\n    "chunks": ', _int_list(doc["chunks"]), ',\n    "compressor": ']
    compressor = doc["compressor"]
    if type(compressor) is dict and _PLAIN_TYPES.issuperset(map(type, compressor.values())):
        parts.append(_compressor_text(compressor))
    else:
        _encode(compressor, parts, _TOP)
    if "dimension_separator" in doc:
        parts.append(',\n    "dimension_separator": ')
        _encode(doc["dimension_separator"], parts, _TOP)
    dtype, fill, filters = doc["dtype"], doc["fill_value"], doc["filters"]
    if type(dtype) is str:  # the common values inline, the others through _encode
        parts.append(',\n    "dtype": ' + _quote(dtype) + ',\n    "fill_value": ')
    else:
        parts.append(',\n    "dtype": ')
        _encode(dtype, parts, _TOP)
        parts.append(',\n    "fill_value": ')
    if type(fill) is int:
        parts.append(int.__repr__(fill) + ',\n    "filters": ')
    else:
        _encode(fill, parts, _TOP)
        parts.append(',\n    "filters": ')
    if filters is None:
        parts.append("null")
    else:
        _encode(filters, parts, _TOP)
    parts.append(
        ',\n    "order": '
        + _quote(doc["order"])
        + ',\n    "shape": '
        + _int_list(doc["shape"])
        + ',\n    "zarr_format": 2\n}'
    )
    return "".join(parts)


def decode_array_meta(raw: Any, key: str = ARRAY_KEY) -> ArrayMeta:
    """Parse ``.zarray`` bytes (or an already parsed document) into a record.

    Errors name the missing or bad key and where the metadata came from.
    """
    doc = json_loads(raw, key) if isinstance(raw, _RAW) else raw
    shape, chunks, dtype, order, compressor, filters, sep = validate.check_array(doc, key)
    try:
        fill = doc["fill_value"]
        if type(fill) is int and dtype.kind in "biu":  # the common case, decoded once
            fill_value = _INT_FILLS.get((fill, dtype))
            if fill_value is None:
                fill_value = decode_fill_value(fill, dtype)
                if len(_INT_FILLS) < 1024:
                    _INT_FILLS[fill, dtype] = fill_value
        else:
            fill_value = decode_fill_value(fill, dtype, _object_codec(dtype, filters, key))
    except MetadataError:
        raise
    except Exception as e:
        raise MetadataError(
            f"{validate.where(key, 'fill_value')} cannot be decoded for dtype {dtype.str}: {e}"
        ) from None
    return ArrayMeta._stored(
        shape=shape,
        chunks=chunks,
        dtype=dtype,
        fill_value=fill_value,
        order=order,
        compressor=compressor,
        filters=tuple(filters) if filters else None,
        dimension_separator=sep,
        extra=(
            {k: v for k, v in doc.items() if k not in _KNOWN}
            if len(doc) > 7 + ("filters" in doc) + ("dimension_separator" in doc)
            else {}
        ),
    )


def _object_codec(dtype: np.dtype, filters: list | None, key: str) -> Any:
    """The object codec (the first filter) when a structured fill value with object fields
    needs it to be decoded, else None."""
    if not (dtype.kind == "V" and dtype.hasobject and filters):
        return None
    from numcodecs import get_codec

    try:
        return get_codec(dict(filters[0]))
    except Exception as e:
        raise MetadataError(
            f"{validate.where(key, 'filters[0]')} is not an available codec: {e}"
        ) from None


# -- groups and attributes -----------------------------------------------------------------


def encode_group_meta(meta: GroupMeta | None = None) -> bytes:
    """``.zgroup`` bytes."""
    return json_dumps({"zarr_format": ZARR_FORMAT})


def decode_group_meta(raw: Any, key: str = GROUP_KEY) -> GroupMeta:
    """Parse ``.zgroup`` bytes (or check an already parsed document)."""
    doc = json_loads(raw, key) if isinstance(raw, _RAW) else raw
    validate.check_group(doc, key)
    return GroupMeta()


def encode_attrs(attrs: dict, key: str = ATTRS_KEY) -> bytes:
    """``.zattrs`` bytes (``MetadataError`` for containers nested too deeply to read back)."""
    validate.check_tree(attrs, key, string_keys=False)
    return json_dumps(attrs)


def decode_attrs(raw: Any, key: str = ATTRS_KEY) -> dict:
    """Parse ``.zattrs`` bytes (or check an already parsed document)."""
    doc = json_loads(raw, key) if isinstance(raw, _RAW) else raw
    return validate.check_attrs(doc, key)


def decode_consolidated(raw: Any, key: str = CONSOLIDATED_KEY) -> dict:
    """Parse ``.zmetadata`` bytes into the checked document (its ``"metadata"`` object maps
    keys to documents, each checked by its own decoder where it is read)."""
    doc = json_loads(raw, key) if isinstance(raw, _RAW) else raw
    return validate.check_consolidated(doc, key)


def nbytes_of(meta: ArrayMeta) -> int:
    """Uncompressed size of the whole array in bytes."""
    return math.prod(meta.shape) * meta.dtype.itemsize
