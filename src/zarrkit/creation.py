"""Array creation: user arguments -> :class:`ArrayMeta` -> metadata in the store -> Array."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numcodecs
import numpy as np
from numcodecs import Zstd
from numcodecs.compat import ensure_ndarray_like

from . import storage
from ._node import Location, Options, check_zarr_version, default_zarr_format
from ._normalize import (
    check_codec,
    normalize_chunks,
    normalize_dimension_separator,
    normalize_dtype,
    normalize_order,
    normalize_shape,
)
from ._probe import Kinds, ancestors, contains_group, location, survey
from .core import Array
from .errors import ArrayNotFoundError, ContainsArrayError, ContainsGroupError
from .formats import v3
from .formats.meta import ArrayMeta
from .formats.nodes import V2, NodeFormat, node_format
from .formats.v2 import (
    encode_array_meta,
    normalize_fill_value,
)
from .storage.base import Store, prefix_of

__all__ = [
    "create",
    "empty",
    "zeros",
    "ones",
    "full",
    "array",
    "open_array",
    "empty_like",
    "zeros_like",
    "ones_like",
    "full_like",
    "open_like",
    "init_array",
    "init_group",
]


@dataclass(frozen=True)
class ArraySpec:
    """The layout a user asks for, as given; :func:`init_array_at` normalises and checks it."""

    shape: Any
    chunks: Any = True
    dtype: Any = None
    compressor: Any = "default"
    fill_value: Any = None
    order: str = "C"
    filters: Any = None
    object_codec: Any = None
    dimension_separator: str | None = None
    #: 2 or 3 (None: the default, see ``_node.default_zarr_format``)
    zarr_format: int | None = None
    shards: Any = None
    dimension_names: Any = None


def _require_parent_groups(
    store: Store,
    path: str,
    overwrite: bool,
    chunk_store: Store | None = None,
    fmt: NodeFormat = V2,
    known: set[str] | None = None,
    kinds: dict[str, Kinds] | None = None,
    then: dict[str, bytes] | None = None,
) -> None:
    """Make sure every ancestor of ``path`` is a group (zarr 2 does the same); ``then``:
    documents of the node itself, written with the groups made (one ``setitems``) once
    nothing is in the way.

    With ``overwrite``, an array in the way is removed whole (its chunks and attributes
    too, as zarr 2 does), then replaced by a group. ``known``: paths already made sure of
    (skipped; the ones made sure of here are added). ``kinds``: what a :func:`survey`
    found at (some of) the ancestors; the others are looked at in one batch. The groups
    made are written with one ``setitems`` (before an error, those above it).
    """
    made: dict[str, bytes] = {}
    try:
        todo = []
        for p in ancestors(path):
            if known is not None:
                if p in known:
                    continue
                known.add(p)
            todo.append(p)
        missing = [p for p in todo if kinds is None or p not in kinds]
        if missing:
            kinds = {**(kinds or {}), **survey(store, missing)}
        for p in todo:
            assert kinds is not None
            if kinds[p].group:
                continue  # the usual case
            if kinds[p].array:
                if not overwrite:
                    raise ContainsArrayError(p)
                if made:
                    store.setitems(made)
                    made = {}
                store.rmdir(p)
                if chunk_store is not None:
                    chunk_store.rmdir(p)
            made[fmt.group_key(prefix_of(p))] = fmt.encode_group()
        made.update(then or {})
    finally:
        if made:
            store.setitems(made)


#: the compressor of Zarr v3 arrays created with ``compressor='default'``: zarr-python 3's
#: default (its ``zstd`` codec at level 0, no checksum), so the same call writes the same
#: ``zarr.json``
V3_DEFAULT_COMPRESSOR = Zstd(level=0)

_OBJECT_CODEC_HINT = (
    "pass object_codec= a numcodecs object codec (e.g. numcodecs.VLenUTF8(), "
    "numcodecs.VLenBytes(), numcodecs.JSON(), numcodecs.MsgPack()), "
    "or use dtype=str / dtype=bytes / dtype='array:i8'"
)


def _check_object_codec(codec: Any, what: str, fill_value: Any, dtype: np.dtype) -> None:
    """Refuse a codec that cannot turn objects into bytes, or cannot encode the fill value.

    Checked at creation so that the mistake shows at once, not at the first write.
    """
    try:
        encoded = codec.encode(np.empty(0, dtype=dtype))
        if ensure_ndarray_like(encoded).dtype.hasobject:
            raise TypeError("it returns objects")
    except Exception as e:
        raise ValueError(
            f"{what} {codec!r} cannot encode Python objects ({e}); {_OBJECT_CODEC_HINT}"
        ) from None
    if fill_value is None or dtype.kind != "O":
        return
    box = np.empty(1, dtype=object)
    box[0] = fill_value
    try:
        codec.encode(box)
    except Exception as e:
        raise ValueError(
            f"fill_value {fill_value!r} cannot be encoded by the object codec "
            f"{type(codec).__name__}: {e}; use fill_value=None or a value the codec accepts"
        ) from None


def init_array(
    store: Any,
    shape: Any,
    chunks: Any = True,
    dtype: Any = None,
    compressor: Any = "default",
    fill_value: Any = None,
    order: str = "C",
    overwrite: bool = False,
    path: str | None = None,
    chunk_store: Any = None,
    filters: Any = None,
    object_codec: Any = None,
    dimension_separator: str | None = None,
    storage_transformers: Any = (),
) -> ArrayMeta:
    """Write the metadata of a new array into ``store`` and return its record.

    Refuses to replace an existing array or group unless ``overwrite`` is set; with it, the
    old contents below ``path`` are deleted first. ``storage_transformers`` belong to Zarr v3
    and must be empty. The other arguments are those of :func:`create`.
    """
    _refuse_storage_transformers(storage_transformers)
    spec = ArraySpec(
        shape=shape,
        chunks=chunks,
        dtype=dtype,
        compressor=compressor,
        fill_value=fill_value,
        order=order,
        filters=filters,
        object_codec=object_codec,
        dimension_separator=dimension_separator,
    )
    return init_array_at(Location.of(store, path, chunk_store), spec, overwrite=overwrite)


def _array_meta(spec: ArraySpec, store: Store) -> tuple[ArrayMeta, bytes]:
    """Normalise and check a layout; return its record and its ``.zarray`` bytes."""
    dtype, object_codec = normalize_dtype(
        "f8" if spec.dtype is None else spec.dtype, spec.object_codec
    )
    compressor, filters, fill_value = spec.compressor, spec.filters, spec.fill_value
    dimension_separator = spec.dimension_separator
    # a subarray dtype such as ('i4', (3,)) adds trailing dimensions, as in zarr 2
    shape = normalize_shape(spec.shape) + dtype.shape
    dtype = dtype.base
    chunks = normalize_chunks(spec.chunks, shape, dtype.itemsize)
    order = normalize_order(spec.order)
    if shape == ():
        compressor = None  # a 0-d array holds one value: zarr 2 never compresses it
    elif isinstance(compressor, str) and compressor == "none":
        compressor = None  # accepted by zarr 2 for compatibility
    elif isinstance(compressor, str) and compressor == "default":
        compressor = storage.default_compressor
    elif not compressor:
        compressor = None  # zarr 2 takes any falsy value ('', 0, False, []) as "no compressor"
    check_codec(compressor, "compressor")
    filters = list(filters) if filters else []
    for f in filters:
        check_codec(f, "filter")
    filter_configs = [f.get_config() for f in filters]
    fill_value = normalize_fill_value(fill_value, dtype)
    if dtype.hasobject:
        if object_codec is None:
            if not filters:
                raise ValueError(f"missing object_codec for object array: {_OBJECT_CODEC_HINT}")
            _check_object_codec(filters[0], "the first filter", fill_value, dtype)
            warnings.warn(
                "missing object_codec for object array; assuming the first filter encodes objects",
                FutureWarning,
                stacklevel=3,
            )
        else:
            check_codec(object_codec, "object_codec")
            _check_object_codec(object_codec, "object_codec", fill_value, dtype)
            filter_configs.insert(0, object_codec.get_config())
    elif object_codec is not None:
        warnings.warn("an object_codec is only needed for object arrays", stacklevel=3)
    store_separator = store._dimension_separator
    if dimension_separator is None:
        dimension_separator = store_separator
    elif store._separator_is_fixed and dimension_separator != store_separator:
        raise ValueError(
            f"dimension_separator={dimension_separator!r} conflicts with the store's chunk key "
            f"separator {store_separator!r}; leave it out or open the store without one"
        )
    dimension_separator = normalize_dimension_separator(dimension_separator)
    zarr_format = spec.zarr_format or default_zarr_format()
    if zarr_format == 3:
        return _v3_array_meta(
            spec, shape, chunks, dtype, fill_value, order, compressor, filter_configs,
            dimension_separator,
        )  # fmt: skip
    if spec.shards is not None or spec.dimension_names is not None:
        what = "shards" if spec.shards is not None else "dimension_names"
        raise ValueError(f"{what} need Zarr format 3: pass zarr_format=3")
    meta = ArrayMeta._stored(
        shape=shape,
        chunks=chunks,
        dtype=dtype,
        fill_value=fill_value,
        order=order,
        compressor=compressor.get_config() if compressor is not None else None,
        filters=tuple(filter_configs) or None,
        dimension_separator=dimension_separator,
        extra={},
    )
    return meta, encode_array_meta(meta, object_codec)  # None: the first filter, if any


def _v3_array_meta(
    spec: ArraySpec,
    shape: tuple[int, ...],
    chunks: tuple[int, ...],
    dtype: np.dtype,
    fill_value: Any,
    order: str,
    compressor: Any,
    filter_configs: list[dict],
    dimension_separator: str | None,
) -> tuple[ArrayMeta, bytes]:
    """The record and ``zarr.json`` of a new Zarr v3 array: the layout in v2 terms made
    into v3 codecs (``formats.v3``), then read back, so the record is the one a reader
    gets."""
    if isinstance(spec.compressor, str) and spec.compressor == "default":
        compressor = V3_DEFAULT_COMPRESSOR  # also at 0-d: zarr-python 3 compresses those
    shards = None
    nested: tuple[tuple[int, ...], ...] = ()
    if spec.shards is not None:
        levels = [normalize_shape(s) for s in _shard_levels(spec.shards)]
        for level in levels:
            if len(level) != len(shape):
                raise ValueError(f"shards {level} must have one length per dimension of {shape}")
        shards, nested = levels[0], tuple(levels[1:])
        innermost = levels[-1]
        if spec.chunks is True or spec.chunks is None:
            chunks = normalize_chunks(True, innermost, dtype.itemsize)
            chunks = tuple(c if s % c == 0 else s for c, s in zip(chunks, innermost))
        for outer, inner in zip(levels, [*levels[1:], chunks]):
            bad = [(s, c) for s, c in zip(outer, inner) if c < 1 or s % c]
            if bad:
                what = "chunk shape" if inner is chunks else "inner shard shape"
                raise ValueError(
                    f"shards {outer} must be a multiple of the {what} {inner} along every dimension"
                )
    names = None
    if spec.dimension_names is not None:
        names = tuple(spec.dimension_names)
        if len(names) != len(shape) or not all(n is None or isinstance(n, str) for n in names):
            raise ValueError(
                f"dimension_names {spec.dimension_names!r} must be one string (or None) "
                f"per dimension of {shape}"
            )
    filters = tuple(filter_configs)  # an object codec first, as in v2
    meta = ArrayMeta(
        shape=shape,
        chunks=chunks,
        dtype=dtype,
        fill_value=fill_value,
        order=order,  # type: ignore[arg-type]
        compressor=compressor.get_config() if compressor is not None else None,
        filters=filters or None,
        dimension_separator=dimension_separator or "/",
        zarr_format=3,
        chunk_key_encoding="default",
        shards=shards,
        dimension_names=names,
    )
    if nested:
        meta = replace(meta, codecs=tuple(v3.v3_codecs_from(meta, nested)))
    encoded = v3.encode_array_doc(meta, {})
    return v3.decode_array_doc(encoded, v3.ZARR_JSON)[0], encoded


def _shard_levels(shards: Any) -> list[Any]:
    """``shards`` as a list of shard shapes, outermost first: a list of shapes (nested
    sharding) as it is, one shape (or an int) as a list of it."""
    if (
        isinstance(shards, (list, tuple))
        and shards
        and all(isinstance(s, (list, tuple)) for s in shards)
    ):
        return list(shards)
    return [shards]


def _clear_or_refuse(
    loc: Location,
    overwrite: bool,
    fmt: NodeFormat = V2,
    kinds: dict[str, Kinds] | None = None,
    then: dict[str, bytes] | None = None,
) -> None:
    """Delete what is at ``loc`` (``overwrite``), or refuse if an array or group is there.
    The place and the groups above it are looked at in one batch (``kinds``: what a
    :func:`survey` of them already found); ``then``: the node's documents, written with
    the missing groups above it."""
    store, path = loc.store, loc.path
    if overwrite:
        store.rmdir(path)
        if loc.chunk_store is not None:
            loc.chunk_store.rmdir(path)
    elif path and store.claim_empty(path):
        # a new, empty place: no array or group there
        try:
            _require_parent_groups(
                store, path, overwrite, loc.chunk_store, fmt, kinds=kinds, then=then
            )
        except BaseException:
            store.rmdir(path)
            raise
        return
    else:
        if kinds is None or path not in kinds:
            kinds = {**(kinds or {}), **survey(store, [path, *ancestors(path)])}
        if kinds[path].array:
            raise ContainsArrayError(path, location(store))
        if kinds[path].group:
            raise ContainsGroupError(path, location(store))
    _require_parent_groups(store, path, overwrite, loc.chunk_store, fmt, kinds=kinds, then=then)


def init_array_at(
    loc: Location,
    spec: ArraySpec,
    overwrite: bool = False,
    kinds: dict[str, Kinds] | None = None,
) -> ArrayMeta:
    """Write the metadata of a new array with layout ``spec`` at ``loc``; return its record.
    ``kinds``: what a :func:`survey` found at it and above."""
    meta, encoded = _array_meta(spec, loc.store)
    fmt = node_format(meta.zarr_format)
    _clear_or_refuse(loc, overwrite, fmt, kinds, {fmt.array_key(loc.prefix): encoded})
    return meta


def init_group(
    store: Any,
    overwrite: bool = False,
    path: str | None = None,
    chunk_store: Any = None,
    *,
    zarr_format: int | None = None,
) -> None:
    """Write the metadata of a new group into ``store``.

    ``overwrite`` deletes what is at ``path`` first (in ``chunk_store`` too); otherwise an
    array or group already there is an error. Missing parent groups are created.
    ``zarr_format`` (2 or 3; None: :func:`zarrkit.default_zarr_format`) is the group's
    format.
    """
    loc = Location.of(store, path, chunk_store)
    init_group_at(loc.with_format(check_zarr_version(None, zarr_format)), overwrite=overwrite)


def init_group_at(
    loc: Location, overwrite: bool = False, kinds: dict[str, Kinds] | None = None
) -> None:
    """Write the metadata of a new group at ``loc`` (in the location's format, else the
    default one). ``kinds``: what a :func:`survey` found at it and above (not looked at
    again)."""
    fmt = node_format(loc.zarr_format or default_zarr_format())
    _clear_or_refuse(loc, overwrite, fmt, kinds, {fmt.group_key(loc.prefix): fmt.encode_group()})


def _refuse_storage_transformers(storage_transformers: Any) -> None:
    if storage_transformers:
        raise ValueError(
            "storage_transformers are a Zarr v3 feature; zarrkit writes Zarr v2, "
            f"so they must be empty, got {storage_transformers!r}"
        )


def _h5py_compat(compressor: Any, fill_value: Any, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """Resolve h5py-style ``compression``/``compression_opts``/``fillvalue`` as zarr 2 does.

    ``compressor`` wins over ``compression`` (with a warning); any other leftover keyword is
    ignored with a warning.

    >>> _h5py_compat("default", 0, {"compression": "zlib", "compression_opts": 1})
    (Zlib(level=1), 0)
    """
    import numcodecs

    kwargs = dict(kwargs)
    if "compression" in kwargs or "compression_opts" in kwargs:
        compression = kwargs.pop("compression", "default")
        opts = kwargs.pop("compression_opts", None)
        if not (isinstance(compressor, str) and compressor == "default"):
            warnings.warn(
                "'compression'/'compression_opts' keyword arguments overridden by 'compressor'",
                UserWarning,
                stacklevel=3,
            )
        elif compression is None or (isinstance(compression, str) and compression == "none"):
            compressor = None
        elif isinstance(compression, str) and compression == "default":
            compressor = "default"
        elif isinstance(compression, str):
            try:
                codec_cls = numcodecs.registry.codec_registry[compression]
            except KeyError:
                raise ValueError(
                    f"unknown compression {compression!r}: not a numcodecs codec id"
                ) from None
            if isinstance(opts, dict):
                compressor = codec_cls(**opts)
            elif isinstance(opts, (list, tuple)):
                compressor = codec_cls(*opts)
            elif opts is None:
                compressor = codec_cls()
            else:
                compressor = codec_cls(opts)
        elif hasattr(compression, "get_config"):
            compressor = compression
        else:
            raise ValueError(f"bad value for compression: {compression!r}")
    if "fillvalue" in kwargs:
        fill_value = kwargs.pop("fillvalue")
    for k in kwargs:
        warnings.warn(f"ignoring keyword argument {k!r}", UserWarning, stacklevel=3)
    return compressor, fill_value


def create(
    shape: Any,
    chunks: Any = True,
    dtype: Any = None,
    compressor: Any = "default",
    fill_value: Any = 0,
    order: str = "C",
    store: Any = None,
    synchronizer: Any = None,
    overwrite: bool = False,
    path: str | None = None,
    chunk_store: Any = None,
    filters: Any = None,
    cache_metadata: bool = True,
    cache_attrs: bool = True,
    read_only: bool = False,
    object_codec: Any = None,
    dimension_separator: str | None = None,
    write_empty_chunks: bool = True,
    *,
    zarr_version: int | None = None,
    meta_array: Any = None,
    storage_transformers: Any = (),
    storage_options: dict | None = None,
    strict_missing: bool = False,
    zarr_format: int | None = None,
    shards: Any = None,
    dimension_names: Any = None,
    **kwargs: Any,
) -> Array:
    """Create an array.

    Parameters
    ----------
    shape : int or tuple of ints
        Length of each dimension.
    chunks : int, tuple of ints, True or False
        Chunk shape. ``True`` (default) guesses one of 128 KiB to 64 MiB, ``False`` makes one
        chunk of the whole array; ``None`` or ``-1`` in a dimension means its full length.
    dtype : str or numpy dtype
        Item type (default float64). ``str``, ``bytes`` and ``'array:T'`` make object arrays
        with a variable-length codec.
    compressor : numcodecs Codec or None
        Compressor of each chunk; ``'default'`` is ``zarrkit.storage.default_compressor``
        (Blosc lz4), None (or any falsy value) stores chunks uncompressed.
    fill_value : scalar or None
        Value of items never written (default 0); None leaves them uninitialised.
    order : {'C', 'F'}
        Memory layout of items within a chunk.
    store : MutableMapping, str or None
        Where the array is kept: a store, any mapping, a local path or a URL; None is a new
        in-memory store.
    synchronizer : object, optional
        Per-key locks for concurrent writers (``ThreadSynchronizer``, ``ProcessSynchronizer``).
    overwrite : bool
        Replace whatever is at ``path`` (it is deleted first).
    path : str, optional
        Path of the array within the store; missing parent groups are created.
    chunk_store : MutableMapping, optional
        Separate store for the chunks (metadata stay in ``store``).
    filters : list of numcodecs Codecs, optional
        Codecs applied before the compressor (e.g. ``Delta``, ``Quantize``).
    cache_metadata : bool
        Keep the metadata in memory; False re-reads them on every access (other processes
        may resize the array).
    cache_attrs : bool
        Keep user attributes in memory.
    read_only : bool
        Refuse writes through the returned object.
    object_codec : numcodecs Codec, optional
        Codec that turns objects into bytes; needed for object dtypes.
    dimension_separator : {'.', '/'}, optional
        Separator of chunk indices in chunk keys (default: the store's, else ``'.'``).
    write_empty_chunks : bool
        With False, chunks that hold only the fill value are not stored (and deleted).
    zarr_version, zarr_format : {None, 2, 3}
        The Zarr format to write (one name is zarr 2's, one zarr-python 3's); None: the
        format of the group it is created in, else the default
        (:func:`zarrkit.set_default_zarr_format`, 2 unless set).
    shards : tuple of int, or list of tuples of int, optional
        Zarr v3 only: the shard shape, a multiple of ``chunks`` along every dimension. Each
        shard is one stored object holding a grid of chunks (the ``sharding_indexed`` codec);
        ``chunks`` stays the shape a chunk is read and decoded in. A list of shapes,
        outermost first, nests shards: ``shards=[(1000, 1000), (100, 100)]`` with
        ``chunks=(10, 10)`` stores shards of 1000² holding inner shards of 100² holding
        chunks of 10² (each shape a multiple of the next; ``Array.shards`` is the outermost).
    dimension_names : sequence of str or None, optional
        Zarr v3 only: a name per dimension.
    meta_array : ignored
        Accepted for zarr 2 compatibility; results are NumPy arrays.
    storage_transformers : tuple
        A Zarr v3 feature: must be empty.
    storage_options : dict, optional
        Options of the fsspec file system when ``store`` is a URL.
    strict_missing : bool
        With True, reading a chunk that is not stored raises ``MissingChunkError``.
    **kwargs
        The h5py spellings ``compression=``/``compression_opts=`` (a numcodecs codec id and
        its arguments) and ``fillvalue=``; any other keyword is ignored with a warning, as
        zarr 2 does.

    >>> import zarrkit
    >>> z = zarrkit.create((10000, 10000), chunks=(1000, 1000), dtype='i4')
    >>> z
    <zarrkit.core.Array (10000, 10000) int32>
    """
    args = dict(locals())
    extra = args.pop("kwargs")
    plan = _plan_create(**args, **extra)
    meta = init_array_at(plan.loc, plan.spec, overwrite=plan.overwrite)
    return plan.open(meta)


class _Planned(NamedTuple):
    """An array :func:`create` was asked for, its arguments checked: where, its layout as
    requested, how it behaves, and whether it replaces what is there."""

    loc: Location
    spec: ArraySpec
    opts: Options
    overwrite: bool

    def open(self, meta: ArrayMeta) -> Array:
        """The array just written with the record ``meta``."""
        # the record just written is what a read would give, unless the store translates it
        keep = _keeps_record(self.loc.store, meta)
        return Array._at(self.loc, self.opts, meta if keep else None)


def _plan_create(
    shape: Any,
    chunks: Any = True,
    dtype: Any = None,
    compressor: Any = "default",
    fill_value: Any = 0,
    order: str = "C",
    store: Any = None,
    synchronizer: Any = None,
    overwrite: bool = False,
    path: str | None = None,
    chunk_store: Any = None,
    filters: Any = None,
    cache_metadata: bool = True,
    cache_attrs: bool = True,
    read_only: bool = False,
    object_codec: Any = None,
    dimension_separator: str | None = None,
    write_empty_chunks: bool = True,
    *,
    zarr_version: int | None = None,
    meta_array: Any = None,
    storage_transformers: Any = (),
    storage_options: dict | None = None,
    strict_missing: bool = False,
    zarr_format: int | None = None,
    shards: Any = None,
    dimension_names: Any = None,
    **kwargs: Any,
) -> _Planned:
    """:func:`create`'s arguments checked and turned into records (nothing written)."""
    fmt = check_zarr_version(zarr_version, zarr_format)
    compressor, fill_value = _h5py_compat(compressor, fill_value, kwargs)
    _refuse_storage_transformers(storage_transformers)
    loc = Location.of(store, path, chunk_store, storage_options=storage_options)
    spec = ArraySpec(
        zarr_format=fmt,
        shards=shards,
        dimension_names=dimension_names,
        shape=shape,
        chunks=chunks,
        dtype=dtype,
        compressor=compressor,
        fill_value=fill_value,
        order=order,
        filters=filters,
        object_codec=object_codec,
        dimension_separator=dimension_separator,
    )
    opts = Options(
        read_only=read_only,
        synchronizer=synchronizer,
        cache_metadata=cache_metadata,
        cache_attrs=cache_attrs,
        write_empty_chunks=write_empty_chunks,
        strict_missing=strict_missing,
    )
    return _Planned(loc, spec, opts, overwrite)


def create_planned(plans: list[_Planned]) -> list[Array]:
    """Create the arrays of ``plans`` (each from :func:`_plan_create`) with their metadata
    documents written in one ``setitems`` per store, and what is at their places looked at
    in one batch: one round trip on an object store, not a few per array.

    Every layout is checked before anything is written; an array or group already at a
    place (without ``overwrite``) is the same error as :func:`create` raises, before
    anything is written.
    """
    metas = [_array_meta(plan.spec, plan.loc.store) for plan in plans]
    claimed: list[Location] = []
    try:
        unknown: list[Location] = []
        for plan in plans:
            loc = plan.loc
            if plan.overwrite:
                loc.store.rmdir(loc.path)
                if loc.chunk_store is not None:
                    loc.chunk_store.rmdir(loc.path)
            elif loc.path and loc.store.claim_empty(loc.path):
                claimed.append(loc)  # a new, empty place
            else:
                unknown.append(loc)
        # the places not known to be new, and every group above them all, in one batch
        # per store
        wanted: dict[int, tuple[Store, dict[str, None]]] = {}
        for plan in plans:
            loc = plan.loc
            paths = wanted.setdefault(id(loc.store), (loc.store, {}))[1]
            paths.update(dict.fromkeys(ancestors(loc.path)))
        for loc in unknown:
            wanted.setdefault(id(loc.store), (loc.store, {}))[1][loc.path] = None
        kinds = {key: survey(store, paths) for key, (store, paths) in wanted.items()}
        for loc in unknown:
            found = kinds[id(loc.store)][loc.path]
            if found.array:
                raise ContainsArrayError(loc.path, location(loc.store))
            if found.group:
                raise ContainsGroupError(loc.path, location(loc.store))
        known: dict[int, set[str]] = {}  # each ancestor made sure of once per store
        for plan, (meta, _) in zip(plans, metas):
            loc = plan.loc
            fmt = node_format(meta.zarr_format)
            _require_parent_groups(
                loc.store,
                loc.path,
                plan.overwrite,
                loc.chunk_store,
                fmt,
                known.setdefault(id(loc.store), set()),
                kinds[id(loc.store)],
            )
    except BaseException:
        for loc in claimed:
            loc.store.rmdir(loc.path)
        raise
    documents: dict[int, tuple[Store, dict[str, bytes]]] = {}
    for plan, (meta, encoded) in zip(plans, metas):
        key = node_format(meta.zarr_format).array_key(plan.loc.prefix)
        documents.setdefault(id(plan.loc.store), (plan.loc.store, {}))[1][key] = encoded
    for store, docs in documents.values():
        store.setitems(docs)
    # a store that may translate what it keeps: the records as read back, in one batch
    records: list[ArrayMeta | str] = []
    back: dict[int, tuple[Store, dict[str, Any]]] = {}
    for plan, (meta, _) in zip(plans, metas):
        if _keeps_record(plan.loc.store, meta):
            records.append(meta)
            continue
        fmt = node_format(meta.zarr_format)
        key = fmt.array_key(plan.loc.prefix)
        back.setdefault(id(plan.loc.store), (plan.loc.store, {}))[1].update(
            {key: fmt.node_requests(plan.loc.prefix)[key]}
        )
        records.append(key)
    read: dict[str, Any] = {}
    for store, requests in back.values():
        read.update(store.getdecoded_many(requests))
    out = []
    for plan, record in zip(plans, records):
        given: ArrayMeta | None
        if isinstance(record, str):  # a key read back (absent or not decoded: read again)
            got = read.get(record)
            if isinstance(got, tuple):  # a v3 document: (record, attributes, ...)
                got = got[0]
            given = got if isinstance(got, ArrayMeta) else None
        else:
            given = record
        out.append(Array._at(plan.loc, plan.opts, given))
    return out


def _keeps_record(store: Store, meta: ArrayMeta) -> bool:
    """True if reading back the ``.zarray`` of ``meta`` from ``store`` gives ``meta`` again.

    Object, structured and unicode dtypes go through JSON in ways a record does not show (a
    tuple fill value becomes a list, descriptors are rewritten, ``np.str_`` becomes ``str``):
    those are read back, as are stores that translate what they store (N5).
    """
    dtype = meta.dtype
    return store.verbatim and dtype.kind in "biufcmMSV" and dtype.fields is None and not meta.extra


def empty(shape: Any, **kwargs: Any) -> Array:
    """An array with no fill value: unwritten chunks read as uninitialised memory.

    ``shape`` and every other keyword argument are those of :func:`create`.
    """
    return create(shape=shape, fill_value=None, **kwargs)


def zeros(shape: Any, **kwargs: Any) -> Array:
    """An array whose unwritten items read as 0.

    ``shape`` and every other keyword argument are those of :func:`create`.
    """
    return create(shape=shape, fill_value=0, **kwargs)


def ones(shape: Any, **kwargs: Any) -> Array:
    """An array whose unwritten items read as 1.

    ``shape`` and every other keyword argument are those of :func:`create`.
    """
    return create(shape=shape, fill_value=1, **kwargs)


def full(shape: Any, fill_value: Any, **kwargs: Any) -> Array:
    """An array whose unwritten items read as ``fill_value``.

    ``shape`` and every other keyword argument are those of :func:`create`.
    """
    return create(shape=shape, fill_value=fill_value, **kwargs)


def _shape_chunks(a: Any) -> tuple[Any, Any]:
    shape = getattr(a, "shape", None)
    chunks = getattr(a, "chunks", None)
    if chunks is None and shape is not None and getattr(a, "chunklen", None) is not None:
        chunks = (int(a.chunklen),) + tuple(shape[1:])  # bcolz-style chunked arrays
    if chunks is not None and not (
        isinstance(chunks, tuple) and all(isinstance(c, (int, np.integer)) for c in chunks)
    ):
        chunks = None  # e.g. dask's tuple-of-tuples chunks
    return shape, chunks


def array(data: Any, **kwargs: Any) -> Array:
    """Create an array filled with ``data`` (any array-like; written chunk by chunk).

    ``data`` gives the shape, the dtype and, when it is chunked (a zarr array, an h5py
    dataset, ``chunklen``), the chunk shape, unless the keyword arguments of :func:`create`
    say otherwise.

    >>> import zarrkit, numpy as np
    >>> z = zarrkit.array(np.arange(10), chunks=5)
    >>> z[:]
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    if not hasattr(data, "shape") or not hasattr(data, "dtype"):
        # items for an object array stay as given (a '<U' array would drop trailing NULs)
        dtype = kwargs.get("dtype")
        to_objects = dtype is not None and normalize_dtype(dtype)[0].hasobject
        data = np.asarray(data, dtype=object) if to_objects else np.asanyarray(data)
    if kwargs.get("dtype") is None:
        _inherit_object_codec(data, kwargs)
        kwargs["dtype"] = data.dtype
    shape, chunks = _shape_chunks(data)
    kwargs["shape"] = shape
    if kwargs.get("chunks") is None:
        kwargs["chunks"] = chunks if chunks is not None else True
    read_only = kwargs.pop("read_only", False)
    z = create(**kwargs)
    z[...] = data
    z.read_only = read_only
    return z


def open_array(
    store: Any = None,
    mode: str = "a",
    shape: Any = None,
    chunks: Any = True,
    dtype: Any = None,
    compressor: Any = "default",
    fill_value: Any = 0,
    order: str = "C",
    synchronizer: Any = None,
    filters: Any = None,
    cache_metadata: bool = True,
    cache_attrs: bool = True,
    path: str | None = None,
    object_codec: Any = None,
    chunk_store: Any = None,
    storage_options: dict | None = None,
    partial_decompress: bool = False,
    write_empty_chunks: bool = True,
    *,
    zarr_version: int | None = None,
    dimension_separator: str | None = None,
    meta_array: Any = None,
    strict_missing: bool = False,
    zarr_format: int | None = None,
    shards: Any = None,
    dimension_names: Any = None,
) -> Array:
    """Open an array, creating it as ``mode`` allows.

    Parameters
    ----------
    store : MutableMapping, str or None
        A store, any mapping, a local path or a URL.
    mode : {'r', 'r+', 'a', 'w', 'w-', 'x'}
        ``'r'`` read only, must exist; ``'r+'`` read/write, must exist; ``'a'`` read/write,
        created if missing; ``'w'`` created, replacing what is there; ``'w-'``/``'x'``
        created, failing if something is there.
    shape, chunks, dtype, compressor, fill_value, order, filters, object_codec,
    dimension_separator :
        The array's layout when it is created (see :func:`create`); ignored when it exists.
    synchronizer, cache_metadata, cache_attrs, write_empty_chunks, strict_missing :
        How the returned object behaves (see :func:`create`).
    path : str, optional
        Path of the array within the store.
    chunk_store : MutableMapping, optional
        Separate store for the chunks.
    storage_options : dict, optional
        Options of the fsspec file system when ``store`` is a URL.
    partial_decompress : bool
        Accepted for zarr 2 compatibility (whole chunks are always decoded).
    zarr_version, zarr_format, shards, dimension_names :
        See :func:`create`; an existing array is opened in its own format.
    meta_array : ignored
        Accepted for zarr 2 compatibility.

    >>> import zarrkit, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), 'a.zarr')
    >>> z = zarrkit.open_array(path, mode='w', shape=(4,), chunks=2, dtype='i2')
    >>> zarrkit.open_array(path, mode='r').shape
    (4,)
    """
    fmt = check_zarr_version(zarr_version, zarr_format)
    loc = Location.of(store, path, chunk_store, mode=mode, storage_options=storage_options)
    store, path = loc.store, loc.path
    new_format = fmt or default_zarr_format()
    if dimension_separator is None and type(store) is storage.KVStore and new_format == 2:
        # zarr 2's open_array writes "." explicitly for a plain mapping (its KVStore has no
        # separator of its own); other stores give their own default
        dimension_separator = "."
    spec = ArraySpec(
        shape=shape,
        chunks=chunks,
        dtype=dtype,
        compressor=compressor,
        fill_value=fill_value,
        order=order,
        filters=filters,
        object_codec=object_codec,
        dimension_separator=dimension_separator,
        zarr_format=new_format,
        shards=shards,
        dimension_names=dimension_names,
    )

    def init(overwrite: bool, kinds: dict[str, Kinds] | None = None) -> None:
        if shape is None:
            raise ValueError(f"shape must be given to create an array (mode={mode!r})")
        init_array_at(loc, spec, overwrite=overwrite, kinds=kinds)

    where = location(store)
    opts = Options(
        read_only=mode == "r",
        synchronizer=synchronizer,
        cache_metadata=cache_metadata,
        cache_attrs=cache_attrs,
        partial_decompress=partial_decompress,
        write_empty_chunks=write_empty_chunks,
        strict_missing=strict_missing,
    )
    if mode in ("r", "r+"):  # the read of the document is the look: no HEAD before it
        try:
            return Array._at(loc, opts)
        except ArrayNotFoundError:
            if contains_group(store, path):
                raise ContainsGroupError(path, where) from None
            raise
    if mode in ("a", "w-", "x"):
        # the place and the groups above it in one batch
        kinds = survey(store, [path, *ancestors(path)])
        if kinds[path].group:
            raise ContainsGroupError(path, where)
        if kinds[path].array:
            if mode != "a":
                raise ContainsArrayError(path, where)
        else:
            init(False, kinds)
    elif mode == "w":
        init(True)
    else:
        raise ValueError(f"mode must be one of 'r', 'r+', 'a', 'w', 'w-', 'x'; got {mode!r}")
    return Array._at(loc, opts)


def _inherit_object_codec(a: Any, kwargs: dict) -> None:
    """Copying an object array keeps its object codec (its first filter), as ``object_codec``.

    zarr 2 passes it on as a plain filter, which works but warns (FutureWarning).
    """
    if (
        isinstance(a, Array)
        and a.dtype.hasobject
        and a.filters
        and kwargs.get("object_codec") is None
        and kwargs.get("filters") is None
    ):
        kwargs["object_codec"] = a.filters[0]
        kwargs["filters"] = a.filters[1:] or None


def encoding_of(a: Array, chunks: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`create` that store data as ``a`` stores them, for the
    tools that make an array like another (``rechunk``, ``convert``, ``copy``).

    ``dtype``, ``fill_value``, ``order``, ``compressor`` (N5's block wrapping taken off: an
    N5 store wraps again what it stores), ``filters`` with an object array's first filter
    named ``object_codec``, ``zarr_format``, and for Zarr v3 ``dimension_names`` and
    ``shards`` (a list of shapes, outermost first, when they are nested). With new
    ``chunks``, the shards are kept only where they are a multiple of them (``None``
    otherwise: unsharded).

    >>> import zarrkit
    >>> z = zarrkit.full((4, 4), 7, chunks=(2, 2), dtype="i2")
    >>> enc = encoding_of(z)
    >>> str(enc["dtype"]), int(enc["fill_value"]), enc["zarr_format"]
    ('int16', 7, 2)
    """
    compressor = a.compressor
    zarr_format = getattr(a, "zarr_format", 2)  # zarr-python 2's arrays are copied too
    if compressor is not None and compressor.codec_id.endswith("n5_wrapper"):
        inner = compressor.get_config()["compressor_config"]
        compressor = None if inner is None else numcodecs.get_codec(dict(inner))
    filters = list(a.filters or [])
    kws: dict[str, Any] = {
        "dtype": a.dtype,
        "fill_value": a.fill_value,
        "order": a.order,
        "compressor": compressor,
        "zarr_format": zarr_format,
    }
    if a.dtype.hasobject and filters:
        kws.update(object_codec=filters[0], filters=filters[1:] or None)
    else:
        kws["filters"] = filters or None
    if zarr_format == 3:
        levels = list(a._meta.shard_shapes)  # outermost first; more than one: nested
        if levels and chunks is not None and any(s % c for s, c in zip(levels[-1], chunks)):
            levels = []
        shards = None if not levels else levels[0] if len(levels) == 1 else levels
        kws.update(shards=shards, dimension_names=a.dimension_names)
    return kws


def _like_args(a: Any, kwargs: dict) -> dict:
    shape, chunks = _shape_chunks(a)
    if shape is not None:
        kwargs.setdefault("shape", shape)
    if chunks is not None:
        kwargs.setdefault("chunks", chunks)
    if kwargs.get("dtype") is None:
        _inherit_object_codec(a, kwargs)
    if hasattr(a, "dtype"):
        kwargs.setdefault("dtype", a.dtype)
    if isinstance(a, Array):
        kwargs.setdefault("compressor", a.compressor)
        kwargs.setdefault("order", a.order)
        kwargs.setdefault("filters", a.filters)
        if a.zarr_format == 3 and kwargs.get("zarr_version") is None:
            kwargs.setdefault("zarr_format", 3)
        if kwargs.get("zarr_format") == 3:
            kwargs.setdefault("shards", list(a._meta.shard_shapes) or None)
            kwargs.setdefault("dimension_names", a.dimension_names)
    else:
        kwargs.setdefault("compressor", "default")
        kwargs.setdefault("order", "C")
    return kwargs


def empty_like(a: Any, **kwargs: Any) -> Array:
    """An empty array like ``a``.

    ``a`` gives the defaults of ``shape``, ``chunks``, ``dtype``, ``compressor``, ``order``
    and ``filters``; keyword arguments (those of :func:`create`) override them.
    """
    return empty(**_like_args(a, kwargs))


def zeros_like(a: Any, **kwargs: Any) -> Array:
    """A zero-filled array like ``a`` (see :func:`empty_like` for the arguments)."""
    return zeros(**_like_args(a, kwargs))


def ones_like(a: Any, **kwargs: Any) -> Array:
    """A one-filled array like ``a`` (see :func:`empty_like` for the arguments)."""
    return ones(**_like_args(a, kwargs))


def full_like(a: Any, **kwargs: Any) -> Array:
    """An array like ``a`` filled with ``fill_value`` (default: ``a.fill_value``).

    See :func:`empty_like` for the other arguments.
    """
    kwargs = _like_args(a, kwargs)
    if "fill_value" not in kwargs:
        if not hasattr(a, "fill_value"):
            raise TypeError("full_like() needs fill_value= when the source has none")
        kwargs["fill_value"] = a.fill_value
    return full(**kwargs)


def open_like(a: Any, path: Any, **kwargs: Any) -> Array:
    """Open an array like ``a`` at ``path``.

    ``path`` is the store (as for :func:`open_array`); ``a`` gives the defaults of the
    layout arguments and keyword arguments are those of :func:`open_array`.
    """
    kwargs = _like_args(a, kwargs)
    if isinstance(a, Array):
        kwargs.setdefault("fill_value", a.fill_value)
    return open_array(path, **kwargs)
