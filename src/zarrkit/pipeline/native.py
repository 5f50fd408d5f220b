"""The compiled loop over chunk files, and the plans it runs.

``_native`` (``_native.c``, built at install where a C compiler is there) reads and writes a
run of chunk files with the GIL released: open, read, check the Blosc frame, decode, copy the
region (reads); gather, pad edge chunks, encode, write a temporary file, rename (writes). It
is an accelerator of the pure-Python pipeline, never a second implementation of its rules:
any chunk it does not finish (a frame that does not check out, a system error, a folder still
to make, anything but a regular file at its path) comes back as "not done" and the pipeline's Python path redoes it, with its usual
errors. Each chunk comes back with a :class:`Reason` (and errno, for a system error); the
deferred ones are logged at DEBUG on the ``zarrkit.pipeline.native`` logger. The loop gets an
array's settings once (a ``_native.Codec``, from :func:`codec_of`) and checks every offset of
a plan against its buffers before any work: a plan that does not fit is a ValueError, never
a write out of bounds. Without the extension, or with ``ZARRKIT_NATIVE=0`` in the environment, every chunk
takes the Python path.

A plan is the selection of a basic indexer (integers and slices of step 1) as arrays with one
row per chunk (chunk coordinates, where its region starts in the chunk and in the selection,
its extent), made with NumPy for all chunks at once instead of one Python object per chunk.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import functools
import itertools
import logging
import math
import os
from collections.abc import Callable
from typing import Any

import numcodecs
import numpy as np

from .._grid import edge_start
from .._pool import get_num_threads, run_parallel
from ..indexing import ChunkProjection, IntDim, SliceDim
from .codec_chain import CodecChain, blosc_getitem, blosc_library

try:
    from . import _native  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # not built (no C compiler at install): the Python path does everything
    _native = None

#: whether the compiled loop is used (tests switch it off to run the Python path)
ENABLED = _native is not None and os.environ.get("ZARRKIT_NATIVE", "1") != "0"

#: the most dimensions the loop takes (its MAXDIM; NumPy's own limit too)
MAX_NDIM = 64

log = logging.getLogger("zarrkit.pipeline.native")


class Reason(enum.IntEnum):
    """What became of a chunk in the loop (``_native.REASONS`` mirrors it: a test checks)."""

    DONE = 0
    MISSING = 1  #: read: no file (the fill value, if any, is in the output)
    REMOVED = 2  #: write: all fill, the file removed
    # from here on, the chunk is left to the Python path
    NOT_REGULAR_FILE = 3  #: a FIFO, device, folder, ... at the chunk's path
    TOO_LARGE = 4  #: a file longer than the chunk's largest frame
    WRONG_SIZE = 5  #: a raw chunk file not of the chunk's size
    FRAME_CHECK_FAILED = 6  #: a Blosc frame whose header or structure does not check out
    CODEC_ERROR = 7  #: Blosc failed to decode or encode
    OS_ERROR = 8  #: a system call failed (its errno is kept)
    NO_MEMORY = 9  #: a scratch buffer could not be had
    RANGE_OUT_OF_FILE = 10  #: read_ranges: a range past the end of its file (a shard)


#: the first reason that leaves a chunk to the Python path
FIRST_DEFERRED = Reason.NOT_REGULAR_FILE


def plan(indexer: Any, separator: str, key_prefix: str = "") -> Plan | None:
    """The plan of ``indexer`` (integers and step-1 slices), or None for other selections;
    chunk names are ``key_prefix`` and the indices joined by ``separator``
    (``ArrayMeta.key_prefix``, ``separator``: ``chunk_key``'s rule)."""
    dims = getattr(indexer, "dims", None)
    if not dims or getattr(indexer, "has_arrays", True):
        return None
    per_dim: list[tuple[list[int], list[int], list[int], list[int], list[bool]]] = []
    for d in dims:
        if type(d) is IntDim:
            c, within = divmod(d.index, d.chunk_len)
            per_dim.append(([c], [within], [1], [0], [d.chunk_len == 1]))
        elif type(d) is SliceDim and d.step == 1:
            if d.nitems == 0:
                return None
            cs, fs, es, os_, ok = [], [], [], [], []
            for p in d.parts():
                cs.append(p.chunk)
                fs.append(p.chunk_sel.start)
                es.append(p.chunk_sel.stop - p.chunk_sel.start)
                os_.append(p.out_sel.start)
                ok.append(p.complete)
            per_dim.append((cs, fs, es, os_, ok))
        else:
            return None
    counts = [len(p[0]) for p in per_dim]
    # the index along each dimension of every chunk, in C order of the chunk grid (without
    # np.indices, whose result has one dimension more than the array: none for 64)
    rows = np.arange(math.prod(counts), dtype=np.int64)
    grid = np.empty((len(counts), rows.size), dtype=np.int64)
    step = 1
    for d in reversed(range(len(counts))):
        grid[d] = rows // step % counts[d]
        step *= counts[d]
    # [first, extent, out] x chunks x dimensions (the loop's table), then the coordinates
    table = np.empty((4, rows.size, len(counts)), dtype=np.int64)
    for k, col in enumerate((1, 2, 3, 0)):
        for d, (values, g) in enumerate(zip(per_dim, grid)):
            table[k, :, d] = np.asarray(values[col], dtype=np.int64)[g]
    complete = np.ones(grid.shape[1], dtype=np.bool_)
    for dim, g in zip(per_dim, grid):
        complete &= np.array(dim[4], dtype=np.bool_)[g]
    keys = [[str(c) for c in dim[0]] for dim in per_dim]
    names = [key_prefix + separator.join(t) for t in itertools.product(*keys)]
    result = Plan(table, tuple(type(d) is IntDim for d in dims), names)
    result.complete_mask = complete
    starts = np.asarray(edge_start(indexer.array_shape, indexer.chunks), dtype=np.int64)
    result.edge_mask = np.any(table[3] >= starts, axis=1)
    return result


class Plan:
    """The chunks of a basic selection, one row each (C order of the chunk grid): chunk
    coordinates, where the region starts in the chunk, its extent, where it starts in the
    selection (0 along dimensions an integer selects), and which chunks are complete.
    ``table[:3]`` (first, extent, out) is what the loop is given."""

    def __init__(self, table: np.ndarray, is_int: tuple[bool, ...], names: list[str]) -> None:
        self.first, self.extent, self.out, self.coords = table
        self.table = table[:3]
        self.is_int, self.names = is_int, names
        self.complete_mask = np.ones(len(names), dtype=bool)
        self.edge_mask = np.zeros(len(names), dtype=bool)

    def __len__(self) -> int:
        return len(self.names)

    def projection(self, i: int) -> ChunkProjection:
        """Chunk ``i`` as the Python pipeline's projection."""
        first, extent, out = self.first[i].tolist(), self.extent[i].tolist(), self.out[i].tolist()
        chunk_sel = tuple(
            f if is_int else slice(f, f + e) for f, e, is_int in zip(first, extent, self.is_int)
        )
        out_sel = tuple(
            slice(o, o + e) for o, e, is_int in zip(out, extent, self.is_int) if not is_int
        )
        return ChunkProjection(
            tuple(self.coords[i].tolist()),
            chunk_sel,
            out_sel,
            bool(self.complete_mask[i]),
            bool(self.edge_mask[i]),
        )


def selection_strides(arr: np.ndarray, is_int: tuple[bool, ...]) -> np.ndarray:
    """Byte strides of ``arr`` (shaped like the selection) per array dimension: 0 for the
    dimensions an integer selects (they are not in ``arr``)."""
    strides = iter(arr.strides)
    return np.array([0 if i else next(strides) for i in is_int], dtype=np.int64)


def encode_paths(folder: str, names: list[str]) -> list[bytes]:
    base = os.fsencode(folder)
    return [base + name.encode() for name in names]


@functools.cache
def blosc_addresses() -> tuple[int, int] | None:
    """The addresses of ``blosc_compress_ctx`` and ``blosc_decompress_ctx`` of
    :func:`~.codec_chain.blosc_library`, or None if they are not there or do not give
    numcodecs' results on a sample (one block: the same bytes as ``numcodecs.blosc.compress``)."""
    lib = blosc_library()
    if _native is None or lib is None:
        return None
    try:
        comp, decomp = lib.blosc_compress_ctx, lib.blosc_decompress_ctx
        sample = np.arange(2048, dtype="<i4") * 7
        for cname, shuffle in ((b"lz4", 1), (b"zstd", 2), (b"blosclz", 0)):
            expected = numcodecs.blosc.compress(sample, cname, 5, shuffle, 0)
            dest = np.zeros(sample.nbytes + 16, dtype=np.uint8)
            got = comp(5, shuffle, 4, sample.nbytes, sample.ctypes.data, dest.ctypes.data,
                       dest.nbytes, cname, 0, 1)  # fmt: skip
            if got <= 0 or dest[:got].tobytes() != expected:
                return None
            back = np.zeros_like(sample)
            if decomp(expected, back.ctypes.data, back.nbytes, 1) != back.nbytes:
                return None
            if not np.array_equal(back, sample):
                return None
        addresses = tuple(ctypes.cast(f, ctypes.c_void_p).value for f in (comp, decomp))
        return addresses if all(addresses) else None  # type: ignore[return-value]
    except Exception:
        return None


def codec_of(chain: CodecChain, chunk_strides: np.ndarray, fill: bytes) -> Any:
    """The loop's settings for the chunks of ``chain`` (a ``_native.Codec``: the chunk layout,
    ``chunk_strides`` in bytes, the fill value's bytes ``fill`` (empty: none), the codec), or
    None where the loop does not apply: only uncompressed chunks and Blosc, with no filters
    and plain items. Its ``writes`` is False where writes take the Python path (items other
    than numbers through Blosc)."""
    if _native is None or chain.is_object or chain.filters:
        return None
    layout = {
        "shape": np.array(chain.chunk_shape, dtype=np.int64),
        "strides": chunk_strides,
        "itemsize": chain.dtype.itemsize,
        "fill": fill,
    }
    if chain.is_raw:
        return _native.Codec(**layout, writes=True)
    c = chain.compressor
    addresses = blosc_addresses() if isinstance(c, numcodecs.Blosc) else None
    if addresses is None:
        return None
    encode: dict[str, Any] = {}
    if chain.encodes_numbers:
        shuffle = c.shuffle  # type: ignore[union-attr]
        if shuffle == numcodecs.Blosc.AUTOSHUFFLE:  # as numcodecs resolves it
            shuffle = (
                numcodecs.Blosc.BITSHUFFLE if chain.dtype.itemsize == 1 else numcodecs.Blosc.SHUFFLE
            )
        encode = {
            "writes": True,
            "compress": addresses[0],
            "cname": c.cname.encode("ascii"),  # type: ignore[union-attr]
            "clevel": c.clevel,  # type: ignore[union-attr]
            "shuffle": shuffle,
            "blocksize": c.blocksize,  # type: ignore[union-attr]
        }
    #: blosc_getitem's address (:func:`~.codec_chain.blosc_getitem`, checked) and the most
    #: bytes of a chunk a region may span to be decoded alone (the chain's ``partial_limit``,
    #: which the Python path applies too); 0, 0: regions are decoded whole
    getitem, limit = 0, chain.partial_limit
    if limit:  # a limit is set only where blosc_getitem checked out
        getitem = ctypes.cast(blosc_getitem(), ctypes.c_void_p).value or 0  # type: ignore[arg-type]
        limit = limit if getitem else 0
    return _native.Codec(
        **layout, decompress=addresses[1], getitem=getitem, partial_limit=limit, **encode
    )


def run(
    call: Callable[[int, int], object],
    n: int,
    check: Callable[[], object],
    status: np.ndarray,
    names: list[str],
    inline: bool = False,
) -> list[int]:
    """``call(start, stop)`` over ``range(n)`` in about two runs per pool thread (each run one
    call into the loop, in the pool), ``check()`` first when there are several (the whole
    plan's buffers checked before any run starts); with ``inline``, one call in the calling
    thread. The indices of the chunks it left to the Python path (``status``: reasons and
    errnos, filled by the loop; ``names``: the chunks' keys, for the log)."""
    k = 1 if inline else max(1, min(n, 2 * get_num_threads()))
    size = -(-n // k)
    if size < n:
        check()
    runs = [range(s, min(n, s + size)) for s in range(0, n, size)]
    run_parallel(lambda r: call(r.start, r.stop), runs, fewest=3)
    deferred = np.flatnonzero(status[0] >= FIRST_DEFERRED).tolist()
    if deferred and log.isEnabledFor(logging.DEBUG):
        for i in deferred:
            reason, err = Reason(int(status[0, i])), int(status[1, i])
            more = f" ({errno_name(err)}: {os.strerror(err)})" if err else ""
            log.debug("chunk %s: %s%s, left to the Python path", names[i], reason.name, more)
    return deferred


def errno_name(err: int) -> str:
    return errno.errorcode.get(err, str(err))


def new_status(n: int) -> np.ndarray:
    """The loop's status of ``n`` chunks: int32 [reason, errno] x chunks."""
    return np.zeros((2, n), dtype=np.int32)


def fill_bytes(fill: Any, dtype: np.dtype) -> bytes | None:
    """The fill value as one item's bytes (None when there is none or it does not convert)."""
    if fill is None:
        return None
    try:
        return np.array(fill, dtype=dtype).tobytes()
    except Exception:
        return None
