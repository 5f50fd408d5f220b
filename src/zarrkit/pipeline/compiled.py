"""The pipeline of the compiled loop: :class:`NativePipeline`.

It runs the basic selections (integers and slices of step 1) of an array of local chunk
files through ``native.py``'s loop (``_native.c``): a plan made with NumPy for all chunks,
about two calls per pool thread, no GIL. Whatever the loop leaves (a chunk that does not
check out, a system error) and every other selection go to :class:`~.chunks.FilesPipeline`,
whose rules it shares. Whether an array gets this pipeline is decided once, by
:func:`loop_codec` (called from :func:`~.factory.pipeline_for`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..formats.meta import ArrayMeta
from ..indexing import ChunkProjection, Indexer
from ..storage.base import Store
from ..storage.files import LocalFiles
from . import native
from .base import PipelineOptions
from .chunks import FilesPipeline, item_strides, scratch_fits
from .codec_chain import CodecChain


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
        self._make_folders = (
            "/" in meta.separator
            and (len(meta.chunks) > 1 or meta.key_prefix != "")
            and not self._skip_fill
        )

    # -- reads -----------------------------------------------------------------------------
    def read(self, indexer: Indexer, out: np.ndarray, fields: Any = None) -> None:
        """Fill ``out`` (shaped like ``indexer.buffer_shape``) with the selection."""
        if (
            self._native_reads
            and native.ENABLED
            and fields is None
            and out.dtype == self.meta.dtype
            and out.flags.writeable
            and out.shape == tuple(indexer.buffer_shape)
        ):
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
