"""The commands: each takes the parsed arguments, prints, and returns the exit code."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any, TextIO

import numpy as np

from ..core import Array
from ..storage.base import prefix_of
from ..tools.copying import copy_store
from .options import UsageError, chunk_shape, size, split_selection, storage_options
from .progress import progress_callback
from .stores import (
    CommandError,
    about,
    close,
    is_n5,
    is_url,
    open_data,
    open_store,
    options_for,
)

OK = 0
PROBLEMS = 1
BAD_INPUT = 2


def _options(args: argparse.Namespace) -> dict | None:
    return storage_options(args.storage_option)


def _is_array(node: Any) -> bool:
    return isinstance(node, Array)


def info(args: argparse.Namespace) -> int:
    store, node = open_data(args.path, _options(args))
    try:
        with about(args.path):
            sys.stdout.write(repr(node.info))
    finally:
        close(store)
    return OK


def tree(args: argparse.Namespace) -> int:
    store, node = open_data(args.path, _options(args))
    try:
        with about(args.path):
            if _is_array(node):
                print(f"{node.name or '/'} {node.shape} {node.dtype}")
            else:
                print(node.tree(level=args.level))
    finally:
        close(store)
    return OK


def _describe(node: Any) -> str:
    if _is_array(node):
        shape = ", ".join(map(str, node.shape))
        chunks = ", ".join(map(str, node.chunks))
        text = f"Array {{{shape}}} {node.dtype} chunks {{{chunks}}}"
        if node.shards is not None:  # Zarr v3 only: v2 lines stay as they were
            text += " shards {" + ", ".join(map(str, node.shards)) + "}"
        if node.dimension_names is not None:
            names = ("-" if n is None else n for n in node.dimension_names)
            text += " dims {" + ", ".join(names) + "}"
        return text
    return "Group"


def ls(args: argparse.Namespace) -> int:
    store, node = open_data(args.path, _options(args))
    try:
        with about(args.path):
            rows: list[tuple[str, str]] = []
            if _is_array(node):
                rows.append((node.name or "/", _describe(node)))
            elif args.recursive:
                rows.append((node.name or "/", "Group"))
                node.visititems(lambda _, obj: rows.append((obj.name, _describe(obj))))
            else:
                rows.extend((name, _describe(obj)) for name, obj in node.items())
            width = max((len(n) for n, _ in rows), default=0)
            for name, what in rows:
                print(f"{name.ljust(max(width, 24))} {what}")
    finally:
        close(store)
    return OK


@contextlib.contextmanager
def _output(target: str | None, binary: bool) -> Iterator[Any]:
    if target is None or target == "-":
        yield sys.stdout.buffer if binary else sys.stdout
        return
    with open(target, "wb" if binary else "w") as f:
        yield f


def _write_csv(data: np.ndarray, out: TextIO) -> None:
    """One row per line (a 1-d selection is one column), items as Python prints them."""
    if data.dtype.names is not None:
        raise UsageError("csv takes plain items, not records; use --format npy")
    if data.ndim > 2:
        raise UsageError(
            f"csv takes 0-, 1- or 2-d selections, this one is {data.ndim}-d; use --format npy"
        )
    rows = data.reshape(-1, 1) if data.ndim < 2 else data
    for row in rows:
        out.write(",".join(_csv_item(x) for x in row) + "\n")


def _csv_item(x: Any) -> str:
    if isinstance(x, float):  # np.float64 too: the shortest text that reads back the same
        return repr(float(x))
    if isinstance(x, np.floating):
        return str(x)
    if isinstance(x, bytes):
        x = x.decode("utf-8", "backslashreplace")
    text = str(x)
    if any(c in text for c in ',"\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def cat(args: argparse.Namespace) -> int:
    path, sel = split_selection(args.path)
    store, node = open_data(path, _options(args))
    try:
        if not _is_array(node):
            raise CommandError(path, "is a group; cat takes an array (ls lists its members)")
        with about(args.path):
            data = np.asarray(node[sel if sel is not None else ...])
            binary = args.format == "npy"
            with _output(args.output, binary) as out:
                if binary:
                    np.save(out, data, allow_pickle=data.dtype.hasobject)
                else:
                    _write_csv(data, out)
    finally:
        close(store)
    return OK


def copy(args: argparse.Namespace) -> int:
    so = _options(args)
    if so and not any(is_url(p) for p in (args.source, args.dest)):
        raise CommandError(args.source, "--storage-option is only for URLs (s3://..., gs://...)")
    src, src_node = open_data(args.source, options_for(args.source, so))
    try:
        dst, dst_path = open_store(args.dest, "a", options_for(args.dest, so), must_exist=False)
        try:
            if is_n5(src) != is_n5(dst):
                raise CommandError(
                    args.dest,
                    "copy moves stored bytes and cannot convert between N5 and Zarr; "
                    "use rechunk (reads and writes through the arrays)",
                )
            quiet = args.quiet
            log = print if (args.verbose or args.dry_run) and not quiet else None
            with progress_callback("copy", "keys", quiet) as bar, about(args.dest):
                n_copied, n_skipped, nbytes = copy_store(
                    src,
                    dst,
                    source_path=src_node.path,
                    dest_path=dst_path,
                    if_exists=args.if_exists,
                    dry_run=args.dry_run,
                    log=log,
                    progress=bar,
                    scheduler=args.scheduler,
                )
            if not quiet and log is None:
                print(
                    f"all done: {n_copied:,} copied, {n_skipped:,} skipped, {nbytes:,} bytes copied"
                )
        finally:
            with about(args.dest):
                close(dst)
    finally:
        close(src)
    return OK


def consolidate(args: argparse.Namespace) -> int:
    from ..convenience import consolidate_metadata

    so = _options(args)
    store, node = open_data(args.path, so)
    close(store)
    v3 = getattr(node, "zarr_format", 2) == 3
    if v3 and _is_array(node):
        raise CommandError(args.path, "is a Zarr v3 array; consolidate takes a group")
    store, inner = open_store(args.path, "r+", so)
    try:
        with about(args.path):
            consolidate_metadata(store, path=inner)
            if v3:  # inside the group's zarr.json, as zarr-python 3 writes them
                key = prefix_of(inner) + "zarr.json"
                n = len(json.loads(store[key])["consolidated_metadata"]["metadata"])
            else:
                n = len(json.loads(store[".zmetadata"])["metadata"])
        if not args.quiet:
            where = f"{key} (consolidated_metadata)" if v3 else ".zmetadata"
            print(f"wrote {where}: {n} metadata documents")
    finally:
        with about(args.path):
            close(store)
    return OK


def verify(args: argparse.Namespace) -> int:
    from ..tools.verify import verify as run_verify

    so = _options(args)
    store, inner = open_store(args.path, "r", so)
    max_mem = size(args.max_mem)
    try:
        with progress_callback("verify", "keys", args.quiet) as bar, about(args.path):
            report = run_verify(
                store,
                inner,
                missing_is_error=args.missing_is_error,
                write_checksums=args.write_checksums,
                check_checksums=args.check_checksums,
                max_mem=max_mem,
                progress=bar,
                scheduler=args.scheduler,
            )
    finally:
        close(store)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    elif args.quiet:
        print(report.summary())
    else:
        print("\n".join(report.lines()))
    return OK if report.ok else PROBLEMS


def _chunks_argument(values: list[str], option: str = "--chunks") -> Any:
    """``['1000,1000']`` -> a shape; ``['a=10,10', 'g/b=5']`` -> ``{path: shape}``."""
    named = [v for v in values if "=" in v]
    if not named:
        if len(values) > 1:
            raise UsageError(f"give one {option} SHAPE, or ARRAY=SHAPE for each array to change")
        return chunk_shape(values[0], option)
    if len(named) != len(values):
        raise UsageError(f"{option}: give either one SHAPE or ARRAY=SHAPE entries, not both")
    return {
        name: chunk_shape(shape, option) for name, _, shape in (v.partition("=") for v in values)
    }


def _shards_argument(values: list[str]) -> Any:
    """``--shards``: as ``--chunks``, and ``auto`` (alone, or as ``ARRAY=auto``)."""
    if values == ["auto"]:
        return "auto"
    auto = {v.partition("=")[0] for v in values if v.endswith("=auto")}
    rest = [v for v in values if not v.endswith("=auto")]
    spec = _chunks_argument(rest, "--shards") if rest else None
    if not auto:
        return spec
    if spec is not None and not isinstance(spec, dict):
        raise UsageError("--shards: give either one SHAPE or ARRAY=SHAPE entries, not both")
    return {**(spec or {}), **dict.fromkeys(auto, "auto")}


def rechunk(args: argparse.Namespace) -> int:
    from ..tools.rechunking import rechunk as run_rechunk

    chunks = _chunks_argument(args.chunks)
    max_mem = size(args.max_mem)
    so = _options(args)
    if so and not any(is_url(p) for p in (args.source, args.dest)):
        raise CommandError(args.source, "--storage-option is only for URLs (s3://..., gs://...)")
    src, node = open_data(args.source, options_for(args.source, so))
    try:
        dst, dst_path = open_store(args.dest, "a", options_for(args.dest, so), must_exist=False)
        try:
            occupied = any(
                k.rpartition("/")[2] in (".zarray", ".zgroup", "zarr.json")
                for k in dst.keys_under(dst_path)
            )
            if occupied and not args.overwrite:
                raise CommandError(args.dest, "holds data already (--overwrite replaces it)")
            if dst_path:
                raise CommandError(args.dest, "rechunk writes to the root of a store")
            with progress_callback("rechunk", "blocks", args.quiet) as bar, about(args.dest):
                run_rechunk(
                    node,
                    dst,
                    chunks,
                    max_mem,
                    temp_dir=args.temp,
                    overwrite=args.overwrite,
                    progress=bar,
                    scheduler=args.scheduler,
                )
        finally:
            with about(args.dest):
                close(dst)
    finally:
        close(src)
    if not args.quiet:
        print(f"rechunked {args.source} -> {args.dest}")
    return OK


def _same_path(a: str, b: str) -> bool:
    if is_url(a) or is_url(b):
        return a.rstrip("/") == b.rstrip("/")
    return os.path.realpath(a) == os.path.realpath(b)


def convert(args: argparse.Namespace) -> int:
    from ..tools.converting import VerificationError
    from ..tools.converting import convert as run_convert

    shards = _shards_argument(args.shards) if args.shards else None
    chunks = _chunks_argument(args.chunks, "--chunks") if args.chunks else None
    max_mem = size(args.max_mem)
    so = _options(args)
    if so and not any(is_url(p) for p in (args.source, args.dest)):
        raise CommandError(args.source, "--storage-option is only for URLs (s3://..., gs://...)")
    in_place = _same_path(args.source, args.dest)
    src, node = open_data(args.source, options_for(args.source, so))
    if in_place:  # one store, opened writable: its old keys are deleted at the end
        close(src)
        src, inner = open_store(args.source, "r+", options_for(args.source, so))
        dst, dst_path = src, inner
    try:
        if not in_place:
            dst, dst_path = open_store(args.dest, "a", options_for(args.dest, so), must_exist=False)
        try:
            if dst_path:
                raise CommandError(args.dest, "convert writes to the root of a store")
            with progress_callback("convert", "steps", args.quiet) as bar, about(args.dest):
                try:
                    report = run_convert(
                        src,
                        dst,
                        path=node.path,
                        zarr_format=args.zarr_format,
                        shards=shards,
                        chunks=chunks,
                        max_mem=max_mem,
                        verify=not args.no_verify,
                        overwrite=args.overwrite,
                        temp_dir=args.temp,
                        progress=bar,
                        scheduler=args.scheduler,
                    )
                except VerificationError as e:
                    print(f"zarrkit convert: {args.dest}: {e}", file=sys.stderr)
                    return PROBLEMS
        finally:
            if not in_place:
                with about(args.dest):
                    close(dst)
    finally:
        close(src)
    if args.json:
        out = asdict(report)
        out.update(
            n_arrays=report.n_arrays,
            n_byte_copied=report.n_byte_copied,
            n_re_encoded=report.n_re_encoded,
            bytes_copied=report.bytes_copied,
            summary=report.summary(),
        )
        print(json.dumps(out, indent=2))
    elif not args.quiet:
        print("\n".join(report.lines()))
    return OK
