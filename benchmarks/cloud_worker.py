"""One library's side of ``benchmarks/cloud.py``: a persistent worker on an S3 endpoint.

Run as ``<venv python> cloud_worker.py LIB`` (LIB: ``zarrkit-obstore``, ``zarrkit-fsspec``,
``zarr3-obstore``, ``zarr3-fsspec``, ``zarr2-fsspec``, ``tensorstore``); JSON lines on
stdin/stdout as ``worker.py`` (whose data and checks it shares):

- ``{"op": "hello", "config": {...}, "endpoint": URL, "bucket": B, "name": NAME}`` ->
  ``{"ok": true, "versions": {...}}``; the library's data goes below ``s3://B/NAME/``.
- ``{"op": "run", "workload": ROW, "repeat": N, "warmup": W}`` -> ``{"ok": true, "times":
  [...], "peaks": [...]}``: seconds and peak RSS above the RSS before the call (bytes) of
  each timed repetition. What a row reads is written once per worker (untimed); results are
  checked against NumPy the first time a row runs in this worker (outside the timed part).
- ``{"op": "inflight"}`` -> requests in flight per row (zarrkit only; see ``cloud.py``).
- ``{"op": "quit"}``.

Credentials and region come from the environment (``AWS_ACCESS_KEY_ID``, ...), set by the
orchestrator. Only NumPy and the library under test (with its S3 client) are imported.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from worker import check_equal, make_data, reset_peak, rss_status  # noqa: E402

KEY = os.environ.get("AWS_ACCESS_KEY_ID", "bench-key")
SECRET = os.environ.get("AWS_SECRET_ACCESS_KEY", "bench-secret")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")


class NotSupported(Exception):
    """The library has no such feature (a ``n/a`` cell)."""


def blosc_numcodecs() -> Any:
    import numcodecs

    return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)


def fsspec_options(endpoint: str) -> dict[str, Any]:
    # no listings cache: a rewritten array must be seen at once
    return {"key": KEY, "secret": SECRET, "client_kwargs": {"endpoint_url": endpoint},
            "use_listings_cache": False}  # fmt: skip


class Lib:
    """One library and S3 client; ``url`` is ``s3://bucket/prefix`` of an array or group."""

    name = ""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def versions(self) -> dict[str, str]:
        raise NotImplementedError

    def create(self, url: str, shape: tuple, chunks: tuple) -> Any:
        raise NotImplementedError

    def open(self, url: str) -> Any:
        raise NotImplementedError

    def create_v3(self, url: str, shape: tuple, inner: tuple, shards: tuple, level: int) -> Any:
        raise NotSupported(f"{self.name} writes no Zarr v3")

    def open_v3(self, url: str) -> Any:
        raise NotSupported(f"{self.name} reads no Zarr v3")

    def write(self, a: Any, data: np.ndarray) -> None:
        a[...] = data

    def read(self, a: Any, sel: Any) -> np.ndarray:
        return a[sel]

    def make_group(self, url: str, names: list[str], shape: tuple, data: np.ndarray) -> None:
        """A group of arrays ``names`` (``shape``, chunks of ``data``'s shape) whose first
        chunk holds ``data``; metadata consolidated where the library can."""
        raise NotImplementedError

    def read_group(self, url: str, names: list[str], sel: Any) -> list[np.ndarray]:
        """Open the group (consolidated where the library can) and read ``sel`` of each."""
        raise NotImplementedError


class Zarr2Api(Lib):
    """zarrkit (``ObjectStore`` or ``FSStore``) or zarr-python 2.18 (``FSStore``)."""

    def __init__(self, endpoint: str, name: str) -> None:
        super().__init__(endpoint)
        self.name = name
        if name.startswith("zarrkit"):
            import zarrkit as zarr
        else:
            import zarr

            if not zarr.__version__.startswith("2."):
                raise RuntimeError(f"the zarr2 worker found zarr {zarr.__version__}")
        self.zarr = zarr
        self.client = name.split("-")[1]

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        out = {"zarr" if self.name == "zarr2-fsspec" else "zarrkit": self.zarr.__version__}
        for dist in ("numcodecs", "s3fs", "obstore"):
            try:
                out[dist] = version(dist)
            except Exception:
                pass
        if self.name.startswith("zarrkit"):
            out["zarrkit_path"] = os.path.dirname(self.zarr.__file__)
        return out

    def store(self, url: str) -> Any:
        if self.client == "obstore":
            from zarrkit.storage import ObjectStore

            return ObjectStore(url, endpoint=self.endpoint, access_key_id=KEY,
                               secret_access_key=SECRET, region=REGION,
                               client_options={"allow_http": True})  # fmt: skip
        return self.zarr.storage.FSStore(url, **fsspec_options(self.endpoint))

    def create(self, url, shape, chunks):
        return self.zarr.open_array(self.store(url), mode="w", shape=shape, chunks=chunks,
                                    dtype="i4", fill_value=0, compressor=blosc_numcodecs())  # fmt: skip

    def open(self, url):
        return self.zarr.open_array(self.store(url), mode="r")

    def create_v3(self, url, shape, inner, shards, level):
        if not self.name.startswith("zarrkit"):
            raise NotSupported("zarr-python 2.18 has no Zarr v3")
        import numcodecs

        return self.zarr.create(shape, chunks=inner, shards=shards, dtype="i4", fill_value=0,
                                compressor=numcodecs.Zstd(level=level), zarr_format=3,
                                store=self.store(url), overwrite=True)  # fmt: skip

    def open_v3(self, url):
        if not self.name.startswith("zarrkit"):
            raise NotSupported("zarr-python 2.18 has no Zarr v3")
        return self.zarr.open_array(self.store(url), mode="r")

    def make_group(self, url, names, shape, data):
        store = self.store(url)
        g = self.zarr.open_group(store, mode="w")
        for name in names:
            a = g.create_dataset(name, shape=shape, chunks=data.shape, dtype="i4",
                                 compressor=blosc_numcodecs(), fill_value=0)  # fmt: skip
            a[tuple(slice(0, s) for s in data.shape)] = data
        self.zarr.consolidate_metadata(store)

    def read_group(self, url, names, sel):
        g = self.zarr.open_consolidated(self.store(url), mode="r")
        read_many = getattr(self.zarr, "read_many", None)  # zarrkit: one concurrent batch
        if read_many is None:  # zarr 2 (and zarrkit before read_many): one after the other
            return [g[name][sel] for name in names]
        return read_many([(g[name], sel) for name in names])


class Zarr3Api(Lib):
    """zarr-python 3 (default codec pipeline) on ``zarr.storage.ObjectStore`` (obstore) or
    ``zarr.storage.FsspecStore`` (s3fs), writing Zarr v2 (and v3 for the v3 rows)."""

    def __init__(self, endpoint: str, name: str) -> None:
        super().__init__(endpoint)
        import zarr
        from zarr.core.sync import sync

        self.name = name
        self.zarr = zarr
        self.sync = sync
        self.client = name.split("-")[1]

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        out = {"zarr": self.zarr.__version__}
        for dist in ("numcodecs", "s3fs", "obstore"):
            out[dist] = version(dist)
        out["codec_pipeline"] = self.zarr.config.get("codec_pipeline.path")
        return out

    def store(self, url: str, read_only: bool = False) -> Any:
        if self.client == "obstore":
            from obstore.store import from_url

            s = from_url(url, endpoint=self.endpoint, access_key_id=KEY,
                         secret_access_key=SECRET, region=REGION,
                         client_options={"allow_http": True})  # fmt: skip
            return self.zarr.storage.ObjectStore(s, read_only=read_only)
        return self.zarr.storage.FsspecStore.from_url(
            url, storage_options=fsspec_options(self.endpoint), read_only=read_only
        )

    def create(self, url, shape, chunks):
        return self.zarr.create_array(
            store=self.store(url), shape=shape, chunks=chunks, dtype="i4", fill_value=0,
            compressors=blosc_numcodecs(), filters=None, zarr_format=2, overwrite=True,
        )  # fmt: skip

    def open(self, url):
        return self.zarr.open_array(self.store(url, True), mode="r", zarr_format=2)

    def create_v3(self, url, shape, inner, shards, level):
        from zarr.codecs import ZstdCodec

        return self.zarr.create_array(
            store=self.store(url), shape=shape, chunks=inner, shards=shards, dtype="i4",
            fill_value=0, compressors=ZstdCodec(level=level, checksum=False), filters=None,
            zarr_format=3, overwrite=True,
        )  # fmt: skip

    def open_v3(self, url):
        return self.zarr.open_array(self.store(url, True), mode="r", zarr_format=3)

    def make_group(self, url, names, shape, data):
        store = self.store(url)
        g = self.zarr.open_group(store, mode="w", zarr_format=2)
        for name in names:
            a = g.create_array(name, shape=shape, chunks=data.shape, dtype="i4",
                               compressors=blosc_numcodecs(), filters=None, fill_value=0)  # fmt: skip
            a[tuple(slice(0, s) for s in data.shape)] = data
        self.zarr.consolidate_metadata(store, zarr_format=2)

    def read_group(self, url, names, sel):
        from zarr.api.asynchronous import open_consolidated

        async def go() -> list[np.ndarray]:
            # the async API: the arrays opened concurrently, then all reads gathered
            g = await open_consolidated(store=self.store(url, True), zarr_format=2, mode="r")
            arrays = await asyncio.gather(*(g.getitem(name) for name in names))
            return list(await asyncio.gather(*(a.getitem(sel) for a in arrays)))

        return self.sync(go())


class TsArray:
    def __init__(self, store: Any) -> None:
        self.store = store

    def __getitem__(self, sel: Any) -> np.ndarray:
        return self.store[sel].read().result()

    def __setitem__(self, sel: Any, value: np.ndarray) -> None:
        self.store[sel].write(value).result()


class TensorstoreLib(Lib):
    """tensorstore's ``zarr``/``zarr3`` drivers on its ``s3`` kvstore (``endpoint``,
    ``aws_region``; credentials from the environment); chunk cache off, default
    ``s3_request_concurrency``. No consolidated metadata: the group's arrays are opened
    concurrently (each reads its ``.zarray``) and read concurrently (futures)."""

    name = "tensorstore"

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint)
        import tensorstore as ts

        self.ts = ts
        self.context = ts.Context({"cache_pool": {"total_bytes_limit": 0}})

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"tensorstore": version("tensorstore")}

    def kvstore(self, url: str) -> dict[str, Any]:
        bucket, _, path = url[len("s3://") :].partition("/")
        return {"driver": "s3", "bucket": bucket, "path": path.rstrip("/") + "/",
                "endpoint": self.endpoint, "aws_region": REGION,
                "aws_credentials": {"type": "environment"}}  # fmt: skip

    def spec(self, url: str, shape=None, chunks=None) -> dict[str, Any]:
        spec: dict[str, Any] = {"driver": "zarr", "kvstore": self.kvstore(url)}
        if shape is not None:
            spec["metadata"] = {
                "shape": list(shape), "chunks": list(chunks), "dtype": "<i4",
                "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1,
                               "blocksize": 0},
                "fill_value": 0, "order": "C", "filters": None,
            }  # fmt: skip
        return spec

    def create(self, url, shape, chunks):
        spec = self.spec(url, shape, chunks)
        t = self.ts.open(spec, create=True, delete_existing=True, context=self.context)
        return TsArray(t.result())

    def open(self, url):
        return TsArray(self.ts.open(self.spec(url), open=True, context=self.context).result())

    def create_v3(self, url, shape, inner, shards, level):
        bytes_codec = {"name": "bytes", "configuration": {"endian": "little"}}
        inner_codecs = [
            bytes_codec,
            {"name": "zstd", "configuration": {"level": level, "checksum": False}},
        ]
        codecs = [
            {
                "name": "sharding_indexed",
                "configuration": {
                    "chunk_shape": list(inner),
                    "codecs": inner_codecs,
                    "index_codecs": [bytes_codec, {"name": "crc32c"}],
                    "index_location": "end",
                },
            }
        ]
        spec = {"driver": "zarr3", "kvstore": self.kvstore(url), "metadata": {
            "shape": list(shape), "data_type": "int32", "fill_value": 0,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shards)}},
            "chunk_key_encoding": {"name": "default"}, "codecs": codecs}}  # fmt: skip
        t = self.ts.open(spec, create=True, delete_existing=True, context=self.context)
        return TsArray(t.result())

    def open_v3(self, url):
        spec = {"driver": "zarr3", "kvstore": self.kvstore(url)}
        return TsArray(self.ts.open(spec, open=True, context=self.context).result())

    def make_group(self, url, names, shape, data):
        kv = self.ts.KvStore.open(self.kvstore(url), context=self.context).result()
        kv.write(".zgroup", b'{\n    "zarr_format": 2\n}').result()
        opened = [self.ts.open(self.spec(f"{url}/{n}", shape, data.shape), create=True,
                               delete_existing=True, context=self.context) for n in names]  # fmt: skip
        box = tuple(slice(0, s) for s in data.shape)
        writes = [f.result()[box].write(data) for f in opened]
        for w in writes:
            w.result()

    def read_group(self, url, names, sel):
        opened = [self.ts.open(self.spec(f"{url}/{n}"), open=True, context=self.context)
                  for n in names]  # fmt: skip
        reads = [f.result()[sel].read() for f in opened]
        return [r.result() for r in reads]


def load_lib(name: str, endpoint: str) -> Lib:
    if name in ("zarrkit-obstore", "zarrkit-fsspec", "zarr2-fsspec"):
        return Zarr2Api(endpoint, name)
    if name in ("zarr3-obstore", "zarr3-fsspec"):
        return Zarr3Api(endpoint, name)
    if name == "tensorstore":
        return TensorstoreLib(endpoint)
    raise ValueError(f"unknown library {name!r}")


# -- workloads -------------------------------------------------------------------------------


class Workloads:
    """The rows, each ``w_<row>(repeat) -> (seconds, peak bytes)`` per repetition."""

    def __init__(self, lib: Lib, config: dict[str, Any], base: str) -> None:
        self.lib = lib
        self.cfg = config
        self.base = base.rstrip("/")
        n = config["n"]
        self.shape = (n, n)
        self.data = make_data(n, config["seed"])
        self.prepared: dict[str, Any] = {}
        self.checked: set[str] = set()
        self.names = [f"a{i:03d}" for i in range(config["narrays"])]

    def url(self, key: str) -> str:
        return f"{self.base}/{key}"

    def timed(self, row: str, repeat: int, body: Callable[[Any], Any],
              setup: Callable[[], Any] | None = None,
              check: Callable[[Any, Any], None] | None = None) -> tuple[list[float], list[int]]:  # fmt: skip
        times, peaks = [], []
        for _ in range(repeat):
            state = setup() if setup else None
            gc.collect()
            before = rss_status()["VmRSS"]
            peak_ok = reset_peak()
            gc.disable()
            try:
                t0 = time.perf_counter()
                result = body(state)
                t1 = time.perf_counter()
            finally:
                gc.enable()
            peaks.append(rss_status()["VmHWM"] - before if peak_ok else -1)
            if check is not None and row not in self.checked:
                check(state, result)
                self.checked.add(row)
            del result, state
            times.append(t1 - t0)
        return times, peaks

    def array(self, key: str, chunk: int) -> Any:
        if key not in self.prepared:
            a = self.lib.create(self.url(key), self.shape, (chunk, chunk))
            self.lib.write(a, self.data)
            self.prepared[key] = self.lib.open(self.url(key))
        return self.prepared[key]

    def array_v3(self) -> Any:
        if "v3" not in self.prepared:
            a = self.lib.create_v3(self.url("v3"), self.shape, *self.v3_layout(),
                                   self.cfg["zstd"])  # fmt: skip
            self.lib.write(a, self.data)
            self.prepared["v3"] = self.lib.open_v3(self.url("v3"))
        return self.prepared["v3"]

    def v3_layout(self) -> tuple[tuple, tuple]:
        return (self.cfg["inner"],) * 2, (self.cfg["shard"],) * 2

    def write_rows(self, row: str, repeat: int, make: Callable[[], Any],
                   reopen: Callable[[], Any]) -> tuple[list[float], list[int]]:  # fmt: skip
        """Write the whole array into a fresh array (made by ``make``, untimed) at the same
        place each time: the objects are overwritten."""

        def check(_: Any, __: Any) -> None:
            check_equal(self.lib.read(reopen(), ...), self.data, f"{row}: read back")

        return self.timed(row, repeat, lambda a: self.lib.write(a, self.data), make, check)

    def read_whole(self, row: str, repeat: int, a: Any) -> tuple[list[float], list[int]]:
        return self.timed(row, repeat, lambda _: self.lib.read(a, ...), None,
                          lambda _, got: check_equal(got, self.data, f"{row}: whole read"))  # fmt: skip

    def w_write_c1000(self, repeat: int) -> Any:
        c, key = self.cfg["chunk"], "w-large"
        return self.write_rows("write_c1000", repeat,
                               lambda: self.lib.create(self.url(key), self.shape, (c, c)),
                               lambda: self.lib.open(self.url(key)))  # fmt: skip

    def w_read_c1000(self, repeat: int) -> Any:
        return self.read_whole("read_c1000", repeat, self.array("large", self.cfg["chunk"]))

    def w_write_c250(self, repeat: int) -> Any:
        c, key = self.cfg["small_chunk"], "w-small"
        return self.write_rows("write_c250", repeat,
                               lambda: self.lib.create(self.url(key), self.shape, (c, c)),
                               lambda: self.lib.open(self.url(key)))  # fmt: skip

    def w_read_c250(self, repeat: int) -> Any:
        return self.read_whole("read_c250", repeat, self.array("small", self.cfg["small_chunk"]))

    def w_region(self, repeat: int) -> Any:
        """``region_calls`` reads of region² anywhere (one to four chunks each); the time
        per call."""
        a = self.array("large", self.cfg["chunk"])
        r, n, calls = self.cfg["region"], self.cfg["n"], self.cfg["region_calls"]
        starts = np.random.default_rng(self.cfg["seed"] + 5).integers(0, n - r + 1, (calls, 2))
        sels = [(slice(i, i + r), slice(j, j + r)) for i, j in starts.tolist()]

        def check(_: Any, got: list[np.ndarray]) -> None:
            for s, g in zip(sels, got, strict=True):
                check_equal(g, self.data[s], f"region {s}")

        times, peaks = self.timed("region", repeat,
                                  lambda _: [self.lib.read(a, s) for s in sels], None, check)  # fmt: skip
        return [t / calls for t in times], peaks

    def group_data(self) -> tuple[tuple, np.ndarray]:
        side = self.cfg["group_chunk"]
        return (2 * side, 2 * side), self.data[:side, :side].copy()

    def w_group(self, repeat: int) -> Any:
        shape, first = self.group_data()
        url = self.url("group")
        if "group" not in self.prepared:
            self.lib.make_group(url, self.names, shape, first)
            self.prepared["group"] = url
        sel = tuple(slice(0, s) for s in first.shape)

        def check(_: Any, got: list[np.ndarray]) -> None:
            if len(got) != len(self.names):
                raise AssertionError(f"{len(got)} arrays read, expected {len(self.names)}")
            for name, g in zip(self.names, got, strict=True):
                check_equal(g, first, f"group member {name}")

        return self.timed("group", repeat,
                          lambda _: self.lib.read_group(url, self.names, sel), None, check)  # fmt: skip

    def w_v3_shard_write(self, repeat: int) -> Any:
        inner, shards = self.v3_layout()
        key = "w-v3"
        return self.write_rows(
            "v3_shard_write", repeat,
            lambda: self.lib.create_v3(self.url(key), self.shape, inner, shards, self.cfg["zstd"]),
            lambda: self.lib.open_v3(self.url(key)),
        )  # fmt: skip

    def w_v3_shard_read(self, repeat: int) -> Any:
        return self.read_whole("v3_shard_read", repeat, self.array_v3())


WORKLOADS = [name[2:] for name in vars(Workloads) if name.startswith("w_")]


def zarrkit_inflight(lib: Lib, cfg: dict[str, Any]) -> dict[str, Any]:
    """Requests zarrkit keeps in flight per row, from its pipeline's batch sizes (one batch
    of chunks per ``getitems``/``setitems``, batches one after the other) and the store's
    bound (ObjectStore: ``concurrency``; FSStore over s3fs: aiobotocore's connection pool,
    ``max_pool_connections``, 10 unless set). None where that cannot be found out."""
    if not lib.name.startswith("zarrkit"):
        return {}
    try:
        from zarrkit._pool import get_num_threads
        from zarrkit.pipeline import chunks as pc
    except ImportError:
        return {}
    if lib.client == "obstore":  # type: ignore[attr-defined]
        from zarrkit.storage import ObjectStore

        bound = ObjectStore("memory:///").concurrency
    else:  # s3fs's connection pool: zarrkit sizes it (REQUESTS_IN_FLIGHT), else botocore's 10
        from zarrkit.storage import base

        bound = getattr(base, "REQUESTS_IN_FLIGHT", 10)
    threads = get_num_threads()
    # a store over a network overlaps a call's next batch with this one's codec work (two
    # batches' requests at once, since _Requests); before that, one batch at a time
    ahead = 2 if hasattr(pc, "_Requests") else 1
    out: dict[str, Any] = {"store_bound": bound}
    for row, side, batch_bytes in (
        ("read_c1000", cfg["chunk"], pc._BATCH_BYTES),
        ("write_c1000", cfg["chunk"], pc._WRITE_BATCH_BYTES),
        ("read_c250", cfg["small_chunk"], pc._BATCH_BYTES),
        ("write_c250", cfg["small_chunk"], pc._WRITE_BATCH_BYTES),
    ):
        batch = max(2 * threads, min(pc._MAX_BATCH, batch_bytes // (side * side * 4)))
        out[row] = min(ahead * batch, bound)
    shard_bytes = cfg["shard"] ** 2 * 4
    out["v3_shard_read"] = min(bound, max(1, min(pc._MAX_BATCH, pc._BATCH_BYTES // shard_bytes)))
    return out


def serve(lib_name: str, stdin: Any = sys.stdin, stdout: Any = sys.stdout) -> None:
    work: Workloads | None = None
    lib: Lib | None = None
    for line in stdin:
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "quit":
                break
            if op == "hello":
                lib = load_lib(lib_name, req["endpoint"])
                base = f"s3://{req['bucket']}/{req.get('name', lib_name)}"
                work = Workloads(lib, req["config"], base)
                versions = {"python": sys.version.split()[0], "numpy": np.__version__}
                answer: dict[str, Any] = {"ok": True, "versions": {**versions, **lib.versions()}}
            elif op == "run":
                assert work is not None, "hello first"
                warmup = int(req.get("warmup", 0))
                times, peaks = getattr(work, "w_" + req["workload"])(warmup + int(req["repeat"]))
                answer = {"ok": True, "times": times[warmup:], "peaks": peaks[warmup:]}
            elif op == "inflight":
                assert work is not None and lib is not None, "hello first"
                answer = {"ok": True, "inflight": zarrkit_inflight(lib, work.cfg)}
            else:
                raise ValueError(f"unknown op {op!r}")
        except NotSupported as e:
            answer = {"ok": False, "na": True, "error": str(e)}
        except Exception as e:
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}",
                      "traceback": traceback.format_exc()}  # fmt: skip
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


def main() -> None:
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.argv[1], sys.stdin, proto)


if __name__ == "__main__":
    main()
