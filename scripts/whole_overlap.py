"""Whole reads and writes of an 8000x8000 int32 array on an object store, against the
request floor ``ceil(N / 64) * latency`` (plus the codec work that cannot overlap).

    PYTHONPATH=src python scripts/whole_overlap.py [--latency 0.03] [--repeat 3]
        [--s3 http://127.0.0.1:PORT]   # also ObjectStore and FSStore on that S3 endpoint

``memory+latency``: a MemoryStore behind ``latency_overlap.Far``, waiting ``--latency`` per
request, its requests on 64 threads shared by all its calls (a connection pool; defined in
scripts/, so that every tree is measured on the same store). ``codec``: the same work on a plain MemoryStore (no
latency): the decode/encode and copies alone. Runs against any zarrkit tree (compare with
``PYTHONPATH=/other/src``). Prints the best time of ``--repeat`` runs, the requests, the most
in flight at once, the time in latencies and the floor.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import zarrkit
from zarrkit.storage import MemoryStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency_overlap import Far as _Far  # noqa: E402  (the one latency wrapper of scripts/)

SHAPE = (8000, 8000)


class Far(_Far):
    """latency_overlap's far-away store, seen by the pipeline as one over a network."""

    requests_in_flight = 64  # (a tree without it reads and writes as it always did)


def best(run: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return min(times)


def s3_stores(endpoint: str, name: str) -> dict[str, Any]:
    import s3fs

    from zarrkit.storage import FSStore, ObjectStore

    so = dict(key="k", secret="s", client_kwargs={"endpoint_url": endpoint})
    fs = s3fs.S3FileSystem(**so)
    bucket = f"bench-{name}"
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    obs = ObjectStore(
        f"s3://{bucket}/obs",
        endpoint=endpoint,
        access_key_id="k",
        secret_access_key="s",
        region="us-east-1",
        client_options={"allow_http": True},
    )
    return {"obstore": obs, "fsspec": FSStore(f"s3://{bucket}/fss", **so)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--latency", type=float, default=0.03)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--s3", default="")
    p.add_argument("--chunks", default="1000,250")
    p.add_argument("--shards", type=int, default=0, help="Zarr v3 shards of this side")
    args = p.parse_args()
    L = args.latency
    data = np.random.default_rng(0).integers(0, 256, size=SHAPE, dtype=np.int32)
    print(f"zarrkit from {zarrkit.__file__}; latency {L * 1e3:.0f} ms")
    for c in (int(x) for x in args.chunks.split(",")):
        side = args.shards or c
        n = math.prod(-(-s // side) for s in SHAPE)
        kw: dict[str, Any] = dict(zarr_format=3, shards=(side, side)) if args.shards else {}
        floor = math.ceil(n / 64) * L
        targets: dict[str, tuple[Any, Far | None]] = {}
        rec = Far(MemoryStore(), latency=L)
        targets["memory+latency"] = (rec, rec)
        targets["codec (no latency)"] = (MemoryStore(), None)
        if args.s3:
            for k, v in s3_stores(args.s3, str(c)).items():
                targets[f"s3 {k}"] = (v, None)
        for label, (store, recorder) in targets.items():
            z = zarrkit.open_array(store, mode="w", shape=SHAPE, chunks=(c, c), dtype="i4", **kw)

            def write(z: Any = z) -> None:
                z[...] = data

            def read(z: Any = z) -> None:
                out = z[...]
                assert out[-1, -1] == data[-1, -1]

            for what, run in (("write", write), ("read", read)):
                took = best(run, args.repeat)
                extra = ""
                if recorder is not None:
                    recorder.reset()
                    run()
                    kinds = recorder.requests
                    extra = (
                        f" {kinds}, at most {recorder.most} in flight, "
                        f"{took / L:5.1f} latencies (floor {floor / L:.0f}: {took / floor:4.2f}x)"
                    )
                print(f"{c}² ({n:4d} objects) {label:20s} {what:5s} {took * 1e3:7.0f} ms{extra}")


if __name__ == "__main__":
    main()
