"""zarrkit against its peers on an S3 server with a per-request latency (not run in CI).

    bash benchmarks/setup_peers.sh zarr2 zarr3 tensorstore   # once: the peer venvs
    .venv/bin/python benchmarks/cloud.py                     # every row, 0/10/30 ms
    .venv/bin/python benchmarks/cloud.py --quick --libs zarrkit --latency 0
    .venv/bin/python benchmarks/cloud.py --rows read --latency 30 --libs zarr3,zarrkit-obstore
    .venv/bin/python benchmarks/cloud.py --zarrkit-src /work/wt/other/src --json out.json

The server is moto's S3 app in its own process (``cloud_server.py``, on the orchestrator's
interpreter, which needs moto) behind a WSGI middleware that sleeps the configured latency
before each request, served by werkzeug's threaded server on 127.0.0.1 and a free port; the
latency is switched between the latencies through the server (``/__latency__/<ms>``), so
the data each library reads is written once. Each library runs in a persistent worker
(``cloud_worker.py``) in its own venv, as in ``compare.py``: interleaved rounds with the
library order rotating, results checked against NumPy, medians, peak RSS per call.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compare  # noqa: E402  (the sibling orchestrator: workers, cells, machine, ...)

REPO = HERE.parent
VENVS = compare.VENVS
BUCKET = "bench"
LIBS = ("zarr2-fsspec", "zarr3-obstore", "zarr3-fsspec", "tensorstore",
        "zarrkit-obstore", "zarrkit-fsspec")  # fmt: skip
ZARRKIT = ("zarrkit-obstore", "zarrkit-fsspec")
PEERS = tuple(lib for lib in LIBS if lib not in ZARRKIT)
VENV_OF = {"zarr2-fsspec": "zarr2", "zarr3-obstore": "zarr3", "zarr3-fsspec": "zarr3",
           "tensorstore": "tensorstore"}  # fmt: skip
TITLES = {
    "zarr2-fsspec": "zarr 2.18 FSStore",
    "zarr3-obstore": "zarr 3 ObjectStore",
    "zarr3-fsspec": "zarr 3 FsspecStore",
    "tensorstore": "tensorstore s3",
    "zarrkit-obstore": "zarrkit ObjectStore",
    "zarrkit-fsspec": "zarrkit FSStore",
}
ROWS = ("write_c1000", "read_c1000", "write_c250", "read_c250", "region", "group",
        "v3_shard_write", "v3_shard_read")  # fmt: skip
V3_ROWS = ("v3_shard_write", "v3_shard_read")
WHOLE_READS = ("read_c1000", "read_c250", "v3_shard_read")
FULL = {"n": 8000, "chunk": 1000, "small_chunk": 250, "region": 100, "region_calls": 20,
        "narrays": 200, "group_chunk": 100, "shard": 2000, "inner": 250, "zstd": 1,
        "seed": 0}  # fmt: skip
QUICK = {"n": 200, "chunk": 100, "small_chunk": 50, "region": 20, "region_calls": 3,
         "narrays": 5, "group_chunk": 20, "shard": 100, "inner": 25, "zstd": 1,
         "seed": 0}  # fmt: skip
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench-key", "AWS_SECRET_ACCESS_KEY": "bench-secret",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip


def objects(row: str, c: dict[str, Any]) -> int:
    """Objects a whole read or write of ``row`` touches (chunks, or shards)."""
    side = {"read_c1000": c["chunk"], "write_c1000": c["chunk"], "read_c250": c["small_chunk"],
            "write_c250": c["small_chunk"]}.get(row, c["shard"])  # fmt: skip
    return (-(-c["n"] // side)) ** 2


def row_label(row: str, c: dict[str, Any]) -> str:
    big, small, n = c["chunk"], c["small_chunk"], c["n"]
    return {
        "write_c1000": f"write {n}², chunks {big}² ({objects(row, c)} objects)",
        "read_c1000": f"read {n}², chunks {big}²",
        "write_c250": f"write {n}², chunks {small}² ({objects(row, c)} objects)",
        "read_c250": f"read {n}², chunks {small}²",
        "region": f"read {c['region']}² anywhere (per call, {c['region_calls']} calls)",
        "group": f"consolidated group: open, read 1 chunk of each of {c['narrays']}",
        "v3_shard_write": f"v3 write, shards {c['shard']}² of {c['inner']}² "
        f"({objects(row, c)} objects, zstd)",
        "v3_shard_read": f"v3 read, shards {c['shard']}² of {c['inner']}²",
    }[row]


# -- the server ------------------------------------------------------------------------------


class Server:
    """``cloud_server.py`` in its own process: moto behind the latency middleware."""

    def __init__(self, python: str, lifetime: float) -> None:
        self.proc = subprocess.Popen(
            [python, str(HERE / "cloud_server.py"), "--lifetime", str(int(lifetime))],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            ready, _, _ = compare.wait_readable([self.proc.stdout], [], [], 60)
            line = self.proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
            if not line.startswith("PORT "):
                raise RuntimeError(f"the S3 server did not start (exit {self.proc.poll()})")
            self.url = f"http://127.0.0.1:{int(line.split()[1])}"
            self.call("PUT", f"/{BUCKET}")
        except BaseException:
            self.stop()
            raise

    def call(self, method: str, path: str) -> str:
        req = urllib.request.Request(self.url + path, method=method, data=b"")
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()

    def set_latency(self, ms: float) -> None:
        self.call("PUT", f"/__latency__/{ms:g}")

    def peak(self) -> int:
        """The most requests in flight at once since the last call (counted by the server)."""
        return int(self.call("PUT", "/__latency__/peak"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Worker(compare.Worker):
    """A ``cloud_worker.py`` process (the protocol and time bound of compare's workers)."""

    def __init__(self, lib: str, python: str, env: dict[str, str], timeout: float) -> None:
        self.lib = lib
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [python, str(HERE / "cloud_worker.py"), lib], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=env, text=True, bufsize=1,
        )  # fmt: skip
        self.versions: dict[str, str] = {}


def lib_python(lib: str, zarrkit_python: str) -> str | None:
    if lib in ZARRKIT:
        return zarrkit_python
    python = VENVS / VENV_OF[lib] / "bin" / "python"
    return str(python) if python.exists() else None


def lib_env(lib: str, zarrkit_src: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(AWS_ENV, PYTHONHASHSEED="0")
    if lib in ZARRKIT:
        env["PYTHONPATH"] = zarrkit_src
    return env


# -- the tables ------------------------------------------------------------------------------


def fmt_mib(b: float | None) -> str:
    if b is None or b < 0:
        return "-"
    return f"{b / 2**20:.1f}" if b < 10 * 2**20 else f"{b / 2**20:.0f}"


def floor_text(row: str, lat_key: str, doc: dict[str, Any]) -> str:
    """``ceil(objects / in flight) x latency + transfer`` of zarrkit ObjectStore, with the
    transfer time its median at 0 ms (when measured) and the requests in flight those the
    server counted at this latency (else the worker's estimate)."""
    by_lat = doc["results"].get(row, {})
    measured = by_lat.get(lat_key, {}).get("zarrkit-obstore", {}).get("in_flight")
    inflight = max(measured) if measured else None
    inflight = inflight or doc.get("inflight", {}).get("zarrkit-obstore", {}).get(row)
    if row not in WHOLE_READS or not inflight:
        return ""
    base = by_lat.get("0", {}).get("zarrkit-obstore", {}).get("median")
    if base is None:
        return ""
    floor = math.ceil(objects(row, doc["config"]) / inflight) * float(lat_key) / 1000 + base
    return f"{compare.fmt_time(floor)} ({inflight} in flight)"


def table(doc: dict[str, Any]) -> str:
    """Medians per row and latency; best peer bold; ``vs best`` = best peer / best zarrkit;
    ``floor``: see :func:`floor_text`."""
    libs = [lib for lib in LIBS if any(lib in cells for r in doc["results"].values()
                                       for cells in r.values())]  # fmt: skip
    lines = ["| workload | latency | " + " | ".join(TITLES[lib] for lib in libs)
             + " | vs best | floor (zarrkit ObjectStore) |",
             "|---|---|" + "---|" * (len(libs) + 2)]  # fmt: skip
    for row, by_lat in doc["results"].items():
        for lat, cells in by_lat.items():
            med = {lib: c["median"] for lib, c in cells.items() if c["median"] is not None}
            peers = [med[lib] for lib in PEERS if lib in med]
            zk = [med[lib] for lib in ZARRKIT if lib in med]
            best_peer, best_zk = min(peers, default=None), min(zk, default=None)
            texts = []
            for lib in libs:
                c = cells.get(lib)
                if c is None:
                    texts.append("-")
                    continue
                text = "n/a" if c["na"] else "fail" if c["error"] else compare.fmt_time(c["median"])
                best = best_peer if lib in PEERS else best_zk
                other = best_zk if lib in PEERS else best_peer
                if (
                    c["median"] is not None
                    and c["median"] == best
                    and (other is None or best <= other)
                ):
                    text = f"**{text}**"
                texts.append(text)
            ratio = f"{best_peer / best_zk:.2f}" if best_peer and best_zk else "-"
            lines.append(f"| {row_label(row, doc['config'])} | {lat} ms | " + " | ".join(texts)
                         + f" | {ratio} | {floor_text(row, lat, doc)} |")  # fmt: skip
    return "\n".join(lines)


def memory_table(doc: dict[str, Any]) -> str:
    """Peak RSS above the RSS before the call, MiB: the largest over latencies and calls."""
    libs = [lib for lib in LIBS if any(lib in cells for r in doc["results"].values()
                                       for cells in r.values())]  # fmt: skip
    lines = ["| workload (peak RSS, MiB) | " + " | ".join(TITLES[lib] for lib in libs) + " |",
             "|---|" + "---|" * len(libs)]  # fmt: skip
    for row, by_lat in doc["results"].items():
        texts = []
        for lib in libs:
            peaks = [p for cells in by_lat.values() for p in cells.get(lib, {}).get("peaks", [])]
            texts.append(fmt_mib(max(peaks)) if peaks else "-")
        lines.append(f"| {row_label(row, doc['config'])} | " + " | ".join(texts) + " |")
    return "\n".join(lines)


def in_flight_table(doc: dict[str, Any]) -> str:
    """The most requests in flight at once, counted at the server, per row and library (the
    largest over rounds), at each latency above 0 (at 0 ms moto's CPU decides)."""
    libs = [lib for lib in LIBS if any(lib in cells for r in doc["results"].values()
                                       for cells in r.values())]  # fmt: skip
    lats = [k for k in doc["latencies_ms"] if float(k) > 0]
    if not lats:
        return ""
    lines = ["| workload [objects]: most requests in flight | latency | "
             + " | ".join(TITLES[lib] for lib in libs) + " |",
             "|---|---|" + "---|" * len(libs)]  # fmt: skip
    for row, by_lat in doc["results"].items():
        for lat in lats:
            counts = [by_lat.get(lat, {}).get(lib, {}).get("in_flight") for lib in libs]
            if not any(counts):
                continue
            texts = [str(max(c)) if c else "-" for c in counts]
            label = row_label(row, doc["config"])
            if row.startswith(("read_c", "write_c", "v3_shard")):
                label += f" [{objects(row, doc['config'])}]"
            lines.append(f"| {label} | {lat} ms | " + " | ".join(texts) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--latency", default="0,10,30", help="per-request latencies, ms (0,10,30)")
    p.add_argument("--rows", help=f"comma list of rows or prefixes: {', '.join(ROWS)}")
    p.add_argument("--libs", help=f"comma list of libraries or prefixes: {', '.join(LIBS)} "
                   "(zarrkit ObjectStore always runs)")  # fmt: skip
    p.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds (default 2, quick 1)"
    )
    p.add_argument("--repeat", type=int, default=None,
                   help="repetitions per round (default 1)")  # fmt: skip
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed repetitions per library and row at 0 ms before the timed ones "
                   "(1; 0: none, and the data is written in the first timed round)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    p.add_argument("--zarrkit-src", default=str(REPO / "src"),
                   help="first on the zarrkit workers' PYTHONPATH (default: this checkout's src)")  # fmt: skip
    p.add_argument("--zarrkit-python", default=sys.executable,
                   help="interpreter of the zarrkit workers and the server (numpy, numcodecs, "
                   "obstore, s3fs, moto)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=900, help="seconds per worker answer")
    p.add_argument("--json", help="write every time and the environment here")
    p.add_argument("--markdown", help="write the README section (machine, versions, tables)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = p.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.repeat = args.repeat or 1
    if args.rounds < 1 or args.repeat < 1:
        p.error("--rounds and --repeat must be at least 1")
    try:
        args.latencies = [float(x) for x in args.latency.split(",")]
    except ValueError:
        p.error(f"--latency: comma list of milliseconds, not {args.latency!r}")
    if any(x < 0 for x in args.latencies):
        p.error("--latency: no negative latencies")
    return args


def run(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    config = dict(QUICK if args.quick else FULL)
    rows = compare.select(args.rows, ROWS, "row")
    libs = compare.select(args.libs, LIBS, "library")
    if "zarrkit-obstore" not in libs:
        libs.append("zarrkit-obstore")
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    started = time.time()
    lat_keys = [f"{x:g}" for x in args.latencies]
    results: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    workers: dict[str, Worker] = {}
    missing: dict[str, str] = {}
    inflight: dict[str, Any] = {}
    server = Server(args.zarrkit_python, lifetime=max(3600, 4 * args.timeout))
    try:
        log(f"[cloud] S3 server at {server.url}")
        for lib in libs:
            python = lib_python(lib, args.zarrkit_python)
            if python is None:
                missing[lib] = f"no venv at {VENVS / VENV_OF[lib]} (run benchmarks/setup_peers.sh)"
                continue
            w = Worker(lib, python, lib_env(lib, args.zarrkit_src), args.timeout)
            hello = {"op": "hello", "config": config, "endpoint": server.url,
                     "bucket": BUCKET, "name": lib}  # fmt: skip
            try:
                answer = w.ask(hello)
            except compare.WorkerError as e:
                answer = {"ok": False, "error": str(e)}
            if not answer["ok"]:
                missing[lib] = answer["error"]
                w.close()
                continue
            w.versions = answer["versions"]
            workers[lib] = w
            if lib in ZARRKIT:
                inflight[lib] = w.ask({"op": "inflight"}).get("inflight", {})
        for lib, why in missing.items():
            print(f"[cloud] {lib} left out: {why}", file=sys.stderr)
        if "zarrkit-obstore" not in workers:
            raise SystemExit(f"zarrkit worker failed: {missing.get('zarrkit-obstore')}")
        order = [lib for lib in libs if lib in workers]
        for row in rows:
            results[row] = {
                lat: {lib: {"times": [], "peaks": [], "error": None, "na": False}
                      for lib in order if not (row in V3_ROWS and lib == "zarr2-fsspec")}
                for lat in lat_keys
            }  # fmt: skip
        # untimed at 0 ms: each worker writes what it reads, checks each row once, and warms up
        server.set_latency(0)
        for row in rows:
            for lib in order:
                if args.warmup < 1 or (row in V3_ROWS and lib == "zarr2-fsspec"):
                    continue
                t0 = time.perf_counter()
                req = {"op": "run", "workload": row, "repeat": args.warmup, "warmup": 0}
                try:
                    answer = workers[lib].ask(req)
                except compare.WorkerError as e:
                    answer = {"ok": False, "error": str(e)}
                log(f"[prepare] {row:15} {lib:16} {'ok' if answer['ok'] else answer['error']} "
                    f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip
                if not answer["ok"]:
                    for cells in results[row].values():
                        cells[lib]["na" if answer.get("na") else "error"] = (
                            True if answer.get("na") else answer["error"]
                        )
                    if not answer.get("na"):
                        print(f"[cloud] {lib} FAILED {row}: {answer['error']}", file=sys.stderr)
                        if answer.get("traceback") and not args.quiet:
                            print(answer["traceback"], file=sys.stderr)
        for li, (lat, lat_key) in enumerate(zip(args.latencies, lat_keys, strict=True)):
            server.set_latency(lat)
            for rnd in range(args.rounds):
                for row in rows:
                    k = rnd + li
                    for lib in order[k % len(order) :] + order[: k % len(order)]:
                        cell = results[row][lat_key].get(lib)
                        if cell is None or cell["na"] or cell["error"]:
                            continue
                        t0 = time.perf_counter()
                        req = {"op": "run", "workload": row, "repeat": args.repeat, "warmup": 0}
                        server.peak()
                        try:
                            answer = workers[lib].ask(req)
                        except compare.WorkerError as e:
                            answer = {"ok": False, "error": str(e)}
                        in_flight = server.peak()
                        if answer["ok"]:
                            cell["times"].extend(answer["times"])
                            cell["peaks"].extend(answer["peaks"])
                            cell.setdefault("in_flight", []).append(in_flight)
                            log(f"[{lat_key} ms, round {rnd + 1}/{args.rounds}] {row:15} "
                                f"{lib:16} median {compare.fmt_time(statistics.median(answer['times']))}"
                                f" ({time.perf_counter() - t0:.1f} s)")  # fmt: skip
                        elif answer.get("na"):
                            cell["na"] = True
                        else:
                            cell["error"] = answer["error"]
                            print(f"[cloud] {lib} FAILED {row} at {lat_key} ms: {answer['error']}",
                                  file=sys.stderr)  # fmt: skip
                            if answer.get("traceback") and not args.quiet:
                                print(answer["traceback"], file=sys.stderr)
    finally:
        for w in workers.values():
            w.close()
        server.stop()

    for by_lat in results.values():
        for cells in by_lat.values():
            for c in cells.values():
                t = c["times"]
                c["median"] = statistics.median(t) if t else None
                c["min"], c["max"] = (min(t), max(t)) if t else (None, None)
    env = {
        "machine": compare.machine(),
        "versions": {lib: w.versions for lib, w in workers.items()},
    }
    env["machine"]["loadavg_end"] = os.getloadavg()
    env["machine"]["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    for lib in ZARRKIT:
        zk = env["versions"].get(lib, {})
        commit = compare.git_describe(zk["zarrkit_path"]) if "zarrkit_path" in zk else None
        if commit:
            zk["git"] = commit
    cmd = "python benchmarks/cloud.py " + " ".join(sys.argv[1:] if argv is None else argv)
    doc = {
        "command": cmd.strip(), "config": config, "latencies_ms": lat_keys,
        "rounds": args.rounds, "repeat": args.repeat, "warmup": args.warmup,
        "seconds": round(time.time() - started, 1), "environment": env, "left_out": missing,
        "inflight": inflight, "results": results,
    }  # fmt: skip
    report(doc, args)
    return doc


def spread_text(doc: dict[str, Any]) -> str:
    """The noise: median over cells of (max - min) / median of each cell's times."""
    spreads = [(c["max"] - c["min"]) / c["median"]
               for by_lat in doc["results"].values() for cells in by_lat.values()
               for c in cells.values() if c["median"] and len(c["times"]) > 1]  # fmt: skip
    if not spreads:
        return "spread: one time per cell"
    spreads.sort()
    return (f"spread of a cell's times, (max - min) / median: median {statistics.median(spreads):.0%}"
            f", 90th percentile {spreads[int(0.9 * (len(spreads) - 1))]:.0%}")  # fmt: skip


def report(doc: dict[str, Any], args: argparse.Namespace) -> None:
    doc["table"] = md = table(doc)
    doc["memory_table"] = mem = memory_table(doc)
    m = doc["environment"]["machine"]
    header = (
        f"{m['date']}, {m['nproc']} cores ({m['cpu']}), {m['platform']}, load average "
        f"{m['loadavg_start'][0]:.1f} at start, {m['loadavg_end'][0]:.1f} at end; "
        f"{doc['rounds']} rounds x {doc['repeat']} repetitions (median), n={doc['config']['n']}, "
        f"{doc['seconds']} s; {spread_text(doc)}"
    )
    versions = "\n".join(
        f"- {TITLES[lib]}: " + ", ".join(f"{k} {v}" for k, v in ver.items() if k != "zarrkit_path")
        for lib, ver in doc["environment"]["versions"].items()
    )
    doc["in_flight_table"] = flight = in_flight_table(doc)
    inflight = "; ".join(f"{TITLES[lib]}: {v}" for lib, v in doc["inflight"].items())
    text = (f"{header}\n{versions}\n\nzarrkit requests in flight, the workers' estimate: "
            f"{inflight}\n\n{md}\n\n{mem}\n" + (f"\n{flight}\n" if flight else ""))  # fmt: skip
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(f"Command: `{doc['command']}`\n\nMachine: {text}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return run(argv)


if __name__ == "__main__":
    main()
