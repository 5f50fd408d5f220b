"""The chunk engine: every read and write of array data goes through here.

Reads: chunk keys are computed from the metadata first, fetched with one ``getitems`` call
per batch, then decoded and scattered into the output in the thread pool. A whole chunk
whose destination is contiguous in the array's order is decoded straight into the output
(when its compressor's header states the decoded size, which is checked first).

Writes mirror it: chunks only partly covered are fetched in one batch (under the
synchronizer's per-key locks on every chunk of the batch, held across the read-modify-write),
merged and encoded in the pool, then stored with one ``setitems`` (and, with
``write_empty_chunks=False``, fill-value chunks are removed with one ``delitems``).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numcodecs
import numpy as np

from ..errors import CorruptChunkError, MissingChunkError, ObjectCodecMissingError
from ..formats.meta import ArrayMeta
from ..indexing import ChunkProjection, Indexer
from ..storage.base import ConstantMap, Store, prefix_of
from .codec_chain import CodecChain
from .executor import get_num_threads, run_parallel

# errors of codecs that refuse to decode (not corruption), e.g. unpickling without opt-in
_REFUSED: tuple[type[BaseException], ...] = (ObjectCodecMissingError,) + tuple(
    t for t in (getattr(getattr(numcodecs, "errors", None), "UnsafeDecodeError", None),) if t
)

_BATCH_BYTES = 128 * 2**20
_MAX_BATCH = 1024


class ChunkPipeline:
    """Reads and writes selections of one array."""

    def __init__(
        self,
        store: Store,
        path: str,
        meta: ArrayMeta,
        chain: CodecChain,
        synchronizer: Any = None,
        write_empty_chunks: bool = True,
        strict: bool = False,
        stored_shape: Callable[[], tuple[int, ...] | None] | None = None,
    ) -> None:
        self.store = store
        self.prefix = prefix_of(path)
        self.meta = meta
        self.chain = chain
        self.synchronizer = synchronizer
        self.write_empty_chunks = write_empty_chunks
        self.strict = strict
        # the array's shape as stored now (None if gone): writes under a synchronizer check
        # it, since a concurrent resize may have cut chunks this pipeline's shape still has
        self.stored_shape = stored_shape
        #: what zarr 2's protocol passes to ``getitems`` for every key read (None: nothing)
        self.context: dict | None = None
        self.chunk_size = math.prod(meta.chunks)
        chunk_bytes = max(1, self.chunk_size * meta.dtype.itemsize)
        self.batch = max(2 * get_num_threads(), min(_MAX_BATCH, _BATCH_BYTES // chunk_bytes))

    # -- helpers ---------------------------------------------------------------------------
    def key(self, coords: tuple[int, ...]) -> str:
        return self.prefix + self.meta.chunk_key(coords)

    def _inline(self, n: int) -> bool:
        """Run the codec work for ``n`` chunks in the calling thread rather than the pool."""
        if not self.chain.uses_blosc:
            return False
        use_threads = numcodecs.blosc.use_threads
        if use_threads is True:
            # c-blosc with its global threads serialises every call behind one mutex
            return True
        # on the main thread Blosc already spreads one chunk over all cores: for a batch no
        # larger than the pool, handing it to the pool only adds a hop
        return (
            use_threads is None
            and n <= get_num_threads()
            and threading.current_thread() is threading.main_thread()
        )

    def _batches(self, n: int) -> Iterator[range]:
        for start in range(0, n, self.batch):
            yield range(start, min(n, start + self.batch))

    def _decode(self, key: str, data: Any) -> np.ndarray:
        try:
            return self.chain.decode(data)
        except _REFUSED:
            raise  # e.g. numcodecs refusing to unpickle: the chunk is not corrupt
        except Exception as e:
            raise CorruptChunkError(key, f"{type(e).__name__}: {e}") from e

    def _new_chunk(self) -> np.ndarray:
        meta = self.meta
        if meta.fill_value is not None:
            chunk = np.empty(meta.chunks, dtype=meta.dtype, order=meta.order)
            chunk.fill(meta.fill_value)
            return chunk
        if meta.dtype.hasobject:
            return np.empty(meta.chunks, dtype=meta.dtype, order=meta.order)
        return np.zeros(meta.chunks, dtype=meta.dtype, order=meta.order)

    # -- reads -----------------------------------------------------------------------------
    def read(self, indexer: Indexer, out: np.ndarray, fields: Any = None) -> None:
        """Fill ``out`` (shaped like ``indexer.buffer_shape``) with the selection."""
        projections = list(indexer)
        if not projections:
            return
        keys = [self.key(p.chunk_coords) for p in projections]
        inline = self._inline(len(projections))
        fill = self.meta.fill_value
        if fill is not None and fields is not None:
            fill = np.asarray(fill, dtype=self.meta.dtype)[fields]
        elif fill is not None and self.meta.dtype.kind == "O":
            fill = np.empty((), dtype=object)  # one item, even if the fill is a list
            fill[()] = self.meta.fill_value
        direct_ok = fields is None and self.chain.can_decode_into and out.dtype == self.meta.dtype
        contiguous = "c_contiguous" if self.meta.order == "C" else "f_contiguous"

        def scatter(i: int, data: Any) -> None:
            p = projections[i]
            if data is None:
                if fill is not None:
                    out[p.out_selection] = fill
                return
            if direct_ok and p.complete:
                # complete projections index the output with slices (and integers, which
                # the Ellipsis keeps from turning a 0-d destination into a scalar copy)
                dest = out[tuple(p.out_selection) + (Ellipsis,)]
                if dest.size == self.chunk_size and getattr(dest.flags, contiguous):
                    try:
                        self.chain.decode_into(data, dest)
                        return
                    except Exception as e:
                        raise CorruptChunkError(keys[i], f"{type(e).__name__}: {e}") from e
            chunk = self._decode(keys[i], data)
            if fields is not None:
                chunk = chunk[fields]
            out[p.out_selection] = chunk[p.chunk_selection]

        for batch in self._batches(len(projections)):
            # ``contexts`` is part of zarr 2's store protocol: foreign Store subclasses
            # may require it
            batch_keys = [keys[i] for i in batch]
            contexts = {} if self.context is None else ConstantMap(batch_keys, self.context)
            found = self.store.getitems(batch_keys, contexts=contexts)
            if self.strict:
                missing = [keys[i] for i in batch if keys[i] not in found]
                if missing:
                    raise MissingChunkError(missing)

            def scatter_found(i: int, found: dict = found) -> None:
                scatter(i, found.get(keys[i]))

            run_parallel(scatter_found, batch, inline)

    # -- writes ----------------------------------------------------------------------------
    def write(self, indexer: Indexer, value: Any, fields: Any = None) -> None:
        """Store ``value`` (a scalar, or shaped like ``indexer.buffer_shape``) at the selection.

        ``value`` is an ndarray (0-d for a scalar) or any other object with ``shape`` and
        ``__getitem__`` (another array, an h5py dataset), which is read region by region, one
        chunk's worth at a time.
        """
        projections = list(indexer)
        if not projections:
            return
        lazy = not isinstance(value, np.ndarray)
        scalar = not lazy and value.ndim == 0
        if scalar:
            value = value[()]
        keys = [self.key(p.chunk_coords) for p in projections]
        for batch in self._batches(len(projections)):
            self._write_batch(batch, projections, keys, value, scalar, lazy, fields)

    def _write_batch(
        self,
        batch: range,
        projections: Sequence[ChunkProjection],
        keys: list[str],
        value: Any,
        scalar: bool,
        lazy: bool,
        fields: Any,
    ) -> None:
        meta = self.meta
        synced = self.synchronizer is not None
        # chunks merged with what is stored. With a synchronizer an edge chunk is one too:
        # another writer may have grown the array and stored items past the shape known here
        merge = {
            i
            for i in batch
            if fields is not None
            or not projections[i].complete
            or (synced and _is_edge(projections[i], meta))
        }
        partial = [keys[i] for i in batch if i in merge]
        # pieces of a lazy source are read here, in the calling thread
        pieces = {}
        if lazy:
            for i in batch:
                pieces[i] = np.asarray(value[projections[i].out_selection])
        # with a synchronizer every chunk of the batch is locked, whole ones too: storing a
        # whole chunk inside another writer's read-modify-write of it would be lost
        with self._locked([keys[i] for i in batch] if synced else []):
            existing = self.store.getitems(partial, contexts={}) if partial else {}

            def build(i: int) -> tuple[str, bytes | None]:
                p = projections[i]
                key = keys[i]
                v = value if scalar else (pieces[i] if lazy else value[p.out_selection])
                if i not in merge:
                    edge = _is_edge(p, meta)
                    if scalar and not edge:
                        chunk = np.empty(meta.chunks, dtype=meta.dtype, order=meta.order)
                        chunk.fill(v)
                    else:
                        # the part of an edge chunk outside the array holds the fill value
                        # (as zarr 2 writes it, so the stored bytes are the same)
                        chunk = (
                            self._new_chunk()
                            if edge
                            else np.empty(meta.chunks, dtype=meta.dtype, order=meta.order)
                        )
                        chunk[p.chunk_selection] = v
                else:
                    data = existing.get(key)
                    if data is None:
                        chunk = self._new_chunk()
                    else:
                        chunk = np.array(self._decode(key, data), order=meta.order, copy=True)
                    target = chunk[fields] if fields is not None else chunk
                    target[p.chunk_selection] = v
                if not self.write_empty_chunks and _is_fill(chunk, meta.fill_value):
                    return key, None
                return key, self.chain.encode(chunk)

            results = run_parallel(build, batch, self._inline(len(batch)))
            to_set = {k: v for k, v in results if v is not None}
            to_delete = [k for k, v in results if v is None]
            if to_set:
                self.store.setitems(to_set)
            if to_delete:
                self.store.delitems(to_delete)
            if to_set and synced and self.stored_shape is not None:
                self._drop_cut(batch, projections, keys, to_set)

    def _drop_cut(
        self, batch: range, projections: Sequence[ChunkProjection], keys: list[str], stored: Any
    ) -> None:
        """Delete the chunks just stored that a concurrent resize has cut off (their locks
        are held). A resize writes the shape first and deletes the chunks it cuts after: a
        chunk stored in between is deleted here, one stored before is deleted by the resize."""
        shape = self.stored_shape()  # type: ignore[misc]
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


def _is_edge(p: ChunkProjection, meta: ArrayMeta) -> bool:
    return any((c + 1) * n > s for c, n, s in zip(p.chunk_coords, meta.chunks, meta.shape))


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
    return bool(np.all(chunk == fill))
