"""The Python implementations of the chunk pipeline: :class:`StorePipeline` (any store,
batches through the store protocol) and :class:`FilesPipeline` (local chunk files, one fused
task per chunk). ``compiled.NativePipeline`` extends the second with the compiled loop; which
one an array gets is decided once, by ``factory.pipeline_for``.

Every per-chunk decision is made once: from the metadata when the pipeline is made (whether
stored chunks are the raw items, which chunks are edge chunks, whether decoded chunks go
through a thread's scratch buffer) or from the call, once per read or write (whether the
value is a scalar or a lazy source, whether the output takes items unchanged, whether the
codec work runs inline).

Reads from a store that offers local files (``DirectoryStore``) run one fused task per chunk in
the thread pool: read the file, check and decode it, scatter it into the output. Uncompressed
chunks are read straight into the output (``os.readv`` into the destination's rows); a whole
chunk whose destination is contiguous is decoded straight into it (when its compressor's
header states the decoded size, which is checked first); other chunks decode into a scratch
buffer of the pool thread and are copied. Other stores: the keys of a batch are fetched with
one ``getitems`` call, then decoded and scattered in the pool; on a store over a network
(``Store.requests_in_flight``) in groups, each decoded as it arrives while the next ones are
fetched (:class:`_Requests`: at most two batches held).

Writes mirror it: one fused merge -> encode -> write task per chunk for local files (chunks
only partly covered are read in the task); otherwise partly covered chunks are fetched in one batch, merged and encoded in the pool, and stored with one ``setitems``
(and, with ``write_empty_chunks=False``, fill-value chunks are removed with one
``delitems``); on a store over a network, batch ``k`` is stored while batch ``k + 1`` is
encoded (without a synchronizer). With a synchronizer every chunk of a batch is locked across
the read-modify-write.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import numcodecs
import numpy as np

from .._pool import get_num_threads, run_parallel, runs_inline
from ..errors import CorruptChunkError, MissingChunkError, ObjectCodecMissingError
from ..formats.meta import ArrayMeta
from ..formats.nodes import node_format
from ..indexing import ChunkProjection, Indexer
from ..storage.base import ConstantMap, Store, prefix_of
from ..storage.files import LocalFiles
from .base import ChunkPipeline, PipelineOptions
from .codec_chain import CodecChain, byte_length

# errors of codecs that refuse to decode (not corruption), e.g. unpickling without opt-in
_REFUSED: tuple[type[BaseException], ...] = (ObjectCodecMissingError,) + tuple(
    t for t in (getattr(getattr(numcodecs, "errors", None), "UnsafeDecodeError", None),) if t
)

_BATCH_BYTES = 128 * 2**20
# a write holds the encoded chunks of a batch (stores without local files): keep it small
_WRITE_BATCH_BYTES = 32 * 2**20
_MAX_BATCH = 1024
# chunks up to this size decode into a buffer kept by each pool thread
_SCRATCH_MAX = 16 * 2**20
# on a store over a network (``Store.requests_in_flight``): the getitems/setitems calls of a
# read or write running at once, each of ``requests_in_flight / _CALLS`` keys
_CALLS = 4

_scratch_local = threading.local()


def _scratch(nbytes: int) -> np.ndarray:
    """A uint8 buffer of at least ``nbytes`` owned by the calling thread (reused)."""
    buf = getattr(_scratch_local, "buf", None)
    if buf is None or buf.nbytes < nbytes:
        buf = _scratch_local.buf = np.empty(nbytes, dtype=np.uint8)
    return buf


def item_strides(chunks: tuple[int, ...], order: str) -> tuple[int, ...]:
    """The distance in items between neighbours along each dimension of a chunk."""
    strides = [1] * len(chunks)
    dims = range(len(chunks))
    for d in reversed(dims) if order == "C" else dims:
        strides[d] = math.prod(chunks[d + 1 :] if order == "C" else chunks[:d])
    return tuple(strides)


def scratch_fits(chain: CodecChain) -> bool:
    """Decoded chunks of ``chain`` may go through a pool thread's scratch buffer (plain
    items, no filters, at most 16 MB)."""
    return not chain.is_object and not chain.filters and 0 < chain.chunk_nbytes <= _SCRATCH_MAX


class StorePipeline(ChunkPipeline):
    """The general pipeline: chunks go through the store protocol, in batches (one
    ``getitems``, one ``setitems``, one ``delitems`` per batch)."""

    #: chunk files read and written from the pool tasks (None: batches through the store)
    files: LocalFiles | None = None
    #: writes run one merge -> encode -> write task per chunk (local files only)
    _fused_writes = False

    def __init__(
        self,
        store: Store,
        path: str,
        meta: ArrayMeta,
        chain: CodecChain,
        options: PipelineOptions,
    ) -> None:
        self.store = store
        self.prefix = prefix_of(path)
        self.meta = meta
        self.chain = chain
        self.options = options
        self.synchronizer = options.synchronizer
        self.write_empty_chunks = options.write_empty_chunks
        self.strict = options.strict
        self.context = options.context
        self.chunk_size = math.prod(meta.chunks)
        chunk_bytes = max(1, self.chunk_size * meta.dtype.itemsize)
        self.batch = max(2 * get_num_threads(), min(_MAX_BATCH, _BATCH_BYTES // chunk_bytes))
        self.write_batch = max(
            2 * get_num_threads(), min(_MAX_BATCH, _WRITE_BATCH_BYTES // chunk_bytes)
        )
        self._chunk_bytes = chunk_bytes
        # -- decided once per array ----------------------------------------------------------
        # a chunk whose index reaches these in some dimension sticks out of the array
        # decoded chunks go through the thread's scratch buffer (plain items only)
        self._scratch_ok = scratch_fits(chain)
        self._decodes_to_scratch = self._scratch_ok and (chain.can_decode_into or chain.is_raw)
        self._layout = (meta.dtype, meta.chunks, meta.order)
        self._item_strides = item_strides(meta.chunks, meta.order)
        self._contiguous = "c_contiguous" if meta.order == "C" else "f_contiguous"

    # -- helpers ---------------------------------------------------------------------------
    @property
    def held_write_bytes(self) -> int:
        """Encoded bytes a write on a store over a network keeps in its requests before it
        encodes more (:func:`_store_ahead`): the raw bytes of ``write_batch`` chunks."""
        return self.write_batch * self._chunk_bytes

    def key(self, coords: tuple[int, ...]) -> str:
        return self.prefix + self.meta.chunk_key(coords)

    def _inline(self, n: int) -> bool:
        """Run the codec work for ``n`` chunks in the calling thread rather than the pool
        (the rule is :func:`zarrkit._pool.runs_inline`'s)."""
        return runs_inline(n, blosc=self.chain.uses_blosc)

    def _batches(self, n: int, size: int) -> Iterator[range]:
        for start in range(0, n, size):
            yield range(start, min(n, start + size))

    def _decode(self, key: str, data: Any, scratch: bool = False) -> np.ndarray:
        """The chunk array of stored bytes; with ``scratch``, in the thread's scratch buffer
        (valid until the thread decodes the next chunk)."""
        try:
            if scratch and self._decodes_to_scratch:
                chain = self.chain
                nbytes = chain.chunk_nbytes
                chunk = self._empty_chunk(scratch=True)
                if chain.can_decode_into:
                    chain.decode_into(data, chunk)
                    return chunk
                if chain.is_raw:
                    if byte_length(data) != nbytes:
                        raise ValueError(f"{byte_length(data)} bytes stored, expected {nbytes}")
                    chunk.reshape(-1, order="A").view(np.uint8)[:] = np.frombuffer(
                        data, dtype=np.uint8
                    )
                    return chunk
            return self.chain.decode(data)
        except _REFUSED:
            raise  # e.g. numcodecs refusing to unpickle: the chunk is not corrupt
        except Exception as e:
            raise CorruptChunkError(key, f"{type(e).__name__}: {e}") from e

    def _empty_chunk(self, scratch: bool = False) -> np.ndarray:
        """An uninitialised chunk; with ``scratch``, the thread's scratch buffer if it can."""
        meta = self.meta
        if scratch and self._scratch_ok:
            local = _scratch_local
            if getattr(local, "layout", None) is not self._layout:
                nbytes = self.chain.chunk_nbytes
                local.raw = _scratch(nbytes)[:nbytes]
                local.chunk = local.raw.view(meta.dtype).reshape(meta.chunks, order=meta.order)
                local.address = local.raw.ctypes.data
                local.layout = self._layout
            return local.chunk
        return np.empty(meta.chunks, dtype=meta.dtype, order=meta.order)

    def _fresh_chunk(self, scratch: bool = False) -> np.ndarray:
        """A chunk holding the fill value (zeros when there is none; None for objects)."""
        meta = self.meta
        if meta.dtype.hasobject:
            chunk = np.empty(meta.chunks, dtype=meta.dtype, order=meta.order)
            if meta.fill_value is not None:
                chunk.fill(meta.fill_value)
            return chunk
        chunk = self._empty_chunk(scratch)
        if meta.fill_value is None:
            # zero bytes, as zarr 2 pads (``fill(0)`` would put b"0" in a bytes item)
            chunk[...] = np.zeros((), dtype=meta.dtype)
        else:
            chunk.fill(meta.fill_value)
        return chunk

    # -- reads -----------------------------------------------------------------------------
    def read(self, indexer: Indexer, out: np.ndarray, fields: Any = None) -> None:
        """Fill ``out`` (shaped like ``indexer.buffer_shape``) with the selection."""
        self._read(list(indexer), out, fields)

    def _read(self, projections: list[ChunkProjection], out: np.ndarray, fields: Any) -> None:
        n = len(projections)
        if not n:
            return
        meta, chain = self.meta, self.chain
        names = [meta.chunk_key(p.chunk_coords) for p in projections]
        prefix = self.prefix
        inline = self._inline(n)
        fill = meta.fill_value
        if fill is not None and fields is not None:
            fill = np.asarray(fill, dtype=meta.dtype)[fields]
        elif fill is not None and meta.dtype.kind == "O":
            fill = np.empty((), dtype=object)  # one item, even if the fill is a list
            fill[()] = meta.fill_value
        # items go to the output unchanged: whole chunks may be decoded straight into it
        direct = fields is None and out.dtype == meta.dtype and not chain.is_object
        contiguous = self._contiguous
        chunk_size = self.chunk_size

        def put(i: int, data: Any) -> bool:
            """Scatter chunk ``i`` (its stored bytes, or None if missing); True if missing."""
            p = projections[i]
            if data is None:
                if fill is not None:
                    out[p.out_selection] = fill
                return True
            if direct and p.complete and not p.edge:
                # complete projections index the output with slices (and integers, which
                # the Ellipsis keeps from turning a 0-d destination into a scalar copy)
                dest = out[tuple(p.out_selection) + (Ellipsis,)]
                if dest.size == chunk_size and getattr(dest.flags, contiguous):
                    if chain.can_decode_into:
                        try:
                            chain.decode_into(data, dest)
                        except Exception as e:
                            raise CorruptChunkError(
                                prefix + names[i], f"{type(e).__name__}: {e}"
                            ) from e
                        return False
            chunk = self._decode(prefix + names[i], data, scratch=True)
            if fields is not None:
                chunk = chunk[fields]
            out[p.out_selection] = chunk[p.chunk_selection]
            return False

        self._fetch(projections, names, out, put, inline, direct)

    def _fetch(
        self,
        projections: list[ChunkProjection],
        names: list[str],
        out: np.ndarray,
        put: Callable[[int, Any], bool],
        inline: bool,
        direct: bool,
    ) -> None:
        """Fetch the chunks ``names`` and hand each to ``put`` (its bytes, or None if missing):
        one ``getitems`` per batch, the scatter in the pool."""
        n, prefix = len(projections), self.prefix
        keys = [prefix + name for name in names]
        group = _group_size(self.store, self.batch)
        if group and n > group:
            self._fetch_ahead(keys, put, inline, group)
            return
        for batch in self._batches(n, self.batch):
            # ``contexts`` is part of zarr 2's store protocol: foreign Store subclasses
            # may require it
            batch_keys = [keys[i] for i in batch]
            contexts = {} if self.context is None else ConstantMap(batch_keys, self.context)
            found = self.store.getitems(batch_keys, contexts=contexts)
            if self.strict:
                missing_keys = [keys[i] for i in batch if keys[i] not in found]
                if missing_keys:
                    raise MissingChunkError(missing_keys)

            def put_found(i: int, found: dict = found) -> bool:
                return put(i, found.get(keys[i]))

            run_parallel(put_found, batch, inline)

    def _fetch_ahead(
        self, keys: list[str], put: Callable[[int, Any], bool], inline: bool, group: int
    ) -> None:
        """:meth:`_fetch` on a store over a network: ``getitems`` of groups of ``group`` keys,
        ``_CALLS`` at a time, each group decoded and scattered as soon as it arrives while
        the next ones are fetched. Keys requested and not yet scattered: at most two
        batches (``2 * self.batch``), so at most two batches of stored bytes are held."""
        store, context, strict = self.store, self.context, self.strict

        def get(part: range) -> dict:
            part_keys = [keys[i] for i in part]
            contexts = {} if context is None else ConstantMap(part_keys, context)
            return store.getitems(part_keys, contexts=contexts)

        parts = list(self._batches(len(keys), group))
        window = 2 * self.batch
        with _Requests() as requests:
            for part in parts:
                while requests.held + len(part) > window:
                    self._scatter(*requests.next_done(), keys, put, inline, strict)
                requests.submit(get, part, len(part))
            while requests.held:
                self._scatter(*requests.next_done(), keys, put, inline, strict)

    @staticmethod
    def _scatter(
        part: range,
        found: dict,
        keys: list[str],
        put: Callable[[int, Any], bool],
        inline: bool,
        strict: bool,
    ) -> None:
        """Hand the chunks ``part`` fetched (``found``) to ``put``, in the pool."""
        if strict:
            missing_keys = [keys[i] for i in part if keys[i] not in found]
            if missing_keys:
                raise MissingChunkError(missing_keys)
        run_parallel(lambda i: put(i, found.get(keys[i])), part, inline)

    # -- writes ----------------------------------------------------------------------------
    def write(self, indexer: Indexer, value: Any, fields: Any = None, lazy: bool = False) -> None:
        """Store ``value`` at the selection (see :meth:`.ChunkPipeline.write`)."""
        self._write(list(indexer), value, fields, lazy)

    def _write(
        self, projections: list[ChunkProjection], value: Any, fields: Any, lazy: bool
    ) -> None:
        if not projections:
            return
        w = _Write(self, projections, value, fields, lazy)
        n = len(projections)
        if self.chain.is_object and not w.lazy and not w.scalar and n > self.write_batch:
            # a batch stores nothing when one of its chunks fails to encode, but a write of
            # several batches could stop half way: every item is checked against the codec
            self.chain.encode_objects(value.reshape(-1))
        if w.fused and not w.lazy and self.synchronizer is None:
            w.run(range(n))  # per-chunk tasks hold one chunk each: no batches needed
            return
        group = _group_size(self.store, self.write_batch)
        if group and not w.fused and self.synchronizer is None and n > self.write_batch:
            w.run_ahead(list(self._batches(n, self.write_batch)), group)
            return
        for batch in self._batches(n, self.write_batch):
            w.run(batch)

    def _stored_shape(self) -> tuple[int, ...] | None:
        """The array's shape in its metadata document now (None if the document is gone)."""
        store, key = self.options.meta_store, self.options.meta_key
        assert store is not None
        try:
            return node_format(self.meta.zarr_format).read_array_key(store, key).shape
        except KeyError:
            return None

    def _drop_cut(
        self, batch: range, projections: Sequence[ChunkProjection], keys: list[str], stored: Any
    ) -> None:
        """Delete the chunks just stored that a concurrent resize has cut off (their locks
        are held). A resize writes the shape first and deletes the chunks it cuts after: a
        chunk stored in between is deleted here, one stored before is deleted by the resize."""
        shape = self._stored_shape()
        if shape is None or len(shape) != len(self.meta.chunks):
            return
        cut = [
            keys[i]
            for i in batch
            if keys[i] in stored
            and any(
                c * n >= s for c, n, s in zip(projections[i].chunk_coords, self.meta.chunks, shape)
            )
        ]
        if cut:
            self.store.delitems(cut)

    @contextlib.contextmanager
    def _locked(self, keys: list[str]) -> Iterator[None]:
        if self.synchronizer is None or not keys:
            yield
            return
        with contextlib.ExitStack() as stack:
            for k in sorted(set(keys)):
                stack.enter_context(self.synchronizer[k])
            yield

    # -- whole-store helpers ---------------------------------------------------------------
    def delete_chunks(self, coords: Iterator[tuple[int, ...]]) -> None:
        """Delete chunks by coordinates (in batches); absent ones are ignored."""
        buf: list[str] = []
        for c in coords:
            buf.append(self.key(c))
            if len(buf) >= _MAX_BATCH:
                self.store.delitems(buf)
                buf = []
        if buf:
            self.store.delitems(buf)


class FilesPipeline(StorePipeline):
    """Chunks are local files (``store.local_files_at(path)``): each chunk is one fused pool
    task (read the file, check the frame, decode, scatter; merge, encode, write)."""

    def __init__(
        self,
        store: Store,
        path: str,
        meta: ArrayMeta,
        chain: CodecChain,
        options: PipelineOptions,
        files: LocalFiles,
    ) -> None:
        super().__init__(store, path, meta, chain, options)
        self.files = files
        # object chunks are all encoded before any is stored: an item the codec refuses
        # must not leave half a batch written (they take the batches of StorePipeline)
        self._fused_writes = not chain.is_object
        # a compressor that records the decoded size: the hot read task (_fused_reader)
        self._fused_decode = chain.can_decode_into and self._scratch_ok
        # uncompressed chunk files are read straight into the output's rows
        self._reads_rows = chain.is_raw and meta.order == "C"

    def _fetch(
        self,
        projections: list[ChunkProjection],
        names: list[str],
        out: np.ndarray,
        put: Callable[[int, Any], bool],
        inline: bool,
        direct: bool,
    ) -> None:
        """Read each chunk's file in its own pool task and hand it to ``put``."""
        n, prefix, chain, files = len(projections), self.prefix, self.chain, self.files
        assert files is not None
        chunk_size = self.chunk_size
        if direct and self._fused_decode:
            missing = run_parallel(
                self._fused_reader(projections, names, out, put, inline), range(n), inline
            )
            if self.strict and any(missing):
                raise MissingChunkError([prefix + names[i] for i in range(n) if missing[i]])
            return

        nbytes, limit = chain.chunk_nbytes, chain.max_stored_nbytes
        rows = _Rows(out) if direct and self._reads_rows else None

        def fused(i: int) -> bool:
            name, key = names[i], prefix + names[i]
            if rows is not None:
                p = projections[i]
                if p.complete and not p.edge:
                    buffers = rows.of(p.out_selection, chunk_size)
                    if buffers is not None:
                        size = files.readinto(name, buffers, nbytes, key=key)
                        if size is None:
                            return put(i, None)
                        if size != nbytes:
                            raise CorruptChunkError(key, f"{size} bytes stored, expected {nbytes}")
                        return False
            return put(i, files.read(name, key=key, limit=limit))

        missing = run_parallel(fused, range(n), inline)
        if self.strict and any(missing):
            raise MissingChunkError([prefix + names[i] for i in range(n) if missing[i]])

    def _fused_reader(
        self,
        projections: list[ChunkProjection],
        names: list[str],
        out: np.ndarray,
        put: Callable[[int, Any], bool],
        inline: bool,
    ) -> Callable[[int], bool]:
        """The per-chunk task of the hot read path: a compressor that records the decoded
        size, plain items, chunk files. Each task reads the file, checks the frame, decodes
        into the output (a whole chunk with a contiguous destination) or into the thread's
        scratch chunk, and copies the selection. Returns True for a missing chunk. Pool
        threads decode with c-blosc's context decoder; inline (on the calling thread, one
        chunk or a few) numcodecs' Blosc may spread a large chunk over its own threads."""
        read, prefix = self.files.read, self.prefix  # type: ignore[union-attr]
        decode_raw = self.chain.decode_raw
        decode_raw_at = self.chain.decode_raw_at
        decode_part = self.chain.decode_raw_part
        partial = self.chain.partial_limit > 0
        limit = self.chain.max_stored_nbytes
        layout = self._layout
        order = self.meta.order
        contiguous = self._contiguous
        chunk_size = self.chunk_size
        # whether whole chunks land contiguously in ``out``: the same for all of them
        whole_contiguous: list[bool] = []

        def task(i: int) -> bool:
            p = projections[i]
            name = names[i]
            data = read(name, key=prefix + name, limit=limit)
            if data is None:
                return put(i, None)
            try:
                if p.complete and not p.edge:
                    if not whole_contiguous:
                        dest = out[tuple(p.out_selection) + (Ellipsis,)]
                        whole_contiguous.append(
                            dest.size == chunk_size and bool(getattr(dest.flags, contiguous))
                        )
                    if whole_contiguous[0]:
                        dest = out[tuple(p.out_selection) + (Ellipsis,)]
                        decode_raw(data, dest.reshape(-1, order=order).view(np.uint8))
                        return False
                local = _scratch_local
                if getattr(local, "layout", None) is not layout:
                    self._empty_chunk(scratch=True)
                # a small region: only the Blosc blocks holding it, after the whole frame's
                # structure is checked (the compiled loop takes the same decision)
                span = self._span(p.chunk_selection) if partial else None
                if span is None or not decode_part(data, *span, local.raw):
                    if inline:
                        decode_raw(data, local.raw)
                    else:
                        decode_raw_at(data, local.raw, local.address)
            except Exception as e:
                raise CorruptChunkError(prefix + name, f"{type(e).__name__}: {e}") from e
            out[p.out_selection] = local.chunk[p.chunk_selection]
            return False

        return task

    def _span(self, chunk_selection: Any) -> tuple[int, int] | None:
        """The bytes ``start, stop`` of a chunk (in its memory order) that a selection of
        integers and slices of step 1 spans, when that is at most the chain's
        ``partial_limit`` (the loop's rule: the same span, the same limit); else None."""
        if not isinstance(chunk_selection, tuple):
            return None
        first = last = 0
        for s, st in zip(chunk_selection, self._item_strides):
            if type(s) is slice:
                if s.step not in (None, 1) or s.stop <= s.start:
                    return None
                first += s.start * st
                last += (s.stop - 1) * st
            elif isinstance(s, (int, np.integer)):
                first += int(s) * st
                last += int(s) * st
            else:
                return None
        itemsize = self.meta.dtype.itemsize
        start, stop = first * itemsize, (last + 1) * itemsize
        if stop - start > self.chain.partial_limit:
            return None
        return start, stop


class _Write:
    """One write call: its decisions (made once) and the per-chunk work."""

    def __init__(
        self,
        pipe: StorePipeline,
        projections: list[ChunkProjection],
        value: Any,
        fields: Any,
        lazy: bool,
    ) -> None:
        meta, chain = pipe.meta, pipe.chain
        self.pipe, self.meta, self.projections, self.fields = pipe, meta, projections, fields
        self.lazy = lazy
        self.scalar = not self.lazy and value.ndim == 0
        self.value = value[()] if self.scalar else value
        self.synced = pipe.synchronizer is not None
        self.names = [meta.chunk_key(p.chunk_coords) for p in projections]
        self.keys = [pipe.prefix + name for name in self.names]
        #: one merge -> encode -> write task per chunk (object chunks are all encoded before
        #: any is stored: an item the codec refuses must not leave half a batch written)
        self.fused = pipe._fused_writes
        self.skip_fill = not pipe.write_empty_chunks and meta.fill_value is not None
        # a scalar equal to the fill value: whole chunks are deleted, never built
        self.scalar_fill = (
            self.scalar and self.skip_fill and fields is None and _scalar_is_fill(self.value, meta)
        )
        # uncompressed whole chunks are written straight from the value's rows
        self.rows = (
            _Rows(value)
            if self.fused
            and chain.is_raw
            and not self.lazy
            and not self.scalar
            and fields is None
            and meta.order == "C"
            and value.dtype == meta.dtype
            else None
        )
        self.pieces: dict[int, np.ndarray] = {}

    def _read_pieces(self, batch: range) -> None:
        """The pieces of a lazy source for ``batch``, read here, in the calling thread."""
        if self.lazy:
            projections, value = self.projections, self.value
            self.pieces = {i: np.asarray(value[projections[i].out_selection]) for i in batch}

    def _merge(self, p: ChunkProjection, edge: bool) -> bool:
        """The chunk is merged with what is stored. With a synchronizer an edge chunk is
        one too: another writer may have grown the array and stored items past the shape
        known here."""
        return self.fields is not None or not p.complete or (self.synced and edge)

    def run(self, batch: range) -> None:
        pipe = self.pipe
        projections = self.projections
        self._read_pieces(batch)  # (before the locks are taken)
        keys = self.keys
        # with a synchronizer every chunk of the batch is locked, whole ones too: storing a
        # whole chunk inside another writer's read-modify-write of it would be lost
        with pipe._locked([keys[i] for i in batch] if self.synced else []):
            inline = pipe._inline(len(batch))
            if self.fused:
                pipe.store._check_writable()
                done = run_parallel(self._store_one, batch, inline)
                stored: Any = {keys[i] for i, ok in zip(batch, done) if ok}
            else:
                stored = self._store_batch(batch, inline)
            if stored and self.synced and pipe.options.meta_store is not None:
                pipe._drop_cut(batch, projections, keys, stored)
        self.pieces = {}

    def _store_one(self, i: int) -> bool:
        """Merge, encode and write chunk ``i`` (a fused task); False when it was removed."""
        pipe = self.pipe
        p = self.projections[i]
        files, name = pipe.files, self.names[i]
        assert files is not None  # (fused tasks run for local files only)
        edge = p.edge
        whole = not self._merge(p, edge)
        fill_checked = False
        if whole and self.skip_fill:
            # a whole chunk is the fill value when its part of the value is (the rest of an
            # edge chunk is fill anyway): checked before any chunk is built
            if self.scalar_fill or (
                not self.scalar and _is_fill(self._piece(i, p), self.meta.fill_value)
            ):
                files.remove(name)
                return False
            fill_checked = True
        if whole and self.rows is not None and not edge:
            buffers = self.rows.of(p.out_selection, pipe.chunk_size)
            if buffers is not None:
                files.write(name, buffers, key=self.keys[i], parts=True)
                return True
        limit = pipe.chain.max_stored_nbytes
        chunk = self._chunk(
            i, p, edge, whole, lambda: files.read(name, key=self.keys[i], limit=limit)
        )
        if self.skip_fill and not fill_checked and _is_fill(chunk, self.meta.fill_value):
            files.remove(name)
            return False
        files.write(name, pipe.chain.encode_buffer(chunk), key=self.keys[i])
        return True

    def _piece(self, i: int, p: ChunkProjection) -> Any:
        """The part of the value that goes to chunk ``i``."""
        if self.scalar:
            return self.value
        return self.pieces[i] if self.lazy else self.value[p.out_selection]

    def run_ahead(self, batches: list[range], group: int) -> None:
        """:meth:`run` of every batch on a store over a network (no synchronizer), through
        :func:`_store_ahead`: batch ``k + 1`` is encoded while batch ``k`` is stored."""
        pipe = self.pipe
        _store_ahead(
            pipe.store,
            batches,
            lambda batch: self._encode_batch(batch, pipe._inline(len(batch))),
            group,
            pipe.held_write_bytes,
        )

    def _store_batch(self, batch: range, inline: bool) -> dict[str, bytes]:
        """Fetch the partly covered chunks in one batch, build and encode every chunk in the
        pool, then store them with one ``setitems`` (and one ``delitems``)."""
        to_set, to_delete = self._encode_batch(batch, inline)
        if to_set:
            self.pipe.store.setitems(to_set)
        if to_delete:
            self.pipe.store.delitems(to_delete)
        return to_set

    def _encode_batch(self, batch: range, inline: bool) -> tuple[dict[str, bytes], list[str]]:
        """The encoded chunks of ``batch`` to store, and the fill-value chunks to delete: the
        partly covered chunks fetched in one batch, every chunk built and encoded in the
        pool."""
        pipe, projections, keys = self.pipe, self.projections, self.keys
        if not self.pieces:
            self._read_pieces(batch)
        edges = {i: projections[i].edge for i in batch}
        merge = [keys[i] for i in batch if self._merge(projections[i], edges[i])]
        existing = pipe.store.getitems(merge, contexts={}) if merge else {}

        def build(i: int) -> tuple[str, bytes | None]:
            p, key = projections[i], keys[i]
            whole = not self._merge(p, edges[i])
            chunk = self._chunk(i, p, edges[i], whole, lambda: existing.get(key))
            if self.skip_fill and _is_fill(chunk, self.meta.fill_value):
                return key, None
            return key, pipe.chain.encode(chunk)

        results = run_parallel(build, batch, inline)
        self.pieces = {}
        return {k: v for k, v in results if v is not None}, [k for k, v in results if v is None]

    def _chunk(
        self, i: int, p: ChunkProjection, edge: bool, whole: bool, stored: Callable[[], Any]
    ) -> np.ndarray:
        """The new content of chunk ``i`` (possibly the thread's scratch buffer)."""
        pipe, meta = self.pipe, self.meta
        v = self._piece(i, p)
        if whole:
            if edge:
                # the part of an edge chunk outside the array holds the fill value
                # (as zarr 2 writes it, so the stored bytes are the same)
                chunk = pipe._fresh_chunk(scratch=True)
                chunk[p.chunk_selection] = v
            else:
                chunk = pipe._empty_chunk(scratch=True)
                if self.scalar:
                    chunk.fill(v)
                else:
                    chunk[p.chunk_selection] = v
            return chunk
        data = stored()
        if data is None:
            chunk = pipe._fresh_chunk(scratch=True)
        else:
            chunk = pipe._decode(self.keys[i], data, scratch=True)
            if not pipe._decodes_to_scratch:  # a codec's own result: may share the bytes
                chunk = np.array(chunk, order=meta.order, copy=True)
        target = chunk[self.fields] if self.fields is not None else chunk
        target[p.chunk_selection] = v
        return chunk


class _Rows:
    """Byte views of the rows of whole-chunk regions of a C-contiguous array, for reading
    and writing chunk files straight from and into it (``os.readv`` / ``os.writev``)."""

    def __init__(self, arr: np.ndarray) -> None:
        self.ok = arr.flags.c_contiguous and arr.nbytes > 0
        self.flat = memoryview(arr.reshape(-1).view(np.uint8)) if self.ok else None  # type: ignore[arg-type]
        self.shape, self.strides, self.itemsize = arr.shape, arr.strides, arr.itemsize

    def of(self, sel: Any, size: int) -> list[memoryview] | None:
        """The rows of ``arr[sel]`` (slices of step 1, ``size`` items), or None."""
        if not self.ok or not isinstance(sel, tuple) or len(sel) != len(self.shape):
            return None
        flat, strides = self.flat, self.strides
        if not sel:
            return [flat] if size == 1 else None  # type: ignore[list-item]
        offset = 0
        extents = []
        for s, st in zip(sel, strides):
            if type(s) is not slice or s.step not in (None, 1):
                return None
            offset += s.start * st
            extents.append(s.stop - s.start)
        if math.prod(extents) != size:
            return None
        # rows spanning a whole dimension merge with the dimension before
        k = len(extents) - 1
        row = extents[k] * self.itemsize
        while k > 0 and row == strides[k - 1]:
            k -= 1
            row *= extents[k]
        if k == 0:
            return [flat[offset : offset + row]]  # type: ignore[index]
        if k == 1:
            step = strides[0]
            return [flat[o : o + row] for o in range(offset, offset + extents[0] * step, step)]  # type: ignore[index]
        starts = functools.reduce(
            np.add.outer, [np.arange(e) * st for e, st in zip(extents[:k], strides[:k])]
        )
        return [flat[o : o + row] for o in (starts.ravel() + offset).tolist()]  # type: ignore[index]


def _scalar_is_fill(value: Any, meta: ArrayMeta) -> bool:
    try:
        return _is_fill(np.full(1, value, dtype=meta.dtype), meta.fill_value)
    except Exception:
        return False


def _same_item(x: Any, fill: Any) -> bool:
    """One object item is the fill value: same type and equal (a ragged row never is)."""
    if type(x) is not type(fill):
        return False
    try:
        eq = x == fill
    except Exception:
        return False
    return isinstance(eq, (bool, np.bool_)) and bool(eq)


def _is_fill(chunk: np.ndarray, fill: Any) -> bool:
    """True when every item of ``chunk`` equals the fill value."""
    if fill is None:
        return False
    if chunk.dtype.hasobject:
        return all(_same_item(x, fill) for x in chunk.ravel(order="K"))
    if chunk.dtype.names is not None or chunk.dtype.kind == "V":
        f = np.asarray(fill, dtype=chunk.dtype).tobytes()
        raw = np.ascontiguousarray(chunk).view(np.uint8).reshape(-1, chunk.dtype.itemsize)
        return bool(np.all(raw == np.frombuffer(f, dtype=np.uint8)))
    if chunk.dtype.kind == "c":
        # NaN in either part: compare the parts, or nan+5j would count as a nan+0j fill
        fill = complex(fill)
        return _is_fill(chunk.real, fill.real) and _is_fill(chunk.imag, fill.imag)
    if chunk.dtype.kind == "f" and np.isnan(fill):
        return bool(np.all(np.isnan(chunk)))
    if chunk.dtype.kind in "biuf" and fill == 0:
        return not chunk.any()  # no temporary array (-0.0 counts as 0, NaN does not)
    return bool(np.all(chunk == fill))


def _group_size(store: Store, batch: int) -> int:
    """Keys per ``getitems``/``setitems`` call when a read or write on ``store`` overlaps
    its requests with the codec work (``_CALLS`` calls at once add up to the store's
    ``requests_in_flight``; at most a batch); 0 on a local store (one batch at a time)."""
    in_flight = getattr(store, "requests_in_flight", 0)
    if not in_flight:
        return 0
    return max(1, min(batch, -(-in_flight // _CALLS)))


def _store_ahead(
    store: Store,
    batches: Sequence[Any],
    encode: Callable[[Any], tuple[dict[str, Any], list[str]]],
    group: int,
    limit: int,
) -> None:
    """Encode and store ``batches`` on a store over a network: ``encode(batch)`` gives the
    values to set and the keys to delete, stored with ``setitems``/``delitems`` of groups
    of ``group`` keys, ``_CALLS`` at a time, while the next batches are encoded. A batch is
    encoded only once at most ``limit`` bytes of encoded values, or only the batch before
    it, are still being stored (the encoded size, not the raw one: well compressed data
    keeps more requests in flight in the same memory); so at most ``limit`` bytes or one
    batch, plus the batch being encoded, are held. A batch that fails to encode stores
    nothing (the batches before it are all stored, as one at a time); a failed request
    stops every group not started yet."""
    with _Requests() as requests:
        last = 0  # bytes of the batch stored last: the next is always encoded meanwhile
        for batch in batches:
            while requests.held > max(limit, last):
                requests.next_done()
            try:
                to_set, to_delete = encode(batch)
            except BaseException:
                requests.finish()  # the batches before it are stored whole
                raise
            items = list(to_set.items())
            held = requests.held
            for start in range(0, len(items), group):
                part = dict(items[start : start + group])
                size = sum(max(1, memoryview(v).nbytes) for v in part.values())
                requests.submit(store.setitems, part, size)
            for start in range(0, len(to_delete), group):
                part_keys = to_delete[start : start + group]
                requests.submit(store.delitems, part_keys, len(part_keys))
            last = requests.held - held
            del items, to_set
        requests.finish()


class _Requests:
    """The store calls of one read or write on a store over a network: each runs on one of
    ``calls`` threads of its own (they wait on the network, not on the CPU: never the
    shared pool's), while the calling thread decodes or encodes. ``held`` adds up the sizes
    (keys, inner chunks or encoded bytes: the caller's unit) of the calls submitted and not
    yet taken back with :meth:`next_done`. Leaving the block
    on an error cancels the calls not started and waits for the running ones."""

    def __init__(self, calls: int = _CALLS) -> None:
        self._threads = ThreadPoolExecutor(calls, thread_name_prefix="zarrkit-requests")
        self._pending: dict[Future, tuple[Any, int]] = {}
        self.held = 0

    def __enter__(self) -> _Requests:
        return self

    def __exit__(self, *exc: Any) -> None:
        for f in self._pending:
            f.cancel()
        self._threads.shutdown(wait=True)

    def submit(self, call: Callable[[Any], Any], arg: Any, size: int) -> None:
        self._pending[self._threads.submit(call, arg)] = (arg, size)
        self.held += size

    def next_done(self) -> tuple[Any, Any]:
        """The argument and result of a call that has finished (the first submitted among
        those done); its exception raises."""
        done, _ = wait(self._pending, return_when=FIRST_COMPLETED)
        f = next(f for f in self._pending if f in done)
        arg, size = self._pending.pop(f)
        self.held -= size
        return arg, f.result()

    def finish(self) -> None:
        """Wait for every call submitted; the first error (in submission order) raises."""
        while self._pending:
            self.next_done()
