"""Time zarrkit against zarr-python 2.x and tensorstore on the same data, in one run.

Run it in the environment that has all three libraries::

    .venv-zarr2/bin/python benchmarks/bench.py            # full sizes (8000 x 8000 int32)
    .venv-zarr2/bin/python benchmarks/bench.py --quick    # small smoke run
    .venv-zarr2/bin/python benchmarks/bench.py --cases read,region --repeat 5
    .venv-zarr2/bin/python benchmarks/bench.py --libs zarrkit,tensorstore
    .venv-zarr2/bin/python benchmarks/bench.py --json results.json

Every case is checked for correctness: results must equal NumPy's, each library must read
what every other one wrote, the ``.zarray`` documents of zarrkit and zarr 2 must be
byte-identical and tensorstore's must say the same; a failed check raises
``AssertionError``. Times are best-of-N after one warm-up run (the checked run); repetitions
alternate between the libraries so that noise from other processes hits all alike. A library
that is not installed is left out (the script says so).
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
LIB_NAMES = ("zarrkit", "zarr2", "tensorstore")  # zarrkit is the reference of the ratios
OTHERS = LIB_NAMES[1:]
# The .zarray keys that define the array; tensorstore writes them in its own JSON layout.
ZARRAY_KEYS = ("zarr_format", "shape", "chunks", "dtype", "compressor", "fill_value", "order")


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
    libs: tuple[str, ...] = ()  # empty: every installed library
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

    def ratio(self, other: str = "zarr2") -> float | None:
        """``other``'s time / zarrkit's time (above 1: zarrkit is faster)."""
        a, b = self.best(other), self.best("zarrkit")
        return a / b if a is not None and b else None


# -- libraries -----------------------------------------------------------------------------


def load_zarr2() -> ModuleType | None:
    """zarr-python 2.x if importable, else None."""
    try:
        import zarr
    except ImportError:
        return None
    return zarr if zarr.__version__.startswith("2.") else None


def load_tensorstore() -> ModuleType | None:
    """tensorstore if importable, else None."""
    try:
        import tensorstore
    except ImportError:
        return None
    return tensorstore


def version_of(name: str) -> str | None:
    """Installed version of one of ``LIB_NAMES``, None if it is not installed."""
    if name == "zarrkit":
        return zarrkit.__version__
    if name == "zarr2":
        zarr2 = load_zarr2()
        return None if zarr2 is None else zarr2.__version__
    if load_tensorstore() is None:
        return None
    from importlib.metadata import version  # tensorstore has no __version__

    return version("tensorstore")


def new_compressor() -> numcodecs.Blosc:
    return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)


class Lib:
    """One library under test: makes arrays, lists their stored items, opens foreign items.

    An array here is anything with the zarr 2 reading surface the cases use: ``z[sel]``,
    ``z[sel] = value``, ``z.oindex[...]`` and ``z.vindex[...]``, all returning NumPy arrays.
    """

    name: str

    def new_array(
        self, kind: str, tmp: str, shape: tuple[int, ...], chunks: tuple[int, ...]
    ) -> Any:
        """An empty int32 array with Blosc lz4 (clevel 5, shuffle) in a fresh store."""
        raise NotImplementedError

    def items(self, z: Any, kind: str) -> dict[str, bytes]:
        """Every key of ``z``'s store (metadata and chunks) with its stored bytes."""
        raise NotImplementedError

    def open_items(self, items: dict[str, bytes]) -> Any:
        """A read-only array over ``items`` (as returned by some library's ``items``)."""
        raise NotImplementedError


class ZarrLib(Lib):
    """zarrkit or zarr-python 2.x: the same API, so one adapter serves both."""

    def __init__(self, name: str, module: ModuleType) -> None:
        self.name = name
        self.module = module

    def new_array(
        self, kind: str, tmp: str, shape: tuple[int, ...], chunks: tuple[int, ...]
    ) -> Any:
        if kind == "dir":
            path = tempfile.mkdtemp(prefix=f"{self.name}-", dir=tmp)
            store = self.module.DirectoryStore(path)
        else:
            store = self.module.MemoryStore()
        return self.module.create(
            shape,
            chunks=chunks,
            dtype="i4",
            compressor=new_compressor(),
            store=store,
            overwrite=True,
        )

    def items(self, z: Any, kind: str) -> dict[str, bytes]:
        if kind == "dir":
            return dir_items(z.store.path)
        return {k: bytes(z.store[k]) for k in z.store.keys()}

    def open_items(self, items: dict[str, bytes]) -> Any:
        return self.module.open_array(dict(items), mode="r")


def dir_items(root: str) -> dict[str, bytes]:
    """The files of a flat directory store, by name."""
    out = {}
    for name in os.listdir(root):
        with open(os.path.join(root, name), "rb") as f:
            out[name] = f.read()
    return out


class TsArray:
    """A tensorstore array behind the zarr 2 surface: each access is one blocking
    ``.read().result()`` or ``.write(...).result()``."""

    def __init__(self, store: Any, context: Any, path: str | None) -> None:
        self.store = store  # the tensorstore.TensorStore
        self.context = context  # holds the memory kvstore of a `mem` array
        self.path = path  # directory of a `dir` array

    def __getitem__(self, sel: Any) -> np.ndarray:
        return self.store[sel].read().result()

    def __setitem__(self, sel: Any, value: np.ndarray) -> None:
        self.store[sel].write(value).result()

    @property
    def oindex(self) -> _TsIndexer:
        return _TsIndexer(self.store.oindex)

    @property
    def vindex(self) -> _TsIndexer:
        return _TsIndexer(self.store.vindex)


class _TsIndexer:
    def __init__(self, indexer: Any) -> None:
        self.indexer = indexer

    def __getitem__(self, sel: Any) -> np.ndarray:
        return self.indexer[sel].read().result()


class TensorstoreLib(Lib):
    """tensorstore's ``zarr`` driver on a ``file`` (dir) or ``memory`` (mem) kvstore.

    Its chunk cache is off (``cache_pool`` 0 bytes, the default) so that every read decodes,
    as in zarrkit and zarr 2, and ``file_io_sync`` is off: zarrkit and zarr 2 do not fsync
    either, and the page cache, not the disk, is what the ``dir`` cases measure.
    """

    name = "tensorstore"

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def _context(self) -> Any:
        return self.module.Context({"cache_pool": {"total_bytes_limit": 0}, "file_io_sync": False})

    def new_array(
        self, kind: str, tmp: str, shape: tuple[int, ...], chunks: tuple[int, ...]
    ) -> Any:
        context = self._context()
        path = None
        if kind == "dir":
            path = tempfile.mkdtemp(prefix=f"{self.name}-", dir=tmp)
            kvstore = {"driver": "file", "path": path + "/"}
        else:
            kvstore = {"driver": "memory"}
        metadata = {
            "shape": list(shape),
            "chunks": list(chunks),
            "dtype": "<i4",
            "compressor": new_compressor().get_config(),
            "fill_value": 0,
            "order": "C",
            "filters": None,
        }
        spec = {"driver": "zarr", "kvstore": kvstore, "metadata": metadata}
        store = self.module.open(spec, create=True, delete_existing=True, context=context)
        return TsArray(store.result(), context, path)

    def items(self, z: TsArray, kind: str) -> dict[str, bytes]:
        if kind == "dir":
            return dir_items(z.path)
        kv = self.module.KvStore.open({"driver": "memory"}, context=z.context).result()
        return {k.decode(): bytes(kv.read(k).result().value) for k in kv.list().result()}

    def open_items(self, items: dict[str, bytes]) -> TsArray:
        context = self._context()
        kv = self.module.KvStore.open({"driver": "memory"}, context=context).result()
        for key, value in items.items():
            kv.write(key, value).result()
        spec = {"driver": "zarr", "kvstore": {"driver": "memory"}}
        return TsArray(self.module.open(spec, open=True, context=context).result(), context, None)


def available_libs(wanted: Sequence[str] = ()) -> tuple[list[Lib], list[str]]:
    """The libraries to time (``wanted``, or all of ``LIB_NAMES``) that are installed,
    in ``LIB_NAMES`` order, and the names of the missing ones."""
    names = [n for n in LIB_NAMES if not wanted or n in wanted]
    libs: list[Lib] = []
    missing = []
    for name in names:
        if name == "zarrkit":
            libs.append(ZarrLib("zarrkit", zarrkit))
            continue
        module = load_zarr2() if name == "zarr2" else load_tensorstore()
        if module is None:
            missing.append(name)
        elif name == "zarr2":
            libs.append(ZarrLib("zarr2", module))
        else:
            libs.append(TensorstoreLib(module))
    return libs, missing


def check_metadata(docs: dict[str, bytes]) -> None:
    """The ``.zarray`` documents of all libraries describe the same array; zarrkit's and
    zarr 2's are byte-identical (tensorstore lays out its JSON its own way)."""
    if "zarrkit" in docs and "zarr2" in docs and docs["zarrkit"] != docs["zarr2"]:
        raise AssertionError(f".zarray differs:\n{docs['zarrkit']!r}\n{docs['zarr2']!r}")
    parsed = {name: json.loads(doc) for name, doc in docs.items()}
    (first, ref), *rest = parsed.items()
    for name, meta in rest:
        for key in ZARRAY_KEYS:
            if meta.get(key) != ref.get(key):
                raise AssertionError(
                    f".zarray {key!r}: {first} has {ref.get(key)!r}, {name} has {meta.get(key)!r}"
                )
        # filters null and no dimension_separator are the defaults: [] and "."
        for key, default in (("filters", None), ("dimension_separator", ".")):
            a, b = ref.get(key) or default, meta.get(key) or default
            if a != b:
                raise AssertionError(f".zarray {key!r}: {first} has {a!r}, {name} has {b!r}")


def cross_check(libs: Sequence[Lib], arrays: dict[str, Any], kind: str, data: np.ndarray) -> None:
    """Each library reads what every other one wrote; the metadata documents agree.

    Chunk bytes are not compared: c-blosc with its global threads (zarr 2 in the main
    thread) writes blocks in the order its threads finish, so equal data can give different
    (equally valid) bytes from one run to the next.
    """
    items = {lib.name: lib.items(arrays[lib.name], kind) for lib in libs}
    (first, ref), *rest = items.items()
    for name, its in rest:
        if its.keys() != ref.keys():
            diff = sorted(its.keys() ^ ref.keys())[:5]
            raise AssertionError(f"keys of {first} and {name} differ: {diff}")
    check_metadata({name: its[".zarray"] for name, its in items.items()})
    for reader in libs:
        for writer in libs:
            if writer is not reader:
                z = reader.open_items(items[writer.name])
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
    libs, missing = available_libs(cfg.libs)
    log = (lambda *a: None) if cfg.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    for name in missing:
        what = "zarr-python 2.x" if name == "zarr2" else name
        log(f"{what} is not installed here: timing without it")
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
    """A plain-text table: best time of every library and its ratio to zarrkit's.

    Every library has its columns, ``-`` where it did not run, so that tables of different
    runs line up.
    """
    head = ["case", "zarrkit"]
    for other in OTHERS:
        head += [other, f"{other}/zarrkit"]
    head.append("what")
    rows = [head]
    for r in results:
        row = [r.case, fmt_time(r.best("zarrkit"))]
        for other in OTHERS:
            ratio = r.ratio(other)
            row += [fmt_time(r.best(other)), "-" if ratio is None else f"{ratio:.2f}"]
        row.append(r.description)
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])]
        cells += [row[i].rjust(widths[i]) for i in range(1, len(head) - 1)]
        cells.append(row[-1])
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def lib_label(name: str, version: str | None, ran: bool) -> str:
    """``zarr 2.18.7``, ``tensorstore 0.1.86 (not run)``, ``zarr 2.x: not installed``."""
    shown = "zarr" if name == "zarr2" else name
    if version is None:
        return f"{shown}{' 2.x' if name == 'zarr2' else ''}: not installed"
    return f"{shown} {version}" + ("" if ran else " (not run)")


def environment() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numcodecs": numcodecs.__version__,
        **{name: version_of(name) for name in LIB_NAMES},
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
                **{f"ratio_{other}_over_zarrkit": r.ratio(other) for other in OTHERS},
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
    p.add_argument(
        "--libs", help=f"comma-separated libraries of {','.join(LIB_NAMES)} (default: installed)"
    )
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
    if a.libs:
        cfg.libs = tuple(s.strip() for s in a.libs.split(",") if s.strip())
        bad = set(cfg.libs) - set(LIB_NAMES)
        if bad or not cfg.libs:
            p.error(f"unknown libraries: {sorted(bad)}; use some of {', '.join(LIB_NAMES)}")
        missing = available_libs(cfg.libs)[1]
        if missing:
            p.error(f"not installed here: {', '.join(missing)}")
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
        ran = {lib for r in results for lib in r.times}
        others = ", ".join(lib_label(name, env[name], name in ran) for name in OTHERS)
        print(
            f"zarrkit {env['zarrkit']} (threads {env['zarrkit_threads']}) vs {others}; "
            f"numcodecs {env['numcodecs']}, numpy {env['numpy']}, {env['cpu_count']} cores; "
            f"best of {cfg.repeat}"
        )
        print(table(results))
    return results


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
