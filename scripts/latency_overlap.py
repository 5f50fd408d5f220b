"""How many request latencies zarrkit pays on a far-away store: a MemoryStore behind a
wrapper that waits ``--latency`` seconds per request (HEAD, GET, PUT, LIST alike) and runs
the requests of a batch concurrently, at most 64 at once (as ObjectStore does).

    PYTHONPATH=src python scripts/latency_overlap.py [--latency 0.03] [--arrays 100]

Prints, per workload, the wall time, the requests made, the most in flight at once and the
time as a number of latencies. Runs against any zarrkit (the wrapper is defined here), so
an older tree can be compared: ``PYTHONPATH=/other/src python scripts/latency_overlap.py``.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

import zarrkit
from zarrkit.storage import MemoryStore
from zarrkit.storage.base import Store


class Far(Store):
    """``inner`` with ``latency`` seconds per request; batches run 64 requests at once."""

    def __init__(self, inner: Store, latency: float, in_flight: int = 64) -> None:
        self.inner = inner
        self.latency = latency
        self._pool = ThreadPoolExecutor(in_flight)
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests: dict[str, int] = {}
        self.now = self.most = 0

    def _one(self, kind: str, call: Callable[[], Any]) -> Any:
        with self._lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(self.latency)
            return call()
        finally:
            with self._lock:
                self.now -= 1

    def __getitem__(self, key: str) -> Any:
        return self._one("GET", lambda: self.inner[key])

    def getitems(self, keys: Iterable[str], *, contexts: Any = None) -> dict[str, Any]:
        keys = list(dict.fromkeys(keys))

        def get(k: str) -> Any:
            try:
                return self[k]
            except KeyError:
                return None

        values = list(self._pool.map(get, keys)) if len(keys) > 1 else [get(k) for k in keys]
        return {k: v for k, v in zip(keys, values) if v is not None}

    def __setitem__(self, key: str, value: Any) -> None:
        self._one("PUT", lambda: self.inner.__setitem__(key, value))

    def setitems(self, values: Mapping[str, Any]) -> None:
        list(self._pool.map(lambda kv: self.__setitem__(*kv), values.items()))

    def __delitem__(self, key: str) -> None:
        self._one("DELETE", lambda: self.inner.__delitem__(key))

    def __contains__(self, key: object) -> bool:
        return bool(self._one("HEAD", lambda: key in self.inner))

    def __iter__(self) -> Iterator[str]:
        return iter(self._one("LIST", lambda: list(self.inner)))

    def __len__(self) -> int:
        return len(self.inner)

    def listdir(self, path: str = "") -> list[str]:
        return list(self._one("LIST", lambda: self.inner.listdir(path)))

    def keys_under(self, path: str = "") -> list[str]:
        return list(self._one("LIST", lambda: self.inner.keys_under(path)))

    def rmdir(self, path: str = "") -> None:
        self._one("DELETE", lambda: self.inner.rmdir(path))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--latency", type=float, default=0.03)
    p.add_argument("--arrays", type=int, default=100)
    args = p.parse_args()
    n, latency = args.arrays, args.latency
    mem = MemoryStore()
    g = zarrkit.group(mem)
    for i in range(n):
        g.array(f"a{i:03d}", np.full(100, i, dtype="i4"), chunks=10)
    g.array("big", np.arange(1024, dtype="i4"), chunks=1)  # 1024 chunks
    zarrkit.consolidate_metadata(mem)
    far = Far(mem, latency)
    has_many = hasattr(zarrkit, "read_many")

    def consolidated_one_chunk_each() -> Any:
        c = zarrkit.open_consolidated(far, mode="r")
        arrays = [a for name, a in c.arrays() if name != "big"]
        if has_many:
            return zarrkit.read_many([(a, 0) for a in arrays])
        return [a[0] for a in arrays]

    def consolidated_one_chunk_each_loop() -> Any:
        c = zarrkit.open_consolidated(far, mode="r")
        return [a[0] for name, a in c.arrays() if name != "big"]

    def group_arrays() -> Any:
        return [a.shape for _, a in zarrkit.open_group(far, mode="r").arrays()]

    def open_and_read_whole() -> Any:
        return zarrkit.open_array(far, path="big", mode="r")[:]

    def create_group_arrays() -> Any:
        target = Far(MemoryStore(), latency)
        t = zarrkit.group(target)
        spec = dict(shape=100, chunks=10, dtype="i4")
        if hasattr(t, "create_arrays"):
            t.create_arrays({f"a{i:03d}": spec for i in range(n)})
        else:
            for i in range(n):
                t.create(f"a{i:03d}", **spec)
        return target

    rows: list[tuple[str, Callable[[], Any]]] = [
        (f"open_consolidated + one chunk of each of {n} (read_many where present)",
         consolidated_one_chunk_each),
        (f"open_consolidated + one chunk of each of {n} (a[0] one by one)",
         consolidated_one_chunk_each_loop),
        (f"open_group + arrays() of {n + 1}", group_arrays),
        ("open_array + read whole (1024 chunks)", open_and_read_whole),
        (f"group + {n} arrays created (create_arrays where present)", create_group_arrays),
    ]  # fmt: skip
    print(f"zarrkit from {zarrkit.__file__}; latency {latency * 1e3:.0f} ms, 64 in flight")
    for label, run in rows:
        far.reset()
        t = time.perf_counter()
        out = run()
        took = time.perf_counter() - t
        stats = out if isinstance(out, Far) else far
        reqs = ", ".join(f"{k} {v}" for k, v in sorted(stats.requests.items()))
        print(f"{label:68s} {took * 1e3:8.0f} ms = {took / latency:5.1f} latencies; "
              f"{reqs}; at most {stats.most} in flight")  # fmt: skip


if __name__ == "__main__":
    main()
