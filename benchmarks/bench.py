"""Time zarrkit against zarr-python 2.x on the same data, in one run.

Run it in the environment that has both libraries::

    .venv-zarr2/bin/python benchmarks/bench.py            # full sizes (8000 x 8000 int32)
    .venv-zarr2/bin/python benchmarks/bench.py --quick    # small smoke run
    .venv-zarr2/bin/python benchmarks/bench.py --cases read,region --repeat 5
    .venv-zarr2/bin/python benchmarks/bench.py --json results.json

Every case is checked for correctness: results must equal NumPy's, each library must read
what the other wrote, and the ``.zarray`` documents must be byte-identical; a failed check
raises ``AssertionError``. Times are best-of-N after one warm-up run (the checked run);
repetitions alternate between the libraries so that noise from other processes hits both
alike. Without zarr 2 the script says so and times zarrkit alone.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

import numcodecs
import numpy as np

import zarrkit

ALL_OPS = ("write", "read", "region", "oindex", "vindex")


@dataclass
class Config:
    """Sizes and options of one benchmark run."""

    n: int = 8000
    chunk: int = 1000
    small_chunk: int = 100
    region: int = 100
    region_calls: int = 100
    rows: int = 1000
    points: int = 10_000
    repeat: int = 3
    seed: int = 0
    stores: tuple[str, ...] = ("dir", "mem")
    cases: tuple[str, ...] = ()
    json: str | None = None
    quiet: bool = False


@dataclass
class Result:
    """Times (seconds, per call) of one case for each library that ran it."""

    case: str
    description: str
    times: dict[str, list[float]] = field(default_factory=dict)

    def best(self, lib: str) -> float | None:
        t = self.times.get(lib)
        return min(t) if t else None

    def median(self, lib: str) -> float | None:
        t = self.times.get(lib)
        return statistics.median(t) if t else None

    def ratio(self) -> float | None:
        """zarr2 time / zarrkit time (above 1: zarrkit is faster)."""
        a, b = self.best("zarr2"), self.best("zarrkit")
        return a / b if a is not None and b else None


# -- libraries -----------------------------------------------------------------------------


def load_zarr2() -> ModuleType | None:
    """zarr-python 2.x if importable, else None."""
    try:
        import zarr
    except ImportError:
        return None
    return zarr if zarr.__version__.startswith("2.") else None


@dataclass
class Lib:
    name: str
    module: ModuleType

    def new_array(
        self, kind: str, tmp: str, shape: tuple[int, ...], chunks: tuple[int, ...]
    ) -> Any:
        """An empty int32 array with Blosc lz4 (clevel 5, shuffle) in a fresh store."""
        if kind == "dir":
            path = tempfile.mkdtemp(prefix=f"{self.name}-", dir=tmp)
            store = self.module.DirectoryStore(path)
        else:
            store = self.module.MemoryStore()
        compressor = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
        return self.module.create(
            shape, chunks=chunks, dtype="i4", compressor=compressor, store=store, overwrite=True
        )


def store_items(z: Any, kind: str) -> dict[str, bytes]:
    """Every key of ``z``'s store (metadata and chunks) with its stored bytes."""
    if kind == "dir":
        root = z.store.path
        out = {}
        for name in os.listdir(root):
            with open(os.path.join(root, name), "rb") as f:
                out[name] = f.read()
        return out
    return {k: bytes(z.store[k]) for k in z.store.keys()}


def cross_check(libs: Sequence[Lib], arrays: dict[str, Any], kind: str, data: np.ndarray) -> None:
    """Each library reads what the other wrote; the metadata documents are byte-identical.

    Chunk bytes are not compared: c-blosc with its global threads (zarr 2 in the main
    thread) writes blocks in the order its threads finish, so equal data can give different
    (equally valid) bytes from one run to the next.
    """
    items = {lib.name: store_items(arrays[lib.name], kind) for lib in libs}
    a, b = (items[lib.name] for lib in libs)
    if a.keys() != b.keys():
        raise AssertionError(f"keys differ: {sorted(a.keys() ^ b.keys())[:5]}")
    if a[".zarray"] != b[".zarray"]:
        raise AssertionError(f".zarray differs:\n{a['.zarray']!r}\n{b['.zarray']!r}")
    for reader in libs:
        for writer in libs:
            if writer is not reader:
                z = reader.module.open_array(dict(items[writer.name]), mode="r")
                check_equal(z[:], data, f"{reader.name} reading what {writer.name} wrote")


# -- data ----------------------------------------------------------------------------------


def make_data(n: int, seed: int) -> np.ndarray:
    """A smooth ramp plus small noise: compresses like real measurement data."""
    rng = np.random.default_rng(seed)
    i = np.arange(n, dtype=np.int32)
    data = (i[:, None] * 5 + i[None, :] * 3).astype(np.int32)
    data += rng.integers(-16, 16, size=(n, n), dtype=np.int32)
    return data


def check_equal(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    """Raise AssertionError unless the arrays have the same shape, dtype and items."""
    got = np.asarray(got)
    if got.shape != expected.shape or got.dtype != expected.dtype:
        raise AssertionError(
            f"{what}: got shape {got.shape} dtype {got.dtype}, "
            f"expected {expected.shape} {expected.dtype}"
        )
    if not np.array_equal(got, expected):
        bad = np.argwhere(got != expected)
        raise AssertionError(f"{what}: {len(bad)} items differ, first at {tuple(bad[0].tolist())}")


# -- timing --------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_case(
    libs: Sequence[Lib], repeat: int, per_call: int, make_fn: Callable[[Lib], Callable[[], Any]]
) -> dict[str, list[float]]:
    """Time ``make_fn(lib)()`` ``repeat`` times per library, alternating libraries."""
    fns = {lib.name: make_fn(lib) for lib in libs}
    times: dict[str, list[float]] = {lib.name: [] for lib in libs}
    for _ in range(repeat):
        for lib in libs:
            times[lib.name].append(timed(fns[lib.name]) / per_call)
    return times


def selected(case: str, filters: Sequence[str]) -> bool:
    return not filters or any(f in case for f in filters)


# -- cases ---------------------------------------------------------------------------------


def bench_layout(
    cfg: Config,
    libs: Sequence[Lib],
    data: np.ndarray,
    kind: str,
    chunk: int,
    tmp: str,
    ops: Sequence[str],
) -> Iterator[Result]:
    """All cases for one store kind and one chunk size."""
    n = data.shape[0]
    tag = f"{kind}/c{chunk}"
    store_text = "DirectoryStore" if kind == "dir" else "MemoryStore"
    wanted = [op for op in ops if selected(f"{op}/{tag}", cfg.cases)]
    if not wanted:
        return
    rng = np.random.default_rng(cfg.seed + 1)
    arrays: dict[str, Any] = {}
    for lib in libs:  # the first write is also the warm-up of the write case
        arrays[lib.name] = z = lib.new_array(kind, tmp, data.shape, (chunk, chunk))
        z[:] = data
    if len(libs) > 1:
        cross_check(libs, arrays, kind, data)

    if "write" in wanted:
        times = run_case(libs, cfg.repeat, 1, lambda lib: _writer(arrays[lib.name], data))
        for lib in libs:
            check_equal(arrays[lib.name][:], data, f"{lib.name} write/{tag} read back")
        yield Result(f"write/{tag}", f"z[:] = data, {n}x{n} i4, {store_text}", times)

    if "read" in wanted:
        for lib in libs:
            check_equal(arrays[lib.name][:], data, f"{lib.name} read/{tag}")
        times = run_case(libs, cfg.repeat, 1, lambda lib: _reader(arrays[lib.name]))
        yield Result(f"read/{tag}", f"z[:], {n}x{n} i4, {store_text}", times)

    if "region" in wanted:
        r = min(cfg.region, n)
        starts = rng.integers(0, n - r + 1, size=(cfg.region_calls, 2)).tolist()
        sels = [(slice(i, i + r), slice(j, j + r)) for i, j in starts]
        for lib in libs:
            z = arrays[lib.name]
            for s in sels:
                check_equal(z[s], data[s], f"{lib.name} region/{tag} {s}")
        times = run_case(libs, cfg.repeat, len(sels), lambda lib: _regions(arrays[lib.name], sels))
        yield Result(f"region/{tag}", f"z[{r}x{r} region], per call, {store_text}", times)

    if "oindex" in wanted:
        rows = rng.choice(n, size=min(cfg.rows, n), replace=False)
        expected = data[rows, :]
        for lib in libs:
            check_equal(arrays[lib.name].oindex[rows, :], expected, f"{lib.name} oindex/{tag}")
        times = run_case(libs, cfg.repeat, 1, lambda lib: _oindex(arrays[lib.name], rows))
        yield Result(f"oindex/{tag}", f"z.oindex[{len(rows)} random rows, :], {store_text}", times)

    if "vindex" in wanted:
        rows = rng.integers(0, n, size=cfg.points)
        cols = rng.integers(0, n, size=cfg.points)
        expected = data[rows, cols]
        for lib in libs:
            got = arrays[lib.name].vindex[rows, cols]
            check_equal(got, expected, f"{lib.name} vindex/{tag}")
        times = run_case(libs, cfg.repeat, 1, lambda lib: _vindex(arrays[lib.name], rows, cols))
        yield Result(f"vindex/{tag}", f"z.vindex[{cfg.points} random points], {store_text}", times)

    arrays.clear()


def _writer(z: Any, data: np.ndarray) -> Callable[[], None]:
    def fn() -> None:
        z[:] = data

    return fn


def _reader(z: Any) -> Callable[[], Any]:
    return lambda: z[:]


def _regions(z: Any, sels: list) -> Callable[[], None]:
    def fn() -> None:
        for s in sels:
            z[s]

    return fn


def _oindex(z: Any, rows: np.ndarray) -> Callable[[], Any]:
    return lambda: z.oindex[rows, :]


def _vindex(z: Any, rows: np.ndarray, cols: np.ndarray) -> Callable[[], Any]:
    return lambda: z.vindex[rows, cols]


def run(cfg: Config) -> list[Result]:
    """Run every selected case; returns the results (also printed unless ``quiet``)."""
    zarr2 = load_zarr2()
    libs = [Lib("zarrkit", zarrkit)]
    if zarr2 is not None:
        libs.append(Lib("zarr2", zarr2))
    log = (lambda *a: None) if cfg.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    if zarr2 is None:
        log("zarr-python 2.x is not installed here: timing zarrkit alone")
    data = make_data(cfg.n, cfg.seed)
    layouts = [(cfg.chunk, ALL_OPS), (cfg.small_chunk, ("write", "read"))]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="zarrkit-bench-") as tmp:
        for kind in cfg.stores:
            for chunk, ops in layouts:
                for res in bench_layout(cfg, libs, data, kind, chunk, tmp, ops):
                    log(f"  {res.case}: done")
                    results.append(res)
                for sub in os.listdir(tmp):
                    shutil.rmtree(os.path.join(tmp, sub), ignore_errors=True)
    return results


# -- output --------------------------------------------------------------------------------


def fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    if t >= 1:
        return f"{t:.3f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.1f} us"


def table(results: Sequence[Result]) -> str:
    """A plain-text table: best times of both libraries and the ratio zarr2/zarrkit."""
    head = ("case", "zarrkit", "zarr2", "zarr2/zarrkit", "what")
    rows = [head]
    for r in results:
        ratio = r.ratio()
        rows.append(
            (
                r.case,
                fmt_time(r.best("zarrkit")),
                fmt_time(r.best("zarr2")),
                "-" if ratio is None else f"{ratio:.2f}",
                r.description,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])]
        cells += [row[i].rjust(widths[i]) for i in (1, 2, 3)]
        cells.append(row[4])
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    zarr2 = load_zarr2()
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numcodecs": numcodecs.__version__,
        "zarrkit": zarrkit.__version__,
        "zarr2": None if zarr2 is None else zarr2.__version__,
        "cpu_count": os.cpu_count(),
        "zarrkit_threads": zarrkit.get_num_threads(),
    }


def to_json(cfg: Config, results: Sequence[Result]) -> dict[str, Any]:
    return {
        "environment": environment(),
        "config": asdict(cfg),
        "results": [
            {
                "case": r.case,
                "description": r.description,
                "times": r.times,
                "best": {lib: r.best(lib) for lib in r.times},
                "median": {lib: r.median(lib) for lib in r.times},
                "ratio_zarr2_over_zarrkit": r.ratio(),
            }
            for r in results
        ],
    }


# -- command line --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Config:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    p.add_argument("--repeat", "-n", type=int, help="timed repetitions per case (best is shown)")
    p.add_argument("--cases", help="comma-separated substrings of case names, e.g. read,vindex/mem")
    p.add_argument("--stores", help="comma-separated store kinds: dir,mem")
    p.add_argument("--json", nargs="?", const="-", help="write JSON to a file ('-': stdout)")
    p.add_argument("--size", type=int, help="side of the square array")
    p.add_argument("--chunk", type=int, help="chunk side of the main layout")
    p.add_argument("--small-chunk", type=int, help="chunk side of the many-chunks layout")
    p.add_argument("--region", type=int, help="side of the region read")
    p.add_argument("--region-calls", type=int, help="region reads per timing")
    p.add_argument("--rows", type=int, help="rows of the orthogonal selection")
    p.add_argument("--points", type=int, help="points of the coordinate selection")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    a = p.parse_args(argv)
    cfg = Config()
    if a.quick:
        cfg = Config(
            n=1000,
            chunk=250,
            small_chunk=50,
            region=50,
            region_calls=20,
            rows=100,
            points=1000,
            repeat=1,
        )
    overrides = {
        "n": a.size,
        "chunk": a.chunk,
        "small_chunk": a.small_chunk,
        "region": a.region,
        "region_calls": a.region_calls,
        "rows": a.rows,
        "points": a.points,
        "repeat": a.repeat,
    }
    for name, value in overrides.items():
        if value is not None:
            if value < 1:
                p.error(f"--{name.replace('_', '-')} must be at least 1")
            setattr(cfg, name, value)
    cfg.seed = a.seed
    cfg.quiet = a.quiet
    cfg.json = a.json
    if a.cases:
        cfg.cases = tuple(s.strip() for s in a.cases.split(",") if s.strip())
    if a.stores:
        cfg.stores = tuple(s.strip() for s in a.stores.split(",") if s.strip())
        bad = set(cfg.stores) - {"dir", "mem"}
        if bad:
            p.error(f"unknown store kinds: {sorted(bad)}; use dir and/or mem")
    return cfg


def main(argv: Sequence[str] | None = None) -> list[Result]:
    """Parse ``argv``, run the benchmark, print the table (or JSON); returns the results."""
    cfg = parse_args(argv)
    results = run(cfg)
    if cfg.json == "-":
        print(json.dumps(to_json(cfg, results), indent=2))
        return results
    if cfg.json:
        with open(cfg.json, "w") as f:
            json.dump(to_json(cfg, results), f, indent=2)
    if not cfg.quiet:
        env = environment()
        print(
            f"zarrkit {env['zarrkit']} (threads {env['zarrkit_threads']}) vs zarr "
            f"{env['zarr2'] or '2.x: not installed'}; numcodecs {env['numcodecs']}, "
            f"numpy {env['numpy']}, {env['cpu_count']} cores; best of {cfg.repeat}"
        )
        print(table(results))
    return results


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
