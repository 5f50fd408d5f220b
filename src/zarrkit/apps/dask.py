"""Dask arrays from and to zarrkit arrays, in one line each.

``dask.array.from_zarr`` / ``to_zarr`` accept zarrkit arrays only through the ``zarr``
drop-in (they check ``isinstance(x, zarr.Array)``); these two work with zarrkit alone. Dask is
imported when they are called, never by ``import zarrkit``.

>>> import zarrkit
>>> z = zarrkit.array(list(range(10)), chunks=4)
>>> x = zarrkit.to_dask(z)
>>> int(x.sum().compute())
45
>>> w = zarrkit.from_dask(x * 2, zarrkit.MemoryStore())
>>> w[:3]
array([0, 2, 4])
"""

from __future__ import annotations

from typing import Any

from ..core import Array
from ..creation import open_array

__all__ = ["to_dask", "from_dask"]


def to_dask(z: Array, chunks: Any = None, name: str | None = None) -> Any:
    """``z`` as a lazy dask array, one task per chunk of ``z`` (per shard of a sharded Zarr
    v3 array: its index is read once and its chunks together) unless ``chunks`` says
    otherwise."""
    import dask.array as da

    if chunks is None:
        chunks = z.shards if z.shards is not None else z.chunks
    return da.from_array(z, chunks=chunks, name=name)


def from_dask(
    x: Any,
    store: Any,
    path: str | None = None,
    *,
    mode: str = "w-",
    lock: Any = None,
    storage_options: dict | None = None,
    **kwargs: Any,
) -> Array:
    """Write the dask array ``x`` to a new array at ``store`` (a store, a path or a URL).

    The array gets ``x``'s shape and dtype and, unless ``chunks=`` is given, ``x``'s chunks
    (irregular dask chunks are first made regular). When every dask chunk covers whole array
    chunks (whole shards, for a sharded Zarr v3 array: what one write replaces) the writes
    need no lock; otherwise ``lock`` defaults to dask's own (``True``).
    Give a ``synchronizer=`` (``ProcessSynchronizer``) or a ``distributed.Lock`` for
    unaligned writes on process clusters.
    """
    import dask.array as da

    if "chunks" not in kwargs:
        if any(len(set(c[:-1])) > 1 or (len(c) > 1 and c[-1] > c[0]) for c in x.chunks):
            x = x.rechunk(tuple(max(c) for c in x.chunks))
        kwargs["chunks"] = tuple(c[0] if c else 1 for c in x.chunks)
    z = open_array(
        store,
        mode=mode,
        path=path,
        shape=x.shape,
        dtype=x.dtype,
        storage_options=storage_options,
        **kwargs,
    )
    if lock is None:
        lock = not _aligned(x.chunks, z.shards or z.chunks, z.shape)
    da.store(x, z, lock=lock)
    return z


def _aligned(dask_chunks: tuple, chunks: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """True when every dask chunk boundary falls on an array chunk boundary."""
    for dc, c, n in zip(dask_chunks, chunks, shape):
        edge = 0
        for size in dc:
            edge += size
            if edge % c and edge != n:
                return False
    return True
