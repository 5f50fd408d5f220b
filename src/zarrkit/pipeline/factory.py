"""The one place an array's chunk pipeline is chosen: :func:`pipeline_for`."""

from __future__ import annotations

from ..formats.meta import ArrayMeta
from ..storage.base import Store
from .base import ChunkPipeline, PipelineOptions
from .chunks import FilesPipeline, StorePipeline
from .codec_chain import CodecChain
from .compiled import NativePipeline, loop_codec
from .sharding import ShardedPipeline


def pipeline_for(
    meta: ArrayMeta, chain: CodecChain, store: Store, path: str, options: PipelineOptions
) -> ChunkPipeline:
    """The pipeline of the array at ``path`` of ``store``, chosen once from what does not
    change while the array's metadata stay the same:

    - the array is sharded (``meta.shards``, Zarr v3): a
      :class:`~.sharding.ShardedPipeline` (shards through the store protocol, byte ranges
      where the store reads them);
    - the store offers no local files at ``path`` (``store.local_files_at``): a
      :class:`~.chunks.StorePipeline` (batches through the store protocol);
    - local files, and the compiled loop applies to the array (:func:`~.compiled.loop_codec`:
      the extension built, the codec, the items, the dimensions, the options): a
      :class:`~.compiled.NativePipeline`;
    - local files otherwise: a :class:`~.chunks.FilesPipeline`.
    """
    if meta.shards is not None:
        return ShardedPipeline(store, path, meta, chain, options)
    files = store.local_files_at(path)
    if files is None:
        return StorePipeline(store, path, meta, chain, options)
    codec = loop_codec(meta, chain, options)
    if codec is None:
        return FilesPipeline(store, path, meta, chain, options, files)
    return NativePipeline(store, path, meta, chain, options, files, codec)
