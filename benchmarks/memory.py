"""Peak memory of a whole read and a whole write, each in a fresh worker process.

    .venv/bin/python benchmarks/memory.py                       # zarrkit, 8000x8000 int32
    .venv/bin/python benchmarks/memory.py --libs zarrkit,zarr2,tensorstore
    .venv/bin/python benchmarks/memory.py --zarrkit-src /work/wt/pipe/src --json mem.json

- read: the array (chunks 1000², Blosc lz4) is written by one worker and opened by a fresh
  one, which resets its peak RSS (``/proc/self/clear_refs``) and reads ``a[...]``; reported
  ("extra") is the peak RSS (``VmHWM``) above the RSS before the read, minus the output.
  Target: under one chunk per thread.
- write: with the data already in memory, the peak is reset and ``a[...] = data`` written;
  reported is the peak RSS above the RSS before the write (the write's temporaries).
  Target: under 64 MB for a 256 MB array.
- each is measured twice in the same process: the first read/write (thread pools, allocator
  arenas and lazy imports start there) and a second one.

Each measurement runs in its own process (a worker of ``compare.py``), so nothing earlier in
the process raises the peak. Memory is counted in RSS pages: freed memory that the allocator
keeps counts until returned, as it would for any user.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402  (the sibling orchestrator: workers, venvs, library names)

MB = 1e6


def measure(lib: str, what: str, args: argparse.Namespace, config: dict[str, Any]) -> dict:
    python = compare.lib_python(lib, args.zarrkit_python)
    if python is None:
        return {"ok": False, "error": f"no venv for {lib} (run benchmarks/setup_peers.sh)"}
    root = tempfile.mkdtemp(prefix="zarrkit-mem-", dir=args.tmp)
    try:
        # a read measures a process that has not written: one worker writes, a fresh one reads
        for step in ("prepare", "read") if what == "read" else ("write",):
            worker = compare.Worker(lib, python, compare.lib_env(lib, args.zarrkit_src))
            try:
                answer = worker.ask({"op": "hello", "config": config, "root": root})
                if answer["ok"]:
                    answer = worker.ask({"op": "memory", "what": step})
            finally:
                worker.close()
            if not answer["ok"]:
                break
        return answer
    except compare.WorkerError as e:
        return {"ok": False, "error": str(e)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--libs", default="zarrkit", help=f"comma list of {', '.join(compare.LIBS)}")
    p.add_argument("--size", type=int, default=8000, help="array side (default 8000: 256 MB)")
    p.add_argument("--chunk", type=int, default=1000)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="threads the read target allows one chunk each (default: cores)")  # fmt: skip
    p.add_argument("--zarrkit-src", default=str(compare.REPO / "src"))
    p.add_argument("--zarrkit-python", default=sys.executable)
    p.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--markdown", help="write the command and the table here")
    args = p.parse_args(argv)
    libs = compare.select(args.libs, compare.LIBS, "library")
    config = {**compare.FULL, "n": args.size, "chunk": args.chunk}
    chunk_bytes = args.chunk * args.chunk * 4
    targets = {"read": chunk_bytes * args.threads, "write": 64 * MB}
    results: dict[str, dict[str, Any]] = {}
    lines = [
        "| library | op | MB | extra MB, first in process | extra MB, second | target MB | ok |",
        "|---|---|---|---|---|---|---|",
    ]
    for lib in libs:
        for what in ("read", "write"):
            r = measure(lib, what, args, config)
            results.setdefault(lib, {})[what] = r
            if not r["ok"]:
                lines.append(f"| {lib} | {what} | - | - | - | - | {r['error']} |")
                continue
            ok = "yes" if max(r["extra_cold"], r["extra_warm"]) <= targets[what] else "NO"
            lines.append(
                f"| {lib} | {what} | {r['bytes'] / MB:.0f} | {r['extra_cold'] / MB:.1f} | "
                f"{r['extra_warm'] / MB:.1f} | {targets[what] / MB:.0f} | {ok} |"
            )
            print(lines[-1] if len(lines) > 3 else "\n".join(lines), flush=True)
    doc = {"config": config, "targets": targets, "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1))
    if args.markdown:
        argv_text = " ".join(sys.argv[1:] if argv is None else argv)
        command = f"python benchmarks/memory.py {argv_text}".strip()
        Path(args.markdown).write_text(f"Command: `{command}`\n\n" + "\n".join(lines) + "\n")
    return doc


if __name__ == "__main__":
    main()
