"""zarrkit against its peers, each library in its own venv, in interleaved rounds.

    bash benchmarks/setup_peers.sh                       # once: the peer venvs (from PyPI)
    .venv/bin/python benchmarks/compare.py               # full run: every row, every library
    .venv/bin/python benchmarks/compare.py --quick --libs zarrkit
    .venv/bin/python benchmarks/compare.py --zarrkit-src /work/wt/pipe/src --rows read,write_c100
    .venv/bin/python benchmarks/compare.py --rounds 3 --repeat 3 --json out.json --markdown out.md
    .venv/bin/python benchmarks/compare.py --rows v3 --libs zarrs,zarrs34,fused,tensorstore

Each library runs in a persistent worker (``worker.py``) in its own interpreter, speaking JSON
lines over stdin/stdout. The orchestrator (standard library only) loops: for each round, for
each workload, for each library (the library order rotates round by round) it asks that
library's worker for ``--repeat`` timed repetitions; each worker checks every result against
NumPy. The table shows each library's median over all rounds and repetitions, the best peer in
bold, and ``vs best`` = best peer's median / zarrkit's median (above 1: zarrkit is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from select import select as wait_readable
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENVS = Path(os.environ.get("ZARRKIT_BENCH_HOME", Path.home() / ".cache/zarrkit/bench")) / "venvs"

# name -> column it is shown in (zarrs and zarrs34 share one: the better of the two per row)
LIBS = ("zarr2", "zarrs", "zarrs34", "fused", "tensorstore", "zarrkit")
PEERS = LIBS[:-1]
COLUMNS = {
    "zarr 2.18": ("zarr2",),
    "zarr 3 + zarrs": ("zarrs", "zarrs34"),
    "zarr 3.4 fused": ("fused",),
    "tensorstore": ("tensorstore",),
}
LIB_TITLES = {
    "zarr2": "zarr-python 2.18 (numcodecs Blosc)",
    "zarrs": "zarr-python 3.1.6 + zarrs pipeline",
    "zarrs34": "zarr-python 3.4.2 + zarrs pipeline",
    "fused": "zarr-python 3.4.2 FusedCodecPipeline",
    "tensorstore": "tensorstore zarr driver (cache off, file_io_sync off)",
    "zarrkit": "zarrkit under test",
    "base": "zarrkit baseline (--zarrkit-base)",
}
ROWS = (
    "write_c1000", "read_c1000", "region_1chunk", "region_4chunks", "write_c100", "read_c100",
    "oindex", "vindex", "write_raw", "read_raw", "write_fill", "create_group", "open_group",
    "open_consolidated", "v3_shard_write", "v3_shard_read", "v3_shard_region", "v3_shard_oindex",
    "v3_write_c1000", "v3_read_c1000",
)  # fmt: skip
# Zarr v3 rows (zstd at level "zstd"; sharded: shards of "shard"², inner chunks "inner"²)
V3_ROWS = tuple(r for r in ROWS if r.startswith("v3_"))
# libraries that cannot run a row at all (no such format): not asked, "-" in the table
NO_ROWS = {"zarr2": V3_ROWS}
FULL = {
    "n": 8000, "chunk": 1000, "small_chunk": 100, "region": 100, "region_calls": 50,
    "rows": 1000, "points": 10_000, "narrays": 200, "shard": 2000, "inner": 250, "zstd": 1,
    "seed": 0,
}  # fmt: skip
QUICK = {
    "n": 400, "chunk": 100, "small_chunk": 20, "region": 20, "region_calls": 5,
    "rows": 50, "points": 500, "narrays": 20, "shard": 200, "inner": 50, "zstd": 1, "seed": 0,
}  # fmt: skip


def row_label(row: str, c: dict[str, Any]) -> str:
    big, small = c["chunk"], c["small_chunk"]
    n_small = (-(-c["n"] // small)) ** 2
    shard, inner = c.get("shard"), c.get("inner")
    n_shards = (-(-c["n"] // shard)) ** 2 if shard else None
    zstd = f"zstd {c.get('zstd')}"
    return {
        "write_c1000": f"write whole, chunks {big}²",
        "read_c1000": f"read whole, chunks {big}²",
        "region_1chunk": f"read {c['region']}x{c['region']} in 1 chunk",
        "region_4chunks": f"read {c['region']}x{c['region']} across 4 chunks",
        "write_c100": f"write whole, chunks {small}² ({n_small} files)",
        "read_c100": f"read whole, chunks {small}²",
        "oindex": f"oindex {c['rows']:,} rows",
        "vindex": f"vindex {c['points']:,} points",
        "write_raw": "write, compressor=None",
        "read_raw": "read, compressor=None",
        "write_fill": "write all-fill, write_empty_chunks=False",
        "create_group": f"create group + {c['narrays']} arrays",
        "open_group": f"open group, open each of {c['narrays']}",
        "open_consolidated": "consolidated: open, open each",
        "v3_shard_write": f"v3 write whole, shards {shard}² of {inner}² ({n_shards} files, {zstd})",
        "v3_shard_read": f"v3 read whole, shards {shard}² of {inner}²",
        "v3_shard_region": f"v3 read {c['region']}x{c['region']} anywhere, sharded",
        "v3_shard_oindex": f"v3 oindex {c['rows']:,} rows, sharded",
        "v3_write_c1000": f"v3 write whole, chunks {big}² ({zstd})",
        "v3_read_c1000": f"v3 read whole, chunks {big}²",
    }[row]


# -- workers -------------------------------------------------------------------------------


class WorkerError(RuntimeError):
    pass


class Worker:
    """One library's worker process; ``timeout`` (seconds) bounds each answer."""

    def __init__(self, lib: str, python: str, env: dict[str, str], timeout: float = 900) -> None:
        self.lib = lib
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [python, str(HERE / "worker.py"), lib_kind(lib)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )
        self.versions: dict[str, str] = {}

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise WorkerError(f"{self.lib} worker died (exit {self.proc.poll()})") from None
        ready, _, _ = wait_readable([self.proc.stdout], [], [], self.timeout)
        if not ready:
            self.proc.kill()
            raise WorkerError(f"{self.lib} worker gave no answer in {self.timeout:.0f} s: killed")
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerError(f"{self.lib} worker died (exit {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask({"op": "quit"})
            except (WorkerError, ValueError):
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def runs(lib: str, row: str) -> bool:
    """False where ``lib`` cannot run ``row`` at all (zarr 2.18 and Zarr v3): its cell is "-"."""
    return row not in NO_ROWS.get(lib_kind(lib), ())


def lib_kind(lib: str) -> str:
    """The worker's library: ``base`` (the A/B baseline) is zarrkit too."""
    return "zarrkit" if lib == "base" else lib


def lib_python(lib: str, zarrkit_python: str) -> str | None:
    if lib_kind(lib) == "zarrkit":
        return zarrkit_python
    python = VENVS / lib / "bin" / "python"
    return str(python) if python.exists() else None


def lib_env(lib: str, zarrkit_src: str) -> dict[str, str]:
    """The worker's environment: no inherited PYTHONPATH, but ``zarrkit_src`` for zarrkit."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONHASHSEED"] = "0"
    if lib_kind(lib) == "zarrkit":
        env["PYTHONPATH"] = zarrkit_src
    return env


def start_workers(
    libs: list[str], args: argparse.Namespace, config: dict[str, Any], root: str
) -> tuple[dict[str, Worker], dict[str, str]]:
    """Workers that answered ``hello``, and a reason for each library left out."""
    workers: dict[str, Worker] = {}
    missing: dict[str, str] = {}
    for lib in libs:
        python = lib_python(lib, args.zarrkit_python)
        if python is None:
            missing[lib] = f"no venv at {VENVS / lib} (run benchmarks/setup_peers.sh)"
            continue
        src = args.zarrkit_base if lib == "base" else args.zarrkit_src
        w = Worker(lib, python, lib_env(lib, src), args.timeout)
        try:
            answer = w.ask({"op": "hello", "config": config, "root": root, "name": lib})
        except WorkerError as e:
            missing[lib] = str(e)
            continue
        if not answer["ok"]:
            missing[lib] = answer["error"]
            w.close()
            continue
        w.versions = answer["versions"]
        workers[lib] = w
    return workers, missing


# -- results -------------------------------------------------------------------------------


@dataclass
class Cell:
    """One library's times on one row; ``value`` is their median (or min: ``stat``)."""

    times: list[float] = field(default_factory=list)
    error: str | None = None
    na: bool = False
    stat: str = "median"

    @property
    def value(self) -> float | None:
        if not self.times or self.error:
            return None
        return min(self.times) if self.stat == "min" else statistics.median(self.times)


def fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    if t < 0.01:
        return f"{t * 1e3:.1f} ms" if t >= 1e-3 else f"{t * 1e3:.2f} ms"
    return f"{t:.3f} s"


def column_cell(cells: dict[str, Cell], libs: tuple[str, ...]) -> tuple[str | None, Cell | None]:
    """The library (of ``libs``) with the lowest median, and its cell."""
    ran = [(lib, cells[lib]) for lib in libs if lib in cells]
    timed = [(lib, c) for lib, c in ran if c.value is not None]
    if timed:
        return min(timed, key=lambda lc: lc[1].value)  # type: ignore[arg-type,return-value]
    return ran[0] if ran else (None, None)


def cell_text(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    if cell.na:
        return "n/a"
    if cell.error:
        return "fail"
    return fmt_time(cell.value)


def table(results: dict[str, dict[str, Cell]], config: dict[str, Any]) -> str:
    """The markdown table of the issue: medians, best peer bold, vs best."""
    with_base = any("base" in cells for cells in results.values())
    lines = [
        "| workload | "
        + " | ".join(COLUMNS)
        + (" | zarrkit base" if with_base else "")
        + " | zarrkit | vs best |"
        + (" vs base |" if with_base else ""),
        "|---|" + "---|" * (len(COLUMNS) + 2 + 2 * with_base),
    ]
    for row, cells in results.items():
        shown = {col: column_cell(cells, libs) for col, libs in COLUMNS.items()}
        peer_values = [c.value for _, c in shown.values() if c is not None and c.value]
        best = min(peer_values) if peer_values else None
        zk = cells.get("zarrkit")
        zk_t = zk.value if zk else None
        texts = []
        for _, cell in shown.values():
            text = cell_text(cell)
            if best is not None and cell is not None and cell.value == best:
                text = f"**{text}**"
            texts.append(text)
        zk_text = cell_text(zk)
        if zk_t is not None and (best is None or zk_t <= best):
            zk_text = f"**{zk_text}**"
        ratio = f"{best / zk_t:.2f}" if best is not None and zk_t else "-"
        vs_base = ""
        if with_base:
            base = cells.get("base")
            base_t = base.value if base else None
            texts.append(cell_text(base))
            vs_base = f" {base_t / zk_t:.2f} |" if base_t and zk_t else " - |"
        line = f"| {row_label(row, config)} | " + " | ".join(texts) + f" | {zk_text} | {ratio} |"
        lines.append(line + vs_base)
    wins: dict[str, list[str]] = {}
    for row, cells in results.items():
        lib, cell = column_cell(cells, COLUMNS["zarr 3 + zarrs"])
        if lib is not None and cell is not None and cell.value is not None:
            wins.setdefault(lib, []).append(row)
    if wins:
        parts = [
            f"{LIB_TITLES[lib]} on {', '.join(row_label(r, config) for r in rows)}"
            for lib, rows in wins.items()
        ]
        lines.append("")
        lines.append("zarr 3 + zarrs, the better per row: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def git_describe(path: str) -> str | None:
    """Commit (and ``-dirty``) of the checkout holding ``path``, None outside git."""
    try:
        out = subprocess.run(
            ["git", "-C", path, "describe", "--always", "--dirty", "--abbrev=10"],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine() -> dict[str, Any]:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def versions_text(workers_versions: dict[str, dict[str, str]]) -> str:
    out = []
    for lib, v in workers_versions.items():
        parts = ", ".join(f"{k} {val}" for k, val in v.items() if k != "zarrkit_path")
        out.append(f"- {lib}: {LIB_TITLES[lib]}: {parts}")
    return "\n".join(out)


# -- main ----------------------------------------------------------------------------------


def select(names: str | None, universe: tuple[str, ...], what: str) -> list[str]:
    if not names:
        return list(universe)
    chosen = []
    for part in names.split(","):
        part = part.strip()
        hits = [u for u in universe if u == part or u.startswith(part)]
        if not hits:
            raise SystemExit(f"unknown {what} {part!r}; choose from {', '.join(universe)}")
        chosen.extend(h for h in hits if h not in chosen)
    return [u for u in universe if u in chosen]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds (default 3, quick 1)"
    )
    p.add_argument(
        "--repeat", type=int, default=None, help="repetitions per round (default 3, quick 2)"
    )
    p.add_argument("--rows", help=f"comma list of rows or prefixes: {', '.join(ROWS)}")
    p.add_argument(
        "--libs", help=f"comma list of libraries: {', '.join(LIBS)} (zarrkit always runs)"
    )
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed repetitions per library and row in the first round (default 1)")  # fmt: skip
    p.add_argument("--stat", choices=("median", "min"), default="median",
                   help="what the table shows per library and row (default median)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="small sizes (a few seconds)")
    p.add_argument("--size", type=int, help="array side n (default 8000)")
    p.add_argument("--zarrkit-src", default=str(REPO / "src"),
                   help="put this first on the zarrkit worker's PYTHONPATH (default: this checkout's src)")  # fmt: skip
    p.add_argument("--zarrkit-base", metavar="PATH",
                   help="A/B: also run the zarrkit of PATH (a src dir) as 'zarrkit base', "
                   "with a 'vs base' column (base time / zarrkit time)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=900,
                   help="seconds a worker may take for one answer before it is killed")  # fmt: skip
    p.add_argument("--zarrkit-python", default=sys.executable,
                   help="interpreter of the zarrkit worker (needs numpy and numcodecs)")  # fmt: skip
    p.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                   help="where the data goes (default /dev/shm, a tmpfs)")  # fmt: skip
    p.add_argument("--json", help="write every time and the environment here ('-': stdout)")
    p.add_argument("--markdown", help="write the README section (machine, versions, table) here")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--render", metavar="JSON",
                   help="run nothing: print the table of an earlier --json file "
                   "(with --stat, --markdown)")  # fmt: skip
    args = p.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.repeat = args.repeat or (2 if args.quick else 3)
    if args.rounds < 1 or args.repeat < 1:
        p.error("--rounds and --repeat must be at least 1")
    return args


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; the JSON document (also printed/written as asked)."""
    args = parse_args(argv)
    config = dict(QUICK if args.quick else FULL)
    if args.size:
        config["n"] = args.size
    rows = select(args.rows, ROWS, "row")
    libs = select(args.libs, LIBS, "library")
    if "zarrkit" not in libs:
        libs.append("zarrkit")
    if args.zarrkit_base:
        libs.append("base")
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))

    root = tempfile.mkdtemp(prefix="zarrkit-bench-", dir=args.tmp)
    started = time.time()
    workers: dict[str, Worker] = {}
    try:
        workers, missing = start_workers(libs, args, config, root)
        for lib, why in missing.items():
            print(f"[compare] {lib} left out: {why}", file=sys.stderr)
        if "zarrkit" not in workers:
            raise SystemExit(f"zarrkit worker failed: {missing.get('zarrkit')}")
        for lib in ("zarrkit", "base"):
            if lib in workers:
                log(f"[compare] {lib} from {workers[lib].versions.get('zarrkit_path')}")
        order = [lib for lib in libs if lib in workers]
        results: dict[str, dict[str, Cell]] = {
            row: {lib: Cell(stat=args.stat) for lib in order if runs(lib, row)} for row in rows
        }
        for rnd in range(args.rounds):
            for row in rows:
                for lib in order[rnd % len(order) :] + order[: rnd % len(order)]:
                    cell = results[row].get(lib)
                    if cell is None or cell.error or cell.na:
                        continue
                    t0 = time.perf_counter()
                    try:
                        answer = workers[lib].ask(
                            {
                                "op": "run",
                                "workload": row,
                                "repeat": args.repeat,
                                "warmup": args.warmup if rnd == 0 else 0,
                            }
                        )
                    except WorkerError as e:
                        answer = {"ok": False, "error": str(e)}
                    if answer["ok"]:
                        cell.times.extend(answer["times"])
                        log(f"[round {rnd + 1}/{args.rounds}] {row:18} {lib:11} "
                            f"median {fmt_time(statistics.median(answer['times']))} "
                            f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip
                    elif answer.get("na"):
                        cell.na = True
                    else:
                        cell.error = answer["error"]
                        print(f"[compare] {lib} FAILED {row}: {answer['error']}", file=sys.stderr)
                        if answer.get("traceback") and not args.quiet:
                            print(answer["traceback"], file=sys.stderr)
    finally:
        for w in workers.values():
            w.close()
        shutil.rmtree(root, ignore_errors=True)

    env = {"machine": machine(), "versions": {lib: w.versions for lib, w in workers.items()}}
    env["machine"]["loadavg_end"] = os.getloadavg()
    env["machine"]["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    for lib in ("zarrkit", "base"):
        zk = env["versions"].get(lib, {})
        commit = git_describe(zk["zarrkit_path"]) if "zarrkit_path" in zk else None
        if commit:
            zk["git"] = commit
    cmd = "python benchmarks/compare.py " + " ".join(sys.argv[1:] if argv is None else argv)
    doc = {
        "command": cmd.strip(),
        "config": config,
        "rounds": args.rounds,
        "repeat": args.repeat,
        "warmup": args.warmup,
        "stat": args.stat,
        "seconds": round(time.time() - started, 1),
        "environment": env,
        "left_out": missing,
        "results": {
            row: {
                lib: {
                    "median": statistics.median(c.times) if c.times else None,
                    "min": min(c.times) if c.times else None,
                    "max": max(c.times) if c.times else None,
                    "times": c.times,
                    "error": c.error,
                    "na": c.na,
                }
                for lib, c in cells.items()
            }
            for row, cells in results.items()
        },
    }
    report(doc, args)
    return doc


def cells_of(doc: dict[str, Any], stat: str) -> dict[str, dict[str, Cell]]:
    """The table's cells from a JSON document of ``run``."""
    return {
        row: {lib: Cell(list(c["times"]), c["error"], c["na"], stat) for lib, c in cells.items()}
        for row, cells in doc["results"].items()
    }


def report(doc: dict[str, Any], args: argparse.Namespace) -> None:
    """Print the header, versions and table of ``doc`` (or its JSON), write the files asked."""
    doc["table"] = md = table(cells_of(doc, args.stat), doc["config"])
    env, m = doc["environment"], doc["environment"]["machine"]
    header = (
        f"{m['date']}, {m['nproc']} cores ({m['cpu']}), {m['platform']}, load average "
        f"{m['loadavg_start'][0]:.1f} at start, {m['loadavg_end'][0]:.1f} at end; "
        f"{doc['rounds']} rounds x {doc['repeat']} repetitions ({args.stat}), "
        f"n={doc['config']['n']}, {doc['seconds']} s"
    )
    if args.json == "-":
        print(json.dumps(doc, indent=1))
    else:
        print(header)
        print(versions_text(env["versions"]))
        print()
        print(md)
        if args.json:
            Path(args.json).write_text(json.dumps(doc, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(
            f"Command: `{doc['command']}`\n\nMachine: {header}\n\n"
            f"{versions_text(env['versions'])}\n\n{md}\n"
        )


def render(argv: list[str] | None = None) -> dict[str, Any]:
    """``--render FILE``: the table of an earlier run's JSON, with this run's ``--stat``."""
    args = parse_args(argv)
    doc = json.loads(Path(args.render).read_text())
    if args.json and Path(args.json).resolve() == Path(args.render).resolve():
        raise SystemExit("--json would overwrite the --render file")
    report(doc, args)
    return doc


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    return render(argv) if args.render else run(argv)


if __name__ == "__main__":
    main()
