"""Convert a hierarchy between Zarr formats (v2 <-> v3), optionally sharded and rechunked.

:func:`convert` moves the groups, arrays and attributes of a v2 or v3 hierarchy into another
store in the format asked for, within a memory limit. Each array takes one of two paths:

- **bytes**: when the destination stores the same units (same chunks, no shards; or the same
  shards with the same codecs) and states the same chunk encoding (dtype and byte order,
  order, filters and a compressor that decodes the same frames), the stored chunks are
  copied as they are, without decoding, to the keys of the new format (``0.0`` ->
  ``c/0/0``), in batches within the memory limit;
- **re-encoded**: otherwise the data go through the arrays (decode, encode), by the blocks of
  :func:`zarrkit.rechunk`'s plan (blocks of whole source and destination units, or an
  intermediate array on disk when the two grids cannot be matched within the limit).

The new metadata documents are written last, after every chunk is in place (and checked, with
``verify=True``): until then the destination holds no array a reader would open, and an
interrupted conversion in place leaves the source readable.

>>> import zarrkit, numpy as np
>>> src = zarrkit.group(zarrkit.MemoryStore(), zarr_format=2)
>>> src.attrs["title"] = "demo"
>>> _ = src.array("a/b", np.arange(12).reshape(3, 4), chunks=(1, 4))
>>> dst = zarrkit.MemoryStore()
>>> report = zarrkit.convert(src.store, dst, zarr_format=3)
>>> report.n_arrays, report.n_byte_copied, report.n_re_encoded
(1, 1, 0)
>>> sorted(dst)
['a/b/c/0/0', 'a/b/c/1/0', 'a/b/c/2/0', 'a/b/zarr.json', 'a/zarr.json', 'zarr.json']
>>> g = zarrkit.open_group(dst, mode="r")
>>> g.attrs["title"], int(g["a/b"][2, 3])
('demo', 11)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numcodecs
import numpy as np

from .._pool import get_num_threads
from ..attrs import prefetch
from ..convenience import open as open_node
from ..core import Array
from ..creation import create, encoding_of
from ..errors import CopyError
from ..formats import v2, v3
from ..formats.meta import ArrayMeta, _same_fill
from ..formats.nodes import node_format, v3_consolidated
from ..hierarchy import Group
from ..storage import MemoryStore, normalize_store_arg
from ..storage.base import normalize_storage_path, prefix_of
from .cluster import check_shared, connect
from .copying import _Progress
from .rechunking import RechunkPlan, _blocks, _grow, _n_blocks, copy_planned, plan_rechunk

__all__ = ["convert", "ConvertReport", "ArrayConversion", "VerificationError", "DEFAULT_MAX_MEM"]

#: the default memory limit (bytes of array data held at once)
DEFAULT_MAX_MEM = 256 * 2**20
#: the xarray attribute that names the dimensions of a Zarr v2 array
DIMENSIONS_ATTR = "_ARRAY_DIMENSIONS"
# compressors whose frames describe themselves: any configuration decodes any frame
_SELF_DESCRIBING = frozenset(("blosc", "zstd", "gzip", "zlib", "bz2"))
_SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:i?B)?\s*\Z", re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class VerificationError(CopyError):
    """The converted data differ from the source (nothing of the destination was kept)."""


@dataclass
class ArrayConversion:
    """How one array was converted (``path`` relative to the converted node)."""

    path: str
    shape: tuple[int, ...]
    dtype: str
    source_chunks: tuple[int, ...]
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    #: ``"bytes"`` (stored chunks copied as they are) or ``"re-encoded"``
    method: str
    #: stored keys copied (``"bytes"``); 0 for re-encoded arrays
    keys_copied: int = 0
    #: stored bytes copied (``"bytes"``); 0 for re-encoded arrays
    bytes_copied: int = 0


@dataclass
class ConvertReport:
    """What :func:`convert` did."""

    source: str
    dest: str
    zarr_format: int
    arrays: list[ArrayConversion] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    #: the destination got consolidated metadata (the source had some)
    consolidated: bool = False
    #: the contents of every array were compared with the source
    verified: bool = False
    in_place: bool = False
    #: keys of the source that belong to no chunk of an array (not copied)
    skipped_keys: list[str] = field(default_factory=list)

    @property
    def n_arrays(self) -> int:
        return len(self.arrays)

    @property
    def n_byte_copied(self) -> int:
        return sum(a.method == "bytes" for a in self.arrays)

    @property
    def n_re_encoded(self) -> int:
        return sum(a.method == "re-encoded" for a in self.arrays)

    @property
    def bytes_copied(self) -> int:
        """Stored bytes copied without decoding."""
        return sum(a.bytes_copied for a in self.arrays)

    def summary(self) -> str:
        checked = "verified" if self.verified else "not verified"
        return (
            f"converted to Zarr v{self.zarr_format}: {self.n_arrays:,} arrays "
            f"({self.n_byte_copied:,} byte-copied, {self.n_re_encoded:,} re-encoded), "
            f"{len(self.groups):,} groups, {self.bytes_copied:,} bytes copied; {checked}"
            + ("; consolidated" if self.consolidated else "")
            + ("; in place" if self.in_place else "")
        )

    def lines(self) -> list[str]:
        out = []
        for a in self.arrays:
            shards = f" shards {a.shards}" if a.shards else ""
            out.append(
                f"array /{a.path} {a.shape} {a.dtype} chunks {a.source_chunks} -> {a.chunks}"
                f"{shards}: {a.method}"
            )
        out.append(self.summary())
        return out


def parse_size(value: int | str) -> int:
    """``268435456``, ``'256MB'``, ``'1.5G'``, ``'64MiB'`` -> bytes (binary units)."""
    if isinstance(value, bool):
        raise TypeError(f"max_mem must be a number of bytes or a size like '256MB', not {value!r}")
    if isinstance(value, (int, np.integer)):
        n = int(value)
    elif isinstance(value, str):
        m = _SIZE.match(value)
        if m is None:
            raise ValueError(f"max_mem={value!r} is not a size (examples: 256MB, 2G, 1000000)")
        n = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    else:
        raise TypeError(f"max_mem must be a number of bytes or a size like '256MB', not {value!r}")
    if n <= 0:
        raise ValueError(f"max_mem must be positive, not {value!r}")
    return n


# -- the plan --------------------------------------------------------------------------------


@dataclass
class _Node:
    path: str  # relative to the converted node ("" for itself)
    node: Any  # Array or Group of the source
    attrs: dict


@dataclass
class _ArrayWork:
    item: _Node
    meta: ArrayMeta  # the destination's record
    out: Array  # the destination array (documents in the staging store)
    method: str
    plan: RechunkPlan | None
    report: ArrayConversion


def _spec_for(spec: Any, z: Array, path: str, what: str) -> tuple[int, ...] | None:
    """The shape ``spec`` (tuple for all arrays of its dimensionality, or a dict by path)
    gives array ``z``, with None/-1 for a whole axis; None when it does not apply."""
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        spec = spec.get(path)
        if spec is None:
            return None
    elif z.ndim == 0:
        return None
    if isinstance(spec, (int, np.integer)):
        spec = (spec,)
    spec = tuple(spec)
    if len(spec) != z.ndim:
        return None
    out = []
    for s, n in zip(spec, z.shape):
        if s is None or s == -1:
            s = max(1, n)
        if isinstance(s, bool) or int(s) != s or s < 1:
            raise ValueError(f"{what} sizes must be positive integers (or -1/None), got {spec}")
        out.append(int(s))
    return tuple(out)


#: uncompressed bytes of a shard that ``shards="auto"`` aims at (at most; whole chunks)
AUTO_SHARD_BYTES = 64 * 2**20


def auto_shards(
    shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int
) -> tuple[int, ...] | None:
    """The shard shape ``convert(shards="auto")`` gives an array: whole chunks, grown along
    the last axis first (then the ones before it) up to the chunks covering the array, while
    a shard holds at most :data:`AUTO_SHARD_BYTES` uncompressed; None (unsharded) when that
    is a single chunk.

    >>> auto_shards((8000, 8000), (250, 250), 4)
    (2000, 8000)
    >>> auto_shards((100,), (100,), 8) is None
    True
    """
    covered = tuple(-(-max(1, n) // c) * c for n, c in zip(shape, chunks))
    budget = max(AUTO_SHARD_BYTES // max(itemsize, 1), math.prod(chunks))
    shards = _grow(chunks, covered, budget, covered)
    return None if shards == tuple(chunks) else shards


def _check_names(spec: Any, paths: set[str], what: str) -> None:
    if isinstance(spec, Mapping):
        unknown = set(map(normalize_storage_path, spec)) - paths
        if unknown:
            raise ValueError(f"{what} name arrays that are not in the source: {sorted(unknown)}")


def _dimension_names(z: Array, attrs: dict, zarr_format: int) -> tuple[Any, dict]:
    """(dimension_names for the destination, its attributes): xarray's ``_ARRAY_DIMENSIONS``
    attribute of a v2 array becomes the v3 ``dimension_names``, and back."""
    names = z._meta.dimension_names
    if zarr_format == 3:
        dims = attrs.get(DIMENSIONS_ATTR)
        if (
            names is None
            and isinstance(dims, list)
            and len(dims) == z.ndim
            and all(isinstance(d, str) for d in dims)
        ):
            attrs = {k: v for k, v in attrs.items() if k != DIMENSIONS_ATTR}
            names = tuple(dims)
        return names, attrs
    if names is not None and DIMENSIONS_ATTR not in attrs and all(n is not None for n in names):
        attrs = {**attrs, DIMENSIONS_ATTR: list(names)}
    return None, attrs


def _same_encoding(a: ArrayMeta, b: ArrayMeta) -> bool:
    """True when a stored chunk (or shard) of ``a`` means the same in ``b``."""
    if a.shards is not None or b.shards is not None:
        if a.shards != b.shards or a.chunks != b.chunks or a.codecs != b.codecs:
            return False
    elif a.chunks != b.chunks:
        return False
    if a.dtype != b.dtype or a.order != b.order or (a.filters or None) != (b.filters or None):
        return False
    ca, cb = a.compressor, b.compressor
    if ca is None or cb is None:
        return ca is cb
    return ca == cb or (ca["id"] == cb["id"] and ca["id"] in _SELF_DESCRIBING)


def _chunk_coords(meta: ArrayMeta, rel: str) -> tuple[int, ...] | None:
    """The coordinates of the stored unit at key ``rel`` (relative to the array), or None
    when ``rel`` is not the key of a unit inside the grid."""
    if meta.chunk_key_encoding == "default":
        if rel == "c":
            return () if meta.ndim == 0 else None
        if not rel.startswith("c" + meta.separator):
            return None
        body = rel[2:]
    else:
        if meta.ndim == 0:
            return () if rel == "0" else None
        body = rel
    parts = body.split(meta.separator)
    if len(parts) != meta.ndim or not all(p.isdigit() for p in parts):
        return None
    coords = tuple(int(p) for p in parts)
    if meta.chunk_key(coords) != rel or any(c >= n for c, n in zip(coords, meta.stored_grid)):
        return None
    return coords


def _same_place(a: Any, b: Any) -> bool:
    """True when two stores are one location (the same object, or handles on one folder)."""
    if a is b:
        return True
    pa, pb = getattr(a, "path", None), getattr(b, "path", None)
    return type(a) is type(b) and isinstance(pa, str) and pa == pb


def _walk(root: Any) -> tuple[list[_Node], list[_Node]]:
    """(groups, arrays) of the source, the root first, parents before members."""
    groups: list[_Node] = []
    arrays: list[_Node] = []
    if isinstance(root, Array):
        arrays.append(_Node("", root, root.attrs.asdict()))
        return groups, arrays
    found: list[tuple[str, Any]] = [("", root)]
    listed = root._walk_listed()  # one listing and one batch for the whole hierarchy
    if listed is not None:
        found += listed
    else:
        root.visititems(lambda name, obj: found.append((normalize_storage_path(name), obj)))
    prefetch([obj.attrs for _, obj in found])  # every node's attributes in one batch
    for name, obj in found:
        item = _Node(name, obj, obj.attrs.asdict())
        (arrays if isinstance(obj, Array) else groups).append(item)
    return groups, arrays


def _source_consolidated(store: Any, path: str, zarr_format: int) -> bool:
    if zarr_format == 2:
        return prefix_of(path) + v2.CONSOLIDATED_KEY in store or v2.CONSOLIDATED_KEY in store
    try:
        return v3_consolidated(store, prefix_of(path)) is not None
    except KeyError:
        return False


# -- doing ---------------------------------------------------------------------------------


def _byte_copy(
    z: Array, work: _ArrayWork, src_prefix: str, dst_store: Any, max_mem: int, bar: _Progress
) -> None:
    """Copy the stored units of ``z`` to the destination's keys, in batches within
    ``max_mem`` (a stored unit is counted at its decoded size, more than a frame holds)."""
    src_meta, dst_meta = z._meta, work.meta
    store = z.chunk_store
    pairs = []
    for rel in store.keys_under(z.path):
        coords = _chunk_coords(src_meta, rel)
        if coords is not None:
            pairs.append((src_prefix + rel, prefix_of(z.path) + "", coords))
    unit = math.prod(dst_meta.stored_chunks) * max(1, dst_meta.dtype.itemsize)
    per_batch = max(1, min(1024, max_mem // max(1, 2 * unit)))
    dest_prefix = prefix_of(work.out.path)
    for start in range(0, len(pairs), per_batch):
        batch = pairs[start : start + per_batch]
        values = store.getitems([k for k, _, _ in batch])
        out = {dest_prefix + dst_meta.chunk_key(c): values[k] for k, _, c in batch if k in values}
        dst_store.setitems(out)
        work.report.keys_copied += len(out)
        work.report.bytes_copied += sum(memoryview(v).nbytes for v in out.values())
        del values, out
        bar.update(1)


def _byte_copy_many(
    works: list[_ArrayWork], root_path: str, dst_store: Any, max_mem: int, bar: _Progress
) -> None:
    """:func:`_byte_copy` of many arrays at once: one listing per source store (below
    ``root_path``) instead of one per array, and the batches of several arrays joined into
    one ``getitems`` and one ``setitems`` while they fit ``max_mem`` together (at most 1024
    keys), instead of a few round trips per array."""
    by_store: dict[int, tuple[Any, list[_ArrayWork]]] = {}
    for w in works:
        store = w.item.node.chunk_store
        by_store.setdefault(id(store), (store, []))[1].append(w)
    root = prefix_of(root_path)
    Joined = list[tuple[_ArrayWork, list[tuple[str, str]]]]
    rounds: list[tuple[Any, Joined]] = []
    for store, ws in by_store.values():
        listed: dict[str, list[str]] = {}
        pairs: list[tuple[str, str]]
        if len(ws) > 1:
            prefixes = {prefix_of(w.item.node.path) for w in ws}
            for rel in store.keys_under(root_path):
                head = (root + rel).rpartition("/")[0]
                while head:
                    if head + "/" in prefixes:
                        listed.setdefault(head + "/", []).append((root + rel)[len(head) + 1 :])
                        break
                    head = head.rpartition("/")[0]
        rounds_here: list[Joined] = [[]]
        room = max_mem
        n_keys = 0
        for w in ws:
            z = w.item.node
            src_prefix, dest_prefix = prefix_of(z.path), prefix_of(w.out.path)
            rels = listed.get(src_prefix, []) if len(ws) > 1 else store.keys_under(z.path)
            pairs = []
            for rel in rels:
                coords = _chunk_coords(z._meta, rel)
                if coords is not None:
                    pairs.append((src_prefix + rel, dest_prefix + w.meta.chunk_key(coords)))
            unit = math.prod(w.meta.stored_chunks) * max(1, w.meta.dtype.itemsize)
            per_batch = max(1, min(1024, max_mem // max(1, 2 * unit)))
            for start in range(0, len(pairs), per_batch):
                batch = pairs[start : start + per_batch]
                need = 2 * unit * len(batch)
                if rounds_here[-1] and (need > room or n_keys + len(batch) > 1024):
                    rounds_here.append([])
                    room, n_keys = max_mem, 0
                rounds_here[-1].append((w, batch))
                room -= need
                n_keys += len(batch)
        rounds += [(store, r) for r in rounds_here if r]
    for store, joined in rounds:
        values = store.getitems([k for _, part in joined for k, _ in part])
        out = {}
        for w, part in joined:
            mine = {dk: values[k] for k, dk in part if k in values}
            w.report.keys_copied += len(mine)
            w.report.bytes_copied += sum(memoryview(v).nbytes for v in mine.values())
            out.update(mine)
        dst_store.setitems(out)
        del values, out
        bar.update(len(joined))


def _unit_pairs(z: Array, work: _ArrayWork) -> list[tuple[str, str]]:
    """(source key, destination key) of every stored unit of ``z``."""
    src_meta, dst_meta = z._meta, work.meta
    src_prefix, dest_prefix = prefix_of(z.path), prefix_of(work.out.path)
    pairs = []
    for rel in z.chunk_store.keys_under(z.path):
        coords = _chunk_coords(src_meta, rel)
        if coords is not None:
            pairs.append((src_prefix + rel, dest_prefix + dst_meta.chunk_key(coords)))
    return pairs


def _byte_copy_on(
    client: Any, z: Array, work: _ArrayWork, dst_store: Any, max_mem: int, bar: _Progress
) -> None:
    """:func:`_byte_copy` by a Dask cluster's workers, a batch within ``max_mem`` per task."""
    from .cluster import check_shared, run_tasks

    store = z.chunk_store
    check_shared(store, "source")
    pairs = _unit_pairs(z, work)
    per_batch = max(1, min(1024, max_mem // max(1, 2 * _unit_bytes(work.meta))))
    tasks = [(store, dst_store, pairs[i : i + per_batch]) for i in range(0, len(pairs), per_batch)]
    for n_keys, n_bytes in run_tasks(client, _copy_units, tasks, lambda _: bar.update(1)):
        work.report.keys_copied += n_keys
        work.report.bytes_copied += n_bytes


def _copy_units(source: Any, dest: Any, pairs: list[tuple[str, str]]) -> tuple[int, int]:
    """A cluster task: copy stored units as bytes; returns (keys, bytes) copied."""
    values = source.getitems([k for k, _ in pairs])
    out = {dk: values[k] for k, dk in pairs if k in values}
    dest.setitems(out)
    return len(out), sum(memoryview(v).nbytes for v in out.values())


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    kind = a.dtype.kind
    if a.dtype.fields is not None or kind in "mMV" or b.dtype != a.dtype:
        if kind == "O" or b.dtype.kind == "O":
            return bool(np.array_equal(a, b))
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def _verify_array(z: Array, out: Array, max_mem: int, client: Any = None) -> None:
    """Compare ``out`` with ``z`` block by block (blocks of whole destination chunks, two
    of them and their decoding within ``max_mem``); with a Dask ``client`` one block per
    task of its cluster (the first differing block reported, as without one)."""
    name = out.path or "/"
    if out.shape != z.shape or out.dtype != z.dtype:
        raise VerificationError(f"verification failed: array {name!r} has another shape or dtype")
    itemsize = max(1, z.dtype.itemsize)
    threads = get_num_threads()
    chunk = math.prod(out.chunks) * itemsize
    budget = max(1, (max_mem - 2 * threads * chunk) // (4 * itemsize))
    block = _grow(tuple(min(c, max(1, s)) for c, s in zip(out.chunks, z.shape)), z.shape,
                  budget, z.shape)  # fmt: skip
    missing = _missing_units(z, out)
    regions = list(_blocks(z.shape, block)) if z.ndim else [()]
    if client is not None:
        from .cluster import array_spec, run_tasks

        source, dest = array_spec(z, "source"), array_spec(out, "dest", metadata_travels=True)
        tasks = [
            (source, dest, region, _missing_in(region, z._meta, missing)) for region in regions
        ]
        same = run_tasks(client, _compare_region, tasks)
        differs = [region for region, ok in zip(regions, same) if not ok]
    else:
        differs = []
        for region in regions:
            if not _compare(z, out, region, missing):
                differs.append(region)
                break
    if differs:
        where = ", ".join(f"{s.start}:{s.stop}" for s in differs[0])
        raise VerificationError(
            f"verification failed: array {name!r} differs from the source in [{where}]"
        )


def _compare(z: Array, out: Array, region: tuple, missing: set | None) -> bool:
    a, b = z[region], out[region]
    if missing:
        _take_missing(a, b, region, z._meta, missing)
    return _equal(a, b)


def _compare_region(source: tuple, dest: tuple, region: tuple, missing: set | None) -> bool:
    """A cluster task: True when the two arrays (by ``array_spec``) agree in ``region``."""
    from .cluster import open_array

    return _compare(open_array(source, True), open_array(dest, True), region, missing)


def _missing_in(region: tuple, meta: ArrayMeta, missing: set | None) -> set | None:
    """The coordinates of ``missing`` whose stored units meet ``region``."""
    if not missing:
        return None
    ranges = [range(s.start // u, -(-s.stop // u)) for s, u in zip(region, meta.stored_chunks)]
    return {c for c in itertools.product(*ranges) if c in missing}


def _missing_units(z: Array, out: Array) -> set[tuple[int, ...]] | None:
    """The source's missing stored units when the destination cannot hold its fill value
    (a v2 array without one, whose missing chunks read as anything; an object array's
    non-string fill value, which v3 stores as text): there the destination reads its own
    fill value, and the comparison takes that as right. None when the fill values agree."""
    if _same_fill(z._meta.fill_value, out._meta.fill_value) and z._meta.fill_value is not None:
        return None
    meta = z._meta
    present = {_chunk_coords(meta, k) for k in z.chunk_store.keys_under(z.path)}
    grid = itertools.product(*(range(n) for n in meta.stored_grid))
    return {c for c in grid if c not in present}


def _take_missing(
    a: np.ndarray, b: np.ndarray, region: tuple, meta: ArrayMeta, missing: set
) -> None:
    """Copy into ``a`` the values of ``b`` where ``region`` meets missing stored units."""
    unit = meta.stored_chunks
    ranges = [range(s.start // u, -(-s.stop // u)) for s, u in zip(region, unit)]
    for coords in itertools.product(*ranges):
        if coords in missing:
            sel = tuple(
                slice(max(c * u, s.start) - s.start, min((c + 1) * u, s.stop) - s.start)
                for c, u, s in zip(coords, unit, region)
            )
            a[sel] = b[sel]


def _publish(staging: MemoryStore, dest: Any, consolidated: bool, zarr_format: int) -> None:
    """Write the metadata documents (the root's last, with the consolidated metadata)."""
    docs = {k: staging[k] for k in staging.keys()}
    fmt = node_format(zarr_format)
    if consolidated and zarr_format == 2:
        names = (v2.ARRAY_KEY, v2.GROUP_KEY, v2.ATTRS_KEY)
        meta = {k: json.loads(v) for k, v in sorted(docs.items()) if k.rpartition("/")[2] in names}
        docs[v2.CONSOLIDATED_KEY] = v2.json_dumps({"metadata": meta, "zarr_consolidated_format": 1})
    elif consolidated:
        root = fmt.group_key("")
        inner: dict[str, Any] = {}
        for k in sorted(docs):
            if k == root:
                continue
            doc = json.loads(docs[k])
            if doc.get("node_type") == "group":  # as zarr-python 3 writes member groups
                doc["consolidated_metadata"] = {
                    "kind": "inline",
                    "must_understand": False,
                    "metadata": {},
                }
            inner[k[: -len(v3.ZARR_JSON)].rstrip("/")] = doc
        attrs = json.loads(docs[root]).get("attributes", {})
        docs[root] = v3.encode_group_doc(attrs, inner)
    last = {k: docs.pop(k) for k in (fmt.group_key(""), v2.CONSOLIDATED_KEY) if k in docs}
    dest.setitems(docs)
    dest.setitems(last)


def _remove_units(store: Any, works: list[_ArrayWork]) -> None:
    """Delete the stored units the conversion wrote (after a failure)."""
    for w in works:
        path = w.out.path
        keys = [k for k in store.keys_under(path) if _chunk_coords(w.meta, k) is not None]
        store.delitems([prefix_of(path) + k for k in keys])


def convert(
    source: Any,
    dest: Any,
    *,
    zarr_format: int = 3,
    shards: Any = None,
    chunks: Any = None,
    max_mem: int | str = DEFAULT_MAX_MEM,
    compressor: Any = "keep",
    verify: bool = True,
    progress: Any = False,
    path: str | None = None,
    overwrite: bool = False,
    temp_dir: str | None = None,
    storage_options: dict | None = None,
    scheduler: Any = None,
) -> ConvertReport:
    """Convert the hierarchy (or array) ``source`` to Zarr format ``zarr_format`` in ``dest``.

    Parameters
    ----------
    source : store, path, URL, Array or Group
        A Zarr v2 or v3 hierarchy. Consolidated metadata (v2 ``.zmetadata``, v3 inline) is
        not in the way: the documents of each node are read, and the destination is
        consolidated again when the source was.
    dest : store, path or URL
        Where the converted hierarchy goes, at its root. It must hold nothing (``overwrite``
        deletes what is there), unless it is the source itself: see "In place".
    zarr_format : {2, 3}
        The destination's format.
    shards : tuple, ``"auto"``, or dict of array path -> tuple or ``"auto"``, optional
        Zarr v3 shard shape (None or -1: the whole axis); ``"auto"``: whole chunks up to
        64 MiB uncompressed per shard (:func:`auto_shards`). A tuple applies to every array with
        that many dimensions, a dict to the arrays it names (by path relative to the
        source). Along an axis a shard is cut to the chunks covering the array; it must then
        be a whole number of chunks (else a ``ValueError`` naming the array, before anything
        is written). Shards need ``zarr_format=3``.
    chunks : tuple, or dict of array path -> tuple, optional
        New chunk shape (the inner chunks of a shard), given as ``shards``. Arrays it leaves
        out keep their chunks.
    max_mem : int or str
        Bytes of array data held at once (``'256MB'``, ``'2G'``): the blocks being copied,
        their stored bytes and, per pool thread, a chunk being encoded. A limit too small for
        the chunks (or shards) themselves is refused before anything is written.
    compressor : numcodecs codec, None or ``"keep"``
        The destination's compressor; ``"keep"`` (the default) keeps each array's own.
    verify : bool
        Compare every array of the destination with the source (block by block, within
        ``max_mem``) and the attributes, before the destination's metadata are written.
    progress : bool or callable
        ``True`` shows a tqdm bar (when tqdm is installed); a callable is called as
        ``progress(steps_done, steps_total)``.
    path : str, optional
        The group or array inside ``source`` to convert (default: its root).
    overwrite : bool
        Delete what ``dest`` holds first.
    temp_dir : str, optional
        Folder of the intermediate arrays of rechunking (default: the system's).
    storage_options : dict, optional
        File system options for ``source``/``dest`` given as URLs.
    scheduler : dask.distributed.Client or str, optional
        Move the chunks on a Dask cluster (a client, or a scheduler address): the plan and
        the documents are done here, each task copies one batch of stored units (within
        ``max_mem``) or one block of the rechunk plan, or compares one block of the
        verification (the first differing block is reported, as without a cluster). ``source`` and
        ``dest`` must be stores every worker reaches; intermediate arrays go below a hidden
        path of ``dest`` (deleted at the end) unless ``temp_dir`` names a folder every worker
        sees. As the documents are written last, a conversion interrupted part way leaves
        no array a reader opens; running it again with ``overwrite=True`` (``--overwrite``)
        deletes what it wrote and converts again. (A conversion in place cleans up after
        itself when it fails and is simply run again.)

    What happens to each array
    --------------------------
    When the destination stores the same units as the source with the same encoding
    (unsharded, same chunks; v3's chain ``bytes`` + the same numcodecs compressor is v2's
    chain), the stored chunk bytes are copied to the new keys without decoding. The
    destination uses the default key encoding of its format (v3 ``c/0/0``, v2 ``0.0``) rather
    than v3's ``{"name": "v2"}`` encoding, which would let the chunk keys stay as they are:
    the default encoding is what every v3 reader and writer expects (zarr-python 3 writes it,
    and appending to or resizing the array later writes ``c/...`` keys anyway), keys under
    ``c/`` never meet the v2 keys, which is what makes a conversion in place possible, and
    the price is only renaming keys, which a byte copy does anyway between two stores.
    Anything else (new chunks, shards, another compressor, unsharding) is re-encoded through
    the arrays by :func:`zarrkit.rechunk`'s plan.

    v2 -> v3: xarray's ``_ARRAY_DIMENSIONS`` attribute becomes ``dimension_names`` (and
    back from v3 to v2). v3 -> v2: a sharded array is unsharded by re-encoding (its inner
    chunks become the v2 chunks unless ``chunks`` says otherwise); an object array needs a
    ``vlen-utf8``/``vlen-bytes`` codec to be written as v3, and a dtype v3 has no data type
    for (structured) is an error, raised before anything is written. Destination arrays are
    written with ``write_empty_chunks=False`` (chunks of the fill value are left out, as
    zarr-python 3 does). Keys that belong to no array or group are not copied (listed in
    :attr:`ConvertReport.skipped_keys`). Where v3 cannot hold the source's fill value (a
    v2 array without one, whose missing chunks read as anything; zarr 2's fill value 0 of
    a string array, which v3 stores as ``"0"``), missing chunks read as the destination's
    fill value, and the verification takes that as right.

    In place
    --------
    ``dest`` may be the source itself when the new keys never meet the old ones (v2 <-> v3:
    ``zarr.json`` and ``c/...`` next to ``.zarray`` and ``0.0``); otherwise (same format,
    or a v3 source with v2 chunk keys converted to v2) it is refused. The new chunks are
    written next to the old ones, checked, the new documents written, then the old
    documents and chunks deleted. Until the old documents are gone, readers see the source
    (a v2 ``.zarray``/``.zgroup`` wins over ``zarr.json``) or, from v3 to v2, the complete
    new v2 nodes.

    Returns a :class:`ConvertReport`.
    """
    zarr_format = int(zarr_format)
    if zarr_format not in (2, 3):
        raise ValueError(f"zarr_format must be 2 or 3, not {zarr_format!r}")
    if shards is not None and zarr_format != 3:
        raise ValueError("shards need Zarr format 3: pass zarr_format=3")
    limit = parse_size(max_mem)
    if not (isinstance(compressor, str) and compressor == "keep"):
        if compressor is not None and not isinstance(compressor, numcodecs.abc.Codec):
            raise TypeError(
                f"compressor must be a numcodecs codec, None or 'keep', not {compressor!r}"
            )
    path = normalize_storage_path(path)

    # -- the source and the destination
    if isinstance(source, (Array, Group)):
        root, src_store = source, source.store
        if path:
            if not isinstance(source, Group):
                raise ValueError("path names a member of a group; the source is an array")
            root = source[path]
    else:
        src_store = normalize_store_arg(source, mode="r", storage_options=storage_options)
        root = open_node(src_store, mode="r", path=path)
    dst_store = normalize_store_arg(dest, mode="a", storage_options=storage_options)
    src_path = root.path
    in_place = _same_place(src_store, dst_store)
    if in_place and src_path:
        raise CopyError(
            f"dest is the source's store and the source is at {src_path!r}: a conversion "
            "in place converts the whole store (convert the root, or write elsewhere)"
        )
    if in_place and overwrite:
        raise CopyError("overwrite=True would delete the source: dest is the source")
    if in_place and root.read_only and isinstance(source, (Array, Group)):
        raise CopyError("a conversion in place needs the source opened writable")
    if not in_place:
        held = dst_store.keys_under("")
        if held and not overwrite:
            raise CopyError(
                f"dest {_where(dst_store)} holds {len(held):,} keys already "
                "(overwrite=True, --overwrite, deletes them); nothing was converted"
            )
    source_format = root.zarr_format
    groups, arrays = _walk(root)
    array_paths = {a.path for a in arrays}
    _check_names(shards, array_paths, "shards")
    _check_names(chunks, array_paths, "chunks")
    consolidated = _source_consolidated(src_store, src_path, source_format) and bool(groups)

    # -- plan: every destination document is made (and checked) before any chunk is written
    staging = MemoryStore()
    fmt = node_format(zarr_format)
    report = ConvertReport(
        source=_where(src_store, src_path),
        dest=_where(dst_store),
        zarr_format=zarr_format,
        consolidated=consolidated,
        in_place=in_place,
    )
    works: list[_ArrayWork] = []
    for item in arrays:
        works.append(_plan_array(item, staging, dst_store, zarr_format, shards, chunks,
                                 compressor, limit))  # fmt: skip
    for g in groups:
        prefix = prefix_of(g.path)
        staging[fmt.group_key(prefix)] = fmt.encode_group(g.attrs)
        if zarr_format == 2 and g.attrs:
            staging[fmt.attrs_key(prefix)] = v2.encode_attrs(g.attrs)
        report.groups.append(g.path)
    if in_place:
        _check_in_place(src_store, works, arrays, zarr_format)

    # -- the chunks
    total = sum(
        (_n_batches(w, limit) if w.method == "bytes" else _plan_steps(w)) for w in works
    ) + (len(works) if verify else 0)
    bar = _Progress(progress, total, "convert", "steps")
    cluster = contextlib.ExitStack()
    client = cluster.enter_context(connect(scheduler))
    try:
        if client is not None:
            check_shared(dst_store, "dest")
        if overwrite and not in_place:
            dst_store.rmdir("")
        if client is None:  # the byte copies of all arrays together
            _byte_copy_many([w for w in works if w.method == "bytes"], src_path, dst_store,
                            limit, bar)  # fmt: skip
        for w in works:
            z = w.item.node
            if w.method == "bytes" and client is not None:
                _byte_copy_on(client, z, w, dst_store, limit, bar)
            elif w.method == "bytes":
                continue
            else:
                assert w.plan is not None
                copy_planned(z, w.out, w.plan, temp_dir, _Steps(bar), client)
        if verify:
            for w in works:
                _verify_array(w.item.node, w.out, limit, client)
                bar.update(1)
            _verify_attrs(staging, works, groups, fmt)
            report.verified = True
    except BaseException:
        if in_place:
            _remove_units(dst_store, works)
        else:
            dst_store.rmdir("")
        raise
    finally:
        bar.close()
        cluster.close()

    # -- the documents, then (in place) the old keys
    report.skipped_keys = _skipped(src_store, src_path, works, groups, source_format)
    _publish(staging, dst_store, consolidated, zarr_format)
    if in_place:
        _remove_old(dst_store, works, groups, source_format)
    report.arrays = [w.report for w in works]
    return report


class _Steps:
    """A rechunking counter that moves the conversion's progress bar."""

    def __init__(self, bar: _Progress) -> None:
        self.bar = bar

    def step(self) -> None:
        self.bar.update(1)


def _where(store: Any, path: str = "") -> str:
    place = getattr(store, "path", None)
    text = place if isinstance(place, str) else type(store).__name__
    return text + (f" path {path!r}" if path else "")


def _n_batches(w: _ArrayWork, limit: int) -> int:
    return 1 + w.item.node.nchunks // max(1, limit // max(1, 2 * _unit_bytes(w.meta)))


def _unit_bytes(meta: ArrayMeta) -> int:
    return math.prod(meta.stored_chunks) * max(1, meta.dtype.itemsize)


def _plan_steps(w: _ArrayWork) -> int:
    assert w.plan is not None
    shape = w.item.node.shape
    n = _n_blocks(shape, w.plan.read) if shape else 1
    if w.plan.intermediate is not None:
        n += _n_blocks(shape, w.plan.write)
    return n


def _plan_array(
    item: _Node,
    staging: MemoryStore,
    dst_store: Any,
    zarr_format: int,
    shards_spec: Any,
    chunks_spec: Any,
    compressor: Any,
    limit: int,
) -> _ArrayWork:
    z: Array = item.node
    name = "/" + item.path if item.path else "the source array"
    src = z._meta
    new_chunks = _spec_for(chunks_spec, z, item.path, "chunks") or src.chunks
    if isinstance(shards_spec, Mapping) and shards_spec.get(item.path) == "auto":
        shards_spec = "auto"
    if shards_spec == "auto":
        shards = auto_shards(z.shape, new_chunks, z.dtype.itemsize) if z.ndim else None
    else:
        shards = _spec_for(shards_spec, z, item.path, "shards")
    if shards is not None:
        # no shard larger than the chunks that cover the array
        asked = shards
        shards = tuple(
            min(s, -(-max(1, n) // c) * c) for s, n, c in zip(shards, z.shape, new_chunks)
        )
        if any(s % c for s, c in zip(shards, new_chunks)):
            raise ValueError(
                f"shards {asked} of array {name} are not a multiple of its chunks "
                f"{new_chunks} along every axis (give chunks= that divide them, or name "
                "the arrays to shard: shards={path: shape})"
            )
    elif zarr_format == 3 and src.shards is not None and chunks_spec is None:
        shards = src.shards  # v3 -> v3 keeps the shards unless told
    dimension_names, attrs = _dimension_names(z, item.attrs, zarr_format)
    kws = encoding_of(z)
    kws["zarr_format"] = zarr_format
    if not isinstance(compressor, str):  # "keep": the source's
        kws["compressor"] = compressor
    if zarr_format == 3:
        kws.update(shards=shards, dimension_names=dimension_names)
    else:
        kws.pop("shards", None)
        kws.pop("dimension_names", None)
        sep = src.dimension_separator if src.chunk_key_encoding == "v2" else None
        kws["dimension_separator"] = sep if sep in (".", "/") else None
    try:
        out = create(
            z.shape,
            chunks=new_chunks,
            store=staging,
            chunk_store=dst_store,
            path=item.path,
            write_empty_chunks=False,
            **kws,
        )
        out.attrs.put(attrs)
    except (ValueError, TypeError) as e:
        kind = ValueError if isinstance(e, ValueError) else TypeError
        raise kind(f"array {name} cannot be converted to Zarr v{zarr_format}: {e}") from e
    meta = out._meta
    method = "bytes" if _same_encoding(src, meta) else "re-encoded"
    plan = None
    if method == "re-encoded":
        try:
            plan = plan_rechunk(
                z.shape,
                src.chunks,
                meta.stored_chunks,
                z.dtype.itemsize,
                limit,
                target_inner=meta.chunks if meta.shards is not None else None,
            )
        except ValueError as e:
            raise ValueError(f"array {name}: {e}") from None
    report = ArrayConversion(
        path=item.path,
        shape=z.shape,
        dtype=str(z.dtype),
        source_chunks=src.chunks,
        chunks=meta.chunks,
        shards=meta.shards,
        method=method,
    )
    return _ArrayWork(item, meta, out, method, plan, report)


def _metadata_names(zarr_format: int) -> tuple[str, ...]:
    if zarr_format == 2:
        return (v2.ARRAY_KEY, v2.GROUP_KEY, v2.ATTRS_KEY, v2.CONSOLIDATED_KEY)
    return (v3.ZARR_JSON,)


def _check_in_place(store: Any, works: list[_ArrayWork], arrays: list[_Node], zf: int) -> None:
    """Refuse a conversion in place whose new keys would meet keys of the source."""
    source_formats = {_meta_format(a.node) for a in arrays}
    if zf in source_formats or not works and _store_has_format(store, zf):
        raise CopyError(
            f"cannot convert in place to Zarr v{zf}: the source is (partly) Zarr v{zf} "
            "already and its keys would be overwritten while being read; write to another "
            "store"
        )
    for w in works:
        held = store.keys_under(w.out.path)
        clash = next((k for k in held if _chunk_coords(w.meta, k) is not None), None)
        if clash is not None:
            raise CopyError(
                f"cannot convert in place: array /{w.out.path} would write its chunks to "
                f"keys the source uses ({prefix_of(w.out.path) + clash!r}); write to another "
                "store"
            )


def _store_has_format(store: Any, zf: int) -> bool:
    names = _metadata_names(zf)
    return any(k.rpartition("/")[2] in names for k in store.keys())


def _meta_format(z: Array) -> int:
    return z._meta.zarr_format


def _verify_attrs(
    staging: MemoryStore, works: list[_ArrayWork], groups: list[_Node], fmt: Any
) -> None:
    for g in groups:
        prefix = prefix_of(g.path)
        if fmt.zarr_format == 2:
            key = fmt.attrs_key(prefix)
            held = json.loads(staging[key]) if key in staging else {}
        else:
            held = json.loads(staging[fmt.group_key(prefix)]).get("attributes", {})
        if held != json.loads(json.dumps(g.attrs)):
            raise VerificationError(f"verification failed: attributes of group /{g.path} differ")
    for w in works:
        expected = w.item.attrs
        got = dict(w.out.attrs.asdict())
        if fmt.zarr_format == 3 and w.meta.dimension_names is not None:
            got.setdefault(DIMENSIONS_ATTR, list(w.meta.dimension_names))
            expected = {**expected}
            expected.setdefault(DIMENSIONS_ATTR, list(w.meta.dimension_names))
        else:
            got.pop(DIMENSIONS_ATTR, None)
            expected = {k: v for k, v in expected.items() if k != DIMENSIONS_ATTR}
        if json.loads(json.dumps(got)) != json.loads(json.dumps(expected)):
            raise VerificationError(
                f"verification failed: attributes of array /{w.out.path} differ"
            )


def _old_keys(
    store: Any, src_path: str, works: list[_ArrayWork], groups: list[_Node], source_format: int
) -> tuple[list[str], list[str], list[str]]:
    """(metadata documents, stored units, other keys) of the source below ``src_path``."""
    names = _metadata_names(source_format)
    owners = {w.item.node.path: w for w in works}
    docs, units, other = [], [], []
    node_paths = {prefix_of(g.node.path) for g in groups} | {prefix_of(p) for p in owners}
    for key in store.keys_under(src_path):
        full = prefix_of(src_path) + key
        parent, _, name = full.rpartition("/")
        if name in names and prefix_of(parent) in node_paths:
            docs.append(full)
            continue
        owner = _owner(full, owners)
        if (
            owner is not None
            and _chunk_coords(owner.item.node._meta, full[len(prefix_of(owner.item.node.path)) :])
            is not None
        ):
            units.append(full)
        else:
            other.append(full)
    return docs, units, other


def _owner(key: str, owners: dict[str, _ArrayWork]) -> _ArrayWork | None:
    parts = key.split("/")
    for i in range(len(parts) - 1, -1, -1):
        w = owners.get("/".join(parts[:i]))
        if w is not None:
            return w
    return None


def _skipped(
    store: Any, src_path: str, works: list[_ArrayWork], groups: list[_Node], source_format: int
) -> list[str]:
    if not groups and not works:
        return []
    _, _, other = _old_keys(store, src_path, works, groups, source_format)
    new_names = _metadata_names(2) + _metadata_names(3)
    dest_units = {w.out.path: w for w in works}
    out = []
    for k in other:
        if k.rpartition("/")[2] in new_names:
            continue
        w = _owner(k, dest_units)
        if w is not None and _chunk_coords(w.meta, k[len(prefix_of(w.out.path)) :]) is not None:
            continue  # a unit of the destination (in place)
        out.append(k)
    return out


def _remove_old(
    store: Any, works: list[_ArrayWork], groups: list[_Node], source_format: int
) -> None:
    """Delete the source's documents (first: readers then see the new format), then its
    stored units."""
    docs, units, _ = _old_keys(store, "", works, groups, source_format)
    store.delitems(docs)
    store.delitems(units)
    for w in works:  # the folders of v3's c/... keys, now empty
        z = w.item.node
        if z._meta.chunk_key_encoding == "default" and z.ndim:
            folder = prefix_of(z.path) + "c"
            if not store.keys_under(folder):
                store.rmdir(folder)
