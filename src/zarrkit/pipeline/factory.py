"""The one place an array's chunk pipeline is chosen: :func:`pipeline_for`."""

from __future__ import annotations

from ..formats.meta import ArrayMeta
from ..storage.base import Store
from .base import ChunkPipeline, PipelineOptions
from .chunks import FilesPipeline, StorePipeline
from .codec_chain import CodecChain
from .compiled import NativePipeline, NativeShardedPipeline, loop_codec
from .sharding import ShardedPipeline


def pipeline_for(
    meta: ArrayMeta, chain: CodecChain, store: Store, path: str, options: PipelineOptions
) -> ChunkPipeline:
    """The pipeline of the array at ``path`` of ``store``, chosen once from what does not
    change while the array's metadata stay the same:

    - the array is sharded (``meta.shards``, Zarr v3): on local files where the compiled
      loop applies to its inner chunks (:func:`~.compiled.loop_codec`), a
      :class:`~.compiled.NativeShardedPipeline` (reads of byte ranges of the shard files in
      the loop); otherwise a :class:`~.sharding.ShardedPipeline` (shards through the store
      protocol, byte ranges where the store reads them);
    - the store offers no local files at ``path`` (``store.local_files_at``): a
      :class:`~.chunks.StorePipeline` (batches through the store protocol);
    - local files, and the compiled loop applies to the array (:func:`~.compiled.loop_codec`:
      the extension built, the codec, the items, the dimensions, the options): a
      :class:`~.compiled.NativePipeline`;
    - local files otherwise: a :class:`~.chunks.FilesPipeline`.
    """
    files = store.local_files_at(path)
    if meta.shards is not None:
        codec = None if files is None else loop_codec(meta, chain, options)
        if files is None or codec is None:
            return ShardedPipeline(store, path, meta, chain, options)
        return NativeShardedPipeline(store, path, meta, chain, options, files, codec)
    if files is None:
        return StorePipeline(store, path, meta, chain, options)
    codec = loop_codec(meta, chain, options)
    if codec is None:
        return FilesPipeline(store, path, meta, chain, options, files)
    return NativePipeline(store, path, meta, chain, options, files, codec)
