"""The codec floor of the Zarr v3 rows: numcodecs' zstd (level 1) over every chunk of the
benchmark's data on one thread, and that divided by the cores.

    .venv/bin/python benchmarks/zstd_floor.py [--size 8000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numcodecs
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import worker  # noqa: E402  (the benchmark's data)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=8000)
    n = p.parse_args().size
    data = worker.make_data(n, 0)
    codec = numcodecs.Zstd(level=1)
    cores = os.cpu_count() or 1
    print("| chunks | decode, 1 thread | floor | encode, 1 thread | floor | ratio |")
    print("|---|---|---|---|---|---|")
    for side in (n // 8, n // 32):
        chunks = [
            np.ascontiguousarray(data[i : i + side, j : j + side])
            for i in range(0, n, side)
            for j in range(0, n, side)
        ]
        t = time.perf_counter()
        frames = [codec.encode(c) for c in chunks]
        encode = time.perf_counter() - t
        t = time.perf_counter()
        for f in frames:
            codec.decode(f)
        decode = time.perf_counter() - t
        ratio = sum(map(len, frames)) / data.nbytes
        print(
            f"| {side}² ({len(chunks)}) | {decode:.2f} s | {decode / cores:.2f} s | "
            f"{encode:.2f} s | {encode / cores:.2f} s | {ratio:.3f} |"
        )


if __name__ == "__main__":
    main()
