"""Time zarrkit's two object-store clients against the same S3 server: FSStore over s3fs
and ObjectStore over obstore (Rust ``object_store``).

    .venv/bin/python benchmarks/stores.py                   # starts a moto server, ~1-2 min
    .venv/bin/python benchmarks/stores.py --quick           # small sizes, a few seconds
    .venv/bin/python benchmarks/stores.py --endpoint http://127.0.0.1:5000   # a running server
    .venv/bin/python benchmarks/stores.py --json out.json

Each case writes a whole array (``z[:] = data``) and reads it whole (``z[:]``), uncompressed,
so that the chunk size is the object size: 64 KiB and 4 MiB chunks by default. The clients
take turns round by round (interleaved) so that noise hits both alike; the table shows the
median of the rounds after one warm-up round, whose reads are checked against the data.
Without ``--endpoint`` a moto server runs in its own process on 127.0.0.1 and a free port, so
the server does not share the client's interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import zarrkit
from zarrkit.storage import FSStore, ObjectStore

KEY, SECRET, REGION = "bench-key", "bench-secret", "us-east-1"
CLIENTS = ("s3fs", "obstore")


@dataclass
class Case:
    """One chunk size: its timings per client and operation."""

    chunk_bytes: int
    nchunks: int
    times: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def median(self, client: str, op: str) -> float:
        return statistics.median(self.times[client][op])

    @property
    def total_bytes(self) -> int:
        return self.chunk_bytes * self.nchunks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto S3 server in a child process on 127.0.0.1; yields its endpoint."""
    port = free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start: {' '.join(cmd)}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def make_store(client: str, endpoint: str, url: str) -> Any:
    """The zarrkit store of ``client`` at ``url`` on the server at ``endpoint``."""
    if client == "s3fs":
        return FSStore(
            url,
            key=KEY,
            secret=SECRET,
            client_kwargs={"endpoint_url": endpoint},
            use_listings_cache=False,
        )
    return ObjectStore(
        url,
        endpoint=endpoint,
        access_key_id=KEY,
        secret_access_key=SECRET,
        region=REGION,
        client_options={"allow_http": True},
    )


def make_bucket(endpoint: str, bucket: str) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, client_kwargs={"endpoint_url": endpoint})
    if not fs.exists(bucket):
        fs.mkdir(bucket)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run_case(
    endpoint: str, bucket: str, chunk_bytes: int, nchunks: int, rounds: int, clients: Sequence[str]
) -> Case:
    """Write and read one array per client, ``rounds`` times after a checked warm-up round."""
    case = Case(chunk_bytes, nchunks, {c: {"write": [], "read": []} for c in clients})
    data = np.random.default_rng(0).integers(0, 256, chunk_bytes * nchunks, dtype="u1")
    arrays = {}
    for c in clients:
        store = make_store(c, endpoint, f"s3://{bucket}/{c}-{chunk_bytes}.zarr")
        arrays[c] = zarrkit.open_array(
            store, mode="w", shape=data.shape, chunks=chunk_bytes, dtype="u1", compressor=None
        )
    for r in range(rounds + 1):
        for c in clients:
            z = arrays[c]
            t_write, _ = timed(lambda z=z: z.__setitem__(slice(None), data))
            t_read, back = timed(lambda z=z: z[:])
            if r == 0:  # warm-up, checked
                if not np.array_equal(back, data):
                    raise AssertionError(f"{c} read back other data than it wrote")
                if z.nchunks_initialized != nchunks:
                    raise AssertionError(f"{c} stored {z.nchunks_initialized} of {nchunks}")
                continue
            case.times[c]["write"].append(t_write)
            case.times[c]["read"].append(t_read)
    return case


def table(cases: Sequence[Case], clients: Sequence[str]) -> str:
    head = (
        ["chunk", "chunks", "MiB", "op"]
        + [f"{c} s" for c in clients]
        + [f"{c} MiB/s" for c in clients]
    )
    if clients == CLIENTS:
        head.append("s3fs/obstore")
    rows = [head]
    for case in cases:
        size = (
            f"{case.chunk_bytes // 1024} KiB"
            if case.chunk_bytes < 2**20
            else (f"{case.chunk_bytes // 2**20} MiB")
        )
        for op in ("write", "read"):
            med = {c: case.median(c, op) for c in clients}
            row = [size, str(case.nchunks), f"{case.total_bytes / 2**20:g}", op]
            row += [f"{med[c]:.3f}" for c in clients]
            row += [f"{case.total_bytes / 2**20 / med[c]:.1f}" for c in clients]
            if clients == CLIENTS:
                row.append(f"{med['s3fs'] / med['obstore']:.2f}")
            rows.append(row)
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("---" for _ in head) + "|")
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    import fsspec
    import s3fs

    try:
        import obstore

        obstore_version = obstore.__version__
    except ImportError:
        obstore_version = None
    return {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "zarrkit": zarrkit.__version__,
        "fsspec": fsspec.__version__,
        "s3fs": s3fs.__version__,
        "obstore": obstore_version,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", help="an S3 server to use (default: start a moto server)")
    p.add_argument("--bucket", default="zarrkit-bench")
    p.add_argument("--chunks", default="65536,4194304", help="chunk sizes in bytes")
    p.add_argument("--total", type=int, default=32 * 2**20, help="bytes per array")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds (after one warm-up)")
    p.add_argument("--clients", default=",".join(CLIENTS))
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    p.add_argument("--json", help="write the results as JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no table on stdout")
    args = p.parse_args(argv)
    if args.quick:
        args.total, args.rounds = min(args.total, 2**20), min(args.rounds, 2)
    args.chunk_sizes = [int(x) for x in args.chunks.split(",")]
    args.client_list = tuple(c for c in CLIENTS if c in args.clients.split(","))
    unknown = set(args.clients.split(",")) - set(CLIENTS)
    if unknown or not args.client_list:
        p.error(f"unknown clients {sorted(unknown)}; choose from {', '.join(CLIENTS)}")
    if args.rounds < 1 or args.total < 1 or min(args.chunk_sizes) < 1:
        p.error("--rounds, --total and the chunk sizes must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> list[Case]:
    args = parse_args(argv)
    server = moto_server() if args.endpoint is None else None
    endpoint = args.endpoint
    if server is not None:
        endpoint = server.__enter__()
    try:
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        make_bucket(endpoint, args.bucket)
        cases = [
            run_case(
                endpoint,
                args.bucket,
                size,
                max(1, args.total // size),
                args.rounds,
                args.client_list,
            )
            for size in args.chunk_sizes
        ]
    finally:
        if server is not None:
            server.__exit__(None, None, None)
    if not args.quiet:
        print(table(cases, args.client_list))
        print(f"\nmedians of {args.rounds} interleaved rounds; {environment()}")
    if args.json:
        doc = {
            "environment": environment(),
            "config": vars(args),
            "cases": [asdict(c) for c in cases],
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
    return cases


if __name__ == "__main__":
    main()
