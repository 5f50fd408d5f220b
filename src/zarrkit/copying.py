"""Copying between stores, arrays and groups (zarrkit or h5py), streaming with bounded memory.

Every copy first plans what it will do, so that with ``if_exists='raise'`` a conflict is found
before anything is written: a refused copy copies nothing at all.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from .errors import CopyError
from .storage.base import as_store, normalize_storage_path

__all__ = ["copy_store", "copy", "copy_all"]

#: Largest slab of an array copied at once (uncompressed bytes).
COPY_BUFFER_BYTES = 64 * 2**20


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
    prefix = "dry run: " if dry_run else ""
    log(f"{prefix}all done: {n_copied:,} copied, {n_skipped:,} skipped, {nbytes:,} bytes copied")


class _Progress:
    """``progress=True`` shows a tqdm bar if tqdm is installed; a callable gets (done, total)."""

    def __init__(self, progress: Any, total: int, desc: str) -> None:
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
                self.bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True)
        elif callable(progress):
            self.callback = progress

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
) -> tuple[int, int, int]:
    """Copy every key below ``source_path`` to ``dest_path``, bytes as they are.

    No decoding or re-encoding happens, so this is the fastest way to move a hierarchy.
    ``excludes``/``includes`` are regular expressions matched against source keys (a key
    matching an exclude is skipped unless it also matches an include). Returns
    ``(n_copied, n_skipped, n_bytes_copied)``.
    """
    if if_exists not in ("raise", "replace", "skip"):
        raise ValueError(f"if_exists must be 'raise', 'replace' or 'skip', got {if_exists!r}")
    src = as_store(source)
    dst = as_store(dest) if dest is not None else None
    sp = normalize_storage_path(source_path)
    dp = normalize_storage_path(dest_path)
    sp, dp = (sp + "/" if sp else ""), (dp + "/" if dp else "")
    exc, inc = _compile(excludes, flags), _compile(includes, flags)

    plan: list[tuple[str, str, bool]] = []  # (source key, dest key, copy?)
    for key in sorted(src.keys()):
        if not key.startswith(sp):
            continue
        if any(p.search(key) for p in exc) and not any(p.search(key) for p in inc):
            continue
        dkey = dp + key[len(sp) :]
        exists = dst is not None and if_exists != "replace" and dkey in dst
        if exists and if_exists == "raise":
            raise CopyError(f"key {dkey!r} exists in destination; nothing was copied")
        plan.append((key, dkey, not exists))

    n_copied = n_skipped = nbytes = 0
    bar = _Progress(progress, len(plan), "copy_store")
    with _log_writer(log) as write_log:
        batch: list[tuple[str, str]] = []

        def flush() -> int:
            if not batch or dry_run:
                batch.clear()
                return 0
            values = src.getitems([k for k, _ in batch])
            out = {dk: values[k] for k, dk in batch if k in values}
            dst.setitems(out)  # type: ignore[union-attr]
            batch.clear()
            return sum(_nbytes(v) for v in out.values())

        for key, dkey, do_copy in plan:
            descr = key if dkey == key else f"{key} -> {dkey}"
            if do_copy:
                write_log(f"copy {descr}")
                n_copied += 1
                batch.append((key, dkey))
                if len(batch) >= 256:
                    nbytes += flush()
            else:
                write_log(f"skip {descr}")
                n_skipped += 1
            bar.update(1)
        nbytes += flush()
        _summary(write_log, dry_run, n_copied, n_skipped, nbytes)
    bar.close()
    return n_copied, n_skipped, nbytes


def _nbytes(v: Any) -> int:
    if isinstance(v, (bytes, bytearray)):
        return len(v)
    return memoryview(v).nbytes


# -- arrays and groups -------------------------------------------------------------------


def _is_h5py(obj: Any) -> bool:
    return obj is not None and type(obj).__module__.startswith("h5py")


def _is_array(obj: Any) -> bool:
    return hasattr(obj, "shape") and hasattr(obj, "dtype")


def _slabs(
    shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int
) -> Iterator[tuple[slice, ...]]:
    """Regions covering ``shape`` made of whole destination chunks, each under the copy buffer."""
    if not shape:
        yield ()
        return
    if any(s == 0 for s in shape):
        return
    chunks = tuple(min(c, s) if s else c for c, s in zip(chunks, shape))
    # grow the region from the last axis backwards while it fits the budget
    region = list(chunks)
    for axis in range(len(shape) - 1, -1, -1):
        per_chunk = math.prod(region) * itemsize
        n = max(1, COPY_BUFFER_BYTES // max(per_chunk, 1))
        region[axis] = min(shape[axis], chunks[axis] * n)
        if region[axis] < shape[axis]:
            break
    for offset in itertools.product(*(range(0, s, r) for s, r in zip(shape, region))):
        yield tuple(slice(o, min(o + r, s)) for o, r, s in zip(offset, region, shape))


class _Copier:
    def __init__(
        self,
        log: Callable[[str], None],
        if_exists: str,
        dry_run: bool,
        shallow: bool,
        without_attrs: bool,
        progress: Any,
        create_kws: dict,
    ) -> None:
        self.log = log
        self.if_exists = if_exists
        self.dry_run = dry_run
        self.shallow = shallow
        self.without_attrs = without_attrs
        self.progress = progress
        self.create_kws = create_kws

    def check(self, source: Any, dest: Any, name: str, root: bool) -> None:
        """Raise CopyError for any conflict, before anything is written."""
        if dest is None or name not in dest:
            return
        existing = dest[name]
        if _is_array(source):
            raise CopyError(f"an object {name!r} already exists in destination {dest.name!r}")
        if _is_array(existing):
            raise CopyError(f"an array {name!r} already exists in destination {dest.name!r}")
        if root or not self.shallow:
            for k in source.keys():
                self.check(source[k], existing, k, False)

    def copy(self, source: Any, dest: Any, name: str, root: bool) -> tuple[int, int, int]:
        if _is_array(source):
            return self._copy_array(source, dest, name)
        if root or not self.shallow:
            return self._copy_group(source, dest, name)
        return 0, 0, 0

    def _copy_array(self, source: Any, dest: Any, name: str) -> tuple[int, int, int]:
        exists = dest is not None and name in dest
        do_copy = True
        if exists and self.if_exists == "skip":
            do_copy = False
        elif exists and self.if_exists == "skip_initialized":
            ds = dest[name]
            do_copy = not (
                hasattr(ds, "nchunks_initialized") and ds.nchunks_initialized == ds.nchunks
            )
        if not do_copy:
            self.log(f"skip {source.name} {source.shape} {source.dtype}")
            return 0, 1, 0
        self.log(f"copy {source.name} {source.shape} {source.dtype}")
        if self.dry_run:
            return 1, 0, 0
        if exists:
            del dest[name]
        kws = dict(self.create_kws)
        src_h5, dst_h5 = _is_h5py(source), _is_h5py(dest)
        if getattr(source, "chunks", None) is not None:
            kws.setdefault("chunks", source.chunks)
        if src_h5 and dst_h5:
            for k in ("compression", "compression_opts", "shuffle", "fletcher32"):
                kws.setdefault(k, getattr(source, k))
            kws.setdefault("fillvalue", source.fillvalue)
        elif src_h5:
            kws.setdefault("fill_value", source.fillvalue)
        elif dst_h5:
            kws.setdefault("chunks", True)
            kws.setdefault("compression", "gzip")
            kws.setdefault("compression_opts", 1)
            kws.setdefault("shuffle", False)
            kws.setdefault("fillvalue", source.fill_value)
        else:
            kws.setdefault("compressor", source.compressor)
            kws.setdefault("filters", source.filters)
            kws.setdefault("order", source.order)
            kws.setdefault("fill_value", source.fill_value)
        ds = dest.create_dataset(name, shape=source.shape, dtype=source.dtype, **kws)
        chunks = ds.chunks if ds.chunks else ds.shape
        bar = _Progress(self.progress, ds.size * ds.dtype.itemsize, f"copy {source.name}")
        for sel in _slabs(tuple(ds.shape), tuple(chunks), ds.dtype.itemsize):
            block = source[sel]
            ds[sel] = block
            bar.update(math.prod(s.stop - s.start for s in sel) * ds.dtype.itemsize)
        bar.close()
        if not self.without_attrs:
            attrs = dict(source.attrs)
            if dst_h5:
                attrs.pop("filters", None)
            ds.attrs.update(attrs)
        return 1, 0, ds.size * ds.dtype.itemsize

    def _copy_group(self, source: Any, dest: Any, name: str) -> tuple[int, int, int]:
        exists_array = dest is not None and name in dest and _is_array(dest[name])
        if exists_array and self.if_exists == "skip":
            self.log(f"skip {source.name}")
            return 0, 1, 0
        self.log(f"copy {source.name}")
        if not self.dry_run:
            if exists_array:
                del dest[name]
            grp = dest.require_group(name)
            if not self.without_attrs:
                grp.attrs.update(dict(source.attrs))
        else:
            grp = dest[name] if dest is not None and name in dest else None
        n_copied, n_skipped, nbytes = 1, 0, 0
        for k in source.keys():
            c, s, b = self.copy(source[k], grp, k, False)
            n_copied, n_skipped, nbytes = n_copied + c, n_skipped + s, nbytes + b
        return n_copied, n_skipped, nbytes


def _check_if_exists(if_exists: str, dest: Any) -> None:
    valid = ("raise", "replace", "skip", "skip_initialized")
    if if_exists not in valid:
        raise ValueError(f"if_exists must be one of {valid}, got {if_exists!r}")
    if if_exists == "skip_initialized" and _is_h5py(dest):
        raise ValueError("if_exists='skip_initialized' can only be used when copying to zarrkit")


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
    **create_kws: Any,
) -> tuple[int, int, int]:
    """Copy an array or group (zarrkit or h5py) into the group ``dest``, chunk by chunk.

    Memory stays bounded by one slab of whole destination chunks (``COPY_BUFFER_BYTES``)
    whatever the array size. Returns ``(n_copied, n_skipped, n_bytes_copied)``.
    """
    _check_if_exists(if_exists, dest)
    if name is None:
        name = (getattr(source, "name", None) or "").split("/")[-1]
        if not name:
            raise TypeError(
                "source has no name (it is a root group): give `name=` the name to copy to"
            )
    with _log_writer(log) as write_log:
        copier = _Copier(
            write_log, if_exists, dry_run, shallow, without_attrs, progress, create_kws
        )
        if if_exists == "raise":
            copier.check(source, dest, name, True)
        n = copier.copy(source, dest, name, True)
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
    **create_kws: Any,
) -> tuple[int, int, int]:
    """Copy every member of group ``source`` into group ``dest`` (and the group's attributes)."""
    _check_if_exists(if_exists, dest)
    totals = [0, 0, 0]
    with _log_writer(log) as write_log:
        copier = _Copier(
            write_log, if_exists, dry_run, shallow, without_attrs, progress, create_kws
        )
        if if_exists == "raise":
            for k in source.keys():
                copier.check(source[k], dest, k, False)
        for k in source.keys():
            for i, v in enumerate(copier.copy(source[k], dest, k, False)):
                totals[i] += v
        if not dry_run and not without_attrs:
            dest.attrs.update(dict(source.attrs))
        _summary(write_log, dry_run, *totals)
    return totals[0], totals[1], totals[2]
