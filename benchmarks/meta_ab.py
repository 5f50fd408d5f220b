"""A/B timing of the metadata rows of issue 15: group creation, opening, consolidated opening.

Each library runs in its own worker process (zarrkit from a source tree, or zarr 2); the
driver interleaves them round by round and prints the median of every row::

    .venv-zarr2/bin/python benchmarks/meta_ab.py                       # zarr2 vs this tree
    .venv-zarr2/bin/python benchmarks/meta_ab.py --tree main=/work/main/src --tree new=src
    .venv-zarr2/bin/python benchmarks/meta_ab.py --rows open,consolidated --rounds 20

Rows (data under ``--dir``, tmpfs by default; a ``DirectoryStore`` through a path string):

* ``create``: ``g = zarr.open_group(path, mode='w')`` then ``g.create_dataset(f'a{i}',
  shape=(100, 100), chunks=(10, 10), dtype='i4')`` for 200 arrays, in a fresh directory;
  ``create-zeros`` and ``create-create`` use ``g.zeros`` and ``g.create`` instead;
* ``open``: ``g = zarr.open_group(path, mode='r')`` then ``g[f'a{i}']`` for each;
* ``consolidated``: ``g = zarr.open_consolidated(path)`` then ``g[f'a{i}']`` for each
  (metadata consolidated once beforehand).

``--tensorstore`` adds tensorstore to ``create`` and ``open``: the ``.zgroup`` through its
``file`` kvstore, then the 200 arrays created (opened) with concurrent ``ts.open`` calls, as
the peer benchmark does (chunk cache off, no fsync).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

N_ARRAYS = 200
ROWS = ("create", "create-zeros", "create-create", "open", "consolidated")
ROWS_OF = {"tensorstore": ("create", "open")}

WORKER = r"""
import json, os, shutil, sys, time
lib, base, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if lib == "tensorstore":
    import tensorstore as ts
    import types
    ctx = ts.Context({"cache_pool": {"total_bytes_limit": 0}, "file_io_sync": False})
    blosc = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}

    def _spec(path, create):
        spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": path}}
        if create:
            spec["metadata"] = {
                "shape": [100, 100], "chunks": [10, 10], "dtype": "<i4", "compressor": blosc,
                "fill_value": 0, "order": "C", "filters": None,
            }
        return spec

    class _TsGroup:
        # a group is its .zgroup; members are opened concurrently, as tensorstore does best
        def __init__(self, path, mode):
            self.path = path
            kv = ts.KvStore.open({"driver": "file", "path": path + "/"}, context=ctx).result()
            if mode == "w":
                kv.write(".zgroup", b'{\n    "zarr_format": 2\n}').result()
            elif kv.read(".zgroup").result().state != "value":
                raise KeyError(".zgroup")

    def _create_all(g, names):
        fs = [ts.open(_spec(f"{g.path}/{n}", True), create=True, context=ctx) for n in names]
        return [f.result() for f in fs]

    def _open_all(g, names):
        fs = [ts.open(_spec(f"{g.path}/{n}", False), open=True, context=ctx) for n in names]
        return [f.result() for f in fs]

    zarr = types.SimpleNamespace(open_group=_TsGroup, consolidate_metadata=lambda p: None)
elif lib == "zarr2":
    import zarr
else:
    import zarrkit as zarr
    assert zarr.__file__.startswith(lib), (zarr.__file__, lib)
names = [f"a{i}" for i in range(n)]
fresh = [0]

def create(method):
    def run():
        fresh[0] += 1
        path = os.path.join(base, f"c{fresh[0]}")
        t0 = time.perf_counter()
        g = zarr.open_group(path, mode="w")
        if lib == "tensorstore":
            _create_all(g, names)
        else:
            make = getattr(g, method)
            for name in names:
                make(name, shape=(100, 100), chunks=(10, 10), dtype="i4")
        t = time.perf_counter() - t0
        shutil.rmtree(path)
        return t
    return run

ready = os.path.join(base, "ready")
g = zarr.open_group(ready, mode="w")
if lib == "tensorstore":
    _create_all(g, names)
else:
    for name in names:
        g.create_dataset(name, shape=(100, 100), chunks=(10, 10), dtype="i4")
zarr.consolidate_metadata(ready)

def open_plain():
    t0 = time.perf_counter()
    g = zarr.open_group(ready, mode="r")
    if lib == "tensorstore":
        _open_all(g, names)
    else:
        for name in names:
            g[name]
    return time.perf_counter() - t0

def open_consolidated():
    t0 = time.perf_counter()
    g = zarr.open_consolidated(ready)
    for name in names:
        g[name]
    return time.perf_counter() - t0

rows = {"create": create("create_dataset"), "create-zeros": create("zeros"),
        "create-create": create("create"), "open": open_plain,
        "consolidated": open_consolidated}
if lib == "tensorstore":  # no consolidated metadata; one creation call
    rows = {"create": rows["create"], "open": open_plain}
for row in rows.values():
    row()  # warm-up
print("ready", flush=True)
for line in sys.stdin:
    row, reps = line.split()
    print(json.dumps([rows[row]() for _ in range(int(reps))]), flush=True)
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="NAME=SRC",
        help="a zarrkit source tree to time (repeatable); default: new=src",
    )
    p.add_argument("--no-zarr2", action="store_true", help="leave zarr 2 out")
    p.add_argument("--tensorstore", action="store_true", help="add tensorstore (create, open)")
    p.add_argument("--rows", default="create,open,consolidated")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--reps", type=int, default=3, help="runs per worker per round")
    p.add_argument("--arrays", type=int, default=N_ARRAYS, help="arrays per group (200)")
    p.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    args = p.parse_args()
    trees = [t.split("=", 1) for t in args.tree] or [["new", "src"]]
    rows = args.rows.split(",")
    for row in rows:
        if row not in ROWS:
            p.error(f"unknown row {row!r}; rows: {', '.join(ROWS)}")
    libs: list[tuple[str, str, dict]] = []
    if not args.no_zarr2:
        libs.append(("zarr2", "zarr2", dict(os.environ, PYTHONPATH="")))
    if args.tensorstore:
        libs.append(("tensorstore", "tensorstore", dict(os.environ, PYTHONPATH="")))
    for name, src in trees:
        src = os.path.abspath(src)
        libs.append((name, os.path.join(src, "zarrkit"), dict(os.environ, PYTHONPATH=src)))
    base = tempfile.mkdtemp(prefix="meta_ab-", dir=args.dir)
    workers = {}
    try:
        for name, lib, env in libs:
            d = os.path.join(base, name)
            os.makedirs(d)
            w = subprocess.Popen(
                [sys.executable, "-c", WORKER, lib, d, str(args.arrays)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            assert w.stdout is not None and w.stdout.readline().strip() == "ready", name
            workers[name] = w
        times: dict[tuple[str, str], list[float]] = {}
        for r in range(args.rounds):
            order = list(workers) if r % 2 == 0 else list(reversed(workers))
            for row in rows:
                for name in order:
                    if row not in ROWS_OF.get(name, ROWS):
                        continue
                    w = workers[name]
                    assert w.stdin is not None and w.stdout is not None
                    w.stdin.write(f"{row} {args.reps}\n")
                    w.stdin.flush()
                    times.setdefault((row, name), []).extend(json.loads(w.stdout.readline()))
        names = list(workers)
        print(f"medians of {args.rounds * args.reps} runs, {args.arrays} arrays, dir {base}")
        print(f"{'row':<16}" + "".join(f"{n:>12}" for n in names))
        for row in rows:
            meds = [statistics.median(times[row, n]) if (row, n) in times else None for n in names]
            cells = "".join(f"{'-':>12}" if m is None else f"{m * 1e3:>10.2f}ms" for m in meds)
            print(f"{row:<16}{cells}")
    finally:
        for w in workers.values():
            if w.stdin:
                w.stdin.close()
            w.wait()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
