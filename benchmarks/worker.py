"""One library's side of ``benchmarks/peers.py``: a persistent worker speaking JSON lines.

Run by the orchestrator as ``<venv python> worker.py LIB`` (LIB: ``zarrkit``, ``zarr2``,
``zarrs``, ``zarrs34``, ``fused``, ``tensorstore``), each in its own venv. It reads one
request per line on stdin and answers one JSON line on stdout:

- ``{"op": "hello", "config": {...}, "root": DIR, "name": NAME}`` -> ``{"ok": true,
  "versions": {...}}``; makes the data (the same seed everywhere), remembers the sizes and
  works in ``DIR/NAME`` (NAME defaults to LIB).
- ``{"op": "run", "workload": NAME, "repeat": N, "warmup": W}`` -> ``{"ok": true, "times":
  [...]}``; prepares what the workload reads (once per worker, untimed), runs W repetitions
  whose times are dropped, then N timed ones, and checks every result against NumPy
  (outside the timed part).
- ``{"op": "memory", "what": "prepare"|"read"|"write"}`` -> peak RSS above the baseline, in
  bytes (``prepare`` writes the array that ``read``, in a fresh worker, reads).
- ``{"op": "quit"}``.

A failure answers ``{"ok": false, "error": "..."}`` and the worker stays usable. Only NumPy
and the library under test are imported, so the worker runs in any of the peer venvs.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

# -- the data and the checks ---------------------------------------------------------------


def make_data(n: int, seed: int) -> np.ndarray:
    """A smooth ramp plus small noise: compresses like real measurement data."""
    rng = np.random.default_rng(seed)
    i = np.arange(n, dtype=np.int32)
    data = (i[:, None] * 5 + i[None, :] * 3).astype(np.int32)
    data += rng.integers(-16, 16, size=(n, n), dtype=np.int32)
    return data


def check_equal(got: Any, expected: np.ndarray, what: str) -> None:
    """Raise AssertionError unless ``got`` has ``expected``'s shape, dtype and items."""
    got = np.asarray(got)
    if got.shape != expected.shape or got.dtype != expected.dtype:
        raise AssertionError(
            f"{what}: got shape {got.shape} {got.dtype}, expected {expected.shape} {expected.dtype}"
        )
    if not np.array_equal(got, expected):
        bad = np.argwhere(got != expected)
        raise AssertionError(
            f"{what}: {len(bad)} items differ, first at {tuple(int(i) for i in bad[0])}"
        )


def rss_status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


METADATA_FILES = (".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json")


def chunk_files(path: str) -> list[str]:
    """The files under ``path`` that are no metadata document: chunks (or shards)."""
    return [f for f in dir_files(path) if os.path.basename(f) not in METADATA_FILES]


def dir_files(path: str) -> list[str]:
    """Every file under ``path``, relative to it."""
    out = []
    for base, _, files in os.walk(path):
        out.extend(os.path.relpath(os.path.join(base, f), path) for f in files)
    return out


# -- libraries -----------------------------------------------------------------------------


class Lib:
    """One library behind the operations the workloads need.

    An array handle supports ``a[sel]``, ``a[sel] = value``, ``a.oindex[...]`` and
    ``a.vindex[...]`` (NumPy results) except where a method here says otherwise.
    """

    name = ""
    consolidated = True

    def versions(self) -> dict[str, str]:
        raise NotImplementedError

    def create(self, path: str, shape: tuple, chunks: tuple, compressed: bool = True,
               write_empty_chunks: bool = True) -> Any:  # fmt: skip
        raise NotImplementedError

    def open(self, path: str) -> Any:
        raise NotImplementedError

    def write(self, a: Any, data: np.ndarray) -> None:
        a[...] = data

    def read(self, a: Any, sel: Any) -> np.ndarray:
        return a[sel]

    def oindex(self, a: Any, sel: Any) -> np.ndarray:
        return a.oindex[sel]

    def vindex(self, a: Any, sel: Any) -> np.ndarray:
        return a.vindex[sel]

    def create_v3(self, path: str, shape: tuple, chunks: tuple, shards: tuple | None,
                  level: int) -> Any:  # fmt: skip
        """A fresh Zarr v3 int32 array, fill value 0, zstd at ``level`` (no checksum); with
        ``shards``, ``chunks`` are the inner chunks of a ``sharding_indexed`` codec (index
        ``bytes`` + ``crc32c`` at the end of each shard)."""
        raise NotSupported(f"{self.name} writes no Zarr v3")

    def open_v3(self, path: str) -> Any:
        raise NotSupported(f"{self.name} reads no Zarr v3")

    def create_group(self, path: str, names: list[str], shape: tuple, chunks: tuple) -> None:
        raise NotImplementedError

    def open_group_each(self, path: str, names: list[str]) -> list[tuple]:
        """Open the group, then each member array; the members' shapes."""
        raise NotImplementedError

    def consolidate(self, path: str) -> None:
        raise NotImplementedError

    def open_consolidated_each(self, path: str, names: list[str]) -> list[tuple]:
        raise NotImplementedError


def blosc_config() -> dict[str, Any]:
    return {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}


class Zarr2Api(Lib):
    """zarrkit or zarr-python 2.x: the same API (``import zarrkit as zarr``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "zarrkit":
            import zarrkit as zarr
        else:
            import zarr
        import numcodecs

        self.zarr = zarr
        self.numcodecs = numcodecs
        if name == "zarr2" and not zarr.__version__.startswith("2."):
            raise RuntimeError(f"the zarr2 worker found zarr {zarr.__version__}")

    def versions(self) -> dict[str, str]:
        out = {self.name: self.zarr.__version__, "numcodecs": self.numcodecs.__version__}
        if self.name == "zarrkit":
            out["zarrkit_path"] = os.path.dirname(self.zarr.__file__)
        return out

    def compressor(self, compressed: bool) -> Any:
        if not compressed:
            return None
        return self.numcodecs.Blosc(cname="lz4", clevel=5, shuffle=self.numcodecs.Blosc.SHUFFLE)

    def create(self, path, shape, chunks, compressed=True, write_empty_chunks=True):
        return self.zarr.open_array(
            path, mode="w", shape=shape, chunks=chunks, dtype="i4", fill_value=0,
            compressor=self.compressor(compressed), write_empty_chunks=write_empty_chunks,
        )  # fmt: skip

    def open(self, path):
        return self.zarr.open_array(path, mode="r")

    def create_v3(self, path, shape, chunks, shards, level):
        if self.name != "zarrkit":
            raise NotSupported("zarr-python 2.18 has no Zarr v3")
        return self.zarr.create(
            shape, chunks=chunks, shards=shards, dtype="i4", fill_value=0,
            compressor=self.numcodecs.Zstd(level=level), zarr_format=3, store=path,
            overwrite=True,
        )  # fmt: skip

    def open_v3(self, path):
        if self.name != "zarrkit":
            raise NotSupported("zarr-python 2.18 has no Zarr v3")
        return self.zarr.open_array(path, mode="r")

    def create_group(self, path, names, shape, chunks):
        g = self.zarr.open_group(path, mode="w")
        comp = self.compressor(True)
        if hasattr(g, "create_arrays"):  # zarrkit: the same arrays, created in one batch
            spec = dict(shape=shape, chunks=chunks, dtype="i4", compressor=comp)
            g.create_arrays({name: spec for name in names})
            return
        for name in names:
            g.create_dataset(name, shape=shape, chunks=chunks, dtype="i4", compressor=comp)

    def open_group_each(self, path, names):
        g = self.zarr.open_group(path, mode="r")
        return [g[name].shape for name in names]

    def consolidate(self, path):
        self.zarr.consolidate_metadata(path)

    def open_consolidated_each(self, path, names):
        g = self.zarr.open_consolidated(path, mode="r")
        return [g[name].shape for name in names]


class Zarr3Api(Lib):
    """zarr-python 3 writing Zarr v2 data, with the codec pipeline of ``name``:
    ``zarrs``/``zarrs34`` the Rust zarrs pipeline, ``fused`` zarr 3.4's FusedCodecPipeline."""

    PIPELINES = {
        "zarrs": "zarrs.ZarrsCodecPipeline",
        "zarrs34": "zarrs.ZarrsCodecPipeline",
        "fused": "zarr.core.codec_pipeline.FusedCodecPipeline",
    }

    def __init__(self, name: str) -> None:
        import numcodecs
        import zarr

        self.name = name
        self.zarr = zarr
        self.numcodecs = numcodecs
        settings: dict[str, Any] = {"codec_pipeline.path": self.PIPELINES[name]}
        if name.startswith("zarrs"):
            import zarrs  # noqa: F401  (the pipeline class must be importable)

            # not strict: selections zarrs cannot do in Rust (oindex/vindex with integer
            # arrays) go to zarr's Python pipeline, as zarrs does by default; an array zarrs
            # cannot handle at all would warn, made an error below
            settings["codec_pipeline.strict"] = False
        zarr.config.set(settings)
        # The pipeline class is resolved when an array is made: check it took.
        warnings.filterwarnings("error", message=".*unsupported by ZarrsCodecPipeline.*")

    def versions(self) -> dict[str, str]:
        out = {"zarr": self.zarr.__version__, "numcodecs": self.numcodecs.__version__}
        if self.name.startswith("zarrs"):
            from importlib.metadata import version

            out["zarrs"] = version("zarrs")
        out["codec_pipeline"] = self.zarr.config.get("codec_pipeline.path")
        return out

    def compressors(self, compressed: bool) -> Any:
        if not compressed:
            return None
        return self.numcodecs.Blosc(cname="lz4", clevel=5, shuffle=self.numcodecs.Blosc.SHUFFLE)

    def check_pipeline(self, a: Any) -> None:
        got = type(a._async_array.codec_pipeline).__name__
        want = self.PIPELINES[self.name].rsplit(".", 1)[1]
        if got != want:
            raise AssertionError(f"{self.name}: codec pipeline is {got}, expected {want}")

    def create(self, path, shape, chunks, compressed=True, write_empty_chunks=True):
        a = self.zarr.create_array(
            store=path, shape=shape, chunks=chunks, dtype="i4", fill_value=0,
            compressors=self.compressors(compressed), filters=None, zarr_format=2,
            overwrite=True, config={"write_empty_chunks": write_empty_chunks},
        )  # fmt: skip
        self.check_pipeline(a)
        return a

    def open(self, path):
        a = self.zarr.open_array(path, mode="r", zarr_format=2)
        self.check_pipeline(a)
        return a

    def create_v3(self, path, shape, chunks, shards, level):
        from zarr.codecs import ZstdCodec

        a = self.zarr.create_array(
            store=path, shape=shape, chunks=chunks, shards=shards, dtype="i4", fill_value=0,
            compressors=ZstdCodec(level=level, checksum=False), filters=None, zarr_format=3,
            overwrite=True,
        )  # fmt: skip
        self.check_pipeline(a)
        return a

    def open_v3(self, path):
        a = self.zarr.open_array(path, mode="r", zarr_format=3)
        self.check_pipeline(a)
        return a

    def create_group(self, path, names, shape, chunks):
        g = self.zarr.open_group(path, mode="w", zarr_format=2)
        comp = self.compressors(True)
        for name in names:
            g.create_array(name, shape=shape, chunks=chunks, dtype="i4", compressors=comp,
                           filters=None, fill_value=0)  # fmt: skip

    def open_group_each(self, path, names):
        g = self.zarr.open_group(path, mode="r", zarr_format=2, use_consolidated=False)
        return [g[name].shape for name in names]

    def consolidate(self, path):
        self.zarr.consolidate_metadata(path, zarr_format=2)

    def open_consolidated_each(self, path, names):
        g = self.zarr.open_consolidated(path, mode="r", zarr_format=2)
        return [g[name].shape for name in names]


class TsArray:
    """A tensorstore array: every access one blocking ``read()``/``write()``."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __getitem__(self, sel: Any) -> np.ndarray:
        return self.store[sel].read().result()

    def __setitem__(self, sel: Any, value: np.ndarray) -> None:
        self.store[sel].write(value).result()

    @property
    def oindex(self) -> Any:
        return _TsIndexer(self.store.oindex)

    @property
    def vindex(self) -> Any:
        return _TsIndexer(self.store.vindex)


class _TsIndexer:
    def __init__(self, indexer: Any) -> None:
        self.indexer = indexer

    def __getitem__(self, sel: Any) -> np.ndarray:
        return self.indexer[sel].read().result()


class TensorstoreLib(Lib):
    """tensorstore's ``zarr`` driver on a ``file`` kvstore; chunk cache off (``cache_pool``
    0 bytes) and ``file_io_sync`` off, as the other libraries neither cache nor fsync.

    Groups: tensorstore has none; a group is its ``.zgroup`` written through the kvstore
    and the arrays are created (opened) concurrently, tensorstore's own way (all futures
    first, then the results). Consolidated metadata: not supported (n/a).
    """

    name = "tensorstore"
    consolidated = False

    def __init__(self) -> None:
        import tensorstore as ts

        self.ts = ts
        self.context = ts.Context({"cache_pool": {"total_bytes_limit": 0}, "file_io_sync": False})

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"tensorstore": version("tensorstore")}

    def spec(self, path: str, shape=None, chunks=None, compressed=True) -> dict[str, Any]:
        spec: dict[str, Any] = {"driver": "zarr", "kvstore": {"driver": "file", "path": path}}
        if shape is not None:
            spec["metadata"] = {
                "shape": list(shape), "chunks": list(chunks), "dtype": "<i4",
                "compressor": blosc_config() if compressed else None,
                "fill_value": 0, "order": "C", "filters": None,
            }  # fmt: skip
        return spec

    def create(self, path, shape, chunks, compressed=True, write_empty_chunks=True):
        spec = self.spec(path, shape, chunks, compressed)
        # store_data_equal_to_fill_value: write chunks equal to the fill value (zarr 2's
        # write_empty_chunks=True); tensorstore's default (False) skips them.
        spec["store_data_equal_to_fill_value"] = write_empty_chunks
        t = self.ts.open(spec, create=True, delete_existing=True, context=self.context)
        return TsArray(t.result())

    def open(self, path):
        return TsArray(self.ts.open(self.spec(path), open=True, context=self.context).result())

    def create_v3(self, path, shape, chunks, shards, level):
        bytes_codec = {"name": "bytes", "configuration": {"endian": "little"}}
        codecs: list[dict[str, Any]] = [
            bytes_codec, {"name": "zstd", "configuration": {"level": level, "checksum": False}},
        ]  # fmt: skip
        if shards is not None:
            codecs = [{
                "name": "sharding_indexed",
                "configuration": {
                    "chunk_shape": list(chunks), "codecs": codecs,
                    "index_codecs": [bytes_codec, {"name": "crc32c"}], "index_location": "end",
                },
            }]  # fmt: skip
        spec = {
            "driver": "zarr3",
            "kvstore": {"driver": "file", "path": path},
            "metadata": {
                "shape": list(shape), "data_type": "int32", "fill_value": 0,
                "chunk_grid": {"name": "regular",
                               "configuration": {"chunk_shape": list(shards or chunks)}},
                "chunk_key_encoding": {"name": "default"}, "codecs": codecs,
            },
        }  # fmt: skip
        t = self.ts.open(spec, create=True, delete_existing=True, context=self.context)
        return TsArray(t.result())

    def open_v3(self, path):
        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": path}}
        return TsArray(self.ts.open(spec, open=True, context=self.context).result())

    def create_group(self, path, names, shape, chunks):
        kv = self.ts.KvStore.open({"driver": "file", "path": path + "/"}, context=self.context)
        kv.result().write(".zgroup", b'{\n    "zarr_format": 2\n}').result()
        futures = [
            self.ts.open(
                self.spec(f"{path}/{name}", shape, chunks), create=True, context=self.context
            )
            for name in names
        ]
        for f in futures:
            f.result()

    def open_group_each(self, path, names):
        kv = self.ts.KvStore.open({"driver": "file", "path": path + "/"}, context=self.context)
        if kv.result().read(".zgroup").result().state != "value":
            raise AssertionError("no .zgroup")
        futures = [
            self.ts.open(self.spec(f"{path}/{name}"), open=True, context=self.context)
            for name in names
        ]
        return [tuple(f.result().shape) for f in futures]


def load_lib(name: str) -> Lib:
    """The adapter of ``name`` (one of the worker's library names)."""
    if name in ("zarrkit", "zarr2"):
        return Zarr2Api(name)
    if name in Zarr3Api.PIPELINES:
        return Zarr3Api(name)
    if name == "tensorstore":
        return TensorstoreLib()
    raise ValueError(f"unknown library {name!r}")


# -- workloads -----------------------------------------------------------------------------


class Workloads:
    """The rows of the table, each a method ``w_<name>(repeat) -> [seconds per rep]``."""

    def __init__(self, lib: Lib, config: dict[str, Any], root: str) -> None:
        self.lib = lib
        self.cfg = config
        self.root = root
        self.counter = 0
        n = config["n"]
        self.shape = (n, n)
        self.data = make_data(n, config["seed"])
        self.prepared: dict[str, Any] = {}
        self.names = [f"a{i:03d}" for i in range(config["narrays"])]

    def fresh(self, tag: str) -> str:
        self.counter += 1
        return os.path.join(self.root, f"{tag}-{self.counter}")

    def timed(self, repeat: int, body: Callable[[], Any], setup: Callable[[], Any] | None,
              check: Callable[[Any, Any], None]) -> list[float]:  # fmt: skip
        """Time ``body(state)`` ``repeat`` times; ``setup()`` makes the state, ``check``
        sees the state and the result, both untimed."""
        times = []
        for _ in range(repeat):
            state = setup() if setup else None
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                result = body(state) if setup else body()  # type: ignore[call-arg]
                t1 = time.perf_counter()
            finally:
                gc.enable()
            check(state, result)
            del result, state
            times.append(t1 - t0)
        return times

    # prepared arrays (written once per worker by the library itself, untimed)
    def array(self, key: str, chunk: int, compressed: bool = True) -> Any:
        if key not in self.prepared:
            path = os.path.join(self.root, key)
            a = self.lib.create(path, self.shape, (chunk, chunk), compressed)
            self.lib.write(a, self.data)
            self.prepared[key] = self.lib.open(path)
        return self.prepared[key]

    def write_rows(self, repeat: int, chunk: int, compressed: bool = True) -> list[float]:
        def setup() -> Any:
            path = self.fresh("w")
            return path, self.lib.create(path, self.shape, (chunk, chunk), compressed)

        def check(state: Any, _: Any) -> None:
            path = state[0]
            check_equal(self.lib.read(self.lib.open(path), ...), self.data, "read back")
            n_chunks = (-(-self.shape[0] // chunk)) ** 2
            if len(chunk_files(path)) != n_chunks:
                raise AssertionError(f"expected {n_chunks} chunk files in {path}")
            shutil.rmtree(path)

        return self.timed(repeat, lambda s: self.lib.write(s[1], self.data), setup, check)

    def read_rows(self, repeat: int, key: str, chunk: int, compressed: bool = True) -> list[float]:
        a = self.array(key, chunk, compressed)
        return self.timed(
            repeat, lambda: self.lib.read(a, ...), None,
            lambda _, got: check_equal(got, self.data, "whole read"),
        )  # fmt: skip

    def region_rows(self, repeat: int, across: bool) -> list[float]:
        c, r, n = self.cfg["chunk"], self.cfg["region"], self.cfg["n"]
        a = self.array("c-large", c)
        rng = np.random.default_rng(self.cfg["seed"] + (2 if across else 1))
        calls = self.cfg["region_calls"]
        if across:  # centred on an inner chunk corner: four chunks
            corners = rng.integers(1, n // c, size=(calls, 2)) * c
            starts = corners - r // 2
        else:  # inside one chunk
            starts = rng.integers(0, n // c, size=(calls, 2)) * c
            starts += rng.integers(0, c - r + 1, size=(calls, 2))
        sels = [(slice(i, i + r), slice(j, j + r)) for i, j in starts.tolist()]

        def body() -> list[np.ndarray]:
            return [self.lib.read(a, s) for s in sels]

        def check(_: Any, got: list[np.ndarray]) -> None:
            for s, g in zip(sels, got, strict=True):
                check_equal(g, self.data[s], f"region {s}")

        return [t / calls for t in self.timed(repeat, body, None, check)]

    # the rows
    def w_write_c1000(self, repeat: int) -> list[float]:
        return self.write_rows(repeat, self.cfg["chunk"])

    def w_read_c1000(self, repeat: int) -> list[float]:
        return self.read_rows(repeat, "c-large", self.cfg["chunk"])

    def w_region_1chunk(self, repeat: int) -> list[float]:
        return self.region_rows(repeat, across=False)

    def w_region_4chunks(self, repeat: int) -> list[float]:
        return self.region_rows(repeat, across=True)

    def w_write_c100(self, repeat: int) -> list[float]:
        return self.write_rows(repeat, self.cfg["small_chunk"])

    def w_read_c100(self, repeat: int) -> list[float]:
        return self.read_rows(repeat, "c-small", self.cfg["small_chunk"])

    def w_oindex(self, repeat: int) -> list[float]:
        return self.oindex_rows(repeat, self.array("c-large", self.cfg["chunk"]))

    def oindex_rows(self, repeat: int, a: Any) -> list[float]:
        """``a.oindex[rows, :]``: ``rows`` distinct random rows, unsorted."""
        rng = np.random.default_rng(self.cfg["seed"] + 3)
        rows = rng.choice(self.cfg["n"], size=min(self.cfg["rows"], self.cfg["n"]), replace=False)
        sel = (rows, slice(None))
        return self.timed(
            repeat, lambda: self.lib.oindex(a, sel), None,
            lambda _, got: check_equal(got, self.data[rows, :], "oindex"),
        )  # fmt: skip

    def w_vindex(self, repeat: int) -> list[float]:
        a = self.array("c-large", self.cfg["chunk"])
        rng = np.random.default_rng(self.cfg["seed"] + 4)
        rows = rng.integers(0, self.cfg["n"], size=self.cfg["points"])
        cols = rng.integers(0, self.cfg["n"], size=self.cfg["points"])
        return self.timed(
            repeat, lambda: self.lib.vindex(a, (rows, cols)), None,
            lambda _, got: check_equal(got, self.data[rows, cols], "vindex"),
        )  # fmt: skip

    def w_write_raw(self, repeat: int) -> list[float]:
        return self.write_rows(repeat, self.cfg["chunk"], compressed=False)

    def w_read_raw(self, repeat: int) -> list[float]:
        return self.read_rows(repeat, "c-raw", self.cfg["chunk"], compressed=False)

    def w_write_fill(self, repeat: int) -> list[float]:
        zeros = np.zeros(self.shape, dtype="i4")
        chunk = self.cfg["chunk"]

        def setup() -> Any:
            path = self.fresh("fill")
            a = self.lib.create(path, self.shape, (chunk, chunk), write_empty_chunks=False)
            return path, a

        def check(state: Any, _: Any) -> None:
            path = state[0]
            chunks = chunk_files(path)
            if chunks:
                raise AssertionError(f"{len(chunks)} chunks written, expected none")
            check_equal(self.lib.read(self.lib.open(path), ...), zeros, "read back")
            shutil.rmtree(path)

        return self.timed(repeat, lambda s: self.lib.write(s[1], zeros), setup, check)

    # Zarr v3, zstd: sharded (inner chunks in shards) and unsharded
    def v3_layout(self, sharded: bool) -> tuple[tuple, tuple | None]:
        """(chunks, shards) of a v3 row: the inner chunks and shards, or the large chunks."""
        if sharded:
            return (self.cfg["inner"],) * 2, (self.cfg["shard"],) * 2
        return (self.cfg["chunk"],) * 2, None

    def array_v3(self, sharded: bool) -> Any:
        key = "v3-shard" if sharded else "v3-c-large"
        if key not in self.prepared:
            path = os.path.join(self.root, key)
            a = self.lib.create_v3(path, self.shape, *self.v3_layout(sharded), self.cfg["zstd"])
            self.lib.write(a, self.data)
            self.prepared[key] = self.lib.open_v3(path)
        return self.prepared[key]

    def write_v3_rows(self, repeat: int, sharded: bool) -> list[float]:
        chunks, shards = self.v3_layout(sharded)
        n_files = (-(-self.shape[0] // (shards or chunks)[0])) ** 2

        def setup() -> Any:
            path = self.fresh("v3")
            return path, self.lib.create_v3(path, self.shape, chunks, shards, self.cfg["zstd"])

        def check(state: Any, _: Any) -> None:
            path = state[0]
            check_equal(self.lib.read(self.lib.open_v3(path), ...), self.data, "read back")
            if len(chunk_files(path)) != n_files:
                raise AssertionError(f"expected {n_files} chunk (shard) files in {path}")
            shutil.rmtree(path)

        return self.timed(repeat, lambda s: self.lib.write(s[1], self.data), setup, check)

    def read_v3_rows(self, repeat: int, sharded: bool) -> list[float]:
        a = self.array_v3(sharded)
        return self.timed(
            repeat, lambda: self.lib.read(a, ...), None,
            lambda _, got: check_equal(got, self.data, "whole read"),
        )  # fmt: skip

    def w_v3_shard_write(self, repeat: int) -> list[float]:
        return self.write_v3_rows(repeat, sharded=True)

    def w_v3_shard_read(self, repeat: int) -> list[float]:
        return self.read_v3_rows(repeat, sharded=True)

    def w_v3_shard_region(self, repeat: int) -> list[float]:
        """``region_calls`` reads of region x region at random places (any alignment)."""
        a = self.array_v3(sharded=True)
        r, n, calls = self.cfg["region"], self.cfg["n"], self.cfg["region_calls"]
        rng = np.random.default_rng(self.cfg["seed"] + 5)
        starts = rng.integers(0, n - r + 1, size=(calls, 2))
        sels = [(slice(i, i + r), slice(j, j + r)) for i, j in starts.tolist()]

        def check(_: Any, got: list[np.ndarray]) -> None:
            for s, g in zip(sels, got, strict=True):
                check_equal(g, self.data[s], f"region {s}")

        times = self.timed(repeat, lambda: [self.lib.read(a, s) for s in sels], None, check)
        return [t / calls for t in times]

    def w_v3_shard_oindex(self, repeat: int) -> list[float]:
        return self.oindex_rows(repeat, self.array_v3(sharded=True))

    def w_v3_write_c1000(self, repeat: int) -> list[float]:
        return self.write_v3_rows(repeat, sharded=False)

    def w_v3_read_c1000(self, repeat: int) -> list[float]:
        return self.read_v3_rows(repeat, sharded=False)

    def group_shape(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return (1000, 1000), (100, 100)

    def group(self, consolidated: bool) -> str:
        key = "group-consolidated" if consolidated else "group"
        if key not in self.prepared:
            path = os.path.join(self.root, key)
            self.lib.create_group(path, self.names, *self.group_shape())
            if consolidated:
                self.lib.consolidate(path)
            self.prepared[key] = path
        return self.prepared[key]

    def check_group(self, path: str) -> None:
        shape = self.group_shape()[0]
        shapes = self.lib.open_group_each(path, self.names)
        if shapes != [shape] * len(self.names):
            raise AssertionError(f"group arrays: {shapes[:3]}..., expected {shape}")

    def w_create_group(self, repeat: int) -> list[float]:
        def check(path: str, _: Any) -> None:
            self.check_group(path)
            shutil.rmtree(path)

        body = lambda path: self.lib.create_group(path, self.names, *self.group_shape())  # noqa: E731
        return self.timed(repeat, body, lambda: self.fresh("g"), check)

    def w_open_group(self, repeat: int) -> list[float]:
        path = self.group(consolidated=False)
        shape = self.group_shape()[0]

        def check(_: Any, shapes: list[tuple]) -> None:
            if [tuple(s) for s in shapes] != [shape] * len(self.names):
                raise AssertionError(f"opened {shapes[:3]}..., expected {shape}")

        return self.timed(repeat, lambda: self.lib.open_group_each(path, self.names), None, check)

    def w_open_consolidated(self, repeat: int) -> list[float]:
        if not self.lib.consolidated:
            raise NotSupported(f"{self.lib.name} has no consolidated metadata")
        path = self.group(consolidated=True)
        shape = self.group_shape()[0]
        # the consolidated document must be what is read: hide the member .zarray files
        for name in self.names:
            src = os.path.join(path, name, ".zarray")
            if os.path.exists(src):
                os.rename(src, src + ".hidden")

        def check(_: Any, shapes: list[tuple]) -> None:
            if [tuple(s) for s in shapes] != [shape] * len(self.names):
                raise AssertionError(f"opened {shapes[:3]}..., expected {shape}")

        body = lambda: self.lib.open_consolidated_each(path, self.names)  # noqa: E731
        return self.timed(repeat, body, None, check)

    # memory (one-shot, in a fresh worker)
    def memory(self, what: str) -> dict[str, Any]:
        """Peak RSS of a whole read or write: the first in this process (``cold``: thread
        pools, allocator arenas and lazy imports start here) and a second one (``warm``)."""
        chunk = self.cfg["chunk"]
        path = os.path.join(os.path.dirname(self.root), "mem-")
        if what == "prepare":  # the array a later fresh worker reads
            self.lib.write(self.lib.create(path + "read", self.shape, (chunk, chunk)), self.data)
            return {"path": path + "read"}
        if what == "read":
            a = self.lib.open(path + "read")
            self.lib.read(a, (slice(0, 1), slice(0, 1)))  # open the first chunk
            expected, self.data = self.data, None
            out: dict[str, Any] = {"bytes": int(expected.nbytes)}
            del expected  # freed: the baseline holds no copy of the data
            for run in ("cold", "warm"):
                gc.collect()
                before = rss_status()["VmRSS"]
                if not reset_peak():
                    raise NotSupported("cannot reset VmHWM (/proc/self/clear_refs)")
                got = self.lib.read(a, ...)
                peak = rss_status()["VmHWM"]
                out[f"peak_{run}"] = peak - before
                out[f"extra_{run}"] = peak - before - int(got.nbytes)
                check_equal(got, make_data(self.cfg["n"], self.cfg["seed"]), "memory read")
                del got
            self.data = make_data(self.cfg["n"], self.cfg["seed"])
            return out
        path += "write"
        a = self.lib.create(path, self.shape, (chunk, chunk))
        out = {"bytes": int(self.data.nbytes)}
        for run in ("cold", "warm"):
            gc.collect()
            before = rss_status()["VmRSS"]
            if not reset_peak():
                raise NotSupported("cannot reset VmHWM (/proc/self/clear_refs)")
            self.lib.write(a, self.data)
            peak = rss_status()["VmHWM"]
            out[f"peak_{run}"] = out[f"extra_{run}"] = peak - before
        check_equal(self.lib.read(self.lib.open(path), ...), self.data, "memory write")
        return out


class NotSupported(Exception):
    """The library has no such feature (a ``n/a`` cell, not a failure)."""


WORKLOADS = [name[2:] for name in vars(Workloads) if name.startswith("w_")]


def serve(lib_name: str, stdin: Any = sys.stdin, stdout: Any = sys.stdout) -> None:
    lib = load_lib(lib_name)
    work: Workloads | None = None
    for line in stdin:
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "quit":
                break
            if op == "hello":
                root = os.path.join(req["root"], req.get("name", lib_name))
                os.makedirs(root, exist_ok=True)
                work = Workloads(lib, req["config"], root)
                versions = {"python": sys.version.split()[0], "numpy": np.__version__}
                answer: dict[str, Any] = {"ok": True, "versions": {**versions, **lib.versions()}}
            elif op == "run":
                assert work is not None, "hello first"
                warmup = int(req.get("warmup", 0))
                times = getattr(work, "w_" + req["workload"])(warmup + int(req["repeat"]))
                answer = {"ok": True, "times": times[warmup:], "warmup": times[:warmup]}
            elif op == "memory":
                assert work is not None, "hello first"
                answer = {"ok": True, **work.memory(req["what"])}
            else:
                raise ValueError(f"unknown op {op!r}")
        except NotSupported as e:
            answer = {"ok": False, "na": True, "error": str(e)}
        except Exception as e:  # reported to the orchestrator, the worker lives on
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}",
                      "traceback": traceback.format_exc()}  # fmt: skip
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


def main() -> None:
    # The protocol gets its own copy of stdout; anything a library prints goes to stderr.
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.argv[1], sys.stdin, proto)


if __name__ == "__main__":
    main()
