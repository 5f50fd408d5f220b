"""Check a hierarchy: decode every chunk of every array and look for what does not belong.

:func:`verify` reads every key below a path once, in batches of bounded size, decodes the
chunks in the shared thread pool and returns a :class:`Report`: per array the missing and
corrupt chunks (a decode error, or a decoded size that does not fit the chunk shape), and for
the whole hierarchy the stray keys (that belong to no array or group), metadata that cannot
be read, temporary files of interrupted writes, consolidated metadata (``.zmetadata``) that
disagrees with the documents it copies, and optionally a comparison with a SHA-256 manifest.

Both Zarr formats are checked: v2 (``.zarray``/``.zgroup``/``.zattrs``) and v3 (one
``zarr.json`` per node, chunk keys ``c/0/0`` or v2's ``0.0``). For a sharded v3 array the
stored keys are shards: each shard's index is read (its length, its crc32c, ranges inside the
shard) and every inner chunk it holds is decoded; problems with the index are reported per
shard key (:attr:`ArrayReport.corrupt`), problems with an inner chunk per shard key and inner
chunk coordinates (:attr:`ArrayReport.corrupt_inner`).

Missing chunks are legal in Zarr (they read as the fill value): they count as a problem only
with ``missing_is_error=True``. A manifest written earlier (``write_checksums``) catches
chunks that disappear later.

>>> import zarrkit
>>> from zarrkit.verify import verify
>>> store = {}
>>> z = zarrkit.zeros(10, chunks=5, store=store)
>>> z[:] = 1
>>> store['junk'] = b'?'
>>> report = verify(store)
>>> report.ok, report.stray_keys
(False, ['junk'])
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import numcodecs
import numpy as np

from .._node import Location, Options
from .._pool import run_parallel
from .._probe import location, not_found
from ..core import Array
from ..errors import CorruptChunkError, PathNotFoundError
from ..formats.meta import ArrayMeta
from ..formats.nodes import V2, V3, node_at
from ..formats.v2 import ARRAY_KEY, ATTRS_KEY, CONSOLIDATED_KEY, GROUP_KEY, json_loads
from ..formats.v3 import ZARR_JSON
from ..pipeline.sharding import ShardLayout
from ..storage import normalize_store_arg
from ..storage.base import Store, normalize_storage_path, prefix_of
from ..storage.directory import DirectoryStore
from ..storage.files import is_temp
from ..storage.n5 import N5Store
from ..storage.zip import ZipStore

__all__ = ["verify", "Report", "ArrayReport", "InnerChunkProblem", "read_manifest"]

#: keys listed per array report (the counts are always complete)
MAX_LISTED = 100
#: default memory for one batch of chunks (their stored bytes and the decoded chunks)
DEFAULT_MAX_MEM = 256 * 2**20
_META_NAMES = (ARRAY_KEY, GROUP_KEY, ATTRS_KEY)
#: fields of :class:`ArrayReport` that only Zarr v3 arrays show in :meth:`Report.to_dict`
_V3_FIELDS = ("zarr_format", "shards", "inner_chunks", "corrupt_inner")


@dataclass
class InnerChunkProblem:
    """An inner chunk of a shard that cannot be read."""

    key: str  # the shard's key, relative to the verified path
    inner: tuple[int, ...]  # the inner chunk's coordinates within the shard
    chunk: tuple[int, ...]  # its coordinates in the array's chunk grid (``z.blocks[...]``)
    reason: str


@dataclass
class ArrayReport:
    """What :func:`verify` found for one array. Keys are relative to the verified path.

    ``nchunks``, ``present``, ``missing``, ``missing_keys`` and ``corrupt`` count the stored
    keys: chunks, or for a sharded array (``shards`` set) shards, whose ``corrupt`` entries
    are shards that cannot be read at all (too short for their index, an index of the
    wrong length, a crc32c mismatch, a half-absent entry). ``inner_chunks`` counts the inner
    chunks the readable shards hold (each decoded) and ``corrupt_inner`` the ones that
    cannot be read, by shard key and inner chunk coordinates.
    """

    path: str
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: str
    nchunks: int
    present: int = 0
    missing: int = 0
    missing_keys: list[str] = field(default_factory=list)  # the first MAX_LISTED
    corrupt: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    zarr_format: int = 2
    shards: tuple[int, ...] | None = None
    inner_chunks: int = 0
    corrupt_inner: list[InnerChunkProblem] = field(default_factory=list)

    @property
    def n_corrupt(self) -> int:
        """Corrupt chunks: stored keys, and inner chunks of shards."""
        return len(self.corrupt) + len(self.corrupt_inner)

    @property
    def ok_chunks(self) -> int:
        """Stored keys (chunks or shards) with nothing wrong."""
        bad = {k for k, _ in self.corrupt} | {p.key for p in self.corrupt_inner}
        return self.present - len(bad)

    def lines(self) -> list[str]:
        """The array's lines of :meth:`Report.lines`."""
        name = "/" + self.path
        out = []
        if self.shards is None:
            out.append(
                f"array {name} {self.shape} {self.dtype} chunks {self.chunks}: "
                f"{self.ok_chunks:,} of {self.nchunks:,} chunks ok, {self.missing:,} missing, "
                f"{len(self.corrupt):,} corrupt"
            )
        else:
            out.append(
                f"array {name} {self.shape} {self.dtype} chunks {self.chunks} shards "
                f"{self.shards}: {self.ok_chunks:,} of {self.nchunks:,} shards ok, "
                f"{self.missing:,} missing, {self.nchunks - self.missing - self.ok_chunks:,} "
                f"corrupt; {self.inner_chunks:,} inner chunks read, "
                f"{len(self.corrupt_inner):,} corrupt"
            )
        out.extend(f"  corrupt  {k}: {why}" for k, why in self.corrupt)
        out.extend(
            f"  corrupt  {p.key} inner chunk {p.inner} (chunk {p.chunk}): {p.reason}"
            for p in self.corrupt_inner
        )
        out.extend(f"  missing  {k}" for k in self.missing_keys)
        if self.missing > len(self.missing_keys):
            out.append(f"  missing  ... and {self.missing - len(self.missing_keys):,} more")
        return out


@dataclass
class Report:
    """The result of :func:`verify`; ``ok`` is False when anything is wrong."""

    location: str
    missing_is_error: bool = False
    arrays: list[ArrayReport] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    #: keys that belong to no array or group
    stray_keys: list[str] = field(default_factory=list)
    #: temporary files of interrupted writes (paths relative to the store's folder)
    temp_files: list[str] = field(default_factory=list)
    #: (key, reason): metadata documents that cannot be read
    metadata_errors: list[tuple[str, str]] = field(default_factory=list)
    #: (key, reason): where ``.zmetadata`` and the documents it copies disagree
    consolidated: list[tuple[str, str]] = field(default_factory=list)
    #: (key, reason): differences from the manifest given as ``check_checksums``
    checksums: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_corrupt(self) -> int:
        return sum(a.n_corrupt for a in self.arrays)

    @property
    def n_missing(self) -> int:
        return sum(a.missing for a in self.arrays)

    @property
    def ok(self) -> bool:
        return not (
            self.n_corrupt
            or self.stray_keys
            or self.temp_files
            or self.metadata_errors
            or self.consolidated
            or self.checksums
            or (self.missing_is_error and self.n_missing)
        )

    def summary(self) -> str:
        """One line: what was checked and what is wrong."""
        n_chunks = sum(a.present if a.shards is None else a.inner_chunks for a in self.arrays)
        counts = [
            (self.n_corrupt, "corrupt chunk"),
            (self.n_missing, "missing chunk"),
            (len(self.stray_keys), "stray key"),
            (len(self.temp_files), "temporary file"),
            (len(self.metadata_errors), "bad metadata document"),
            (len(self.consolidated), "consolidated metadata difference"),
            (len(self.checksums), "checksum mismatch"),
        ]
        found = ", ".join(_count(n, what) for n, what in counts if n)
        verdict = "OK" if self.ok else "FAILED"
        if self.ok and self.n_missing:
            verdict = "OK (missing chunks read as the fill value)"
        return (
            f"{verdict}: {_count(len(self.arrays), 'array')}, {_count(len(self.groups), 'group')}, "
            f"{_count(n_chunks, 'chunk')} read" + (f"; {found}" if found else "")
        )

    def lines(self) -> list[str]:
        """The report as text lines, the summary last."""
        out = [f"verify {self.location}"]
        for a in self.arrays:
            out.extend(a.lines())
        out.extend(f"bad metadata  {k}: {why}" for k, why in self.metadata_errors)
        out.extend(f"stray key  {k}" for k in self.stray_keys)
        out.extend(f"temporary file  {k}" for k in self.temp_files)
        out.extend(f"consolidated metadata  {k}: {why}" for k, why in self.consolidated)
        out.extend(f"checksum  {k}: {why}" for k, why in self.checksums)
        out.append(self.summary())
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        for a in d["arrays"]:
            if a["zarr_format"] == 2:  # v2 arrays: the report as before v3 was read
                for name in _V3_FIELDS:
                    del a[name]
        d.update(ok=self.ok, summary=self.summary())
        return d


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def read_manifest(file: str | os.PathLike | IO[str]) -> dict[str, str]:
    """A SHA-256 manifest (``sha256sum`` format: ``<hex>  <key>`` lines) as ``{key: hex}``."""
    if isinstance(file, (str, os.PathLike)):
        with open(file) as f:
            return read_manifest(f)
    out = {}
    for n, line in enumerate(file, 1):
        line = line.rstrip("\n")
        if not line:
            continue
        digest, sep, key = line.partition(" ")
        if not sep or len(digest) != 64 or not key:
            raise ValueError(f"line {n} of the manifest is not '<sha256>  <key>': {line[:80]!r}")
        out[key[1:] if key[:1] in " *" else key] = digest.lower()
    return out


def _write_manifest(file: str | os.PathLike | IO[str], digests: dict[str, str]) -> None:
    if isinstance(file, (str, os.PathLike)):
        with open(file, "w") as f:
            _write_manifest(f, digests)
        return
    for key in sorted(digests):
        file.write(f"{digests[key]}  {key}\n")


def _temp_files(store: Store, path: str) -> list[str]:
    """Temporary files of interrupted writes that belong to ``store`` (file stores only)."""
    if isinstance(store, (DirectoryStore, N5Store)):
        top = os.path.join(store.path, *path.split("/")) if path else store.path
        found = []
        for folder, _dirs, files in os.walk(top):
            for name in files:
                if is_temp(name):
                    rel = os.path.relpath(os.path.join(folder, name), store.path)
                    found.append(rel.replace(os.sep, "/"))
        return sorted(found)
    if isinstance(store, ZipStore):
        folder, name = os.path.split(store.path)
        temp = re.compile(re.escape(name) + r"\.[0-9a-f]{32}\.partial\Z")
        return sorted(e.name for e in os.scandir(folder or ".") if temp.match(e.name))
    return []


class _Checker:
    """One verification run: the keys, what owns them, and the findings."""

    def __init__(
        self,
        store: Store,
        path: str,
        report: Report,
        hashing: bool,
        max_mem: int,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.store = store
        self.prefix = prefix_of(path)
        self.report = report
        self.digests: dict[str, str] | None = {} if hashing else None
        self.max_mem = max_mem
        self.progress = progress
        self.done = 0
        self.total = 0
        #: a Dask client: the chunks of each array are then checked by the cluster's workers
        self.client: Any = None

    def rel(self, key: str) -> str:
        return key[len(self.prefix) :]

    # -- reading -------------------------------------------------------------------------
    def read(self, keys: list[str], item_bytes: int, check: Callable[[str, Any], Any]) -> list:
        """``check(key, value)`` for every key that is there, in batches of bounded size; the
        values are hashed first when a manifest is wanted. Keys that vanished are skipped."""
        per_batch = max(1, min(1024, self.max_mem // max(1, 2 * item_bytes)))
        results = []
        for start in range(0, len(keys), per_batch):
            batch = keys[start : start + per_batch]
            found = self.store.getitems(batch)

            def one(key: str, found: dict = found) -> Any:
                value = found.pop(key)
                if self.digests is not None:
                    self.digests[self.rel(key)] = hashlib.sha256(value).hexdigest()
                return check(key, value)

            results.extend(run_parallel(one, [k for k in batch if k in found]))
            del found
            self.done += len(batch)
            if self.progress is not None:
                self.progress(self.done, self.total)
        return results

    # -- the hierarchy ---------------------------------------------------------------------
    def run(self, keys: list[str]) -> None:
        report = self.report
        names = {k: k.rpartition("/")[2] for k in keys}

        def parents(name: str) -> list[str]:
            return sorted(k[: -len(name)].rstrip("/") for k in keys if names[k] == name)

        v2_arrays, v2_groups, v3_nodes = parents(ARRAY_KEY), parents(GROUP_KEY), parents(ZARR_JSON)
        v2_nodes = set(v2_arrays) | set(v2_groups)
        # a zarr.json is read to tell an array from a group; one that cannot be read is
        # taken for an array that cannot be opened (the keys below it are not judged)
        v3_arrays: list[str] = []
        v3_groups: list[str] = []
        # the documents that tell a node's kind and open an array, read in one batch
        # (concurrent requests on an object store) rather than one node after another
        docs = self._node_documents(v2_arrays, [p for p in v3_nodes if p not in v2_nodes])
        for p in v3_nodes:
            key = prefix_of(p) + ZARR_JSON
            if p in v2_nodes:
                report.metadata_errors.append(
                    (self.rel(key), "Zarr v2 and v3 metadata at the same path")
                )
                continue
            try:
                found = docs.get(key)
                if isinstance(found, BaseException):
                    raise found
                if found is None:  # (not read in the batch: as one node alone)
                    kind = node_at(self.store, prefix_of(p))[0]
                else:
                    kind = "array" if isinstance(found[0], ArrayMeta) else "group"
            except Exception as e:
                report.metadata_errors.append((self.rel(key), _reason(e)))
                v3_arrays.append(p)
                continue
            (v3_arrays if kind == "array" else v3_groups).append(p)
        arrays = sorted(v2_arrays + v3_arrays)
        groups = sorted(v2_groups + v3_groups)
        array_set = set(arrays)
        v2_group_set = set(v2_groups)
        v3_node_set = set(v3_nodes)
        opened: dict[str, Array] = {}
        unreadable = {self.rel(k) for k, _ in report.metadata_errors}
        for a in arrays:
            if self.rel(prefix_of(a) + ZARR_JSON) in unreadable and a not in v2_nodes:
                continue
            try:
                opened[a] = self._open_array(a, docs, a in v2_nodes)
            except Exception as e:
                name = ARRAY_KEY if a in v2_nodes else ZARR_JSON
                report.metadata_errors.append((self.rel(prefix_of(a) + name), _reason(e)))
        for g in v2_groups:
            if g in opened:
                report.metadata_errors.append(
                    (self.rel(prefix_of(g) + GROUP_KEY), "an array and a group at the same path")
                )
        report.groups = [self.rel(g) if g else "" for g in groups]

        chunks: dict[str, list[tuple[str, tuple[int, ...]]]] = {a: [] for a in opened}
        meta_keys, other = [], []
        for key in keys:
            name = names[key]
            parent = key.rpartition("/")[0]
            if name in _META_NAMES and parent in v2_nodes:
                meta_keys.append(key)
            elif name == ZARR_JSON and parent in v3_node_set:
                meta_keys.append(key)
            elif name == CONSOLIDATED_KEY and parent in v2_group_set:
                meta_keys.append(key)
            else:
                owner = _owner(key, array_set)
                coords = None
                if owner in opened:
                    coords = _chunk_coords(opened[owner], key[len(prefix_of(owner)) :])
                    if coords is not None:
                        chunks[owner].append((key, coords))
                if coords is None:
                    other.append(key)
                    if owner is None or owner in opened:  # keys of unreadable arrays: unknown
                        report.stray_keys.append(self.rel(key))

        self.total = len(meta_keys) + sum(len(c) for c in chunks.values())
        if self.digests is not None:
            self.total += len(other)
        docs = dict(self.read(meta_keys, 2**16, lambda k, v: (k, v)))
        self._check_documents(docs, groups)
        if self.digests is not None:
            self.read(other, 2**20, lambda k, v: None)
        for a, z in opened.items():
            report.arrays.append(self._check_array(a, z, chunks[a]))

    def _node_documents(self, v2_arrays: list[str], v3_nodes: list[str]) -> dict[str, Any]:
        """The arrays' ``.zarray`` and the nodes' ``zarr.json`` documents, decoded, read
        with one ``getdecoded_many`` (a document that does not decode: its exception); if
        the store fails on the batch, none (each is then read alone, as before)."""
        requests: dict[str, Any] = {}
        for p in v2_arrays:
            key = prefix_of(p) + ARRAY_KEY
            requests[key] = V2.node_requests(prefix_of(p))[key]
        for p in v3_nodes:
            requests.update(V3.node_requests(prefix_of(p)))
        try:
            return self.store.getdecoded_many(requests) if requests else {}
        except Exception:
            return {}

    def _open_array(self, path: str, docs: dict[str, Any], v2: bool) -> Array:
        """The array at ``path``, read-only, from its document in ``docs`` when it is there
        (else read from the store); a document that did not decode raises its error."""
        found = docs.get(prefix_of(path) + (ARRAY_KEY if v2 else ZARR_JSON))
        if isinstance(found, BaseException):
            raise found
        if found is None:
            return Array(self.store, path=path, read_only=True)
        meta = found if v2 else found[0]
        return Array._at(Location.of(self.store, path), Options(read_only=True), meta)

    def _check_documents(self, docs: dict[str, Any], groups: list[str]) -> None:
        """Metadata documents that cannot be read, and ``.zmetadata`` of the top group."""
        report = self.report
        parsed = {}
        for key, raw in docs.items():
            if key.endswith(CONSOLIDATED_KEY):
                continue
            try:
                parsed[key] = json_loads(raw, key)
                if key.endswith((GROUP_KEY, ATTRS_KEY, ZARR_JSON)):
                    if not isinstance(parsed[key], dict):
                        raise ValueError("not a JSON object")
            except Exception as e:
                if not any(k == self.rel(key) for k, _ in report.metadata_errors):
                    report.metadata_errors.append((self.rel(key), _reason(e)))
        self._check_v3_consolidated(parsed)
        top = self.prefix + CONSOLIDATED_KEY
        if top not in docs:
            return
        try:
            doc = json_loads(docs[top], top)
            consolidated = doc["metadata"]
            if not isinstance(consolidated, dict):
                raise ValueError("'metadata' is not a JSON object")
        except Exception as e:
            report.metadata_errors.append((self.rel(top), _reason(e)))
            return
        # zarr 2 writes the store's root document with keys from the root; zarr 3 writes a
        # group's document with keys relative to the group: both are full keys at the root
        stored = {self.rel(k): v for k, v in parsed.items() if not k.endswith(ZARR_JSON)}
        for key in sorted(set(consolidated) | set(stored)):
            if key not in stored:
                why = "in .zmetadata but not in the store"
            elif key not in consolidated:
                why = "in the store but not in .zmetadata"
            elif consolidated[key] != stored[key]:
                why = "differs from its copy in .zmetadata"
            else:
                continue
            report.consolidated.append((key, why))

    def _check_v3_consolidated(self, parsed: dict[str, Any]) -> None:
        """The consolidated metadata inside the top v3 group's ``zarr.json`` (as zarr-python
        3 writes them: ``consolidated_metadata.metadata``, paths relative to the group)
        against the ``zarr.json`` documents below it. A group's own ``consolidated_metadata``
        field is left out of the comparison (zarr-python 3 writes an empty one into the
        copies of nested groups)."""
        top = parsed.get(self.prefix + ZARR_JSON)
        if not isinstance(top, dict) or top.get("node_type") != "group":
            return
        section = top.get("consolidated_metadata")
        consolidated = section.get("metadata") if isinstance(section, dict) else None
        if not isinstance(consolidated, dict):
            return
        suffix = "/" + ZARR_JSON
        stored = {
            self.rel(k)[: -len(suffix)]: v
            for k, v in parsed.items()
            if k.endswith(suffix) and k != self.prefix + ZARR_JSON
        }

        def comparable(doc: Any) -> Any:
            if isinstance(doc, dict) and doc.get("node_type") == "group":
                return {k: v for k, v in doc.items() if k != "consolidated_metadata"}
            return doc

        for path in sorted(set(consolidated) | set(stored)):
            if path not in stored:
                why = "in the consolidated metadata of zarr.json but not in the store"
            elif path not in consolidated:
                why = "in the store but not in the consolidated metadata of zarr.json"
            elif comparable(consolidated[path]) != comparable(stored[path]):
                why = "differs from its copy in the consolidated metadata of zarr.json"
            else:
                continue
            self.report.consolidated.append((f"{path}{suffix}", why))

    def _check_array(self, path: str, z: Array, present: list[tuple[str, tuple]]) -> ArrayReport:
        meta = z._meta
        nkeys = math.prod(meta.stored_grid)
        if self.client is None:
            result = self._check_units(path, z, present)
        else:
            result = self._check_units_on_cluster(path, z, present)
        result.missing = nkeys - result.present
        if result.missing:
            result.missing_keys = self._missing_keys(z, {c for _, c in present}, result.missing)
        return result

    def _check_units_on_cluster(
        self, path: str, z: Array, present: list[tuple[str, tuple]]
    ) -> ArrayReport:
        """:meth:`_check_units` by the cluster's workers, in tasks of one batch of stored
        units each (a batch within ``max_mem``), the findings merged in key order."""
        from .cluster import check_shared, run_tasks

        check_shared(self.store, "the store")
        meta = z._meta
        item_bytes = math.prod(meta.stored_chunks) * max(1, meta.dtype.itemsize)
        per_task = max(1, min(1024, self.max_mem // max(1, 2 * item_bytes)))
        hashing = self.digests is not None
        tasks = [
            (self.store, self.prefix, path, present[i : i + per_task], hashing, self.max_mem)
            for i in range(0, len(present), per_task)
        ]

        def step(n: int) -> None:
            self.done += n
            if self.progress is not None:
                self.progress(self.done, self.total)

        parts = run_tasks(self.client, _check_units_task, tasks, step, lambda t, _: len(t[3]))
        result = self._empty_report(path, z)
        for part, digests in parts:
            result.present += part.present
            result.corrupt.extend(part.corrupt)
            result.inner_chunks += part.inner_chunks
            result.corrupt_inner.extend(part.corrupt_inner)
            if self.digests is not None:
                self.digests.update(digests)
        result.corrupt.sort()
        result.corrupt_inner.sort(key=lambda p: (p.key, p.inner))
        return result

    def _empty_report(self, path: str, z: Array) -> ArrayReport:
        meta = z._meta
        return ArrayReport(
            path=self.rel(path) if path else "",
            shape=meta.shape,
            chunks=meta.chunks,
            dtype=str(meta.dtype),
            nchunks=math.prod(meta.stored_grid),
            zarr_format=meta.zarr_format,
            shards=meta.shards,
        )

    def _check_units(self, path: str, z: Array, present: list[tuple[str, tuple]]) -> ArrayReport:
        """Decode the stored units ``present`` of ``z``: the report without its missing keys."""
        meta = z._meta
        chain = z._chain
        item_bytes = math.prod(meta.stored_chunks) * max(1, meta.dtype.itemsize)
        result = self._empty_report(path, z)

        blosc = isinstance(chain.compressor, numcodecs.Blosc)

        def decode(value: Any) -> None:
            if blosc:
                _check_blosc_size(value)
            chain.decode(value)

        def check(key: str, value: Any) -> tuple[str, str] | None:
            try:
                decode(value)
            except Exception as e:
                return self.rel(key), _reason(e)
            return None

        if meta.shards is None:
            problems = self.read([k for k, _ in present], item_bytes, check)
            result.corrupt = sorted(p for p in problems if p is not None)
            result.present = len(problems)
        else:
            shard_of = dict(present)
            check_shard = self._shard_checker(meta, decode, shard_of)
            found = self.read([k for k, _ in present], item_bytes, check_shard)
            result.present = len(found)
            result.corrupt = sorted(whole for whole, _, _ in found if whole is not None)
            result.inner_chunks = sum(n for _, _, n in found)
            inner = [p for _, problems, _ in found for p in problems]
            result.corrupt_inner = sorted(inner, key=lambda p: (p.key, p.inner))
        return result

    def _shard_checker(
        self, meta: ArrayMeta, decode: Callable[[Any], None], shard_of: dict[str, tuple]
    ) -> Callable[[str, Any], tuple]:
        """``check(key, shard)`` for the shards of ``meta``: ``(problem with the whole shard
        or None, [InnerChunkProblem, ...], inner chunks read)``."""
        layout = ShardLayout.of(meta)
        per = layout.grid

        def check(key: str, value: Any) -> tuple:
            rel = self.rel(key)
            view = memoryview(value).cast("B")
            try:
                if layout.inner is None:
                    stored = layout.inner_chunks(layout.read_index(value, key))
                else:  # nested sharding: the inner shards' indexes are checked whole
                    found = layout.stored(view, key)
                    stored = [
                        (tuple(int(c) for c in np.unravel_index(j, per)), 0, len(v))
                        for j, v in sorted(found.items())
                    ]
                    views = [found[j] for j in sorted(found)]
                    # (the offsets above are within each inner chunk's own view)
            except CorruptChunkError as e:
                return (rel, e.reason), [], 0
            size = len(view)
            shard = shard_of[key]
            problems = []
            for n, (inner, offset, nbytes) in enumerate(stored):
                why = None
                if offset + nbytes > size:
                    why = (
                        f"{nbytes} bytes indexed at offset {offset}, past the end of the "
                        f"shard's {size} bytes"
                    )
                else:
                    try:
                        decode(view[offset : offset + nbytes] if layout.inner is None else views[n])
                    except Exception as e:
                        why = _reason(e)
                if why is not None:
                    chunk = tuple(s * k + c for s, k, c in zip(shard, per, inner))
                    problems.append(InnerChunkProblem(rel, inner, chunk, why))
            return None, problems, len(stored)

        return check

    def _missing_keys(self, z: Array, present: set[tuple], n_missing: int) -> list[str]:
        out = []
        for coords in itertools.product(*(range(n) for n in z._meta.stored_grid)):
            if coords not in present:
                out.append(self.rel(z._chunk_key(coords)))
                if len(out) >= min(MAX_LISTED, n_missing):
                    break
        return out


def _check_units_task(
    store: Store,
    prefix: str,
    path: str,
    present: list[tuple[str, tuple]],
    hashing: bool,
    max_mem: int,
) -> tuple[ArrayReport, dict[str, str]]:
    """A cluster task of :func:`verify`: the array at ``path`` opened here, its stored units
    ``present`` checked; returns their findings and (``hashing``) their SHA-256 digests."""
    checker = _Checker(store, prefix.rstrip("/"), Report(location=""), hashing, max_mem, None)
    z = Array(store, path=path, read_only=True)
    result = checker._check_units(path, z, present)
    return result, checker.digests or {}


def _check_blosc_size(value: Any) -> None:
    """A Blosc chunk holds as many bytes as its header says. c-blosc trusts the header and
    decodes a truncated chunk from whatever memory follows it, without an error."""
    data = memoryview(value).cast("B")
    if len(data) < 16:
        raise ValueError(f"{len(data)} bytes, shorter than a Blosc header (16)")
    stated = int.from_bytes(data[12:16], "little")
    if stated != len(data):
        raise ValueError(f"stored {len(data)} bytes, its Blosc header says {stated}")


def _reason(e: BaseException) -> str:
    text = " ".join(str(e).split())
    if type(e).__module__.startswith("zarrkit"):
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _owner(key: str, arrays: set[str]) -> str | None:
    """The deepest array path that ``key`` lies below (None when none does)."""
    parts = key.split("/")
    for i in range(len(parts) - 1, -1, -1):
        candidate = "/".join(parts[:i])
        if candidate in arrays:
            return candidate
    return None


def _chunk_coords(z: Array, rel: str) -> tuple[int, ...] | None:
    """The coordinates of the stored chunk (the shard, when sharded) of key ``rel``
    (relative to the array: ``0.1``, ``0/1``, v3's ``c/0/1``), or None when it is not the key
    of a chunk inside the array's grid."""
    return z._meta.parse_chunk_key(rel)


def verify(
    store: Any,
    path: str | None = None,
    *,
    storage_options: dict | None = None,
    missing_is_error: bool = False,
    write_checksums: str | os.PathLike | IO[str] | None = None,
    check_checksums: str | os.PathLike | IO[str] | dict[str, str] | None = None,
    max_mem: int = DEFAULT_MAX_MEM,
    progress: Callable[[int, int], None] | None = None,
    scheduler: Any = None,
) -> Report:
    """Decode every chunk of every array below ``path`` and report what is wrong.

    Parameters
    ----------
    store : store, mapping, path or URL
        What to check (``storage_options`` go to the file system of a URL).
    path : str, optional
        A group or array inside the store; the default is the whole store.
    missing_is_error : bool
        Count missing chunks as problems (by default they are reported as information:
        Zarr reads them as the fill value).
    write_checksums : file name or text file, optional
        Write a SHA-256 manifest of every key below ``path`` (``sha256sum`` format, keys
        relative to ``path``), from the same reads.
    check_checksums : file name, text file or dict, optional
        A manifest written before: keys whose bytes changed, keys that vanished and keys
        that are new are reported in :attr:`Report.checksums`.
    max_mem : int
        Bytes for one batch of chunks (stored and decoded); decoding runs in the shared
        thread pool.
    progress : callable, optional
        Called as ``progress(keys_done, keys_total)`` after each batch.
    scheduler : dask.distributed.Client or str, optional
        Decode the chunks on a Dask cluster (a client, or a scheduler address): the
        metadata are read here, each task checks one batch of chunks (within ``max_mem``).
        The report is the same as without a scheduler. The store must be reachable from
        every worker.

    >>> import zarrkit
    >>> z = zarrkit.zeros(4, chunks=2, store={})
    >>> z[:] = 1
    >>> verify(z.store).summary()
    'OK: 1 array, 0 groups, 2 chunks read'
    """
    store = normalize_store_arg(store, mode="r", storage_options=storage_options)
    path = normalize_storage_path(path)
    keys = sorted(prefix_of(path) + k for k in store.keys_under(path))
    if not keys:
        raise not_found(PathNotFoundError, store, path)
    if not any(k.rpartition("/")[2] in (ARRAY_KEY, GROUP_KEY, ZARR_JSON) for k in keys):
        raise not_found(PathNotFoundError, store, path)
    where = location(store) or repr(store)
    report = Report(location=where + (f" path {path!r}" if path else ""))
    report.missing_is_error = missing_is_error
    hashing = write_checksums is not None or check_checksums is not None
    checker = _Checker(store, path, report, hashing, max_mem, progress)
    from .cluster import connect

    with connect(scheduler) as client:
        checker.client = client
        checker.run(keys)
    report.temp_files = _temp_files(store, path)
    if checker.digests is not None:
        if write_checksums is not None:
            _write_manifest(write_checksums, checker.digests)
        if check_checksums is not None:
            expected = (
                check_checksums
                if isinstance(check_checksums, dict)
                else read_manifest(check_checksums)
            )
            report.checksums = _compare(expected, checker.digests)
    return report


def _compare(expected: dict[str, str], actual: dict[str, str]) -> list[tuple[str, str]]:
    out = []
    for key in sorted(set(expected) | set(actual)):
        if key not in actual:
            out.append((key, "in the manifest but not in the store"))
        elif key not in expected:
            out.append((key, "not in the manifest"))
        elif expected[key] != actual[key]:
            out.append((key, "changed since the manifest was written"))
    return out
