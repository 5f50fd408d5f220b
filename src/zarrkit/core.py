"""The :class:`Array` facade: properties, selection dispatch, resize/append, info, pickling.

All data access goes through a :class:`zarrkit.pipeline.base.ChunkPipeline`; all index
arithmetic lives in :mod:`zarrkit.indexing`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Literal

import numpy as np
from numcodecs.registry import codec_registry

from . import indexing as ix
from ._grid import cut_off
from ._info import InfoReporter, bytes_text, type_name
from ._node import Location, Node, Options, check_zarr_version
from ._probe import not_found
from ._svg import grid_svg
from .errors import ArrayNotFoundError
from .formats.meta import ArrayMeta
from .formats.nodes import V2, V3, node_format
from .formats.v2 import decode_array_meta, encode_array_meta
from .pipeline.base import ChunkPipeline, PipelineOptions
from .pipeline.codec_chain import CodecChain
from .pipeline.factory import pipeline_for

__all__ = ["Array"]

_DOTTED_CHUNK_KEY = re.compile(r"\d+(\.\d+)+")


def _codecs_registered(meta: ArrayMeta) -> bool:
    """True if every codec of ``meta`` is in numcodecs' registry (built lazily then)."""
    configs = (meta.compressor, *meta.filters) if meta.filters else (meta.compressor,)
    for c in configs:
        if c is not None and not (type(c) is dict and c.get("id") in codec_registry):
            return False
    return True


class Array(Node):
    """A chunked, compressed N-dimensional array in a store.

    Parameters
    ----------
    store : MutableMapping
        Where metadata and chunks live.
    path : str, optional
        Path of the array within the store.
    read_only : bool
        Refuse every write.
    chunk_store : MutableMapping, optional
        Separate store for chunks (metadata stays in ``store``).
    synchronizer : object, optional
        Per-key locks (:class:`zarrkit.sync.ThreadSynchronizer` or ``ProcessSynchronizer``).
    cache_metadata : bool
        Keep metadata in memory; set False when other processes may resize the array.
    cache_attrs : bool
        Keep user attributes in memory.
    write_empty_chunks : bool
        With False, chunks equal to the fill value everywhere are not stored (and deleted).
    strict_missing : bool
        With True, reading a chunk that is not in the store raises ``MissingChunkError``
        instead of giving the fill value.

    >>> import zarrkit
    >>> z = zarrkit.zeros((4, 4), chunks=(2, 2), dtype='i4')
    >>> z[1, :] = 7
    >>> z[:2]
    array([[0, 0, 0, 0],
           [7, 7, 7, 7]], dtype=int32)
    """

    _kind = "array"
    #: True for arrays made by :meth:`view` / :meth:`astype` (metadata in memory only)
    _is_view = False
    _given_meta_array: Any = None

    def __init__(
        self,
        store: Any,
        path: str | None = None,
        read_only: bool = False,
        chunk_store: Any = None,
        synchronizer: Any = None,
        cache_metadata: bool = True,
        cache_attrs: bool = True,
        partial_decompress: bool = False,
        write_empty_chunks: bool = True,
        zarr_version: int | None = None,
        meta_array: Any = None,
        strict_missing: bool = False,
    ) -> None:
        check_zarr_version(zarr_version)
        self._open(
            Location.of(store, path, chunk_store),
            Options(
                read_only=read_only,
                synchronizer=synchronizer,
                cache_metadata=cache_metadata,
                cache_attrs=cache_attrs,
                partial_decompress=partial_decompress,
                write_empty_chunks=write_empty_chunks,
                strict_missing=strict_missing,
            ),
        )

    @classmethod
    def _at(cls, loc: Location, opts: Options, meta: ArrayMeta | dict | None = None) -> Array:
        """The array at ``loc`` (already normalised), behaving as ``opts`` say.

        ``meta`` is its metadata when the caller has them already: the parsed ``.zarray``
        document or the record just written; None reads them from the store.
        """
        a = cls.__new__(cls)
        a._open(loc, opts, meta)
        return a

    def _open(self, loc: Location, opts: Options, meta: ArrayMeta | dict | None = None) -> None:
        self._setup(loc, opts)
        self._cache_metadata = opts.cache_metadata
        self._partial_decompress = opts.partial_decompress
        self._write_empty_chunks = opts.write_empty_chunks
        self._strict_missing = opts.strict_missing
        self._meta: ArrayMeta
        self._load_metadata(meta)

    # -- metadata ------------------------------------------------------------------------
    @property
    def _meta_key(self) -> str:
        return self._fmt.array_key(self._key_prefix)

    def _load_metadata(self, given: ArrayMeta | dict | None = None) -> None:
        """Read the metadata from the store (or take ``given``, see :meth:`_at`)."""
        if isinstance(given, ArrayMeta):
            meta = given
        elif given is not None:
            meta = decode_array_meta(given, self._meta_key)
        else:
            meta = self._read_meta()
        self._fmt = node_format(meta.zarr_format)
        if meta.dimension_separator is None and meta.ndim > 1:
            sep = self._unnamed_separator()
            if sep is not None:
                meta = replace(meta, dimension_separator=sep)
        if getattr(self, "_meta", None) is not None and self._meta == meta:
            return
        self._set_meta(meta)

    def _read_meta(self) -> ArrayMeta:
        """The record in the store: of the node's format when known, else ``.zarray`` and
        then ``zarr.json`` (``ArrayNotFoundError`` if neither holds an array)."""
        fmts = (self._fmt,) if "_fmt" in self.__dict__ else (V2, V3)
        for fmt in fmts:
            try:
                return fmt.read_array(self._store, self._key_prefix)
            except KeyError:
                continue
        raise not_found(ArrayNotFoundError, self._store, self._path) from None

    def _unnamed_separator(self) -> str | None:
        """The chunk key separator of an array whose metadata name none.

        Metadata written before zarr 2.8 leave it out; such arrays in a nested store use '/'
        (zarr 2 then takes the store's default), while arrays written through a flat store
        use '.'. When the store's default is not '.', the chunk keys present decide, so that
        neither kind reads as fill values; decided once per array object.
        """
        if "_legacy_separator" not in self.__dict__:
            sep = getattr(self._store, "_dimension_separator", None)
            if sep not in (None, "."):
                names = self.chunk_store.listdir(self._path)
                if any(_DOTTED_CHUNK_KEY.fullmatch(n) for n in names):
                    sep = "."
            self._legacy_separator = sep
        return self._legacy_separator

    def _set_meta(self, meta: ArrayMeta) -> None:
        """Take a new record; the codec chain and the pipeline follow on first use."""
        self._meta = meta
        self.__dict__.pop("_chain", None)
        self.__dict__.pop("_pipeline", None)
        if not _codecs_registered(meta):
            self._chain  # noqa: B018 - an unknown codec is an error at open, not at first read

    @functools.cached_property
    def _chain(self) -> CodecChain:
        """Filters and compressor of the current metadata, built on first use."""
        return CodecChain(self._meta, where=self._meta_key)

    @functools.cached_property
    def _pipeline(self) -> ChunkPipeline:
        """The chunk engine of the current metadata, built on first use."""
        options = PipelineOptions(
            synchronizer=self._synchronizer,
            write_empty_chunks=self._write_empty_chunks,
            strict=self._strict_missing,
            meta_store=None if self._synchronizer is None else self._store,
            meta_key=self._meta_key,
            context=None if self._meta_array is None else {"meta_array": self._meta_array},
        )
        return pipeline_for(self._meta, self._chain, self.chunk_store, self._path, options)

    def _refresh(self) -> None:
        if not self._cache_metadata:
            self._load_metadata()

    def _write_metadata(self, meta: ArrayMeta) -> None:
        from dataclasses import replace

        # zarr 2 names the separator in use whenever it rewrites metadata (resize, append, ...)
        if meta.zarr_format == 2:
            meta = replace(meta, dimension_separator=meta.separator)
        if meta.zarr_format == 2:
            object_codec = (
                self._chain.filters[0] if meta.dtype.hasobject and self._chain.filters else None
            )
            self._store[self._meta_key] = encode_array_meta(meta, object_codec)
        else:  # the attributes live in the same document: kept as stored
            try:
                attrs = self._fmt.decode_attrs(self._store.getjson(self._meta_key), self._meta_key)
            except KeyError:
                attrs = {}
            self._store[self._meta_key] = self._fmt.encode_array(meta, attrs)
        self._set_meta(meta)

    def _meta_lock(self) -> Any:
        if self._synchronizer is None:
            return contextlib.nullcontext()
        return self._synchronizer[self._meta_key]

    def _refuse_view(self, what: str) -> None:
        if self._is_view:
            raise PermissionError(f"{what} is not permitted on a view: its metadata are not stored")

    # -- properties ----------------------------------------------------------------------
    @property
    def name(self) -> str | None:
        """``'/' + path``, or None for an array at the root of its store."""
        return "/" + self._path if self._path else None

    @property
    def basename(self) -> str | None:
        return self.name.split("/")[-1] if self.name else None

    @property
    def _dimension_separator(self) -> str:
        """The separator between chunk indices in this array's chunk keys (zarr 2 name)."""
        return self._meta.separator

    def _chunk_key(self, chunk_coords: tuple[int, ...]) -> str:
        """The store key of the chunk at ``chunk_coords``, e.g. ``'foo/0.1'``."""
        return self._key_prefix + self._meta.chunk_key(tuple(chunk_coords))

    @property
    def read_only(self) -> bool:
        return self._read_only

    @read_only.setter
    def read_only(self, value: bool) -> None:
        self._read_only = bool(value)
        self._attrs.read_only = bool(value)

    @property
    def shape(self) -> tuple[int, ...]:
        self._refresh()
        return self._meta.shape

    @shape.setter
    def shape(self, value: Any) -> None:
        self.resize(value)

    @property
    def chunks(self) -> tuple[int, ...]:
        self._refresh()
        return self._meta.chunks

    @property
    def shards(self) -> tuple[int, ...] | None:
        """The shard shape of a sharded Zarr v3 array (what one stored key holds, a grid of
        ``chunks``), else None."""
        self._refresh()
        return self._meta.shards

    @property
    def dimension_names(self) -> tuple[str | None, ...] | None:
        """The names of the dimensions (Zarr v3), or None."""
        return self._meta.dimension_names

    @property
    def dtype(self) -> np.dtype:
        return self._meta.dtype

    @property
    def compressor(self) -> Any:
        return self._chain.compressor

    @property
    def filters(self) -> list | None:
        return list(self._chain.filters) or None

    @property
    def _meta_array(self) -> Any:
        """A non-default ``meta_array`` set by zarr 2 code, passed to the store's ``getitems``
        as every key's context (zarrkit itself always returns NumPy arrays)."""
        return self._given_meta_array

    @_meta_array.setter
    def _meta_array(self, value: Any) -> None:
        self._given_meta_array = value
        self.__dict__.pop("_pipeline", None)  # its options hold the context: made anew

    @property
    def _filters(self) -> list | None:
        """zarr 2's attribute; assigning it changes this object's filter chain in memory only."""
        return self.filters

    @_filters.setter
    def _filters(self, filters: Any) -> None:
        from dataclasses import replace

        configs = tuple(f.get_config() for f in filters or ()) or None
        self._set_meta(replace(self._meta, filters=configs))

    @property
    def fill_value(self) -> Any:
        return self._meta.fill_value

    @fill_value.setter
    def fill_value(self, value: Any) -> None:
        from dataclasses import replace

        from .formats.v2 import normalize_fill_value

        self._check_writable()
        with self._meta_lock():
            self._load_metadata()
            self._write_metadata(
                replace(self._meta, fill_value=normalize_fill_value(value, self.dtype))
            )

    @property
    def order(self) -> Literal["C", "F"]:
        return self._meta.order

    @property
    def write_empty_chunks(self) -> bool:
        return self._write_empty_chunks

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Uncompressed size of all items in bytes."""
        return self.size * self.itemsize

    @property
    def nbytes_stored(self) -> int:
        """Bytes in the store for this array: metadata, attributes and chunks."""
        n = self._store.size_below(self._path)
        if self._chunk_store is not None and n >= 0:
            chunks = self._chunk_store.size_below(self._path)
            n = -1 if chunks < 0 else n + chunks
        return n

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        """Number of chunks along each dimension (``(1,)`` for a 0-d array, as zarr 2)."""
        self._refresh()
        return self._meta.cdata_shape or (1,)

    @property
    def nchunks(self) -> int:
        self._refresh()
        return self._meta.nchunks

    @property
    def nchunks_initialized(self) -> int:
        """Number of chunks present in the store (of shards, for a sharded array: what is
        stored)."""
        self._refresh()
        sep = re.escape(self._meta.separator)
        if self._meta.chunk_key_encoding == "default":  # Zarr v3: c/0/0 (or c.0.0), c at 0-d
            pattern = re.compile("c" + (rf"{sep}\d+" * self.ndim) + r"\Z")
        else:
            pattern = re.compile(r"\d+" + (rf"{sep}\d+" * (self.ndim - 1)) + r"\Z")
        store = self.chunk_store
        # chunk keys with '.' are names in the array's folder: listed as zarr 2 lists them
        names = store.listdir(self._path) if sep == r"\." else store.keys_under(self._path)
        return sum(1 for k in names if pattern.match(k))

    initialized = nchunks_initialized

    @property
    def vindex(self) -> _VIndex:
        """Coordinate and mask selection: ``z.vindex[[0, 2], [1, 3]]``."""
        return _VIndex(self)

    @property
    def oindex(self) -> _OIndex:
        """Orthogonal selection: ``z.oindex[[0, 2], :]``."""
        return _OIndex(self)

    @property
    def blocks(self) -> _BlockIndex:
        """Selection of whole chunks by chunk index: ``z.blocks[0, 1:3]``."""
        return _BlockIndex(self)

    @property
    def info(self) -> InfoReporter:
        """A report of the array's configuration and storage."""
        return InfoReporter(self)

    def info_items(self) -> list[tuple[str, str]]:
        items: list[tuple[str, str]] = []
        if self.name is not None:
            items.append(("Name", self.name))
        items += [
            ("Type", type_name(self)),
        ]
        if self.zarr_format != 2:  # zarr 2's report (doctests compare it) has no such row
            items.append(("Zarr format", str(self.zarr_format)))
        items += [
            ("Data type", str(self.dtype)),
            ("Shape", str(self.shape)),
            ("Chunk shape", str(self.chunks)),
        ]
        if self.shards is not None:
            items.append(("Shard shape", str(self.shards)))
            for shape in self._meta.shard_shapes[1:]:  # nested sharding, outermost first
                items.append(("Inner shard shape", str(shape)))
        if self.dimension_names is not None:
            items.append(("Dimension names", str(self.dimension_names)))
        items += [
            ("Order", self.order),
            ("Read-only", str(self.read_only)),
        ]
        for i, f in enumerate(self.filters or []):
            items.append((f"Filter [{i}]", repr(f)))
        items.append(("Compressor", repr(self.compressor)))
        if self._synchronizer is not None:
            items.append(("Synchronizer type", type_name(self._synchronizer)))
        items.append(("Store type", type_name(self._store)))
        if self._chunk_store is not None:
            items.append(("Chunk store type", type_name(self._chunk_store)))
        nbytes, stored = self.nbytes, self.nbytes_stored
        items.append(("No. bytes", bytes_text(nbytes)))
        if stored > 0:
            items.append(("No. bytes stored", bytes_text(stored)))
            items.append(("Storage ratio", f"{nbytes / stored:.1f}"))
        if self._meta.shards is not None:  # what is stored is shards: counted as such
            nshards = math.prod(self._meta.stored_grid)
            items.append(("Shards initialized", f"{self.nchunks_initialized}/{nshards}"))
        else:
            items.append(("Chunks initialized", f"{self.nchunks_initialized}/{self.nchunks}"))
        return items

    # -- reading -------------------------------------------------------------------------
    def __getitem__(self, selection: Any) -> Any:
        """NumPy-style access: basic selection, else coordinate, else orthogonal (as zarr 2)."""
        indexer, fields, keep_0d = self._read_plan(selection)
        return self._get(indexer, None, fields, keep_0d=keep_0d)

    def _read_plan(self, selection: Any) -> tuple[ix.Indexer, Any, bool]:
        """What ``self[selection]`` reads: its indexer, its fields, and whether a 0-d result
        stays an array (the metadata refreshed once, as the read then uses them)."""
        fields, sel = ix.pop_fields(selection)
        self._refresh()  # once per call: the methods below work with the record as loaded
        kind = ix.getitem_kind(sel, self._meta.ndim)
        if kind == "basic":
            return self._indexer(ix.BasicIndexer, sel), fields, self._keeps_0d(sel)
        if kind == "vindex":
            return self._vindex_indexer(sel, selection), fields, False
        return self._indexer(ix.OrthogonalIndexer, sel), fields, False

    def _keeps_0d(self, selection: Any) -> bool:
        """A basic selection of a 0-d array with ``...`` gives a 0-d array (zarr 2)."""
        return not self._meta.shape and (
            selection is Ellipsis
            or (isinstance(selection, tuple) and any(s is Ellipsis for s in selection))
        )

    def _indexer(self, kind: type[ix.Indexer], selection: Any) -> ix.Indexer:
        return kind(selection, self._meta.shape, self._meta.chunks)  # type: ignore[call-arg]

    def _vindex_indexer(self, sel: Any, selection: Any) -> ix.Indexer:
        """The indexer of ``z.vindex[selection]`` (``sel``: without field names)."""
        if ix.is_mask_selection(sel):
            return self._indexer(ix.MaskIndexer, sel)
        if isinstance(sel, tuple) or ix.is_array_like(sel) or ix.is_integer(sel):
            return self._indexer(ix.CoordinateIndexer, sel)
        raise ix.VindexInvalidSelectionError(selection)

    def get_basic_selection(
        self, selection: Any = Ellipsis, out: Any = None, fields: Any = None
    ) -> Any:
        """Integers, slices (step >= 1) and ``...``; integer dimensions are dropped.

        As in zarr 2, ``...`` on a 0-d array gives a 0-d array, ``()`` gives a scalar.
        """
        self._refresh()
        return self._get_basic(selection, out, fields)

    def _get_basic(self, selection: Any, out: Any, fields: Any) -> Any:
        indexer = self._indexer(ix.BasicIndexer, selection)
        return self._get(indexer, out, fields, keep_0d=self._keeps_0d(selection))

    def get_orthogonal_selection(self, selection: Any, out: Any = None, fields: Any = None) -> Any:
        """Outer indexing: each dimension by integer, slice, or 1-D integer/Boolean array."""
        self._refresh()
        return self._get(self._indexer(ix.OrthogonalIndexer, selection), out, fields)

    def get_coordinate_selection(self, selection: Any, out: Any = None, fields: Any = None) -> Any:
        """Points: one integer array per dimension, broadcast together."""
        self._refresh()
        return self._get(self._indexer(ix.CoordinateIndexer, selection), out, fields)

    def get_mask_selection(self, selection: Any, out: Any = None, fields: Any = None) -> Any:
        """Items where a Boolean array of the array's shape is True."""
        self._refresh()
        return self._get(self._indexer(ix.MaskIndexer, selection), out, fields)

    def get_block_selection(self, selection: Any, out: Any = None, fields: Any = None) -> Any:
        """Whole chunks by chunk index."""
        self._refresh()
        return self._get(self._indexer(ix.BlockIndexer, selection), out, fields)

    def _get(
        self,
        indexer: ix.Indexer,
        out: Any,
        fields: Any,
        keep_0d: bool = False,
        pipeline: ChunkPipeline | None = None,
    ) -> Any:
        """Read ``indexer``'s selection (through ``pipeline``, else the array's own)."""
        fields = ix.normalize_fields(fields)
        out_dtype = ix.check_fields(fields, self._meta.dtype)
        # a subarray field (('i2', (2,))) adds its item dimensions after the selection's
        item_shape = out_dtype.shape
        buffer_shape = indexer.buffer_shape + item_shape
        if out is not None:
            if not hasattr(out, "shape") or not hasattr(out, "__setitem__"):
                raise TypeError(
                    "out must be a NumPy array (or another array with a shape and item "
                    f"assignment), got {type(out).__name__}"
                )
            if tuple(out.shape) != indexer.shape + item_shape:
                raise ValueError(
                    f"out has shape {tuple(out.shape)}, the selection has shape "
                    f"{indexer.shape + item_shape}"
                )
            if not isinstance(out, np.ndarray):
                # another array type (a zarr array, ...): read, then assign the result
                out[...] = self._get(indexer, None, fields, keep_0d=True)
                return out
            buffer = out.reshape(buffer_shape)
            if not np.may_share_memory(buffer, out) and out.size:
                buffer = np.empty(buffer_shape, dtype=out.dtype, order=self.order)
            self._pipeline.read(indexer, buffer, fields)
            if not np.may_share_memory(buffer, out) and out.size:
                out[...] = indexer.finish(buffer)
            return out
        buffer = np.empty(buffer_shape, dtype=out_dtype.base, order=self._meta.order)
        (self._pipeline if pipeline is None else pipeline).read(indexer, buffer, fields)
        result = indexer.finish(buffer)
        if result.shape == () and not out_dtype.shape and not keep_0d:
            return result[()]
        return result

    # -- writing -------------------------------------------------------------------------
    def __setitem__(self, selection: Any, value: Any) -> None:
        fields, sel = ix.pop_fields(selection)
        self._check_writable()
        self._refresh()  # once per call
        kind = ix.getitem_kind(sel, self._meta.ndim)
        if kind == "basic":
            indexer = self._indexer(ix.BasicIndexer, sel)
        elif kind == "vindex":
            indexer = self._vindex_indexer(sel, selection)
        else:
            indexer = self._indexer(ix.OrthogonalIndexer, sel)
        self._set(indexer, value, fields)

    def set_basic_selection(self, selection: Any, value: Any, fields: Any = None) -> None:
        self._check_writable()
        self._refresh()
        self._set(self._indexer(ix.BasicIndexer, selection), value, fields)

    def set_orthogonal_selection(self, selection: Any, value: Any, fields: Any = None) -> None:
        self._check_writable()
        self._refresh()
        self._set(self._indexer(ix.OrthogonalIndexer, selection), value, fields)

    def set_coordinate_selection(self, selection: Any, value: Any, fields: Any = None) -> None:
        self._check_writable()
        self._refresh()
        self._set(self._indexer(ix.CoordinateIndexer, selection), value, fields)

    def set_mask_selection(self, selection: Any, value: Any, fields: Any = None) -> None:
        self._check_writable()
        self._refresh()
        self._set(self._indexer(ix.MaskIndexer, selection), value, fields)

    def set_block_selection(self, selection: Any, value: Any, fields: Any = None) -> None:
        self._check_writable()
        self._refresh()
        self._set(self._indexer(ix.BlockIndexer, selection), value, fields)

    def _set(self, indexer: ix.Indexer, value: Any, fields: Any) -> None:
        fields = ix.check_set_fields(fields, self._meta.dtype)
        out_dtype = ix.check_fields(fields, self._meta.dtype)
        # a subarray field (('i2', (2,))) takes values with its item dimensions at the end
        sel_shape = indexer.shape + out_dtype.shape
        out_dtype = out_dtype.base
        basic = isinstance(indexer, ix.BasicIndexer | ix.BlockIndexer) and not indexer.drop_axes
        if _is_lazy_source(value) and basic:
            if tuple(value.shape) != sel_shape:
                raise ValueError(
                    f"value has shape {tuple(value.shape)}, the selection has shape {sel_shape}"
                )
            self._pipeline.write(indexer, value, fields, lazy=True)
            return
        value = self._as_value_array(value, out_dtype, sel_shape)
        if value.ndim:
            value = indexer.value_for_buffer(value)
        self._pipeline.write(indexer, value, fields)

    def _as_value_array(
        self, value: Any, dtype: np.dtype, sel_shape: tuple[int, ...]
    ) -> np.ndarray:
        if dtype.hasobject:
            if sel_shape == () or isinstance(value, (str, bytes)) or not _is_sequence(value):
                box = np.empty((), dtype=object)
                box[()] = value
                return box
            arr = np.empty(sel_shape, dtype=object) if _ragged(value, sel_shape) else None
            if arr is not None:
                for i, v in enumerate(value):
                    arr[i] = v
                return arr
            value = np.asarray(value, dtype=object)
        else:
            if _is_lazy_source(value):
                value = np.asarray(value)
            try:
                value = np.asarray(value, dtype=dtype) if dtype.shape == () else np.asarray(value)
            except (ValueError, TypeError) as e:
                raise type(e)(
                    f"cannot store {_short(value)} in an array of dtype {dtype}: {e}"
                ) from None
        if value.ndim == 0:
            return value
        if sel_shape == () and value.size == 1:
            return value.reshape(())
        if value.shape != sel_shape:
            # as in zarr 2, no broadcasting: a value of another shape is most often a mistake
            raise ValueError(
                f"parameter 'value': expected array with shape {sel_shape}, got {value.shape}"
            )
        return value

    # -- views ---------------------------------------------------------------------------
    def view(
        self,
        shape: Any = None,
        chunks: Any = None,
        dtype: Any = None,
        fill_value: Any = None,
        filters: Any = None,
        read_only: bool | None = None,
        synchronizer: Any = None,
    ) -> Array:
        """A new Array over the same chunks, with some metadata replaced in memory only.

        Nothing is written to the store's metadata. A different ``dtype`` reinterprets the
        decoded chunk bytes (same item size), ``filters`` replace the filter chain (e.g. a
        ``numcodecs.AsType`` to convert on read), ``shape`` changes the visible extent
        without touching chunks.

        >>> import zarrkit, numpy as np
        >>> z = zarrkit.array(np.arange(4, dtype='i1'))
        >>> z.view(dtype='u1')[:]
        array([0, 1, 2, 3], dtype=uint8)
        """
        from dataclasses import replace

        from ._normalize import check_codec, normalize_chunks, normalize_shape
        from .formats.v2 import normalize_fill_value

        a = Array.__new__(Array)
        a.__dict__.update(self.__dict__)
        a._read_only = self._read_only if read_only is None else bool(read_only)
        if synchronizer is not None:
            a._synchronizer = synchronizer
        a._cache_metadata = True  # a view's metadata live in memory only
        a._is_view = True
        meta = self._meta
        changes: dict[str, Any] = {}
        if shape is not None:
            changes["shape"] = normalize_shape(shape)
        if chunks is not None:
            changes["chunks"] = normalize_chunks(
                chunks, changes.get("shape", meta.shape), meta.dtype.itemsize
            )
        if dtype is not None:
            new_dtype = np.dtype(dtype)
            changes["dtype"] = new_dtype
            if fill_value is None and meta.fill_value is not None:
                old_fill = np.array(meta.fill_value, dtype=meta.dtype)
                if filters is None and new_dtype.itemsize == meta.dtype.itemsize:
                    old_fill = old_fill.view(new_dtype)  # the same bytes, read as the new type
                changes["fill_value"] = old_fill.astype(new_dtype)[()]
        if fill_value is not None:
            changes["fill_value"] = normalize_fill_value(
                fill_value, changes.get("dtype", meta.dtype)
            )
        if filters is not None:
            filters = list(filters)
            for f in filters:
                check_codec(f, "filter")
            changes["filters"] = tuple(f.get_config() for f in filters) or None
        a._attrs = self._attrs
        a._set_meta(replace(meta, **changes))
        return a

    def astype(self, dtype: Any) -> Array:
        """A read-only view that converts items to ``dtype`` as they are read.

        >>> import zarrkit, numpy as np
        >>> z = zarrkit.array(np.arange(3, dtype='i1'))
        >>> z.astype('f4')[:]
        array([0., 1., 2.], dtype=float32)
        """
        from numcodecs import AsType

        dtype = np.dtype(dtype)
        filters = [AsType(encode_dtype=self._meta.dtype, decode_dtype=dtype)]
        filters.extend(self.filters or [])
        return self.view(filters=filters, dtype=dtype, read_only=True)

    # -- shape changes -------------------------------------------------------------------
    def resize(self, *args: Any) -> None:
        """Change the shape; chunks wholly outside the new shape are deleted.

        Only the chunks that are cut off are touched: they are computed from index ranges,
        never by listing the store.
        """
        self._check_writable()
        self._refuse_view("resize")
        from ._normalize import normalize_shape

        new_shape = normalize_shape(args[0] if len(args) == 1 else args)
        with self._meta_lock():
            self._load_metadata()
            old = self._meta
            if len(new_shape) != old.ndim:
                raise ValueError(
                    f"new shape {new_shape} has {len(new_shape)} dimensions, "
                    f"the array has {old.ndim}"
                )
            new = old.with_shape(new_shape)
            self._write_metadata(new)
            self._pipeline.delete_chunks(cut_off(old.stored_grid, new.stored_grid))

    def append(self, data: Any, axis: int = 0) -> tuple[int, ...]:
        """Grow along ``axis`` and write ``data`` into the new part; returns the new shape."""
        self._check_writable()
        self._refuse_view("append")
        if self._meta.dtype.hasobject:
            # ragged items stay items; every one must encode before the array grows
            data = _object_items(data, self.ndim)
            self._chain.encode_objects(data.reshape(-1))
        elif not _is_lazy_source(data):
            # converted before the array grows: data that cannot take the dtype fails here
            data = np.asanyarray(data)
            data = self._as_value_array(data, self._meta.dtype, tuple(data.shape))
        with self._meta_lock():
            self._load_metadata()
            shape = self._meta.shape
            if not -len(shape) <= axis < len(shape):
                raise ValueError(
                    f"axis {axis} is out of range for an array of {len(shape)} dimensions"
                )
            axis %= len(shape)
            if len(data.shape) != len(shape) or any(
                a != b for i, (a, b) in enumerate(zip(shape, data.shape)) if i != axis
            ):
                raise ValueError(
                    f"shape of data to append {tuple(data.shape)} is not compatible with the "
                    f"array's shape {shape}; all dimensions must match except axis {axis}"
                )
            new_shape = tuple(s + (data.shape[i] if i == axis else 0) for i, s in enumerate(shape))
            self._write_metadata(self._meta.with_shape(new_shape))
            sel = tuple(
                slice(shape[i], new_shape[i]) if i == axis else slice(None)
                for i in range(len(shape))
            )
        self[sel] = data
        return new_shape

    # -- digests -------------------------------------------------------------------------
    def digest(self, hashname: str = "sha1") -> bytes:
        """Hash of every chunk (in index order), the metadata and the attributes."""
        h = hashlib.new(hashname)
        keys = [self._pipeline.key(c) for c in itertools.product(*map(range, self.cdata_shape))]
        for start in range(0, len(keys), 1024):
            batch = keys[start : start + 1024]
            found = self.chunk_store.getitems(batch)
            for k in batch:
                h.update(_to_bytes(found.get(k, b"")))
        h.update(_to_bytes(self._store.get(self._meta_key, b"")))
        h.update(_to_bytes(self._store.get(self._attrs.key, b"")))
        return h.digest()

    def hexdigest(self, hashname: str = "sha1") -> str:
        return self.digest(hashname).hex()

    # -- python protocols ----------------------------------------------------------------
    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        return self.islice()

    def islice(self, start: int | None = None, end: int | None = None) -> Iterator[Any]:
        """Iterate over the first dimension, decoding each chunk once."""
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        start = 0 if start is None else start
        end = self.shape[0] if end is None or end > self.shape[0] else end
        for name, v in (("start", start), ("end", end)):
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a nonnegative integer, got {v!r}")
        step = self.chunks[0]
        block: Any = None
        block_start = -1
        for j in range(start, end):
            b0 = j - j % step
            if b0 != block_start:
                block, block_start = self[b0 : b0 + step], b0
            yield block[j - b0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self[...]
        if not isinstance(a, np.ndarray):
            a = np.asarray(a)
        return a if dtype is None else a.astype(dtype)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Array)
            and self._store == other._store
            and self._read_only == other._read_only
            and self._path == other._path
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        r = f"<{type_name(self)}"
        if self.name:
            r += f" {self.name!r}"
        r += f" {self.shape} {self.dtype}"
        if self._read_only:
            r += " read-only"
        return r + ">"

    def _repr_html_(self) -> str:
        """Jupyter's view: a drawing of the chunk grid (``_svg.grid_svg``: shards over
        chunks, stored keys shaded, bounded in size), then the :attr:`info` table."""
        store, path = self.chunk_store, self._path
        svg = grid_svg(self._meta, lambda: store.keys_under(path))
        picture = f'<div class="zarrkit-grid">{svg}</div>' if svg else ""
        return picture + self.info._repr_html_()

    def __reduce__(self) -> tuple:
        # constructor arguments only (a persistent store pickles to its parameters), with
        # trailing defaults left out to keep the pickle small
        args = [
            self._store,
            self._path,
            self._read_only,
            self._chunk_store,
            self._synchronizer,
            self._cache_metadata,
            self._cache_attrs,
            self._partial_decompress,
            self._write_empty_chunks,
            None,
            None,
            self._strict_missing,
        ]
        defaults = [None, "", False, None, None, True, True, False, True, None, None, False]
        while len(args) > 1 and args[-1] == defaults[len(args) - 1]:
            args.pop()
        # the opening process travels along: writes from another one are checked
        return (type(self), tuple(args), {"_owner_pid": self._owner_pid})

    def __dask_tokenize__(self) -> tuple:
        return (
            type(self).__name__,
            id(self._store),
            self._path,
            self.shape,
            str(self.dtype),
            self.chunks,
        )


# -- accessors ---------------------------------------------------------------------------


class _VIndex:
    def __init__(self, array: Array) -> None:
        self.array = array

    def __getitem__(self, selection: Any) -> Any:
        fields, sel = ix.pop_fields(selection)
        if ix.is_mask_selection(sel):
            return self.array.get_mask_selection(sel, fields=fields)
        if isinstance(sel, tuple) or ix.is_array_like(sel) or ix.is_integer(sel):
            return self.array.get_coordinate_selection(sel, fields=fields)
        raise ix.VindexInvalidSelectionError(selection)

    def __setitem__(self, selection: Any, value: Any) -> None:
        fields, sel = ix.pop_fields(selection)
        if ix.is_mask_selection(sel):
            self.array.set_mask_selection(sel, value, fields=fields)
        elif isinstance(sel, tuple) or ix.is_array_like(sel) or ix.is_integer(sel):
            self.array.set_coordinate_selection(sel, value, fields=fields)
        else:
            raise ix.VindexInvalidSelectionError(selection)


class _OIndex:
    def __init__(self, array: Array) -> None:
        self.array = array

    def __getitem__(self, selection: Any) -> Any:
        fields, sel = ix.pop_fields(selection)
        return self.array.get_orthogonal_selection(sel, fields=fields)

    def __setitem__(self, selection: Any, value: Any) -> None:
        fields, sel = ix.pop_fields(selection)
        self.array.set_orthogonal_selection(sel, value, fields=fields)


class _BlockIndex:
    def __init__(self, array: Array) -> None:
        self.array = array

    def __getitem__(self, selection: Any) -> Any:
        fields, sel = ix.pop_fields(selection)
        return self.array.get_block_selection(sel, fields=fields)

    def __setitem__(self, selection: Any, value: Any) -> None:
        fields, sel = ix.pop_fields(selection)
        self.array.set_block_selection(sel, value, fields=fields)


# -- helpers -----------------------------------------------------------------------------


def _is_lazy_source(value: Any) -> bool:
    return (
        not isinstance(value, (np.ndarray, np.generic, str, bytes))
        and hasattr(value, "shape")
        and hasattr(value, "__getitem__")
    )


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray)) or _is_lazy_source(value)


def _object_items(data: Any, ndim: int) -> np.ndarray:
    """``data`` as an object array; a list of sequences for a 1-d array is a list of items."""
    if ndim == 1 and isinstance(data, (list, tuple)):
        arr = np.empty(len(data), dtype=object)
        for i, v in enumerate(data):
            arr[i] = v
        return arr
    return np.asarray(data, dtype=object)


def _ragged(value: Any, sel_shape: tuple[int, ...]) -> bool:
    return (
        len(sel_shape) == 1
        and isinstance(value, (list, tuple))
        and len(value) == sel_shape[0]
        and any(isinstance(v, (list, tuple, np.ndarray)) for v in value)
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _to_bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else memoryview(v).tobytes()
