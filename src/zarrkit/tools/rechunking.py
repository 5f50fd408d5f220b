"""Copy arrays to new chunk shapes within a memory limit (the algorithm of rechunker).

Every read takes whole source chunks and every write stores whole target chunks, through the
array API (so through the chunk pipeline and the codecs). The plan:

1. If a block made of whole chunks of both grids (along each axis a multiple of the least
   common multiple of the two chunk sizes) fits the memory, blocks of that kind are copied
   straight from the source to the target, grown to use the memory.
2. Otherwise the copy goes through an intermediate array: write blocks are grown from the
   target chunks, read blocks from the source chunks (along an axis only up to the write
   block), each within the memory; the intermediate chunks divide both (their greatest common
   divisor along each axis), so stage one writes and stage two reads whole intermediate
   chunks.

The memory counted for a step is its block, the stored bytes of the block (a batch of
compressed chunks is at most about as large) and, per thread of the pool, a chunk being
decoded or encoded with its bytes. A plan that cannot fit (a single chunk too large for the
limit) is refused before anything is written.

>>> import zarrkit, numpy as np
>>> src = zarrkit.array(np.arange(24).reshape(4, 6), chunks=(1, 6))
>>> dst = zarrkit.rechunk(src, zarrkit.MemoryStore(), chunks=(4, 1), max_mem=2**20)
>>> dst.chunks, bool((dst[:] == src[:]).all())
((4, 1), True)
"""

from __future__ import annotations

import itertools
import math
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from numcodecs import Blosc

from .._grid import grid_shape
from .._pool import get_num_threads
from ..convenience import open as open_node
from ..core import Array
from ..creation import create, encoding_of
from ..hierarchy import Group, group
from ..storage import DirectoryStore, MemoryStore, normalize_store_arg
from ..storage.base import normalize_storage_path

__all__ = ["rechunk", "RechunkPlan", "plan_rechunk", "DEFAULT_MAX_MEM"]

DEFAULT_MAX_MEM = 512 * 2**20

Chunks = tuple[int, ...]


@dataclass(frozen=True)
class RechunkPlan:
    """Blocks (in items along each axis) copied at once; ``intermediate`` is None for a
    direct copy, else the chunk shape of the intermediate array."""

    read: Chunks
    write: Chunks
    intermediate: Chunks | None
    #: bytes a step holds at most, by the accounting of the module docstring
    memory: int


def _grow(base: Chunks, shape: Chunks, budget: int, limits: Chunks) -> Chunks:
    """Blocks of whole ``base`` chunks, grown axis by axis (last first) up to ``limits`` while
    their item count stays within ``budget``."""
    out = [min(b, s) for b, s in zip(base, shape)]
    for axis in reversed(range(len(shape))):
        others = math.prod(out) // out[axis]
        most = min(budget // max(others, 1), limits[axis], shape[axis])
        n = max(1, most // base[axis])
        out[axis] = max(out[axis], min(base[axis] * n, shape[axis]))
    return tuple(out)


def _divisor(read: int, write: int, extent: int) -> int:
    """Intermediate chunk size along an axis: divides every block boundary of both stages."""
    steps = [s for s in (read, write) if s < extent]
    return math.gcd(*steps) if steps else extent


def _memory(blocks: list[Chunks], chunks: list[Chunks], itemsize: int, threads: int) -> int:
    block = max(math.prod(b) for b in blocks) * itemsize
    chunk = max(math.prod(c) for c in chunks) * itemsize
    return 2 * block + 2 * threads * chunk


def plan_rechunk(
    shape: Chunks,
    source_chunks: Chunks,
    target_chunks: Chunks,
    itemsize: int,
    max_mem: int,
    threads: int | None = None,
    target_inner: Chunks | None = None,
) -> RechunkPlan:
    """The blocks to copy an array of ``shape`` from one chunk grid to another within
    ``max_mem`` bytes (see the module docstring). Raises ``ValueError`` when the chunks
    themselves do not fit.

    ``target_inner`` is the unit the pool's threads encode when it is smaller than the
    target's stored unit ``target_chunks``: the inner chunks of a shard (blocks are made of
    whole shards, the threads hold inner chunks)."""
    threads = get_num_threads() if threads is None else threads
    itemsize = max(1, itemsize)
    shape = tuple(max(1, s) for s in shape)
    src = tuple(min(c, s) for c, s in zip(source_chunks, shape))
    dst = tuple(min(c, s) for c, s in zip(target_chunks, shape))
    enc = dst if target_inner is None else tuple(min(c, s) for c, s in zip(target_inner, shape))
    least = _memory([src, dst], [src, enc], itemsize, threads)
    if least > max_mem:
        raise ValueError(
            f"max_mem={max_mem:,} bytes is too small for source chunks {tuple(source_chunks)} "
            f"and target chunks {tuple(target_chunks)} of {itemsize}-byte items with {threads} "
            f"threads: at least {least:,} bytes are needed (or use fewer threads: "
            "zarrkit.set_num_threads / ZARRKIT_THREADS)"
        )
    budget = max_mem // 2 // itemsize
    while True:
        both = tuple(min(math.lcm(a, b), s) for a, b, s in zip(src, dst, shape))
        if _memory([both], [src, enc], itemsize, threads) <= max_mem:
            block = _grow(both, shape, budget, shape)
            used = _memory([block], [src, enc], itemsize, threads)
            if used <= max_mem:
                return RechunkPlan(block, block, None, used)
        write = _grow(dst, shape, budget, shape)
        limits = tuple(w if w > s else s for w, s in zip(write, src))
        read = _grow(src, shape, budget, limits)
        inter = tuple(_divisor(r, w, s) for r, w, s in zip(read, write, shape))
        used = _memory([read, write], [src, enc, inter], itemsize, threads)
        if used <= max_mem:
            return RechunkPlan(read, write, inter, used)
        budget = budget * 3 // 4  # the chunk overheads took more than expected: shrink
        if budget < 1:
            raise AssertionError("no plan found")  # unreachable: `least` fits


def _blocks(shape: Chunks, block: Chunks) -> Iterator[tuple[slice, ...]]:
    if any(s == 0 for s in shape):
        return
    for start in itertools.product(*(range(0, s, b) for s, b in zip(shape, block))):
        yield tuple(slice(o, min(o + b, s)) for o, b, s in zip(start, block, shape))


def _n_blocks(shape: Chunks, block: Chunks) -> int:
    return math.prod(grid_shape(shape, block)) if all(shape) else 0


def _target_chunks(spec: Any, z: Array) -> Chunks:
    """``spec`` (a tuple with None/-1 for a whole axis) for array ``z``."""
    if isinstance(spec, int):
        spec = (spec,)
    spec = tuple(spec)
    if len(spec) != z.ndim:
        raise ValueError(
            f"chunks {spec} have {len(spec)} dimensions, array {z.name or '/'} has {z.ndim}"
        )
    out = []
    for c, s in zip(spec, z.shape):
        if c is None or c == -1:
            c = max(1, s)
        if int(c) != c or c < 1:
            raise ValueError(f"chunk sizes must be positive integers (or -1/None), got {spec}")
        out.append(int(c))
    return tuple(out)


def _create_like(z: Array, store: Any, path: str, chunks: Chunks, overwrite: bool) -> Array:
    """The rechunked target: ``z``'s encoding, format, names and (where they tile the new
    chunks) shards, with ``chunks``."""
    kws = encoding_of(z, chunks)
    return create(z.shape, chunks=chunks, store=store, path=path, overwrite=overwrite, **kws)


def _intermediate(
    z: Array, plan: RechunkPlan, store: Any, chunk_store: Any = None, path: str = ""
) -> Array:
    """The intermediate array of a two-stage plan: ``z``'s items in quick-to-code Zarr v2
    chunks of ``plan.intermediate``."""
    kws = encoding_of(z)
    kws = {k: kws[k] for k in ("dtype", "fill_value", "filters", "object_codec") if k in kws}
    return create(
        z.shape,
        chunks=plan.intermediate,
        compressor=Blosc(cname="lz4", clevel=1),
        store=store,
        chunk_store=chunk_store,
        path=path,
        zarr_format=2,
        **kws,
    )


class _Counter:
    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def step(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def _copy(source: Array, dest: Array, block: Chunks, counter: _Counter) -> None:
    for region in _blocks(source.shape, block):
        dest[region] = source[region]
        counter.step()


def _copy_on(
    client: Any, source: tuple, dest: tuple, shape: Chunks, block: Chunks, counter: Any
) -> None:
    """:func:`_copy` by a Dask cluster's workers, one block per task (arrays by
    :func:`zarrkit.tools.cluster.array_spec`)."""
    from .cluster import copy_region, run_tasks

    tasks = [(source, dest, region) for region in _blocks(shape, block)]
    run_tasks(client, copy_region, tasks, lambda _: counter.step())


def _rechunk_array(
    z: Array,
    store: Any,
    path: str,
    chunks: Chunks,
    plan: RechunkPlan,
    overwrite: bool,
    temp_dir: str | None,
    counter: _Counter,
    client: Any = None,
) -> Array:
    out = _create_like(z, store, path, chunks, overwrite)
    out.attrs.put(z.attrs.asdict())
    copy_planned(z, out, plan, temp_dir, counter, client)
    return out


def copy_planned(
    z: Array,
    out: Array,
    plan: RechunkPlan,
    temp_dir: str | None,
    counter: Any = None,
    client: Any = None,
) -> None:
    """Copy the data of ``z`` into ``out`` (same shape) by ``plan``: blocks straight across,
    or through an intermediate array in ``temp_dir``. ``counter.step()`` after each block.

    With a Dask ``client`` each block is a task of the cluster; the workers open ``z`` and
    ``out`` themselves (``out``'s metadata store may be a ``MemoryStore``: it travels). The
    intermediate array then goes to ``temp_dir`` (a folder every worker must see) or, by
    default, below a hidden path of ``out``'s chunk store, deleted at the end.
    """
    counter = counter if counter is not None else _Counter(0, None)
    if client is not None:
        _copy_planned_on(client, z, out, plan, temp_dir, counter)
        return
    if plan.intermediate is None:
        _copy(z, out, plan.read, counter)
        return
    folder = tempfile.mkdtemp(prefix="zarrkit-rechunk-", dir=temp_dir)
    try:
        inter = _intermediate(z, plan, DirectoryStore(folder))
        _copy(z, inter, plan.read, counter)
        _copy(inter, out, plan.write, counter)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy_planned_on(
    client: Any,
    z: Array,
    out: Array,
    plan: RechunkPlan,
    temp_dir: str | None,
    counter: Any,
) -> None:
    from .cluster import array_spec

    source = array_spec(z, "source")
    dest = array_spec(out, "target", metadata_travels=True)
    if plan.intermediate is None:
        _copy_on(client, source, dest, z.shape, plan.read, counter)
        return
    # the intermediate's metadata travel with the tasks; its chunks go to a folder every
    # worker sees: temp_dir, or a hidden path of the target's chunk store
    if temp_dir is not None:
        folder = tempfile.mkdtemp(prefix="zarrkit-rechunk-", dir=temp_dir)
        chunk_store: Any = DirectoryStore(folder)
        path = ""
    else:
        folder = None
        chunk_store = dest[2] if dest[2] is not None else dest[0]
        path = f".zarrkit-rechunk-{uuid.uuid4().hex}"
    try:
        inter = _intermediate(z, plan, MemoryStore(), chunk_store, path)
        middle = array_spec(inter, "the intermediate store", metadata_travels=True)
        _copy_on(client, source, middle, z.shape, plan.read, counter)
        _copy_on(client, middle, dest, z.shape, plan.write, counter)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            chunk_store.rmdir(path)


def rechunk(
    source: Any,
    target: Any,
    chunks: Any,
    max_mem: int = DEFAULT_MAX_MEM,
    *,
    temp_dir: str | None = None,
    overwrite: bool = False,
    storage_options: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
    scheduler: Any = None,
) -> Array | Group:
    """Copy the array or group ``source`` to ``target`` with new chunk shapes.

    Parameters
    ----------
    source : Array, Group, store, path or URL
        What to copy (paths and URLs are opened read-only).
    target : store, path or URL
        Where the copy goes; it gets the source's dtype, fill value, order, filters,
        compressor and attributes (and, for a group, its groups and their attributes).
    chunks : tuple, or dict of array path -> tuple
        The new chunk shape (``None`` or ``-1``: the whole axis). For a group a tuple applies
        to every array (all must have that many dimensions); a dict names arrays by path
        relative to ``source``, and arrays it leaves out keep their chunks.
    max_mem : int
        Bytes of array data held at once (blocks, their stored bytes, and the chunks in the
        codecs of the pool's threads); an intermediate array in ``temp_dir`` (default: the
        system's temporary folder) is used when the two grids cannot be matched within it.
    overwrite : bool
        Replace arrays that exist in ``target``.
    storage_options : dict, optional
        File system options for URL ``source``/``target``.
    progress : callable, optional
        Called as ``progress(blocks_done, blocks_total)``.
    scheduler : dask.distributed.Client or str, optional
        Copy the blocks on a Dask cluster (a client, or a scheduler address): the target's
        arrays, groups and attributes are created here, each task copies one block of the
        plan (so holds at most ``max_mem``). ``source`` and ``target`` must be stores every
        worker reaches; the intermediate array goes below a hidden path of the target
        (deleted at the end) unless ``temp_dir`` names a folder every worker sees. A
        rechunk interrupted part way is finished by running it again with
        ``overwrite=True`` (``--overwrite``): the target is created anew and every block
        copied again.

    Returns the target array or group.

    >>> import zarrkit, numpy as np
    >>> src = zarrkit.array(np.arange(6), chunks=2)
    >>> zarrkit.rechunk(src, zarrkit.MemoryStore(), chunks=3, max_mem=2**20).chunks
    (3,)
    """
    if not isinstance(source, (Array, Group)):
        source = open_node(
            normalize_store_arg(source, mode="r", storage_options=storage_options), mode="r"
        )
    store = normalize_store_arg(target, mode="a", storage_options=storage_options)
    if isinstance(source, Array):
        arrays = [("", source)]
    else:
        arrays = []
        source.visititems(
            lambda name, obj: arrays.append((name, obj)) if isinstance(obj, Array) else None
        )
    work = []
    for name, z in arrays:
        if isinstance(chunks, Mapping):
            spec = chunks.get(normalize_storage_path(name), z.chunks)
        else:
            spec = chunks
        new = _target_chunks(spec, z)
        work.append((name, z, new, plan_rechunk(z.shape, z.chunks, new, z.dtype.itemsize, max_mem)))
    if isinstance(chunks, Mapping):
        unknown = set(map(normalize_storage_path, chunks)) - {n for n, _ in arrays}
        if unknown:
            raise ValueError(f"chunks name arrays that are not in the source: {sorted(unknown)}")
    total = sum(
        _n_blocks(z.shape, p.read) + (_n_blocks(z.shape, p.write) if p.intermediate else 0)
        for _, z, _, p in work
    )
    counter = _Counter(total, progress)
    from .cluster import connect

    with connect(scheduler) as client:
        return _rechunk_all(source, store, work, overwrite, temp_dir, counter, client)


def _rechunk_all(
    source: Array | Group,
    store: Any,
    work: list[tuple[str, Array, Chunks, RechunkPlan]],
    overwrite: bool,
    temp_dir: str | None,
    counter: _Counter,
    client: Any,
) -> Array | Group:
    if isinstance(source, Array):
        _, z, new, plan = work[0]
        return _rechunk_array(z, store, "", new, plan, overwrite, temp_dir, counter, client)
    root = group(store, overwrite=overwrite, zarr_format=source.zarr_format)
    root.attrs.put(source.attrs.asdict())

    def make_group(name: str, obj: Any) -> None:
        if isinstance(obj, Group):
            root.require_group(name).attrs.put(obj.attrs.asdict())

    source.visititems(make_group)
    for name, z, new, plan in work:
        _rechunk_array(z, store, name, new, plan, overwrite, temp_dir, counter, client)
    return root
