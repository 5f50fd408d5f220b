"""The pipelines of the compiled loop: :class:`NativePipeline` (chunk files) and
:class:`NativeShardedPipeline` (reads of Zarr v3 shard files).

It runs the basic selections (integers and slices of step 1) of an array of local chunk
files through ``native.py``'s loop (``_native.c``): a plan made with NumPy for all chunks,
about two calls per pool thread, no GIL. Whatever the loop leaves (a chunk that does not
check out, a system error) and every other selection go to :class:`~.chunks.FilesPipeline`,
whose rules it shares. Whether an array gets this pipeline is decided once, by
:func:`loop_codec` (called from :func:`~.factory.pipeline_for`).

A sharded array on local files reads the same way: its shards' indexes are read in Python
(``ShardedPipeline._resolve``: the same requests, the same errors for an index that does not
decode), then the loop reads each inner chunk's byte range of its shard file (``read_ranges``,
each range checked against the file's size) and decodes it into the output; the rows it
leaves, and every other selection, go to :class:`~.sharding.ShardedPipeline`. Writes of
shards stay in Python.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..formats.meta import ArrayMeta
from ..indexing import ChunkProjection, Indexer, IntDim, SliceDim
from ..storage.base import Store
from ..storage.files import LocalFiles
from . import native
from .base import PipelineOptions
from .chunks import FilesPipeline, item_strides, scratch_fits
from .codec_chain import CodecChain
from .sharding import ShardedPipeline


def loop_codec(meta: ArrayMeta, chain: CodecChain, options: PipelineOptions) -> Any:
    """The loop's settings for the chunk files of an array (a ``_native.Codec``), or None
    where the loop does not apply to it: the extension not built, chunks that are not plain
    items or larger than a pool thread's scratch (16 MB), no dimensions or more than
    ``native.MAX_NDIM``, a fill value without bytes, a codec it does not run
    (``native.codec_of``), or neither reads (``strict_missing``) nor writes for it."""
    if (
        native._native is None
        or not scratch_fits(chain)
        or os.sep != "/"
        or not 0 < len(meta.chunks) <= native.MAX_NDIM
    ):
        return None
    fill = native.fill_bytes(meta.fill_value, meta.dtype)
    if fill is None and meta.fill_value is not None:
        return None
    strides = np.array(item_strides(meta.chunks, meta.order), dtype=np.int64)
    codec = native.codec_of(chain, strides * meta.dtype.itemsize, fill or b"")
    if codec is None or (options.strict and not _writes(meta, codec, options)):
        return None
    return codec


def _writes(meta: ArrayMeta, codec: Any, options: PipelineOptions) -> bool:
    """Whether the loop writes this array's chunks: a codec that encodes, no synchronizer
    (its locks are taken in Python), and, when fill-value chunks are not stored, items whose
    equal values have equal bytes (not -0.0 and 0.0, NaNs: the Python path compares them)."""
    skip_fill = not options.write_empty_chunks and meta.fill_value is not None
    return (
        bool(codec.writes)
        and options.synchronizer is None
        and not (skip_fill and meta.dtype.kind not in "biu")
    )


class NativePipeline(FilesPipeline):
    """Local chunk files through the compiled loop where it can plan the selection; the
    rest (and what the loop leaves) through :class:`~.chunks.FilesPipeline`.

    The one per-call check that does not depend on the call is ``native.ENABLED`` (tests
    switch the loop off for arrays that already exist); the others are the call's own: the
    selection's kind (``native.plan``), the output's or value's dtype, shape and fields.
    """

    def __init__(
        self,
        store: Store,
        path: str,
        meta: ArrayMeta,
        chain: CodecChain,
        options: PipelineOptions,
        files: LocalFiles,
        codec: Any,
    ) -> None:
        super().__init__(store, path, meta, chain, options, files)
        #: the loop's settings of this array (a ``_native.Codec``, from :func:`loop_codec`)
        self._native = codec
        #: reads through the loop (with ``strict_missing`` a missing chunk is an error: the
        #: Python path raises it)
        self._native_reads = not options.strict
        self._native_writes = _writes(meta, codec, options)
        self._skip_fill = not options.write_empty_chunks and meta.fill_value is not None
        # nested chunk keys: their folders are made before the loop writes
        # chunk keys with a '/' ('0/1', Zarr v3's 'c/0') live in folders the loop cannot make
        self._make_folders = "/" in meta.chunk_key((0,) * len(meta.chunks)) and not self._skip_fill

    # -- reads -----------------------------------------------------------------------------
    def read(self, indexer: Indexer, out: np.ndarray, fields: Any = None) -> None:
        """Fill ``out`` (shaped like ``indexer.buffer_shape``) with the selection."""
        if self._native_reads and _loop_fills(out, indexer, self.meta, fields):
            plan = native.plan(indexer, self.meta.separator, self.meta.key_prefix)
            if plan is not None:
                rest = self._read_plan(plan, out)
                if rest:
                    self._read(rest, out, None)
                return
        self._read(list(indexer), out, fields)

    def _read_plan(self, plan: native.Plan, out: np.ndarray) -> list[ChunkProjection]:
        """Read the chunks of ``plan`` with the compiled loop; returns the chunks it left to
        the Python path."""
        codec, folder = self._native, self.files.folder  # type: ignore[union-attr]
        strides = native.selection_strides(out, plan.is_int)
        paths = native.encode_paths(folder, plan.names)
        # items of the dtype's size whatever their kind (datetimes have no buffer format)
        data = out.view(f"V{self.meta.dtype.itemsize}")
        table, status = plan.table, native.new_status(len(plan))
        read_chunks = native._native.read_chunks

        def call(a: int, b: int) -> None:
            read_chunks(codec, table, paths, data, strides, status, a, b)

        def check() -> None:
            native._native.check_plan(codec, table, paths, data, strides, status, None)

        rest = native.run(call, len(plan), check, status, plan.names)
        return [plan.projection(i) for i in rest]

    # -- writes ----------------------------------------------------------------------------
    def write(self, indexer: Indexer, value: Any, fields: Any = None, lazy: bool = False) -> None:
        """Store ``value`` at the selection (see :meth:`.ChunkPipeline.write`)."""
        if (
            self._native_writes
            and native.ENABLED
            and fields is None
            and not lazy
            and value.dtype == self.meta.dtype
            and (value.ndim == 0 or value.shape == tuple(indexer.buffer_shape))
        ):
            plan = native.plan(indexer, self.meta.separator, self.meta.key_prefix)
            if plan is not None:
                rest = self._write_plan(plan, value)
                if rest:
                    self._write(rest, value, None, False)
                return
        self._write(list(indexer), value, fields, lazy)

    def _write_plan(self, plan: native.Plan, value: np.ndarray) -> list[ChunkProjection]:
        """Write the chunks of ``plan`` with the compiled loop (a chunk partly covered is
        read, merged and written back in the same task); returns the chunks it left to the
        Python path."""
        meta, codec, files = self.meta, self._native, self.files
        assert files is not None
        self.store._check_writable()
        if value.ndim:
            strides = native.selection_strides(value, plan.is_int)
        else:  # a scalar: every chunk is made of it (strides 0)
            strides = np.zeros(len(meta.chunks), dtype=np.int64)
        merge = ~plan.complete_mask
        names = plan.names
        if self._make_folders:  # (a failure is left to the Python path)
            files.make_folders(names)
        paths = native.encode_paths(files.folder, names)
        data = value.view(f"V{meta.dtype.itemsize}")
        table, status = plan.table, native.new_status(len(plan))
        write_chunks = native._native.write_chunks
        skip_fill = self._skip_fill

        def call(a: int, b: int) -> None:
            # the files' temporary names: their rule, with this call's random half of the token
            temp = files.native_temp_rule(os.urandom(8).hex())
            write_chunks(codec, table, paths, data, strides, merge, status, a, b, skip_fill, *temp)

        def check() -> None:
            native._native.check_plan(codec, table, paths, data, strides, status, merge)

        rest = native.run(call, len(plan), check, status, names)
        return [plan.projection(i) for i in rest]


def _loop_fills(out: np.ndarray, indexer: Indexer, meta: ArrayMeta, fields: Any) -> bool:
    """Whether the compiled loop may fill ``out`` for this call: the loop is on, no fields are
    asked for, and ``out`` is the writeable buffer of the selection in the array's dtype."""
    return (
        native.ENABLED
        and fields is None
        and out.dtype == meta.dtype
        and out.flags.writeable
        and out.shape == tuple(indexer.buffer_shape)
    )


#: the fewest inner chunks a read of shards takes through the loop: below it the Python
#: path is faster (measured on an 8000² int32 array, shards 2000², chunks 250², Blosc lz4 on
#: tmpfs, 2 cores: regions of 1 to 4 chunks 15-35% slower through the loop, 9 about even,
#: 36 and more 1.5-2x faster). Tests lower it to run small arrays through the loop.
SHARD_LOOP_MIN = 8


class NativeShardedPipeline(ShardedPipeline):
    """Shards on local files: basic selections read through the compiled loop (byte ranges
    of the shard files, from the indexes read in Python); the rest, what the loop leaves and
    all writes through :class:`~.sharding.ShardedPipeline`."""

    def __init__(
        self,
        store: Store,
        path: str,
        meta: ArrayMeta,
        chain: CodecChain,
        options: PipelineOptions,
        files: LocalFiles,
        codec: Any,
    ) -> None:
        super().__init__(store, path, meta, chain, options)
        #: the folder of the shard files (``folder + meta.chunk_key(shard)`` is a path)
        self._folder = files.folder
        #: the loop's settings of the inner chunks (a ``_native.Codec``, from :func:`loop_codec`)
        self._native = codec
        #: reads through the loop (with ``strict_missing`` the Python path raises)
        self._native_reads = not options.strict

    def read(self, indexer: Indexer, out: np.ndarray, fields: Any = None) -> None:
        """Fill ``out`` (shaped like ``indexer.buffer_shape``) with the selection."""
        if self._native_reads and _loop_fills(out, indexer, self.meta, fields):
            few = _chunk_count(indexer) < SHARD_LOOP_MIN
            plan = None if few else native.plan(indexer, self.meta.separator, self.meta.key_prefix)
            if plan is not None:
                rest = self._read_plan(plan, out)
                if rest:
                    self._read(rest, out, None)
                return
        self._read(list(indexer), out, fields)

    def _read_plan(self, plan: native.Plan, out: np.ndarray) -> list[ChunkProjection]:
        """Read the inner chunks of ``plan`` with the loop; returns those it left to the
        Python path."""
        n = len(plan)
        groups: dict[tuple[int, ...], list[tuple[int, int]]] = {}
        shard_no: dict[tuple[int, ...], int] = {}
        row_shard = np.empty(n, dtype=np.int64)
        locate = self._locate
        for i, c in enumerate(plan.coords.tolist()):
            shard, j = locate(tuple(c))
            members = groups.get(shard)
            if members is None:
                members = groups[shard] = []
                shard_no[shard] = len(shard_no)
            members.append((i, j))
            row_shard[i] = shard_no[shard]
        batch = list(groups)
        keys = [self.key(s) for s in batch]
        requests, wanted, _ = self._resolve(batch, keys, groups)
        # the byte range of each row in its shard file (-1, -1: not stored, the fill value)
        ranges = np.full((2, n), -1, dtype=np.int64)
        if wanted:
            rows = np.fromiter((i for i, _, _ in wanted), dtype=np.int64, count=len(wanted))
            ranges[:, rows] = np.array([r[1:] for r in requests], dtype=np.int64).T
        # rows in order of shard and offset: each run reads its shard files front to back,
        # one open file per shard
        order = np.lexsort((ranges[0], row_shard))
        table = np.ascontiguousarray(plan.table[:, order])
        ranges = np.ascontiguousarray(ranges[:, order])
        files = [os.fsencode(self._folder + self.meta.chunk_key(s)) for s in batch]
        paths = [files[k] for k in row_shard[order].tolist()]
        names = [keys[k] for k in row_shard[order].tolist()]
        codec = self._native
        strides = native.selection_strides(out, plan.is_int)
        data = out.view(f"V{self.meta.dtype.itemsize}")
        status = native.new_status(n)
        read_ranges = native._native.read_ranges

        def call(a: int, b: int) -> None:
            read_ranges(codec, table, paths, ranges, data, strides, status, a, b)

        def check() -> None:
            native._native.check_plan(codec, table, paths, data, strides, status, None)

        inline = self._inline(n)
        rest = native.run(call, n, check, status, names, inline=inline)
        return [plan.projection(int(order[k])) for k in rest]


def _chunk_count(indexer: Indexer) -> int:
    """How many chunks a basic selection touches, counted from its dimensions without
    planning it (integers, slices of step 1; anything else counts as many)."""
    n = 1
    for d in getattr(indexer, "dims", None) or ():
        if isinstance(d, IntDim):
            continue
        if type(d) is not SliceDim or d.step != 1 or not d.nitems:
            return SHARD_LOOP_MIN
        n *= (d.start + d.nitems - 1) // d.chunk_len - d.start // d.chunk_len + 1
    return n
