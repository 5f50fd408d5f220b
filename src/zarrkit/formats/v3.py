"""Zarr v3 metadata: ``zarr.json`` documents to records and back.

A v3 array document keeps its codec chain as a list (``codecs``); the record keeps that list
as stored in :attr:`ArrayMeta.codecs` and states the same chain in the v2 terms the pipeline
works with (see :func:`decode_array_doc`). Records made from v2 terms (``codecs`` None) are
written with the chain zarr-python 3 builds for the same v2 array (:func:`v3_codecs_from`).

The JSON is laid out as zarr-python 3 writes ``zarr.json`` (indent 2, its key order); the
contract is that it parses equal to zarr-python 3.1's document for the same array.

What is not supported yet (each a :class:`~zarrkit.errors.MetadataError` naming the field):
transposes that are not the identity or the full reversal (``"F"``), transposes after an
order-dependent filter, codecs around ``sharding_indexed`` (at any level), chunk grids
other than ``regular``, storage transformers and the ``structured`` data type.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import sys
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np

from ..errors import MetadataError
from . import validate
from .meta import ArrayMeta, GroupMeta
from .validate import INT64_MAX, MAX_NDIM, check_tree, is_int, short, where

ZARR_JSON = "zarr.json"
ZARR_FORMAT = 3

_RAW = (bytes, bytearray, memoryview, str)


def _fail(key: str, field: str | None, problem: str) -> MetadataError:
    return MetadataError(f"{where(key, field)} {problem}")


def json_loads(raw: bytes | bytearray | memoryview | str, key: str = ZARR_JSON) -> Any:
    """Parse a ``zarr.json`` document, naming ``key`` when it is not valid JSON."""
    from .v2 import json_loads as loads

    return loads(raw, key)


def json_dumps(doc: Any) -> bytes:
    """A document as zarr-python 3 writes ``zarr.json``: indent 2, keys in the given order,
    non-ASCII characters escaped."""
    return json.dumps(doc, indent=2).encode("ascii")


# -- data types ----------------------------------------------------------------------------

_SIMPLE_TYPES: dict[str, str] = {
    "bool": "b1",
    "int8": "i1",
    "int16": "i2",
    "int32": "i4",
    "int64": "i8",
    "uint8": "u1",
    "uint16": "u2",
    "uint32": "u4",
    "uint64": "u8",
    "float16": "f2",
    "float32": "f4",
    "float64": "f8",
    "complex64": "c8",
    "complex128": "c16",
}
_SIMPLE_NAMES = {np.dtype(v): k for k, v in _SIMPLE_TYPES.items()}
_OBJECT_TYPES = {"string": "vlen-utf8", "variable_length_bytes": "vlen-bytes"}
_OBJECT_NAMES = {v: k for k, v in _OBJECT_TYPES.items()}
_TIME_TYPES = {"numpy.datetime64": "M8", "numpy.timedelta64": "m8"}
_TIME_UNITS = frozenset(
    ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "μs", "ns", "ps", "fs", "as", "generic")
)
_LENGTH_TYPES = {"fixed_length_utf32": "U", "null_terminated_bytes": "S", "raw_bytes": "V"}
_RAW_BITS = re.compile(r"r([1-9][0-9]*)\Z")


class DataType(NamedTuple):
    """A checked ``data_type``: its name, the NumPy dtype in native byte order (the ``bytes``
    codec gives the stored one) and, for the object types, the codec that stores them."""

    name: str
    dtype: np.dtype
    object_codec: str | None = None


def decode_data_type(d: Any, key: str, field: str = "data_type") -> DataType:
    """Check a ``data_type`` value: a core name (``"int32"``), zarr-python 3's ``"string"``
    and ``"variable_length_bytes"``, ``"r<bits>"``, or a named object with a configuration
    (``numpy.datetime64``/``numpy.timedelta64`` with ``unit`` and ``scale_factor``;
    ``fixed_length_utf32``, ``null_terminated_bytes``, ``raw_bytes`` with ``length_bytes``).

    >>> decode_data_type("int16", "zarr.json").dtype
    dtype('int16')
    """
    if type(d) is str:
        simple = _SIMPLE_TYPES.get(d)
        if simple is not None:
            return DataType(d, np.dtype(simple))
        if d in _OBJECT_TYPES:
            return DataType(d, np.dtype(object), _OBJECT_TYPES[d])
        bits = _RAW_BITS.match(d)
        if bits is not None:
            n = int(bits.group(1))
            if n % 8:
                raise _fail(key, field, f"{d!r}: raw bits must be a multiple of 8")
            return DataType(d, np.dtype(f"V{n // 8}"))
        if d in _TIME_TYPES or d in _LENGTH_TYPES:
            raise _fail(key, field, f"{d!r} needs a configuration")
        raise _fail(key, field, f"is not a supported data type: {short(d)}")
    if not isinstance(d, dict):
        raise _fail(key, field, f"must be a type name or an object, not {short(d)}")
    name, config = _named(d, key, field)
    if name in _TIME_TYPES:
        _only_keys(config, ("unit", "scale_factor"), key, f"{field}.configuration", True)
        unit, scale = config["unit"], config["scale_factor"]
        if type(unit) is not str or unit not in _TIME_UNITS:
            raise _fail(key, f"{field}.configuration.unit", f"is not a time unit: {short(unit)}")
        if not is_int(scale) or not 1 <= scale < 2**31:
            raise _fail(
                key,
                f"{field}.configuration.scale_factor",
                f"must be a positive integer below 2**31, not {short(scale)}",
            )
        code = _TIME_TYPES[name]
        spec = code if unit == "generic" else f"{code}[{int(scale)}{unit}]"
        return DataType(name, np.dtype(spec))
    if name in _LENGTH_TYPES:
        _only_keys(config, ("length_bytes",), key, f"{field}.configuration", True)
        n = config["length_bytes"]
        at = f"{field}.configuration.length_bytes"
        if not is_int(n) or not 1 <= n <= 2**31:
            raise _fail(key, at, f"must be a positive integer, not {short(n)}")
        kind = _LENGTH_TYPES[name]
        if kind == "U":
            if n % 4:
                raise _fail(key, at, f"must be a multiple of 4 for {name}, not {n}")
            n //= 4
        return DataType(name, np.dtype(f"{kind}{int(n)}"))
    if name == "structured":
        raise _fail(key, field, "'structured' is not supported yet")
    raise _fail(key, field, f"is not a supported data type: {short(name)}")


def encode_data_type(dtype: np.dtype, object_codec: str | None = None) -> Any:
    """The ``data_type`` of a NumPy dtype as zarr-python 3 writes it (its byte order is the
    ``bytes`` codec's business); object arrays need their codec (``"vlen-utf8"`` or
    ``"vlen-bytes"``).

    >>> encode_data_type(np.dtype(">f8"))
    'float64'
    >>> encode_data_type(np.dtype("M8[10s]"))
    {'name': 'numpy.datetime64', 'configuration': {'unit': 's', 'scale_factor': 10}}
    """
    native = dtype.newbyteorder("=") if dtype.byteorder in "<>" else dtype
    simple = _SIMPLE_NAMES.get(native)
    if simple is not None:
        return simple
    kind = dtype.kind
    if kind == "O":
        name = _OBJECT_NAMES.get(object_codec or "")
        if name is None:
            raise ValueError(
                f"an object array needs a 'vlen-utf8' or 'vlen-bytes' codec to be written as "
                f"Zarr v3, not {object_codec!r}"
            )
        return name
    if kind in "mM":
        unit, scale = np.datetime_data(dtype)
        return {
            "name": "numpy.datetime64" if kind == "M" else "numpy.timedelta64",
            "configuration": {"unit": unit, "scale_factor": scale},
        }
    if kind == "U":
        return {"name": "fixed_length_utf32", "configuration": {"length_bytes": dtype.itemsize}}
    if kind == "S":
        return {"name": "null_terminated_bytes", "configuration": {"length_bytes": dtype.itemsize}}
    if kind == "V" and dtype.fields is None and dtype.subdtype is None:
        return {"name": "raw_bytes", "configuration": {"length_bytes": dtype.itemsize}}
    raise ValueError(f"dtype {dtype} cannot be written as Zarr v3 yet")


def _has_byte_order(dtype: np.dtype) -> bool:
    """True if the dtype's items have a byte order (the ``bytes`` codec must state it)."""
    return dtype.byteorder != "|" and dtype.itemsize > 1 and dtype.kind != "O"


# -- fill values ---------------------------------------------------------------------------

_FLOAT_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_NAT = -(2**63)


def decode_fill_value(v: Any, dt: DataType, key: str, field: str = "fill_value") -> Any:
    """The fill value of a checked data type from its JSON form: a number (``"NaN"``,
    ``"Infinity"``, ``"-Infinity"`` or ``"0x..."`` hex of the IEEE bits for floats),
    ``[re, im]`` for complex, true/false, an integer for datetimes (``-2**63`` is NaT), a
    string for strings, base64 text for byte strings and raw bytes (or a list of byte values
    for ``r*``). A NumPy scalar of ``dt.dtype`` (a ``str``/``bytes`` for the object types).

    >>> decode_fill_value("0x7fc00000", decode_data_type("float32", "zarr.json"), "zarr.json")
    np.float32(nan)
    """
    dtype = dt.dtype
    kind = dtype.kind

    def bad(wanted: str) -> MetadataError:
        return _fail(key, field, f"must be {wanted} for data type {dt.name}, not {short(v)}")

    if v is None:
        raise bad("a value (null is not a Zarr v3 fill value)")
    if kind == "b":
        if type(v) is not bool:
            raise bad("true or false")
        return np.bool_(v)
    if kind in "iu":
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not is_int(v):
            raise bad("an integer")
        info = np.iinfo(dtype)
        if not info.min <= v <= info.max:
            raise bad(f"an integer in [{info.min}, {info.max}]")
        return dtype.type(v)
    if kind == "f":
        return _float_fill(v, dtype, bad)
    if kind == "c":
        if type(v) is not list or len(v) != 2:
            raise bad("[real, imaginary]")
        part = np.dtype(f"f{dtype.itemsize // 2}")
        re_, im = (_float_fill(x, part, bad) for x in v)
        out = np.zeros((), dtype=dtype)
        out.real, out.imag = re_, im  # keeps NaN payloads of the parts
        return out[()]
    if kind in "mM":
        if not is_int(v) or not _NAT <= v <= INT64_MAX:
            raise bad("a 64-bit integer")
        return np.array(int(v), dtype="i8").view(dtype)[()]
    if kind == "U":
        if type(v) is not str:
            raise bad("a string")
        if len(v) > dtype.itemsize // 4:
            raise bad(f"a string of at most {dtype.itemsize // 4} characters")
        return dtype.type(v)
    if kind == "O":
        if dt.object_codec == "vlen-utf8":
            if type(v) is not str:
                raise bad("a string")
            return v
        return _base64(v, bad)
    if kind in "SV":
        if kind == "V" and dt.name.startswith("r") and type(v) is list:
            if not all(is_int(b) and 0 <= b <= 255 for b in v) or len(v) != dtype.itemsize:
                raise bad(f"a list of {dtype.itemsize} byte values")
            raw = bytes(v)
        else:
            raw = _base64(v, bad)
        if len(raw) > dtype.itemsize or (kind == "V" and len(raw) != dtype.itemsize):
            raise bad(f"base64 text of {'' if kind == 'V' else 'at most '}{dtype.itemsize} bytes")
        if kind == "S":
            return dtype.type(raw)
        return np.frombuffer(raw, dtype=dtype)[0]
    raise bad("a supported value")  # pragma: no cover - every checked type is handled


def _float_fill(v: Any, dtype: np.dtype, bad: Callable[[str], MetadataError]) -> Any:
    wanted = 'a number, "NaN", "Infinity", "-Infinity" or "0x" hex'
    if type(v) is str:
        word = _FLOAT_WORDS.get(v)
        if word is not None:
            return dtype.type(word)
        digits = 2 * dtype.itemsize
        if len(v) == 2 + digits and v.startswith("0x"):
            try:
                raw = bytes.fromhex(v[2:])
            except ValueError:
                raise bad(wanted) from None
            return np.frombuffer(raw, dtype=dtype.newbyteorder(">"))[0].astype(dtype)
        raise bad(f"{wanted} (of {digits} digits)")
    if not validate.is_number(v):
        raise bad(wanted)
    try:
        x = float(v)
    except OverflowError:
        raise bad("a number within the range of a float") from None
    if not math.isfinite(x):
        raise bad(wanted + " (not a non-finite number)")
    return dtype.type(x)


def _base64(v: Any, bad: Callable[[str], MetadataError]) -> bytes:
    if type(v) is not str:
        raise bad("base64 text")
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise bad("base64 text") from None


# canonical NaNs (what "NaN" means) by float size: other NaNs are written as hex
_CANONICAL_NAN = {2: b"\x7e\x00", 4: b"\x7f\xc0\x00\x00", 8: b"\x7f\xf8" + bytes(6)}


def encode_fill_value(v: Any, dtype: np.dtype, object_codec: str | None = None) -> Any:
    """The JSON form of a fill value, as zarr-python 3 writes it (None: the data type's
    default, as zarr-python 3 fills when none is given: zero, false, empty, NaT). A NaN other
    than the canonical one is written as hex, keeping its bits.

    >>> encode_fill_value(np.float32("nan"), np.dtype("f4"))
    'NaN'
    >>> encode_fill_value(np.complex64(1 - 2j), np.dtype("c8"))
    [1.0, -2.0]
    """
    kind = dtype.kind
    if v is None:
        if kind == "O":
            return ""
        v = np.array(_NAT, dtype="i8").view(dtype)[()] if kind in "mM" else dtype.type()
    if kind == "b":
        return bool(v)
    if kind in "iu":
        return int(v)
    if kind == "f":
        return _float_json(v, dtype)
    if kind == "c":
        c = np.asarray(v, dtype=dtype)
        part = np.dtype(f"f{dtype.itemsize // 2}")
        return [_float_json(c.real[()], part), _float_json(c.imag[()], part)]
    if kind in "mM":
        return int(np.asarray(v, dtype=dtype).view("i8"))
    if kind == "U":
        return str(v)
    if kind == "O":
        if object_codec == "vlen-bytes":
            raw = v.encode("utf-8") if isinstance(v, str) else bytes(v)
            return base64.standard_b64encode(raw).decode("ascii")
        return v if isinstance(v, str) else str(v)
    if kind == "S":
        return base64.standard_b64encode(bytes(v)).decode("ascii")
    if kind == "V":
        raw = np.asarray(v, dtype=dtype).tobytes() if not isinstance(v, bytes) else v
        return base64.standard_b64encode(raw).decode("ascii")
    raise ValueError(f"cannot encode a fill value of dtype {dtype}")


def _float_json(v: Any, dtype: np.dtype) -> Any:
    x = np.asarray(v, dtype=dtype.newbyteorder("="))
    if np.isnan(x):
        raw = x.astype(dtype.newbyteorder(">")).tobytes()
        return "NaN" if raw == _CANONICAL_NAN[dtype.itemsize] else "0x" + raw.hex()
    if np.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


# -- codecs --------------------------------------------------------------------------------

_BLOSC_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
_BLOSC_SHUFFLE_NAMES = {v: k for k, v in _BLOSC_SHUFFLE.items()}
_BLOSC_CNAMES = frozenset(("lz4", "lz4hc", "blosclz", "zstd", "snappy", "zlib"))
_ENDIAN = {"little": "<", "big": ">"}
_NUMCODECS = "numcodecs."
# numcodecs codecs that turn an array into bytes (zarr-python 3 registers them so)
_NUMCODECS_ARRAY_BYTES = frozenset(("pcodec", "zfpy"))
# numcodecs filters that act item by item: a transpose may follow them
_ELEMENTWISE = frozenset(("fixedscaleoffset", "quantize", "bitround", "astype"))
# numcodecs codecs zarr-python 3 treats as bytes-to-bytes
_NUMCODECS_BYTES_BYTES = frozenset(
    (
        "blosc",
        "lz4",
        "zstd",
        "zlib",
        "gzip",
        "bz2",
        "lzma",
        "shuffle",
        "crc32",
        "crc32c",
        "adler32",
        "fletcher32",
        "jenkins_lookup3",
    )
)
_ARRAY_ARRAY = frozenset(("transpose",))
_ARRAY_BYTES = frozenset(("bytes", "vlen-utf8", "vlen-bytes", "sharding_indexed"))
_BYTES_BYTES = frozenset(("blosc", "gzip", "zstd", "crc32c"))

DEFAULT_INDEX_CODECS: tuple[dict, ...] = (
    {"name": "bytes", "configuration": {"endian": "little"}},
    {"name": "crc32c"},
)


def _named(obj: Any, key: str, field: str) -> tuple[str, dict]:
    """``{"name": ..., "configuration": {...}}`` (a bare name string too): name, config."""
    if type(obj) is str:
        return obj, {}
    if not isinstance(obj, dict):
        raise _fail(key, field, f"must be a name or an object with a 'name', not {short(obj)}")
    name = obj.get("name")
    if type(name) is not str:
        raise _fail(key, f"{field}.name", f"must be a string, not {short(name)}")
    for k in obj:
        if k not in ("name", "configuration", "must_understand"):
            raise _fail(key, field, f"has an unknown key {k!r}")
    mu = obj.get("must_understand", True)
    if type(mu) is not bool:
        raise _fail(key, f"{field}.must_understand", f"must be true or false, not {short(mu)}")
    config = obj.get("configuration", {})
    if not isinstance(config, dict):
        raise _fail(key, f"{field}.configuration", f"must be an object, not {short(config)}")
    return name, config


def _only_keys(
    config: dict, allowed: tuple[str, ...], key: str, field: str, required: bool = False
) -> None:
    for k in config:
        if k not in allowed:
            raise _fail(key, field, f"has an unknown key {k!r}")
    if required:
        for k in allowed:
            if k not in config:
                raise _fail(key, field, f"is missing required key {k!r}")


def _int_in(v: Any, low: int, high: int, key: str, field: str) -> int:
    if not is_int(v) or not low <= v <= high:
        raise _fail(key, field, f"must be an integer in [{low}, {high}], not {short(v)}")
    return int(v)


class Chain(NamedTuple):
    """A checked v3 codec list in the v2 terms (see :func:`decode_codecs`)."""

    byteorder: str
    order: Literal["C", "F"]
    filters: tuple[dict, ...] | None
    compressor: dict | None
    object_codec: str | None
    shards: tuple[int, ...] | None
    chunks: tuple[int, ...]


def decode_codecs(
    codecs: Any, dt: DataType, chunk_shape: tuple[int, ...], key: str, field: str = "codecs"
) -> Chain:
    """Check a v3 codec list and state it in v2 terms.

    ``bytes`` gives the byte order; a ``transpose`` that reverses the axes gives order
    ``"F"`` (the identity ``"C"``; any other permutation is a ``MetadataError``: not
    supported yet); ``numcodecs.*`` array-to-array codecs become ``filters``; the
    bytes-to-bytes codecs become the ``compressor`` (the last one) preceded, at the end of
    ``filters``, by the others; ``vlen-utf8``/``vlen-bytes`` become the filter
    ``{"id": "vlen-utf8"}``/``{"id": "vlen-bytes"}`` after the array filters. With
    ``sharding_indexed``, ``chunk_shape`` is the shard shape and the terms come from the
    codecs inside a shard.

    >>> c = decode_codecs([{"name": "bytes", "configuration": {"endian": "big"}},
    ...                    {"name": "gzip", "configuration": {"level": 1}}],
    ...                   decode_data_type("int32", "zarr.json"), (10,), "zarr.json")
    >>> c.byteorder, c.compressor
    ('>', {'id': 'gzip', 'level': 1})
    """
    if not isinstance(codecs, list) or not codecs:
        raise _fail(key, field, f"must be a non-empty list of codecs, not {short(codecs)}")
    if _has_sharding(codecs, key, field):
        return _sharding(codecs, dt, chunk_shape, key, field)
    return _chain(codecs, dt, chunk_shape, key, field)


def _has_sharding(codecs: list, key: str, field: str) -> bool:
    return any(
        _named(c, key, f"{field}[{i}]")[0] == "sharding_indexed" for i, c in enumerate(codecs)
    )


def _sharding(
    codecs: list, dt: DataType, chunk_shape: tuple[int, ...], key: str, field: str
) -> Chain:
    """A codec list holding ``sharding_indexed`` (it must be the only codec) in v2 terms:
    ``shards`` the shard shape ``chunk_shape``, ``chunks`` the innermost chunk shape. Its
    inner codecs may be one more ``sharding_indexed`` (nested sharding, at any depth: each
    level's ``chunk_shape`` divides the one above), alone there too."""
    if len(codecs) != 1:
        raise _fail(key, field, "has codecs around 'sharding_indexed': not supported yet")
    _, config = _named(codecs[0], key, f"{field}[0]")
    at = f"{field}[0].configuration"
    _only_keys(config, ("chunk_shape", "codecs", "index_codecs", "index_location"), key, at)
    for k in ("chunk_shape", "codecs"):
        if k not in config:
            raise _fail(key, at, f"is missing required key {k!r}")
    inner = _shape(config["chunk_shape"], key, f"{at}.chunk_shape", 1)
    if len(inner) != len(chunk_shape):
        raise _fail(
            key,
            f"{at}.chunk_shape",
            f"has {len(inner)} dimensions but the shard shape has {len(chunk_shape)}",
        )
    if any(s % c for s, c in zip(chunk_shape, inner)):
        raise _fail(
            key,
            f"{at}.chunk_shape",
            f"{list(inner)} does not divide the shard shape {list(chunk_shape)}",
        )
    location = config.get("index_location", "end")
    if type(location) is not str or location not in ("start", "end"):
        raise _fail(key, f"{at}.index_location", f"must be 'start' or 'end', not {short(location)}")
    _check_index_codecs(config.get("index_codecs", list(DEFAULT_INDEX_CODECS)), key, at)
    inner_codecs = config["codecs"]
    if (
        isinstance(inner_codecs, list)
        and inner_codecs
        and _has_sharding(inner_codecs, key, f"{at}.codecs")
    ):
        chain = _sharding(inner_codecs, dt, inner, key, f"{at}.codecs")
        return chain._replace(shards=tuple(chunk_shape))
    chain = _chain(inner_codecs, dt, inner, key, f"{at}.codecs")
    return chain._replace(shards=tuple(chunk_shape), chunks=inner)


def _check_index_codecs(codecs: Any, key: str, at: str) -> None:
    field = f"{at}.index_codecs"
    if not isinstance(codecs, list) or not 1 <= len(codecs) <= 2:
        raise _fail(key, field, f"must be [bytes] or [bytes, crc32c], not {short(codecs)}")
    name, config = _named(codecs[0], key, f"{field}[0]")
    if name != "bytes":
        raise _fail(key, f"{field}[0]", f"must be the 'bytes' codec, not {short(name)}")
    _only_keys(config, ("endian",), key, f"{field}[0].configuration")
    endian = config.get("endian", "little")
    if type(endian) is not str or endian not in _ENDIAN:
        raise _fail(
            key,
            f"{field}[0].configuration.endian",
            f"must be 'little' or 'big', not {short(endian)}",
        )
    if len(codecs) == 2:
        name, config = _named(codecs[1], key, f"{field}[1]")
        if name != "crc32c":
            raise _fail(key, f"{field}[1]", f"must be the 'crc32c' codec, not {short(name)}")
        _only_keys(config, (), key, f"{field}[1].configuration")


def _chain(codecs: Any, dt: DataType, chunks: tuple[int, ...], key: str, field: str) -> Chain:
    if not isinstance(codecs, list) or not codecs:
        raise _fail(key, field, f"must be a non-empty list of codecs, not {short(codecs)}")
    ndim = len(chunks)
    dtype = dt.dtype
    perm = tuple(range(ndim))
    filters: list[dict] = []
    order_dependent: str | None = None  # a filter a transpose cannot follow
    byteorder: str | None = None
    object_codec: str | None = None
    tail: list[dict] = []  # the bytes-to-bytes codecs (with a numcodecs array-to-bytes one)
    stage = 0  # 0: array-to-array, 1: bytes-to-bytes
    for i, codec in enumerate(codecs):
        at = f"{field}[{i}]"
        name, config = _named(codec, key, at)
        cat = f"{at}.configuration"
        if name.startswith(_NUMCODECS):
            codec_id = name[len(_NUMCODECS) :]
            if config.get("id", codec_id) != codec_id:
                raise _fail(key, f"{cat}.id", f"must be {codec_id!r}, not {short(config['id'])}")
            check_tree(config, key, True, cat, 2)
            conf = {"id": codec_id, **{k: v for k, v in config.items() if k != "id"}}
            if stage == 1:
                tail.append(conf)
            elif codec_id in _NUMCODECS_ARRAY_BYTES:
                stage = 1
                tail.append(conf)
                byteorder = "="
            else:
                filters.append(conf)
                if codec_id not in _ELEMENTWISE:
                    order_dependent = order_dependent or name
            continue
        if name in _ARRAY_ARRAY:
            if stage:
                raise _fail(key, at, "is an array-to-array codec after the array-to-bytes codec")
            _only_keys(config, ("order",), key, cat, True)
            axes = config["order"]
            if (
                not isinstance(axes, list)
                or not all(is_int(a) for a in axes)
                or sorted(axes) != list(range(ndim))
            ):
                raise _fail(
                    key,
                    f"{cat}.order",
                    f"must be a permutation of 0..{ndim - 1}, not {short(axes)}",
                )
            if order_dependent is not None and list(axes) != list(range(ndim)):
                raise _fail(
                    key,
                    at,
                    f"follows {order_dependent!r}: a transpose after it is not supported yet",
                )
            perm = tuple(perm[a] for a in axes)
            continue
        if name in _ARRAY_BYTES:
            if stage:
                raise _fail(key, at, f"is a second array-to-bytes codec ({name!r})")
            stage = 1
            if name == "sharding_indexed":
                raise _fail(key, at, "is a 'sharding_indexed' among other codecs: not supported")
            if name == "bytes":
                _only_keys(config, ("endian",), key, cat)
                if dt.object_codec is not None:
                    raise _fail(
                        key,
                        at,
                        f"cannot store data type {dt.name!r} (it needs {dt.object_codec!r})",
                    )
                endian = config.get("endian")
                if endian is None:
                    if _has_byte_order(dtype):
                        raise _fail(key, cat, f"must give the 'endian' of data type {dt.name!r}")
                    byteorder = "|"
                elif type(endian) is not str or endian not in _ENDIAN:
                    raise _fail(
                        key, f"{cat}.endian", f"must be 'little' or 'big', not {short(endian)}"
                    )
                else:
                    byteorder = _ENDIAN[endian] if _has_byte_order(dtype) else "|"
            else:  # vlen-utf8, vlen-bytes
                _only_keys(config, (), key, cat)
                if dt.object_codec != name:
                    raise _fail(key, at, f"cannot store data type {dt.name!r}")
                object_codec = name
                byteorder = "|"
                filters.append({"id": name})
            continue
        if name in _BYTES_BYTES:
            if not stage:
                raise _fail(key, at, "is a bytes-to-bytes codec before the array-to-bytes codec")
            tail.append(_bytes_codec(name, config, key, cat))
            continue
        raise _fail(key, f"{at}.name", f"is an unknown codec: {name!r}")
    if not stage:
        raise _fail(key, field, "has no array-to-bytes codec (e.g. 'bytes')")
    if perm == tuple(range(ndim)):
        layout: Literal["C", "F"] = "C"
    elif perm == tuple(reversed(range(ndim))):
        layout = "F"
    else:
        raise _fail(
            key,
            field,
            f"has transpose order {list(perm)}: transpose order {list(perm)} is not supported yet",
        )
    filters.extend(tail[:-1])
    return Chain(
        byteorder=byteorder or "|",
        order=layout,
        filters=tuple(filters) or None,
        compressor=tail[-1] if tail else None,
        object_codec=object_codec,
        shards=None,
        chunks=chunks,
    )


def _bytes_codec(name: str, config: dict, key: str, at: str) -> dict:
    """A core bytes-to-bytes codec as its numcodecs configuration."""
    if name == "gzip":
        _only_keys(config, ("level",), key, at, True)
        return {"id": "gzip", "level": _int_in(config["level"], 0, 9, key, f"{at}.level")}
    if name == "zstd":
        _only_keys(config, ("level", "checksum"), key, at)
        if "level" not in config:
            raise _fail(key, at, "is missing required key 'level'")
        checksum = config.get("checksum", False)
        if type(checksum) is not bool:
            raise _fail(key, f"{at}.checksum", f"must be true or false, not {short(checksum)}")
        level = _int_in(config["level"], -(2**31), 2**31 - 1, key, f"{at}.level")
        return {"id": "zstd", "level": level, "checksum": checksum}
    if name == "crc32c":
        _only_keys(config, (), key, at)
        return {"id": "crc32c", "location": "end"}
    # blosc
    _only_keys(config, ("cname", "clevel", "shuffle", "typesize", "blocksize"), key, at)
    for k in ("cname", "clevel", "shuffle"):
        if k not in config:
            raise _fail(key, at, f"is missing required key {k!r}")
    cname, shuffle = config["cname"], config["shuffle"]
    if type(cname) is not str or cname not in _BLOSC_CNAMES:
        raise _fail(key, f"{at}.cname", f"is not a blosc compressor: {short(cname)}")
    if type(shuffle) is not str or shuffle not in _BLOSC_SHUFFLE:
        raise _fail(
            key,
            f"{at}.shuffle",
            f"must be 'noshuffle', 'shuffle' or 'bitshuffle', not {short(shuffle)}",
        )
    if "typesize" in config:
        _int_in(config["typesize"], 1, 2**31 - 1, key, f"{at}.typesize")
    return {
        "id": "blosc",
        "cname": cname,
        "clevel": _int_in(config["clevel"], 0, 9, key, f"{at}.clevel"),
        "shuffle": _BLOSC_SHUFFLE[shuffle],
        "blocksize": _int_in(config.get("blocksize", 0), 0, 2**31 - 1, key, f"{at}.blocksize"),
    }


def v3_codecs_from(meta: ArrayMeta, nested: tuple[tuple[int, ...], ...] = ()) -> list[dict]:
    """The v3 codec list for a record's v2 terms, as zarr-python 3 converts a v2 array
    (``zarr.metadata.migrate_v3``): order ``"F"`` is a leading ``transpose`` reversing the
    axes; filters become ``numcodecs.<id>`` codecs (``vlen-utf8``/``vlen-bytes`` the
    array-to-bytes codec, numcodecs bytes-to-bytes filters follow it); the byte order is the
    ``bytes`` codec's ``endian`` (none for 1-byte items); numcodecs Blosc, Zstd and GZip
    become the core ``blosc`` (typesize the item size; shuffle -1, numcodecs' automatic
    choice, is ``bitshuffle`` for 1-byte items and ``shuffle`` otherwise), ``zstd`` and
    ``gzip`` codecs, a CRC32C stored at the end the core ``crc32c``, others
    ``numcodecs.<id>``. With ``meta.shards`` the chain goes into ``sharding_indexed`` with
    zarr-python 3's index codecs ([bytes little, crc32c]) at the end of the shard; each shape
    of ``nested`` (outermost first, between ``meta.shards`` and ``meta.chunks``) adds one
    ``sharding_indexed`` inside it (nested sharding).

    >>> from zarrkit.formats.meta import ArrayMeta
    >>> v3_codecs_from(ArrayMeta((4,), (2,), np.dtype("<i2"), compressor={"id": "gzip", "level": 1}))
    [{'name': 'bytes', 'configuration': {'endian': 'little'}}, {'name': 'gzip', 'configuration': {'level': 1}}]
    """
    dtype = meta.dtype
    array_array: list[dict] = []
    array_bytes: dict | None = None
    bytes_bytes: list[dict] = []
    if meta.order == "F":  # (for one dimension too, as zarr-python 3 converts it)
        array_array.append(
            {"name": "transpose", "configuration": {"order": list(range(len(meta.chunks)))[::-1]}}
        )
    for f in meta.filters or ():
        codec_id = f["id"]
        if array_bytes is None and codec_id in _OBJECT_NAMES:
            array_bytes = {"name": codec_id, "configuration": {}}
        elif array_bytes is None and codec_id in _NUMCODECS_ARRAY_BYTES:
            array_bytes = _numcodecs_codec(f)
        elif array_bytes is None and codec_id not in _NUMCODECS_BYTES_BYTES:
            if codec_id in _OBJECT_NAMES or dtype.kind == "O":
                raise ValueError(f"filter {f!r} cannot be written as a Zarr v3 codec")
            array_array.append(_numcodecs_codec(f))
        else:
            if array_bytes is None:
                array_bytes = _bytes_of(dtype)
            if codec_id not in _NUMCODECS_BYTES_BYTES:
                raise ValueError(
                    f"filter {f!r} follows a bytes-to-bytes filter: not expressible in Zarr v3"
                )
            bytes_bytes.append(_v3_bytes_codec(f, dtype))
    if array_bytes is None:
        if dtype.kind == "O":
            raise ValueError(
                "an object array needs a 'vlen-utf8' or 'vlen-bytes' filter to be written as Zarr v3"
            )
        array_bytes = _bytes_of(dtype)
    if meta.compressor is not None:
        bytes_bytes.append(_v3_bytes_codec(meta.compressor, dtype))
    chain = [*array_array, array_bytes, *bytes_bytes]
    if meta.shards is None:
        return chain
    for shape in reversed((*nested, meta.chunks)):
        chain = [
            {
                "name": "sharding_indexed",
                "configuration": {
                    "chunk_shape": list(shape),
                    "codecs": chain,
                    "index_codecs": [dict(c) for c in DEFAULT_INDEX_CODECS],
                    "index_location": "end",
                },
            }
        ]
    return chain


def _bytes_of(dtype: np.dtype) -> dict:
    if not _has_byte_order(dtype):
        return {"name": "bytes"}
    order = dtype.byteorder
    if order == "=":
        order = "<" if sys.byteorder == "little" else ">"
    return {"name": "bytes", "configuration": {"endian": "little" if order == "<" else "big"}}


def _numcodecs_codec(config: dict) -> dict:
    return {
        "name": _NUMCODECS + config["id"],
        "configuration": {k: v for k, v in config.items() if k != "id"},
    }


def _v3_bytes_codec(config: dict, dtype: np.dtype) -> dict:
    codec_id = config["id"]
    if codec_id == "blosc":
        shuffle = config.get("shuffle", 1)
        if shuffle == -1:
            shuffle = 2 if dtype.itemsize == 1 else 1
        return {
            "name": "blosc",
            "configuration": {
                "typesize": dtype.itemsize,
                "cname": config.get("cname", "lz4"),
                "clevel": config.get("clevel", 5),
                "shuffle": _BLOSC_SHUFFLE_NAMES[shuffle],
                "blocksize": config.get("blocksize", 0),
            },
        }
    if codec_id == "zstd":
        return {
            "name": "zstd",
            "configuration": {
                "level": config.get("level", 0),
                "checksum": config.get("checksum", False),
            },
        }
    if codec_id == "gzip":
        return {"name": "gzip", "configuration": {"level": config.get("level", 1)}}
    if codec_id == "crc32c" and config.get("location") == "end" and len(config) == 2:
        return {"name": "crc32c"}
    return _numcodecs_codec(config)


def _object_codec_of(codecs: Any) -> str | None:
    """The ``vlen-utf8``/``vlen-bytes`` codec of a v3 codec list (inside a shard too)."""
    for c in codecs or ():
        name = c if isinstance(c, str) else c.get("name") if isinstance(c, dict) else None
        if isinstance(name, str) and name in _OBJECT_NAMES:
            return name
        if name == "sharding_indexed" and isinstance(c, dict):
            inner = _object_codec_of(c.get("configuration", {}).get("codecs"))
            if inner:
                return inner
    return None


# -- documents -----------------------------------------------------------------------------

ARRAY_REQUIRED = (
    "zarr_format",
    "node_type",
    "shape",
    "data_type",
    "chunk_grid",
    "chunk_key_encoding",
    "fill_value",
    "codecs",
)
_ARRAY_OPTIONAL = ("attributes", "dimension_names", "storage_transformers")
_ARRAY_KEYS = frozenset(ARRAY_REQUIRED + _ARRAY_OPTIONAL)
_GROUP_KEYS = frozenset(("zarr_format", "node_type", "attributes", "consolidated_metadata"))


def _shape(values: Any, key: str, field: str, minimum: int) -> tuple[int, ...]:
    return validate._int_list(values, key, field, minimum)


def _extensions(doc: dict, known: frozenset[str], key: str) -> dict:
    """The extension fields of a document: each must be an object with
    ``"must_understand": false`` (kept, to be written back); others are refused."""
    extra: dict = {}
    for k, v in doc.items():
        if k in known:
            continue
        if not (isinstance(v, dict) and v.get("must_understand") is False):
            raise _fail(
                key,
                k,
                "is an unknown field (an extension zarrkit does not understand; only objects "
                'with "must_understand": false may be ignored)',
            )
        check_tree(v, key, True, k, 2)
        extra[k] = v
    return extra


def _check_node(doc: Any, key: str, node_type: str) -> None:
    if not isinstance(doc, dict):
        raise MetadataError(f"{where(key)} is not a JSON object ({type(doc).__name__})")
    for name in doc:
        if type(name) is not str:
            raise _fail(key, repr(name), "is not a string key")
    if "zarr_format" not in doc:
        raise MetadataError(f"{where(key)} is missing required key 'zarr_format'")
    validate.check_format(doc, key, "zarr_format", ZARR_FORMAT)
    found = doc.get("node_type")
    if found != node_type or type(found) is not str:
        raise _fail(key, "node_type", f"must be {node_type!r}, not {short(found)}")


def _attributes(doc: dict, key: str) -> dict:
    attrs = doc.get("attributes", {})
    if not isinstance(attrs, dict):
        raise _fail(key, "attributes", f"must be an object, not {short(attrs)}")
    check_tree(attrs, key, True, "attributes", 2)
    return attrs


class ArrayFields(NamedTuple):
    """The checked fields of a v3 array document."""

    shape: tuple[int, ...]
    chunk_shape: tuple[int, ...]
    data_type: DataType
    fill_value: Any
    chain: Chain
    codecs: tuple[dict, ...]
    chunk_key_encoding: Literal["v2", "default"]
    separator: str
    dimension_names: tuple[str | None, ...] | None
    attributes: dict
    extra: dict


def check_array_doc(doc: Any, key: str = ZARR_JSON) -> ArrayFields:
    """Check a parsed v3 array document strictly (a bool is not an int, nothing is coerced):
    every violation is a :class:`MetadataError` naming ``key`` and the field.

    >>> check_array_doc({"zarr_format": 3, "node_type": "array"}, "a/zarr.json")
    Traceback (most recent call last):
    ...
    zarrkit.errors.MetadataError: metadata at 'a/zarr.json' is missing required key 'shape'
    """
    _check_node(doc, key, "array")
    for k in ARRAY_REQUIRED:
        if k not in doc:
            raise MetadataError(f"{where(key)} is missing required key {k!r}")
    extra = _extensions(doc, _ARRAY_KEYS, key)
    shape = _shape(doc["shape"], key, "shape", 0)
    if len(shape) > MAX_NDIM:
        raise _fail(key, "shape", f"has {len(shape)} dimensions; NumPy allows {MAX_NDIM}")
    if math.prod(shape) > INT64_MAX:
        raise _fail(key, "shape", f"holds more than 2**63 - 1 items: {list(shape)}")
    # chunk grid
    grid_name, grid = _named(doc["chunk_grid"], key, "chunk_grid")
    if grid_name != "regular":
        raise _fail(key, "chunk_grid", f"{grid_name!r} is not supported (only 'regular')")
    _only_keys(grid, ("chunk_shape",), key, "chunk_grid.configuration", True)
    chunk_shape = _shape(grid["chunk_shape"], key, "chunk_grid.configuration.chunk_shape", 1)
    if len(chunk_shape) != len(shape):
        raise _fail(
            key,
            "chunk_grid.configuration.chunk_shape",
            f"has {len(chunk_shape)} dimensions but 'shape' has {len(shape)}",
        )
    # chunk keys
    cke_name, cke = _named(doc["chunk_key_encoding"], key, "chunk_key_encoding")
    if cke_name not in ("default", "v2"):
        raise _fail(key, "chunk_key_encoding", f"{cke_name!r} is not 'default' or 'v2'")
    _only_keys(cke, ("separator",), key, "chunk_key_encoding.configuration")
    sep = cke.get("separator", "/" if cke_name == "default" else ".")
    if type(sep) is not str or sep not in (".", "/"):
        raise _fail(
            key,
            "chunk_key_encoding.configuration.separator",
            f"must be '.' or '/', not {short(sep)}",
        )
    # storage transformers
    transformers = doc.get("storage_transformers", [])
    if not isinstance(transformers, list):
        raise _fail(key, "storage_transformers", f"must be a list, not {short(transformers)}")
    if transformers:
        raise _fail(
            key, "storage_transformers", "is not empty: storage transformers are not supported"
        )
    # dimension names
    names = doc.get("dimension_names")
    if names is not None:
        if not isinstance(names, list) or not all(n is None or type(n) is str for n in names):
            raise _fail(
                key, "dimension_names", f"must be a list of strings or nulls, not {short(names)}"
            )
        if len(names) != len(shape):
            raise _fail(
                key, "dimension_names", f"has {len(names)} names for {len(shape)} dimensions"
            )
        names = tuple(names)
    dt = decode_data_type(doc["data_type"], key)
    if math.prod(chunk_shape) * dt.dtype.itemsize > INT64_MAX:
        raise _fail(
            key, "chunk_grid.configuration.chunk_shape", "makes chunks of more than 2**63 - 1 bytes"
        )
    codecs = doc["codecs"]
    chain = decode_codecs(codecs, dt, chunk_shape, key)
    check_tree(codecs, key, True, "codecs", 2)
    fill = decode_fill_value(doc["fill_value"], dt, key)
    return ArrayFields(
        shape=shape,
        chunk_shape=chunk_shape,
        data_type=dt,
        fill_value=fill,
        chain=chain,
        codecs=tuple(c if isinstance(c, dict) else {"name": c} for c in codecs),
        chunk_key_encoding=cke_name,  # type: ignore[arg-type]
        separator=sep,
        dimension_names=names,
        attributes=_attributes(doc, key),
        extra=extra,
    )


def check_group_doc(doc: Any, key: str = ZARR_JSON) -> tuple[dict, dict | None, dict]:
    """Check a parsed v3 group document: (attributes, consolidated documents by path or
    None, extension fields). Consolidated metadata is zarr-python 3's inline form
    ``{"kind": "inline", "must_understand": false, "metadata": {path: document}}``; each
    document held is an object, checked in full by its own decoder where it is read."""
    _check_node(doc, key, "group")
    extra = _extensions(doc, _GROUP_KEYS, key)
    attrs = _attributes(doc, key)
    consolidated = doc.get("consolidated_metadata")
    if consolidated is None:
        return attrs, None, extra
    field = "consolidated_metadata"
    if not isinstance(consolidated, dict):
        raise _fail(key, field, f"must be an object or null, not {short(consolidated)}")
    _only_keys(consolidated, ("kind", "must_understand", "metadata"), key, field)
    if consolidated.get("kind") != "inline":
        raise _fail(
            key, f"{field}.kind", f"must be 'inline', not {short(consolidated.get('kind'))}"
        )
    if consolidated.get("must_understand", False) is not False:
        raise _fail(key, f"{field}.must_understand", "must be false")
    metadata = consolidated.get("metadata")
    if not isinstance(metadata, dict):
        raise _fail(key, f"{field}.metadata", f"must be an object, not {short(metadata)}")
    for path, inner in metadata.items():
        if type(path) is not str:
            raise _fail(key, f"{field}.metadata", f"has a key that is not a string: {short(path)}")
        if not isinstance(inner, dict):
            raise _fail(
                key, f"{field}.metadata[{path!r}]", f"must be an object, not {short(inner)}"
            )
    return attrs, metadata, extra


def decode_array_doc(doc: Any, key: str = ZARR_JSON) -> tuple[ArrayMeta, dict]:
    """A v3 array document (``zarr.json`` bytes or the parsed object) as a record and its
    attributes.

    The record keeps the codec list as stored (``codecs``) and states it in v2 terms (dtype
    byte order, ``order``, ``filters``, ``compressor``; see :func:`decode_codecs`); with
    sharding ``shards`` is the shard shape and ``chunks`` the inner chunk shape. A transpose
    other than the identity or the reversal of the axes is a ``MetadataError``: transpose
    order ... is not supported yet. Extension fields with ``"must_understand": false`` are
    kept in ``extra``.

    >>> meta, attrs = decode_array_doc(b'''{"zarr_format": 3, "node_type": "array",
    ...   "shape": [4], "data_type": "int32", "fill_value": 0,
    ...   "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
    ...   "chunk_key_encoding": {"name": "default"},
    ...   "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
    ...   "attributes": {"a": 1}}''')
    >>> meta.dtype.str, meta.chunk_key((1,)), attrs
    ('<i4', 'c/1', {'a': 1})
    """
    if isinstance(doc, _RAW):
        doc = json_loads(doc, key)
    f = check_array_doc(doc, key)
    chain = f.chain
    dtype = f.data_type.dtype
    if chain.byteorder in "<>" and _has_byte_order(dtype):
        dtype = dtype.newbyteorder("<" if chain.byteorder == "<" else ">")
    meta = ArrayMeta(
        shape=f.shape,
        chunks=chain.chunks,
        dtype=dtype,
        fill_value=f.fill_value,
        order=chain.order,
        compressor=chain.compressor,
        filters=chain.filters,
        dimension_separator=f.separator,
        zarr_format=ZARR_FORMAT,
        extra=f.extra,
        codecs=f.codecs,
        chunk_key_encoding=f.chunk_key_encoding,
        shards=chain.shards,
        dimension_names=f.dimension_names,
    )
    return meta, f.attributes


def decode_group_doc(doc: Any, key: str = ZARR_JSON) -> tuple[GroupMeta, dict, dict | None]:
    """A v3 group document as (record, attributes, consolidated documents by path or None).

    >>> decode_group_doc(b'{"zarr_format": 3, "node_type": "group", "attributes": {"x": 1}}')
    (GroupMeta(zarr_format=3), {'x': 1}, None)
    """
    if isinstance(doc, _RAW):
        doc = json_loads(doc, key)
    attrs, consolidated, _ = check_group_doc(doc, key)
    return GroupMeta(zarr_format=ZARR_FORMAT), attrs, consolidated


def decode_node(
    doc: Any, key: str = ZARR_JSON
) -> tuple[ArrayMeta, dict] | tuple[GroupMeta, dict, dict | None]:
    """:func:`decode_array_doc` or :func:`decode_group_doc`, by the document's
    ``node_type``.

    >>> decode_node(b'{"zarr_format": 3, "node_type": "group"}')[0]
    GroupMeta(zarr_format=3)
    """
    if isinstance(doc, _RAW):
        doc = json_loads(doc, key)
    node_type = doc.get("node_type") if isinstance(doc, dict) else None
    if node_type == "group":
        return decode_group_doc(doc, key)
    if node_type == "array":
        return decode_array_doc(doc, key)
    if not isinstance(doc, dict):
        raise MetadataError(f"{where(key)} is not a JSON object ({type(doc).__name__})")
    raise _fail(key, "node_type", f"must be 'array' or 'group', not {short(node_type)}")


def array_doc(meta: ArrayMeta, attributes: dict | None = None) -> dict:
    """The v3 array document of a record, as a dict in zarr-python 3's key order.

    ``meta.codecs`` is written as it is when set (the v2 terms are then not consulted);
    otherwise the chain is built from the v2 terms (:func:`v3_codecs_from`).
    """
    codecs = list(meta.codecs) if meta.codecs is not None else v3_codecs_from(meta)
    object_codec = None
    if meta.dtype.kind == "O":
        object_codec = _object_codec_of(codecs)
    sep = meta.dimension_separator or ("/" if meta.chunk_key_encoding == "default" else ".")
    attrs = {} if attributes is None else attributes
    check_tree(attrs, ZARR_JSON, True, "attributes", 2)
    doc: dict[str, Any] = {
        "shape": list(meta.shape),
        "data_type": encode_data_type(meta.dtype, object_codec),
        "chunk_grid": {
            "name": "regular",
            "configuration": {"chunk_shape": list(meta.stored_chunks)},
        },
        "chunk_key_encoding": {
            "name": meta.chunk_key_encoding,
            "configuration": {"separator": sep},
        },
        "fill_value": encode_fill_value(meta.fill_value, meta.dtype, object_codec),
        "codecs": codecs,
        "attributes": attrs,
    }
    if meta.dimension_names is not None:
        doc["dimension_names"] = list(meta.dimension_names)
    doc["zarr_format"] = ZARR_FORMAT
    doc["node_type"] = "array"
    doc["storage_transformers"] = []
    if meta.zarr_format == ZARR_FORMAT:
        for k, v in meta.extra.items():
            if k not in _ARRAY_KEYS:
                doc[k] = v
    return doc


def encode_array_doc(meta: ArrayMeta, attributes: dict | None = None) -> bytes:
    """``zarr.json`` bytes of an array: they parse equal to what zarr-python 3.1 writes for
    the same array (and are laid out as it does, indent 2).

    A record from v2 terms (``codecs`` None, any ``zarr_format``) gets the chain
    zarr-python 3 converts the same v2 array to (:func:`v3_codecs_from`), its own
    ``chunk_key_encoding`` and separator.

    >>> from zarrkit.formats.meta import ArrayMeta
    >>> raw = encode_array_doc(ArrayMeta((4,), (2,), np.dtype("u1"), fill_value=0), {})
    >>> json.loads(raw)["codecs"]
    [{'name': 'bytes'}]
    """
    return json_dumps(array_doc(meta, attributes))


def encode_group_doc(attributes: dict | None = None, consolidated: dict | None = None) -> bytes:
    """``zarr.json`` bytes of a group, with zarr-python 3's inline consolidated metadata
    (``consolidated``: documents by path) when given.

    >>> json.loads(encode_group_doc({"a": 1}))
    {'attributes': {'a': 1}, 'zarr_format': 3, 'node_type': 'group'}
    """
    attrs = {} if attributes is None else attributes
    check_tree(attrs, ZARR_JSON, True, "attributes", 2)
    doc: dict[str, Any] = {"attributes": attrs, "zarr_format": ZARR_FORMAT}
    if consolidated is not None:
        doc["consolidated_metadata"] = {
            "kind": "inline",
            "must_understand": False,
            "metadata": consolidated,
        }
    doc["node_type"] = "group"
    return json_dumps(doc)
