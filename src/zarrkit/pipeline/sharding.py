"""Zarr v3's ``sharding_indexed`` codec as a chunk pipeline: :class:`ShardedPipeline`.

A sharded array stores one key per *shard* (``meta.shards``, the stored unit; its key is
``meta.chunk_key(shard_coords)``); a shard holds the encoded *inner chunks*
(``meta.chunks``) that fall in it, concatenated, and an index: for each inner chunk of the
shard's grid, in C order, its offset and length in the shard (two little- or big-endian
uint64; both ``2**64 - 1`` for an absent chunk), encoded with the index codecs (the
``bytes`` codec, optionally followed by ``crc32c``: a 4-byte checksum after the table), at
the start or the end of the shard. Edge shards are full-sized: their inner chunks past the
array are part of the grid (this pipeline never stores them, as zarr-python); inner chunks
are full-sized (padded with the fill value), as v2 chunks.

Selections are planned over the *inner* chunk grid (``indexing`` with ``meta.chunks``), so
the pipeline receives inner chunk projections, grouped here by shard. Everything about one
inner chunk (its codec chain, padding, fill-value checks, scattering into the output) is
:class:`~.chunks.StorePipeline`'s, reused.

Reads: per batch of shards, the indexes with one ``getranges`` call (a suffix read for an
index at the end, a prefix for one at the start), then only the inner chunks needed with
one more ``getranges`` call, decoded and scattered in the pool. A store without
``partial_reads`` fetches the whole shards of a batch with one ``getitems`` instead.

Writes: a shard whose inner chunks (those inside the array) the selection covers whole is
built from the value alone; any other shard is read whole, its untouched inner chunks kept as
stored (not re-encoded) and the touched ones merged and encoded in the pool. Inner chunks
are laid out in Morton order (Zarr's compressed Morton code, as zarr-python writes them, so
that the same data give the same bytes). With ``write_empty_chunks=False`` inner chunks
equal to the fill value are left out and a shard with none left is deleted. One
``setitems`` (and one ``delitems``) per batch; with a synchronizer each shard key is locked
across its read-modify-write.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._pool import run_parallel
from ..errors import CorruptChunkError, MetadataError, MissingChunkError
from ..formats.meta import ArrayMeta
from ..indexing import ChunkProjection
from ..storage.base import ConstantMap, Store
from .base import PipelineOptions
from .chunks import (
    _BATCH_BYTES,
    _CALLS,
    _MAX_BATCH,
    StorePipeline,
    _group_size,
    _is_fill,
    _Requests,
    _store_ahead,
    _Write,
)
from .codec_chain import CodecChain

__all__ = ["ShardedPipeline", "ShardLayout", "ABSENT"]

#: offset and length of an inner chunk that is not stored
ABSENT = 2**64 - 1
# the largest offset + length a range request is asked for
_MAX_END = 2**63 - 1


@functools.cache
def _crc32c() -> Any:
    """numcodecs' CRC32C with the checksum after the data: Zarr v3's ``crc32c`` codec."""
    try:
        from numcodecs.checksum32 import CRC32C
    except ImportError:
        raise MetadataError(
            "the crc32c codec (the checksum of Zarr v3 shard indexes) is not available: "
            "numcodecs has it with google-crc32c (pip install 'zarrkit[crc32c]'; numcodecs "
            "0.14 to 0.16.3 take the crc32c package instead)"
        ) from None
    return CRC32C(location="end")


@dataclass(frozen=True)
class ShardLayout:
    """How the shards of an array are laid out, from its ``sharding_indexed`` codec.

    ``per_shard`` is the inner grid of one shard (inner chunks along each dimension), ``n``
    their number; the index is ``index_nbytes`` long, at the start of the shard when
    ``index_at_start``, else at its end.
    """

    per_shard: tuple[int, ...]
    index_at_start: bool
    endian: str  # '<' or '>'
    checksum: bool
    #: the layout of the inner chunks when they are shards themselves (nested sharding)
    inner: ShardLayout | None = None

    @property
    def n(self) -> int:
        return math.prod(self.per_shard)

    @property
    def index_nbytes(self) -> int:
        return 16 * self.n + (4 if self.checksum else 0)

    @property
    def levels(self) -> tuple[ShardLayout, ...]:
        """This layout and those nested in it, outermost first."""
        return (self,) if self.inner is None else (self, *self.inner.levels)

    @classmethod
    def of(cls, meta: ArrayMeta) -> ShardLayout:
        """The layout stated by ``meta`` (a ``MetadataError`` for one this does not read),
        nested sharding included (``inner``)."""
        if meta.shards is None:
            raise ValueError("the array is not sharded")
        if len(meta.shards) != len(meta.chunks) or any(
            c <= 0 or s % c for s, c in zip(meta.shards, meta.chunks)
        ):
            raise MetadataError(
                f"the shard shape {list(meta.shards)} is not a multiple of the inner "
                f"chunk shape {list(meta.chunks)}"
            )
        return cls._level(_sharding_config(meta.codecs), tuple(meta.shards), tuple(meta.chunks))

    @classmethod
    def _level(
        cls, config: dict, shape: tuple[int, ...], innermost: tuple[int, ...]
    ) -> ShardLayout:
        chunk_shape = tuple(config.get("chunk_shape", innermost))
        if len(chunk_shape) != len(shape) or any(
            c <= 0 or s % c for s, c in zip(shape, chunk_shape)
        ):
            raise MetadataError(
                f"the shard shape {list(shape)} is not a multiple of the inner chunk shape "
                f"{list(chunk_shape)}"
            )
        codecs = config.get("codecs", ())
        inner = None
        if any(isinstance(c, dict) and c.get("name") == "sharding_indexed" for c in codecs):
            inner = cls._level(_sharding_config(codecs), chunk_shape, innermost)
        elif chunk_shape != innermost:
            raise MetadataError(
                f"sharding_indexed chunk_shape {list(chunk_shape)} differs from the inner "
                f"chunk shape {list(innermost)}"
            )
        location = config.get("index_location", "end")
        if location not in ("start", "end"):
            raise MetadataError(f"sharding_indexed index_location {location!r} is not known")
        endian, checksum = _index_codecs(config.get("index_codecs"))
        return cls(
            per_shard=tuple(s // c for s, c in zip(shape, chunk_shape)),
            index_at_start=location == "start",
            endian=endian,
            checksum=checksum,
            inner=inner,
        )

    # -- the index -----------------------------------------------------------------------
    def index_range(self) -> tuple[int, int | None]:
        """``(start, length)`` of the index for ``Store.getrange`` (a suffix at the end)."""
        if self.index_at_start:
            return 0, self.index_nbytes
        return -self.index_nbytes, None

    def index_of(self, shard: Any) -> Any:
        """The index bytes of a whole shard."""
        k = self.index_nbytes
        view = memoryview(shard).cast("B")
        return view[:k] if self.index_at_start else view[len(view) - k :]

    def encode_index(self, table: np.ndarray) -> bytes:
        """The stored index of an ``(n, 2)`` uint64 table."""
        raw = table.astype(self.endian + "u8", copy=False).tobytes()
        return bytes(_crc32c().encode(raw)) if self.checksum else raw

    def decode_index(self, data: Any, key: str, size: int | None = None) -> np.ndarray:
        """The ``(n, 2)`` uint64 table of offsets and lengths (``ABSENT`` rows for absent
        chunks) of the index bytes ``data`` of the shard ``key``; with ``size`` (the
        shard's length) every chunk must lie within it. A ``CorruptChunkError`` naming the
        shard for an index of the wrong length, a checksum mismatch, a half-absent entry or
        a range out of the shard's bytes."""
        nbytes = len(memoryview(data).cast("B"))
        if nbytes != self.index_nbytes:
            raise CorruptChunkError(
                key,
                f"shard index of {nbytes} bytes, expected {self.index_nbytes} "
                f"({self.n} inner chunks{', crc32c' if self.checksum else ''})",
            )
        if self.checksum:
            try:
                data = _crc32c().decode(data)
            except Exception as e:
                raise CorruptChunkError(key, f"shard index: {e}") from None
        table = np.frombuffer(data, dtype=self.endian + "u8").astype(np.uint64).reshape(-1, 2)
        offsets, lengths = table[:, 0], table[:, 1]
        absent = offsets == ABSENT
        if not np.array_equal(absent, lengths == ABSENT):
            j = int(np.flatnonzero(absent != (lengths == ABSENT))[0])
            raise CorruptChunkError(
                key, f"shard index: inner chunk {self.coords(j)} is half absent ({table[j]})"
            )
        limit = np.uint64(_MAX_END if size is None else size)
        bad = ~absent & ((offsets > limit) | (lengths > limit - np.minimum(offsets, limit)))
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            where = "past the end" if size is None else f"past the end of its {size} bytes"
            raise CorruptChunkError(
                key,
                f"shard index: inner chunk {self.coords(j)} at offset {int(offsets[j])}, "
                f"{int(lengths[j])} bytes, lies {where}",
            )
        return table

    def read_index(self, shard: Any, key: str) -> np.ndarray:
        """The index table of the whole shard bytes ``shard`` (see :meth:`decode_index`),
        its ranges checked against no more than the largest range a store serves, so that
        a caller can tell which inner chunks lie past the shard's end (:meth:`inner_chunks`).
        A ``CorruptChunkError`` naming ``key`` for a shard shorter than its index or an
        index that does not decode."""
        nbytes = len(memoryview(shard).cast("B"))
        if nbytes < self.index_nbytes:
            raise CorruptChunkError(
                key, f"shard of {nbytes} bytes, shorter than its index ({self.index_nbytes})"
            )
        return self.decode_index(self.index_of(shard), key)

    def inner_chunks(self, table: np.ndarray) -> list[tuple[tuple[int, ...], int, int]]:
        """The stored inner chunks of an index ``table``: ``(coordinates within the shard,
        offset, length)``, in C order of the coordinates (absent chunks left out)."""
        present = np.flatnonzero(table[:, 0] != ABSENT).tolist()
        return [(self.coords(j), int(table[j, 0]), int(table[j, 1])) for j in present]

    def coords(self, j: int) -> tuple[int, ...]:
        """The coordinates, within its shard, of the inner chunk ``j`` (C order)."""
        return tuple(int(c) for c in np.unravel_index(j, self.per_shard)) if self.per_shard else ()

    # -- nested sharding -------------------------------------------------------------------
    @functools.cached_property
    def grid(self) -> tuple[int, ...]:
        """The innermost chunks of one shard along each dimension (all levels)."""
        g = self.per_shard
        return g if self.inner is None else tuple(a * b for a, b in zip(g, self.inner.grid))

    @functools.cached_property
    def paths(self) -> np.ndarray:
        """``(grid size, levels)``: for each innermost chunk of a shard (C order over
        :attr:`grid`) its index at each level, outermost first (C order in that level's
        ``per_shard``)."""
        levels = self.levels
        grid = self.grid
        coords = np.unravel_index(np.arange(math.prod(grid), dtype=np.int64), grid)
        out = np.empty((math.prod(grid), len(levels)), dtype=np.int64)
        below = list(grid)  # innermost chunks per node of the current level
        for d, level in enumerate(levels):
            below = [b // p for b, p in zip(below, level.per_shard)]
            at = tuple((c // b) % p for c, b, p in zip(coords, below, level.per_shard))
            out[:, d] = np.ravel_multi_index(at, level.per_shard) if at else 0
        return out

    @functools.cached_property
    def flat(self) -> np.ndarray:
        """The inverse of :attr:`paths`: the innermost chunk of each path of indexes."""
        levels = self.levels
        out = np.empty(tuple(level.n for level in levels), dtype=np.int64)
        out[tuple(self.paths.T)] = np.arange(len(self.paths))
        return out

    def stored(self, shard: Any, key: str) -> dict[int, Any]:
        """The stored innermost chunks of the whole shard bytes ``shard``: innermost index
        (C order over :attr:`grid`) -> bytes (views). A ``CorruptChunkError`` naming ``key``
        (and the inner shard) for an index that does not decode or a range out of its
        shard's bytes."""
        found: dict[int, Any] = {}
        flat = self.flat if self.inner is not None else None
        # (a loop, not a recursive closure: a closure's cycle would keep the shard's bytes
        # alive until the garbage collector runs)
        todo: list[tuple[ShardLayout, Any, tuple[int, ...]]] = [
            (self, memoryview(shard).cast("B"), ())
        ]
        while todo:
            layout, view, path = todo.pop()
            table = layout.node_table(view, key, path)
            for j in np.flatnonzero(table[:, 0] != ABSENT).tolist():
                o, n = int(table[j, 0]), int(table[j, 1])
                if layout.inner is not None:
                    todo.append((layout.inner, view[o : o + n], path + (j,)))
                elif flat is not None:
                    found[int(flat[path + (j,)])] = view[o : o + n]
                else:
                    found[j] = view[o : o + n]
        return found

    def node_table(self, view: Any, key: str, path: tuple[int, ...] = ()) -> np.ndarray:
        """The index table of a whole shard (``path`` ()) or inner shard (its path of
        indexes), ``view`` its bytes, every range checked against them."""
        try:
            if len(view) < self.index_nbytes:
                raise CorruptChunkError(
                    key, f"shard of {len(view)} bytes, shorter than its index ({self.index_nbytes})"
                )
            return self.decode_index(self.index_of(view), key, size=len(view))
        except CorruptChunkError as e:
            if not path:
                raise
            raise CorruptChunkError(key, f"inner shard {list(path)}: {e.reason}") from None

    # -- Morton order --------------------------------------------------------------------
    @functools.cached_property
    def morton(self) -> np.ndarray:
        """Each inner chunk's (C order) rank in the shard's stored order: Zarr's compressed
        Morton code (the bits of the coordinates interleaved, the first dimension lowest, a
        dimension leaving once its bits run out)."""
        bits = [(c - 1).bit_length() for c in self.per_shard]
        total = sum(bits)
        dtype: Any = np.uint64 if total <= 64 else object
        flat = np.arange(self.n, dtype=np.int64)
        coords = np.unravel_index(flat, self.per_shard) if self.per_shard else ()
        code = np.zeros(self.n, dtype=dtype)
        out = 0
        for bit in range(max(bits, default=0)):
            for d, b in enumerate(bits):
                if bit < b:
                    part = (coords[d] >> bit) & 1
                    code |= part.astype(dtype) << (np.uint64(out) if dtype is np.uint64 else out)
                    out += 1
        return code


def _sharding_config(codecs: Any) -> dict:
    """The configuration of the ``sharding_indexed`` codec of a codec list (it must be the
    only codec: codecs around it are not supported)."""
    codecs = list(codecs or ())
    for codec in codecs:
        if isinstance(codec, dict) and codec.get("name") == "sharding_indexed":
            if len(codecs) != 1:
                raise MetadataError("codecs around sharding_indexed are not supported")
            config = codec.get("configuration", {})
            if not isinstance(config, dict):
                break
            return config
    raise MetadataError("a sharded array (shards set) needs a sharding_indexed codec in its codecs")


def _index_codecs(codecs: Any) -> tuple[str, bool]:
    """``(endian, checksum)`` of the index codecs: ``bytes`` and an optional ``crc32c``."""
    if codecs is None:
        return "<", True  # (the default of the specification)
    names = [c.get("name") if isinstance(c, dict) else c for c in codecs]
    if names not in (["bytes"], ["bytes", "crc32c"]):
        raise MetadataError(
            f"sharding_indexed index_codecs {names} are not supported (bytes, then an "
            "optional crc32c)"
        )
    config = (codecs[0].get("configuration") or {}) if isinstance(codecs[0], dict) else {}
    endian = config.get("endian", "little")
    if endian not in ("little", "big"):
        raise MetadataError(f"sharding_indexed index endian {endian!r} is not known")
    return ("<" if endian == "little" else ">"), len(names) == 2


class ShardedPipeline(StorePipeline):
    """Chunks stored in Zarr v3 shards: the projections handed to it are over the inner
    chunk grid; the store sees one key per shard (``key(shard_coords)``,
    ``delete_chunks(shard_coords)``)."""

    def __init__(
        self,
        store: Store,
        path: str,
        meta: ArrayMeta,
        chain: CodecChain,
        options: PipelineOptions,
    ) -> None:
        super().__init__(store, path, meta, chain, options)
        self.layout = ShardLayout.of(meta)
        #: the levels of sharding, outermost first (more than one: nested sharding)
        self.levels = self.layout.levels
        #: the (innermost) chunks of a shard along each dimension, and their number
        self.per_shard = self.layout.grid
        self.n_inner = math.prod(self.per_shard)
        #: ranges are read natively: indexes and inner chunks, not whole shards
        self.partial = bool(store.partial_reads)
        assert meta.shards is not None
        shard_bytes = max(1, self.chunk_size * meta.dtype.itemsize * self.n_inner)
        #: shards per batch when whole shards are fetched
        self.shard_batch = max(1, min(_MAX_BATCH, _BATCH_BYTES // shard_bytes))
        self._inner_grid = meta.cdata_shape

    # -- shards ----------------------------------------------------------------------------
    def _locate(self, coords: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
        """The shard of the inner chunk at ``coords`` and the chunk's index in it (C order)."""
        per = self.per_shard
        shard = tuple(c // k for c, k in zip(coords, per))
        j = 0
        for c, k in zip(coords, per):
            j = j * k + c % k
        return shard, j

    def _group(
        self, projections: Sequence[ChunkProjection]
    ) -> dict[tuple[int, ...], list[tuple[int, int]]]:
        """``shard coords -> [(projection index, inner index), ...]`` in order of first use."""
        groups: dict[tuple[int, ...], list[tuple[int, int]]] = {}
        for i, p in enumerate(projections):
            shard, j = self._locate(p.chunk_coords)
            groups.setdefault(shard, []).append((i, j))
        return groups

    def _shard_batches(
        self,
        groups: dict[tuple[int, ...], list[tuple[int, int]]],
        limit: int,
        whole: bool,
        shards: int | None = None,
    ) -> list[list[tuple[int, ...]]]:
        """Shards in batches of at most ``limit`` inner chunks (or of ``shards`` shards,
        by default ``shard_batch``, when ``whole`` shards are fetched)."""
        batches: list[list[tuple[int, ...]]] = []
        current: list[tuple[int, ...]] = []
        count = 0
        most = (shards or self.shard_batch) if whole else limit
        for shard, members in groups.items():
            size = 1 if whole else len(members)
            if current and count + size > most:
                batches.append(current)
                current, count = [], 0
            current.append(shard)
            count += size
        if current:
            batches.append(current)
        return batches

    def _where(self, key: str, j: int) -> str:
        """How errors name the inner chunk ``j`` of the shard ``key``."""
        return f"inner chunk {tuple(int(c) for c in np.unravel_index(j, self.per_shard))}"

    def _inner_error(self, key: str, j: int, e: CorruptChunkError) -> CorruptChunkError:
        reason = getattr(e, "reason", str(e))
        return CorruptChunkError(key, f"{self._where(key, j)}: {reason}")

    def _parse(self, key: str, shard: Any) -> dict[int, Any]:
        """The stored inner chunks of a whole shard: ``inner index -> bytes`` (views)."""
        return self.layout.stored(shard, key)

    # -- reads -----------------------------------------------------------------------------
    def _fetch(
        self,
        projections: list[ChunkProjection],
        names: list[str],
        out: np.ndarray,
        put: Callable[[int, Any], bool],
        inline: bool,
        direct: bool,
    ) -> None:
        """Fetch the inner chunks of ``projections`` shard by shard and hand each to ``put``
        (its bytes, or None if absent)."""
        groups = self._group(projections)
        whole = not self.partial

        def scatter(fetched: tuple[list, list[str], dict[int, Any], list[str]]) -> None:
            batch, keys, data, missing = fetched
            if self.strict and missing:
                raise MissingChunkError(missing)
            items = [(i, j, k) for s, k in zip(batch, keys) for i, j in groups[s]]

            def put_one(item: tuple[int, int, str]) -> bool:
                i, j, key = item
                try:
                    return put(i, data.get(i))
                except CorruptChunkError as e:
                    raise self._inner_error(key, j, e) from e

            run_parallel(put_one, items, inline)

        def fetch(batch: list[tuple[int, ...]]) -> tuple[list, list[str], dict, list[str]]:
            return self._fetch_batch(batch, groups, whole)

        batches = self._shard_batches(groups, self.batch, whole)
        if len(batches) < 2 or not _group_size(self.store, 1):
            for batch in batches:
                scatter(fetch(batch))
            return
        # a store over a network: fetched in parts, several calls at once, each part
        # scattered as it arrives while the next ones are fetched; requested and not yet
        # scattered: at most two batches (of shards if whole, else of inner chunks). Large
        # shards go one per call (a call of several waits for the slowest of them), as many
        # calls as the window holds shards, up to the store's requests in flight
        unit = self.shard_batch if whole else self.batch
        per_shard = 1 if whole else self.n_inner
        in_window = max(1, 2 * unit // per_shard)
        calls = max(_CALLS, min(self.store.requests_in_flight, in_window))
        part = max(per_shard, 2 * unit // calls)
        parts = self._shard_batches(groups, part, whole, shards=part)

        def size(batch: list[tuple[int, ...]]) -> int:
            return len(batch) if whole else sum(len(groups[s]) for s in batch)

        with _Requests(calls) as requests:
            for batch in parts:
                while requests.held and requests.held + size(batch) > 2 * unit:
                    scatter(requests.next_done()[1])
                requests.submit(fetch, batch, size(batch))
            while requests.held:
                scatter(requests.next_done()[1])

    def _fetch_batch(
        self, batch: list[tuple[int, ...]], groups: dict, whole: bool
    ) -> tuple[list, list[str], dict[int, Any], list[str]]:
        """The stored inner chunks of the shards ``batch``: the shards (in the order their
        keys come), their keys, ``projection index -> bytes`` and the keys missing."""
        if whole:
            keys = [self.key(s) for s in batch]
            data, missing = self._read_whole(batch, keys, groups)
        else:
            # a shard of which a read needs at least half the chunks is read whole, in
            # one request (its index comes along); the others as index + ranges
            half = self.n_inner / 2
            most = [s for s in batch if len({j for _, j in groups[s]}) >= half]
            few = [s for s in batch if len({j for _, j in groups[s]}) < half]
            data, missing = {}, []
            for part, read in ((most, self._read_whole), (few, self._read_ranges)):
                if part:
                    got, lost = read(part, [self.key(s) for s in part], groups)
                    data.update(got)
                    missing += lost
            keys = [self.key(s) for s in most + few]
            batch = most + few
        return batch, keys, data, missing

    def _read_whole(
        self, batch: list[tuple[int, ...]], keys: list[str], groups: dict
    ) -> tuple[dict[int, Any], list[str]]:
        """Whole shards with one ``getitems``: ``projection index -> bytes`` and what is
        missing (for strict reads)."""
        contexts = {} if self.context is None else ConstantMap(keys, self.context)
        found = self.store.getitems(keys, contexts=contexts)
        data: dict[int, Any] = {}
        missing: list[str] = []
        for shard, key in zip(batch, keys):
            raw = found.get(key)
            if raw is None:
                missing.append(key)
                continue
            chunks = self._parse(key, raw)
            absent = False
            for i, j in groups[shard]:
                got = chunks.get(j)
                if got is None:
                    absent = True
                else:
                    data[i] = got
            if absent:
                missing.append(key)
        return data, missing

    def _resolve(
        self, batch: list[tuple[int, ...]], keys: list[str], groups: dict
    ) -> tuple[list[tuple[str, int, int]], list[tuple[int, int, str]], list[str]]:
        """Where the inner chunks of ``groups`` (for the shards ``batch``, keys ``keys``) are
        stored, from the shards' indexes (one ``getranges`` per level of sharding):
        ``(shard key, offset, length)`` requests, ``(projection, inner index, shard key)``
        for each, and the shards missing or missing some (for strict reads). A
        ``CorruptChunkError`` for an index that does not decode."""
        levels = self.levels
        paths = self.layout.paths if len(levels) > 1 else None
        start, length = self.layout.index_range()
        # the shards, then the inner shards (nested sharding), whose index is read: key,
        # path of indexes, offset and length in the shard (None: the whole shard), the
        # projections wanted in it
        nodes: list[tuple[str, tuple[int, ...], int, int | None, list[tuple[int, int]]]]
        nodes = [(k, (), 0, None, groups[s]) for s, k in zip(batch, keys)]
        index_requests: list[tuple[str, int, int | None]] = [(k, start, length) for k in keys]
        requests: list[tuple[str, int, int]] = []
        wanted: list[tuple[int, int, str]] = []  # projection, inner index, shard key
        missing: list[str] = []
        for depth, layout in enumerate(levels):
            indexes = self.store.getranges(index_requests) if index_requests else []
            last = depth == len(levels) - 1
            children: dict[tuple[str, tuple[int, ...]], list] = {}
            for (key, path, base, size, members), raw in zip(nodes, indexes):
                if raw is None:
                    if key not in missing:
                        missing.append(key)
                    continue
                table = self._node_index(layout, raw, key, path, size)
                absent = False
                for i, j in members:
                    e = j if paths is None else int(paths[j, depth])
                    offset, nbytes = int(table[e, 0]), int(table[e, 1])
                    if offset == ABSENT:
                        absent = True
                    elif last:
                        requests.append((key, base + offset, nbytes))
                        wanted.append((i, j, key))
                    else:
                        node = children.setdefault((key, (*path, e)), [base + offset, nbytes, []])
                        node[2].append((i, j))
                if absent and key not in missing:
                    missing.append(key)
            if last:
                break
            inner = levels[depth + 1]
            k = inner.index_nbytes
            nodes, index_requests = [], []
            for (key, path), (base, size, members) in children.items():
                if size < k:
                    raise CorruptChunkError(
                        key,
                        f"inner shard {list(path)} of {size} bytes, shorter than its index ({k})",
                    )
                nodes.append((key, path, base, size, members))
                index_requests.append((key, base if inner.index_at_start else base + size - k, k))
        return requests, wanted, missing

    def _read_ranges(
        self, batch: list[tuple[int, ...]], keys: list[str], groups: dict
    ) -> tuple[dict[int, Any], list[str]]:
        """The indexes of the shards (one ``getranges``), then the inner chunks needed (one
        more): ``projection index -> bytes`` and what is missing (for strict reads)."""
        requests, wanted, missing = self._resolve(batch, keys, groups)
        data: dict[int, Any] = {}
        if requests:
            got_all = self.store.getranges(requests)
            for (i, j, key), (_, offset, size), got in zip(wanted, requests, got_all):
                if got is None:
                    # the shard went away between the two reads: absent now
                    if key not in missing:
                        missing.append(key)
                    continue
                if len(got) != size:
                    raise CorruptChunkError(
                        key,
                        f"{self._where(key, j)}: {size} bytes indexed at offset {offset}, "
                        f"{len(got)} stored there (past the end of the shard)",
                    )
                data[i] = got
        return data, missing

    def _node_index(
        self, layout: ShardLayout, raw: Any, key: str, path: tuple[int, ...], size: int | None
    ) -> np.ndarray:
        """The index table read for a shard (``path`` ()) or an inner shard of ``size``
        bytes (its ranges checked against them)."""
        try:
            return layout.decode_index(raw, key, size)
        except CorruptChunkError as e:
            if not path:
                raise
            raise CorruptChunkError(key, f"inner shard {list(path)}: {e.reason}") from None

    # -- writes ----------------------------------------------------------------------------
    def _write(
        self, projections: list[ChunkProjection], value: Any, fields: Any, lazy: bool
    ) -> None:
        if not projections:
            return
        w = _Write(self, projections, value, fields, lazy)
        groups = self._group(projections)
        batches = self._shard_batches(groups, self.write_batch, whole=False)
        if self.chain.is_object and not w.lazy and not w.scalar and len(batches) > 1:
            # a write of several batches could stop half way: every item is checked
            # against the codec before any shard is stored
            self.chain.encode_objects(value.reshape(-1))
        group = _group_size(self.store, self.write_batch)
        if group and not w.synced and len(batches) > 1:
            # a store over a network: the next shards are encoded while these are stored
            _store_ahead(
                self.store,
                batches,
                lambda batch: self._encode_shards(w, batch, groups),
                group,
                self.held_write_bytes,
            )
            return
        for batch in batches:
            self._write_batch(w, batch, groups)

    def _covered(self, w: _Write, shard: tuple[int, ...], members: list[tuple[int, int]]) -> bool:
        """The selection covers every inner chunk of ``shard`` inside the array whole (the
        shard is built without reading it)."""
        per, grid = self.per_shard, self._inner_grid
        inside = math.prod(min(k, g - s * k) for s, k, g in zip(shard, per, grid))
        projections = w.projections
        return len({j for _, j in members}) == inside and not any(
            w._merge(projections[i], projections[i].edge) for i, _ in members
        )

    def _write_batch(self, w: _Write, batch: list[tuple[int, ...]], groups: dict) -> None:
        keys = [self.key(s) for s in batch]
        with self._locked(keys if w.synced else []):
            to_set, to_delete = self._encode_shards(w, batch, groups)
            if to_set:
                self.store.setitems(to_set)
            if to_delete:
                self.store.delitems(to_delete)
            if to_set and w.synced and self.options.meta_store is not None:
                self._drop_cut_shards(batch, keys, to_set)

    def _encode_shards(
        self, w: _Write, batch: list[tuple[int, ...]], groups: dict
    ) -> tuple[dict[str, bytes], list[str]]:
        """The shards of ``batch`` to store (key -> bytes) and those left empty (to delete):
        the partly covered shards fetched in one batch, their inner chunks built and encoded
        in the pool."""
        keys = [self.key(s) for s in batch]
        if w.lazy:
            w.pieces = self._lazy_pieces(w, batch, groups)
        covered = {s: self._covered(w, s, groups[s]) for s in batch}
        partial_keys = [k for s, k in zip(batch, keys) if not covered[s]]
        found = self.store.getitems(partial_keys, contexts={}) if partial_keys else {}
        stored = {k: self._parse(k, found[k]) for k in partial_keys if k in found}
        items = [
            (i, j, k)
            for s, k in zip(batch, keys)
            if not (covered[s] and w.scalar_fill)
            for i, j in groups[s]
        ]
        fill = self.meta.fill_value

        def build(item: tuple[int, int, str]) -> bytes | None:
            i, j, key = item
            p = w.projections[i]
            edge = p.edge
            whole = not w._merge(p, edge)
            old = stored.get(key, {}).get(j)
            try:
                chunk = w._chunk(i, p, edge, whole, lambda: old)
            except CorruptChunkError as e:
                raise self._inner_error(key, j, e) from e
            if w.skip_fill and _is_fill(chunk, fill):
                return None
            return self.chain.encode(chunk)

        try:
            encoded = run_parallel(build, items, self._inline(len(items)))
        finally:
            w.pieces = {}
        new: dict[str, dict[int, bytes | None]] = {}
        for (_, j, key), data in zip(items, encoded):
            new.setdefault(key, {})[j] = data
        to_set: dict[str, bytes] = {}
        to_delete: list[str] = []
        for shard, key in zip(batch, keys):
            # a shard covered whole starts empty: its inner chunks past the array are
            # never stored (as zarr-python writes shards)
            content: dict[int, Any] = {} if covered[shard] else dict(stored.get(key, {}))
            for j, data in new.get(key, {}).items():
                if data is None:
                    content.pop(j, None)
                else:
                    content[j] = data
            if content:
                to_set[key] = self._assemble(content)
            else:
                to_delete.append(key)
        return to_set, to_delete

    def _assemble(self, content: dict[int, Any]) -> bytes:
        """A shard's bytes: its inner chunks (innermost index -> bytes) in Morton order and
        the index; with nested sharding, the inner shards holding any, built the same way."""
        if len(self.levels) == 1:
            return _pack(self.layout, content)
        return self._pack_level(0, content)

    def _pack_level(self, depth: int, part: dict[int, Any]) -> bytes:
        """The (inner) shard at level ``depth`` holding ``part`` (innermost index -> bytes)."""
        levels, paths = self.levels, self.layout.paths
        layout = levels[depth]
        if depth == len(levels) - 1:
            return _pack(layout, {int(paths[j, depth]): d for j, d in part.items()})
        nodes: dict[int, dict[int, Any]] = {}
        for j, d in part.items():
            nodes.setdefault(int(paths[j, depth]), {})[j] = d
        return _pack(layout, {e: self._pack_level(depth + 1, g) for e, g in nodes.items()})

    def _lazy_pieces(self, w: _Write, batch: list[tuple[int, ...]], groups: dict) -> dict:
        """The parts of a lazy value for the inner chunks of ``batch``: one read of the
        value per shard (the region its projections span), in the calling thread."""
        pieces: dict[int, np.ndarray] = {}
        projections = w.projections
        for shard in batch:
            members = [i for i, _ in groups[shard]]
            sels = [projections[i].out_selection for i in members]
            box = _bounding_box(sels)
            if box is None:
                for i in members:
                    pieces[i] = np.asarray(w.value[projections[i].out_selection])
                continue
            region = np.asarray(w.value[tuple(slice(a, b) for a, b in box)])
            for i, sel in zip(members, sels):
                pieces[i] = region[
                    tuple(slice(s.start - a, s.stop - a) for s, (a, _) in zip(sel, box))
                ]
        return pieces

    def _drop_cut_shards(self, batch: list[tuple[int, ...]], keys: list[str], stored: Any) -> None:
        """Delete the shards just stored that a concurrent resize has cut off (their locks
        are held), as ``StorePipeline._drop_cut`` does for chunks."""
        shape = self._stored_shape()
        shards = self.meta.shards
        if shape is None or shards is None or len(shape) != len(shards):
            return
        cut = [
            k
            for s, k in zip(batch, keys)
            if k in stored and any(c * n >= x for c, n, x in zip(s, shards, shape))
        ]
        if cut:
            self.store.delitems(cut)


def _pack(layout: ShardLayout, content: dict[int, Any]) -> bytes:
    """The bytes of one shard (or inner shard) of ``layout``: ``content`` (index in it ->
    bytes) in Morton order and the index."""
    rank = layout.morton
    table = np.full((layout.n, 2), ABSENT, dtype=np.uint64)
    parts: list[Any] = []
    pos = layout.index_nbytes if layout.index_at_start else 0
    for j in sorted(content, key=rank.__getitem__):
        data = content[j]
        nbytes = len(memoryview(data).cast("B"))
        table[j] = (pos, nbytes)
        parts.append(data)
        pos += nbytes
    index = layout.encode_index(table)
    return b"".join([index, *parts] if layout.index_at_start else [*parts, index])


def _bounding_box(sels: list[Any]) -> list[tuple[int, int]] | None:
    """The region ``[(start, stop), ...]`` that selections of slices of step 1 span (None
    for other selections)."""
    box: list[list[int]] | None = None
    for sel in sels:
        if not isinstance(sel, tuple) or not all(
            type(s) is slice and s.step in (None, 1) for s in sel
        ):
            return None
        if box is None:
            box = [[s.start, s.stop] for s in sel]
        elif len(box) != len(sel):
            return None
        else:
            for b, s in zip(box, sel):
                b[0], b[1] = min(b[0], s.start), max(b[1], s.stop)
    return None if box is None else [(a, b) for a, b in box]
