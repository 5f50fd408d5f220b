"""The chunk pipeline's interface: what an array asks of it, whatever implements it.

An array holds one :class:`ChunkPipeline`, chosen once when it is first needed by
:func:`zarrkit.pipeline.factory.pipeline_for` from the metadata, the codec chain, the store and
the array's :class:`PipelineOptions`. The implementations (``chunks.StorePipeline``,
``chunks.FilesPipeline``, ``compiled.NativePipeline``, ``sharding.ShardedPipeline`` and ``compiled.NativeShardedPipeline`` for
Zarr v3 shards) differ only in how chunks reach the store; the array calls the same methods on each and never asks which one it has.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..indexing import Indexer
from ..storage.base import Store


@dataclass(frozen=True)
class PipelineOptions:
    """How an array's pipeline behaves (from the array's ``Options``), fixed when it is made.

    ``meta_store`` and ``meta_key`` say where the array's metadata document is: writes under
    a synchronizer read the shape stored there now, since a concurrent resize may have cut
    chunks the pipeline's shape still has (None: not checked). ``context`` is what zarr 2's
    store protocol passes to ``getitems`` for every key read (None: nothing).
    """

    synchronizer: Any = None
    write_empty_chunks: bool = True
    strict: bool = False
    meta_store: Store | None = None
    meta_key: str = ""
    context: dict | None = None


class ChunkPipeline(abc.ABC):
    """Reads and writes planned selections of one array's chunks."""

    @abc.abstractmethod
    def read(self, indexer: Indexer, out: np.ndarray, fields: Any = None) -> None:
        """Fill ``out`` (shaped like ``indexer.buffer_shape``) with the selection."""

    @abc.abstractmethod
    def write(self, indexer: Indexer, value: Any, fields: Any = None, lazy: bool = False) -> None:
        """Store ``value`` at the selection: an ndarray (0-d for a scalar, else shaped like
        ``indexer.buffer_shape``), or with ``lazy`` any object with ``shape`` and
        ``__getitem__`` (another array, an h5py dataset), read one chunk's region at a time.
        Whether a value is lazy is the caller's decision (``core.Array._set``)."""

    @abc.abstractmethod
    def key(self, coords: tuple[int, ...]) -> str:
        """The store key of the chunk at ``coords``."""

    @abc.abstractmethod
    def delete_chunks(self, coords: Iterator[tuple[int, ...]]) -> None:
        """Delete chunks by coordinates (in batches); absent ones are ignored."""
