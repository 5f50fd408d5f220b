"""Copying between stores, arrays and groups (zarrkit or h5py), streaming with bounded memory.

Every copy first plans what it will do, then does it. With ``if_exists='raise'`` a conflict
anywhere in the hierarchy is found while planning, so a refused copy writes nothing at all;
a dry run is the plan logged. Array data move in slabs of whole destination chunks of at most
:data:`COPY_BUFFER_BYTES`, and :func:`copy_store` reads keys in batches of about that size, so
memory stays bounded whatever the size of the data.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._many import read_many
from ..attrs import Attributes, prefetch, update_many
from ..core import Array
from ..creation import create_planned, encoding_of
from ..errors import CopyError
from ..formats.v2 import json_dumps
from ..hierarchy import Group
from ..storage import normalize_store_arg
from ..storage.base import as_store, normalize_storage_path

__all__ = ["copy_store", "copy", "copy_all", "COPY_BUFFER_BYTES"]

#: Bytes moved at once: the largest slab of an array copied by :func:`copy` (uncompressed),
#: and about the largest batch of values read by :func:`copy_store`.
COPY_BUFFER_BYTES = 64 * 2**20

#: Most keys :func:`copy_store` reads in one batch.
_MAX_BATCH_KEYS = 256


# -- logging and progress ----------------------------------------------------------------


@contextlib.contextmanager
def _log_writer(log: Any) -> Iterator[Callable[[str], None]]:
    """``log`` may be None, a callable taking a line, a file-like object or a file name."""
    if log is None:
        yield lambda line: None
    elif callable(log):
        yield log
    elif isinstance(log, str):
        with open(log, "w") as f:
            yield lambda line: print(line, file=f)
    elif hasattr(log, "write"):
        yield lambda line: print(line, file=log)
    else:
        raise TypeError(f"log must be a callable, a file-like object or a file name, got {log!r}")


def _summary(
    log: Callable[[str], None], dry_run: bool, n_copied: int, n_skipped: int, nbytes: int
) -> None:
    """The closing line of a copy's log, worded as zarr 2 words it."""
    if dry_run:
        log(f"dry run: {n_copied:,} copied, {n_skipped:,} skipped")
    else:
        log(f"all done: {n_copied:,} copied, {n_skipped:,} skipped, {nbytes:,} bytes copied")


class _Progress:
    """``progress=True`` shows a tqdm bar if tqdm is installed (nothing otherwise); a callable
    is called as ``progress(done, total)`` after each step."""

    def __init__(self, progress: Any, total: int, desc: str, unit: str) -> None:
        self.callback: Callable[[int, int], None] | None = None
        self.bar = None
        self.total = total
        self.done = 0
        if progress is True:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B")
        elif callable(progress):
            self.callback = progress
        elif progress not in (None, False):
            raise TypeError(f"progress must be True, False, None or a callable, got {progress!r}")

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- store to store ----------------------------------------------------------------------


def _compile(patterns: Any, flags: int) -> list[re.Pattern]:
    if patterns is None:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    return [re.compile(p, flags) for p in patterns]


def _nbytes(v: Any) -> int:
    if isinstance(v, (bytes, bytearray)):
        return len(v)
    return memoryview(v).nbytes


def copy_store(
    source: Any,
    dest: Any,
    source_path: str = "",
    dest_path: str = "",
    excludes: Any = None,
    includes: Any = None,
    flags: int = 0,
    if_exists: str = "raise",
    dry_run: bool = False,
    log: Any = None,
    progress: Any = None,
    *,
    storage_options: dict | None = None,
    scheduler: Any = None,
) -> tuple[int, int, int]:
    """Copy every key below ``source_path`` of one store to ``dest_path`` of another, as bytes.

    Nothing is decoded or re-encoded, so this is the fastest way to move a hierarchy. Keys
    are copied as they are, so the format stays: copying Zarr v2 nodes into a Zarr v3
    hierarchy (or v3 into v2) is refused with a ``CopyError`` before anything is written;
    :func:`zarrkit.convert` changes the format, and :func:`copy`/:func:`copy_all` write
    the arrays in the destination group's format.

    Parameters
    ----------
    source, dest : MutableMapping or str
        Stores (any dict-like), or paths/URLs (``'s3://bucket/data.zarr'``) opened as stores.
    source_path, dest_path : str
        Copy only the keys below ``source_path``, to the same keys below ``dest_path``.
    excludes, includes : str or list of str, optional
        Regular expressions searched in each source key: a key matching an exclude is left out
        unless it also matches an include.
    flags : int
        ``re`` flags for the expressions.
    if_exists : {'raise', 'replace', 'skip'}
        What to do with a key that exists in ``dest``. With ``'raise'`` the conflict is found
        before anything is written.
    dry_run : bool
        Log what would be done, copy nothing.
    log : callable, file-like or file name, optional
        Where to write one line per key and a closing summary.
    progress : bool or callable, optional
        ``True`` shows a tqdm bar (when tqdm is installed); a callable is called as
        ``progress(keys_done, keys_total)``.
    storage_options : dict, optional
        File system options for ``source`` and ``dest`` given as URLs.
    scheduler : dask.distributed.Client or str, optional
        Copy on a Dask cluster (a client, or a scheduler address): the driver plans, the
        workers copy batches of keys (see :mod:`zarrkit.tools.cluster`). Both stores must be
        reachable from every worker. Each key is written atomically, so a copy interrupted
        part way is finished by running it again with ``if_exists='skip'``.

    Returns ``(n_copied, n_skipped, n_bytes_copied)``.

    >>> import zarrkit
    >>> src = zarrkit.group()
    >>> _ = src.zeros('a', shape=4, chunks=2)
    >>> dst = {}
    >>> n_copied, n_skipped, n_bytes = zarrkit.copy_store(src.store, dst, excludes=r'^\\.zgroup$')
    >>> sorted(dst)
    ['a/.zarray']
    """
    if if_exists not in ("raise", "replace", "skip"):
        raise ValueError(f"if_exists must be 'raise', 'replace' or 'skip', got {if_exists!r}")
    src = _store_of(source, "r", storage_options)
    dst = _store_of(dest, "a", storage_options)
    sp = normalize_storage_path(source_path)
    dp = normalize_storage_path(dest_path)
    sp, dp = (sp + "/" if sp else ""), (dp + "/" if dp else "")
    exc, inc = _compile(excludes, flags), _compile(includes, flags)

    plan: list[tuple[str, str, bool]] = []  # (source key, dest key, copy?)
    taken: set[str] | None = None  # the destination's keys below dest_path, listed once
    for key in sorted(src.keys()):
        if not key.startswith(sp):
            continue
        if any(p.search(key) for p in exc) and not any(p.search(key) for p in inc):
            continue
        dkey = dp + key[len(sp) :]
        if if_exists != "replace" and taken is None:
            taken = _keys_below(dst, dp)
        exists = if_exists != "replace" and (dkey in dst if taken is None else dkey in taken)
        if exists and if_exists == "raise":
            raise CopyError(f"key {dkey!r} exists in destination; nothing was copied")
        plan.append((key, dkey, not exists))

    _check_formats(src, dst, sp, dp, [k for k, _, _ in plan])

    if scheduler is not None and not dry_run:
        return _copy_store_on(scheduler, src, dst, plan, log, progress)

    n_copied = n_skipped = nbytes = 0
    bar = _Progress(progress, len(plan), "copy_store", "keys")
    batch: list[tuple[str, str]] = []
    batch_size = 1  # grows once value sizes are known, to about COPY_BUFFER_BYTES a batch

    def flush() -> int:
        nonlocal batch_size
        if dry_run:
            bar.update(len(batch))
            batch.clear()
            return 0
        values = src.getitems([k for k, _ in batch])
        missing = [k for k, _ in batch if k not in values]
        if missing:
            raise KeyError(f"source keys vanished during the copy: {missing}")
        sizes = {k: _nbytes(v) for k, v in values.items()}
        dst.setitems({dk: values[k] for k, dk in batch})
        bar.update(len(batch))
        batch.clear()
        biggest = max(sizes.values(), default=0)
        batch_size = max(1, min(_MAX_BATCH_KEYS, COPY_BUFFER_BYTES // max(biggest, 1)))
        return sum(sizes.values())

    with _log_writer(log) as write_log:
        for key, dkey, do_copy in plan:
            descr = key if dkey == key else f"{key} -> {dkey}"
            if do_copy:
                write_log(f"copy {descr}")
                n_copied += 1
                batch.append((key, dkey))
                if len(batch) >= batch_size:
                    nbytes += flush()
            else:
                write_log(f"skip {descr}")
                n_skipped += 1
                bar.update(1)
        if batch:
            nbytes += flush()
        _summary(write_log, dry_run, n_copied, n_skipped, nbytes)
    bar.close()
    return n_copied, n_skipped, nbytes


def _keys_below(store: Any, prefix: str) -> set[str] | None:
    """The keys of ``store`` below ``prefix`` from one listing (paged on an object store)
    instead of a HEAD per key; None if the store cannot list."""
    try:
        return {prefix + k for k in store.keys_under(prefix)}
    except Exception:
        return None


def _copy_store_on(
    scheduler: Any, src: Any, dst: Any, plan: list[tuple[str, str, bool]], log: Any, progress: Any
) -> tuple[int, int, int]:
    """:func:`copy_store`'s copy on a Dask cluster: batches of at most ``_MAX_BATCH_KEYS``
    keys per task (a task reads them in batches of about ``COPY_BUFFER_BYTES``)."""
    from .cluster import check_shared, connect, run_tasks

    check_shared(src, "source")
    check_shared(dst, "dest")
    pairs = [(k, dk) for k, dk, do in plan if do]
    n_skipped = len(plan) - len(pairs)
    bar = _Progress(progress, len(plan), "copy_store", "keys")
    try:
        with _log_writer(log) as write_log:
            for key, dkey, do_copy in plan:
                descr = key if dkey == key else f"{key} -> {dkey}"
                write_log(f"{'copy' if do_copy else 'skip'} {descr}")
            bar.update(n_skipped)
            tasks = [
                (src, dst, pairs[i : i + _MAX_BATCH_KEYS])
                for i in range(0, len(pairs), _MAX_BATCH_KEYS)
            ]
            with connect(scheduler) as client:
                sizes = run_tasks(client, _copy_keys, tasks, bar.update, lambda t, _: len(t[2]))
            nbytes = sum(sizes)
            _summary(write_log, False, len(pairs), n_skipped, nbytes)
    finally:
        bar.close()
    return len(pairs), n_skipped, nbytes


def _copy_keys(src: Any, dst: Any, pairs: list[tuple[str, str]]) -> int:
    """A cluster task: copy ``(source key, dest key)`` pairs, reading about
    ``COPY_BUFFER_BYTES`` at once; returns the bytes copied."""
    total = 0
    per_batch = 1
    start = 0
    while start < len(pairs):
        batch = pairs[start : start + per_batch]
        values = src.getitems([k for k, _ in batch])
        missing = [k for k, _ in batch if k not in values]
        if missing:
            raise KeyError(f"source keys vanished during the copy: {missing}")
        dst.setitems({dk: values[k] for k, dk in batch})
        sizes = [_nbytes(v) for v in values.values()]
        total += sum(sizes)
        del values
        start += len(batch)
        per_batch = max(1, min(_MAX_BATCH_KEYS, COPY_BUFFER_BYTES // max(max(sizes), 1)))
    return total


_V2_DOCS = (".zarray", ".zgroup", ".zattrs", ".zmetadata")
_V3_DOC = "zarr.json"


def _formats_of(keys: list[str]) -> set[int]:
    """The Zarr formats whose metadata documents are among ``keys``."""
    names = {k.rpartition("/")[2] for k in keys}
    return ({2} if names.intersection(_V2_DOCS) else set()) | ({3} if _V3_DOC in names else set())


def _format_at(store: Any, prefix: str) -> int | None:
    """The format of the nearest node at or above ``prefix`` (``'a/b/'``) in ``store``
    (the documents of every level asked for in one batch)."""
    parts = prefix.rstrip("/").split("/") if prefix else []
    levels = []
    for n in range(len(parts), -1, -1):
        p = "/".join(parts[:n])
        levels.append(p + "/" if p else "")
    try:
        found = set(
            store.getitems([p + d for p in levels for d in (".zgroup", ".zarray", _V3_DOC)])
        )
    except Exception:
        found = None
    for p in levels:
        has = (lambda k: k in store) if found is None else found.__contains__
        if has(p + ".zgroup") or has(p + ".zarray"):
            return 2
        if has(p + _V3_DOC):
            return 3
    return None


def _check_formats(src: Any, dst: Any, sp: str, dp: str, keys: list[str]) -> None:
    """Refuse a copy of stored bytes that would put nodes of one Zarr format into a
    hierarchy of the other: keys are copied as they are, so the result would be neither."""
    copied = _formats_of(keys)
    if not copied:
        return
    if len(copied) == 2:
        return  # the source mixes both already: copied as it is
    there = _format_at(dst, dp)
    if there is None or there in copied:
        return
    (fmt,) = copied
    raise CopyError(
        f"copy_store copies stored bytes: the source{f' below {sp[:-1]!r}' if sp else ''} is "
        f"Zarr v{fmt} and the destination{f' at {dp[:-1]!r}' if dp else ''} is in a Zarr "
        f"v{there} hierarchy, which its keys would not join; use zarrkit.convert to change "
        "the format (or copy/copy_all, which write in the destination group's format); "
        "nothing was copied"
    )


def _store_of(store: Any, mode: str, storage_options: dict | None) -> Any:
    """A store for ``copy_store``: paths and URLs opened as the openers do, mappings adapted."""
    if isinstance(store, (str, os.PathLike)):
        return normalize_store_arg(store, mode=mode, storage_options=storage_options)
    return as_store(store)


# -- arrays and groups -------------------------------------------------------------------


def _members(group: Any) -> Iterator[tuple[str, Any]]:
    """``(name, member)`` of a group: its ``items()`` (a zarrkit group reads its members'
    metadata in one batch), or each key looked up for a group that has only ``keys``."""
    if hasattr(group, "items"):
        yield from group.items()
        return
    for key in group.keys():
        yield key, group[key]


def _is_h5py(obj: Any) -> bool:
    return obj is not None and type(obj).__module__.startswith("h5py")


def _is_array(obj: Any) -> bool:
    # ask the type: a group answers attribute lookups with its members ('shape', 'dtype')
    return hasattr(type(obj), "shape") and hasattr(type(obj), "dtype")


def _same_array(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` are the same stored array (replacing one deletes the other)."""
    if _is_h5py(a) or _is_h5py(b):
        return _is_h5py(a) and _is_h5py(b) and a == b  # h5py compares HDF5 object ids
    if getattr(a, "path", None) != getattr(b, "path", None):
        return False
    sa, sb = getattr(a, "store", None), getattr(b, "store", None)
    if sa is None or sb is None:
        return False
    # a store object, or two handles on one location (not equal contents of two memory stores)
    where_a, where_b = getattr(sa, "path", None), getattr(sb, "path", None)
    return sa is sb or (type(sa) is type(sb) and where_a is not None and where_a == where_b)


def _is_group(obj: Any) -> bool:
    return hasattr(obj, "keys") and hasattr(obj, "require_group")


def _slabs(
    shape: tuple[int, ...], chunks: tuple[int, ...] | None, itemsize: int
) -> Iterator[tuple[slice, ...]]:
    """Regions covering ``shape`` made of whole chunks, each under ``COPY_BUFFER_BYTES``.

    A slab is never smaller than one chunk. ``chunks=None`` (contiguous storage) means the
    regions are made of single elements, so slabs are runs along the last axes.
    """
    if not shape:
        yield ()
        return
    if any(s == 0 for s in shape):
        return
    if not chunks:
        chunks = (1,) * len(shape)
    chunks = tuple(max(1, min(c, s)) for c, s in zip(chunks, shape))
    itemsize = max(itemsize, 1)
    # grow the region from the last axis backwards while it fits the budget
    region = list(chunks)
    for axis in range(len(shape) - 1, -1, -1):
        per_step = math.prod(region) * itemsize
        n = max(1, COPY_BUFFER_BYTES // per_step)
        region[axis] = min(shape[axis], chunks[axis] * n)
        if region[axis] < shape[axis]:
            break
    for offset in itertools.product(*(range(0, s, r) for s, r in zip(shape, region))):
        yield tuple(slice(o, min(o + r, s)) for o, r, s in zip(offset, region, shape))


def _fully_initialized(obj: Any) -> bool:
    return (
        _is_array(obj)
        and hasattr(obj, "nchunks_initialized")
        and obj.nchunks_initialized == obj.nchunks
    )


def _json_value(v: Any) -> Any:
    """An h5py attribute value as a JSON value (numpy scalars and arrays, bytes as text)."""
    if isinstance(v, np.ndarray):
        return [_json_value(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    return v


def _copy_attrs(source: Any, dest: Any) -> None:
    """Copy user attributes, converting them to what the destination can hold."""
    attrs = dict(source.attrs)
    if _is_h5py(dest):
        attrs.pop("filters", None)  # as zarr 2 does: a zarr array's filters are not HDF5's
        for k, v in attrs.items():
            try:
                dest.attrs[k] = v
            except (TypeError, ValueError) as e:
                raise TypeError(
                    f"attribute {k!r} of {source.name} cannot be stored in HDF5 ({e}); "
                    "copy with without_attrs=True or change the attribute"
                ) from None
        return
    dest.attrs.update(_zarr_attrs(source))


def _prefetch_attrs(nodes: list[Any]) -> None:
    """Read the attributes of the zarrkit ``nodes`` in one batch per store."""
    views = [getattr(n, "attrs", None) for n in nodes if not _is_h5py(n)]
    prefetch([a for a in views if isinstance(a, Attributes)])


def _copy_attrs_many(pairs: list[tuple[Any, Any]]) -> None:
    """:func:`_copy_attrs` of each ``(source, dest)`` pair: the zarrkit sources' attributes
    read in one batch per store, the zarrkit destinations' written in one (h5py one by one)."""
    _prefetch_attrs([s for s, _ in pairs])
    together = []
    for src, dest in pairs:
        if isinstance(getattr(dest, "attrs", None), Attributes):
            together.append((dest.attrs, _zarr_attrs(src)))
        else:
            _copy_attrs(src, dest)
    update_many(together)


def _zarr_attrs(source: Any) -> dict:
    """The user attributes of ``source`` as a zarrkit destination stores them (h5py values
    converted to JSON values); TypeError naming the attribute when one has no JSON form.
    Called while planning too, so that such a copy writes nothing."""
    attrs = dict(source.attrs)
    from_h5py = _is_h5py(source)
    for k, v in attrs.items():
        try:
            attrs[k] = _json_value(v) if from_h5py else v
            json_dumps(attrs[k])
        except UnicodeDecodeError as e:
            raise TypeError(
                f"attribute {k!r} of {source.name} holds bytes that are not UTF-8 text "
                f"({e}); copy with without_attrs=True or change the attribute"
            ) from None
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"attribute {k!r} of {source.name} has no JSON form ({e}); "
                "copy with without_attrs=True or change the attribute"
            ) from None
    return attrs


def _h5py_object_kind(dtype: np.dtype) -> tuple[str, Any]:
    """What an h5py object dtype holds: ('str', None), ('bytes', None) or ('vlen', base)."""
    import h5py

    string = h5py.check_string_dtype(dtype)
    if string is not None:
        return ("str", None) if string.encoding == "utf-8" else ("bytes", None)
    base = h5py.check_vlen_dtype(dtype)
    if base is not None:
        return "vlen", base
    raise TypeError(f"cannot copy an HDF5 dataset of object dtype {dtype!r} (references?)")


@dataclass
class _Step:
    """One object of a copy plan, in the order it is copied (groups before their members)."""

    source: Any
    parent: tuple[str, ...]  # names from the copy's destination group to the parent group
    name: str
    is_array: bool
    do_copy: bool
    replace: bool  # delete what is at ``name`` in the destination first

    @property
    def nbytes(self) -> int:
        return int(self.source.size) * self.source.dtype.itemsize


class _Copier:
    """Plans a copy (every check happens here), then carries the plan out."""

    def __init__(
        self,
        if_exists: str,
        dry_run: bool,
        shallow: bool,
        without_attrs: bool,
        create_kws: dict,
        to_zarr: bool,
    ) -> None:
        self.if_exists = if_exists
        self.dry_run = dry_run
        self.shallow = shallow
        self.without_attrs = without_attrs
        self.create_kws = create_kws
        self.check_attrs = to_zarr and not without_attrs  # JSON-able, before any write
        self.steps: list[_Step] = []
        # the member names of destination groups, by id (the group kept alive with them)
        self._names: dict[int, tuple[Any, set[str]]] = {}

    # -- planning ------------------------------------------------------------------------
    def plan(self, source: Any, dest: Any, parent: tuple[str, ...], name: str, root: bool) -> None:
        """Add the steps that copy ``source`` to ``dest[name]``; ``dest`` is the existing
        destination group, or None where the destination does not exist yet."""
        exists = dest is not None and self._has(dest, name)
        existing = dest[name] if exists else None
        if _is_array(source):
            do_copy = True
            if exists:
                if self.if_exists == "raise":
                    raise CopyError(
                        f"an object {name!r} already exists in destination {dest.name!r}"
                    )
                if self.if_exists == "skip":
                    do_copy = False
                elif self.if_exists == "skip_initialized":
                    do_copy = not _fully_initialized(existing)
                if do_copy and _same_array(existing, source):
                    raise CopyError(
                        f"cannot replace {source.name!r} with itself: it would be deleted "
                        "before being read; nothing was copied"
                    )
            if do_copy and self.check_attrs:
                _zarr_attrs(source)
            self.steps.append(_Step(source, parent, name, True, do_copy, exists and do_copy))
            return
        if not hasattr(source, "keys"):
            raise TypeError(f"cannot copy {source!r}: it is neither an array nor a group")
        if self.shallow and not root:
            return
        over_array = exists and _is_array(existing)
        if over_array and self.if_exists == "raise":
            raise CopyError(f"an array {name!r} already exists in destination {dest.name!r}")
        if over_array and self.if_exists == "skip":
            self.steps.append(_Step(source, parent, name, False, False, False))
            return
        if self.check_attrs:
            _zarr_attrs(source)
        self.steps.append(_Step(source, parent, name, False, True, over_array))
        child_dest = existing if exists and not over_array else None
        for key, member in self._members(source):
            self.plan(member, child_dest, parent + (name,), key, False)

    def _members(self, group: Any) -> list[tuple[str, Any]]:
        """:func:`_members` of a source group, their attributes read in one batch when
        planning checks them."""
        members = list(_members(group))
        if self.check_attrs:
            _prefetch_attrs([m for _, m in members])
        return members

    def _has(self, dest: Any, name: str) -> bool:
        """``name in dest``; a zarrkit group's member names are listed once, with one batch
        of metadata reads (a listing that fails: each name is asked for, as before)."""
        if not type(dest).__module__.startswith("zarrkit."):
            return name in dest
        names = self._names.get(id(dest))
        if names is None:
            try:
                names = self._names[id(dest)] = (dest, set(dest))
            except Exception:
                return name in dest
        return name in names[1]

    # -- doing ---------------------------------------------------------------------------
    def run(
        self, dest: Any, log: Callable[[str], None], progress: Any, client: Any = None
    ) -> tuple[int, int, int]:
        """Carry the plan out into ``dest``; returns ``(n_copied, n_skipped, n_bytes)``.
        With a Dask ``client`` the arrays are created here and their slabs copied by the
        cluster's workers, the attributes written when the data are in place."""
        total = sum(s.nbytes for s in self.steps if s.is_array and s.do_copy)
        bar = _Progress(progress if not self.dry_run else None, total, "copy", "B")
        groups: dict[tuple[str, ...], Any] = {(): dest}
        n_copied = n_skipped = nbytes = 0
        tasks: list[tuple] = []
        attrs_after: list[tuple[Any, Any]] = []
        # arrays going into zarrkit groups: created together (one batch of looks, one
        # setitems of documents), then filled one by one
        batched: list[tuple[Any, Any, Any]] = []  # (source, reader, plan)
        try:
            for step in self.steps:
                src = step.source
                label = f"{src.name} {src.shape} {src.dtype}" if step.is_array else src.name
                if not step.do_copy:
                    log(f"skip {label}")
                    n_skipped += 1
                    continue
                log(f"copy {label}")
                n_copied += 1
                if self.dry_run:
                    continue
                parent = groups[step.parent]
                if step.replace:
                    del parent[step.name]
                if step.is_array and client is not None:
                    nbytes += self._plan_array_tasks(src, parent, step.name, tasks, attrs_after)
                elif step.is_array and isinstance(parent, Group):
                    dtype, reader, kws = self._array_args(src, parent)
                    batched.append((src, reader, parent._plan_member(
                        step.name, dict(kws, shape=src.shape, dtype=dtype))))  # fmt: skip
                elif step.is_array:
                    nbytes += self._copy_array(src, parent, step.name, bar)
                else:
                    grp = parent.require_group(step.name)
                    if not self.without_attrs:
                        attrs_after.append((src, grp))
                    groups[step.parent + (step.name,)] = grp
            if batched:
                made = create_planned([plan for _, _, plan in batched])
                # arrays of one slab read together (read_many), within COPY_BUFFER_BYTES
                small: list[tuple[Any, Any, tuple[slice, ...]]] = []
                small_bytes = 0
                for (src, reader, _), ds in zip(batched, made):
                    slabs = list(itertools.islice(self._slabs_of(src, ds), 2))
                    size = int(ds.size) * ds.dtype.itemsize
                    if len(slabs) == 1 and isinstance(reader, Array):
                        if small and small_bytes + size > COPY_BUFFER_BYTES:
                            self._fill_many(small, bar)
                            small, small_bytes = [], 0
                        small.append((reader, ds, slabs[0]))
                        small_bytes += size
                        nbytes += size
                    else:
                        nbytes += self._fill(src, reader, ds, bar)
                    if not self.without_attrs:
                        attrs_after.append((src, ds))
                if small:
                    self._fill_many(small, bar)
            if tasks:
                from .cluster import copy_region, run_tasks

                run_tasks(client, copy_region, tasks, bar.update, lambda _, n: n)
            _copy_attrs_many(attrs_after)
        finally:
            bar.close()
        return n_copied, n_skipped, nbytes

    def _plan_array_tasks(
        self, source: Any, dest: Any, name: str, tasks: list, attrs_after: list
    ) -> int:
        """Create the destination array and add one cluster task per slab of it."""
        from .cluster import array_spec

        if _is_h5py(source) or _is_h5py(dest):
            raise ValueError("a copy on a Dask cluster copies between zarrkit arrays only")
        ds = dest.create_dataset(name, shape=source.shape, dtype=source.dtype,
                                 **self._create_kwargs(source, dest))  # fmt: skip
        itemsize = ds.dtype.itemsize
        src_spec, dst_spec = array_spec(source, "source"), array_spec(ds, "dest")
        unit = getattr(ds, "shards", None) or ds.chunks
        for sel in _slabs(tuple(ds.shape), unit, itemsize):
            tasks.append((src_spec, dst_spec, sel, itemsize))
        if not self.without_attrs:
            attrs_after.append((source, ds))
        return int(ds.size) * itemsize

    def _create_kwargs(self, source: Any, dest: Any) -> dict:
        kws = dict(self.create_kws)
        src_h5, dst_h5 = _is_h5py(source), _is_h5py(dest)
        if getattr(source, "chunks", None) is not None:
            kws.setdefault("chunks", source.chunks)
        if src_h5 and dst_h5:
            for k in ("compression", "compression_opts", "shuffle", "fletcher32"):
                kws.setdefault(k, getattr(source, k))
            kws.setdefault("fillvalue", source.fillvalue)
        elif src_h5:
            if source.dtype.kind == "O":
                from numcodecs import VLenArray, VLenBytes, VLenUTF8

                kind, base = _h5py_object_kind(source.dtype)
                codec = {"str": VLenUTF8, "bytes": VLenBytes}.get(kind)
                kws.setdefault("object_codec", codec() if codec else VLenArray(base))
                kws.setdefault("fill_value", None)
            else:
                kws.setdefault("fill_value", source.fillvalue)
        elif dst_h5:
            kws.setdefault("chunks", True)
            kws.setdefault("compression", "gzip")
            if kws["compression"] == "gzip":  # other filters (lzf, ...) take other options
                kws.setdefault("compression_opts", 1)
            kws.setdefault("shuffle", False)
            if source.dtype.kind != "O":
                kws.setdefault("fillvalue", source.fill_value)
        else:
            enc = encoding_of(source)
            enc.pop("dtype")  # given on its own
            enc.pop("zarr_format")  # the destination group's
            if not (_zarr_format(dest) == 3 and _zarr_format(source) == 3):
                enc.pop("shards", None)  # v3 to v3 only: they go along
                enc.pop("dimension_names", None)
            elif "chunks" in self.create_kws:
                enc.pop("shards")  # new chunks, which the source's shards may not fit
            for k, v in enc.items():
                kws.setdefault(k, v)
        if dst_h5 and (not source.shape or 0 in source.shape):
            # HDF5 cannot chunk (so neither compress) a scalar or an empty dataset
            for k in ("chunks", "compression", "compression_opts", "shuffle", "fletcher32"):
                kws.pop(k, None)
        elif dst_h5 and isinstance(kws.get("chunks"), tuple):
            # zarr chunks may overhang the shape, HDF5 chunks may not
            kws["chunks"] = tuple(min(c, s) for c, s in zip(kws["chunks"], source.shape))
        return kws

    def _array_args(self, source: Any, dest: Any) -> tuple[Any, Any, dict]:
        """The dtype of the copy of ``source`` in ``dest``, what its data are read from,
        and the other arguments of its creation."""
        kws = self._create_kwargs(source, dest)
        dtype, reader = source.dtype, source
        if _is_h5py(source) and dtype.kind == "O":
            kind, _ = _h5py_object_kind(dtype)
            dtype = np.dtype(object)
            if kind == "str":
                reader = source.asstr()
        elif _is_h5py(dest) and dtype.kind == "O":
            dtype = _h5py_dtype_for_objects(source)
        return dtype, reader, kws

    def _copy_array(self, source: Any, dest: Any, name: str, bar: _Progress) -> int:
        dtype, reader, kws = self._array_args(source, dest)
        ds = dest.create_dataset(name, shape=source.shape, dtype=dtype, **kws)
        nbytes = self._fill(source, reader, ds, bar)
        if not self.without_attrs:
            _copy_attrs(source, ds)
        return nbytes

    def _slabs_of(self, source: Any, ds: Any) -> Iterator[tuple[slice, ...]]:
        """The slabs ``ds`` is filled by: whole destination chunks (shards: each written
        once); source chunks where the destination has none."""
        unit = getattr(ds, "shards", None) or ds.chunks or getattr(source, "chunks", None)
        return _slabs(tuple(ds.shape), unit, ds.dtype.itemsize)

    def _fill(self, source: Any, reader: Any, ds: Any, bar: _Progress) -> int:
        """Copy the data of ``source`` (read through ``reader``) into the new ``ds``."""
        itemsize = ds.dtype.itemsize
        for sel in self._slabs_of(source, ds):
            ds[sel] = reader[sel]
            bar.update(math.prod(s.stop - s.start for s in sel) * itemsize)
        return int(ds.size) * itemsize

    def _fill_many(self, jobs: list[tuple[Any, Any, tuple[slice, ...]]], bar: _Progress) -> None:
        """Copy one slab of each ``(reader, ds, slab)``: the reads in one batch."""
        values = read_many([(reader, sel) for reader, _, sel in jobs])
        for (_, ds, sel), value in zip(jobs, values):
            ds[sel] = value
            bar.update(math.prod(s.stop - s.start for s in sel) * ds.dtype.itemsize)


def _h5py_dtype_for_objects(source: Any) -> Any:
    """The h5py dtype that holds a zarrkit object array (by its object codec)."""
    import h5py

    codec = next(iter(source.filters or []), None)
    codec_id = getattr(codec, "codec_id", None)
    if codec_id == "vlen-utf8":
        return h5py.string_dtype("utf-8")
    if codec_id == "vlen-bytes":
        return h5py.string_dtype("ascii")
    if codec is not None and codec_id == "vlen-array":
        return h5py.vlen_dtype(np.dtype(codec.dtype))
    raise TypeError(
        f"cannot copy object array {source.name} to HDF5: only strings, bytes and "
        f"variable-length arrays have an HDF5 type (object codec {codec_id!r})"
    )


def _zarr_format(node: Any) -> int:
    """The Zarr format of a zarrkit array or group (2 for anything else)."""
    fmt = getattr(type(node), "zarr_format", None)
    return node.zarr_format if fmt is not None and not _is_h5py(node) else 2


def _check_args(if_exists: str, dest: Any) -> None:
    valid = ("raise", "replace", "skip", "skip_initialized")
    if if_exists not in valid:
        raise ValueError(f"if_exists must be one of {valid}, got {if_exists!r}")
    if if_exists == "skip_initialized" and _is_h5py(dest):
        raise ValueError("if_exists='skip_initialized' can only be used when copying to zarrkit")
    if not _is_group(dest):
        raise ValueError(f"dest must be a group (zarrkit or h5py), got {dest!r}")


def copy(
    source: Any,
    dest: Any,
    name: str | None = None,
    shallow: bool = False,
    without_attrs: bool = False,
    log: Any = None,
    if_exists: str = "raise",
    dry_run: bool = False,
    progress: Any = None,
    scheduler: Any = None,
    **create_kws: Any,
) -> tuple[int, int, int]:
    """Copy an array or a group (zarrkit or h5py) into the group ``dest``, chunk by chunk.

    The destination group's Zarr format decides the copy's format: a v2 array copied into a
    v3 group becomes a v3 array (and back); from v3 to v3 the shards and dimension names go
    along, and each slab written is made of whole shards.

    Parameters
    ----------
    source : array or group
        A zarrkit array or group, or an h5py dataset, group or file.
    dest : group
        A zarrkit group or an h5py group or file.
    name : str, optional
        Name of the copy in ``dest`` (default: the source's own name).
    shallow : bool
        Copy only the arrays and groups directly in a source group, not those below.
    without_attrs : bool
        Leave user attributes behind.
    log : callable, file-like or file name, optional
        Where to write one line per object and a closing summary.
    if_exists : {'raise', 'replace', 'skip', 'skip_initialized'}
        What to do with an array that exists in the destination (groups merge). With
        ``'raise'`` every conflict is found before anything is written, so a refused copy
        copies nothing. ``'skip_initialized'`` skips only arrays whose chunks are all written.
    dry_run : bool
        Log what would be done, copy nothing.
    progress : bool or callable, optional
        ``True`` shows a tqdm bar (when tqdm is installed); a callable is called as
        ``progress(bytes_done, bytes_total)`` over the whole copy.
    scheduler : dask.distributed.Client or str, optional
        Copy on a Dask cluster (a client, or a scheduler address): the arrays and groups
        are created here, the workers copy one slab of whole destination chunks (shards)
        each; zarrkit arrays only, in stores every worker reaches. A copy interrupted part
        way is finished by running it again with ``if_exists='replace'``.
    **create_kws
        Passed to the destination's ``create_dataset`` (e.g. ``chunks``, ``compressor``).

    Memory stays bounded by one slab of whole destination chunks (``COPY_BUFFER_BYTES``)
    whatever the size of the arrays. Returns ``(n_copied, n_skipped, n_bytes_copied)``.

    >>> import zarrkit, numpy as np
    >>> src = zarrkit.group()
    >>> _ = src.array('foo/bar', np.arange(10))
    >>> zarrkit.copy(src['foo'], zarrkit.group(), log=print)
    copy /foo
    copy /foo/bar (10,) int64
    all done: 2 copied, 0 skipped, 80 bytes copied
    (2, 0, 80)
    """
    _check_args(if_exists, dest)
    if name is None:
        name = (getattr(source, "name", None) or "").split("/")[-1]
        if not name:
            raise TypeError(
                "source has no name (it is a root group or array): give `name=` the name to copy to"
            )
    copier = _Copier(if_exists, dry_run, shallow, without_attrs, create_kws, not _is_h5py(dest))
    copier.plan(source, dest, (), name, True)
    from .cluster import connect

    with _log_writer(log) as write_log, connect(None if dry_run else scheduler) as client:
        n = copier.run(dest, write_log, progress, client)
        _summary(write_log, dry_run, *n)
    return n


def copy_all(
    source: Any,
    dest: Any,
    shallow: bool = False,
    without_attrs: bool = False,
    log: Any = None,
    if_exists: str = "raise",
    dry_run: bool = False,
    progress: Any = None,
    scheduler: Any = None,
    **create_kws: Any,
) -> tuple[int, int, int]:
    """Copy every member of group ``source`` into group ``dest``, and the group's attributes.

    Takes the arguments of :func:`copy` (``scheduler=`` too). Returns ``(n_copied,
    n_skipped, n_bytes_copied)``.

    >>> import zarrkit
    >>> src = zarrkit.group()
    >>> _ = src.zeros('a', shape=4, chunks=2)
    >>> zarrkit.copy_all(src, zarrkit.group())
    (1, 0, 32)
    """
    _check_args(if_exists, dest)
    copier = _Copier(if_exists, dry_run, shallow, without_attrs, create_kws, not _is_h5py(dest))
    if copier.check_attrs:
        _zarr_attrs(source)
    for key, member in copier._members(source):
        copier.plan(member, dest, (), key, False)
    from .cluster import connect

    with _log_writer(log) as write_log, connect(None if dry_run else scheduler) as client:
        n = copier.run(dest, write_log, progress, client)
        if not dry_run and not without_attrs:
            _copy_attrs(source, dest)
        _summary(write_log, dry_run, *n)
    return n
