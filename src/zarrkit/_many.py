"""Work on many arrays at once, its requests overlapped: :func:`read_many`.

Reading one chunk of each of a hundred arrays one array after the other pays a hundred
request latencies on an object store. :func:`read_many` plans every selection first, fetches
the chunks of all of them with one ``getitems`` per store (concurrent requests, bounded by
the store: ``ObjectStore(concurrency=...)``), then decodes each array's chunks as its own
read would. Memory stays bounded: requests are taken in rounds of at most
:data:`ROUND_BYTES` of chunks (their decoded size).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .core import Array
from .indexing import Indexer
from .pipeline.chunks import StorePipeline
from .pipeline.factory import pipeline_for
from .storage.base import Store

__all__ = ["read_many", "ROUND_BYTES"]

#: chunk bytes (decoded size) fetched in one round of :func:`read_many`, at most (a single
#: request larger than this is a round of its own)
ROUND_BYTES = 128 * 2**20


class _Fetched(Store):
    """``store`` with the values of ``keys`` already fetched (``found``: the present ones):
    reads of those keys are answered from memory, any other key from ``store``."""

    def __init__(self, store: Store, keys: set[str], found: Mapping[str, Any]) -> None:
        self.store = store
        self._keys = keys
        self._found = found

    def __getitem__(self, key: str) -> Any:
        if key in self._keys:
            try:
                return self._found[key]
            except KeyError:
                raise KeyError(key) from None
        return self.store[key]

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, Any]:
        keys = list(keys)
        rest = [k for k in keys if k not in self._keys]
        out = {k: self._found[k] for k in keys if k in self._found}
        if rest:
            out.update(self.store.getitems(rest, contexts=contexts))
        return out

    def __contains__(self, key: object) -> bool:
        if key in self._keys:
            return key in self._found
        return key in self.store

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError("a read_many view is read-only")

    def __delitem__(self, key: str) -> None:
        raise TypeError("a read_many view is read-only")

    def __iter__(self) -> Iterator[str]:
        return iter(self.store)

    def __len__(self) -> int:
        return len(self.store)


class _Plan:
    """One request of :func:`read_many`: the array, what its selection reads, the chunk
    keys it needs (None: the array reads on its own, see :func:`_batched`)."""

    def __init__(self, array: Array, selection: Any) -> None:
        if not isinstance(array, Array):
            raise TypeError(
                f"read_many takes (array, selection) pairs; got a {type(array).__name__} "
                "where a zarrkit Array was expected"
            )
        self.array = array
        self.indexer: Indexer
        self.indexer, self.fields, self.keep_0d = array._read_plan(selection)
        self.keys: list[str] | None = None
        self.nbytes = 0
        if _batched(array):
            pipeline = array._pipeline
            assert isinstance(pipeline, StorePipeline)
            coords = [p.chunk_coords for p in self.indexer]
            self.keys = [pipeline.key(c) for c in coords]
            meta = array._meta
            self.nbytes = len(coords) * math.prod(meta.chunks) * meta.dtype.itemsize

    def read(self, fetched: dict[int, _Fetched]) -> Any:
        array = self.array
        pipeline = None
        if self.keys is not None:
            view = fetched[id(array.chunk_store)]
            own = array._pipeline
            assert isinstance(own, StorePipeline)  # (see _batched)
            pipeline = pipeline_for(array._meta, array._chain, view, array._path, own.options)
        return array._get(self.indexer, None, self.fields, self.keep_0d, pipeline)


def _batched(array: Array) -> bool:
    """Whether an array's chunks are fetched in the shared batch: the chunk pipeline goes
    through ``getitems`` (not local chunk files, which the pool reads in parallel anyway;
    not shards, which are read by byte ranges)."""
    meta = array._meta
    return meta.shards is None and array.chunk_store.local_files_at(array._path) is None


def _rounds(plans: list[_Plan]) -> Iterator[list[_Plan]]:
    """``plans`` in rounds of at most :data:`ROUND_BYTES` of chunks (in order)."""
    round_: list[_Plan] = []
    total = 0
    for plan in plans:
        if round_ and total + plan.nbytes > ROUND_BYTES:
            yield round_
            round_, total = [], 0
        round_.append(plan)
        total += plan.nbytes
    if round_:
        yield round_


def _fetch(round_: list[_Plan]) -> dict[int, _Fetched]:
    """One ``getitems`` per chunk store for the chunks of every plan of ``round_`` (the
    stores' batches run at the same time)."""
    wanted: dict[int, tuple[Store, dict[str, None]]] = {}
    for plan in round_:
        if plan.keys is None:
            continue
        store = plan.array.chunk_store
        wanted.setdefault(id(store), (store, {}))[1].update(dict.fromkeys(plan.keys))

    def fetch(item: tuple[Store, dict[str, None]]) -> _Fetched:
        store, keys = item
        return _Fetched(store, set(keys), store.getitems(list(keys)))

    items = list(wanted.items())
    if len(items) <= 1:
        return {k: fetch(v) for k, v in items}
    with ThreadPoolExecutor(len(items), thread_name_prefix="zarrkit-many") as pool:
        views = list(pool.map(fetch, [v for _, v in items]))
    return {k: view for (k, _), view in zip(items, views)}


def read_many(requests: Iterable[tuple[Array, Any]]) -> list[Any]:
    """Read ``array[selection]`` for each ``(array, selection)`` pair, with the chunk
    fetches of all of them overlapped: one ``getitems`` per store for all the chunks
    (concurrent requests on an object store), instead of one round trip per array.

    The results are what ``array[selection]`` gives, in the order of ``requests``; a
    missing chunk reads as the fill value (``MissingChunkError`` with
    ``strict_missing``), a corrupt one raises naming its key, as for a read of that array
    alone. Arrays of local chunk files or Zarr v3 shards read as they always do. Requests
    are taken in rounds of at most :data:`ROUND_BYTES` of chunks, which bounds memory.

    >>> import zarrkit, numpy as np
    >>> g = zarrkit.group()
    >>> a = g.array('a', np.arange(10), chunks=5)
    >>> b = g.array('b', np.arange(10) * 2, chunks=5)
    >>> zarrkit.read_many([(a, slice(0, 3)), (b, slice(6, 8))])
    [array([0, 1, 2]), array([12, 14])]
    """
    plans = [_Plan(array, selection) for array, selection in requests]
    out: list[Any] = []
    for round_ in _rounds(plans):
        fetched = _fetch(round_)
        out.extend(plan.read(fetched) for plan in round_)
    return out
